"""A strict YAML/JSON loader that remembers where every value came from.

:func:`load_document` returns plain Python values (dict, list, str, int, float, bool, None) and
a map from JSON pointer (RFC 6901) to the 1-based ``(line, column)`` where the value starts.
For the value of a mapping key, ``pointer + "#key"`` also maps to the position of the key.
The map is a :class:`PositionMap`: a read-only :class:`~collections.abc.Mapping` that keeps the
positions in a tree shaped like the document and walks it on lookup, because building a flat
dict of millions of pointer strings took longer than parsing a large manifest.

YAML is read from PyYAML's *event* stream (libyaml's C parser when available) and the values
are built here with an explicit stack, so that:

* deep nesting cannot overflow the Python stack: past ``max_depth`` the load stops with
  ``manifest-too-deep`` at the first node that is too deep;
* anchors and aliases are refused at the first anchor, before anything is expanded, so an
  alias bomb ("billion laughs") costs nothing;
* only plain (unquoted) scalars are resolved, and only to what YAML 1.2 (core schema) and
  YAML 1.1 agree on, so that no reader or writer of either version sees a different value:
  ``true``/``false`` (also ``True``, ``TRUE`` …) are booleans; ``null``/``~``/empty are None;
  ``[-+]?(0|[1-9][0-9]*)`` is an int; ``1.5``, ``2.``, ``.5``, ``1.5e+3``, ``.inf`` and ``.nan``
  are floats; everything else is a string. So YAML 1.1's ``yes``, ``no``, ``on``, ``off``,
  ``0o17``, ``1_000`` and dates are strings (``NO`` is Norway), and so are the forms the two
  versions read differently: ``010`` (octal 8 in 1.1, ten in 1.2), ``1e5`` and ``1.5e5`` (a
  string in 1.1; write ``1.5e+5``). Documents written by PyYAML's ``safe_dump`` read back equal;
* keys are always strings (``NO:`` is the key ``"NO"``, ``1:`` the key ``"1"``); a key that is a
  sequence or a mapping is an error, and so is a key that appears twice in one mapping;
* every explicit tag (``!!str``, ``!foo`` …) is refused with ``manifest-tag``: quoting a value
  is the way to make it a string, and refusing tags keeps the accepted language small;
* a stream must hold exactly one document, and it must not be empty.

JSON (``fmt="json"``, or a name ending in ``.json``) is first validated with :func:`json.loads`
(strict JSON: duplicate keys and ``NaN``/``Infinity`` are refused); those values are the result.
Positions come from running the YAML event reader over the same text. Where YAML reads the text
differently from JSON (a key over 1024 characters, a control character in a string, a surrogate
pair escape, or any difference in the values built), positions come instead from a small JSON
scanner in this module, so a JSON document always gets a position for every value.

Every problem becomes a :class:`~tosguard.errors.ManifestError`; no PyYAML exception escapes.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import yaml

from .. import util
from ..errors import (
    Diagnostic,
    ManifestError,
    NewlineIndex,
    Span,
    line_table,
    shorten,
    source_window,
)
from ..safetext import wide_encoding

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "PositionMap",
    "gc_paused",
    "escape_pointer",
    "load_document",
    "load_document_text",
    "unescape_pointer",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_GC_PAUSE_BYTES = 1 << 20  # pause the cyclic GC while building documents larger than this
_CParser: Any = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
_PARSER: Any = _CParser or yaml.SafeLoader

_PLAIN_CONSTANTS: dict[str, Any] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    ".inf": float("inf"),
    ".Inf": float("inf"),
    ".INF": float("inf"),
    "+.inf": float("inf"),
    "+.Inf": float("inf"),
    "+.INF": float("inf"),
    "-.inf": float("-inf"),
    "-.Inf": float("-inf"),
    "-.INF": float("-inf"),
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
}
_NUMBER_START = frozenset("-+.0123456789")
# Plain scalars that YAML 1.1 (as PyYAML reads it) and YAML 1.2 core both read as numbers.
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9]+(?:[eE][-+][0-9]+)?")
# JSON's numbers, used when the YAML reader is run over a JSON text for its positions.
_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_JSON_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# YAML's printable set (YAML 1.1 §5.1, as PyYAML's reader checks it).
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_NON_PRINTABLE_ASCII = bytes(c for c in range(128) if c not in (9, 10, 13) and not 32 <= c <= 126)
_MISSING = object()
_DEPTH_HELP = "flatten the structure; manifests need only a few levels"

_SYNTAX_HELP = {
    "mapping values are not allowed": "quote a value that contains `: `, or check the indentation",
    "cannot start any token": "indent with spaces (YAML does not allow tabs there), and quote "
    "values that start with `@`, `` ` `` or `%`",
    "could not find expected ':'": "each key needs a `:` after it; look for a missing colon or "
    "an unclosed quote",
    "did not find expected key": "check the indentation: keys of one mapping line up",
    "did not find expected '-' indicator": "check the indentation: items of one list line up",
    "did not find expected ',' or": "separate items with `,` and close every bracket",
    "found unexpected end of stream": "close the quote or bracket that is still open",
    "found unknown escape character": "inside double quotes, write a backslash as `\\\\`, or use "
    "single quotes",
}


def escape_pointer(token: str) -> str:
    """Escape one reference token for a JSON pointer (RFC 6901: ``~`` → ``~0``, ``/`` → ``~1``)."""
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def unescape_pointer(token: str) -> str:
    """Undo :func:`escape_pointer`."""
    if "~" in token:
        return token.replace("~1", "/").replace("~0", "~")
    return token


# An entry is (line, column, key_line, key_column, children): key_line is 0 where the value is
# not the value of a mapping key; children is None for a scalar, a dict key -> entry for a
# mapping and a list of entries for a sequence.
_Entry = tuple[int, int, int, int, Any]
_DEFERRED: Any = type("Deferred", (), {"__repr__": lambda self: "<deferred>"})()


class PositionMap(Mapping[str, tuple[int, int]]):
    """JSON pointer → 1-based ``(line, column)``, for every value of one document.

    ``pointer + "#key"`` gives the position of the key of a mapping member. Lookups walk a
    tree shaped like the document, so they cost one step per pointer token.

    >>> _, positions = load_document(b"a:\\n  b: [x, y]\\n", "doc.yaml")
    >>> positions["/a/b/1"], positions["/a/b#key"], positions.nearest("/a/b/7/c")
    ((2, 10), (2, 3), (2, 6))
    >>> list(positions)
    ['', '/a', '/a#key', '/a/b', '/a/b#key', '/a/b/0', '/a/b/1']
    """

    __slots__ = ("_root", "_complete")

    def __init__(
        self, root: _Entry | None = None, complete: Callable[[], PositionMap] | None = None
    ):
        self._root = root
        # Set when the tree is partial: entries whose children are _DEFERRED were not read;
        # the first lookup that needs them reads the whole document with `complete`.
        self._complete = complete

    def _expand(self) -> None:
        if self._complete is not None:
            self._root, self._complete = self._complete()._root, None

    def _walk(self, pointer: str) -> _Entry | None:
        entry = self._root
        if entry is None or pointer == "":
            return entry
        if pointer[0] != "/":
            return None
        for token in pointer[1:].split("/"):
            children = entry[4]
            if children is None:
                return None
            if children is _DEFERRED:
                self._expand()
                return self._walk(pointer)
            if children.__class__ is dict:
                entry = children.get(unescape_pointer(token))
                if entry is None:
                    return None
            else:
                if not (token.isascii() and token.isdigit()) or (token[0] == "0" and token != "0"):
                    return None
                index = int(token)
                if index >= len(children):
                    return None
                entry = children[index]
        return entry

    def _position(self, pointer: str) -> tuple[int, int] | None:
        entry = self._walk(pointer)
        if entry is not None:
            return entry[0], entry[1]
        if pointer.endswith("#key"):
            entry = self._walk(pointer[:-4])
            if entry is not None and entry[2]:
                return entry[2], entry[3]
        return None

    def nearest_path(self, tokens: tuple[Any, ...], key: bool = False) -> tuple[int, int] | None:
        """Like :meth:`nearest` for the pointer of ``tokens`` (keys and indexes, as in a
        pydantic error's ``loc``), or with ``key`` for ``pointer#key``; without building the
        pointer (used for many errors)."""
        entry = self._root
        if entry is None:
            return None
        found = entry
        for token in tokens:
            children = found[4]
            if children is _DEFERRED:
                self._expand()
                return self.nearest_path(tokens, key)
            if children.__class__ is dict:
                child = children.get(token) if token.__class__ is str else None
            elif children is not None and token.__class__ is int and 0 <= token < len(children):
                child = children[token]
            else:
                child = None
            if child is None:
                return found[0], found[1]
            parent, found = found, child
        if key and tokens:
            return (found[2], found[3]) if found[2] else (parent[0], parent[1])
        return found[0], found[1]

    def __getitem__(self, pointer: str) -> tuple[int, int]:
        position = self._position(pointer) if isinstance(pointer, str) else None
        if position is None:
            raise KeyError(pointer)
        return position

    def __contains__(self, pointer: object) -> bool:
        return isinstance(pointer, str) and self._position(pointer) is not None

    def nearest(self, pointer: str) -> tuple[int, int] | None:
        """The position of ``pointer``, or of its nearest ancestor that has one."""
        while True:
            position = self._position(pointer)
            if position is not None or not pointer:
                return position
            pointer = pointer[: max(pointer.rfind("/"), 0)]

    def __iter__(self) -> Iterator[str]:
        self._expand()
        if self._root is None:
            return
        stack: list[tuple[str, _Entry]] = [("", self._root)]
        while stack:
            pointer, entry = stack.pop()
            yield pointer
            if entry[2]:
                yield pointer + "#key"
            children = entry[4]
            if children.__class__ is dict:
                stack.extend(
                    (f"{pointer}/{escape_pointer(key)}", child)
                    for key, child in reversed(children.items())
                )
            elif children is not None:
                stack.extend(
                    (f"{pointer}/{index}", children[index])
                    for index in range(len(children) - 1, -1, -1)
                )

    def __len__(self) -> int:
        self._expand()
        count = 0
        stack = [self._root] if self._root is not None else []
        while stack:
            entry = stack.pop()
            count += 2 if entry[2] else 1
            children = entry[4]
            if children.__class__ is dict:
                stack.extend(children.values())
            elif children is not None:
                stack.extend(children)
        return count

    def __repr__(self) -> str:
        return f"PositionMap({len(self)} positions)"


class _Failure(Exception):
    """One problem found while reading, with its 1-based position."""

    def __init__(
        self, code: str, message: str, line: int, column: int, help: str = "", pointer: str = ""
    ):
        super().__init__(message)
        self.code, self.message, self.help = code, message, help
        self.line, self.column, self.pointer = line, column, pointer


def load_document(
    data: bytes | str,
    name: str,
    fmt: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[Any, PositionMap]:
    """Read one YAML or JSON document; return its value and the positions of its values.

    ``fmt`` is ``"yaml"`` or ``"json"``; by default a name ending in ``.json`` is JSON and
    anything else YAML. Raises :class:`ManifestError` for every problem (codes
    ``manifest-too-large``, ``manifest-encoding``, ``manifest-syntax``, ``manifest-alias``,
    ``manifest-tag``, ``manifest-duplicate-key``, ``manifest-invalid-key``,
    ``manifest-too-deep``, ``manifest-multiple-documents``, ``manifest-empty``,
    ``manifest-format``).

    >>> value, positions = load_document(b"country: NO\\nusers: [1, 2]\\n", "m.yaml")
    >>> value
    {'country': 'NO', 'users': [1, 2]}
    >>> positions["/users/1"], positions["/users#key"]
    ((2, 12), (2, 1))
    """
    value, positions, _ = load_document_text(
        data, name, fmt, max_bytes=max_bytes, max_depth=max_depth
    )
    return value, positions


def load_document_text(
    data: bytes | str,
    name: str,
    fmt: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[Any, PositionMap, str]:
    """Like :func:`load_document`, and also return the decoded text (BOM removed)."""
    text = ""
    try:
        kind = _format_of(name, fmt)
        text = _decode(data, max_bytes)
        with gc_paused(len(text)):
            if kind == "json":
                value, positions = _load_json(text, max_depth)
            else:
                _check_printable(text)
                value, positions = _load_yaml(text, max_depth)
        return value, positions, text
    except _Failure as failure:
        raise ManifestError(_diagnostic(failure, name, text)) from None
    except (RecursionError, MemoryError) as exc:  # pragma: no cover - defensive
        deep = isinstance(exc, RecursionError)
        raise ManifestError(
            Diagnostic(
                code="manifest-too-deep" if deep else "manifest-too-large",
                message=f"the document is too {'deeply nested' if deep else 'large'} to read",
                span=Span(name),
                help="split the document or simplify its structure",
            )
        ) from None


def gc_paused(size: int) -> contextlib.AbstractContextManager[None]:
    """Pause the cyclic GC while building a document larger than 1 MiB: building millions of
    containers triggers many collections that find nothing (the values hold no cycles)."""
    return util.gc_paused(size >= _GC_PAUSE_BYTES)


def _diagnostic(failure: _Failure, name: str, text: str) -> Diagnostic:
    return Diagnostic(
        code=failure.code,
        message=failure.message,
        span=Span(name, failure.line, failure.column),
        help=failure.help,
        pointer=failure.pointer,
        **(source_window(text, failure.line, failure.column) if failure.line else {}),
    )


def _format_of(name: str, fmt: str | None) -> str:
    if fmt is None:
        return "json" if name.lower().endswith(".json") else "yaml"
    kind = fmt.lower()
    if kind in ("yaml", "yml"):
        return "yaml"
    if kind == "json":
        return "json"
    raise _Failure(
        "manifest-format", f"unknown document format `{fmt}`", 0, 0, help="use `yaml` or `json`"
    )


# --------------------------------------------------------------------------------------------
# bytes -> text


def _decode(data: bytes | str, max_bytes: int) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise _Failure(
            "manifest-too-large",
            f"the document is {len(data):,} bytes, more than the limit of {max_bytes:,}",
            0,
            0,
            help="split the manifest, or raise the limit if this size is expected",
        )
    if b"\x00" in data[:4096] or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # UTF-16 or UTF-32 (with or without a byte-order mark): say so, rather than report
        # an invalid byte, or (without a mark: NUL bytes are valid UTF-8) a syntax error.
        wide = wide_encoding(data)
        if wide is not None:
            raise _Failure("manifest-encoding", wide.message(), 1, 1, help=wide.help)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8", "replace")
        line, column = _line_column(before, len(before))
        raise _Failure(
            "manifest-encoding",
            f"invalid UTF-8 byte `0x{data[err.start]:02x}`",
            line,
            column,
            help="save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _check_printable(text: str) -> None:
    """Refuse characters YAML does not allow, with their exact position."""
    if text.isascii():
        raw = text.encode("ascii")
        if not raw.translate(None, delete=bytes(range(32, 127)) + b"\t\n\r"):
            return
        index = min(raw.find(bytes([c])) for c in _NON_PRINTABLE_ASCII if bytes([c]) in raw)
    else:
        match = _NON_PRINTABLE.search(text)
        if match is None:
            return
        index = match.start()
    line, column = _line_column(text, index)
    char = text[index]
    raise _Failure(
        "manifest-syntax",
        f"the character U+{ord(char):04X} is not allowed in a YAML document",
        line,
        column,
        help="remove it; inside double quotes it can be written as an escape "
        f"such as `\\u{ord(char):04x}`"
        if ord(char) <= 0xFFFF
        else "remove it",
    )


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``, counting YAML's line breaks."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


# --------------------------------------------------------------------------------------------
# YAML


def _load_yaml(text: str, max_depth: int, json_numbers: bool = False) -> tuple[Any, PositionMap]:
    parser = None
    try:
        parser = _PARSER(text)  # the pure-Python reader checks characters here
        value, positions = _build(parser.get_event, max_depth, json_numbers)
    except yaml.MarkedYAMLError as err:
        if _is_nesting_limit(err):
            raise _nesting_failure(text, err, max_depth, json_numbers) from None
        raise (
            _long_key_failure(text, err) or _escape_failure(text, err) or _syntax_failure(err)
        ) from None
    except yaml.YAMLError as err:
        raise _reader_failure(err, text) from None
    except ValueError as err:
        # PyYAML's pure-Python scanner calls chr() on a `\U` escape beyond U+10FFFF.
        failure = _escape_range_failure(text, parser.get_mark().index) if parser else None
        raise failure or _Failure(
            "manifest-syntax", f"the document cannot be read: {err}", 0, 0
        ) from None
    except (RecursionError, MemoryError) as err:
        raise _Failure("manifest-syntax", f"the document cannot be read: {err}", 0, 0) from None
    finally:
        if parser is not None:
            parser.dispose()
    if not json_numbers and _may_hold_surrogates(text):
        # libyaml refuses a surrogate escape in a double-quoted scalar; the pure-Python parser
        # reads it as a lone surrogate, found here so that both parsers fail alike.
        _refuse_surrogates(value, positions, _YAML_SURROGATE_HELP)
    return value, positions


_LIBYAML_NESTING = "exceeded maximum nesting depth"


def _is_nesting_limit(err: yaml.MarkedYAMLError) -> bool:
    return (err.problem or "").startswith(_LIBYAML_NESTING) and err.problem_mark is not None


def _nesting_failure(
    text: str, err: yaml.MarkedYAMLError, max_depth: int, json_numbers: bool
) -> _Failure:
    """tosguard's own depth error where libyaml stopped at its nesting limit first.

    libyaml refuses flow nesting deeper than 1000, and because every ``[`` may start an implicit
    key its scanner reads a dense run of openers ahead of the events, so it can raise before
    :func:`_build` has seen the level that passes ``max_depth``. Reading again only the text
    before the place libyaml stopped gives the same events up to that point (an implicit key
    is decided within 1024 characters, and none that encloses a level libyaml counted there
    could be that short), so :func:`_build` then fails exactly where, and as, it does with
    the pure-Python parser, which has no such limit.
    """
    mark = err.problem_mark
    parser = _PARSER(text[: mark.index])
    try:
        _build(parser.get_event, max_depth, json_numbers)
    except _Failure as failure:
        return failure
    except yaml.YAMLError:
        pass
    finally:
        parser.dispose()
    return _too_deep(max_depth, mark.line + 1, mark.column + 1)


def _too_deep(max_depth: int, line: int, column: int, pointer: str = "") -> _Failure:
    return _Failure(
        "manifest-too-deep",
        f"the document is nested more than {max_depth} levels deep",
        line,
        column,
        help=_DEPTH_HELP,
        pointer=pointer,
    )


def _syntax_failure(err: yaml.MarkedYAMLError) -> _Failure:
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
        return _Failure("manifest-syntax", problem, 0, 0, help=help)
    return _Failure("manifest-syntax", problem, mark.line + 1, mark.column + 1, help=help)


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


def _long_key_failure(text: str, err: yaml.MarkedYAMLError) -> _Failure | None:
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
            return _Failure(
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
_YAML_SURROGATE_HELP = (
    "write the character itself, or escape its code point, e.g. `\\U0001F600` for 😀; "
    "YAML has no surrogate pairs"
)
_JSON_SURROGATE_HELP = (
    "write the character itself, or both halves of its surrogate pair, e.g. `\\ud83d\\ude00` for 😀"
)


def _surrogate_failure(char: str, line: int, column: int, help: str) -> _Failure:
    return _Failure(
        "manifest-encoding",
        f"the string contains the lone surrogate U+{ord(char):04X}, which is not a character",
        line,
        column,
        help=help,
    )


def _escape_failure(text: str, err: yaml.MarkedYAMLError) -> _Failure | None:
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
        return _surrogate_failure(chr(code), start.line + 1, start.column + 1, _YAML_SURROGATE_HELP)
    return _escape_range_failure(text, backslash + 2)


def _escape_range_failure(text: str, digits: int) -> _Failure | None:
    """A ``\\U`` escape past U+10FFFF whose digits start at index ``digits``."""
    backslash = digits - 2
    escape = _ESCAPE.match(text, backslash) if backslash >= 0 else None
    if escape is None or int(next(g for g in escape.groups() if g), 16) <= 0x10FFFF:
        return None
    line, column = _line_column(text, backslash)
    return _Failure(
        "manifest-syntax",
        f"the escape `{escape.group()}` is not a character (the last is U+10FFFF)",
        line,
        column,
        help="check the escape's digits",
    )


def _may_hold_surrogates(text: str) -> bool:
    """Whether ``text`` has an escape that could make a lone surrogate (fast when it has no
    escapes at all, as most manifests)."""
    if "\\u" not in text and "\\U" not in text:
        return False
    return _SURROGATE_ESCAPE.search(text) is not None


def _refuse_surrogates(value: Any, positions: PositionMap, help: str) -> None:
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
                raise _surrogate_failure(found.group(), line, column, help)
        elif item.__class__ is dict:
            for key, child in reversed(item.items()):
                child_pointer = f"{pointer}/{escape_pointer(key)}"
                pending.append((child_pointer, child, False))
                pending.append((child_pointer, key, True))
        elif item.__class__ is list:
            pending.extend(
                (f"{pointer}/{index}", item[index], False) for index in range(len(item) - 1, -1, -1)
            )


def _reader_failure(err: yaml.YAMLError, text: str) -> _Failure:
    position = getattr(err, "position", None)
    line = column = 0
    if isinstance(position, int) and 0 <= position <= len(text):
        line, column = _line_column(text, position)
    reason = getattr(err, "reason", None) or str(err)
    return _Failure("manifest-syntax", f"the document cannot be read: {reason}", line, column)


def _build(
    get_event: Callable[[], Any], max_depth: int, json_numbers: bool = False
) -> tuple[Any, PositionMap]:
    """Build values and positions from the event stream, without recursion.

    This loop runs once per YAML node, millions of times for a large manifest, so it keeps its
    state in local variables and does no more per event than it must.
    """
    scalar_event, mapping_start, sequence_start = (
        yaml.ScalarEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    plain_constants, number_start, missing = _PLAIN_CONSTANTS, _NUMBER_START, _MISSING
    int_match, float_match = (
        (_JSON_INT.fullmatch, _JSON_FLOAT.fullmatch)
        if json_numbers
        else (_INT.fullmatch, _FLOAT.fullmatch)
    )

    get_event()  # StreamStart
    event = get_event()
    if event.__class__ is yaml.StreamEndEvent:
        raise _Failure(
            "manifest-empty",
            "the document is empty",
            1,
            1,
            help="a manifest starts with `tosguard: 1`",
        )
    root: Any = missing
    root_entry: _Entry | None = None
    # Enclosing collections: (container, its entries, is it a mapping, its token in its parent).
    stack: list[tuple[Any, Any, bool, Any]] = []
    # The innermost open collection, and for a mapping the key awaiting its value.
    current: Any = None
    entries: Any = None
    in_mapping = False
    token: Any = None
    key: Any = missing
    key_line = key_column = 0
    children: Any = None
    mark: Any = None

    while True:
        event = get_event()
        cls = event.__class__
        if cls is scalar_event:
            if event.anchor is not None or event.tag is not None:
                _refuse_node(event, _pointer(stack, token))
            mark = event.start_mark
            value = event.value
            if in_mapping and key is missing:
                if value in current:
                    _duplicate_key(value, entries[value], mark, _pointer(stack, token))
                key, key_line, key_column = value, mark.line + 1, mark.column + 1
                continue
            if not event.style:  # plain: resolve; quoted and block scalars stay strings
                resolved = plain_constants.get(value, missing)
                if resolved is not missing:
                    value = resolved
                elif value[0] in number_start:
                    if int_match(value):
                        value = _to_int(value, mark)
                    elif float_match(value):
                        value = float(value)
            children = None
        elif cls is mapping_start or cls is sequence_start:
            if event.anchor is not None or event.tag is not None:
                _refuse_node(event, _pointer(stack, token))
            mark = event.start_mark
            if in_mapping and key is missing:
                raise _Failure(
                    "manifest-invalid-key",
                    "a key must be a plain value, not a list or a mapping",
                    mark.line + 1,
                    mark.column + 1,
                    help="write the key as a string",
                    pointer=_pointer(stack, token),
                )
            if current is not None and len(stack) + 1 >= max_depth:
                raise _too_deep(max_depth, mark.line + 1, mark.column + 1, _pointer(stack, token))
            if cls is mapping_start:
                value, children = {}, {}
            else:
                value, children = [], []
        elif cls is mapping_end or cls is sequence_end:
            if stack:
                current, entries, in_mapping, token = stack.pop()
            else:
                current = None
            continue
        elif cls is yaml.AliasEvent:
            _refuse_node(event, _pointer(stack, token))
        elif cls is yaml.DocumentEndEvent:
            break
        else:  # pragma: no cover - the parser emits nothing else inside a document
            continue

        # Attach the value to the open collection (or make it the root), with its position.
        if current is None:
            root = value
            root_entry = (mark.line + 1, mark.column + 1, 0, 0, children)
        elif in_mapping:
            current[key] = value
            entries[key] = (mark.line + 1, mark.column + 1, key_line, key_column, children)
            child_token = key
            key = missing
        else:
            child_token = len(current)
            current.append(value)
            entries.append((mark.line + 1, mark.column + 1, 0, 0, children))
        if children is not None:
            if current is None:
                child_token = None
            else:
                stack.append((current, entries, in_mapping, token))
            current, entries, in_mapping, token = value, children, cls is mapping_start, child_token

    event = get_event()
    if event.__class__ is yaml.DocumentStartEvent:
        mark = event.start_mark
        raise _Failure(
            "manifest-multiple-documents",
            "the stream holds more than one YAML document",
            mark.line + 1,
            mark.column + 1,
            help="a manifest is one document; remove the `---` and what follows, "
            "or split it into several files",
        )
    if root is None or root_entry is None:
        line, column = root_entry[:2] if root_entry else (1, 1)
        raise _Failure(
            "manifest-empty",
            "the document is empty",
            line,
            column,
            help="a manifest starts with `tosguard: 1`",
        )
    return root, PositionMap(root_entry)


def _pointer(stack: list[tuple[Any, Any, bool, Any]], token: Any) -> str:
    """The pointer of the innermost open collection (only computed for error messages)."""
    tokens = [frame[3] for frame in stack[1:]]
    if stack:
        tokens.append(token)
    return "".join("/" + escape_pointer(str(t)) for t in tokens)


def _to_int(text: str, mark: Any) -> int:
    try:
        return int(text)
    except ValueError:
        raise _Failure(
            "manifest-syntax",
            f"the number `{text[:20]}…` has too many digits ({len(text)})",
            mark.line + 1,
            mark.column + 1,
            help="write it as a string in quotes",
        ) from None


def _refuse_node(event: Any, pointer: str) -> NoReturn:
    mark = event.start_mark
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        sigil = "*" if isinstance(event, yaml.AliasEvent) else "&"
        raise _Failure(
            "manifest-alias",
            "anchors and aliases are not allowed in manifests "
            f"(found `{sigil}{shorten(event.anchor)}`)",
            mark.line + 1,
            mark.column + 1,
            help="write the value out in full; aliases can expand to huge documents (alias bombs)",
            pointer=pointer,
        )
    raise _Failure(
        "manifest-tag",
        f"explicit tags are not allowed in manifests (found `{shorten(_short_tag(event.tag))}`)",
        mark.line + 1,
        mark.column + 1,
        help="remove the tag; put a value in quotes to make it a string",
        pointer=pointer,
    )


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _duplicate_key(key: str, first: _Entry, mark: Any, container_pointer: str) -> NoReturn:
    raise _Failure(
        "manifest-duplicate-key",
        f"duplicate key `{shorten(key)}`",
        mark.line + 1,
        mark.column + 1,
        help=f"`{shorten(key)}` is already set on line {first[2]}; remove one of them",
        pointer=container_pointer + "/" + escape_pointer(key),
    )


# --------------------------------------------------------------------------------------------
# JSON


class _JsonProblem(Exception):
    pass


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _JsonProblem("duplicate key")
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise _JsonProblem(name)


_JSON_EMPTY_HELP = 'a manifest starts with `{"tosguard": 1`'


def _load_json(text: str, max_depth: int) -> tuple[Any, PositionMap]:
    try:
        value = json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        if err.msg == "Expecting value" and not text.strip():
            raise _Failure(
                "manifest-empty", "the document is empty", 1, 1, help=_JSON_EMPTY_HELP
            ) from None
        raise _json_syntax_failure(err, text) from None
    except (_JsonProblem, RecursionError, ValueError, MemoryError):
        # Duplicate keys, NaN/Infinity, too deep, or a number too long: find it and its place.
        _scan_json(text, max_depth)
        raise _Failure(
            "manifest-too-deep",
            "the JSON document is nested too deeply to read",
            0,
            0,
            help=_DEPTH_HELP,
        ) from None
    if value is None:
        raise _Failure("manifest-empty", "the document is empty", 1, 1, help=_JSON_EMPTY_HELP)
    positions = _json_positions(text, value, max_depth)
    if positions is None:
        positions = _full_json_positions(text, max_depth)
    if _may_hold_surrogates(text):  # json.loads reads a lone `\ud800` as a lone surrogate
        _refuse_surrogates(value, positions, _JSON_SURROGATE_HELP)
    return value, positions


# Line breaks YAML counts and JSON does not (a raw one can only be whitespace in JSON).
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_scan_value = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def _json_positions(text: str, value: Any, max_depth: int) -> PositionMap | None:
    """Positions for a JSON object :func:`json.loads` accepted (``value``), read lazily: the
    top-level members and the elements of top-level arrays (a manifest's sections and its
    sources: what a report points at) now, each skipped over by the C scanner; the rest only
    if a lookup needs it (an error, ``explain``), with the full reader. None where this does
    not apply (not an object, line breaks other than ``\\n``, nesting near ``max_depth``):
    the callers' full readers then give the positions or the error."""
    if (
        value.__class__ is not dict
        or _OTHER_BREAKS.search(text)
        or _deeper_than(value, max_depth - 2)
    ):
        return None
    where = NewlineIndex(text).where

    skip = _skip_json_whitespace
    scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
    index = skip(text, 0)
    root_line, root_column = where(index)
    members: dict[str, _Entry] = {}
    index = skip(text, index + 1)
    while text[index] == '"':
        key_line, key_column = where(index)
        key, index = scanstring(text, index + 1, True)
        index = skip(text, skip(text, index) + 1)  # past the colon
        line, column = where(index)
        if text[index] == "[":
            elements: list[_Entry] = []
            index = skip(text, index + 1)
            while text[index] != "]":
                deferred = _DEFERRED if text[index] in "{[" else None
                elements.append((*where(index), 0, 0, deferred))
                index = skip(text, _scan_value(text, index)[1])
                if text[index] == ",":
                    index = skip(text, index + 1)
            members[key] = (line, column, key_line, key_column, elements)
            index += 1
        else:
            deferred = _DEFERRED if text[index] == "{" else None
            members[key] = (line, column, key_line, key_column, deferred)
            index = _scan_value(text, index)[1]
        index = skip(text, index)
        if text[index] == ",":
            index = skip(text, index + 1)
    root = (root_line, root_column, 0, 0, members)
    return PositionMap(root, complete=lambda: _full_json_positions(text, max_depth))


def _deeper_than(value: Any, depth: int) -> bool:
    """Whether ``value`` nests collections more than ``depth`` levels deep."""
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if level > depth:
            return True
        children = item.values() if item.__class__ is dict else item
        pending.extend(
            (child, level + 1)
            for child in children
            if child.__class__ is dict or child.__class__ is list
        )
    return False


def _full_json_positions(text: str, max_depth: int) -> PositionMap:
    """Every position of a valid JSON text: from the YAML reader when it reads the text as
    the same value (it is faster), else from :class:`_JsonScanner`."""
    try:
        yaml_value, positions = _load_yaml(text, max_depth, json_numbers=True)
        if yaml_value == json.loads(text):
            return positions
    except _Failure:
        pass
    return _scan_json(text, max_depth)


def _json_syntax_failure(err: json.JSONDecodeError, text: str) -> _Failure:
    char = text[err.pos] if 0 <= err.pos < len(text) else ""
    if char and char < " " and char not in "\t\n\r":
        return _Failure(
            "manifest-syntax",
            f"invalid JSON: the control character U+{ord(char):04X} is not allowed here",
            err.lineno,
            err.colno,
            help="remove it; inside a string it can be written as an escape such as "
            f"`\\u{ord(char):04x}`",
        )
    message = err.msg.replace("'", "`")
    message = message[:1].lower() + message[1:]
    help = "check for a missing comma, quote or bracket, or a trailing comma"
    if err.msg == "Extra data":
        message, help = "extra data after the JSON value", "a manifest is one JSON object"
    return _Failure("manifest-syntax", f"invalid JSON: {message}", err.lineno, err.colno, help=help)


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_JSON_WORDS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")


class _JsonScanner:
    """Positions of every value of a JSON text, and its strict-JSON problems, without recursion.

    Slower than :func:`json.loads`, and not a full validator (the text has been through
    :func:`json.loads` first); used where the YAML reader cannot give positions, and to locate
    the problems :func:`json.loads` reports without a position.
    """

    def __init__(self, text: str, max_depth: int):
        self.text, self.max_depth = text, max_depth
        self.where = NewlineIndex(text).where
        self.skip = _skip_json_whitespace
        self.scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
        self.digit_limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        # Open collections: [entries (dict or list), token in parent, current key, key line,
        # key column].
        self.stack: list[list[Any]] = []

    def fail(
        self, code: str, message: str, index: int, help: str = "", pointer: str = ""
    ) -> NoReturn:
        raise _Failure(code, message, *self.where(index), help=help, pointer=pointer)

    def pointer(self) -> str:
        tokens = [frame[1] for frame in self.stack[1:]]
        return "".join("/" + escape_pointer(str(t)) for t in tokens)

    def run(self) -> PositionMap:
        text, stack = self.text, self.stack
        index = self.skip(text, 0)
        root: _Entry | None = None
        while True:
            # A value starts at `index`.
            if index >= len(text):
                self.fail("manifest-syntax", "invalid JSON: expecting a value", index)
            char = text[index]
            line, column = self.where(index)
            children: Any = None
            if char == "{" or char == "[":
                if len(stack) >= self.max_depth:
                    raise _too_deep(self.max_depth, *self.where(index), self.pointer())
                children = {} if char == "{" else []
                index += 1
            elif char == '"':
                index = self.string_end(index)
            else:
                index = self.scalar_end(index)
            # Attach the entry.
            if not stack:
                root = (line, column, 0, 0, children)
                token: Any = None
            else:
                frame = stack[-1]
                if frame[0].__class__ is dict:
                    token = frame[2]
                    frame[0][token] = (line, column, frame[3], frame[4], children)
                else:
                    token = len(frame[0])
                    frame[0].append((line, column, 0, 0, children))
            if children is not None:
                stack.append([children, token, None, 0, 0])
                index = self.skip(text, index)
                if index < len(text) and text[index] == ("}" if char == "{" else "]"):
                    index += 1
                    stack.pop()
                elif char == "{":
                    index = self.key(index)
                    continue
                else:
                    continue
            # After a value: close collections, or move on to the next member.
            while True:
                index = self.skip(text, index)
                if not stack:
                    if index < len(text):
                        self.fail(
                            "manifest-syntax",
                            "invalid JSON: extra data after the JSON value",
                            index,
                        )
                    return PositionMap(root)
                is_mapping = stack[-1][0].__class__ is dict
                char = text[index] if index < len(text) else ""
                if char == ",":
                    index = self.skip(text, index + 1)
                    if is_mapping:
                        index = self.key(index)
                    break
                if char == ("}" if is_mapping else "]"):
                    index += 1
                    stack.pop()
                    continue
                self.fail(
                    "manifest-syntax", "invalid JSON: expecting `,` or a closing bracket", index
                )

    def string_end(self, index: int) -> int:
        try:
            return int(self.scanstring(self.text, index + 1, True)[1])
        except ValueError:  # JSONDecodeError is a ValueError
            self.fail("manifest-syntax", "invalid JSON string", index)

    def scalar_end(self, index: int) -> int:
        text = self.text
        match = _JSON_NUMBER.match(text, index)
        if match is not None:
            digits = len(re.split("[.eE]", match.group().lstrip("-"))[0])
            if self.digit_limit and digits > self.digit_limit:
                self.fail(
                    "manifest-syntax",
                    f"the number `{match.group()[:20]}…` has too many digits ({digits})",
                    index,
                    help="write it as a string in quotes",
                )
            return match.end()
        for word in _JSON_WORDS:
            if text.startswith(word, index):
                if word not in ("true", "false", "null"):
                    self.fail(
                        "manifest-syntax",
                        f"`{word}` is not a valid JSON value",
                        index,
                        help="JSON has no NaN or infinity; use a number, a string or null",
                    )
                return index + len(word)
        self.fail("manifest-syntax", "invalid JSON: expecting a value", index)

    def key(self, index: int) -> int:
        """Read `"key":` at ``index`` into the open mapping; return where its value starts."""
        text, frame = self.text, self.stack[-1]
        if index >= len(text) or text[index] != '"':
            self.fail("manifest-syntax", "invalid JSON: expecting a key in double quotes", index)
        try:
            key, end = self.scanstring(text, index + 1, True)
        except ValueError:
            self.fail("manifest-syntax", "invalid JSON string", index)
        line, column = self.where(index)
        if key in frame[0]:
            first_line = frame[0][key][2]
            self.fail(
                "manifest-duplicate-key",
                f"duplicate key `{shorten(key)}`",
                index,
                help=f"`{shorten(key)}` is already set on line {first_line}; remove one of them",
                pointer=self.pointer() + "/" + escape_pointer(key),
            )
        frame[2:5] = [key, line, column]
        index = self.skip(text, end)
        if index >= len(text) or text[index] != ":":
            self.fail("manifest-syntax", "invalid JSON: expecting `:` after the key", index)
        return self.skip(text, index + 1)


def _skip_json_whitespace(text: str, index: int) -> int:
    match = _JSON_WS.match(text, index)
    return match.end() if match else index


def _scan_json(text: str, max_depth: int) -> PositionMap:
    return _JsonScanner(text, max_depth).run()
