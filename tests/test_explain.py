"""``tosguard explain``: golden explanations on a small fixed library, JSON structure, and
agreement with ``check`` for every clause and subject (explain never disagrees with the
report). Refresh the golden files on purpose with ``UPDATE_GOLDEN=1``."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tosguard.api import check
from tosguard.engine.library import load_library
from tosguard.errors import UsageError
from tosguard.manifest.model import load_manifest
from tosguard.tools.explain import explain, render_text

ROOT = Path(__file__).parent.parent
HERE = Path(__file__).parent / "golden" / "explain"
AS_OF = date(2026, 6, 1)
CASES = [
    ("competing-models", "acme-terms/competing-models", None),
    ("attribution", "acme-terms/attribution", None),
    ("unknown-use", "competing-models", "unknown-use"),
]
STATUS_ORDER = ["violated", "undetermined", "satisfied", "not_applicable"]


@pytest.fixture(scope="module")
def demo():
    # Repo-relative names, so rendered text (and its line wrapping) does not depend on where
    # the repository is checked out.
    with contextlib.chdir(ROOT):
        library = load_library(["tests/golden/explain/policies"], use_cache=False)
        return library, load_manifest("tests/golden/explain/demo.yaml")


@pytest.mark.parametrize("name,clause,subject", CASES, ids=[c[0] for c in CASES])
def test_golden_explanations(demo, name, clause, subject) -> None:
    library, loaded = demo
    text = render_text(explain(library, loaded, clause, as_of=AS_OF, subject=subject))
    golden = HERE / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_explanation_names_versions_values_and_missing_paths(demo) -> None:
    library, loaded = demo
    data = explain(library, loaded, "acme-terms/competing-models", as_of=AS_OF).as_dict()
    across, unknown, elsewhere = data["subjects"]
    assert [v["effective"] for v in across["versions"]] == ["2025-01-01", "2026-01-01"]
    assert [(v["from"], v["to"]) for v in across["versions"]] == [
        ("2025-12-01", "2025-12-31"),
        ("2026-01-01", "2026-02-01"),
    ]
    assert unknown["status"] == "undetermined"
    when = unknown["versions"][0]["when"]
    assert when["value"] == "unknown" and "/sources/1/use" in when["missing"]
    # an undeclared `agreements` is an empty one: only the use is missing
    assert unknown["versions"][0]["missing"] == ["/sources/1/use"]
    assert unknown["versions"][0]["exceptions"][0] == {
        "id": "internal",
        "applies": "false",
        "section": "2.2",
        "when": unknown["versions"][0]["exceptions"][0]["when"],
    }
    assert elsewhere["status"] == "not_applicable" and "provider" in elsewhere["why"]


def test_version_applied_before_its_effective_date(demo) -> None:
    library, loaded = demo
    manifest = loaded.manifest.model_copy(
        update={"sources": [loaded.manifest.sources[0].model_copy(update={"collected": None})]}
    )
    early = type(loaded)(loaded.name, manifest, loaded.positions, loaded.text)
    data = explain(library, early, "acme-terms/competing-models", as_of=date(2024, 6, 1)).as_dict()
    (version,) = data["subjects"][0]["versions"]
    assert version["early"] is True
    assert "before its effective date" in render_text(
        explain(library, early, "acme-terms/competing-models", as_of=date(2024, 6, 1))
    )


def test_unknown_clause_and_subject_are_usage_errors(demo) -> None:
    library, loaded = demo
    with pytest.raises(UsageError) as caught:
        explain(library, loaded, "acme-terms/competing-model", as_of=AS_OF)
    assert caught.value.diagnostics[0].help == "did you mean `competing-models`?"
    with pytest.raises(UsageError):
        explain(library, loaded, "acme-terms/competing-models", as_of=AS_OF, subject="/model")
    with pytest.raises(UsageError):
        explain(library, loaded, "nope", as_of=AS_OF)


def _statuses_by_check(report) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], list[str]] = {}
    for finding in report.findings:
        found.setdefault((f"{finding.policy}/{finding.clause}", finding.subject), []).append(
            finding.status
        )
    return {key: min(values, key=STATUS_ORDER.index) for key, values in found.items()}


@pytest.mark.parametrize(
    "library_path,manifest",
    [
        (HERE / "policies", HERE / "demo.yaml"),
        (None, ROOT / "examples" / "acme.yaml"),
        (None, ROOT / "examples" / "missing-facts.yaml"),
    ],
)
def test_explain_agrees_with_check(library_path, manifest) -> None:
    library = load_library([library_path] if library_path else None, use_cache=False)
    loaded = load_manifest(manifest)
    expected = _statuses_by_check(check(library, loaded, as_of=AS_OF, include_all=True))
    clauses = sorted({f"{c.policy}/{c.id}" for p in library.policies for c in p.clauses})
    for clause in clauses:
        for subject in explain(library, loaded, clause, as_of=AS_OF).subjects:
            want = expected.get((clause, subject["subject"]), "not_applicable")
            assert subject["status"] == want, (clause, subject["subject"])


def test_cli_text_and_json() -> None:
    def run(*args: str):
        result = subprocess.run(
            [sys.executable, "-m", "tosguard", "explain", *args],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert b"Traceback" not in result.stderr
        return result

    args = (
        "tests/golden/explain/demo.yaml",
        "--clause",
        "acme-terms/attribution",
        "--policies",
        "tests/golden/explain/policies",
        "--as-of",
        "2026-06-01",
    )
    text = run(*args)
    assert text.returncode == 0 and b"the trained model" in text.stdout
    data = json.loads(run(*args, "--format", "json").stdout)
    assert data["subjects"][0]["status"] == "violated"
    assert data["clause"]["kind"] == "obligation"
    bad = run(args[0], "--clause", "acme-terms/nope", *args[3:])
    assert bad.returncode == 2 and b"usage-bad-clause" in bad.stderr
