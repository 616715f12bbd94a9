"""The static analysis behind the evaluator's memo (tosguard.engine.reads): what each class of
IR node reads of the source it is evaluated for, and that a node class without a rule is
caught (here) and never memoised (at run time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from tosguard.engine import ir
from tosguard.engine.reads import RULES, node_classes, reads, uncovered

ROUTE = ir.Path("source", ("access", "route"))
USE = ir.Path("source", ("use",))
TO = ir.Path("source", ("collected", "to"))
FACT = ir.Path("facts", ("allowed",))
MODEL = ir.Path("model", ("name",))
DERIVED = ir.Path("source", ("derived_from",))


def route_is(value: str) -> ir.Compare:
    return ir.Compare(f'source.access.route == "{value}"', "==", ROUTE, ir.Lit(value))


def paths_tested(found) -> dict:
    return {
        path.dotted: sorted(node.text for node in nodes.values())
        for path, nodes in found.tests.items()
    }


def test_every_node_class_has_a_rule() -> None:
    """Every node class of the engine (not those other tests define for themselves, such as
    test_logic's `Fixed`, which `uncovered` rightly reports when they are loaded)."""
    engine = [cls for cls in node_classes() if cls.__module__.startswith("tosguard.")]
    assert sorted(cls.__qualname__ for cls in engine if cls not in RULES) == []
    assert set(RULES) == set(engine)
    assert set(uncovered()) <= {cls.__qualname__ for cls in node_classes()} - {
        cls.__qualname__ for cls in engine
    }


def test_a_node_class_without_a_rule_is_caught_and_never_memoised() -> None:
    @dataclass(slots=True)
    class StartsWith(ir.Cond):
        operand: ir.Operand = None  # type: ignore[assignment]

    try:
        assert [name for name in uncovered() if name.endswith("<locals>.StartsWith")]
        node = ir.And("x", (route_is("direct"), StartsWith("y", ROUTE)))
        found = reads(node)
        assert found.unknown == ["StartsWith"]
    finally:
        del StartsWith  # the class lingers in Cond.__subclasses__ until collected
        import gc

        gc.collect()


@pytest.mark.parametrize(
    "node, tests, raw",
    [
        (ir.Const("true", True), {}, set()),
        (route_is("direct"), {"source.access.route": ['source.access.route == "direct"']}, set()),
        (
            ir.Compare("r == m", "==", ROUTE, ir.Path("source", ("model",))),
            {},
            {"source.access.route", "source.model"},
        ),
        (ir.Compare("m == f", "==", MODEL, FACT), {}, set()),  # constants only
        (
            ir.Compare("f == r", "==", FACT, ROUTE),  # a constant path is a constant
            {"source.access.route": ["f == r"]},
            set(),
        ),
        (
            ir.InSet("r in s", ROUTE, frozenset({"proxy"}), False),
            {"source.access.route": ["r in s"]},
            set(),
        ),
        (
            ir.Contains("f contains r", FACT, ROUTE),
            {"source.access.route": ["f contains r"]},
            set(),
        ),
        (
            ir.Contains("use contains r", USE, ROUTE),
            {},
            {"source.use", "source.access.route"},
        ),
        (
            ir.ContainsSet("use any", USE, frozenset({"rlhf"}), "any"),
            {"source.use": ["use any"]},
            set(),
        ),
        (
            ir.Matches("r matches", ROUTE, "d*", False),
            {"source.access.route": ["r matches"]},
            set(),
        ),
        (ir.Declared("to declared", TO, False), {"source.collected.to": ["to declared"]}, set()),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, ir.Cond) else "",
)
def test_tests_of_one_path_and_raw_paths(node, tests, raw) -> None:
    found = reads(node)
    assert paths_tested(found) == tests
    assert {p.dotted for p in found.raw} == raw
    assert not found.governed and not found.others and not found.unknown


def test_connectives_and_predicates_read_what_their_parts_read() -> None:
    before = ir.Compare("to < d", "<", TO, ir.Lit(date(2024, 1, 1)))
    for node in (
        ir.And("a", (route_is("direct"), before)),
        ir.Or("o", (route_is("direct"), before)),
        ir.Not("n", ir.And("a", (route_is("direct"), before))),
        ir.Predicate("p", "name", ir.And("a", (route_is("direct"), before))),
    ):
        assert paths_tested(reads(node)) == {
            "source.access.route": ['source.access.route == "direct"'],
            "source.collected.to": ["to < d"],
        }, type(node).__name__


def test_a_node_read_twice_counts_once() -> None:
    node = route_is("direct")
    assert paths_tested(reads(ir.And("a", (node, node)))) == {
        "source.access.route": ['source.access.route == "direct"']
    }


def test_governed() -> None:
    found = reads(ir.Governed("governed"))
    assert found.governed and not found.tests


def test_a_quantifier_reads_its_body_for_the_source_only_with_other() -> None:
    body = ir.And("b", (ir.Governed("governed"), route_is("proxy")))
    every = reads(ir.Quantifier("any source", "any", False, body))
    assert not every.tests and not every.governed  # one value for the whole manifest
    others = reads(ir.Quantifier("any other source", "any", True, body))
    assert paths_tested(others) == {"source.access.route": ['source.access.route == "proxy"']}
    assert others.governed


def test_origins_read_other_sources_and_whether_derived_from_is_declared() -> None:
    found = reads(ir.Origins("any origin", "any", route_is("proxy")))
    assert found.others
    assert list(found.tests) == [DERIVED]  # not the body: it is read for the origins
    nested = reads(ir.Quantifier("q", "all", True, ir.Origins("o", "any", route_is("proxy"))))
    assert nested.others


def test_none_conditions_read_nothing() -> None:
    found = reads(None, None)
    assert not found.tests and not found.raw and found.paths() == []
