"""Accepted risks (`check --baseline`, `--write-baseline`): what an entry accepts in every
format, that accepted findings fail nothing, and that an expired or stale entry fails the run
with a located diagnostic; the write → check round trip."""

from __future__ import annotations

import json
import os
import shutil
import xml.dom.minidom
from datetime import date
from pathlib import Path

import pytest
import yaml

from test_cli import AS_OF, EXAMPLES, GOLDEN, ROOT, err, golden_text, out, revision_of, tosguard
from tosguard.api import check, load_library
from tosguard.manifest.model import load_manifest
from tosguard.report.baseline import Applied, BaselineError, Checked, load_baseline

BASELINE = GOLDEN / "baseline"
FIXTURE = GOLDEN / "fixture"
POLICY = "tests/golden/fixture/policy.tos"
MANIFEST = "tests/golden/fixture/manifest.yaml"
SUFFIX = {"text": "txt", "markdown": "md", "junit": "xml"}


def fixture_check(*args: str, cwd: Path = ROOT):
    return tosguard("check", MANIFEST, "--policies", POLICY, "--as-of", AS_OF, *args, cwd=cwd)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif", "junit"])
def test_accepted_findings_golden(fmt: str) -> None:
    result = fixture_check("--baseline", "tests/golden/baseline/baseline.yaml", "--format", fmt)
    assert result.returncode == 1, err(result)  # fixture-terms/name is still violated
    assert err(result) == ""
    golden = BASELINE / f"report.{SUFFIX.get(fmt, fmt)}"
    text = golden_text(result, revision_of(POLICY))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_accepted_in_json_summary_and_verdict() -> None:
    plain = json.loads(out(fixture_check("--format", "json")))
    accepted = json.loads(
        out(fixture_check("--format", "json", "--baseline", str(BASELINE / "baseline.yaml")))
    )
    assert "accepted" not in plain["summary"]
    summary = accepted["summary"]
    assert list(summary) == [
        "violated",
        "undetermined",
        "warnings",
        "accepted",
        "satisfied",
        "not_applicable",
        "listed",
    ]
    assert summary["accepted"] == 3 and summary["warnings"] == 0
    assert summary["violated"] == plain["summary"]["violated"] - 1
    marked = [f for f in accepted["findings"] if f["status"] == "accepted"]
    assert len(marked) == 3
    assert {f["acceptance"]["status"] for f in marked} == {"violated", "undetermined"}
    assert marked[0]["acceptance"] == {
        "status": "violated",
        "reason": "the labels are re-annotated by people before training (RISK-12)",
        "accepted_by": "legal@acme.example",
        "expires": "2027-06-30",
        "baseline": {"file": str(BASELINE / "baseline.yaml"), "line": 4},
    }
    # the same findings, the others unchanged
    strip = [{k: v for k, v in f.items() if k not in ("status", "acceptance")} for f in marked]
    originals = [{k: v for k, v in f.items() if k != "status"} for f in plain["findings"]]
    assert all(f in originals for f in strip)


def test_the_json_of_an_accepted_report_is_json_dumps() -> None:
    library = load_library([str(ROOT / POLICY)], use_cache=False)
    loaded = load_manifest(ROOT / MANIFEST)
    report = check(library, loaded, as_of=AS_OF, name=MANIFEST)
    applied = Applied(
        load_baseline(str(BASELINE / "baseline.yaml")), [MANIFEST], date(2026, 11, 22)
    )
    accepted = applied.accept(Checked(report, [s.id for s in loaded.manifest.sources]))
    assert applied.problems() == []
    assert accepted.to_json() == json.dumps(accepted.as_dict(), indent=2, ensure_ascii=False) + "\n"
    assert accepted.verdict == "non_compliant" and accepted.fails("violated")


def test_sarif_suppressions_and_junit_skipped() -> None:
    baseline = str(BASELINE / "baseline.yaml")
    sarif = json.loads(out(fixture_check("--format", "sarif", "--baseline", baseline)))
    results = sarif["runs"][0]["results"]
    suppressed = [r for r in results if r["suppressions"]]  # the others: `[]`, not suppressed
    assert len(suppressed) == 3 and len(results) == 4
    (first,) = [r for r in suppressed if r["ruleId"] == "fixture-terms/compete"]
    assert first["kind"] == "fail" and first["level"] == "error"  # as it was
    assert first["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "the labels are re-annotated by people before training (RISK-12)",
            "location": {
                "physicalLocation": {
                    # an absolute path is a file: URI (RFC 3986), as SARIF's uri must be
                    "artifactLocation": {"uri": (BASELINE / "baseline.yaml").as_uri()},
                    "region": {"startLine": 4},
                }
            },
            "properties": {"accepted_by": "legal@acme.example", "expires": "2027-06-30"},
        }
    ]
    junit = out(fixture_check("--format", "junit", "--baseline", baseline))
    (suite,) = xml.dom.minidom.parseString(junit).getElementsByTagName("testsuite")
    assert suite.getAttribute("skipped") == "3" and suite.getAttribute("failures") == "1"
    skipped = suite.getElementsByTagName("skipped")
    assert len(skipped) == 3 and "RISK-12" in skipped[0].getAttribute("message")


def write(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "risks.yaml"
    path.write_text("accepted:\n" + entries, encoding="utf-8")
    return path


ENTRY = """  - clause: {clause}
    subject: {subject}
    reason: known
    accepted_by: me
    expires: {expires}
"""


def test_everything_accepted_passes_even_fail_on_warning(tmp_path: Path) -> None:
    entries = "".join(
        ENTRY.format(clause=f"fixture-terms/{c}", subject=s, expires="2027-01-01")
        for c, s in (("compete", "labels"), ("name", "/model"), ("where", "labels"))
    ) + ENTRY.format(clause="fixture-terms/where", subject="/sources/1", expires="2027-01-01")
    path = write(tmp_path, entries)
    result = fixture_check("--baseline", str(path), "--fail-on", "warning", "--format", "json")
    assert result.returncode == 0, err(result)
    report = json.loads(out(result))
    assert report["verdict"] == "compliant" and report["summary"]["accepted"] == 4


def test_an_expired_entry_fails_and_accepts_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ENTRY.format(clause="fixture-terms/name", subject="/model", expires="2026-11-22"),
    )
    result = fixture_check("--baseline", str(path), "--format", "json")
    assert result.returncode == 1
    assert json.loads(out(result))["summary"]["accepted"] == 0
    assert "error[baseline-expired]" in err(result)
    assert f"--> {path}:2:5" in err(result) and "expired on 2026-11-22" in err(result)
    # the day before, it holds; the name clause was the last error: compliant, exit 0
    name_only = ENTRY.format(clause="fixture-terms/name", subject="/model", expires="2026-11-23")
    rest = "".join(
        ENTRY.format(clause=f"fixture-terms/{c}", subject="labels", expires="2026-11-23")
        for c in ("compete", "where")
    )
    write(tmp_path, name_only + rest)
    assert fixture_check("--baseline", str(path)).returncode == 0


def test_a_stale_entry_fails_with_a_did_you_mean(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ENTRY.format(clause="fixture-terms/compete", subject="labels", expires="2027-01-01")
        + ENTRY.format(clause="fixture-terms/compet", subject="labels", expires="2027-01-01")
        + ENTRY.format(clause="fixture-terms/name", subject="labels", expires="2027-01-01"),
    )
    result = fixture_check("--baseline", str(path), "--format", "json")
    assert result.returncode == 1
    json.loads(out(result))  # the report is still written whole
    messages = err(result)
    assert messages.count("error[baseline-stale]") == 2
    assert f"--> {path}:7:5" in messages and "did you mean `fixture-terms/compete`?" in messages
    assert f"--> {path}:12:5" in messages


def test_an_entry_for_a_manifest_not_checked_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text(
        "accepted:\n  - clause: fixture-terms/compete\n    manifest: elsewhere.yaml\n"
        "    reason: r\n    accepted_by: me\n    expires: 2020-01-01\n"
    )
    result = fixture_check("--baseline", str(path))
    assert result.returncode == 1 and err(result) == ""  # neither expired nor stale here


@pytest.mark.parametrize(
    "text,where,message",
    [
        ("accepted:\n  - clause: a/b\n    reasn: x\n", ":3:5", "unknown key `reasn`"),
        ("accepted:\n  - clause: a/b\n    reason: x\n", ":2:5", "the entry has no `accepted_by`"),
        (
            "accepted:\n  - {clause: a/b, reason: x, accepted_by: y, expires: soon}\n",
            ":2:55",
            "`soon` is not a date",
        ),
        (
            "accepted:\n  - {clause: ab, reason: x, accepted_by: y, expires: 2027-01-01}\n",
            ":2:14",
            "is not `POLICY/CLAUSE`",
        ),
        ("acepted: []\n", ":1:1", "unknown key `acepted`"),
        ("accepted:\n  - clause: [a]\n", ":2:13", "`clause` must be a non-empty string"),
    ],
)
def test_a_malformed_baseline_is_a_located_error(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "risks.yaml"
    path.write_text(text)
    result = fixture_check("--baseline", str(path))
    assert result.returncode == 2
    assert "error[baseline-invalid]" in err(result) and message in err(result), err(result)
    assert f"--> {path}{where}" in err(result)
    with pytest.raises(BaselineError):
        load_baseline(str(path))


def test_write_baseline_round_trip(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "acme.yaml", tmp_path / "acme.yaml")
    shutil.copy(EXAMPLES / "missing-facts.yaml", tmp_path / "missing.yaml")
    run = ("check", ".", "--as-of", AS_OF)
    written = tosguard(*run, "--write-baseline", "risks.yaml", cwd=tmp_path)
    assert written.returncode == 0, err(written)
    assert out(written) == ""  # no report: the baseline is the output
    assert "wrote 13 accepted risks to risks.yaml" in err(written)
    baseline = load_baseline(str(tmp_path / "risks.yaml"))
    assert {e.manifest for e in baseline.entries} == {"acme.yaml", "missing.yaml"}
    assert {e.subject for e in baseline.entries} >= {"math-traces", "/model"}
    assert all(e.expires == date(2027, 2, 20) for e in baseline.entries)  # as of + 90 days
    # with it, the same run passes, even with warnings failing
    checked = tosguard(*run, "--baseline", "risks.yaml", "--fail-on", "warning", cwd=tmp_path)
    assert checked.returncode == 0, err(checked)
    assert out(checked).count("COMPLIANT  ./") == 2 and "Accepted (" in out(checked)
    # never replaced unless told; with --force, what people wrote is kept
    again = tosguard(*run, "--write-baseline", "risks.yaml", cwd=tmp_path)
    assert again.returncode == 2 and "error[baseline-exists]" in err(again)
    edited = (
        (tmp_path / "risks.yaml")
        .read_text()
        .replace("reason: 'recorded by --write-baseline: OpenAI", "reason: 'TICKET-9: OpenAI", 1)
    )
    assert "TICKET-9" in edited
    (tmp_path / "risks.yaml").write_text(edited)
    forced = tosguard(*run, "--write-baseline", "risks.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0, err(forced)
    kept = yaml.safe_load((tmp_path / "risks.yaml").read_text())
    assert kept == yaml.safe_load(edited)  # same entries, TICKET-9 kept
    # a fixed risk makes its entry stale
    (tmp_path / "missing.yaml").unlink()
    stale = tosguard(
        "check", "acme.yaml", "--as-of", AS_OF, "--baseline", "risks.yaml", cwd=tmp_path
    )
    assert stale.returncode == 0, err(stale)  # entries for missing.yaml are not in play


def test_baseline_from_the_config(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "acme.yaml", tmp_path / "acme.yaml")
    (tmp_path / "ci").mkdir()
    (tmp_path / "tosguard.toml").write_text('baseline = "ci/risks.yaml"\n')
    written = tosguard(
        "check", "acme.yaml", "--as-of", AS_OF, "--write-baseline", "ci/risks.yaml", cwd=tmp_path
    )
    assert written.returncode == 0, err(written)
    assert "manifest: ../acme.yaml" in (tmp_path / "ci" / "risks.yaml").read_text()
    result = tosguard("check", "acme.yaml", "--as-of", AS_OF, cwd=tmp_path)
    assert result.returncode == 0, err(result)
    assert out(result).startswith("COMPLIANT  acme.yaml")


def test_accepted_findings_are_valid_sarif_and_junit() -> None:
    """Suppressions (SARIF §3.35) and `<skipped>` cases validate against the official SARIF
    2.1.0 schema and junit-10.xsd, as every other report does."""
    from test_report_formats import SCHEMAS, assert_valid_junit

    jsonschema = pytest.importorskip("jsonschema")
    xmlschema = pytest.importorskip("xmlschema")
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    args = ("--baseline", "tests/golden/baseline/baseline.yaml", "--format")
    document = json.loads(out(fixture_check(*args, "sarif")))
    jsonschema.Draft4Validator(schema).validate(document)
    suppressed = [r for r in document["runs"][0]["results"] if r["suppressions"]]
    assert [r["suppressions"][0]["kind"] for r in suppressed] == ["external"] * 3
    root = assert_valid_junit(
        xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")), out(fixture_check(*args, "junit"))
    )
    assert [s.get("skipped") for s in root.iter("testsuite")] == ["3"]


def test_a_baseline_that_is_not_yaml_is_a_located_baseline_error(tmp_path: Path) -> None:
    baseline = tmp_path / "accepted.yaml"
    baseline.write_text("tosguard-baseline: 1\naccepted: [\n", encoding="utf-8")
    result = fixture_check("--baseline", str(baseline))
    assert result.returncode == 2
    assert f"error[baseline-syntax]: did not find expected node content\n  --> {baseline}:3:1" in (
        err(result)
    )
    assert "help: a value is missing: close the bracket" in err(result)
