"""The one printer of conditions: a condition, a literal, a set on one line, as the formatter
writes them. ``fmt`` lays these out over lines; ``diff``, ``lint``, ``explain`` and the compiled
IR (each node's ``text``) print them with it, so a condition reads the same everywhere.

A new condition node is printed in :func:`_flat_bare`; ``tests/test_node_coverage.py`` fails
until it is.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from . import ast
from .visitor import CONDITION_CLASSES, ConditionVisitor


def format_condition(condition) -> str:
    """A condition on one line, as the formatter writes it (used by ``diff`` and ``explain``).

    >>> from tosguard.language.parse import parse_policy_text
    >>> tree = parse_policy_text("define d = (model.commercial)  and not(source.records>=5)")
    >>> format_condition(tree.defines[0].condition)
    'model.commercial and not (source.records >= 5)'
    """
    return flat(condition, "top")


def quote(value: str) -> str:
    """A string literal for ``value``: JSON escapes for quotes, backslashes, control and line
    separator characters; every other character as it is.

    >>> print(quote('say "hi"\\tnow – “ok”'))
    "say \\"hi\\"\\tnow – “ok”"
    """
    out = ['"']
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF or char in "\x85\u2028\u2029":
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\b": "\\b",
    "\f": "\\f",
}


def literal(value) -> str:
    """A value as the policy language writes it (`true`, `2025-01-31`, a quoted string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, date):
        return value.isoformat()
    return quote(str(value))


def operand_text(node) -> str:
    if isinstance(node, ast.Path):
        return node.dotted
    return literal(node.value)


def set_text(node) -> str:
    if isinstance(node, ast.SetName):
        return node.written
    return "{" + ", ".join(literal(item.value) for item in node.items) + "}"


def is_truthy(node) -> bool:
    """``model.commercial`` alone means ``model.commercial == true``: print it that way."""
    return (
        isinstance(node, ast.Compare)
        and node.op == "=="
        and isinstance(node.left, ast.Path)
        and len(node.left.parts) > 1
        and isinstance(node.right, ast.Literal)
        and node.right.value is True
    )


def needs_parens(node, context: str) -> bool:
    if context == "top":
        return False
    if context == "and":
        return isinstance(node, ast.Or)
    if context == "or":
        return isinstance(node, ast.And)
    if context == "not" and isinstance(node, COMPARISONS) and not is_truthy(node):
        return True  # `not (a == b)` reads unambiguously; `not a == b` means the same
    return isinstance(node, (ast.And, ast.Or))  # "unary": after `where`; "not"


# the nodes that compare a value (every one but the connectives, constants, names and
# quantifiers): `not` puts them in parentheses
COMPARISONS = tuple(
    node
    for node in CONDITION_CLASSES
    if node not in (ast.And, ast.Or, ast.Not, ast.Const, ast.NameRef, ast.Quantifier)
)


def quantifier_head(node: ast.Quantifier) -> str:
    if node.origins:
        noun = "origins" if node.quantifier == "all" else "origin"
        return f"{node.quantifier} {noun} where "
    noun = "sources" if node.quantifier == "all" else "source"
    return f"{node.quantifier} {'other ' if node.other else ''}{noun} where "


def flat(node, context: str) -> str:
    text = flat_bare(node)
    return f"({text})" if needs_parens(node, context) else text


def flat_bare(node) -> str:
    """A condition on one line, without the parentheses its context may need."""
    return _FLAT.visit(node)


class _FlatPrinter(ConditionVisitor):
    def visit_and(self, node: ast.And) -> str:
        return " and ".join(flat(item, "and") for item in node.items)

    def visit_or(self, node: ast.Or) -> str:
        return " or ".join(flat(item, "or") for item in node.items)

    def visit_not(self, node: ast.Not) -> str:
        return "not " + flat(node.item, "not")

    def visit_const(self, node: ast.Const) -> str:
        return "true" if node.value else "false"

    def visit_name_ref(self, node: ast.NameRef) -> str:
        return node.written

    def visit_quantifier(self, node: ast.Quantifier) -> str:
        return quantifier_head(node) + flat(node.body, "unary")

    def visit_compare(self, node: ast.Compare) -> str:
        if is_truthy(node):
            return operand_text(node.left)
        return f"{operand_text(node.left)} {node.op} {operand_text(node.right)}"

    def visit_in_set(self, node: ast.InSet) -> str:
        word = "not in" if node.negated else "in"
        return f"{operand_text(node.operand)} {word} {set_text(node.values)}"

    def visit_contains(self, node: ast.Contains) -> str:
        if node.mode == "one":
            return f"{operand_text(node.operand)} contains {operand_text(node.value)}"
        return f"{operand_text(node.operand)} contains {node.mode} {set_text(node.values)}"

    def visit_matches(self, node: ast.Matches) -> str:
        regex = "regex " if node.regex else ""
        return f"{operand_text(node.operand)} matches {regex}{quote(node.pattern)}"

    def visit_declared(self, node: ast.Declared) -> str:
        return f"{operand_text(node.operand)} is {'not ' if node.negated else ''}declared"


_FLAT = _FlatPrinter()
