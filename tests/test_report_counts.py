"""The report adds up and says where it came from, in every format.

For every example manifest, with and without ``--all``, and for text, JSON, Markdown, SARIF,
JUnit and the service's answer: the counts printed equal the findings listed, category by
category (violated, undetermined, warnings, satisfied, not applicable); the verdict follows
the error-severity findings alone; a warning is never shown or counted as violated; and each
format records the tosguard version and the policy-set revision.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.dom.minidom
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from tosguard import __version__
from tosguard.api import check, load_library
from tosguard.manifest.model import load_manifest
from tosguard.report.formats import render_junit, render_markdown, render_sarif
from tosguard.report.model import (
    ALWAYS_LISTED,
    CATEGORIES,
    Finding,
    Report,
    category_of,
    summarize,
    summary_categories,
)
from tosguard.report.text import GROUPS, render_text

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.*"))
AS_OF = "2026-11-22"
ENV = {
    **os.environ,
    "NO_COLOR": "1",
    "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
}
TITLES = {
    "Violated": "violated",
    "Undetermined": "undetermined",
    "Warnings": "warnings",
    "Accepted": "accepted",
    "Satisfied": "satisfied",
    "Not applicable": "not_applicable",
}
SECTION = re.compile(
    r"(Violated|Undetermined|Warnings|Satisfied|Not applicable) "
    r"\((\d+)(?: of (\d+))?\)"
)
COUNTS = re.compile(
    r"(\d+) violated, (\d+) undetermined, (\d+) warnings?, (\d+) satisfied, "
    r"(\d+) not applicable"
)


@pytest.fixture(scope="module")
def library():
    return load_library(use_cache=False)


@pytest.fixture(scope="module")
def checked(library):
    """``(loaded manifest, report)`` for every example, with and without ``--all``."""
    found = {}
    for path in EXAMPLES:
        loaded = load_manifest(path)
        for include_all in (False, True):
            found[path.name, include_all] = (
                loaded,
                check(
                    library,
                    loaded,
                    as_of=AS_OF,
                    include_all=include_all,
                    name=f"examples/{path.name}",
                ),
            )
    return found


CASES = [(path.name, include_all) for path in EXAMPLES for include_all in (False, True)]
IDS = [f"{name}-{'all' if include_all else 'findings'}" for name, include_all in CASES]


def totals(summary: dict) -> dict[str, int]:
    return {category: summary[category] for category in CATEGORIES}


def expected_verdict(findings: list[dict]) -> str:
    errors = [f for f in findings if f["severity"] == "error"]
    if any(f["status"] == "violated" for f in errors):
        return "non_compliant"
    if any(f["status"] == "undetermined" for f in errors):
        return "undetermined"
    return "compliant"


def test_the_sections_are_the_summary_categories() -> None:
    # with a baseline, the accepted risks have a section (and a summary key) after warnings
    assert tuple(group[0] for group in GROUPS) == summary_categories({"accepted": 0})
    assert summary_categories({}) == CATEGORIES
    assert {title: category for category, title, _, _ in GROUPS} == TITLES


# ---- JSON (and the service, which sends the same bytes) ----------------------------------------
@pytest.mark.parametrize("name,include_all", CASES, ids=IDS)
def test_json_summary_counts_the_findings(checked, library, name, include_all) -> None:
    report = json.loads(checked[name, include_all][1].to_json())
    summary = report["summary"]
    assert list(summary) == [*CATEGORIES, "listed"]
    assert list(summary["listed"]) == list(CATEGORIES)
    listed = Counter(category_of(f["status"], f["severity"]) for f in report["findings"])
    assert summary["listed"] == {c: listed.get(c, 0) for c in CATEGORIES}
    for category in CATEGORIES:
        assert 0 <= summary["listed"][category] <= summary[category], category
    for category in ALWAYS_LISTED:  # every problem and every warning is a finding
        assert summary["listed"][category] == summary[category], category
    if include_all:
        assert summary["listed"] == totals(summary)
        assert sum(totals(summary).values()) == len(report["findings"])
        brief = json.loads(checked[name, False][1].to_json())
        assert report["verdict"] == brief["verdict"]
        # --all adds findings but never changes what is counted, except where one identity
        # finding stands for the clauses of documents that may govern a source
        # (`governing-terms`) or that had no version in force (`no-version-in-force`): --all
        # lists and counts those clauses one by one
        stands_for = {"governing-terms", "no-version-in-force"}
        if not any(
            f["topic"] == "identity" and f["clause"] in stands_for for f in brief["findings"]
        ):
            assert summary == {**brief["summary"], "listed": summary["listed"]}
    assert report["verdict"] == expected_verdict(report["findings"])
    assert report["tosguard_version"] == __version__
    assert report["policy_set_revision"] == library.revision


@pytest.mark.parametrize("name,include_all", CASES, ids=IDS)
def test_service_answer_counts_the_findings(checked, library, name, include_all) -> None:
    pytest.importorskip("fastapi")
    from tosguard.service.work import check_manifest

    path = ROOT / "examples" / name
    body, verdict = check_manifest(
        library,
        path.read_bytes(),
        "json" if name.endswith(".json") else "yaml",
        f"examples/{name}",
        date.fromisoformat(AS_OF),
        include_all,
        100_000,
    )
    answer = json.loads(body)
    assert body.decode() == checked[name, include_all][1].to_json()
    assert verdict == answer["verdict"] == expected_verdict(answer["findings"])
    listed = Counter(category_of(f["status"], f["severity"]) for f in answer["findings"])
    assert answer["summary"]["listed"] == {c: listed.get(c, 0) for c in CATEGORIES}
    assert answer["policy_set_revision"] == library.revision


# ---- text -------------------------------------------------------------------------------------
def text_sections(text: str) -> dict[str, tuple[int, int | None, int]]:
    """Each section of a text report: (count in its title, total in its title, findings)."""
    sections: dict[str, tuple[int, int | None, int]] = {}
    current = None
    for line in text.splitlines():
        match = SECTION.match(line)
        if match:
            current = TITLES[match.group(1)]
            sections[current] = (
                int(match.group(2)),
                int(match.group(3)) if match.group(3) else None,
                0,
            )
        elif current and line[:1] in ("✗", "?", "!", "✓", "·"):
            shown, total, found = sections[current]
            sections[current] = (shown, total, found + 1)
    return sections


@pytest.mark.parametrize("name,include_all", CASES, ids=IDS)
def test_text_counts_equal_the_sections(checked, name, include_all) -> None:
    loaded, report = checked[name, include_all]
    text = render_text(report, loaded.source_line, loaded.manifest.sources)
    summary, listed = report.summary, report.summary["listed"]
    match = COUNTS.search(text)
    assert match and match.start() == text.index("\n", text.index("\n") + 1) + 3, text[:400]
    assert [int(n) for n in match.groups()] == list(totals(summary).values())
    sections = text_sections(text)
    for category in CATEGORIES:
        if not listed[category]:
            assert category not in sections, category
            continue
        shown, total, found = sections[category]
        assert shown == found == listed[category], category
        assert (total or shown) == summary[category], category
    unlisted = {c: summary[c] - listed[c] for c in CATEGORIES if summary[c] != listed[c]}
    note = re.search(r"^  not listed: (.*) \(--all lists every result\)$", text, re.M)
    if unlisted:
        assert note and note.group(1) == ", ".join(
            f"{n} {c.replace('_', ' ')}" for c, n in unlisted.items()
        )
    else:
        assert note is None
    assert text.rstrip("\n").endswith(
        f"tosguard {__version__}, policy set revision {report.policy_revision}"
    )


# ---- Markdown ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name,include_all", CASES, ids=IDS)
def test_markdown_counts_equal_the_sections(checked, name, include_all) -> None:
    report = checked[name, include_all][1]
    text = render_markdown(report)
    summary, listed = report.summary, report.summary["listed"]
    match = COUNTS.search(text.splitlines()[2])
    assert match and [int(n) for n in match.groups()] == list(totals(summary).values())
    sections: dict[str, tuple[int, int | None, int]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("<summary><b>"):  # a collapsible section's title
            found = SECTION.match(line.removeprefix("<summary><b>").removesuffix("</b></summary>"))
            assert found, line
            current = TITLES[found.group(1)]
            sections[current] = (
                int(found.group(2)),
                int(found.group(3)) if found.group(3) else None,
                0,
            )
        elif current and line.startswith("| `"):
            shown, total, rows = sections[current]
            sections[current] = (shown, total, rows + 1)
    for category in CATEGORIES:
        if not listed[category]:
            assert category not in sections, category
            continue
        shown, total, rows = sections[category]
        assert shown == rows == listed[category], category
        assert (total or shown) == summary[category], category
    assert f"tosguard {__version__}, policy set revision `{report.policy_revision}`" in text


# ---- SARIF ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,include_all", CASES, ids=IDS)
def test_sarif_results_equal_the_summary(checked, library, name, include_all) -> None:
    report = checked[name, include_all][1]
    run = json.loads(render_sarif([report]))["runs"][0]
    assert run["tool"]["driver"]["version"] == __version__
    properties = run["properties"]
    assert properties["tosguard_version"] == __version__
    assert properties["policy_set_revision"] == library.revision
    [entry] = properties["reports"]
    assert entry["summary"] == totals(report.summary)
    assert entry["verdict"] == report.verdict
    assert entry["policy_set_revision"] == library.revision
    results = Counter(r["properties"]["category"] for r in run["results"])
    # SARIF lists problems: every violated, undetermined and warning result, nothing else
    assert {c: results.get(c, 0) for c in ALWAYS_LISTED} == {
        c: report.summary[c] for c in ALWAYS_LISTED
    }
    assert set(results) <= set(ALWAYS_LISTED)
    for result in run["results"]:
        assert result["properties"]["category"] == category_of(
            result["properties"]["status"], result["properties"]["severity"]
        )


# ---- JUnit ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,include_all", CASES, ids=IDS)
def test_junit_counts_equal_the_cases(checked, library, name, include_all) -> None:
    report = checked[name, include_all][1]
    [suite] = xml.dom.minidom.parseString(render_junit([report])).getElementsByTagName("testsuite")
    properties = {
        p.getAttribute("name"): p.getAttribute("value")
        for p in suite.getElementsByTagName("property")
    }
    assert properties["verdict"] == report.verdict
    assert properties["tosguard_version"] == __version__
    assert properties["policy_set_revision"] == library.revision
    assert {c: int(properties[f"summary.{c}"]) for c in CATEGORIES} == totals(report.summary)
    cases = suite.getElementsByTagName("testcase")
    listed = report.summary["listed"]
    assert int(suite.getAttribute("tests")) == len(cases) == len(report.findings)
    # an undetermined finding fails too (its type says why), never as an <error>: CI tools
    # read an error as a test that crashed
    failures = suite.getElementsByTagName("failure")
    undetermined = [f for f in failures if f.getAttribute("type") == "undetermined"]
    assert (
        int(suite.getAttribute("failures"))
        == len(failures)
        == listed["violated"] + listed["undetermined"]
        == report.summary["violated"] + report.summary["undetermined"]
    )
    assert len(undetermined) == listed["undetermined"] == report.summary["undetermined"]
    assert int(suite.getAttribute("errors")) == 0 and not suite.getElementsByTagName("error")
    assert len(suite.getElementsByTagName("system-out")) == listed["warnings"]


# ---- warnings never read as violated ----------------------------------------------------------
def advisory_finding(status: str, severity: str = "warning") -> Finding:
    return Finding(
        policy="p",
        provider="openai",
        clause="c",
        topic="geography",
        kind="prohibition",
        status=status,
        severity=severity,
        subject="/sources/0",
        location={"file": "m.yaml", "line": 3, "column": 5},
        message="advisory",
        missing=(),
        remedy="",
        citation={
            "document": "D",
            "section": "1",
            "effective": "2024-01-01",
            "url": "https://example.org",
            "quote": "q",
        },
        policy_location={"file": "p.tos", "line": 1},
    )


@pytest.mark.parametrize("status", ["violated", "undetermined"])
@pytest.mark.parametrize("severity", ["warning", "info"])
def test_an_advisory_result_alone_is_a_warning_under_a_compliant_verdict(status, severity) -> None:
    finding = advisory_finding(status, severity)
    counts = {"violated": 0, "undetermined": 0, "satisfied": 3, "not_applicable": 4}
    counts[status] += 1
    summary = summarize((finding,), counts)
    assert summary == {
        "violated": 0,
        "undetermined": 0,
        "warnings": 1,
        "satisfied": 3,
        "not_applicable": 4,
        "listed": {
            "violated": 0,
            "undetermined": 0,
            "warnings": 1,
            "satisfied": 0,
            "not_applicable": 0,
        },
    }
    report = Report("m.yaml", date(2026, 11, 22), "compliant", summary, (finding,), "9.9", "rev")
    text = render_text(report)
    assert text.startswith("COMPLIANT")
    assert "0 violated, 0 undetermined, 1 warning," in text
    assert "Violated (" not in text and "Undetermined (" not in text
    assert "Warnings (1)" in text
    markdown = render_markdown(report)
    assert "<b>Violated" not in markdown and "<b>Undetermined" not in markdown
    assert "<b>Warnings (1)" in markdown
    assert "0 violated, 0 undetermined, 1 warning," in markdown
    junit = render_junit([report])
    assert 'failures="0" errors="0"' in junit and "<failure" not in junit
    assert json.loads(report.to_json())["findings"][0]["status"] == status  # kept as it is
    assert report.fails("undetermined") is False and report.fails("violated") is False
    assert report.fails("warning") is True


WARNING_ONLY = """\
tosguard: 1
organization: {name: CodeCraft Inc, country: US, owned_from: US, agreements: []}
model: {name: codecraft-7b, purpose: code, distribution: api, commercial: true}
sources:
  - {id: evol-code-dataset, kind: dataset, provider: openai, service: third-party,
     records: 78000, use: [fine-tuning], license: Apache-2.0, derived_from: []}
  - {id: mistral-base, kind: model-weights, provider: mistral, model: Mistral-7B-v0.1,
     service: open-weights, use: [fine-tuning], license: Apache-2.0}
"""


def test_wizardcoder_warning_is_not_violated_in_any_format(tmp_path) -> None:
    """The case of the issue: a compliant verdict over one warning-severity violation (the
    WizardCoder example itself is now non-compliant: its dataset is under CC BY-NC 4.0; this
    is it with a permissively licensed dataset and base)."""
    manifest = tmp_path / "wizardcoder-apache.yaml"
    manifest.write_text(WARNING_ONLY, encoding="utf-8")
    base = [sys.executable, "-m", "tosguard", "check", str(manifest), "--as-of", AS_OF]
    outputs = {}
    for fmt in ("text", "json", "markdown", "sarif", "junit"):
        result = subprocess.run(
            [*base, "--format", fmt], cwd=ROOT, capture_output=True, env=ENV, timeout=120
        )
        assert result.returncode == 0, result.stderr.decode()
        outputs[fmt] = result.stdout.decode()
    assert outputs["text"].startswith("COMPLIANT")
    assert "0 violated, 0 undetermined, 1 warning," in outputs["text"]
    assert "Violated (" not in outputs["text"]
    assert "Warnings (1)" in outputs["text"]
    report = json.loads(outputs["json"])
    assert report["verdict"] == "compliant"
    assert report["summary"]["violated"] == 0 and report["summary"]["warnings"] == 1
    assert [f["status"] for f in report["findings"]] == ["violated"]
    assert "<b>Violated" not in outputs["markdown"] and "<b>Warnings (1)" in outputs["markdown"]
    assert 'failures="0"' in outputs["junit"] and "<failure" not in outputs["junit"]
    [result] = json.loads(outputs["sarif"])["runs"][0]["results"]
    assert result["level"] == "warning" and result["properties"]["category"] == "warnings"
    strict = subprocess.run(
        [*base, "--fail-on", "warning"], cwd=ROOT, capture_output=True, env=ENV, timeout=120
    )
    assert strict.returncode == 1


# ---- provenance and determinism ---------------------------------------------------------------
def test_every_format_records_version_and_revision_deterministically(checked, library) -> None:
    loaded, report = checked["acme.yaml", False]
    renders = {
        "text": lambda: render_text(report, loaded.source_line, loaded.manifest.sources),
        "json": report.to_json,
        "markdown": lambda: render_markdown(report),
        "sarif": lambda: render_sarif([report]),
        "junit": lambda: render_junit([report]),
    }
    for fmt, render in renders.items():
        text = render()
        assert text == render(), fmt
        assert __version__ in text and library.revision in text, fmt
    again = check(library, loaded, as_of=AS_OF, name="examples/acme.yaml")
    assert again.to_json() == report.to_json()


def test_docstring_examples_run() -> None:
    import doctest

    import tosguard.report.model

    result = doctest.testmod(tosguard.report.model)
    assert result.attempted and result.failed == 0
