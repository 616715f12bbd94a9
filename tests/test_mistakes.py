"""The table of typical mistakes (:mod:`tosguard.language.mistakes`) is also a test: each row's
example
must produce exactly the row's code, message, help and position, through the whole pipeline
(parse, then check) as ``tosguard lint`` and ``check`` run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tosguard.engine.library import compile_contents
from tosguard.errors import PolicyError
from tosguard.language.mistakes import MISTAKES, state_examples
from tosguard.tools.lint import lint_text


def _first_error(text: str):
    with pytest.raises(PolicyError) as caught:
        compile_contents([(Path("p.tos"), "p.tos", text.encode())])
    return caught.value.diagnostics[0]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.name}-{i}" for i, m in enumerate(MISTAKES)])
def test_mistake_gives_its_message(mistake) -> None:
    diagnostic = _first_error(mistake.text)
    assert (diagnostic.code, diagnostic.message, diagnostic.help) == (
        mistake.code,
        mistake.message,
        mistake.help,
    )
    if mistake.line:
        assert (diagnostic.span.line, diagnostic.span.column) == (mistake.line, mistake.column)
    assert diagnostic.source_line, "the caret display needs the source line"
    linted = lint_text(mistake.text, "p.tos")
    assert any((d.code, d.message) == (mistake.code, mistake.message) for d in linted.diagnostics)


def test_rows_of_one_mistake_share_message_and_help() -> None:
    by_name: dict[str, set] = {}
    for mistake in MISTAKES:
        if mistake.by_state:
            by_name.setdefault(mistake.name, set()).add((mistake.message, mistake.help))
    assert all(len(messages) == 1 for messages in by_name.values()), by_name


def test_table_covers_the_typical_mistakes() -> None:
    names = {m.name for m in MISTAKES}
    assert {
        "unterminated-string",
        "unquoted-text",
        "unclosed-block",
        "misspelt-keyword",
        "bad-date",
        "date-format",
        "single-equals",
    } <= names
    assert state_examples(), "some rows must drive the parser's error mapping"


def test_state_mapping_needs_the_same_kind_of_token() -> None:
    # `effective` followed by a string is a quoted date; by a name, a badly written date.
    header = "policy p {\n  provider acme\n  effective %s\n}\n"
    assert _first_error(header % '"2024-01-01"').message == "dates are written without quotes"
    assert _first_error(header % "May 2024").message == "a date must be written YYYY-MM-DD"
    # an unrelated error in another state keeps the generic message
    assert _first_error("policy p { provider acme acme }\n").message == "unexpected name `acme`"
