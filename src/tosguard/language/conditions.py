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


COMPARISONS = (ast.Compare, ast.InSet, ast.Contains, ast.Matches, ast.Declared)


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
    if isinstance(node, ast.And):
        return " and ".join(flat(item, "and") for item in node.items)
    if isinstance(node, ast.Or):
        return " or ".join(flat(item, "or") for item in node.items)
    if isinstance(node, ast.Not):
        return "not " + flat(node.item, "not")
    if isinstance(node, ast.Const):
        return "true" if node.value else "false"
    if isinstance(node, ast.NameRef):
        return node.written
    if isinstance(node, ast.Quantifier):
        return quantifier_head(node) + flat(node.body, "unary")
    if isinstance(node, ast.Compare):
        if is_truthy(node):
            return operand_text(node.left)
        return f"{operand_text(node.left)} {node.op} {operand_text(node.right)}"
    if isinstance(node, ast.InSet):
        word = "not in" if node.negated else "in"
        return f"{operand_text(node.operand)} {word} {set_text(node.values)}"
    if isinstance(node, ast.Contains):
        if node.mode == "one":
            return f"{operand_text(node.operand)} contains {operand_text(node.value)}"
        return f"{operand_text(node.operand)} contains {node.mode} {set_text(node.values)}"
    if isinstance(node, ast.Matches):
        return (
            f"{operand_text(node.operand)} matches {'regex ' if node.regex else ''}"
            f"{quote(node.pattern)}"
        )
    if isinstance(node, ast.Declared):
        return f"{operand_text(node.operand)} is {'not ' if node.negated else ''}declared"
    raise TypeError(f"cannot format {type(node).__name__}")  # pragma: no cover
