"""The line table (``errors.LineTable``): a line's text for every 1-based line number, lines
split as ``str.splitlines`` splits them, whichever way the offsets were found (the running
sums over ``\\n``-only text, a piece at a time, or the scan for every kind of line break)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tosguard import errors
from tosguard.errors import LineTable

PIECES = st.lists(st.sampled_from(["a", "bc", "é", "\n", "\n\n", " ", "\r\n", "\r", "\u2028"]))


@given(parts=PIECES, piece=st.sampled_from([1, 3, 7, 1 << 20]))
def test_lines_are_those_of_splitlines(parts, piece):
    text = "".join(parts)
    saved, errors._PIECE = errors._PIECE, piece
    try:
        table = LineTable(text)
    finally:
        errors._PIECE = saved
    lines = text.splitlines() or [""]
    assert [table.line(n) for n in range(1, len(lines) + 1)] == lines
    assert len(table.starts) == len(lines)
    assert table.line(0) == table.line(len(lines) + 1) == ""


def test_newline_only_text_takes_the_running_sums(monkeypatch):
    calls = []
    real = errors._newline_bounds
    monkeypatch.setattr(errors, "_newline_bounds", lambda text: calls.append(text) or real(text))
    LineTable("a\nb\n")
    LineTable("a\r\nb\n")
    assert calls == ["a\nb\n"]
