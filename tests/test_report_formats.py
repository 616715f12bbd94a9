"""The reports for tools, end to end through the CLI: SARIF against the official 2.1.0 schema
(fingerprints, snippets, the cap and folding, kind and level), JUnit against the common
``junit-10.xsd`` (file and line, undetermined as a failure), GitHub workflow commands and
their escaping, and ``--color``. The schemas are vendored in ``tests/schemas``."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_cli import AS_OF, ROOT, err, out, tosguard
from tosguard.report.model import category_of

SCHEMAS = Path(__file__).parent / "schemas"
FIXTURE = ["--policies", "tests/golden/fixture/policy.tos", "--as-of", AS_OF]


@pytest.fixture(scope="module")
def sarif_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def junit_schema():
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


def many_sources(tmp_path: Path, count: int, *, first_id: str = "s") -> Path:
    """A manifest whose every source violates the fixture's `compete` clause and leaves the
    `where` clause undetermined."""
    lines = ["tosguard: 1", "model: {name: acme-chat, purpose: chat, distribution: api}"]
    lines.append("sources:")
    for number in range(count):
        lines += [
            f"  - id: {first_id}{number}",
            "    kind: model-output",
            "    provider: openai",
            "    service: api",
            "    use: [distillation]",
        ]
    path = tmp_path / "many.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sarif_of(*args: str, cwd: Path = ROOT) -> dict:
    result = tosguard("check", *args, "--format", "sarif", cwd=cwd)
    assert result.returncode in (0, 1), err(result)
    return json.loads(out(result))


# ---- SARIF ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["tests/golden/fixture/manifest.yaml", *FIXTURE],
        ["examples/missing-facts.yaml", "--as-of", AS_OF],
        ["examples/acme.yaml", "examples/llama-naming.yaml", "--as-of", AS_OF],
    ],
)
def test_sarif_is_valid_against_the_official_schema(sarif_validator, args) -> None:
    document = sarif_of(*args)
    errors = sorted(sarif_validator.iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_sarif_kind_and_level_are_paired_as_the_spec_requires() -> None:
    results = sarif_of("examples/missing-facts.yaml", "--as-of", AS_OF)["runs"][0]["results"]
    assert results
    for result in results:
        status = result["properties"]["status"]
        if status == "violated":
            assert result["kind"] == "fail" and result["level"] != "none"
        else:  # SARIF §3.27.10: a kind other than `fail` takes level `none`
            assert (result["kind"], result["level"]) == ("review", "none"), result
    assert {r["properties"]["status"] for r in results} == {"undetermined"}


def test_sarif_snippets_are_the_manifest_lines() -> None:
    manifest = (ROOT / "tests/golden/fixture/manifest.yaml").read_text(encoding="utf-8")
    lines = manifest.splitlines()
    results = sarif_of("tests/golden/fixture/manifest.yaml", *FIXTURE)["runs"][0]["results"]
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["snippet"]["text"] == lines[region["startLine"] - 1]


def test_sarif_fingerprints_ignore_line_numbers_and_source_order(tmp_path) -> None:
    path = many_sources(tmp_path, 3)
    before = sarif_of(str(path), *FIXTURE)["runs"][0]["results"]
    text = path.read_text(encoding="utf-8").splitlines()
    head, sources = text[:3], text[3:]
    blocks = [sources[i : i + 5] for i in range(0, len(sources), 5)]
    # comments above everything shift every line; the sources are listed in reverse
    moved = ["# a comment", "# another", *head, *[line for b in blocks[::-1] for line in b]]
    path.write_text("\n".join(moved) + "\n", encoding="utf-8")
    after = sarif_of(str(path), *FIXTURE)["runs"][0]["results"]

    def prints(results) -> dict[str, int]:
        """Each result's fingerprint, with the line it points at."""
        return {
            r["partialFingerprints"]["tosguardFinding/v1"]: r["locations"][0]["physicalLocation"][
                "region"
            ]["startLine"]
            for r in results
        }

    first, second = prints(before), prints(after)
    assert set(first) == set(second) and len(first) == len(before)
    assert all(first[key] != second[key] for key in first)  # the lines did move
    assert all(re.fullmatch("[0-9a-f]{64}", key) for key in first)


def test_sarif_folds_the_most_frequent_clauses_past_the_cap(tmp_path, sarif_validator) -> None:
    path = many_sources(tmp_path, 30)
    full = sarif_of(str(path), *FIXTURE)["runs"][0]
    assert len(full["results"]) == 61  # compete and where (undetermined) per source, and name
    assert "invocations" not in full  # nothing folded, nothing to say

    document = sarif_of(str(path), *FIXTURE, "--sarif-max-results", "40")
    assert not list(sarif_validator.iter_errors(document))
    run = document["runs"][0]
    results = run["results"]
    folded = [r for r in results if "relatedLocations" in r]
    assert len(results) <= 40 and len(folded) == 1
    (one,) = folded
    assert one["properties"]["folded"] == 30
    assert len(one["relatedLocations"]) == 29
    assert [loc["message"]["text"] for loc in one["relatedLocations"]][:2] == [
        "source `s1`",
        "source `s2`",
    ]
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "note" and "holds for 30 subjects" in note["message"]["text"]
    totals = run["properties"]["reports"][0]["summary"]
    assert totals["violated"] == 31  # the run still says how many there are


def test_sarif_cap_leaves_out_the_rest_with_a_note(tmp_path, sarif_validator) -> None:
    path = many_sources(tmp_path, 5)
    document = sarif_of(str(path), *FIXTURE, "--sarif-max-results", "1")
    assert not list(sarif_validator.iter_errors(document))
    run = document["runs"][0]
    assert len(run["results"]) == 1
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert any("left out" in text for text in notes), notes


def test_sarif_max_results_is_validated() -> None:
    result = tosguard(
        "check", "examples/acme.yaml", "--format", "sarif", "--sarif-max-results", "0"
    )
    assert result.returncode == 2 and "--sarif-max-results" in err(result)


# ---- JUnit ------------------------------------------------------------------------------------
def junit_of(*args: str) -> str:
    result = tosguard("check", *args, "--format", "junit")
    assert result.returncode in (0, 1), err(result)
    return out(result)


def assert_valid_junit(schema, text: str) -> ET.Element:
    """Valid against junit-10.xsd once the `file` and `line` of each testcase, which the
    schema does not list, are checked and set aside (see tests/schemas/README.md)."""
    root = ET.fromstring(text)
    for case in root.iter("testcase"):
        assert case.get("file") and int(case.get("line", "0")) >= 1, case.attrib
        del case.attrib["file"], case.attrib["line"]
    schema.validate(ET.tostring(root, encoding="unicode"))
    return ET.fromstring(text)


@pytest.mark.parametrize(
    "args",
    [
        ["tests/golden/fixture/manifest.yaml", *FIXTURE],
        ["examples/missing-facts.yaml", "--as-of", AS_OF],
        ["examples/acme.yaml", "examples/internal-classifier.yaml", "--as-of", AS_OF],
    ],
)
def test_junit_is_valid_against_junit_10_xsd(junit_schema, args) -> None:
    assert_valid_junit(junit_schema, junit_of(*args))


def test_junit_undetermined_is_a_failure_not_an_error(junit_schema) -> None:
    root = assert_valid_junit(
        junit_schema, junit_of("examples/missing-facts.yaml", "--as-of", AS_OF)
    )
    assert not list(root.iter("error"))
    failures = list(root.iter("failure"))
    assert failures and {f.get("type") for f in failures} == {"undetermined"}
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("errors") == "0" and int(suite.get("failures", "0")) == len(failures)
    case = next(root.iter("testcase"))
    assert (case.get("file"), case.get("line")) == ("examples/missing-facts.yaml", "5")
    assert "source `chat-logs`" in (case.get("name") or "")


@pytest.mark.parametrize("fail_on", ["violated", "undetermined", "warning"])
@pytest.mark.parametrize(
    "manifest",
    ["examples/acme.yaml", "examples/missing-facts.yaml", "examples/deepseek-r1-distill-qwen.yaml"],
)
def test_junit_fails_the_cases_that_fail_the_run(junit_schema, manifest, fail_on) -> None:
    """A JUnit consumer and the exit status agree under every --fail-on: a case fails where
    its finding fails the run, and some case fails exactly when the run exits 1."""
    args = ["check", manifest, "--as-of", AS_OF, "--fail-on", fail_on]
    result = tosguard(*args, "--format", "junit")
    report = json.loads(out(tosguard(*args, "--format", "json")))
    root = assert_valid_junit(junit_schema, out(result))
    types = sorted(f.get("type") or "" for f in root.iter("failure"))
    categories = [category_of(f["status"], f["severity"]) for f in report["findings"]]
    expected = {
        "violated": [
            f["severity"]
            for f in report["findings"]
            if category_of(f["status"], f["severity"]) == "violated"
        ],
        "undetermined": ["undetermined"] * categories.count("undetermined"),
        "warnings": ["warning"] * categories.count("warnings"),
    }
    failing = {"violated": ["violated"], "undetermined": ["violated", "undetermined"]}.get(
        fail_on, ["violated", "undetermined", "warnings"]
    )
    assert types == sorted(t for c in failing for t in expected[c])
    assert bool(types) == (result.returncode == 1)


# ---- GitHub workflow commands -----------------------------------------------------------------
def test_github_annotations_escape_what_the_runner_parses(tmp_path) -> None:
    policy = tmp_path / "p.tos"
    policy.write_text(
        (ROOT / "tests/golden/fixture/policy.tos")
        .read_text(encoding="utf-8")
        .replace('"Use another source."', '"100% sure: use, another, source."'),
        encoding="utf-8",
    )
    manifest = tmp_path / "a,b:c.yaml"
    manifest.write_text(
        (ROOT / "tests/golden/fixture/manifest.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    result = tosguard(
        "check",
        manifest.name,
        "--policies",
        str(policy),
        "--as-of",
        AS_OF,
        "--format",
        "github",
        cwd=tmp_path,
    )
    assert result.returncode == 1, err(result)
    lines = out(result).splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == 4 and lines[-1].startswith("tosguard: NON-COMPLIANT")
    compete = next(line for line in commands if "compete" in line)
    assert compete.startswith("::error file=a%2Cb%3Ac.yaml,line=7,col=5,title=")
    assert "remedy: 100%25 sure: use, another, source." in compete
    assert "\r" not in out(result)
    assert all("%0A" in line for line in commands)  # one line each: message lines joined


# ---- colour -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,env,coloured",
    [
        (["--color", "always"], {}, True),
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": ""}, True),
        ([], {"NO_COLOR": "1"}, False),
        ([], {"NO_COLOR": ""}, False),  # auto, and standard output is a pipe
    ],
)
def test_color_choice(args, env, coloured) -> None:
    result = tosguard("check", "tests/golden/fixture/manifest.yaml", *FIXTURE, *args, env=env)
    assert result.returncode == 1, err(result)
    assert ("\x1b[" in out(result)) is coloured


def test_docstring_examples_run() -> None:
    import doctest
    import importlib

    for name in (
        "tosguard.report.context",
        "tosguard.report.sarif",
        "tosguard.report.github",
        "tosguard.service.negotiate",
        "tosguard.manifest.model",
    ):
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0 and result.attempted > 0, name


def test_policy_locations_point_into_the_library_however_it_is_named() -> None:
    """A library file named by an absolute path (as a site-packages install is) is shown as
    `policies/…`, relative to the library, not as where it happens to be installed."""
    result = tosguard(
        "check",
        "examples/acme.yaml",
        "--policies",
        str(ROOT / "policies" / "meta"),
        "--policies",
        str(ROOT / "policies" / "openai" / "services-agreement-2025-05-31.tos"),
        "--policies",
        "policies/openai/common.tos",
        "--policies",
        "policies/licenses",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    )
    assert result.returncode == 1, err(result)
    files = {f["policy_location"]["file"] for f in json.loads(out(result))["findings"]}
    assert "policies/meta/llama-3.1-license.tos" in files
    assert "policies/openai/services-agreement-2025-05-31.tos" in files
    assert all(file.startswith("policies/") for file in files), files


# ---- properties -------------------------------------------------------------------------------
def unescape(text: str) -> str:
    return (
        text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


@given(st.text())
def test_github_escaping_is_one_line_and_reversible(text) -> None:
    from tosguard.report.github import escape_data, escape_property

    for escape in (escape_data, escape_property):
        escaped = escape(text)
        assert "\n" not in escaped and "\r" not in escaped
        assert unescape(escaped) == text
    assert ":" not in escape_property(text) and "," not in escape_property(text)


@given(st.one_of(st.none(), st.text(max_size=200)))
def test_accept_negotiation_answers_or_refuses_with_a_problem(accept) -> None:
    from tosguard.service.negotiate import FORMATS, choose_format
    from tosguard.service.problems import ProblemError

    try:
        chosen = choose_format(None, accept)
    except ProblemError as problem:
        assert problem.status == 406 and problem.errors
    else:
        assert chosen in FORMATS


def test_folded_sarif_golden(sarif_validator) -> None:
    """The folded form, pinned: twelve sources, at most five results."""
    from test_cli import golden_text, revision_of

    result = tosguard(
        "check",
        "tests/golden/fixture/many.yaml",
        *FIXTURE,
        "--format",
        "sarif",
        "--sarif-max-results",
        "5",
    )
    assert result.returncode == 1, err(result)
    assert not list(sarif_validator.iter_errors(json.loads(out(result))))
    golden = ROOT / "tests" / "golden" / "fixture" / "report.folded.sarif"
    text = golden_text(result, revision_of("tests/golden/fixture/policy.tos"))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_sarif_folded_notes_name_only_results_written_and_fingerprints_differ(
    tmp_path, sarif_validator
) -> None:
    """A folded result cut by the cap leaves no note behind; two manifests' folded groups of
    one rule get fingerprints of their own."""
    first = many_sources(tmp_path, 12)
    second_dir = tmp_path / "other"
    second_dir.mkdir()
    second = many_sources(second_dir, 12)
    document = sarif_of(str(first), str(second), *FIXTURE, "--sarif-max-results", "3")
    sarif_validator.validate(document)
    run = document["runs"][0]
    written = {(r["ruleId"], r["properties"]["status"]) for r in run["results"]}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    folded = [n["message"]["text"] for n in notes if n["descriptor"]["id"] == "tosguard/folded"]
    assert len(folded) == sum("folded" in r["properties"] for r in run["results"])
    assert all(any(f"`{rule}` ({status})" in text for rule, status in written) for text in folded)
    prints = [r["partialFingerprints"]["tosguardFinding/v1"] for r in run["results"]]
    assert len(prints) == len(set(prints))


def test_github_annotations_are_capped_with_a_notice_counting_the_rest(tmp_path) -> None:
    import re

    manifest = many_sources(tmp_path, 40)  # 40 sources, each with a few findings
    result = tosguard("check", str(manifest), *FIXTURE, "--format", "github")
    lines = out(result).splitlines()
    annotations = [line for line in lines if line.startswith(("::error", "::warning"))]
    assert len(annotations) == 50
    counts = dict(
        (word, int(n))
        for n, word in re.findall(r"(\d+) (violated|undetermined|warnings)", lines[-1])
    )
    listed = counts["violated"] + counts["undetermined"] + counts["warnings"]
    assert listed > 50
    assert f"::notice title=tosguard::{listed - 50} more findings not annotated" in out(result)
    assert lines[-1].startswith("tosguard: NON-COMPLIANT ")


def test_markdown_groups_a_clause_that_fires_on_many_sources(tmp_path) -> None:
    """As the text report does: one row per clause past 10 subjects, naming them `id:line`,
    so a pull-request comment stays short."""
    manifest = many_sources(tmp_path, 40)
    text = out(tosguard("check", str(manifest), *FIXTURE, "--format", "markdown"))
    rows = [line for line in text.splitlines() if line.startswith("| `fixture-terms/compete`")]
    assert len(rows) == 1
    assert f"40 subjects of {manifest}: s0:4, s1:9, " in rows[0]
    assert sum(line.startswith("- **fixture-terms/compete**") for line in text.splitlines()) == 1
    few = out(tosguard("check", str(many_sources(tmp_path, 3)), *FIXTURE, "--format", "markdown"))
    assert sum(line.startswith("| `fixture-terms/compete`") for line in few.splitlines()) == 3


def test_every_format_list_names_the_same_formats() -> None:
    """The CLI's choices and the configuration's are written where they are read cheaply (no
    report module at start-up); they must name what the registry renders."""
    from tosguard.cli import REPORT_FORMATS
    from tosguard.config import FORMATS
    from tosguard.report.formats import MEDIA_TYPES

    assert set(REPORT_FORMATS) == set(FORMATS) == {"text", *MEDIA_TYPES}
