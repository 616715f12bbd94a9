"""Remedies that name manifest values (`{model.name}`): checked when policies load and lint,
filled in per finding in every report format, and the Llama remedies naming the model's own
name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli import AS_OF, ROOT, err, out, tosguard
from tosguard.language.template import Placeholder, TemplateError, parse_template
from tosguard.tools.lint import lint_text

HEADER = """policy t {
  provider openai
  document "T"
  service api
  effective 2024-01-01
  url "https://example.org/t"
"""


def clause(remedy: str, scope: str = "source") -> str:
    when = "source.records > 0" if scope == "source" else 'model.name == "x"'
    return (
        HEADER
        + f"""  clause c {{
    topic distillation
    kind prohibition
    scope {scope}
    when {when}
    remedy "{remedy}"
    cite {{ section "1" quote "q" }}
  }}
}}
"""
    )


@pytest.mark.parametrize(
    "text,parts",
    [
        ("plain", ("plain",)),
        ("{model.name}", (Placeholder("model.name"),)),
        ("a {{b}} c", ("a {b} c",)),
        (
            "x{source.id}y{facts.team}",
            ("x", Placeholder("source.id"), "y", Placeholder("facts.team")),
        ),
    ],
)
def test_parse_template(text, parts) -> None:
    assert parse_template(text) == parts


@pytest.mark.parametrize("text", ["a { b", "a } b", "{}", "{model name}", "{1}"])
def test_malformed_templates_are_refused(text) -> None:
    with pytest.raises(TemplateError):
        parse_template(text)


@pytest.mark.parametrize(
    "remedy,scope,code,message,help",
    [
        ("rename `{model.nme}`", "source", "policy-unknown-path", "`model.nme`", "`model.name`"),
        ("drop {source.id}", "model", "policy-no-source", "scope is `model`", "scope source"),
        ("a { b", "source", "policy-bad-value", "opens no placeholder", "`{{`"),
        ("see {model}", "source", "policy-bad-value", "not a manifest path", "`{model.name}`"),
        ("see {model.access}", "source", "policy-unknown-path", "`model.access`", ""),
    ],
)
def test_lint_checks_the_placeholders(remedy, scope, code, message, help) -> None:
    result = lint_text(clause(remedy, scope), "t.tos")
    found = [d for d in result.diagnostics if d.code == code]
    assert found, [d.code for d in result.diagnostics]
    (diagnostic,) = found
    assert diagnostic.severity == "error" and message in diagnostic.message
    assert help in diagnostic.help
    assert diagnostic.span.line == 12  # the `remedy` line


def test_good_placeholders_lint_clean() -> None:
    text = clause("stop using {source.id} ({source.provider}, {source.collected.from}) {facts.x}")
    assert not lint_text(text, "t.tos").errors


def test_check_refuses_a_bad_placeholder(tmp_path) -> None:
    policy = tmp_path / "t.tos"
    policy.write_text(clause("rename `{model.nme}`"), encoding="utf-8")
    manifest = tmp_path / "m.yaml"
    manifest.write_text("tosguard: 1\nsources: [{id: a, records: 1}]\n", encoding="utf-8")
    result = tosguard("check", str(manifest), "--policies", str(policy))
    assert result.returncode == 2
    assert "policy-unknown-path" in err(result) and "did you mean `model.name`?" in err(result)


@pytest.mark.parametrize("fmt", ["json", "text", "markdown", "sarif", "junit", "github"])
def test_remedies_are_filled_in_every_format(tmp_path, fmt) -> None:
    policy = tmp_path / "t.tos"
    policy.write_text(
        clause("stop using `{source.id}` ({source.use}); ask {organization.name}"),
        encoding="utf-8",
    )
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "tosguard: 1\nsources:\n  - {id: web-dump, kind: model-output, provider: openai, "
        "service: api, records: 5, use: [rlhf, evaluation]}\n",
        encoding="utf-8",
    )
    result = tosguard(
        "check", str(manifest), "--policies", str(policy), "--format", fmt, "--as-of", AS_OF
    )
    assert result.returncode == 1, err(result)
    expected = "stop using `web-dump` (rlhf, evaluation); ask <organization.name>"
    text = out(result)
    if fmt == "json":
        (finding,) = [f for f in json.loads(text)["findings"] if f["clause"] == "c"]
        assert finding["remedy"] == expected
    else:
        if fmt in ("junit", "markdown"):  # XML, and Markdown that holds no raw HTML
            expected = expected.replace("<", "&lt;").replace(">", "&gt;")
        assert expected in text.replace("\n", " ")


def test_the_llama_remedy_names_the_models_own_name(tmp_path) -> None:
    manifest = tmp_path / "m.yaml"
    acme = Path(__file__).parent.parent / "examples" / "acme.yaml"
    manifest.write_text(
        acme.read_text(encoding="utf-8").replace("acme-chat-7b", "fjord-mt-3b"), encoding="utf-8"
    )
    result = tosguard("check", str(manifest), "--format", "json", "--as-of", AS_OF)
    findings = json.loads(out(result))["findings"]
    (prefix,) = [f for f in findings if f["clause"] == "model-name-prefix"]
    assert "`Llama-fjord-mt-3b`" in prefix["remedy"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "github"])
def test_a_met_obligation_is_not_told_to_act(fmt) -> None:
    """llama-naming's model is already called `Llama-Fjord-8B`: its naming obligation is met,
    and the reports for people show no remedy for it (JSON keeps the clause's remedy as data)."""
    args = ("check", "examples/llama-naming.yaml", "--as-of", AS_OF, "--all")
    shown = out(tosguard(*args, "--format", fmt))
    assert "Llama-Llama-Fjord-8B" not in shown
    assert "Rename the model" not in shown
    report = json.loads(out(tosguard(*args, "--format", "json")))
    naming = [f for f in report["findings"] if f["clause"] == "model-name-prefix"]
    assert "violated" not in {f["status"] for f in naming}
    assert "undetermined" not in {f["status"] for f in naming}
    naming = [f for f in naming if f["status"] == "satisfied"]
    assert naming
    assert all("`Llama-Llama-Fjord-8B`" in f["remedy"] for f in naming)


def test_a_manifest_value_cannot_break_out_of_a_remedys_code_span(tmp_path) -> None:
    """A model name written to close the code span and the `<details>` of a Markdown report
    (a value may come from an imported card) stays text."""
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        (ROOT / "examples" / "llama-naming.yaml")
        .read_text(encoding="utf-8")
        .replace("name: Llama-Fjord-8B", 'name: "fjord`</details>| [x](http://e.vil)"'),
        encoding="utf-8",
    )
    result = tosguard("check", str(manifest), "--format", "markdown", "--as-of", AS_OF)
    shown = out(result)
    assert "`Llama-fjord'&lt;/details&gt;\\| [x](http://e.vil)`" in shown
    assert shown.count("</details>") == shown.count("<details")
