"""``tosguard test``: policy tests with readable diffs of findings, clause coverage,
``--coverage-min``, and text, JSON and JUnit output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tosguard.engine.library import load_library
from tosguard.errors import PolicyError
from tosguard.tools.policytest import (
    coverage,
    load_tests,
    render_json,
    render_junit,
    render_text,
    run_tests,
)

ROOT = Path(__file__).parent.parent
DEMO = Path(__file__).parent / "golden" / "explain"

MANIFEST = """\
    manifest:
      tosguard: 1
      organization: {agreements: []}
      model: {name: demo, purpose: chat, distribution: open-weights, attributions: []}
      sources:
        - {id: a, kind: model-output, provider: acme, service: api, use: [distillation],
           collected: {from: 2025-03-01, to: 2025-03-31}}
"""
PASSING = f"""\
tests:
  - description: distilling Acme output into a chat model is forbidden
{MANIFEST}    verdict: non_compliant
    must:
      - {{clause: acme-terms/competing-models, subject: /sources/0, status: violated}}
      - {{clause: acme-terms/internal, status: not_applicable}}
  - description: an internal model is the exception
{MANIFEST.replace("open-weights", "internal")}    must:
      - {{clause: acme-terms/competing-models, subject: /sources/0, status: satisfied}}
      - {{clause: acme-terms/internal, status: satisfied}}
"""
FAILING = f"""\
description: a wrong expectation
{MANIFEST.replace("    ", "", 1).replace(chr(10) + "    ", chr(10))}verdict: compliant
must:
  - {{clause: acme-terms/competing-models, subject: /sources/0, status: satisfied}}
must_not:
  - {{clause: acme-terms/attribution, status: violated}}
"""


@pytest.fixture()
def library_dir(tmp_path: Path) -> Path:
    shutil.copytree(DEMO / "policies", tmp_path / "lib")
    (tmp_path / "lib" / "tests").mkdir()
    (tmp_path / "lib" / "tests" / "pass.yaml").write_text(PASSING, encoding="utf-8")
    return tmp_path / "lib"


@pytest.fixture(scope="module")
def library():
    return load_library([DEMO / "policies"], use_cache=False)


def run_cli(*args: str):
    result = subprocess.run(
        [sys.executable, "-m", "tosguard", "test", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def test_passing_tests_and_coverage(library, library_dir) -> None:
    tests = load_tests(library_dir / "tests" / "pass.yaml")
    assert [t.line for t in tests] == [2, 14]
    results = run_tests(library, tests)
    assert all(r.passed for r in results), [r.failures for r in results]
    cover = coverage(library, results)
    table = {c.clause: (c.goals, sorted(c.seen & set(c.goals))) for c in cover.clauses}
    assert table["acme-terms/competing-models"] == (
        ("violated", "satisfied"),
        ["satisfied", "violated"],
    )
    assert table["acme-terms/internal"] == (
        ("satisfied", "not_applicable"),
        ["not_applicable", "satisfied"],
    )
    assert table["acme-terms/attribution"][1] == ["violated"]
    assert (cover.covered, cover.total) == (5, 6)
    text = render_text(results, cover, 90)
    assert "2 passed, 0 failed" in text
    assert (
        "Clause coverage: 5 of 6 outcomes exercised (83.3%), which is below the minimum "
        "of 90%" in text
    )
    assert "acme-terms/internal" in text and "applies yes  does not apply yes" in text


def test_failure_shows_a_diff_of_findings(library, tmp_path: Path) -> None:
    path = tmp_path / "tests" / "fail.yaml"
    path.parent.mkdir()
    path.write_text(FAILING, encoding="utf-8")
    (result,) = run_tests(library, load_tests(path))
    assert not result.passed
    assert result.details[0] == "verdict: expected compliant, got non_compliant"
    assert "findings of acme-terms/competing-models:" in result.details
    assert "  - /sources/0 satisfied    (must)" in result.details
    assert any(
        line.startswith("  + /sources/0 violated    (version 2025-01-01:")
        for line in result.details
    )
    assert "  - (any subject) violated    (must not)" in result.details
    text = render_text([result], coverage(library, [result]))
    assert "FAIL" in text and "      findings of acme-terms/attribution:" in text


def test_unknown_clause_in_a_test_fails_with_a_suggestion(library, tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "manifest: {tosguard: 1, sources: []}\nmust_not: [{clause: acme-terms/competing-model}]\n",
        encoding="utf-8",
    )
    (result,) = run_tests(library, load_tests(path))
    assert result.failures == ["unknown clause `acme-terms/competing-model`"]
    assert "did you mean `acme-terms/competing-models`?" in result.details[0]


@pytest.mark.parametrize(
    "text,message",
    [
        ("manifest: {}\nverdict: compliant-ish\n", "`compliant-ish` is not a verdict"),
        (
            "manifest: {}\nas_of: yesterday\nverdict: compliant\n",
            "`as_of: yesterday` is not a date",
        ),
        ("manifest: {}\nmust: [{clause: geography}]\n", "`geography` does not name a policy"),
        ("manifest: {}\nmust: [{clause: a/b, status: broken}]\n", "`broken` is not a status"),
        (
            "tests:\n  - manifest: {}\n    verdict: compliant\n  - manifest: {}\n    verdikt: x\n",
            "unknown key `verdikt` in policy test",
        ),
    ],
)
def test_invalid_tests_are_reported_with_their_line(tmp_path: Path, text, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_tests(path)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == message and diagnostic.help and diagnostic.span.line >= 1
    if text.startswith("tests:"):
        assert diagnostic.span.line == 4


def test_junit_and_json(library, library_dir, tmp_path: Path) -> None:
    (library_dir / "tests" / "fail.yaml").write_text(FAILING, encoding="utf-8")
    tests = [t for f in sorted((library_dir / "tests").glob("*.yaml")) for t in load_tests(f)]
    results = run_tests(library, tests)
    cover = coverage(library, results)
    root = ET.fromstring(render_junit(results, cover, 90))
    assert (root.get("tests"), root.get("failures")) == ("4", "2")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites][-1] == "clause coverage"
    failure = suites[0].find("testcase/failure")
    assert failure is not None and "verdict" in failure.get("message")
    data = json.loads(render_json(results, cover, 90))
    assert data["summary"] == {"passed": 2, "failed": 1}
    assert data["coverage"]["minimum"] == 90 and data["coverage"]["total"] == 6
    assert data["tests"][0]["diff"]


def test_cli_exit_codes(library_dir: Path) -> None:
    passing = run_cli(str(library_dir))
    assert passing.returncode == 0, passing.stdout.decode()
    assert b"2 passed, 0 failed" in passing.stdout
    assert run_cli(str(library_dir), "--coverage-min", "80").returncode == 0
    assert run_cli(str(library_dir), "--coverage-min", "90").returncode == 1
    junit = run_cli(str(library_dir), "--format", "junit")
    assert ET.fromstring(junit.stdout).get("tests") == "2"
    (library_dir / "tests" / "fail.yaml").write_text(FAILING, encoding="utf-8")
    assert run_cli(str(library_dir)).returncode == 1
    (library_dir / "tests" / "bad.yaml").write_text("manifest: {}\nverdict: nope\n")
    invalid = run_cli(str(library_dir))
    assert invalid.returncode == 2 and b"test-invalid" in invalid.stderr
    assert run_cli(str(library_dir / "policies-missing")).returncode == 2


def test_cli_runs_the_shipped_library_tests() -> None:
    result = run_cli("policies", "--format", "json")
    assert result.returncode in (0, 1)
    data = json.loads(result.stdout)
    assert data["tests"] and data["coverage"]["total"] > 0


def test_junit_is_the_report_writers_and_valid(library, library_dir) -> None:
    """One JUnit writer (tosguard.report.junit) for reports and policy tests: the same
    dialect, valid against the vendored junit-10.xsd, each test at its file and line."""
    xmlschema = pytest.importorskip("xmlschema")
    from test_report_formats import SCHEMAS, assert_valid_junit

    (library_dir / "tests" / "fail.yaml").write_text(FAILING, encoding="utf-8")
    tests = [t for f in sorted((library_dir / "tests").glob("*.yaml")) for t in load_tests(f)]
    results = run_tests(library, tests)
    text = render_junit(results, coverage(library, results), 90)
    cases = [c for c in ET.fromstring(text).iter("testcase") if c.get("file")]
    assert {c.get("line") for c in cases} >= {str(t.line) for t in tests}
    schema = xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))
    root = ET.fromstring(text)
    for case in root.iter("testcase"):  # the coverage case has no file: give it one to check
        case.attrib.setdefault("file", "-")
        case.attrib.setdefault("line", "1")
    assert_valid_junit(schema, ET.tostring(root, encoding="unicode"))
