"""Generated condition functions (tosguard.engine.codegen) must agree with the closures they
replace:
node by node on real manifests, report by report on the corpus, the examples and generated
manifests, and on the three-valued truth tables."""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given

from test_corpus import case_library, case_manifest
from test_properties import SETTINGS, manifests
from tosguard.api import check, check_file
from tosguard.engine import ir
from tosguard.engine.codegen import function
from tosguard.engine.evaluate import Evaluator
from tosguard.engine.library import Library, load_library
from tosguard.manifest.model import load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.json"))
CORPUS = sorted(
    p
    for p in (ROOT / "tests" / "corpus").rglob("*.yaml")
    if "want_error" not in p.read_text(encoding="utf-8")
)
VALUES = (True, False, None)


def const(value) -> ir.Const:
    return ir.Const(repr(value), value)


@pytest.mark.parametrize("arity", [0, 1, 2, 3])
@pytest.mark.parametrize("kind", [ir.And, ir.Or])
def test_junctions_follow_kleene_logic_like_the_closures(kind, arity) -> None:
    for values in itertools.product(VALUES, repeat=arity):
        node = kind("x", tuple(const(v) for v in values))
        assert function(node)(None) is node.compiled()(None), (kind.__name__, values)


@pytest.mark.parametrize("value", VALUES)
def test_not_is_three_valued(value) -> None:
    node = ir.Not("x", const(value))
    assert function(node)(None) is node.compiled()(None)


def conditions(library: Library):
    """Every condition node of the library, each once."""
    seen: set[int] = set()
    pending: list[ir.Cond] = []
    for policy in library.policies:
        pending.append(policy.governs)
        for clause in policy.clauses:
            for holder in (clause, *clause.exceptions):
                pending += [c for c in (holder.when, holder.require) if c is not None]
    while pending:
        node = pending.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            pending.extend(node.children())


@pytest.fixture(scope="module")
def shipped() -> Library:
    return load_library(use_cache=False)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_node_agrees_with_its_closure_on_the_examples(shipped, path) -> None:
    manifest = load_manifest(path).manifest
    evaluator = Evaluator(shipped, manifest, date(2026, 11, 22))
    evaluator.prepare()  # fills each version's `governed`, which `governed` nodes read
    nodes = list(conditions(shipped))
    compared = 0
    for version in shipped.policies:
        env = evaluator.environment(version)
        subjects = [*range(len(manifest.sources)), -1]  # each source, then model/organization
        for index in subjects:
            if index >= 0:
                env.at(index)
            else:
                env.source, env.index = None, -1
            for node in nodes:
                assert function(node)(env) is node.compiled()(env), (node.text, index)
                compared += 1
    assert compared > 1000


def fresh(library_of) -> tuple[Library, Library]:
    """The same library twice, compiled apart: one with closures, one accelerated."""
    return library_of(), library_of().accelerate()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_accelerated_library_gives_the_same_reports_on_the_examples(path) -> None:
    plain, fast = fresh(lambda: load_library(use_cache=False))
    for include_all in (False, True):
        reports = [
            check_file(lib, path, as_of="2026-11-22", include_all=include_all).to_json()
            for lib in (plain, fast)
        ]
        assert reports[0] == reports[1]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.relative_to(ROOT / "tests").as_posix())
def test_accelerated_library_gives_the_same_reports_on_the_corpus(path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    plain, fast = fresh(lambda: case_library(case))
    loaded = case_manifest(case)
    as_of = str(case.get("as_of", "2026-06-01"))
    reports = [check(lib, loaded, as_of=as_of, include_all=True).to_json() for lib in (plain, fast)]
    assert reports[0] == reports[1]


PLAIN, FAST = fresh(lambda: load_library(use_cache=False))


@SETTINGS
@given(manifests())
def test_accelerated_library_gives_the_same_reports_on_generated_manifests(manifest) -> None:
    loaded = parse_manifest(json.dumps(manifest).encode(), "m.json", "json")
    reports = [
        check(lib, loaded, as_of="2026-01-01", include_all=True).to_json() for lib in (PLAIN, FAST)
    ]
    assert reports[0] == reports[1]


def test_large_manifests_use_generated_functions_without_acceleration(shipped) -> None:
    from tosguard.engine.evaluate import GENERATED_FROM

    small = parse_manifest(b"tosguard: 1\nsources: []\n", "m.yaml").manifest
    assert not Evaluator(shipped, small, date(2026, 1, 1)).fast
    sources = "".join(f"  - {{id: s{i}, kind: dataset}}\n" for i in range(GENERATED_FROM))
    large = parse_manifest(f"tosguard: 1\nsources:\n{sources}".encode(), "m.yaml").manifest
    assert Evaluator(shipped, large, date(2026, 1, 1)).fast


@pytest.mark.parametrize(
    "uses, allowed, negated",
    [
        (["rlhf"], {"rlhf", "evaluation"}, False),
        (["rlhf", "distillation"], {"rlhf", "evaluation"}, False),
        (["rlhf", "distillation"], {"rlhf"}, True),
        ([], {"rlhf"}, False),
    ],
)
def test_a_list_is_in_a_set_when_all_its_items_are(uses, allowed, negated) -> None:
    text = json.dumps({"tosguard": 1, "sources": [{"id": "a", "use": uses}, {"id": "b"}]})
    env = ir.Env(parse_manifest(text.encode(), "m.json", "json").manifest)
    node = ir.InSet("x", ir.Path("source", ("use",)), frozenset(allowed), negated)
    for index in (0, 1):
        env.at(index)
        assert function(node)(env) is node.compiled()(env)
    env.at(0)
    assert function(node)(env) is ((set(uses) <= allowed) != negated)


@pytest.mark.parametrize("kind", [ir.And, ir.Or])
def test_conditions_too_deep_for_the_python_parser_fall_back_to_closures(kind) -> None:
    text = json.dumps({"tosguard": 1, "sources": [{"id": "a", "provider": "p999"}]})
    env = ir.Env(parse_manifest(text.encode(), "m.json", "json").manifest).at(0)
    items = tuple(
        ir.Compare("x", "==", ir.Path("source", ("provider",)), ir.Lit(f"p{i}"))
        for i in range(1000)
    )
    node = kind("x", items)
    assert function(node) is node.compiled()  # the generated text would not compile
    assert function(node)(env) is (kind is ir.Or)  # p999 is among the items
