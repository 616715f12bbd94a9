"""Diagnostics: every error tosguard reports, with a stable code, a span and a help line.

Messages follow one style: a lowercase sentence without a trailing period, user input in
backticks, and a separate ``help:`` line. Errors are collected, sorted by location and shown
together; :class:`TosguardError` carries the whole list.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


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
    match on it; ``source_line`` is the text of the offending line, for the caret display.
    ``pointer`` is the JSON pointer of the manifest value concerned, when there is one.
    """

    code: str
    message: str
    span: Span
    help: str = ""
    source_line: str = ""
    pointer: str = ""
    severity: str = "error"

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
    """Base of every error the engine raises on bad input; holds one or more diagnostics."""

    def __init__(self, diagnostics: Diagnostic | Sequence[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(render_plain(self.diagnostics))


class PolicyError(TosguardError):
    """A policy file could not be read, parsed or checked."""


class ManifestError(TosguardError):
    """A usage manifest could not be read or validated."""


class UsageError(TosguardError):
    """The command line or API was called with arguments that do not fit."""


@dataclass
class DiagnosticSink:
    """Collects diagnostics so that a stage can report every problem, not just the first."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def error(self, code: str, message: str, span: Span, help: str = "", **extra: str) -> None:
        self.add(Diagnostic(code=code, message=message, span=span, help=help, **extra))

    def raise_if_any(self, error_type: type[TosguardError]) -> None:
        errors = [d for d in self.diagnostics if d.severity == "error"]
        if errors:
            raise error_type(errors)

    def __bool__(self) -> bool:
        return bool(self.diagnostics)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``help:`` text suggesting the closest candidate, or listing the valid ones."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    if options and len(options) <= 12:
        return "expected one of " + ", ".join(f"`{o}`" for o in options)
    return ""


def line_of(text: str, line: int) -> str:
    """The text of 1-based ``line`` in ``text`` (empty when out of range)."""
    if line < 1:
        return ""
    lines = text.splitlines()
    return lines[line - 1] if line <= len(lines) else ""


def render_human(diagnostics: Sequence[Diagnostic]) -> str:
    """Rust-style blocks: message, location arrow, source line with a caret, help line."""
    blocks = []
    for d in diagnostics:
        lines = [f"{d.severity}[{d.code}]: {d.message}", f"  --> {d.span}"]
        if d.source_line:
            number = str(d.span.line)
            pad = " " * len(number)
            text, offset = _clip_around(d.source_line.expandtabs(4),
                                        len(d.source_line[: max(d.span.column - 1, 0)]
                                            .expandtabs(4)))
            width = 1
            if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                width = d.span.end_column - d.span.column
            caret_col = offset
            width = max(1, min(width, len(text) - caret_col))
            lines += [
                f"{pad} |",
                f"{number} | {text}",
                f"{pad} | {' ' * caret_col}{'^' * width}",
            ]
        if d.help:
            lines.append(f"  = help: {d.help}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _clip_around(text: str, column: int, width: int = 100) -> tuple[str, int]:
    """Clip a long source line to a window around ``column``; returns the text shown and the
    caret's column within it."""
    if len(text) <= width:
        return text, column
    start = max(0, min(column - width // 2, len(text) - width))
    shown = text[start : start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(text) else ""
    return prefix + shown + suffix, column - start + len(prefix)


def render_plain(diagnostics: Sequence[Diagnostic]) -> str:
    """One line each: ``file:line:column: code: message`` (and ``help: …`` after ``;``)."""
    out = []
    for d in diagnostics:
        severity = "" if d.severity == "error" else f"{d.severity}: "
        text = f"{d.span}: {severity}{d.code}: {d.message}"
        if d.help:
            text += f" (help: {d.help})"
        out.append(text)
    return "\n".join(out)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps({"errors": [d.as_dict() for d in diagnostics]}, indent=2, ensure_ascii=False)
