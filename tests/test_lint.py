"""``tosguard lint``: every static check, collected across files and sorted, with stable codes;
conditions that can never hold; quotes checked against stored sources; the CLI's formats and
exit codes; and Hypothesis properties (lint raises only the engine's own errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from policy_strategies import policy_files
from test_fmt import mutated_texts
from tosguard.errors import Diagnostic, DiagnosticSink
from tosguard.language.parse import parse_policy_text
from tosguard.language.printer import format_tree
from tosguard.language.validate import global_names
from tosguard.resources import policies_dir
from tosguard.tools.lint import lint_paths, lint_text, never_holds

ROOT = Path(__file__).parent.parent
HEADER = (
    'policy p {\n  provider acme\n  document "D"\n  service api\n'
    '  effective 2024-01-01\n  url "https://example.org/p"\n'
)


def clause(when: str, *, kind: str = "prohibition", extra: str = "", cite: str = "") -> str:
    cite = cite or 'cite { section "1" quote "q" }'
    return (
        f"  clause c {{\n    topic distillation\n    kind {kind}\n    when {when}\n"
        f'    remedy "r"\n{extra}    {cite}\n  }}\n'
    )


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics]


def run_cli(*args: str):
    result = subprocess.run(
        [sys.executable, "-m", "tosguard", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


# ---- the shipped library ----------------------------------------------------------------------
def test_shipped_library_has_no_lint_errors() -> None:
    result = lint_paths([policies_dir()])
    assert not result.errors, "\n".join(f"{d.span}: {d.code}: {d.message}" for d in result.errors)
    assert len(result.files) > 3


# ---- the checker's diagnostics, collected across files ----------------------------------------
def test_errors_of_several_files_are_collected_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "a.tos").write_text(HEADER + clause('model.purpos == "chat"') + "}\n")
    (tmp_path / "b.tos").write_text(
        'set eu = countries { DE, UK }\ndefine d = source.access.from_country == "XX"\n'
    )
    result = lint_paths([tmp_path])
    assert codes(result) == ["policy-unknown-path", "policy-bad-country", "policy-bad-country"]
    assert result.diagnostics == sorted(result.diagnostics, key=Diagnostic.sort_key)
    first = result.diagnostics[0]
    assert first.help == "did you mean `model.purpose`?"
    assert (first.span.file, first.span.line, first.span.column) == (f"{tmp_path}/a.tos", 10, 10)
    assert first.source_line.strip() == 'when model.purpos == "chat"'


def test_duplicate_ids_overlapping_versions_and_lifting_nothing(tmp_path: Path) -> None:
    first = HEADER.replace("effective 2024-01-01", "effective 2024-01-01\n  ends 2024-06-30")
    second = HEADER.replace("2024-01-01", "2024-03-01")
    body = (
        clause("true")
        + clause("true")
        + (
            "  exception e lifts nothing {\n    when true\n"
            '    cite { section "2" quote "x" }\n  }\n'
        )
    )
    (tmp_path / "one.tos").write_text(first + body + "}\n")
    (tmp_path / "two.tos").write_text(second + "}\n")
    found = set(codes(lint_paths([tmp_path])))
    assert {
        "policy-duplicate-clause",
        "policy-overlapping-versions",
        "policy-unknown-clause",
    } <= found


def test_missing_citation_fields() -> None:
    text = (
        HEADER.replace('  url "https://example.org/p"\n', "")
        + clause("true", cite='cite { section "1" }')
        + "}\n"
    )
    messages = [d.message for d in lint_text(text).diagnostics]
    assert "the citation of clause `c` has no `quote`" in messages
    assert "the citation of clause `c` has no `url`" in messages


def test_syntax_error_elsewhere_does_not_flood_with_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "defs.tos").write_text('define trains = source.use contains "rlhf" and\n')
    (tmp_path / "p.tos").write_text(HEADER + clause("trains") + "}\n")
    assert codes(lint_paths([tmp_path])) == ["policy-syntax"]


def test_context_files_give_names_but_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "p.tos").write_text(HEADER + clause("trains_on_output") + "}\n")
    alone = lint_paths([tmp_path / "p.tos"])
    assert "policy-unknown-name" in codes(alone)
    with_library = lint_paths([tmp_path / "p.tos"], [policies_dir() / "openai" / "common.tos"])
    assert "policy-unknown-name" not in codes(with_library)
    assert all(d.span.file.endswith("p.tos") for d in with_library.diagnostics)


def test_a_file_of_the_shipped_library_is_linted_with_its_set() -> None:
    """What the pre-commit hook does: it names a changed file, whose predicates and sets are
    defined in the library's other files."""
    changed = "policies/openai/terms-of-use-2023-03-14.tos"
    # an explicit context wins: the file over itself is missing its set's names
    alone = run_cli("lint", "--no-provenance", "--extra-policies", changed, changed)
    assert alone.returncode == 2 and "unknown predicate" in alone.stdout.decode()
    result = run_cli("lint", "--no-provenance", changed)
    assert result.returncode == 0, result.stdout.decode()
    assert result.stdout.decode().strip().endswith("0 errors, 0 warnings in 1 file")


def write_sets(tmp_path: Path) -> None:
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "defs.tos").write_text('define trains = source.use contains "rlhf"\n')
    (tmp_path / "pol" / "p.tos").write_text(HEADER + clause("trains") + "}\n")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / "defs.tos").write_text('define ours = source.use contains "fine-tuning"\n')
    ours = HEADER.replace("policy p", "policy q").replace("acme", "ourco")
    (tmp_path / "ours" / "q.tos").write_text(ours + clause("ours and trains") + "}\n")
    (tmp_path / "tosguard.toml").write_text(
        'policies = ["pol/"]\nextra-policies = ["ours/"]\n', encoding="utf-8"
    )


def lint_in(tmp_path: Path, *args: str):
    result = subprocess.run(
        [sys.executable, "-m", "tosguard", "lint", "--no-provenance", *args],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result.returncode, result.stdout.decode()


def test_files_of_the_configured_sets_are_linted_as_check_loads_them(tmp_path: Path) -> None:
    write_sets(tmp_path)
    assert lint_in(tmp_path, "pol/p.tos")[0] == 0
    status, shown = lint_in(tmp_path, "ours/q.tos")  # over pol/, with the rest of ours/
    assert status == 0, shown
    assert shown.strip().endswith("in 2 files")
    for isolated in ("pol/p.tos", "ours/q.tos"):
        status, shown = lint_in(tmp_path, "--isolated", isolated)
        assert status == 2 and "unknown predicate" in shown
    # the set gives names, it does not hide the named file's own errors
    (tmp_path / "pol" / "p.tos").write_text(HEADER + clause("trainz") + "}\n")
    status, shown = lint_in(tmp_path, "pol/p.tos")
    assert status == 2 and "unknown predicate `trainz`" in shown and "pol/p.tos:" in shown


def test_a_file_outside_every_set_is_a_library_of_its_own(tmp_path: Path) -> None:
    write_sets(tmp_path)
    (tmp_path / "loose.tos").write_text(HEADER + clause("trains") + "}\n")
    status, shown = lint_in(tmp_path, "loose.tos")
    assert status == 2 and "unknown predicate `trains`" in shown


# ---- the linter's own checks ------------------------------------------------------------------
def test_when_false_is_a_warning_and_a_contradiction_an_error() -> None:
    result = lint_text(HEADER + clause("false") + "}\n")
    (warning,) = result.diagnostics
    assert (warning.code, warning.severity) == ("policy-never-holds", "warning")
    result = lint_text(HEADER + clause('model.name == "a" and model.name == "b"') + "}\n")
    (error,) = result.diagnostics
    assert (error.code, error.severity) == ("policy-never-holds", "error")
    assert error.message == "the `when` of prohibition `c` can never hold"
    assert error.help == '`model.name` cannot be both `"a"` and `"b"`'
    assert (error.span.line, error.span.column) == (10, 10)


NEVER = [
    ('model.name == "a" and model.name != "a"', True),
    ('model.purpose == "chat" and model.purpose in {"code", "speech"}', True),
    ('model.purpose in {"chat", "code"} and model.purpose not in {"chat", "code"}', True),
    (
        'source.kind != "model-output" and source.kind != "model-weights" and source.kind != '
        '"dataset" and source.kind != "web-crawl" and source.kind != "human"',
        True,
    ),
    ("source.kind in {}", True),
    ("source.use in {}", False),  # a list is "in" a set when all its items are: [] is
    ('source.use == "rlhf"', True),
    ('source.use != "rlhf"', False),
    ("source.records > 5 and source.records < 6", True),
    ("source.records >= 5 and source.records <= 5", False),
    ("source.collected.from > 2025-01-01 and source.collected.from < 2025-01-02", True),
    ("model.purpose == source.kind", True),
    ('source.kind matches "foo*"', True),
    ('source.kind matches "model-*"', False),
    ("source.use contains any {}", True),
    ("source.use contains all {}", False),
    ("model.commercial and not model.commercial", True),
    ("governed and not governed", True),
    ('any source where (model.name == "a" and model.name == "b")', True),
    ("all sources where false", False),
    ('model.name is not declared and model.name == "x"', True),
    ('model.name is not declared or model.name == "x"', False),
    ('(model.name == "a" or model.name == "b") and model.name == "c"', True),
    ('(model.name == "a" or model.name == "b") and model.name == "b"', False),
    ("facts.x == 1 and facts.x == true", False),  # 1 == True, as in the evaluator
    ('facts.x == "a" and facts.x == "b"', True),
    ('source.access.from_country in eu and source.access.from_country == "US"', True),
    ('source.access.from_country in eu and source.access.from_country == "DE"', False),
    ('model.name matches "Llama*" and model.name == "acme"', True),
    ("d1 and not d1", True),
    ("true", False),
]


@pytest.mark.parametrize("condition,never", NEVER, ids=[c for c, _ in NEVER])
def test_never_holds(condition: str, never: bool) -> None:
    tree = parse_policy_text(
        f'set eu = countries {{ DE, FR }}\ndefine d1 = model.name == "q"\ndefine x = {condition}\n'
    )
    names = global_names([tree], DiagnosticSink())
    assert bool(never_holds(tree.defines[1].condition, names)) == never


def test_more_warnings(tmp_path: Path) -> None:
    text = HEADER.replace("effective 2024-01-01", "effective 2024-01-01\n  ends 2024-03-31") + (
        "  define unused = model.commercial\n"
        "  clause allowed {\n    topic distillation\n    kind permission\n    when true\n"
        '    cite { section "1" quote "q" }\n  }\n'
        "  clause no-remedy {\n    topic distillation\n    kind prohibition\n    when true\n"
        '    cite { section "1" quote "q" }\n  }\n'
        "  exception e lifts allowed {\n    when true\n"
        '    cite { section "2" quote "x" }\n  }\n}\n'
    )
    later = HEADER.replace("2024-01-01", "2024-06-01") + "}\n"
    (tmp_path / "a.tos").write_text(text)
    (tmp_path / "b.tos").write_text(later)
    result = lint_paths([tmp_path])
    assert not result.errors
    assert sorted(codes(result)) == [
        "policy-lifts-permission",
        "policy-missing-remedy",
        "policy-unused-name",
        "policy-version-gap",
    ]


# ---- provenance -------------------------------------------------------------------------------
def _library_with_source(
    tmp_path: Path, quote: str, *, unverified: bool = False, stored: bool = True
) -> Path:
    (tmp_path / "sources").mkdir()
    if stored:
        (tmp_path / "sources" / "p.txt").write_text(
            "url: https://example.org/p\neffective: 2024-01-01\n---\n"
            "1. Customer will not share “Account” credentials between users.\n"
        )
    else:
        (tmp_path / "sources" / "other.txt").write_text("url: https://example.org/other\n---\nx\n")
    mark = ' unverified "seen in a blog"' if unverified else ""
    (tmp_path / "p.tos").write_text(
        HEADER + clause("true", cite=f'cite {{ section "1" quote "{quote}"{mark} }}') + "}\n"
    )
    return tmp_path


def test_quote_found_in_stored_source(tmp_path: Path) -> None:
    path = _library_with_source(tmp_path, 'Customer will not share \\"Account\\" … users.')
    assert codes(lint_paths([path])) == []


def test_altered_quote_is_an_error(tmp_path: Path) -> None:
    path = _library_with_source(tmp_path, "Customer may share Account credentials")
    (diagnostic,) = lint_paths([path]).diagnostics
    assert (diagnostic.code, diagnostic.severity) == ("policy-quote-not-found", "error")
    assert "p.txt" in diagnostic.help and diagnostic.span.line == 12
    assert lint_paths([path], provenance=False).diagnostics == []


def test_missing_stored_source_is_a_warning_unless_unverified(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    path = _library_with_source(tmp_path / "a", "q", stored=False)
    (diagnostic,) = lint_paths([path]).diagnostics
    assert (diagnostic.code, diagnostic.severity) == ("policy-source-missing", "warning")
    (tmp_path / "b").mkdir()
    marked = _library_with_source(tmp_path / "b", "q", stored=False, unverified=True)
    assert lint_paths([marked]).diagnostics == []


# ---- the command line -------------------------------------------------------------------------
def test_cli_clean_library_exits_0() -> None:
    result = run_cli("lint", "policies")
    assert result.returncode == 0, result.stdout.decode()
    assert "0 errors" in result.stdout.decode()


def test_cli_errors_exit_2_in_each_format(tmp_path: Path) -> None:
    path = tmp_path / "p.tos"
    path.write_text(HEADER + clause('model.purpos == "chat"') + "}\n")
    human = run_cli("lint", str(path))
    assert human.returncode == 2
    text = human.stdout.decode()
    assert "error[policy-unknown-path]: unknown manifest path `model.purpos`" in text
    assert "^^^^^^^^^^^^" in text and "= help: did you mean `model.purpose`?" in text
    plain = run_cli("lint", str(path), "--error-format", "plain")
    assert plain.stdout.decode().startswith(f"{path}:10:10: policy-unknown-path: ")
    data = json.loads(run_cli("lint", str(path), "--error-format", "json").stdout)
    assert (data["errors"], data["diagnostics"][0]["code"]) == (1, "policy-unknown-path")


def test_cli_strict_fails_on_warnings(tmp_path: Path) -> None:
    path = tmp_path / "p.tos"
    path.write_text(HEADER + clause("false") + "}\n")
    assert run_cli("lint", str(path)).returncode == 0
    assert run_cli("lint", "--strict", str(path)).returncode == 2


def test_cli_missing_path_exits_2() -> None:
    result = run_cli("lint", "no/such.tos")
    assert result.returncode == 2 and "cannot read" in result.stdout.decode()


# ---- properties -------------------------------------------------------------------------------
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(mutated_texts())
def test_lint_of_mutated_text_reports_only_diagnostics(text: str) -> None:
    result = lint_text(text, "m.tos")
    for diagnostic in result.diagnostics:
        assert diagnostic.span.file == "m.tos"
        assert diagnostic.code.startswith("policy-") and diagnostic.message


@SETTINGS
@given(policy_files)
def test_lint_of_generated_policies_reports_only_diagnostics(tree) -> None:
    result = lint_text(format_tree(tree), "generated.tos")
    assert all(d.code.startswith("policy-") for d in result.diagnostics)
