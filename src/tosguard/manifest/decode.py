"""A document's bytes to text: the size limit, UTF-8 (a byte-order mark removed; UTF-16 and
UTF-32 said so), and the characters YAML does not allow, each refused at its exact position."""

from __future__ import annotations

import re

from ..safetext import wide_encoding
from .failures import Failure, line_column

__all__ = ["check_printable", "decode"]

# YAML's printable set (YAML 1.1 §5.1, as PyYAML's reader checks it).
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_NON_PRINTABLE_ASCII = bytes(c for c in range(128) if c not in (9, 10, 13) and not 32 <= c <= 126)

# --------------------------------------------------------------------------------------------
# bytes -> text


def decode(data: bytes | str, max_bytes: int) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise Failure(
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
            raise Failure("manifest-encoding", wide.message(), 1, 1, help=wide.help)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8", "replace")
        line, column = line_column(before, len(before))
        raise Failure(
            "manifest-encoding",
            f"invalid UTF-8 byte `0x{data[err.start]:02x}`",
            line,
            column,
            help="save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def check_printable(text: str) -> None:
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
    line, column = line_column(text, index)
    char = text[index]
    raise Failure(
        "manifest-syntax",
        f"the character U+{ord(char):04X} is not allowed in a YAML document",
        line,
        column,
        help="remove it; inside double quotes it can be written as an escape "
        f"such as `\\u{ord(char):04x}`"
        if ord(char) <= 0xFFFF
        else "remove it",
    )
