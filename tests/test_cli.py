"""End-to-end runs of the installed CLI, through subprocess: exit codes, reports, and every bad
input the spec names, none of which may produce a Python traceback."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"
AS_OF = "2026-11-22"


def tosguard(
    *args: str, cwd: Path = ROOT, env: dict | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    executable = shutil.which("tosguard")
    command = [executable] if executable else [sys.executable, "-m", "tosguard"]
    # the CI's own colour settings must not reach the reports compared here
    inherited = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    environment = {**inherited, "NO_COLOR": "1", **(env or {})}
    result = subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, env=environment, input=stdin, timeout=120
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def out(result) -> str:
    return result.stdout.decode("utf-8")


@functools.cache
def revision_of(*policies: str) -> str:
    """The revision of the policy set ``tosguard check`` loads (with ``--policies``, those
    files): what every report records, and what golden files hold as ``<revision>`` so that
    they pin the report's form, not the bytes of the policies and the grammar."""
    from tosguard.engine.library import load_library

    with contextlib.chdir(ROOT):  # the names policy files are given by count, as in the CLI
        return load_library(list(policies) or None, use_cache=False).revision


def golden_text(result, revision: str) -> str:
    text = out(result)
    assert revision in text, "the report does not record the policy-set revision"
    return text.replace(revision, "<revision>")


def err(result) -> str:
    return result.stderr.decode("utf-8")


# ---- exit codes and reports -------------------------------------------------------------------
def test_non_compliant_exits_1_with_cited_json() -> None:
    result = tosguard("check", "examples/acme.yaml", "--format", "json", "--as-of", AS_OF)
    assert result.returncode == 1
    report = json.loads(out(result))
    assert report["verdict"] == "non_compliant"
    assert list(report) == [
        "tosguard",
        "tosguard_version",
        "policy_set_revision",
        "manifest",
        "as_of",
        "verdict",
        "summary",
        "findings",
    ]
    finding = report["findings"][0]
    assert list(finding) == [
        "policy",
        "provider",
        "clause",
        "topic",
        "status",
        "severity",
        "subject",
        "location",
        "message",
        "missing",
        "remedy",
        "citation",
        "policy_location",
    ]
    assert list(finding["citation"]) == ["document", "section", "effective", "url", "quote"]
    assert finding["location"]["file"] == "examples/acme.yaml"


def test_compliant_exits_0() -> None:
    result = tosguard("check", "examples/internal-classifier.yaml", "--as-of", AS_OF)
    assert result.returncode == 0, out(result) + err(result)
    assert out(result).startswith("COMPLIANT")


def test_undetermined_exits_1_unless_fail_on_violated() -> None:
    assert tosguard("check", "examples/missing-facts.yaml", "--as-of", AS_OF).returncode == 1
    relaxed = tosguard(
        "check", "examples/missing-facts.yaml", "--as-of", AS_OF, "--fail-on", "violated"
    )
    assert relaxed.returncode == 0


def test_json_report_is_deterministic() -> None:
    first = tosguard("check", "examples/acme.yaml", "--format", "json", "--as-of", AS_OF)
    second = tosguard("check", "examples/acme.yaml", "--format", "json", "--as-of", AS_OF)
    assert first.stdout == second.stdout


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    result = tosguard(
        "check", "examples/acme.yaml", "--format", "json", "--as-of", AS_OF, "--output", str(target)
    )
    assert result.returncode == 1 and out(result) == ""
    assert json.loads(target.read_text())["verdict"] == "non_compliant"


def test_all_lists_satisfied_and_not_applicable() -> None:
    result = tosguard("check", "examples/acme.yaml", "--format", "json", "--as-of", AS_OF, "--all")
    report = json.loads(out(result))
    statuses = {f["status"] for f in report["findings"]}
    assert {"violated", "satisfied", "not_applicable"} <= statuses
    summary = report["summary"]
    listed = summary.pop("listed")
    assert listed == summary  # with --all, every result counted is listed
    assert sum(summary.values()) == len(report["findings"])


def test_several_manifests_worst_exit_code() -> None:
    result = tosguard(
        "check",
        "examples/internal-classifier.yaml",
        "examples/acme.yaml",
        "--format",
        "json",
        "--as-of",
        AS_OF,
    )
    assert result.returncode == 1
    assert [r["verdict"] for r in json.loads(out(result))] == ["compliant", "non_compliant"]


@pytest.mark.parametrize(
    "name,fmt",
    [("acme", "text"), ("acme", "json"), ("missing-facts", "text"), ("llama-naming", "text")],
)
def test_golden_reports(name: str, fmt: str) -> None:
    source = next(EXAMPLES.glob(f"{name}.*"))
    result = tosguard("check", f"examples/{source.name}", "--format", fmt, "--as-of", AS_OF)
    golden = GOLDEN / f"{name}.{'json' if fmt == 'json' else 'txt'}"
    text = golden_text(result, revision_of())
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_policies_and_schema_commands() -> None:
    listing = tosguard("policies", "--format", "json")
    assert listing.returncode == 0
    ids = {p["id"] for p in json.loads(out(listing))["policies"]}
    assert {"openai-services-agreement", "meta-llama-3.1-license"} <= ids
    text = out(tosguard("policies"))
    assert "openai-services-agreement" in text and "2025-05-31, 2026-01-01" in text
    schema = json.loads(out(tosguard("schema")))
    assert "sources" in schema["properties"]


def test_user_policies_replace_and_extend(tmp_path: Path) -> None:
    policy = tmp_path / "mine.tos"
    policy.write_text(
        'policy mine {\n  provider openai\n  document "Mine"\n  service api\n'
        '  effective 2020-01-01\n  url "https://example.org"\n'
        "  clause any-openai {\n    topic distillation\n    kind prohibition\n"
        '    when source.records > 0\n    cite { section "1" quote "q" }\n  }\n}\n'
    )
    replaced = tosguard(
        "check",
        "examples/internal-classifier.yaml",
        "--policies",
        str(policy),
        "--format",
        "json",
        "--as-of",
        AS_OF,
    )
    policies = {f["policy"] for f in json.loads(out(replaced))["findings"]}
    assert policies == {"mine"}
    extended = tosguard(
        "check",
        "examples/acme.yaml",
        "--extra-policies",
        str(policy),
        "--format",
        "json",
        "--as-of",
        AS_OF,
    )
    policies = {f["policy"] for f in json.loads(out(extended))["findings"]}
    assert {"mine", "openai-services-agreement"} <= policies


# ---- bad input: exit 2, a located message, a help line, no traceback --------------------------
def bad_manifest(tmp_path: Path, name: str, data: bytes) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_bytes(data)
    result = tosguard("check", str(path))
    assert result.returncode == 2, out(result) + err(result)
    return result


def test_missing_file(tmp_path: Path) -> None:
    result = tosguard("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read" in err(result)


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    result = bad_manifest(tmp_path, "m.yaml", b"tosguard: 1\nsources: [\n  {id: a\n")
    assert "m.yaml:" in err(result) and "help" in err(result)


def test_unknown_key_suggests(tmp_path: Path) -> None:
    result = bad_manifest(tmp_path, "m.yaml", b"tosguard: 1\nsourcs: []\n")
    assert "m.yaml:2:1" in err(result) and "did you mean `sources`?" in err(result)


def test_duplicate_keys(tmp_path: Path) -> None:
    result = bad_manifest(tmp_path, "m.yaml", b"tosguard: 1\nsources: []\nsources: []\n")
    assert "m.yaml:3:1" in err(result) and "duplicate" in err(result)


def test_alias_bomb_refused(tmp_path: Path) -> None:
    lines = ["tosguard: 1", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 12)
    ]
    lines.append("sources: []")
    result = bad_manifest(tmp_path, "bomb.yaml", "\n".join(lines).encode())
    assert "alias" in err(result)


def test_deep_nesting(tmp_path: Path) -> None:
    result = bad_manifest(
        tmp_path,
        "deep.yaml",
        b"tosguard: 1\nsources: []\nfacts: {x: " + b"[" * 5000 + b"]" * 5000 + b"}\n",
    )
    assert "deep" in err(result)


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    result = bad_manifest(tmp_path, "m.yaml", b"tosguard: 1\nsources:\n  - id: \xff\xfe\n")
    assert "m.yaml:3:9" in err(result) and "UTF-8" in err(result)


def test_huge_input(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(b"tosguard: 1\nsources: []\nfacts:\n  pad: '")
        handle.write(b"x" * (65 * 1024 * 1024))
        handle.write(b"'\n")
    result = tosguard("check", str(path))
    assert result.returncode == 2 and "large" in err(result)


def test_country_no_is_norway_and_uk_suggests_gb(tmp_path: Path) -> None:
    result = bad_manifest(
        tmp_path,
        "m.yaml",
        b"tosguard: 1\norganization:\n  country: UK\n  owned_from: NO\nsources: []\n",
    )
    assert "`GB`" in err(result) and "owned_from" not in err(result)


def test_bad_policy_file_is_located(tmp_path: Path) -> None:
    policy = tmp_path / "bad.tos"
    policy.write_text("policy p {\n  provider openai\n  efective 2024-01-01\n}\n")
    result = tosguard("check", "examples/acme.yaml", "--policies", str(policy))
    assert result.returncode == 2
    assert "bad.tos:3:3" in err(result) and "did you mean `effective`?" in err(result)
    assert "  3 |   efective 2024-01-01" in err(result).replace(
        "3 |", "  3 |", 1
    ) or "efective 2024-01-01" in err(result)


def test_error_format_json(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"tosguard: 1\nsourcs: []\n")
    result = tosguard("check", str(path), "--error-format", "json")
    assert result.returncode == 2
    errors = json.loads(err(result))["errors"]
    found = {(e["code"], e["line"], e["column"]) for e in errors}
    assert ("manifest-unknown-key", 2, 1) in found  # `sourcs`
    assert ("manifest-missing-key", 1, 1) in found  # so `sources` is missing


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "examples/acme.yaml", "--as-of", "soon"],
        ["check", "examples/acme.yaml", "--format", "pdf"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args) -> None:
    result = tosguard(*args)
    assert result.returncode == 2, out(result) + err(result)
    assert err(result).strip()


FIXTURE = GOLDEN / "fixture"


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif", "junit", "github"])
def test_report_formats_golden(fmt: str) -> None:
    result = tosguard(
        "check",
        "tests/golden/fixture/manifest.yaml",
        "--policies",
        "tests/golden/fixture/policy.tos",
        "--format",
        fmt,
        "--as-of",
        AS_OF,
    )
    assert result.returncode == 1, err(result)
    suffix = {"text": "txt", "markdown": "md", "junit": "xml", "github": "github.txt"}
    golden = FIXTURE / f"report.{suffix.get(fmt, fmt)}"
    text = golden_text(result, revision_of("tests/golden/fixture/policy.tos"))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_sarif_and_junit_are_well_formed() -> None:
    import xml.dom.minidom

    args = [
        "check",
        "tests/golden/fixture/manifest.yaml",
        "--policies",
        "tests/golden/fixture/policy.tos",
        "--as-of",
        AS_OF,
    ]
    sarif = json.loads(out(tosguard(*args, "--format", "sarif")))
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"fixture-terms/compete", "fixture-terms/name"}
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)
    junit = xml.dom.minidom.parseString(tosguard(*args, "--format", "junit").stdout)
    suite = junit.getElementsByTagName("testsuite")[0]
    assert int(suite.getAttribute("failures")) >= 2


# ---- ids no policy knows ----------------------------------------------------------------------
TYPO = """tosguard: 1
organization: {name: Acme, country: US}
model: {name: acme-chat, purpose: chat, distribution: api, commercial: true}
sources:
  - {id: gpt, kind: model-output, provider: opnai, service: api, use: [distillation]}
"""


def test_a_provider_typo_is_undetermined_with_a_did_you_mean(tmp_path) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(TYPO, encoding="utf-8")
    result = tosguard("check", str(manifest), "--format", "json", "--as-of", AS_OF)
    assert result.returncode == 1, result.stderr
    report = json.loads(out(result))
    assert report["verdict"] == "undetermined"
    (finding,) = report["findings"]
    assert (finding["clause"], finding["status"], finding["severity"]) == (
        "unknown-provider",
        "undetermined",
        "error",
    )
    assert finding["policy"] is None and finding["citation"] is None
    assert "did you mean `openai`?" in finding["message"]
    assert finding["location"]["line"] == 5  # the value's line


def test_accepted_unknown_ids_are_warnings(tmp_path) -> None:
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(TYPO, encoding="utf-8")
    for extra, env in (
        (("--accept-unknown-ids",), None),
        ((), {"TOSGUARD_ACCEPT_UNKNOWN_IDS": "1"}),
    ):
        result = tosguard(
            "check", str(manifest), "--format", "json", "--as-of", AS_OF, *extra, env=env
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(out(result))
        assert report["verdict"] == "compliant"
        assert [f["severity"] for f in report["findings"]] == ["warning"]
        assert report["summary"]["warnings"] == 1


def test_policies_lists_the_ids_a_manifest_may_use() -> None:
    result = tosguard("policies", "--ids", "--format", "json")
    assert result.returncode == 0, result.stderr
    ids = json.loads(out(result))
    assert "openai" in ids["providers"]
    llama = next(entry for entry in ids["licenses"] if entry["id"] == "llama3.1")
    assert "llama-3.1" in llama["matches"]
    assert "anthropic-authorization" in ids["agreements"]
