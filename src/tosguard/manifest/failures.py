"""The problems found while reading a YAML or JSON document, and how each is worded.

A :class:`Failure` carries a diagnostic code, a message, a 1-based position, a help line and a
JSON pointer; :mod:`tosguard.manifest.yamlload` turns it into a
:class:`~tosguard.errors.ManifestError`. The functions here say, for the errors the YAML
parsers report in their own words (a long key, a bad escape, a lone surrogate), what tosguard
says instead, the same for libyaml and the pure-Python parser.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ..errors import line_table
from .pointers import PositionMap, escape_pointer

__all__ = [
    "DEPTH_HELP",
    "JSON_SURROGATE_HELP",
    "YAML_SURROGATE_HELP",
    "Failure",
    "escape_failure",
    "escape_range_failure",
    "line_column",
    "long_key_failure",
    "may_hold_surrogates",
    "reader_failure",
    "refuse_surrogates",
    "syntax_failure",
    "too_deep",
]

DEPTH_HELP = "flatten the structure; manifests need only a few levels"

_SYNTAX_HELP = {
    "mapping values are not allowed": "quote a value that contains `: `, or check the indentation",
    "cannot start any token": "indent with spaces (YAML does not allow tabs there), and quote "
    "values that start with `@`, `` ` `` or `%`",
    "could not find expected ':'": "each key needs a `:` after it; look for a missing colon or "
    "an unclosed quote",
    "did not find expected key": "check the indentation: keys of one mapping line up",
    "did not find expected '-' indicator": "check the indentation: items of one list line up",
    "did not find expected ',' or": "separate items with `,` and close every bracket",
    "did not find expected node content": "a value is missing: close the bracket that is still "
    "open, or write the value after the `,` or `:`",
    "found unexpected end of stream": "close the quote or bracket that is still open",
    "found unknown escape character": "inside double quotes, write a backslash as `\\\\`, or use "
    "single quotes",
}


class Failure(Exception):
    """One problem found while reading, with its 1-based position."""

    def __init__(
        self, code: str, message: str, line: int, column: int, help: str = "", pointer: str = ""
    ):
        super().__init__(message)
        self.code, self.message, self.help = code, message, help
        self.line, self.column, self.pointer = line, column, pointer


LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counting YAML's line breaks."""
    line, start = 1, 0
    for match in LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


# --------------------------------------------------------------------------------------------
# YAML


def too_deep(max_depth: int, line: int, column: int, pointer: str = "") -> Failure:
    return Failure(
        "manifest-too-deep",
        f"the document is nested more than {max_depth} levels deep",
        line,
        column,
        help=DEPTH_HELP,
        pointer=pointer,
    )


def syntax_failure(err: yaml.MarkedYAMLError) -> Failure:
    mark = err.problem_mark or err.context_mark
    problem = (err.problem or err.context or "invalid YAML").strip().rstrip(".")
    problem = problem[:1].lower() + problem[1:]
    help = next((h for key, h in _SYNTAX_HELP.items() if key in problem), "")
    context = err.context or ""
    if (
        context.startswith("while")
        and context != "while scanning for the next token"
        and err.context_mark is not None
    ):
        where = f"{context} that starts at line {err.context_mark.line + 1}"
        help = f"{help} ({where})" if help else where
    if mark is None:
        return Failure("manifest-syntax", problem, 0, 0, help=help)
    return Failure("manifest-syntax", problem, mark.line + 1, mark.column + 1, help=help)


_YAML_KEY_LIMIT = 1024  # YAML's limit on an implicit key, up to its `:`
_LONG_KEY_SCAN = 1 << 20  # characters of a line scanned again for a long key
_LONG_KEY_PROBLEMS = (
    "could not find expected ':'",
    "mapping values are not allowed",
    "did not find expected ',' or '}'",
    "expected ',' or '}', but got ':'",
)


class _LongKey(Exception):
    def __init__(self, index: int, length: int):
        super().__init__(index, length)
        self.index, self.length = index, length


class _KeyScanner(yaml.reader.Reader, yaml.scanner.Scanner):  # type: ignore[misc]
    """PyYAML's pure-Python scanner without the 1024-character limit on implicit keys; it
    raises :class:`_LongKey` at the first key that passes the limit."""

    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)

    def stale_possible_simple_keys(self) -> None:
        for level in list(self.possible_simple_keys):
            if self.possible_simple_keys[level].line != self.line:
                del self.possible_simple_keys[level]

    def fetch_value(self) -> None:
        key = self.possible_simple_keys.get(self.flow_level)
        if key is not None and self.index - key.index > _YAML_KEY_LIMIT:
            raise _LongKey(key.index, self.index - key.index)
        super().fetch_value()


def long_key_failure(text: str, err: yaml.MarkedYAMLError) -> Failure | None:
    """tosguard's own error for a key longer than YAML allows, where the parser reports it as
    a missing `:` (or, in a flow mapping or a list item, as a misplaced one).

    The same for both parsers: the lines the error concerns are scanned again, each alone,
    with PyYAML's pure-Python scanner freed of the limit, and the first key past the limit
    is reported at its own place. An implicit key lies on one line, so one line is enough."""
    problem = err.problem or ""
    if not any(problem.startswith(known) for known in _LONG_KEY_PROBLEMS):
        return None
    table = line_table(text)
    for mark in (err.context_mark, err.problem_mark):
        if mark is None:
            continue
        bounds = table.bounds(mark.line + 1)
        if bounds is None or bounds[1] - bounds[0] <= _YAML_KEY_LIMIT:
            continue
        start = bounds[0]
        end = min(bounds[1], start + _LONG_KEY_SCAN)
        try:
            scanner = _KeyScanner(text[start:end])
            while scanner.get_token() is not None:
                pass
        except _LongKey as found:
            column = found.index + 1
            return Failure(
                "manifest-syntax",
                f"the key is longer than YAML's {_YAML_KEY_LIMIT}-character limit for implicit "
                f"keys (it runs {found.length:,} characters up to its `:`)",
                mark.line + 1,
                column,
                help="shorten the key; or write it as an explicit key: `? ` before the key, "
                "and `: ` before its value on the next line",
            )
        except (yaml.YAMLError, ValueError):
            pass
    return None


# Escapes of a code point in a double-quoted YAML scalar or a JSON string.
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")
_SURROGATE_ESCAPE = re.compile(r"\\(?:u[dD][89a-fA-F]|U0000[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")
YAML_SURROGATE_HELP = (
    "write the character itself, or escape its code point, e.g. `\\U0001F600` for 😀; "
    "YAML has no surrogate pairs"
)
JSON_SURROGATE_HELP = (
    "write the character itself, or both halves of its surrogate pair, e.g. `\\ud83d\\ude00` for 😀"
)


def surrogate_failure(char: str, line: int, column: int, help: str) -> Failure:
    return Failure(
        "manifest-encoding",
        f"the string contains the lone surrogate U+{ord(char):04X}, which is not a character",
        line,
        column,
        help=help,
    )


def escape_failure(text: str, err: yaml.MarkedYAMLError) -> Failure | None:
    """libyaml's "invalid Unicode character escape code", said as the pure-Python parser's
    path says it: a surrogate at the start of its string, a code point past U+10FFFF at the
    escape."""
    if not (err.problem or "").startswith("found invalid Unicode character escape code"):
        return None
    mark, start = err.problem_mark, err.context_mark
    if mark is None or start is None:
        return None
    backslash = text.rfind("\\", max(0, mark.index - 3), mark.index + 1)
    escape = _ESCAPE.match(text, backslash) if backslash >= 0 else None
    if escape is None:
        return None
    code = int(next(group for group in escape.groups() if group), 16)
    if 0xD800 <= code <= 0xDFFF:
        return surrogate_failure(chr(code), start.line + 1, start.column + 1, YAML_SURROGATE_HELP)
    return escape_range_failure(text, backslash + 2)


def escape_range_failure(text: str, digits: int) -> Failure | None:
    """A ``\\U`` escape past U+10FFFF whose digits start at index ``digits``."""
    backslash = digits - 2
    escape = _ESCAPE.match(text, backslash) if backslash >= 0 else None
    if escape is None or int(next(g for g in escape.groups() if g), 16) <= 0x10FFFF:
        return None
    line, column = line_column(text, backslash)
    return Failure(
        "manifest-syntax",
        f"the escape `{escape.group()}` is not a character (the last is U+10FFFF)",
        line,
        column,
        help="check the escape's digits",
    )


def may_hold_surrogates(text: str) -> bool:
    """Whether ``text`` has an escape that could make a lone surrogate (fast when it has no
    escapes at all, as most manifests)."""
    if "\\u" not in text and "\\U" not in text:
        return False
    return _SURROGATE_ESCAPE.search(text) is not None


def refuse_surrogates(value: Any, positions: PositionMap, help: str) -> None:
    """Raise ``manifest-encoding`` at the first string (key or value, in document order) that
    holds a lone surrogate: no output could write it, and no policy could mean it."""
    # (pointer, string or collection, whether it is the key at pointer)
    pending: list[tuple[str, Any, bool]] = [("", value, False)]
    while pending:
        pointer, item, is_key = pending.pop()
        if item.__class__ is str:
            found = None if item.isascii() else _SURROGATE.search(item)
            if found is not None:
                where = pointer + "#key" if is_key else pointer
                line, column = positions.nearest(where) or (0, 0)
                raise surrogate_failure(found.group(), line, column, help)
        elif item.__class__ is dict:
            for key, child in reversed(item.items()):
                child_pointer = f"{pointer}/{escape_pointer(key)}"
                pending.append((child_pointer, child, False))
                pending.append((child_pointer, key, True))
        elif item.__class__ is list:
            pending.extend(
                (f"{pointer}/{index}", item[index], False) for index in range(len(item) - 1, -1, -1)
            )


def reader_failure(err: yaml.YAMLError, text: str) -> Failure:
    position = getattr(err, "position", None)
    line = column = 0
    if isinstance(position, int) and 0 <= position <= len(text):
        line, column = line_column(text, position)
    reason = getattr(err, "reason", None) or str(err)
    return Failure("manifest-syntax", f"the document cannot be read: {reason}", line, column)
