"""Text from inputs made safe to show, and input encodings recognised before they are misread.

Manifests, policy files and file names are written by people tosguard does not trust. Whatever
of them reaches a terminal, a log or a CI page goes through :func:`printable` first, which
writes every character that could act on a terminal or reorder what a reader sees as a visible
escape ``\\u{…}``: the C0 controls (newline and tab too, unless the text is laid out in lines),
DEL, the C1 controls U+0080–U+009F, the bidirectional embeddings, overrides and isolates
U+202A–U+202E and U+2066–U+2069 (the "Trojan source" characters), and lone surrogates (which no
output encoding can write). Text with none of them is returned as it is, after one
``str.isprintable`` check.

JSON output needs no visible escapes: :func:`json_safe` writes the same characters (less the C0
controls, which the ``json`` module already escapes) as JSON ``\\uXXXX`` escapes, which decode
to the same string, so the data is unchanged.

:func:`wide_encoding` recognises UTF-16 and UTF-32 text, with or without a byte-order mark, so
that such a file gets "save it as UTF-8" rather than a syntax error about its NUL bytes.

>>> printable("key \\x1b]0;PWNED\\x07 \\u202eevil")
'key \\\\u{1b}]0;PWNED\\\\u{7} \\\\u{202e}evil'
>>> printable("two\\nlines\\tand a tab", layout=True)
'two\\nlines\\tand a tab'
>>> json_safe('"a\\u202eb"')
'"a\\\\u202eb"'
>>> wide_encoding("tosguard: 1\\n".encode("utf-16-le"))
WideEncoding(name='UTF-16 (little-endian)', bom=False)
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

__all__ = ["WideEncoding", "escape_char", "is_unsafe", "json_safe", "printable", "wide_encoding"]

# Characters written as visible escapes in text for people.
_OTHERS = "\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CLASSES = {
    "unsafe": f"[\x00-\x1f{_OTHERS}]",
    "unsafe-in-layout": f"[\x00-\x08\x0b-\x1f{_OTHERS}]",  # keeps \t and \n
    # what JSON output writes as \uXXXX escapes beyond what json.dumps escapes
    "json-unsafe": f"[{_OTHERS}]",
}


@functools.cache
def _pattern(name: str) -> re.Pattern[str]:
    """Compiled on first use: most runs escape nothing, and the CLI's start-up is measured."""
    return re.compile(_CLASSES[name])


def escape_char(char: str) -> str:
    """The visible escape of one character: ``\\u{1b}``."""
    return f"\\u{{{ord(char):x}}}"


def is_unsafe(char: str) -> bool:
    """Whether :func:`printable` escapes ``char`` (outside text laid out in lines)."""
    return _pattern("unsafe").match(char) is not None


def _escape_match(match: re.Match[str]) -> str:
    return escape_char(match.group())


def printable(text: str, *, layout: bool = False) -> str:
    """``text`` with terminal controls, bidirectional overrides and lone surrogates escaped.

    With ``layout``, newlines and tabs are kept (text laid out in lines, such as a whole
    report); otherwise they are escaped too (a message, a name, one line of a file)."""
    if text.isprintable():
        return text
    return _pattern("unsafe-in-layout" if layout else "unsafe").sub(_escape_match, text)


def _json_escape_match(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_safe(json_text: str) -> str:
    """JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with DEL, the C1
    controls, the bidirectional overrides and lone surrogates written as ``\\uXXXX`` escapes.

    They can only occur inside JSON strings, where the escape decodes to the same character:
    the JSON value is unchanged, and the text no longer acts on a terminal it is printed on."""
    if json_text.isascii() and "\x7f" not in json_text:
        return json_text
    return _pattern("json-unsafe").sub(_json_escape_match, json_text)


class WideEncoding(NamedTuple):
    """How a document that is not UTF-8 seems to be encoded."""

    name: str  #: e.g. ``UTF-16 (little-endian)``
    bom: bool  #: whether it starts with a byte-order mark

    @property
    def family(self) -> str:
        """``UTF-16`` or ``UTF-32``."""
        return self.name.split(" ")[0]

    def message(self, what: str = "the file") -> str:
        """A diagnostic message: ``the file looks like UTF-16 (little-endian) without a
        byte-order mark``."""
        if self.bom:
            return f"{what} is {self.name} text (it starts with a byte-order mark), not UTF-8"
        return f"{what} looks like {self.name} without a byte-order mark"

    @property
    def help(self) -> str:
        return f"save it as UTF-8, not {self.family}"


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
_SAMPLE = 4096


def wide_encoding(data: bytes) -> WideEncoding | None:
    """Whether ``data`` looks like UTF-16 or UTF-32 text rather than UTF-8 (None if not).

    A byte-order mark decides. Without one, text in those encodings is mostly characters below
    U+0100 (the syntax of a manifest or policy is ASCII), so NUL bytes take fixed places: every
    other byte in UTF-16, three bytes in four in UTF-32. The first 4 KiB are looked at; at
    least half of the places must hold NUL and almost none of the others.

    >>> wide_encoding("a: 1".encode("utf-32-be")).name, wide_encoding(b"a: 1\\x00")
    ('UTF-32 (big-endian)', None)
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return WideEncoding(name, True)
    sample = data[:_SAMPLE]
    if b"\x00" not in sample:
        return None
    whole = sample[: len(sample) - len(sample) % 4]
    if whole:
        lanes = [whole[offset::4].count(0) for offset in range(4)]
        quarter = len(whole) // 4
        for zeros, name in (
            ((1, 2, 3), "UTF-32 (little-endian)"),
            ((0, 1, 2), "UTF-32 (big-endian)"),
        ):
            others = sum(lanes) - sum(lanes[i] for i in zeros)
            if all(lanes[i] * 2 >= quarter for i in zeros) and others * 20 <= quarter:
                return WideEncoding(name, False)
    pairs = sample[: len(sample) - len(sample) % 2]
    half = len(pairs) // 2
    even, odd = pairs[0::2].count(0), pairs[1::2].count(0)
    if half and odd * 2 >= half and even * 20 <= half:
        return WideEncoding("UTF-16 (little-endian)", False)
    if half and even * 2 >= half and odd * 20 <= half:
        return WideEncoding("UTF-16 (big-endian)", False)
    return None
