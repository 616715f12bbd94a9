"""Indented JSON text, written directly: byte for byte what ``json.dumps(value, indent=2,
ensure_ascii=False)`` writes, several times faster, except that DEL, the C1 controls, the
bidirectional overrides and lone surrogates in strings are written as ``\\uXXXX`` escapes
(:func:`~tosguard.safetext.json_safe`): the JSON value is the same, but a report printed on a
terminal cannot act on it (json.dumps already escapes the C0 controls), and a lone surrogate
can be written out at all.

With ``indent`` set, the json module falls back from its C encoder to a generator-based
pure-Python one; for a report of 40 findings that was a fifth of the work of a service check.
Here each value is appended to one list of strings, strings go through the same C escaping
function ``json.dumps`` uses, and text that repeats from one call to the next (the citation of a
clause, cited by many findings) can be kept encoded in a :class:`FragmentCache`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from json.encoder import encode_basestring  # the C escaper json.dumps uses without ensure_ascii
from typing import Any

from ..safetext import json_safe

INDENT = "  "
_int_repr = int.__repr__

__all__ = ["INDENT", "FragmentCache", "dumps", "encode_string", "write"]


def encode_string(text: str) -> str:
    """``text`` as a JSON string: json.dumps's escapes, and :func:`json_safe`'s."""
    encoded = encode_basestring(text)
    if encoded.isascii() and "\x7f" not in encoded:  # the usual case: nothing more to escape
        return encoded
    return json_safe(encoded)


def dumps(value: Any, level: int = 0) -> str:
    """``value`` as ``json.dumps(value, indent=2, ensure_ascii=False)`` writes it, as if nested
    ``level`` levels deep (continuation lines indented accordingly)."""
    out: list[str] = []
    write(value, out, level)
    return "".join(out)


def write(value: Any, out: list[str], level: int) -> None:
    """Append the JSON text of ``value`` to ``out``, nested ``level`` levels deep."""
    if value.__class__ is str:
        out.append(encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(_int_repr(value))
    elif isinstance(value, dict):
        _write_dict(value, out, level)
    elif isinstance(value, (list, tuple)):
        _write_list(value, out, level)
    elif isinstance(value, str):
        out.append(encode_string(value))
    else:
        # floats (with json's spelling of NaN and infinities) and anything json.dumps refuses
        out.append(json.dumps(value, ensure_ascii=False))


def _write_dict(value: dict, out: list[str], level: int) -> None:
    if not value:
        out.append("{}")
        return
    inner = "\n" + INDENT * (level + 1)
    separator = "{" + inner
    for key, item in value.items():
        if key.__class__ is not str:
            key = _key_text(key)
        out.append(separator)
        out.append(encode_string(key))
        out.append(": ")
        write(item, out, level + 1)
        separator = "," + inner
    out.append("\n" + INDENT * level + "}")


def _write_list(value: list | tuple, out: list[str], level: int) -> None:
    if not value:
        out.append("[]")
        return
    inner = "\n" + INDENT * (level + 1)
    separator = "[" + inner
    for item in value:
        out.append(separator)
        write(item, out, level + 1)
        separator = "," + inner
    out.append("\n" + INDENT * level + "]")


def _key_text(key: Any) -> str:
    """A non-string key as json.dumps converts it."""
    if isinstance(key, str):
        return str.__str__(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return _int_repr(key)
    if isinstance(key, float):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


class FragmentCache:
    """Encoded text by key, for parts of a document that recur across calls.

    Bounded: when full it starts again empty (a reloaded policy set brings new keys; the old
    ones must not pile up in a long-running service). Safe to share between threads: a lost
    race only encodes a fragment twice.
    """

    def __init__(self, limit: int = 4096):
        self.limit = limit
        self.entries: dict[Hashable, str] = {}

    def get(self, key: Hashable, make: Callable[[], str]) -> str:
        text = self.entries.get(key)
        if text is None:
            if len(self.entries) >= self.limit:
                self.entries = {}
            text = self.entries[key] = make()
        return text
