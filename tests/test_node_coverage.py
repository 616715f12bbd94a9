"""Every kind of condition node goes through every stage that must handle it.

A new node (say a `starts with` operator) touches the grammar, the AST, validation,
compilation, the IR, codegen, the printer and explain. This test makes a missed place fail
here, not in a user's hands: each AST condition class needs a sample below (the first test
fails until it has one), and each sample is then parsed, validated, compiled, printed (and
re-parsed to the same tree), evaluated by its closures and by generated code on a manifest,
and explained. Every concrete IR condition class must be produced by some sample.
"""

from __future__ import annotations

import typing
from datetime import date
from pathlib import Path

import pytest

from tosguard.engine import ir
from tosguard.engine.codegen import function
from tosguard.engine.evaluate import Evaluator
from tosguard.engine.frontend import analyse, errors_in, parse_policy_data
from tosguard.engine.library import load_library
from tosguard.language import ast
from tosguard.language.conditions import format_condition
from tosguard.language.printer import format_text
from tosguard.manifest.model import parse_manifest
from tosguard.tools.explain import explain, render_text

# One sample condition per AST condition class (several where a class has variants that
# compile to different IR nodes).
SAMPLES: dict[type, list[str]] = {
    ast.And: ['source.kind == "human" and model.commercial'],
    ast.Or: ['source.kind == "human" or model.commercial'],
    ast.Not: ["not model.commercial"],
    ast.Const: ["true"],
    ast.Compare: ["organization.monthly_active_users > 5"],
    ast.InSet: ['source.kind in {"human", "dataset"}'],
    ast.Contains: ['source.use contains "fine-tuning"', "source.use contains any shared_uses"],
    ast.Matches: ['source.model matches "gpt-*"', 'source.model matches regex "^gpt-[0-9]"'],
    ast.Declared: ["source.license is declared"],
    ast.Quantifier: [
        'any source where source.kind == "human"',
        'any origin where source.kind == "model-output"',
    ],
    ast.NameRef: ["is_human", "governed"],
}

POLICY = """\
set shared_uses = {{"fine-tuning", "distillation"}}
define is_human = source.kind == "human"

policy node-coverage {{
  provider  acme
  document  "Node coverage"
  version   "1"
  effective 2024-01-01
  url       "https://example.com/terms"
  governs   source.kind in {{"human", "dataset"}}
{clauses}}}
"""

CLAUSE = """
  clause c{number} {{
    topic    competing-models
    kind     prohibition
    scope    source
    severity warning
    when     {condition}
    message  "sample {number}"
    remedy   "none"
    cite {{
      section "1"
      quote   "q"
    }}
  }}
"""

MANIFEST = b"""tosguard: 1
organization: {monthly_active_users: 10}
model: {name: m, purpose: chat, distribution: internal, commercial: false}
sources:
  - {id: a, kind: human, use: [fine-tuning], license: MIT, derived_from: []}
  - {id: b, kind: dataset, model: gpt-4o, use: [evaluation], derived_from: [c]}
  - {id: c, kind: model-output, provider: acme, model: gpt-4o, use: [distillation]}
"""


def _all_samples() -> list[str]:
    return [sample for samples in SAMPLES.values() for sample in samples]


def test_every_condition_class_has_a_sample() -> None:
    classes = set(typing.get_args(ast.Condition))
    missing = sorted(c.__name__ for c in classes - set(SAMPLES))
    assert not missing, f"add a sample for each new condition node: {missing}"


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory) -> Path:
    clauses = "".join(
        CLAUSE.format(number=number, condition=condition)
        for number, condition in enumerate(_all_samples())
    )
    directory = tmp_path_factory.mktemp("node-coverage")
    (directory / "coverage.tos").write_text(POLICY.format(clauses=clauses), encoding="utf-8")
    return directory


def test_samples_parse_and_validate(policy_dir: Path) -> None:
    text = (policy_dir / "coverage.tos").read_text(encoding="utf-8")
    tree = parse_policy_data(text, "coverage.tos", user=True)
    assert not errors_in(analyse([tree]))


def test_samples_print_and_reparse_to_the_same_tree(policy_dir: Path) -> None:
    text = (policy_dir / "coverage.tos").read_text(encoding="utf-8")
    formatted = format_text(text, "coverage.tos")  # checks the printed tree is the parsed one
    assert format_text(formatted, "coverage.tos") == formatted
    tree = parse_policy_data(formatted, "coverage.tos", user=True)
    printed = [format_condition(clause.when) for clause in tree.policies[0].clauses]
    assert len(printed) == len(_all_samples()) and all(printed)


@pytest.fixture(scope="module")
def library(policy_dir: Path):
    return load_library([policy_dir], use_cache=False)


def _conditions(library):
    seen: set[int] = set()
    pending = [policy.governs for policy in library.policies]
    for policy in library.policies:
        for clause in policy.clauses:
            pending += [c for c in (clause.when, clause.require) if c is not None]
    while pending:
        node = pending.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            pending.extend(node.children())


def test_every_ir_class_is_produced_by_a_sample(library) -> None:
    produced = {type(node) for node in _conditions(library)}
    concrete = {
        cls
        for cls in vars(ir).values()
        if isinstance(cls, type) and issubclass(cls, ir.Cond) and cls is not ir.Cond
    }
    missing = sorted(cls.__name__ for cls in concrete - produced)
    assert not missing, f"no sample compiles to these IR nodes: {missing}"


def test_closures_and_generated_code_agree_on_every_sample(library) -> None:
    loaded = parse_manifest(MANIFEST, "m.yaml", "yaml")
    evaluator = Evaluator(library, loaded.manifest, date(2026, 1, 1))
    evaluator.prepare()
    (version,) = library.policies
    env = evaluator.environment(version)
    nodes = list(_conditions(library))
    for index in range(len(loaded.manifest.sources)):
        env.at(index)
        for node in nodes:
            assert function(node)(env) is node.compiled()(env), (node.text, index)


def test_every_sample_is_explained(library) -> None:
    loaded = parse_manifest(MANIFEST, "m.yaml", "yaml")
    for number, condition in enumerate(_all_samples()):
        explanation = explain(
            library, loaded, f"node-coverage/c{number}", as_of=date(2026, 1, 1), subject="a"
        )
        text = render_text(explanation)
        assert "The prohibited conduct (when):" in text, (condition, text)


def test_a_pass_over_conditions_that_misses_a_node_fails_when_defined() -> None:
    from tosguard.language.visitor import ConditionVisitor

    handlers = {  # every handler but one
        name: lambda self, node: None
        for name in ConditionVisitor._handlers.values()
        if name != "visit_declared"
    }
    with pytest.raises(TypeError, match=r"^Partial has no handler for visit_declared$"):
        type("Partial", (ConditionVisitor,), handlers)
    type("Complete", (ConditionVisitor,), {**handlers, "visit_declared": lambda self, node: 1})
