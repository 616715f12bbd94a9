"""Diagnostics: every error tosguard reports, with a stable code, a span and a help line.

Messages follow one style: a lowercase sentence without a trailing period, user input in
backticks, and a separate ``help:`` line. Errors are collected, sorted by location and shown
together; :class:`TosguardError` carries the list, capped at :data:`MAX_REPORTED` diagnostics and
one more saying how many were left out, so that a flood of errors costs little to keep and show.

A diagnostic keeps only a window of its source line around the column (:func:`source_window`),
whatever the length of the line, and the renderers escape whatever in it, or in the message,
could act on a terminal (:func:`tosguard.safetext.printable`).
"""

from __future__ import annotations

import bisect
import difflib
import functools
import json
import re
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add
from typing import Any

from .safetext import escape_char, is_unsafe, json_safe, printable

#: Diagnostics reported in full; past these, one more diagnostic gives the count of the rest.
MAX_REPORTED = 100
#: Distinct diagnostics one stage keeps before it only counts the rest (see DiagnosticSink).
SINK_LIMIT = 10 * MAX_REPORTED
_REPORTED: ContextVar[int] = ContextVar("tosguard_max_reported", default=MAX_REPORTED)
#: Characters of a source line kept on each side of the column.
SOURCE_WINDOW = 80
#: Columns of a source line shown in the human format.
SHOWN_WIDTH = 100
#: Longest message or help text kept (longer ones are clipped with `…`).
MAX_TEXT = 1000


def shorten(text: str, width: int = 60) -> str:
    """``text``, or its first ``width - 1`` characters and `…` when it is longer: for user
    input quoted in a message.

    >>> shorten("a" * 100, 5)
    'aaaa…'
    """
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True, order=True)
class Span:
    """A place in a source file; lines and columns count from 1."""

    file: str
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One reported problem.

    ``code`` is stable (``policy-syntax``, ``manifest-unknown-key`` …) so scripts and tests can
    match on it. ``source_line`` is the text of the offending line for the caret display; of a
    long line, only a window around the column is kept: ``source_column`` is the column of the
    line at which the window starts and ``source_length`` the length of the whole line (both
    are set by :func:`source_window`, or here when a producer passes a whole long line).
    ``pointer`` is the JSON pointer of the manifest value concerned, when there is one.
    """

    code: str
    message: str
    span: Span
    help: str = ""
    source_line: str = ""
    pointer: str = ""
    severity: str = "error"
    source_column: int = 1
    source_length: int = 0

    def __post_init__(self) -> None:
        if len(self.source_line) > 2 * SOURCE_WINDOW:
            window = _window(
                self.source_line,
                0,
                len(self.source_line),
                self.span.column - self.source_column + 1,
            )
            object.__setattr__(self, "source_line", window["source_line"])
            object.__setattr__(
                self, "source_column", self.source_column + window["source_column"] - 1
            )
            object.__setattr__(
                self, "source_length", max(self.source_length, window["source_length"])
            )
        if len(self.message) > MAX_TEXT:
            object.__setattr__(self, "message", self.message[: MAX_TEXT - 1] + "…")
        if len(self.help) > MAX_TEXT:
            object.__setattr__(self, "help", self.help[: MAX_TEXT - 1] + "…")

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "pointer": self.pointer,
            "help": self.help,
        }


class TosguardError(Exception):
    """Base of every error the engine raises on bad input; holds one or more diagnostics.

    The diagnostics are sorted by location and capped (:func:`capped`): at most
    :data:`MAX_REPORTED`, then one saying how many more there are. A producer that selected
    the first ones itself passes the number it left out as ``omitted`` and the place of the
    first of them as ``first_omitted``. ``total`` is the number of problems, shown or not.
    """

    #: The code of the diagnostic that counts the ones left out is ``<prefix>-too-many-errors``.
    code_prefix = ""

    def __init__(
        self,
        diagnostics: Diagnostic | Sequence[Diagnostic],
        *,
        omitted: int = 0,
        first_omitted: Span | None = None,
    ):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = capped(
            diagnostics, omitted, first_omitted, self.code_prefix
        )
        self.total = sum(
            d.errors + d.warnings if isinstance(d, OmittedDiagnostic) else 1
            for d in self.diagnostics
        )
        super().__init__(render_plain(self.diagnostics))


class PolicyError(TosguardError):
    """A policy file could not be read, parsed or checked."""

    code_prefix = "policy"


class ManifestError(TosguardError):
    """A usage manifest could not be read or validated."""

    code_prefix = "manifest"


class UsageError(TosguardError):
    """The command line or API was called with arguments that do not fit."""

    code_prefix = "usage"


TOO_MANY_HELP = (
    "fix the errors shown and run again to see the rest; many errors of one kind "
    "are often one mistake repeated"
)


@dataclass(frozen=True)
class OmittedDiagnostic(Diagnostic):
    """The diagnostic :func:`capped` adds in place of the ones it leaves out: it counts them
    (so that capping a list again, or merging capped lists, keeps the count right)."""

    errors: int = 0
    warnings: int = 0


def counts(diagnostics: Iterable[Diagnostic]) -> tuple[int, int]:
    """The numbers of errors and warnings among ``diagnostics``, those a cap left out
    included."""
    errors = warnings = 0
    for d in diagnostics:
        if isinstance(d, OmittedDiagnostic):
            errors, warnings = errors + d.errors, warnings + d.warnings
        elif d.severity == "error":
            errors += 1
        elif d.severity == "warning":
            warnings += 1
    return errors, warnings


def max_reported() -> int:
    """How many diagnostics an error keeps in full: :data:`MAX_REPORTED`, unless a caller
    asked for more (:func:`reporting`)."""
    return _REPORTED.get()


@contextmanager
def reporting(limit: int) -> Iterator[None]:
    """Keep up to ``limit`` diagnostics in full (at least :data:`MAX_REPORTED`) in the
    errors raised inside the block (``tosguard check --max-errors``)."""
    token = _REPORTED.set(max(limit, MAX_REPORTED))
    try:
        yield
    finally:
        _REPORTED.reset(token)


def capped(
    diagnostics: Iterable[Diagnostic],
    omitted: int = 0,
    first_omitted: Span | None = None,
    code_prefix: str = "",
    *,
    limit: int | None = None,
    help: str = "",
) -> list[Diagnostic]:
    """``diagnostics`` sorted by location, the first ``limit`` of them (by default
    :func:`max_reported`), and, when there are more (or ``omitted`` errors were left out
    before), one more diagnostic that counts the rest, at the place of the first of them, with
    ``help`` (by default :data:`TOO_MANY_HELP`).

    >>> found = capped([Diagnostic("x", "m", Span("f", n, 1)) for n in range(1, 151)])
    >>> len(found), found[-1].message, str(found[-1].span)
    (101, '50 more errors not shown (only the first 100 are reported)', 'f:101:1')
    """
    errors, warnings = omitted, 0
    ordered = []
    for d in diagnostics:
        if isinstance(d, OmittedDiagnostic):  # counted before: count its count
            errors, warnings = errors + d.errors, warnings + d.warnings
            if first_omitted is None or d.span < first_omitted:
                first_omitted = d.span
        else:
            ordered.append(d)
    ordered.sort(key=Diagnostic.sort_key)
    if limit is None:
        limit = max_reported()
    rest = ordered[limit:]
    if not rest and not errors and not warnings:
        return ordered
    shown = ordered[:limit]
    if rest and (first_omitted is None or rest[0].span < first_omitted):
        first_omitted = rest[0].span
    rest_warnings = sum(1 for d in rest if d.severity == "warning")
    errors += len(rest) - rest_warnings
    warnings += rest_warnings
    counts = [
        f"{n:,} more {word}{'' if n == 1 else 's'}"
        for n, word in ((errors, "error"), (warnings, "warning"))
        if n
    ]
    span = first_omitted or (shown[-1].span if shown else Span(""))
    prefix = f"{code_prefix}-" if code_prefix else ""
    shown.append(
        OmittedDiagnostic(
            f"{prefix}too-many-errors",
            f"{' and '.join(counts)} not shown (only the first {limit} are reported)",
            Span(span.file, span.line, span.column),
            help or TOO_MANY_HELP,
            severity="error" if errors else "warning",
            errors=errors,
            warnings=warnings,
        )
    )
    return shown


@dataclass
class DiagnosticSink:
    """Collects diagnostics so that a stage can report every problem, not just the first.

    A diagnostic found twice is kept once, and past :data:`SINK_LIMIT` distinct ones the rest
    are only counted (an :class:`OmittedDiagnostic` at the end of :attr:`diagnostics`): a
    stage that finds a million problems in a hostile input holds thousands, not a million.
    """

    diagnostics: list[Diagnostic] = field(default_factory=list)
    _seen: set[Diagnostic] = field(default_factory=set, repr=False)
    _overflow: OmittedDiagnostic | None = field(default=None, repr=False)

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic in self._seen:
            return
        if len(self._seen) < SINK_LIMIT * max_reported() // MAX_REPORTED or isinstance(
            diagnostic, OmittedDiagnostic
        ):
            self._seen.add(diagnostic)
            self.diagnostics.append(diagnostic)
            return
        self._count_overflow(diagnostic)

    def _count_overflow(self, diagnostic: Diagnostic) -> None:
        previous = self._overflow
        warning = diagnostic.severity == "warning"
        errors = (previous.errors if previous else 0) + (not warning)
        warnings = (previous.warnings if previous else 0) + warning
        span = min(previous.span, diagnostic.span) if previous else diagnostic.span
        self._overflow = OmittedDiagnostic(
            "too-many-errors", "", span, errors=errors, warnings=warnings
        )
        if previous is not None:  # it is last but for a rare omitted one added since
            if self.diagnostics and self.diagnostics[-1] is previous:
                self.diagnostics.pop()  # not `remove`: 1,000 comparisons per counted one
            else:
                self.diagnostics.remove(previous)
        self.diagnostics.append(self._overflow)

    def error(self, code: str, message: str, span: Span, help: str = "", **extra: Any) -> None:
        self.add(Diagnostic(code=code, message=message, span=span, help=help, **extra))

    def raise_if_any(self, error_type: type[TosguardError]) -> None:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        if errors:
            raise error_type(errors)

    def __bool__(self) -> bool:
        return bool(self.diagnostics)


#: Suggestions are looked for among at most this many candidates, and for words this short.
_MAX_CANDIDATES = 2000
_MAX_WORD = 100


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``help:`` text suggesting the closest candidate, or listing the valid ones.

    Bounded: a very long word gets no suggestion, and of very many candidates only those of
    about the word's length are compared."""
    options = sorted(set(candidates))
    if len(word) > _MAX_WORD:
        close: list[str] = []
    else:
        pool = options
        if len(pool) > _MAX_CANDIDATES:
            pool = [o for o in pool if abs(len(o) - len(word)) <= 2][:_MAX_CANDIDATES]
        close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if options and len(options) <= 12:
        return "expected one of " + ", ".join(f"`{o}`" for o in options)
    return ""


# ---- source lines -----------------------------------------------------------------------------
# The line breaks of str.splitlines.
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_OTHER_BREAK = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_PIECE = 1 << 20  # characters split at once by _newline_bounds


def _newline_bounds(text: str) -> tuple[array, array]:
    """The start and end of every line of a text whose only line break is ``\n``, computed a
    piece of about a megabyte at a time by ``str.split`` and running sums in C (a Python
    step per line took half a second for a 100,000-source manifest)."""
    ends = array("q")
    position, size = 0, len(text)
    while True:
        cut = text.find("\n", position + _PIECE) if position + _PIECE < size else -1
        lines = (text[position:cut] if cut >= 0 else text[position:]).split("\n")
        # line k of the piece ends at position + (its length and those before it) + k breaks
        ends.extend(map(add, accumulate(map(len, lines)), range(position, position + len(lines))))
        if cut < 0:
            break
        position = cut + 1
    starts = array("q", [0])
    starts.extend(map(add, ends[:-1], repeat(1)))
    return starts, ends


class NewlineIndex:
    """1-based line and column of a character index, lines split at ``\\n`` only (as JSON and
    the policy grammar count them; :class:`LineTable` splits as ``str.splitlines`` does).

    >>> NewlineIndex("ab\\ncd").where(3)
    (2, 1)
    """

    __slots__ = ("starts",)

    def __init__(self, text: str):
        self.starts = [0, *(match.end() for match in re.finditer("\n", text))]

    def where(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1


def line_column(text: str, index: int) -> tuple[int, int]:
    """:meth:`NewlineIndex.where` for a single index, without building the index.

    >>> line_column("ab\\ncd", 3)
    (2, 1)
    """
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


class LineTable:
    """Where each line of a text starts and ends; lines split as ``str.splitlines`` does.

    Built in one pass; then a line, or a window of one, costs no more than its own length. The
    offsets are kept as machine integers (16 bytes a line, not 80: a manifest of a million
    sources has ten million lines).
    """

    __slots__ = ("text", "starts", "ends")

    def __init__(self, text: str):
        if _OTHER_BREAK.search(text) is None:
            starts, ends = _newline_bounds(text)
        else:
            starts, ends = array("q", [0]), array("q")
            for match in _LINE_BREAK.finditer(text):
                ends.append(match.start())
                starts.append(match.end())
            ends.append(len(text))
        if starts[-1] == len(text) and len(starts) > 1:  # a final line break ends the last line
            starts.pop()
            ends.pop()
        self.text, self.starts, self.ends = text, starts, ends

    def bounds(self, line: int) -> tuple[int, int] | None:
        """The start and end index of 1-based ``line`` (None when out of range)."""
        if 1 <= line <= len(self.starts):
            return self.starts[line - 1], self.ends[line - 1]
        return None

    def line(self, line: int) -> str:
        """The text of 1-based ``line`` (empty when out of range)."""
        bounds = self.bounds(line)
        return self.text[bounds[0] : bounds[1]] if bounds else ""

    def window(self, line: int, column: int) -> dict[str, Any]:
        """The ``source_line`` fields of a :class:`Diagnostic` at ``line`` and ``column``."""
        bounds = self.bounds(line)
        if bounds is None:
            return {"source_line": ""}
        return _window(self.text, bounds[0], bounds[1], column)


@functools.lru_cache(maxsize=4)
def line_table(text: str) -> LineTable:
    """The :class:`LineTable` of ``text``, kept for the last few texts: producers of many
    diagnostics look up lines of the same text over and over."""
    return LineTable(text)


def line_of(text: str, line: int) -> str:
    """The text of 1-based ``line`` in ``text`` (empty when out of range).

    >>> line_of("a\\nb\\r\\nc", 2), line_of("a", 3)
    ('b', '')
    """
    if line < 1 or not text:
        return ""
    return line_table(text).line(line)


def source_window(text: str, line: int, column: int) -> dict[str, Any]:
    """The keyword arguments ``source_line``, ``source_column`` and ``source_length`` of a
    :class:`Diagnostic` at 1-based ``line`` and ``column`` of ``text``: the whole line when it
    is short, else :data:`SOURCE_WINDOW` characters on each side of the column. Costs the size
    of the window, not of the line.

    >>> source_window("a: 1\\nb: " + "x" * 1000, 2, 600)["source_column"]
    520
    """
    if line < 1 or not text:
        return {"source_line": ""}
    return line_table(text).window(line, column)


def source_at(text: str, span: Span) -> dict[str, Any]:
    """:func:`source_window` at ``span``: ``Diagnostic(…, **source_at(text, span))``."""
    return source_window(text, span.line, span.column)


def _window(text: str, start: int, end: int, column: int) -> dict[str, Any]:
    length = end - start
    if length <= 2 * SOURCE_WINDOW:
        return {"source_line": text[start:end]}
    index = min(max(column - 1, 0), length)
    first = max(0, min(index - SOURCE_WINDOW, length - 2 * SOURCE_WINDOW))
    return {
        "source_line": text[start + first : start + first + 2 * SOURCE_WINDOW],
        "source_column": first + 1,
        "source_length": length,
    }


# ---- rendering --------------------------------------------------------------------------------
def render_human(diagnostics: Sequence[Diagnostic]) -> str:
    """Rust-style blocks: message, location arrow, source line with a caret, help line.

    User text is escaped (:func:`~tosguard.safetext.printable`); the caret stays under the
    column whatever precedes it on the line: tabs, wide characters or escapes."""
    blocks = []
    for d in diagnostics:
        lines = [
            f"{d.severity}[{d.code}]: {printable(d.message)}",
            f"  --> {printable(str(d.span))}",
        ]
        if d.source_line:
            number = str(d.span.line)
            pad = " " * len(number)
            text, caret, width = _caret_display(d)
            lines += [
                f"{pad} |",
                f"{number} | {text}",
                f"{pad} | {' ' * caret}{'^' * width}",
            ]
        if d.help:
            lines.append(f"  = help: {printable(d.help)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _char_width(char: str) -> int:
    """Columns a character takes on a terminal: 2 for wide East Asian characters, 0 for
    combining and other zero-width characters, else 1."""
    if char < "\u0300":
        return 1
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 2
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 1


def _caret_display(d: Diagnostic) -> tuple[str, int, int]:
    """The source window as shown (tabs expanded, escapes written out, clipped to
    :data:`SHOWN_WIDTH` columns around the caret with `…` where the line goes on), the caret's
    column in it, and the caret's width."""
    text = d.source_line
    index = min(max(d.span.column - d.source_column, 0), len(text))
    end = index + 1
    if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
        end = index + d.span.end_column - d.span.column
    pieces: list[str] = []
    widths: list[int] = []
    column = 0
    for char in text:
        if char == "\t":
            piece = " " * (4 - column % 4)
            width = len(piece)
        elif is_unsafe(char):
            piece = escape_char(char)
            width = len(piece)
        else:
            piece, width = char, _char_width(char)
        pieces.append(piece)
        widths.append(width)
        column += width
    caret = sum(widths[:index])
    caret_width = sum(widths[index:end])
    # Clip to SHOWN_WIDTH columns: as the old display did, about half of them before the caret.
    total = column
    first, last = 0, len(pieces)
    if total > SHOWN_WIDTH:
        skip = max(0, min(caret - SHOWN_WIDTH // 2, total - SHOWN_WIDTH))
        while first < len(pieces) and skip > 0:
            skip -= widths[first]
            first += 1
        shown = 0
        last = first
        while last < len(pieces) and shown + widths[last] <= SHOWN_WIDTH:
            shown += widths[last]
            last += 1
    before = sum(widths[:first])
    left = "…" if first > 0 or d.source_column > 1 else ""
    line_end = d.source_column - 1 + len(text)
    right = "…" if last < len(pieces) or (d.source_length and line_end < d.source_length) else ""
    shown_text = left + "".join(pieces[first:last]) + right
    caret = caret - before + len(left)
    visible = sum(widths[first:last]) + len(left)
    caret_width = max(1, min(caret_width, visible - caret))
    return shown_text, caret, caret_width


def render_plain(diagnostics: Sequence[Diagnostic]) -> str:
    """One line each: ``file:line:column: code: message`` (and ``help: …`` after ``;``)."""
    out = []
    for d in diagnostics:
        severity = "" if d.severity == "error" else f"{d.severity}: "
        text = f"{d.span}: {severity}{d.code}: {d.message}"
        if d.help:
            text += f" (help: {d.help})"
        out.append(printable(text))
    return "\n".join(out)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    """``{"errors": [...]}``; control characters are JSON escapes (:func:`json_safe`)."""
    return json_safe(
        json.dumps({"errors": [d.as_dict() for d in diagnostics]}, indent=2, ensure_ascii=False)
    )
