"""A strict YAML/JSON loader that remembers where every value came from.

:func:`load_document` returns plain Python values (dict, list, str, int, float, bool, None) and
a map from JSON pointer (RFC 6901) to the 1-based ``(line, column)`` where the value starts.
For the value of a mapping key, ``pointer + "#key"`` also maps to the position of the key.

YAML is read from PyYAML's *event* stream (libyaml's C parser when available) and the values
are built here with an explicit stack, so that:

* deep nesting cannot overflow the Python stack: past ``max_depth`` the load stops with
  ``manifest-too-deep`` at the first node that is too deep;
* anchors and aliases are refused at the first anchor, before anything is expanded, so an
  alias bomb ("billion laughs") costs nothing;
* scalars are resolved like the YAML 1.2 core schema, and only when plain (unquoted):
  ``true``/``false`` (also ``True``, ``TRUE`` …) are booleans, ``null``/``~``/empty are None,
  ``[-+]?[0-9]+`` is an int, ``1.5``/``1e5``/``.inf``/``.nan`` are floats, and everything else is
  a string. YAML 1.1's ``yes``, ``no``, ``on``, ``off``, ``0o17``, ``1_000`` and dates stay
  strings, so ``NO`` is Norway;
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

import bisect
import json
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import yaml

from .errors import Diagnostic, ManifestError, Span, line_of

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "Positions", "escape_pointer",
           "load_document"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

Positions = dict[str, tuple[int, int]]

_CParser: Any = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
_PARSER: Any = _CParser or yaml.SafeLoader

_PLAIN_CONSTANTS: dict[str, Any] = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True,
    "false": False, "False": False, "FALSE": False,
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}
_NUMBER_START = frozenset("-+.0123456789")
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
# YAML's printable set (YAML 1.1 §5.1, as PyYAML's reader checks it).
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NON_PRINTABLE_ASCII = bytes(c for c in range(128) if c not in (9, 10, 13) and not 32 <= c <= 126)
_MISSING = object()

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


class _Failure(Exception):
    """One problem found while reading, with its 1-based position."""

    def __init__(self, code: str, message: str, line: int, column: int, help: str = "",
                 pointer: str = ""):
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
) -> tuple[Any, Positions]:
    """Read one YAML or JSON document; return its value and the positions of its values.

    Raises :class:`ManifestError` for every problem (codes ``manifest-too-large``,
    ``manifest-encoding``, ``manifest-syntax``, ``manifest-alias``, ``manifest-tag``,
    ``manifest-duplicate-key``, ``manifest-invalid-key``, ``manifest-too-deep``,
    ``manifest-multiple-documents``, ``manifest-empty``, ``manifest-format``).

    >>> value, positions = load_document(b"country: NO\\nusers: [1, 2]\\n", "m.yaml")
    >>> value
    {'country': 'NO', 'users': [1, 2]}
    >>> positions["/users/1"], positions["/users#key"]
    ((2, 12), (2, 1))
    """
    text = ""
    try:
        kind = _format_of(name, fmt)
        text = _decode(data, max_bytes)
        if kind == "json":
            return _load_json(text, max_depth)
        _check_printable(text)
        return _load_yaml(text, max_depth)
    except _Failure as failure:
        raise ManifestError(_diagnostic(failure, name, text)) from None
    except (RecursionError, MemoryError) as exc:  # pragma: no cover - defensive
        what = "too deeply nested" if isinstance(exc, RecursionError) else "too large"
        raise ManifestError(Diagnostic(
            code="manifest-too-deep" if isinstance(exc, RecursionError) else "manifest-too-large",
            message=f"the document is {what} to read", span=Span(name),
            help="split the document or simplify its structure")) from None


def _diagnostic(failure: _Failure, name: str, text: str) -> Diagnostic:
    return Diagnostic(
        code=failure.code,
        message=failure.message,
        span=Span(name, failure.line, failure.column),
        help=failure.help,
        source_line=line_of(text, failure.line) if failure.line else "",
        pointer=failure.pointer,
    )


def _format_of(name: str, fmt: str | None) -> str:
    if fmt is None:
        return "json" if name.lower().endswith(".json") else "yaml"
    kind = fmt.lower()
    if kind in ("yaml", "yml"):
        return "yaml"
    if kind == "json":
        return "json"
    raise _Failure("manifest-format", f"unknown document format `{fmt}`", 0, 0,
                   help="use `yaml` or `json`")


# --------------------------------------------------------------------------------------------
# bytes -> text


def _decode(data: bytes | str, max_bytes: int) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise _Failure(
            "manifest-too-large",
            f"the document is {len(data):,} bytes, more than the limit of {max_bytes:,}",
            0, 0, help="split the manifest, or raise the limit if this size is expected")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", "replace")) + 1
        help = "save the file as UTF-8"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            help = "the file looks like UTF-16; save it as UTF-8"
        raise _Failure("manifest-encoding",
                       f"invalid UTF-8 byte `0x{data[err.start]:02x}`", line, column,
                       help=help) from None
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
    raise _Failure("manifest-syntax",
                   f"the character U+{ord(char):04X} is not allowed in a YAML document",
                   line, column,
                   help="remove it; inside double quotes it can be written as an escape "
                   f"such as `\\u{ord(char):04x}`" if ord(char) <= 0xFFFF else "remove it")


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# --------------------------------------------------------------------------------------------
# YAML


def _load_yaml(text: str, max_depth: int) -> tuple[Any, Positions]:
    parser = _PARSER(text)
    try:
        return _build(parser.get_event, max_depth)
    except yaml.MarkedYAMLError as err:
        raise _syntax_failure(err) from None
    except yaml.YAMLError as err:
        raise _reader_failure(err, text) from None
    except (RecursionError, MemoryError, ValueError) as err:
        raise _Failure("manifest-syntax", f"the document cannot be read: {err}", 0, 0) from None
    finally:
        parser.dispose()


def _syntax_failure(err: yaml.MarkedYAMLError) -> _Failure:
    mark = err.problem_mark or err.context_mark
    problem = (err.problem or err.context or "invalid YAML").strip().rstrip(".")
    problem = problem[:1].lower() + problem[1:]
    help = next((h for key, h in _SYNTAX_HELP.items() if key in problem), "")
    if (err.context or "").startswith("while parsing") and err.context_mark is not None:
        context = f"{err.context} that starts at line {err.context_mark.line + 1}"
        help = f"{help} ({context})" if help else context
    if mark is None:
        return _Failure("manifest-syntax", problem, 0, 0, help=help)
    return _Failure("manifest-syntax", problem, mark.line + 1, mark.column + 1, help=help)


def _reader_failure(err: yaml.YAMLError, text: str) -> _Failure:
    position = getattr(err, "position", None)
    line = column = 0
    if isinstance(position, int) and 0 <= position <= len(text):
        line, column = _line_column(text, position)
    reason = getattr(err, "reason", None) or str(err)
    return _Failure("manifest-syntax", f"the document cannot be read: {reason}", line, column)


def _build(get_event: Callable[[], Any], max_depth: int) -> tuple[Any, Positions]:
    """Build values and positions from the event stream, without recursion."""
    scalar_event, mapping_start, sequence_start = (
        yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    plain_constants, number_start, missing = _PLAIN_CONSTANTS, _NUMBER_START, _MISSING
    int_match, float_match = _INT.fullmatch, _FLOAT.fullmatch

    event = get_event()  # StreamStart
    event = get_event()
    if event.__class__ is yaml.StreamEndEvent:
        raise _Failure("manifest-empty", "the document is empty", 1, 1,
                       help="a manifest starts with `tosguard: 1`")
    positions: Positions = {}
    root: Any = missing
    stack: list[tuple[Any, str, bool]] = []
    # The innermost open collection, its pointer, and for a mapping the key awaiting a value.
    current: Any = None
    current_pointer = ""
    in_mapping = False
    key: Any = missing
    key_position = (0, 0)

    while True:
        event = get_event()
        cls = event.__class__
        if cls is scalar_event:
            if event.anchor is not None or event.tag is not None:
                _refuse_node(event)
            mark = event.start_mark
            position = (mark.line + 1, mark.column + 1)
            value = event.value
            if in_mapping and key is missing:
                if value in current:
                    _duplicate_key(value, current_pointer, position, positions)
                key, key_position = value, position
                continue
            if not event.style:  # plain: resolve; quoted and block scalars stay strings
                resolved = plain_constants.get(value, missing)
                if resolved is not missing:
                    value = resolved
                elif value[0] in number_start:
                    if int_match(value):
                        value = _to_int(value, position)
                    elif float_match(value):
                        value = float(value)
        elif cls is mapping_start or cls is sequence_start:
            if event.anchor is not None or event.tag is not None:
                _refuse_node(event)
            mark = event.start_mark
            position = (mark.line + 1, mark.column + 1)
            if in_mapping and key is missing:
                raise _Failure("manifest-invalid-key",
                               "a key must be a plain value, not a list or a mapping",
                               *position, help="write the key as a string",
                               pointer=current_pointer)
            if len(stack) >= max_depth:
                raise _Failure("manifest-too-deep",
                               f"the document is nested more than {max_depth} levels deep",
                               *position, help="flatten the structure; manifests need only a "
                               "few levels", pointer=current_pointer)
            value = {} if cls is mapping_start else []
        elif cls is mapping_end or cls is sequence_end:
            if stack:
                current, current_pointer, in_mapping = stack.pop()
            else:
                current, current_pointer, in_mapping = None, "", False
            continue
        elif cls is yaml.AliasEvent:
            _refuse_node(event)
        elif cls is yaml.DocumentEndEvent:
            break
        else:  # pragma: no cover - the parser emits nothing else inside a document
            continue

        # Attach `value` to the open collection (or make it the root) and record its position.
        if current is None:
            root = value
            pointer = ""
        elif in_mapping:
            pointer = current_pointer + "/" + (
                key.replace("~", "~0").replace("/", "~1") if ("~" in key or "/" in key) else key)
            current[key] = value
            positions[pointer + "#key"] = key_position
            key = missing
        else:
            pointer = current_pointer + "/" + str(len(current))
            current.append(value)
        positions[pointer] = position
        if cls is not scalar_event:
            if current is not None:
                stack.append((current, current_pointer, in_mapping))
            current, current_pointer, in_mapping = value, pointer, cls is mapping_start

    event = get_event()
    if event.__class__ is yaml.DocumentStartEvent:
        mark = event.start_mark
        raise _Failure("manifest-multiple-documents",
                       "the stream holds more than one YAML document",
                       mark.line + 1, mark.column + 1,
                       help="a manifest is one document; remove the `---` and what follows, "
                       "or split it into several files")
    if root is None:
        line, column = positions[""]
        raise _Failure("manifest-empty", "the document is empty", line, column,
                       help="a manifest starts with `tosguard: 1`")
    return root, positions


def _to_int(text: str, position: tuple[int, int]) -> int:
    try:
        return int(text)
    except ValueError:
        raise _Failure("manifest-syntax",
                       f"the number `{text[:20]}…` has too many digits ({len(text)})",
                       *position, help="write it as a string in quotes") from None


def _refuse_node(event: Any) -> NoReturn:
    mark = event.start_mark
    position = (mark.line + 1, mark.column + 1)
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        name = event.anchor
        raise _Failure("manifest-alias",
                       f"anchors and aliases are not allowed in manifests (found `&{name}`)"
                       if not isinstance(event, yaml.AliasEvent)
                       else f"anchors and aliases are not allowed in manifests (found `*{name}`)",
                       *position,
                       help="write the value out in full; aliases can expand to huge documents "
                       "(alias bombs)")
    raise _Failure("manifest-tag", f"explicit tags are not allowed in manifests (found "
                   f"`{_short_tag(event.tag)}`)", *position,
                   help="remove the tag; put a value in quotes to make it a string")


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def _duplicate_key(key: str, container_pointer: str, position: tuple[int, int],
                   positions: Positions) -> NoReturn:
    first = positions.get(container_pointer + "/" + escape_pointer(key) + "#key")
    where = f" on line {first[0]}" if first else ""
    raise _Failure("manifest-duplicate-key", f"duplicate key `{key}`", *position,
                   help=f"`{key}` is already set{where}; remove one of them",
                   pointer=container_pointer + "/" + escape_pointer(key))


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


def _load_json(text: str, max_depth: int) -> tuple[Any, Positions]:
    try:
        value = json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        message = err.msg.replace("'", "`")
        message = message[:1].lower() + message[1:]
        if err.msg == "Expecting value" and not text.strip():
            raise _Failure("manifest-empty", "the document is empty", 1, 1,
                           help='a manifest starts with `{"tosguard": 1`') from None
        raise _Failure("manifest-syntax", f"invalid JSON: {message}", err.lineno, err.colno,
                       help="check for a missing comma, quote or bracket, or a trailing comma"
                       ) from None
    except (_JsonProblem, RecursionError, ValueError, MemoryError):
        # Duplicate keys, NaN/Infinity, too deep or too long a number: find it, with its place.
        _scan_json(text, max_depth)
        raise _Failure("manifest-syntax", "the JSON document cannot be read", 0, 0) from None
    if value is None:
        raise _Failure("manifest-empty", "the document is empty", 1, 1,
                       help='a manifest starts with `{"tosguard": 1`')
    try:
        yaml_value, positions = _load_yaml(text, max_depth)
        if yaml_value == value:
            return value, positions
    except _Failure:
        pass
    _, positions = _scan_json(text, max_depth)
    return value, positions


_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_JSON_WORDS = {"true": True, "false": False, "null": None}
_JSON_CONSTANTS = ("NaN", "Infinity", "-Infinity")


def _scan_json(text: str, max_depth: int) -> tuple[Any, Positions]:
    """Positions of every value in a JSON text, and its strict-JSON problems, without recursion.

    Slower than :func:`json.loads`; used where the YAML reader cannot give positions and to
    locate the problems :func:`json.loads` reports without a position.
    """
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(index: int) -> tuple[int, int]:
        line = bisect.bisect_right(line_starts, index)
        return line, index - line_starts[line - 1] + 1

    def fail(code: str, message: str, index: int, help: str = "", pointer: str = "") -> NoReturn:
        raise _Failure(code, message, *where(index), help=help, pointer=pointer)

    scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
    skip = _JSON_WS.match
    digit_limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    positions: Positions = {}
    # Stack frames: [is_mapping, pointer, container, current key]; the containers are filled
    # in, so that duplicate keys can be found and items counted.
    stack: list[list[Any]] = []
    pointer = ""
    index = skip(text, 0).end()
    root: Any = None
    while True:
        # A value starts at `index`, for `pointer`.
        if index >= len(text):
            fail("manifest-syntax", "invalid JSON: expecting a value", index)
        char = text[index]
        positions[pointer] = where(index)
        value: Any
        if char == "{" or char == "[":
            if len(stack) >= max_depth:
                fail("manifest-too-deep",
                     f"the document is nested more than {max_depth} levels deep", index,
                     help="flatten the structure; manifests need only a few levels",
                     pointer=pointer)
            value = {} if char == "{" else []
            _attach(stack, value)
            if not stack:
                root = value
            stack.append([char == "{", pointer, value, None])
            index = skip(text, index + 1).end()
            closing = "}" if char == "{" else "]"
            if index < len(text) and text[index] == closing:
                index += 1
                stack.pop()
            elif char == "{":
                index, pointer = _json_key(text, index, stack[-1], positions, where, fail, skip,
                                           scanstring)
                continue
            else:
                pointer = stack[-1][1] + "/0"
                continue
        else:
            if char == '"':
                try:
                    value, index = scanstring(text, index + 1, True)
                except (ValueError, json.JSONDecodeError):
                    fail("manifest-syntax", "invalid JSON string", index)
            elif (match := _JSON_NUMBER.match(text, index)) is not None:
                value = match.group()
                digits = len(value.split(".")[0].split("e")[0].split("E")[0].lstrip("-"))
                if digit_limit and digits > digit_limit:
                    fail("manifest-syntax",
                         f"the number `{value[:20]}…` has too many digits ({digits})", index,
                         help="write it as a string in quotes")
                index = match.end()
            else:
                for word in (*_JSON_WORDS, *_JSON_CONSTANTS):
                    if text.startswith(word, index):
                        if word in _JSON_CONSTANTS:
                            fail("manifest-syntax", f"`{word}` is not a valid JSON value", index,
                                 help="JSON has no NaN or infinity; use a number, a string "
                                 "or null")
                        value = _JSON_WORDS[word]
                        index += len(word)
                        break
                else:
                    fail("manifest-syntax", "invalid JSON: expecting a value", index)
            _attach(stack, value)
            if not stack:
                root = value
        # After a value: close collections or move to the next item.
        while True:
            index = skip(text, index).end()
            if not stack:
                if index < len(text):
                    fail("manifest-syntax", "invalid JSON: extra data after the document", index)
                return root, positions
            is_mapping, container_pointer, container, _ = stack[-1]
            char = text[index] if index < len(text) else ""
            if char == ",":
                index = skip(text, index + 1).end()
                if is_mapping:
                    index, pointer = _json_key(text, index, stack[-1], positions, where, fail,
                                               skip, scanstring)
                else:
                    pointer = f"{container_pointer}/{len(container)}"
                break
            if char == ("}" if is_mapping else "]"):
                index += 1
                stack.pop()
                continue
            fail("manifest-syntax", "invalid JSON: expecting `,` or a closing bracket", index)


def _attach(stack: list[list[Any]], value: Any) -> None:
    if not stack:
        return
    is_mapping, _, container, key = stack[-1]
    if is_mapping:
        container[key] = value
    else:
        container.append(value)


def _json_key(text: str, index: int, frame: list[Any], positions: Positions,
              where: Callable[[int], tuple[int, int]], fail: Callable[..., NoReturn],
              skip: Callable[[str, int], Any], scanstring: Callable[..., tuple[str, int]],
              ) -> tuple[int, str]:
    """Read `"key":` at ``index``; return the index of the value and the value's pointer."""
    _, container_pointer, container, _ = frame
    if index >= len(text) or text[index] != '"':
        fail("manifest-syntax", "invalid JSON: expecting a key in double quotes", index)
    try:
        key, end = scanstring(text, index + 1, True)
    except (ValueError, json.JSONDecodeError):
        fail("manifest-syntax", "invalid JSON string", index)
    pointer = container_pointer + "/" + escape_pointer(key)
    if key in container:
        first = positions.get(pointer + "#key")
        where_first = f" on line {first[0]}" if first else ""
        fail("manifest-duplicate-key", f"duplicate key `{key}`", index,
             help=f"`{key}` is already set{where_first}; remove one of them", pointer=pointer)
    positions[pointer + "#key"] = where(index)
    index = skip(text, end).end()
    if index >= len(text) or text[index] != ":":
        fail("manifest-syntax", "invalid JSON: expecting `:` after the key", index)
    frame[3] = key
    return skip(text, index + 1).end(), pointer
