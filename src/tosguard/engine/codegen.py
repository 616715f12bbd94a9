"""Conditions compiled to Python functions: the evaluator's fast path.

:meth:`tosguard.engine.ir.Cond.compiled` turns a condition into a tree of closures, one call per
node:
simple, and what ``missing`` and ``explain`` walk node by node. A clause's whole condition is
evaluated hundreds of times per manifest, though, and there a call per node (and one more per
path to fetch its value) was most of the evaluator's time. Here the common nodes (and, or, not,
comparisons with constants, set membership, ``declared``, ``governed``, predicates) become one
Python expression, with the same three-valued (Kleene) logic, in one function per condition;
any other node is called as its closure from inside that expression. ``tests/test_codegen.py``
checks both give the same value on every corpus case, example and generated manifest.
"""

from __future__ import annotations

import operator
from typing import Any

from . import ir

_EQUALITY = {"==": "==", "!=": "!="}
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def function(cond: ir.Cond):
    """A function of the environment with the value of ``cond``: True, False or None. Built
    once per node (kept in its ``fast_`` slot)."""
    built = getattr(cond, "fast_", None)
    if built is None:
        if isinstance(cond, (ir.Quantifier, ir.Origins)):
            built = cond.build(function(cond.body))  # their loop, over a generated body
        else:
            built = _generate(cond)
        cond.fast_ = built
    return built


def _generate(cond: ir.Cond):
    writer = _Writer()
    expression = writer.expression(cond)
    source = f"def condition(env):\n    return {expression}\n"
    namespace: dict[str, Any] = dict(writer.constants)
    try:
        code = compile(source, f"<condition {cond.text[:60]!r}>", "exec")
    except (SyntaxError, RecursionError, MemoryError):
        # nested beyond what Python's parser takes (some 200 levels: a junction of hundreds
        # of items): the closures evaluate it, as fast as before
        return cond.compiled()
    exec(code, namespace)  # noqa: S102
    return namespace["condition"]


def _ordered(compare):
    def ordered(value, constant):
        try:
            return compare(value, constant)
        except TypeError:
            return False

    return ordered


class _Writer:
    """Writes the expression of a condition; constants and fallbacks go in a namespace."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"_{prefix}{self.count}"

    def constant(self, value: Any) -> str:
        name = self.name("c")
        self.constants[name] = value
        return name

    def expression(self, cond: ir.Cond) -> str:
        method = getattr(self, "_" + type(cond).__name__.lower(), None)
        written = method(cond) if method is not None else None
        if written is None:  # no inline form: call the node's closure
            return f"{self.constant(cond.compiled())}(env)"
        return written

    # -- values
    def value(self, operand: ir.Operand) -> str:
        if isinstance(operand, ir.Lit):
            return self.constant(operand.value)
        if operand.root == "facts":
            return f"{self.constant(operand.getter())}(env)"
        attrs = [ir._ATTRIBUTE.get(p, p) for p in operand.parts]
        text = f"env.{operand.root}"
        for attr in attrs:
            holder = self.name("o")
            text = f"(None if ({holder} := {text}) is None else {holder}.{attr})"
        return text

    # -- logic
    def _const(self, cond: ir.Const) -> str:
        return repr(cond.value)

    def _and(self, cond: ir.And) -> str:
        return self._junction(cond.items, stop="False", otherwise="True")

    def _or(self, cond: ir.Or) -> str:
        return self._junction(cond.items, stop="True", otherwise="False")

    def _junction(self, items, stop: str, otherwise: str) -> str:
        if not items:
            return otherwise
        names = [self.name("t") for _ in items]
        unknown = " or ".join(f"{n} is None" for n in names)
        text = f"(None if {unknown} else {otherwise})"
        for name, item in zip(reversed(names), reversed(items), strict=True):
            text = f"({stop} if ({name} := {self.expression(item)}) is {stop} else {text})"
        return text

    def _not(self, cond: ir.Not) -> str:
        name = self.name("t")
        return f"(None if ({name} := {self.expression(cond.item)}) is None else not {name})"

    def _predicate(self, cond: ir.Predicate) -> str:
        return self.expression(cond.body)

    def _quantifier(self, cond: ir.Quantifier) -> str:
        return f"{self.constant(function(cond))}(env)"

    _origins = _quantifier

    def _governed(self, cond: ir.Governed) -> str:
        return "env.governed.get(env.index, False)"

    # -- tests of values
    def _compare(self, cond: ir.Compare) -> str | None:
        if not isinstance(cond.right, ir.Lit):
            return None
        value, constant = self.name("v"), self.value(cond.right)
        if cond.op in _EQUALITY:
            test = f"{value} {_EQUALITY[cond.op]} {constant}"
        else:
            test = f"{self.constant(_ordered(_ORDERING[cond.op]))}({value}, {constant})"
        return f"(None if ({value} := {self.value(cond.left)}) is None else {test})"

    def _inset(self, cond: ir.InSet) -> str:
        value, values = self.name("v"), self.constant(cond.values)
        test = (
            f"({values}.issuperset({value}) if isinstance({value}, list) else {value} in {values})"
        )
        if cond.negated:
            test = f"(not {test})"
        return f"(None if ({value} := {self.value(cond.operand)}) is None else {test})"

    def _declared(self, cond: ir.Declared) -> str:
        test = "is None" if cond.negated else "is not None"
        return f"({self.value(cond.operand)} {test})"
