"""The data-driven corpus: ``tests/corpus/<feature>/<case>.yaml``.

Each case holds a policy (or ``library: shipped``), a manifest (as data, or as raw
``manifest_text`` for error cases), and what it wants: ``want`` (verdict, findings, summary)
or ``want_error`` (stage, code, line, column, message). A case that asserts nothing fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tosguard.api import check
from tosguard.engine.library import Library, compile_contents, load_library
from tosguard.errors import ManifestError, PolicyError
from tosguard.manifest.model import parse_manifest
from tosguard.report.model import rule_of

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.rglob("*.yaml"))


def _case_id(path: Path) -> str:
    return path.relative_to(CORPUS).with_suffix("").as_posix()


def case_library(case: dict) -> Library:
    """The case's library (``policy``, or the shipped one with ``library: shipped``), with
    the user's policies of ``user_policy`` in their own namespace (``--extra-policies``)."""
    if "user_policy" in case:
        from tosguard.engine.frontend import PolicySources, compile_policy_set
        from tosguard.engine.library import read_policy_files

        library = (
            read_policy_files() if case.get("library") == "shipped" else _contents(case["policy"])
        )
        return compile_policy_set(
            PolicySources(library, _contents(case["user_policy"])), use_cache=False
        )
    if case.get("library") == "shipped":
        return load_library(use_cache=False)
    policies = case["policy"]
    if isinstance(policies, str):
        policies = {"policy.tos": policies}
    contents = [(Path(name), name, text.encode()) for name, text in policies.items()]
    return Library(compile_contents(contents), "corpus", list(policies))


def _contents(policies: str | dict) -> list:
    if isinstance(policies, str):
        policies = {"policy.tos": policies}
    return [(Path(name), name, text.encode()) for name, text in policies.items()]


def case_manifest(case: dict):
    if "manifest_text" in case:
        return parse_manifest(
            case["manifest_text"].encode(), "manifest.yaml", case.get("manifest_format")
        )
    return parse_manifest(json.dumps(case["manifest"]).encode(), "manifest.json", "json")


def _finding_key(finding: dict) -> dict:
    key = {
        "clause": rule_of(finding["policy"], finding["clause"]),
        "subject": finding["subject"],
        "status": finding["status"],
    }
    return key


@pytest.mark.parametrize("path", CASES, ids=[_case_id(p) for p in CASES])
def test_corpus_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert case.get("want") or case.get("want_error"), f"{path}: the case asserts nothing"
    if "want_error" in case:
        _check_error(case)
        return
    library = case_library(case)
    report = check(
        library,
        case_manifest(case),
        as_of=str(case.get("as_of", "2026-06-01")),
        include_all=bool(case.get("all")),
    )
    data = report.as_dict()
    want = case["want"]
    asserted = False
    if "verdict" in want:
        assert data["verdict"] == want["verdict"], _explain(data)
        asserted = True
    if "findings" in want:
        got = sorted((_finding_key(f) for f in data["findings"]), key=json.dumps)
        wanted = sorted(
            (
                {k: v for k, v in f.items() if k in ("clause", "subject", "status")}
                for f in want["findings"]
            ),
            key=json.dumps,
        )
        assert got == wanted, _explain(data)
        for wanted_finding in want["findings"]:
            _check_details(data["findings"], wanted_finding)
        asserted = True
    if "summary" in want:
        assert data["summary"] == want["summary"], _explain(data)
        asserted = True
    assert asserted, "want: has none of verdict, findings, summary"


def _check_details(findings: list[dict], wanted: dict) -> None:
    """Some finding with the wanted key has every wanted detail."""
    key = {k: wanted[k] for k in ("clause", "subject", "status")}
    matches = [f for f in findings if _finding_key(f) == key]
    assert any(_has_details(f, wanted) for f in matches), (wanted, matches)


def _has_details(finding: dict, wanted: dict) -> bool:
    return (
        finding["missing"] == wanted.get("missing", finding["missing"])
        and wanted.get("message_contains", "") in finding["message"]
        and (
            "effective" not in wanted
            or (finding["citation"] or {}).get("effective") == str(wanted["effective"])
        )
    )


def _check_error(case: dict) -> None:
    want = case["want_error"]
    stage = want["stage"]
    error_type = PolicyError if stage == "policy" else ManifestError
    with pytest.raises(error_type) as caught:
        if stage == "policy":
            case_library(case)
        else:
            case_manifest(case)
    diagnostics = caught.value.diagnostics
    codes = [d.code for d in diagnostics]
    assert want["code"] in codes, [(d.code, d.message) for d in diagnostics]
    diagnostic = diagnostics[codes.index(want["code"])]
    if "line" in want:
        assert diagnostic.span.line == want["line"], diagnostic
    if "column" in want:
        assert diagnostic.span.column == want["column"], diagnostic
    if "message_contains" in want:
        assert want["message_contains"] in diagnostic.message, diagnostic
    if "help_contains" in want:
        assert want["help_contains"] in diagnostic.help, diagnostic
    assert diagnostic.help or diagnostic.code.endswith("-io"), f"no help line: {diagnostic}"


def _explain(data: dict) -> str:
    lines = [f"verdict {data['verdict']} summary {data['summary']}"]
    for f in data["findings"]:
        lines.append(
            f"  {rule_of(f['policy'], f['clause'])} {f['subject']} {f['status']} "
            f"missing={f['missing']} :: {f['message']}"
        )
    return "\n".join(lines)
