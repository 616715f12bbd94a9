"""One front end (issue 10, item 5): `lint`, `check --extra-policies` and
`POST /v1/policies/validate` give the same verdict on the same files; user policies have a
namespace of their own (`library.NAME` reaches the library's); a user policy cannot take a
library document's id; an organization's own policy may omit `provider` and use its own
topics, while the shipped library stays strict."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from service_fixtures import ROOT, serve_process, tosguard_command
from tosguard.engine.frontend import load_policy_set
from tosguard.errors import PolicyError
from tosguard.language.printer import format_text
from tosguard.tools.lint import lint_paths, lint_text

ACME = ROOT / "examples" / "acme.yaml"
AS_OF = "2026-11-22"

HEADER = """\
policy {id} {{
{provider}  document  "Acme rules"
  effective 2025-01-01
  url       "https://acme.example/rules"
{governs}
"""

# A user file that defines a set the library defines too, and uses both.
OWN_TRAINING = """\
# Our own, narrower reading of "training"; the library's stays `library.training_uses`.
set training_uses = {"pretraining", "fine-tuning"}

policy acme-vendor-rules {
  provider  openai
  document  "Acme rules for vendor outputs"
  service   api
  effective 2025-01-01
  url       "https://acme.example/rules"

  clause no-training-on-outputs {
    topic competing-models
    kind prohibition
    when source.use contains any training_uses
         and source.use contains any library.training_uses
    remedy "Ask legal first."
    cite { section "1" quote "No training on vendor outputs." }
  }
}
"""

# A user policy that takes the id of a library document.
CLASH = """\
policy openai-services-agreement {
  provider  openai
  document  "Our copy"
  service   api
  effective 2030-01-01
  url       "https://acme.example/copy"

  clause c {
    topic distillation
    kind prohibition
    when source.use contains "distillation"
    remedy "No."
    cite { section "1" quote "No." }
  }
}
"""

# An organization-internal policy: no provider, a topic of its own.
INTERNAL = """\
policy acme-data-retention {
  document  "Acme data handling standard"
  effective 2025-01-01
  url       "https://intranet.acme.example/data-standard"
  governs   source.kind == "dataset"

  clause declare-size {
    topic data-retention
    kind prohibition
    scope source
    when not (source.records is declared)
    remedy "Declare how many records the dataset holds."
    cite { section "4.2" quote "Every dataset states its size." }
  }
}
"""

# A real error: a misspelt manifest path.
BROKEN = INTERNAL.replace("acme-data-retention", "acme-broken").replace(
    "not (source.records is declared)", "source.recods > 10"
)

CASES = {  # file -> (valid, the error codes)
    "own-training.tos": (OWN_TRAINING, True, set()),
    "clash.tos": (CLASH, False, {"policy-duplicate-id"}),
    "internal.tos": (INTERNAL, True, set()),
    "broken.tos": (BROKEN, False, {"policy-unknown-path"}),
}


def tosguard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*tosguard_command(), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TOSGUARD_NO_CACHE": "1"},
    )


def lint_verdict(path: Path) -> tuple[bool, set[str]]:
    result = tosguard("lint", str(path), "--with-library", "--error-format", "json")
    assert result.returncode in (0, 2), result.stderr
    found = json.loads(result.stdout)["diagnostics"]
    return result.returncode == 0, {d["code"] for d in found if d["severity"] == "error"}


def check_verdict(path: Path) -> tuple[bool, set[str]]:
    result = tosguard(
        "check",
        str(ACME),
        "--extra-policies",
        str(path),
        "--format",
        "json",
        "--as-of",
        AS_OF,
        "--error-format",
        "json",
    )
    assert result.returncode in (0, 1, 2), result.stderr
    if result.returncode != 2:
        return True, set()
    found = json.loads(result.stderr)["errors"]
    return False, {d["code"] for d in found if d["severity"] == "error"}


@pytest.mark.slow
def test_lint_check_and_validate_give_the_same_verdict(tmp_path: Path) -> None:
    import httpx

    for name, (text, _, _) in CASES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with serve_process(tmp_path) as server:
        client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30)
        for name, (text, valid, codes) in CASES.items():
            path = tmp_path / name
            response = client.post(
                "/v1/policies/validate",
                content=text.encode(),
                params={"name": name},
                headers={"content-type": "text/plain"},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            served = (
                body["valid"],
                {d["code"] for d in body["diagnostics"] if d["severity"] == "error"},
            )
            verdicts = {
                "lint": lint_verdict(path),
                "check": check_verdict(path),
                "validate": served,
            }
            assert all(v == (valid, codes) for v in verdicts.values()), (name, verdicts)


def test_the_clash_names_both_places_with_help(tmp_path: Path) -> None:
    (tmp_path / "clash.tos").write_text(CLASH, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy_set(None, [tmp_path / "clash.tos"], use_cache=False)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "policy-duplicate-id"
    assert (diagnostic.span.line, diagnostic.span.column) == (1, 1)
    assert diagnostic.span.file.endswith("clash.tos")
    assert "policies/openai/" in diagnostic.message and "exception" in diagnostic.help


def test_a_user_set_does_not_change_the_library_predicates(tmp_path: Path) -> None:
    """Lexical scope: the library's predicates that use `training_uses` keep the library's
    set, whatever a user file names `training_uses`."""
    (tmp_path / "defs.tos").write_text(
        'set training_uses = {"evaluation"}\ndefine trains_on_output = false\n', encoding="utf-8"
    )
    plain = tosguard("check", str(ACME), "--format", "json", "--as-of", AS_OF)
    shadowed = tosguard(
        "check",
        str(ACME),
        "--extra-policies",
        str(tmp_path / "defs.tos"),
        "--format",
        "json",
        "--as-of",
        AS_OF,
    )
    assert plain.returncode == shadowed.returncode == 1, shadowed.stderr
    findings = [json.loads(r.stdout)["findings"] for r in (plain, shadowed)]
    assert findings[0] == findings[1]


def test_library_names_are_qualified_and_unqualified_names_prefer_the_users(tmp_path: Path) -> None:
    (tmp_path / "mine.tos").write_text(OWN_TRAINING, encoding="utf-8")
    library = load_policy_set(None, [tmp_path / "mine.tos"], use_cache=False)
    (clause,) = library.documents["acme-vendor-rules"].versions[0].clauses
    own, library_set = clause.when.items  # type: ignore[union-attr]
    assert own.values == frozenset({"pretraining", "fine-tuning"})
    assert "distillation" in library_set.values and "rewriting" in library_set.values


def test_an_unknown_library_name_is_reported(tmp_path: Path) -> None:
    text = OWN_TRAINING.replace("library.training_uses", "library.training_use")
    (tmp_path / "mine.tos").write_text(text, encoding="utf-8")
    result = lint_paths([tmp_path / "mine.tos"], with_library=True)
    (error,) = result.errors
    assert error.code == "policy-unknown-name"
    assert "the library has no set `library.training_use`" in error.message
    assert "training_uses" in error.help
    text = OWN_TRAINING.replace("library.training_uses", "lib.training_uses")
    (tmp_path / "mine.tos").write_text(text, encoding="utf-8")
    (error,) = lint_paths([tmp_path / "mine.tos"], with_library=True).errors
    assert error.code == "policy-unknown-name" and "library.training_uses" in error.help


def test_library_predicates_are_qualified_too(tmp_path: Path) -> None:
    text = (
        HEADER.format(id="acme-p", provider="  provider  openai\n", governs="  service api")
        + "  clause c {\n    topic distillation\n    kind prohibition\n"
        '    when library.trains_on_output\n    remedy "No."\n'
        '    cite { section "1" quote "No." }\n  }\n}\n'
    )
    (tmp_path / "p.tos").write_text(text, encoding="utf-8")
    assert lint_paths([tmp_path / "p.tos"], with_library=True).errors == []
    assert " library.trains_on_output\n" in format_text(text, "p.tos")


def test_duplicate_names_within_one_namespace_stay_errors(tmp_path: Path) -> None:
    (tmp_path / "a.tos").write_text('set mine = {"a"}\n', encoding="utf-8")
    (tmp_path / "b.tos").write_text('set mine = {"b"}\n' + INTERNAL, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy_set(None, [tmp_path], use_cache=False)
    assert [d.code for d in info.value.diagnostics] == ["policy-duplicate-name"]


def test_an_internal_policy_reports_no_provider(tmp_path: Path) -> None:
    (tmp_path / "internal.tos").write_text(INTERNAL, encoding="utf-8")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "tosguard: 1\nsources:\n  - {id: d, kind: dataset, license: MIT, use: [fine-tuning]}\n",
        encoding="utf-8",
    )
    for fmt in ("json", "sarif"):
        result = tosguard(
            "check",
            str(manifest),
            "--extra-policies",
            str(tmp_path / "internal.tos"),
            "--format",
            fmt,
            "--as-of",
            AS_OF,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        report = json.loads(result.stdout)
        if fmt == "json":
            (finding,) = [f for f in report["findings"] if f["policy"] == "acme-data-retention"]
            assert finding["provider"] is None and finding["topic"] == "data-retention"
        else:
            rules = report["runs"][0]["tool"]["driver"]["rules"]
            (rule,) = [r for r in rules if r["id"].startswith("acme-data-retention/")]
            assert rule["properties"]["provider"] is None
    listing = tosguard(
        "check",
        str(manifest),
        "--extra-policies",
        str(tmp_path / "internal.tos"),
        "--format",
        "markdown",
        "--as-of",
        AS_OF,
    )
    assert "acme-data-retention" in listing.stdout


def test_an_internal_policy_needs_provider_or_governs() -> None:
    text = HEADER.format(id="acme-p", provider="", governs="") + "}\n"
    with pytest.raises(PolicyError) as info:
        _load_user_text(text)
    assert "policy-missing-field" in {d.code for d in info.value.diagnostics}
    assert any("neither `provider` nor `governs`" in d.message for d in info.value.diagnostics)


def test_the_library_keeps_the_vocabulary_of_topics() -> None:
    # a library policy may omit `provider` (an open licence has none) when it says what it
    # governs; its topics must come from the vocabulary
    text = INTERNAL
    codes = {d.code for d in lint_text(text, "lib.tos").errors}
    assert codes == {"policy-unknown-value"}
    without_governs = "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("governs")
    )
    codes = {d.code for d in lint_text(without_governs, "lib.tos").errors}
    assert "policy-missing-field" in codes


def test_an_own_topic_close_to_the_vocabularys_is_a_warning() -> None:
    library = _load_user_text(INTERNAL.replace("data-retention", "distilation"))
    assert [(w.code, w.severity) for w in library.warnings] == [("policy-own-topic", "warning")]
    assert "distillation" in library.warnings[0].help
    with pytest.raises(PolicyError) as info:
        _load_user_text(INTERNAL.replace("topic data-retention", "topic Data_Retention"))
    assert [d.code for d in info.value.diagnostics] == ["policy-bad-value"]


def _load_user_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "user.tos"
        path.write_text(text, encoding="utf-8")
        return load_policy_set(None, [path], use_cache=False)


# ---- the stages -------------------------------------------------------------------------------
def _recording(monkeypatch) -> list[str]:
    """Every stage the front end runs from now on, by name, in order."""
    from tosguard.engine import frontend

    ran: list[str] = []

    def recorded(stage):
        def run(state):
            ran.append(stage.name)
            stage.run(state)

        return frontend.Stage(stage.name, run, stage.does)

    monkeypatch.setattr(frontend, "STAGES", tuple(recorded(s) for s in frontend.STAGES))
    return ran


def test_the_stages_are_named_in_pipeline_order() -> None:
    from tosguard.engine.frontend import STAGE_NAMES

    assert STAGE_NAMES == ("parse", "validate", "gate", "compile")


def test_check_diff_lint_and_the_service_run_the_same_stages(monkeypatch) -> None:
    from tosguard.service.state import load_policy_set as service_policy_set
    from tosguard.service.work import validate_policy
    from tosguard.tools.diff import load_side

    ran = _recording(monkeypatch)
    library_dir = ROOT / "policies" / "deepseek"
    load_policy_set([library_dir], use_cache=False)
    assert ran == ["parse", "validate", "gate", "compile"]

    ran.clear()
    load_side([library_dir])
    assert ran == ["parse", "validate", "gate", "compile"]

    ran.clear()
    lint_paths([library_dir])
    assert ran == ["validate"]  # lint parses each file itself, to report every file's errors

    ran.clear()
    policy_set = service_policy_set([library_dir], use_cache=False)
    policy_set.parsed_files()
    assert ran == ["parse", "validate", "gate", "compile", "parse"]

    ran.clear()
    diagnostics, _ = validate_policy(policy_set, OWN_TRAINING.encode(), "acme.tos", "none")
    assert not [d for d in diagnostics if d.severity == "error"]
    assert ran == ["validate", "compile"]


def test_the_gate_stops_a_set_with_an_error_before_compile(monkeypatch, tmp_path) -> None:
    ran = _recording(monkeypatch)
    (tmp_path / "broken.tos").write_text(
        OWN_TRAINING.replace("training_uses\n", "training_usez\n", 1), encoding="utf-8"
    )
    with pytest.raises(PolicyError) as raised:
        load_policy_set([tmp_path], use_cache=False)
    assert ran == ["parse", "validate", "gate"]
    found = [(d.code, d.message) for d in raised.value.diagnostics]
    assert found == [("policy-unknown-name", "unknown set `training_usez`")]
