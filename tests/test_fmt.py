"""The formatter: golden files, idempotence, comments, the shipped library, the CLI, and
Hypothesis properties (generated ASTs survive format → parse unchanged; formatting malformed
text raises only the engine's own errors).

Refresh the golden files on purpose with ``UPDATE_GOLDEN=1 pytest tests/test_fmt.py``.
"""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tosguard.language.ast
import tosguard.language.conditions
import tosguard.language.printer
import tosguard.language.visitor
import tosguard.tools.diff
import tosguard.tools.explain
import tosguard.tools.lint
import tosguard.tools.provenance
from policy_strategies import policy_files
from tosguard.errors import PolicyError, TosguardError
from tosguard.language import ast
from tosguard.language.parse import Comment, parse_policy_text
from tosguard.language.printer import format_text, format_tree, quote
from tosguard.resources import policies_dir

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "fmt"
CASES = sorted(p.stem for p in (GOLDEN / "input").glob("*.tos"))
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def comments_of(text: str) -> list[str]:
    found: list[Comment] = []
    parse_policy_text(text, comments=found)
    return sorted(c.text for c in found)


# ---- golden files -----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    source = (GOLDEN / "input" / f"{case}.tos").read_text(encoding="utf-8")
    expected = GOLDEN / "expected" / f"{case}.tos"
    formatted = format_text(source, f"{case}.tos")
    if os.environ.get("UPDATE_GOLDEN"):
        expected.parent.mkdir(exist_ok=True)
        expected.write_text(formatted, encoding="utf-8")
    assert formatted == expected.read_text(encoding="utf-8"), (
        f"{case}: formatter output differs; if intended, rerun with UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize("case", CASES)
def test_golden_is_idempotent_and_keeps_comments(case: str) -> None:
    source = (GOLDEN / "input" / f"{case}.tos").read_text(encoding="utf-8")
    once = format_text(source)
    assert format_text(once) == once
    assert comments_of(once) == comments_of(source)
    tree, again = parse_policy_text(source), parse_policy_text(once)
    assert ast.without_spans(tree) == ast.without_spans(again)


def test_comment_placement() -> None:
    source = (
        "# header\n\n"
        "policy p {   # after the brace\n"
        '  url "u"  # trailing\n'
        "  provider acme\n"
        "  clause c {\n"
        "    when model.commercial   # first line\n"
        '      and model.name == "x"  # continuation\n'
        '    cite { section "1" quote "q" } }  # after two braces\n'
        "  # dangling\n"
        "}\n"
    )
    assert format_text(source) == (
        "# header\n\n"
        "policy p {  # after the brace\n"
        "  provider  acme\n"
        '  url       "u"  # trailing\n'
        "\n"
        "  clause c {\n"
        "    # continuation\n"
        '    when     model.commercial and model.name == "x"  # first line\n'
        "    cite {\n"
        '      section "1"\n'
        '      quote   "q"\n'
        "    }\n"
        "  }  # after two braces\n"
        "  # dangling\n"
        "}\n"
    )


def test_long_text_is_split_into_adjacent_strings() -> None:
    words = " ".join(["Customer will not use Output to develop competing models;"] * 4)
    source = f'policy p {{\n  clause c {{\n    cite {{ quote "{words}" }}\n  }}\n}}\n'
    formatted = format_text(source)
    lines = [line for line in formatted.splitlines() if '"' in line]
    assert len(lines) > 1 and all(len(line) <= 100 for line in lines)
    assert parse_policy_text(formatted).policies[0].clauses[0].citation.quote == words


def test_quote_escapes_what_json_needs_and_keeps_unicode() -> None:
    assert quote('a"b\\c\nd\u2028e\ud800') == '"a\\"b\\\\c\\nd\\u2028e\\ud800"'
    assert quote("“Llama” – 中文 عربي") == '"“Llama” – 中文 عربي"'


def test_crlf_and_tabs_are_normalised() -> None:
    assert format_text("policy p {\r\n\tprovider acme  # c\r\n}\r\n") == (
        "policy p {\n  provider  acme  # c\n}\n"
    )


def test_syntax_error_raises_policy_error_with_a_position() -> None:
    with pytest.raises(PolicyError) as caught:
        format_text("policy p {\n  efective 2024-01-01\n}\n", "p.tos")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line) == ("policy-syntax", 2)


def test_docstring_examples_run() -> None:
    for module in (
        tosguard.language.printer,
        tosguard.language.conditions,
        tosguard.language.visitor,
        tosguard.tools.lint,
        tosguard.tools.diff,
        tosguard.tools.provenance,
        tosguard.language.ast,
        tosguard.tools.explain,
    ):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__


# ---- the shipped library and the CLI ----------------------------------------------------------
def run_cli(*args: str, cwd: Path = ROOT, stdin: bytes | None = None):
    result = subprocess.run(
        [sys.executable, "-m", "tosguard", *args],
        cwd=cwd,
        capture_output=True,
        input=stdin,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def test_shipped_library_is_formatted() -> None:
    result = run_cli("fmt", "--check", str(policies_dir()))
    assert result.returncode == 0, "run `tosguard fmt policies/`:\n" + result.stderr.decode()


def test_fmt_cli_check_diff_write(tmp_path: Path) -> None:
    path = tmp_path / "p.tos"
    path.write_text('set s={"a","b"}  # keep me\n', encoding="utf-8")
    check = run_cli("fmt", "--check", str(path))
    assert check.returncode == 1 and b"would reformat" in check.stderr
    shown = run_cli("fmt", "--diff", str(path))
    assert shown.returncode == 1
    assert '+set s = {"a", "b"}  # keep me' in shown.stdout.decode()
    assert path.read_text(encoding="utf-8") == 'set s={"a","b"}  # keep me\n'
    done = run_cli("fmt", str(path))
    assert done.returncode == 0
    assert path.read_text(encoding="utf-8") == 'set s = {"a", "b"}  # keep me\n'
    assert run_cli("fmt", "--check", str(path)).returncode == 0


def test_fmt_cli_leaves_broken_files_alone(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tos"
    broken.write_text("policy p { efective 2024-01-01 }\n", encoding="utf-8")
    fine = tmp_path / "fine.tos"
    fine.write_text("set s={1}\n", encoding="utf-8")
    result = run_cli("fmt", str(tmp_path))
    assert result.returncode == 2
    assert "unknown keyword `efective`" in result.stderr.decode()
    assert broken.read_text(encoding="utf-8") == "policy p { efective 2024-01-01 }\n"
    assert fine.read_text(encoding="utf-8") == "set s = {1}\n"


def test_fmt_cli_stdin() -> None:
    result = run_cli("fmt", "-", stdin=b"define d=model.commercial\n")
    assert result.returncode == 0 and result.stdout == b"define d = model.commercial\n"


def test_fmt_cli_missing_path() -> None:
    result = run_cli("fmt", "no/such/dir")
    assert result.returncode == 2 and b"cannot read" in result.stderr


# ---- properties -------------------------------------------------------------------------------
@SETTINGS
@given(policy_files)
def test_generated_asts_survive_format_then_parse(tree: ast.PolicyFile) -> None:
    text = format_tree(tree)
    assert ast.without_spans(parse_policy_text(text, "generated.tos")) == ast.without_spans(tree)
    assert format_text(text) == text


LIBRARY_TEXT = (ROOT / "tests" / "golden" / "fmt" / "input" / "llama-3.1-license.tos").read_text(
    encoding="utf-8"
)
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    '"',
    "==",
    "=",
    "and",
    "or",
    "not",
    "when",
    "clause",
    "#",
    "\n",
    "# c\n",
    "  # c",
    "countries {",
    "XX",
    "2024-13-01",
    "any source where",
    "\u201c",
    "\x00",
    "\r\n",
    "\t",
    "…",
    "exception e lifts x {",
    "}}",
]


@st.composite
def mutated_texts(draw, base: str = LIBRARY_TEXT):
    text = base
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:position] + text[position + draw(st.integers(1, 40)) :]
        else:
            text = (
                text[:position]
                + draw(st.sampled_from(TOKENS) | st.text(max_size=5))
                + text[position:]
            )
    return text


@SETTINGS
@given(mutated_texts())
def test_fmt_raises_only_policy_errors_and_is_idempotent(text: str) -> None:
    try:
        once = format_text(text, "m.tos")
    except TosguardError as error:
        assert error.diagnostics
        for diagnostic in error.diagnostics:
            assert diagnostic.code.startswith("policy-"), diagnostic  # never fmt-internal
        return
    assert format_text(once, "m.tos") == once
    assert comments_of(once) == comments_of(text)


@st.composite
def commented_texts(draw):
    """The Llama licence with comments added at the ends of random lines and on lines of
    their own."""
    lines = LIBRARY_TEXT.splitlines()
    for _ in range(draw(st.integers(1, 8))):
        index = draw(st.integers(0, len(lines) - 1))
        comment = "# " + draw(st.text(alphabet="abc xyz—“é", max_size=10))
        if draw(st.booleans()):
            lines[index] += "  " + comment
        else:
            lines.insert(index, comment)
    return "\n".join(lines) + "\n"


@SETTINGS
@given(commented_texts())
def test_comments_anywhere_are_kept(text: str) -> None:
    try:
        parse_policy_text(text)
    except PolicyError:
        return  # a comment inside a string, cut off by the line's end
    once = format_text(text)
    assert comments_of(once) == comments_of(text)
    assert format_text(once) == once
