"""Strict JSON documents, with the position of every value.

The text is first validated with :func:`json.loads` (duplicate keys and ``NaN``/``Infinity``
are refused); those values are the result. Positions come from running the YAML event reader
(passed in as ``read_yaml``) over the same text. Where YAML reads the text differently from
JSON (a key over 1024 characters, a control character in a string, a surrogate pair escape, or
any difference in the values built), positions come instead from :class:`_JsonScanner`, so a
JSON document always gets a position for every value.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import NewlineIndex, shorten
from .failures import (
    DEPTH_HELP,
    JSON_SURROGATE_HELP,
    Failure,
    may_hold_surrogates,
    refuse_surrogates,
    too_deep,
)
from .pointers import DEFERRED, Entry, PositionMap, escape_pointer

__all__ = ["ReadYaml", "load_json", "scan_json"]

# The YAML event reader: (text, max_depth, json_numbers) -> (value, positions).
ReadYaml = Callable[..., tuple[Any, PositionMap]]


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


def load_json(text: str, max_depth: int, read_yaml: ReadYaml) -> tuple[Any, PositionMap]:
    try:
        value = json.loads(text, object_pairs_hook=_strict_pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        if err.msg == "Expecting value" and not text.strip():
            raise Failure(
                "manifest-empty", "the document is empty", 1, 1, help=_JSON_EMPTY_HELP
            ) from None
        raise _json_syntax_failure(err, text) from None
    except (_JsonProblem, RecursionError, ValueError, MemoryError):
        # Duplicate keys, NaN/Infinity, too deep, or a number too long: find it and its place.
        scan_json(text, max_depth)
        raise Failure(
            "manifest-too-deep",
            "the JSON document is nested too deeply to read",
            0,
            0,
            help=DEPTH_HELP,
        ) from None
    if value is None:
        raise Failure("manifest-empty", "the document is empty", 1, 1, help=_JSON_EMPTY_HELP)
    positions = _json_positions(text, value, max_depth, read_yaml)
    if positions is None:
        positions = _full_json_positions(text, max_depth, read_yaml)
    if may_hold_surrogates(text):  # json.loads reads a lone `\ud800` as a lone surrogate
        refuse_surrogates(value, positions, JSON_SURROGATE_HELP)
    return value, positions


# Line breaks YAML counts and JSON does not (a raw one can only be whitespace in JSON).
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_scan_value = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined]


def _json_positions(
    text: str, value: Any, max_depth: int, read_yaml: ReadYaml
) -> PositionMap | None:
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
    members: dict[str, Entry] = {}
    index = skip(text, index + 1)
    while text[index] == '"':
        key_line, key_column = where(index)
        key, index = scanstring(text, index + 1, True)
        index = skip(text, skip(text, index) + 1)  # past the colon
        line, column = where(index)
        if text[index] == "[":
            elements: list[Entry] = []
            index = skip(text, index + 1)
            while text[index] != "]":
                deferred = DEFERRED if text[index] in "{[" else None
                elements.append((*where(index), 0, 0, deferred))
                index = skip(text, _scan_value(text, index)[1])
                if text[index] == ",":
                    index = skip(text, index + 1)
            members[key] = (line, column, key_line, key_column, elements)
            index += 1
        else:
            deferred = DEFERRED if text[index] == "{" else None
            members[key] = (line, column, key_line, key_column, deferred)
            index = _scan_value(text, index)[1]
        index = skip(text, index)
        if text[index] == ",":
            index = skip(text, index + 1)
    root = (root_line, root_column, 0, 0, members)
    return PositionMap(root, complete=lambda: _full_json_positions(text, max_depth, read_yaml))


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


def _full_json_positions(text: str, max_depth: int, read_yaml: ReadYaml) -> PositionMap:
    """Every position of a valid JSON text: from the YAML reader when it reads the text as
    the same value (it is faster), else from :class:`_JsonScanner`."""
    try:
        yaml_value, positions = read_yaml(text, max_depth, json_numbers=True)
        if yaml_value == json.loads(text):
            return positions
    except Failure:
        pass
    return scan_json(text, max_depth)


def _json_syntax_failure(err: json.JSONDecodeError, text: str) -> Failure:
    char = text[err.pos] if 0 <= err.pos < len(text) else ""
    if char and char < " " and char not in "\t\n\r":
        return Failure(
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
    return Failure("manifest-syntax", f"invalid JSON: {message}", err.lineno, err.colno, help=help)


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
        raise Failure(code, message, *self.where(index), help=help, pointer=pointer)

    def pointer(self) -> str:
        tokens = [frame[1] for frame in self.stack[1:]]
        return "".join("/" + escape_pointer(str(t)) for t in tokens)

    def run(self) -> PositionMap:
        text, stack = self.text, self.stack
        index = self.skip(text, 0)
        root: Entry | None = None
        while True:
            # A value starts at `index`.
            if index >= len(text):
                self.fail("manifest-syntax", "invalid JSON: expecting a value", index)
            char = text[index]
            line, column = self.where(index)
            children: Any = None
            if char == "{" or char == "[":
                if len(stack) >= self.max_depth:
                    raise too_deep(self.max_depth, *self.where(index), self.pointer())
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


def scan_json(text: str, max_depth: int) -> PositionMap:
    return _JsonScanner(text, max_depth).run()
