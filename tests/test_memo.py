"""The evaluator's memo (tosguard.engine.memo) changes nothing but the time taken: the whole
evaluation — every outcome field by field, the counts, the notices, in their order — is the
same with it as without it, on the examples, the corpus, the real-world cases, generated bench
manifests and Hypothesis-generated manifests, with and without ``--all``, at several
evaluation dates; and the budgets still stop it."""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from test_corpus import case_library, case_manifest
from test_properties import SETTINGS, SHIPPED, manifests
from tosguard.engine import budget as budgets
from tosguard.engine.evaluate import MEMO_FROM, Evaluation, Evaluator
from tosguard.engine.library import Library, compile_contents
from tosguard.manifest.model import load_manifest, parse_manifest
from tosguard.tools.policytest import load_tests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from generate import VARIANTS, manifest_text  # noqa: E402

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.json"))
CORPUS = sorted(
    p
    for p in (ROOT / "tests" / "corpus").rglob("*.yaml")
    if "want_error" not in p.read_text(encoding="utf-8")
)
REALWORLD = sorted((ROOT / "tests" / "realworld").glob("*.yaml"))
DAYS = (date(2026, 11, 22), date(2023, 1, 1), date(2025, 6, 1))


def snapshot(evaluation: Evaluation) -> tuple:
    """Everything an evaluation holds, comparable across two evaluations of one library."""
    outcomes = [
        (
            id(o.clause),
            o.clause.policy,
            o.clause.id,
            id(o.version),
            o.subject,
            o.status,
            o.missing,
            o.note,
            o.early,
        )
        for o in evaluation.outcomes
    ]
    return outcomes, dict(evaluation.counts), list(evaluation.notices)


def both(library: Library, manifest, as_of: date, include_all: bool) -> tuple[Evaluator, tuple]:
    """Evaluate with and without the memo; assert they agree; return the memo's evaluator."""
    plain = Evaluator(library, manifest, as_of, include_all, memo=False)
    without = snapshot(plain.run())
    memoised = Evaluator(library, manifest, as_of, include_all, memo=True)
    found = snapshot(memoised.run())
    assert plain.memo is None and memoised.memo is not None
    assert found[1] == without[1], "counts differ"
    assert found[2] == without[2], "notices differ"
    assert len(found[0]) == len(without[0]), "outcome counts differ"
    for position, (mine, theirs) in enumerate(zip(found[0], without[0], strict=True)):
        assert mine == theirs, f"outcome {position} differs"
    return memoised, found


@pytest.mark.parametrize("include_all", [False, True], ids=["default", "all"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples(path: Path, include_all: bool) -> None:
    manifest = load_manifest(path).manifest
    for day in DAYS:
        both(SHIPPED, manifest, day, include_all)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.relative_to(ROOT / "tests").as_posix())
def test_corpus(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    library = case_library(case)
    manifest = case_manifest(case).manifest
    as_of = date.fromisoformat(str(case.get("as_of", "2026-06-01")))
    for include_all in (False, True):
        both(library, manifest, as_of, include_all)


@pytest.mark.parametrize("path", REALWORLD, ids=lambda p: p.stem)
def test_realworld(path: Path) -> None:
    (case,) = load_tests(path)
    if case.manifest_file is not None:
        loaded = load_manifest(Path(case.file).parent / case.manifest_file)
    else:
        text = json.dumps(case.manifest, default=str).encode()
        loaded = parse_manifest(text, "m.json", "json")
    as_of = date.fromisoformat(str(case.as_of)) if case.as_of else date(2026, 6, 1)
    for include_all in (False, True):
        both(SHIPPED, loaded.manifest, as_of, include_all)


@pytest.mark.parametrize(
    "sources, seed, variant",
    [
        (3000, 20251122, "default"),
        (1500, 7, "undeclared-kind"),
        (800, 11, "openai-fine-tuning"),
        (800, 12, "internal-classifier"),
        (800, 13, "llama-named"),
    ],
)
def test_bench_manifests(sources: int, seed: int, variant: str) -> None:
    assert variant in VARIANTS
    text = manifest_text(sources, seed, variant).encode()
    manifest = parse_manifest(text, "m.yaml").manifest
    for include_all in (False, True):
        memoised, _ = both(SHIPPED, manifest, date(2026, 3, 1), include_all)
        assert memoised.memo is not None
        assert memoised.memo.hits > memoised.memo.misses  # most sources are replayed
        assert memoised.memo.result_hits > 0


def test_bench_manifest_before_every_version() -> None:
    """Sources collected before the earliest versions: the early notices are replayed too."""
    text = re.sub(
        r"\b(from|to): (\d{4})", lambda m: f"{m[1]}: {int(m[2]) - 4}", manifest_text(1200, 3)
    )  # four years earlier: 2020 to 2022
    manifest = parse_manifest(text.encode(), "m.yaml").manifest
    for include_all in (False, True):
        _, (_, _, notices) = both(SHIPPED, manifest, date(2026, 3, 1), include_all)
        assert sum(n.code == "no-version-in-force" for n in notices) > 100


# ---- generated manifests over a policy that uses every kind of node ---------------------------
POLICIES = """
set eu = countries { DE, FR, NO }
set acme_services = {"api", "consumer-app"}

define acme_output = source.provider == "acme" and source.service in acme_services

policy acme {
  provider  acme
  document  "Acme Terms"
  service   api, consumer-app
  version   "1"
  effective 2024-01-01
  url       "https://acme.example/terms"
  governs   acme_output or (source.kind == "dataset" and any origin where acme_output)

  clause no-distill {
    topic competing-models
    kind prohibition
    when source.use contains "distillation" and source.collected.to is declared
         and source.collected.to < 2024-06-01
    cite { section "1" quote "q" }
  }
  clause eu-only {
    topic geography
    kind prohibition
    severity warning
    when source.access.from_country not in eu and not (facts.allowed contains source.access.route)
    cite { section "2" quote "EU only" }
  }
  clause big-direct {
    topic account-sharing
    kind obligation
    when source.records >= 1000 and source.records != 5000
    require source.access.route == "direct"
    cite { section "3" quote "big ones direct" }
  }
  clause named {
    topic naming-attribution
    kind prohibition
    when governed and source.model matches "gpt-*"
    cite { section "4" quote "no gpt" }
  }
  clause with-weights {
    topic competing-models
    kind prohibition
    when source.kind == "model-output"
         and any other source where (source.kind == "model-weights" and source.provider == "acme")
    cite { section "5" quote "no weights" }
  }
  clause same-kind {
    topic resale
    kind prohibition
    when source.model == source.service
    cite { section "6" quote "odd" }
  }
  exception research lifts no-distill {
    when facts.research == true
    cite { section "7" quote "research allowed" }
  }
}

policy acme {
  provider  acme
  document  "Acme Terms"
  service   api, consumer-app
  version   "2"
  effective 2025-01-01
  url       "https://acme.example/terms"
  governs   acme_output and source.access.route != "reseller"

  clause no-distill {
    topic competing-models
    kind prohibition
    when source.use contains any {"distillation", "rlhf"} and source.records > 10
    waived by "acme-consent"
    cite { section "1" quote "q" }
  }
  clause routes {
    topic account-sharing
    kind prohibition
    when source.access.route in {"proxy", "shared-account"} or not (source.use is declared)
    cite { section "2" quote "routes" }
  }
}

policy acme-licence {
  document  "Acme Licence"
  service   open-weights
  version   "1"
  effective 2024-06-01
  url       "https://acme.example/licence"
  license   "acme-1", "Acme One"
  governs   source.license is declared and source.license == "acme-1"

  clause attribution {
    topic naming-attribution
    kind obligation
    when source.use contains any {"fine-tuning", "pretraining"}
    require model.attributions contains "Built with Acme"
    cite { section "1" quote "attribute" }
  }
  clause evaluation {
    topic distillation
    kind permission
    when source.use contains "evaluation"
    cite { section "2" quote "evaluate" }
  }
}
"""


def _library() -> Library:
    policies = compile_contents([(Path("acme.tos"), "acme.tos", POLICIES.encode())])
    return Library(policies, "memo-test", ["acme.tos"])


LIBRARY = _library()
DAY = st.dates(date(2023, 6, 1), date(2025, 12, 31))


@st.composite
def _source(draw) -> dict:
    source: dict = {
        "kind": draw(st.sampled_from(["model-output", "model-weights", "dataset", None])),
        "provider": draw(st.sampled_from(["acme", "other", None])),
        "service": draw(st.sampled_from(["api", "consumer-app", "open-weights", None])),
        "model": draw(st.sampled_from(["gpt-4o", "api", "acme-1", None])),
        "license": draw(st.sampled_from(["acme-1", "Acme-1", "MIT", None])),
        "records": draw(st.sampled_from([None, 5, 10, 11, 999, 1000, 5000, 12345])),
        "use": draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.sampled_from(["distillation", "rlhf", "evaluation", "fine-tuning"]),
                    unique=True,
                    max_size=2,
                ),
            )
        ),
    }
    access = draw(
        st.sampled_from(
            [None, {}, {"route": "direct"}, {"route": "proxy", "from_country": "DE"}]
            + [{"route": "direct", "from_country": "US"}, {"from_country": "NO"}]
        )
    )
    if access is not None:
        source["access"] = access
    return {k: v for k, v in source.items() if v is not None}


@st.composite
def _manifests(draw) -> dict:
    """Sources drawn from a small pool, so that many share their facts; each with its own
    dates, some of them before the earliest version, and some derived from others."""
    pool = draw(st.lists(_source(), min_size=1, max_size=6))
    count = draw(st.integers(1, 30))
    sources = []
    for index in range(count):
        source = dict(draw(st.sampled_from(pool)), id=f"s{index}")
        collected = draw(st.sampled_from(["both", "from", "to", "none"]))
        start, end = sorted([draw(DAY), draw(DAY)])
        if collected == "both":
            source["collected"] = {"from": start.isoformat(), "to": end.isoformat()}
        elif collected == "from":
            source["collected"] = {"from": start.isoformat()}
        elif collected == "to":
            source["collected"] = {"to": end.isoformat()}
        if index and draw(st.booleans()):
            source["derived_from"] = [f"s{draw(st.integers(0, index - 1))}"]
        sources.append(source)
    manifest: dict = {"tosguard": 1, "sources": sources}
    manifest["facts"] = draw(
        st.sampled_from([{}, {"research": True}, {"allowed": ["proxy"]}, {"research": False}])
    )
    manifest["model"] = {"attributions": draw(st.sampled_from([[], ["Built with Acme"]]))}
    if draw(st.booleans()):
        manifest["organization"] = {"agreements": ["acme-consent"]}
    return manifest


@SETTINGS
@given(_manifests(), st.booleans(), DAY)
def test_generated_manifests_over_every_node(manifest: dict, include_all: bool, as_of) -> None:
    loaded = parse_manifest(json.dumps(manifest).encode(), "m.json", "json")
    both(LIBRARY, loaded.manifest, as_of, include_all)


@SETTINGS
@given(manifests(), st.booleans())
def test_generated_manifests_on_the_shipped_library(manifest: dict, include_all: bool) -> None:
    loaded = parse_manifest(json.dumps(manifest).encode(), "m.json", "json")
    both(SHIPPED, loaded.manifest, date(2026, 1, 1), include_all)


def test_memo_replays_on_the_node_library() -> None:
    """The generated manifests above do exercise the replay, not only the first sources."""
    sources = [
        {"id": f"s{i}", "kind": "model-output", "provider": "acme", "service": "api",
         "records": 1000 + i, "use": ["distillation"],
         "collected": {"from": f"2024-0{1 + i % 9}-01", "to": f"2024-0{1 + i % 9}-20"}}
        for i in range(40)
    ]  # fmt: skip
    loaded = parse_manifest(json.dumps({"tosguard": 1, "sources": sources}).encode(), "m.json")
    memoised, _ = both(LIBRARY, loaded.manifest, date(2025, 6, 1), False)
    assert memoised.memo is not None and memoised.memo.hits >= 20


# ---- budgets ----------------------------------------------------------------------------------
def test_findings_limit_still_stops_a_memoised_evaluation() -> None:
    manifest = parse_manifest(manifest_text(2000).encode(), "m.yaml").manifest
    for memo in (False, True):
        with budgets.active(budgets.Budget(max_findings=100)):
            evaluator = Evaluator(SHIPPED, manifest, date(2026, 3, 1), memo=memo)
            assert (evaluator.memo is not None) is memo
            with pytest.raises(budgets.FindingsLimitExceeded):
                evaluator.run()


def test_time_limit_still_stops_a_memoised_evaluation() -> None:
    manifest = parse_manifest(manifest_text(2000).encode(), "m.yaml").manifest
    checks = 0

    class Counting(budgets.Budget):
        __slots__ = ()

        def check(self) -> None:
            nonlocal checks
            checks += 1
            if checks > 1500:  # well inside pass 1: replayed sources are checked too
                raise budgets.TimeLimitExceeded()

    with budgets.active(Counting()):
        evaluator = Evaluator(SHIPPED, manifest, date(2026, 3, 1))
        with pytest.raises(budgets.TimeLimitExceeded):
            evaluator.run()
    assert evaluator.memo is not None and evaluator.memo.hits > 0


def test_an_absent_level_is_part_of_the_key() -> None:
    """`missing` names the first absent level (`access`, or `access/route`): sources that
    differ only there must not share the notice's paths."""
    base = {"kind": "model-output", "provider": "acme", "service": "api", "use": ["rlhf"]}
    sources = [
        dict(base, id="a", collected={"from": "2025-02-01", "to": "2025-02-02"}),
        dict(base, id="b", access={"from_country": "NO"}),
        dict(base, id="c", collected={"from": "2025-03-01", "to": "2025-03-02"}),
        dict(base, id="d", access={"from_country": "DE"}),
    ]
    loaded = parse_manifest(json.dumps({"tosguard": 1, "sources": sources}).encode(), "m.json")
    memoised, (_, _, notices) = both(LIBRARY, loaded.manifest, date(2025, 6, 1), False)
    missing = [n.missing for n in notices if n.code == "governing-terms"]
    assert missing == [
        ("/sources/0/access",),
        ("/sources/1/access/route",),
        ("/sources/2/access",),
        ("/sources/3/access/route",),
    ]
    assert memoised.memo is not None and memoised.memo.hits == 2


def test_the_memo_is_on_from_a_thousand_sources() -> None:
    small = parse_manifest(manifest_text(MEMO_FROM - 1).encode(), "m.yaml").manifest
    assert Evaluator(SHIPPED, small, date(2026, 3, 1)).memo is None
    large = parse_manifest(manifest_text(MEMO_FROM).encode(), "m.yaml").manifest
    assert Evaluator(SHIPPED, large, date(2026, 3, 1)).memo is not None


def test_a_node_without_a_rule_is_never_replayed(monkeypatch) -> None:
    """A node class `reads` has no rule for makes every source it may apply to evaluated as
    without the memo (acme's `governs` tests `source.service in acme_services`)."""
    from tosguard.engine import ir
    from tosguard.engine.reads import RULES

    monkeypatch.delitem(RULES, ir.InSet)
    sources = [
        {"id": f"s{i}", "kind": "model-output", "provider": "acme", "service": "api"}
        for i in range(40)
    ]
    loaded = parse_manifest(json.dumps({"tosguard": 1, "sources": sources}).encode(), "m.json")
    memoised, _ = both(LIBRARY, loaded.manifest, date(2025, 6, 1), False)
    assert memoised.memo is not None
    assert memoised.memo.hits == 0 and memoised.memo.live == 40
