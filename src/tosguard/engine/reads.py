"""What a condition reads of the source it is evaluated for: a static analysis of the IR.

The evaluator's memo (:mod:`tosguard.engine.memo`) evaluates the sources that share their
relevant facts once and replays the result for the others. The relevant facts of a condition
are found here, one rule per node class (:data:`RULES`):

* **tests**: a node whose value is a function of one path of the source and of constants
  (literals, and the ``model``, ``organization`` and ``facts`` paths, which are the same for
  every source): a comparison, set membership, ``contains``, ``matches``, ``declared``. Two
  sources whose values of that path give every such node the same value give every condition
  built from them the same value;
* **raw** paths: a node reading two paths of the source (``source.a == source.b``) is a
  function of both values, so both are keyed by value;
* ``governed``: the version's governed-ness of the source (decided in pass 1, and so a
  function of the same facts);
* **others**: an ``origin`` quantifier reads other sources for this one, and so does a
  quantifier with ``other`` whose body does. Such a value is not a function of the source's
  facts: the evaluator counts these reads as they happen (:class:`tosguard.engine.ir.Reach`)
  and replays nothing for a source where one happened. Only a source that declares
  ``derived_from`` has origins to read (for the others the value is unknown), so whether it
  is declared is a test of the source;
* a quantifier without ``other`` has one value for the whole manifest during one evaluation:
  nothing in its body is read for the source.

A node class without a rule reads something unknown: :func:`reads` marks it ``unknown`` and
the memo evaluates every source it may apply to as if there were no memo;
``tests/test_reads.py`` fails until the class has a rule (:func:`uncovered`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from . import ir


@dataclass
class Reads:
    """What one or more conditions read of the source they are evaluated for."""

    # path of the source -> the nodes that test it, by identity (a node read twice counts once)
    tests: dict[ir.Path, dict[int, ir.Cond]] = field(default_factory=dict)
    raw: set[ir.Path] = field(default_factory=set)  # paths read with another path of the source
    governed: bool = False
    others: bool = False
    unknown: list[str] = field(default_factory=list)  # node classes without a rule

    def merge(self, other: Reads) -> None:
        """Add what ``other`` reads."""
        for path, nodes in other.tests.items():
            self.tests.setdefault(path, {}).update(nodes)
        self.raw |= other.raw
        self.governed |= other.governed
        self.others |= other.others
        self.unknown += other.unknown

    def paths(self) -> list[ir.Path]:
        """Every path of the source read, in a stable order."""
        return sorted({*self.tests, *self.raw}, key=lambda p: p.dotted)


Rule = Callable[[ir.Cond, Reads], None]


def reads(*conditions: ir.Cond | None, into: Reads | None = None) -> Reads:
    """What ``conditions`` read of the source they are evaluated for (None: no condition)."""
    found = into if into is not None else Reads()
    for condition in conditions:
        if condition is not None:
            _visit(condition, found)
    return found


def _visit(cond: ir.Cond, found: Reads) -> None:
    rule = RULES.get(type(cond))
    if rule is None:
        found.unknown.append(type(cond).__name__)
        return
    rule(cond, found)


def _nothing(cond: ir.Cond, found: Reads) -> None:
    """A constant."""


def _children(cond: ir.Cond, found: Reads) -> None:
    """A connective or a predicate: what its parts read."""
    for child in cond.children():
        _visit(child, found)


def _test(*names: str) -> Rule:
    """A node whose value is a function of the values of its operands ``names``."""

    def rule(cond: ir.Cond, found: Reads) -> None:
        own = [
            operand
            for operand in (getattr(cond, name) for name in names)
            if isinstance(operand, ir.Path) and operand.root == "source"
        ]
        if len(own) == 1:
            found.tests.setdefault(own[0], {}).setdefault(id(cond), cond)
        else:
            found.raw.update(own)

    return rule


def _governed(cond: ir.Cond, found: Reads) -> None:
    found.governed = True


def _quantifier(cond: ir.Cond, found: Reads) -> None:
    assert isinstance(cond, ir.Quantifier)
    if cond.other:  # its value leaves the source out: the body's value for it counts
        _visit(cond.body, found)


def _origins(cond: ir.Cond, found: Reads) -> None:
    # a source that does not declare `derived_from` has unknown origins: the value is unknown
    # whatever the others hold, and no other source is read (see ir.Origins)
    found.tests.setdefault(_DERIVED, {}).setdefault(id(_DERIVED_FROM), _DERIVED_FROM)
    found.others = True


_DERIVED = ir.Path("source", ("derived_from",))
_DERIVED_FROM = ir.Declared("source.derived_from is declared", _DERIVED, False)


RULES: dict[type[ir.Cond], Rule] = {
    ir.Const: _nothing,
    ir.And: _children,
    ir.Or: _children,
    ir.Not: _children,
    ir.Predicate: _children,
    ir.Compare: _test("left", "right"),
    ir.InSet: _test("operand"),
    ir.Contains: _test("operand", "value"),
    ir.ContainsSet: _test("operand"),
    ir.Matches: _test("operand"),
    ir.Declared: _test("operand"),
    ir.Governed: _governed,
    ir.Quantifier: _quantifier,
    ir.Origins: _origins,
}


def node_classes() -> list[type[ir.Cond]]:
    """Every class of condition node (subclasses of :class:`tosguard.engine.ir.Cond`), less
    those a module has replaced by another of the same name (``dataclass(slots=True)`` makes
    a new class; the first lingers until collected)."""
    found: list[type[ir.Cond]] = []
    pending = list(ir.Cond.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        named = getattr(sys.modules.get(cls.__module__), cls.__qualname__, cls)
        if named is cls:
            found.append(cls)
    return found


def uncovered() -> list[str]:
    """The node classes :data:`RULES` has no rule for (a test requires none)."""
    return sorted(cls.__qualname__ for cls in node_classes() if cls not in RULES)
