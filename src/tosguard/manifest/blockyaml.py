"""A fast reader for the plain block YAML that nearly every manifest is written in.

:func:`read_block_yaml` reads a conservative subset of YAML with one compiled regex, matched
once per distinct line (manifests repeat most of their lines), without PyYAML's event objects,
and returns exactly what the event reader
(:func:`tosguard.manifest.yamlload._build`) returns for the same text: the same values and
types, the same key order, interned keys, and the same position tree (packed ints, tuples and
deferred children at the same places). For any text outside the subset it returns ``None`` and
the event reader reads it instead, so every error and every unusual construct keeps its usual
diagnostic: this reader never reports a problem itself.

The subset, line by line (``\\n`` line breaks; anything else means ``None``):

* a blank line, or a comment line (``#`` after optional spaces);
* ``KEY: VALUE``, ``KEY:`` (its value is the block below it), ``- VALUE``, ``- KEY: VALUE`` and
  ``- KEY:``, each indented with spaces and optionally followed by `` # comment``;
* a ``KEY`` is ``[A-Za-z_][A-Za-z0-9_-]*`` (at most 128 characters), followed by ``:`` and a
  space or the end of the line;
* a ``VALUE`` is a double-quoted string without ``\\`` or ``"`` inside, a single-quoted string
  without ``'`` inside, a plain scalar of safe characters (resolved by
  :func:`~tosguard.manifest.plain.resolve_plain`, as the event reader resolves it), or a
  one-line flow sequence or mapping of such scalars (``[a, "b"]``, ``{k: v}``, ``[]``);
* block collections line up as YAML requires: the members of a mapping or a sequence start in
  one column, a nested collection is indented deeper, and a sequence may sit in its parent
  key's column (``sources:`` then ``- id: …``).

The text as a whole must hold only printable characters, no tab, no ``\\r`` and no other YAML
line break (NEL, U+2028, U+2029), no byte-order mark; a key may not repeat in a mapping; a
``KEY:`` must be followed by a deeper block (an empty value is left to the event reader); the
root must be a collection; and the nesting must stay a level short of ``max_depth``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from .plain import resolve_plain
from .pointers import DEFERRED, PACKED_COLUMNS, Entry, PositionMap, pack

__all__ = ["read_block_yaml"]

# Characters outside the subset anywhere in the text: controls, tab, CR, NEL, U+2028/9, the BOM,
# surrogates, U+FFFE/U+FFFF (and DEL and the C1 controls).
_OUTSIDE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_ASCII_INSIDE = bytes(range(0x20, 0x7F)) + b"\n"
_KEY = r"[A-Za-z_][A-Za-z0-9_-]{0,127}"
_DOUBLE = r'"[^"\\\n]*"'
_SINGLE = r"'[^'\n]*'"
# A plain scalar in block context: it may not start with an indicator, holds no `: ` and no
# ` #`, and does not end with `:`; single spaces and runs of spaces inside are its own.
_CHAR = "[-A-Za-z0-9_./~+()=$^@;<>!*&%?,|'\"\\[\\]{}\u00a0-\U0010ffff]"
_START = "(?:[A-Za-z0-9_./~+(=$^\u00a0-\U0010ffff]|-(?=[A-Za-z0-9_.]))"
_PLAIN = f"{_START}(?:{_CHAR}|:(?={_CHAR}))*(?: +(?:{_CHAR}|:(?={_CHAR}))+)*"
# A plain scalar in a flow collection: no flow indicator, quote, `:` or `?` at all (PyYAML's
# pure-Python scanner ends a plain scalar at `?` in a flow collection; libyaml does not).
_FLOW_CHAR = "[-A-Za-z0-9_./~+()=$^@;<>!*&%|\u00a0-\U0010ffff]"
_FLOW_PLAIN = f"{_START}{_FLOW_CHAR}*(?: +{_FLOW_CHAR}+)*"
_FLOW_SCALAR = f"(?:{_DOUBLE}|{_SINGLE}|{_FLOW_PLAIN})"
_FLOW_SEQUENCE = rf"\[ *(?:{_FLOW_SCALAR}(?: *, *{_FLOW_SCALAR})*)? *\]"
_FLOW_MAPPING = rf"\{{ *(?:{_KEY}: +{_FLOW_SCALAR}(?: *, *{_KEY}: +{_FLOW_SCALAR})*)? *\}}"
_VALUE = f"{_DOUBLE}|{_SINGLE}|{_FLOW_SEQUENCE}|{_FLOW_MAPPING}|{_PLAIN}"
# One line (without its line break): indentation, an optional `- `, an optional `KEY:` (and the
# spaces after it), an optional value, and an optional comment (after a space, or alone).
_LINE = re.compile(rf"( *)(- +)?(?:({_KEY})(:(?= |$) *))?({_VALUE})? *(?:(?<![^ ])#.*)?", re.DOTALL)
# The most common lines, read without the general pattern: `KEY: "string"` and `KEY: 123`,
# alone or after `- `, one space after the colon, nothing after the value.
_SIMPLE_LINE = re.compile(rf'( *)(- )?({_KEY}): (?:"([^"\\]*)"|(0|[1-9][0-9]{{0,17}}))')
_FLOW_ITEM = re.compile(_FLOW_SCALAR)
_FLOW_PAIR = re.compile(f"({_KEY}): +({_FLOW_SCALAR})")
# pack(line, column, key_column) is (line << _LINE_SHIFT) | (column << _COLUMN_SHIFT) | key_column
_COLUMN_SHIFT = PACKED_COLUMNS.bit_length()
_LINE_SHIFT = 2 * _COLUMN_SHIFT

# What one line holds (see _parse_line): a blank or comment line, a line outside the subset, or
# (indent, inner, key, kind, value, value_column, packed): the column of the line (0-based),
# of what follows `- ` (-1: no dash), the interned key (or None), the kind of value (one of
# these three), the value (a scalar resolved, or for a flow collection its text, list or dict,
# and members), the value's 1-based column, and for a scalar its columns as pack() keeps them
# (-1: too wide to pack).
_BLANK, _BAD = "blank", "bad"
_SCALAR, _FLOW, _BLOCK = 0, 1, 2
_Line = tuple[int, int, "str | None", int, Any, int, int]


def read_block_yaml(
    text: str,
    max_depth: int,
    defer_at: int = 0,
    complete: Callable[[], PositionMap] | None = None,
) -> tuple[Any, PositionMap] | None:
    """The value and positions of ``text`` as the event reader builds them (``defer_at`` and
    ``complete`` as there), or ``None`` when ``text`` is outside the subset."""
    if text.isascii():
        if text.encode("ascii").translate(None, _ASCII_INSIDE):
            return None
    elif _OUTSIDE.search(text):
        return None
    try:
        return _read(text, max_depth, defer_at, complete)
    except _Outside:
        return None


class _Outside(Exception):
    """The text leaves the subset (raised from the flow readers)."""


#: Longer lines are left to the event reader: a manifest's lines are short, and the event
#: reader reads a line of half a million values (or their errors) in bounded memory. (Columns
#: past what a packed position holds, 65,535, stay in the subset.)
LONGEST_LINE = 1 << 17


def _parse_line(text: str) -> _Line | str:
    """What one line holds. Manifests repeat most of their lines (``kind: model-output``), so
    :func:`_read` parses each distinct line once."""
    if len(text) > LONGEST_LINE:
        return _BAD  # the event reader's bounded path (a huge flow list, an attack)
    match = _SIMPLE_LINE.fullmatch(text)
    if match is not None:
        indent, dash, key, string, digits = match.groups()
        here = len(indent)
        inner = -1 if dash is None else here + 2
        key_column = (here if dash is None else inner) + 1
        key = sys.intern(key)
        value_column = key_column + len(key) + 2
        packed = (
            (value_column << _COLUMN_SHIFT) | key_column if value_column <= PACKED_COLUMNS else -1
        )
        value = string if digits is None else int(digits)
        return (here, inner, key, _SCALAR, value, value_column, packed)
    match = _LINE.fullmatch(text)
    if match is None:
        return _BAD
    indent, dash, key, separator, value = match.groups()
    if key is None and value is None:
        return _BAD if dash else _BLANK  # `-` with nothing after it; a blank or comment line
    if key is None and dash is None:
        return _BAD  # a scalar alone on its line (the rest of a multi-line scalar?)
    here = len(indent)
    inner = here + len(dash) if dash else -1
    key_column = (inner if dash else here) + 1
    if key is not None:
        key = sys.intern(key)
        value_column = key_column + len(key) + len(separator)
    else:
        value_column = inner + 1
    if value is None:
        return (here, inner, key, _BLOCK, None, 0, -1)
    first = value[0]
    if first == "[" or first == "{":
        try:
            return (here, inner, key, _FLOW, _flow_recipe(value), value_column, -1)
        except _Outside:
            return _BAD
    if first == '"' or first == "'":
        scalar = value[1:-1]
    else:
        try:
            scalar = resolve_plain(value)
        except ValueError:  # an int with too many digits: the event reader says so
            return _BAD
    if value_column > PACKED_COLUMNS or key_column > PACKED_COLUMNS:
        packed = -1
    else:
        packed = (value_column << _COLUMN_SHIFT) | (key_column if key is not None else 0)
    return (here, inner, key, _SCALAR, scalar, value_column, packed)


def _read(
    text: str, max_depth: int, defer_at: int, complete: Callable[[], PositionMap] | None
) -> tuple[Any, PositionMap] | None:
    """:func:`read_block_yaml` of a text that holds only characters of the subset. The loop runs
    once per line, a million times for a large manifest: it keeps its state in local variables,
    parses each distinct line once, and handles the usual `KEY: VALUE` line first."""
    line_shift = _LINE_SHIFT
    parse = _parse_line
    flow = _flow
    seen: dict[str, Any] = {}  # line text -> what it holds
    # Enclosing block collections: (column, container, entries, is it a mapping).
    stack: list[tuple[int, Any, Any, bool]] = []
    # The innermost open block collection (column -1: none yet).
    column = -1
    current: Any = None
    entries: Any = None
    in_mapping = False
    # A `KEY:` of `current` awaiting the block below it: the key, its 1-based line and column.
    pending: str | None = None
    pending_line = pending_column = 0
    root: Any = None
    root_entry: Entry | None = None
    deferred = False
    line = 0
    for text_line in text.split("\n"):
        line += 1
        parsed = seen.get(text_line)
        if parsed is None:
            parsed = seen[text_line] = parse(text_line)
        if parsed.__class__ is not tuple:
            if parsed is _BLANK:
                continue
            return None  # a line outside the subset
        here, inner, key, kind, value, value_column, packed = parsed
        if inner < 0:  # `KEY: …`
            if pending is None and here == column and in_mapping:
                pass  # the usual case: the next key of the current mapping
            elif pending is not None:
                if here <= column:
                    return None  # an empty value
                depth = len(stack) + 1
                if depth >= max_depth - 1:
                    return None
                block: Any = {}
                children: Any = {}
                if defer_at and (entries is None or depth >= defer_at):
                    children, deferred = DEFERRED, True
                current[pending] = block
                if entries is not None:
                    entries[pending] = (line, here + 1, pending_line, pending_column, children)
                stack.append((column, current, entries, in_mapping))
                column, current, in_mapping = here, block, True
                entries = None if children is DEFERRED else children
                pending = None
            elif column < 0:  # the root mapping
                root = current = {}
                entries = {}
                root_entry = (line, here + 1, 0, 0, entries)
                column, in_mapping = here, True
            else:
                while column > here or (column == here and not in_mapping):
                    if not stack:
                        return None
                    column, current, entries, in_mapping = stack.pop()
                if column != here or not in_mapping:
                    return None  # indentation outside the subset (or a YAML error)
        else:  # `- …`
            if pending is not None:
                if here < column:
                    return None  # an empty value
                # a sequence below `KEY:`, or in the key's own column
                depth = len(stack) + 1
                if depth >= max_depth - 1:
                    return None
                block = []
                children = []
                if defer_at and (entries is None or depth >= defer_at):
                    children, deferred = DEFERRED, True
                current[pending] = block
                if entries is not None:
                    entries[pending] = (line, here + 1, pending_line, pending_column, children)
                stack.append((column, current, entries, in_mapping))
                column, current, in_mapping = here, block, False
                entries = None if children is DEFERRED else children
                pending = None
            elif column < 0:  # the root sequence
                root = current = []
                entries = []
                root_entry = (line, here + 1, 0, 0, entries)
                column, in_mapping = here, False
            elif here != column or in_mapping:
                while column > here:
                    if not stack:
                        return None
                    column, current, entries, in_mapping = stack.pop()
                if column != here or in_mapping:
                    return None  # indentation outside the subset (or a YAML error)
            if key is None:  # an item of the sequence `current`
                if kind == _SCALAR:
                    current.append(value)
                    if entries is not None:
                        entries.append(
                            (line << line_shift) | packed
                            if packed >= 0
                            else (line, value_column, 0, 0, None)
                        )
                    continue
                depth = len(stack) + 1
                if depth >= max_depth - 1:
                    return None
                if defer_at and (entries is None or depth >= defer_at):
                    item, children, deferred = value[1](value[2]), DEFERRED, True
                else:
                    item, children = flow(value[0], line, value_column)
                current.append(item)
                if entries is not None:
                    entries.append((line, value_column, 0, 0, children))
                continue
            # `- KEY: …`: the item is a mapping that starts at the key
            depth = len(stack) + 1
            if depth >= max_depth - 1:
                return None
            block = {}
            children = {}
            if defer_at and (entries is None or depth >= defer_at):
                children, deferred = DEFERRED, True
            current.append(block)
            if entries is not None:
                entries.append((line, inner + 1, 0, 0, children))
            stack.append((column, current, entries, in_mapping))
            column, current, in_mapping = inner, block, True
            entries = None if children is DEFERRED else children
            here = inner

        # `KEY: VALUE` or `KEY:` in the mapping `current`, the key at column `here`
        if key in current:
            return None  # a duplicate key: the event reader words the error
        if kind == _SCALAR:
            current[key] = value
            if entries is not None:
                entries[key] = (
                    (line << line_shift) | packed
                    if packed >= 0
                    else (line, value_column, line, here + 1, None)
                )
        elif kind == _FLOW:
            depth = len(stack) + 1
            if depth >= max_depth - 1:
                return None
            if defer_at and (entries is None or depth >= defer_at):
                current[key] = value[1](value[2])  # a new list or dict of the members
                if entries is not None:
                    entries[key] = (line, value_column, line, here + 1, DEFERRED)
                deferred = True
            else:
                current[key], children = flow(value[0], line, value_column)
                if entries is not None:
                    entries[key] = (line, value_column, line, here + 1, children)
        else:
            pending, pending_line, pending_column = key, line, here + 1
    if pending is not None or root_entry is None:
        return None  # an empty value at the end, or no root
    return root, PositionMap(root_entry, complete if deferred else None)


def _scalar(text: str) -> Any:
    first = text[0]
    if first == '"' or first == "'":
        return text[1:-1]
    try:
        return resolve_plain(text)
    except ValueError:  # an int with too many digits: the event reader reports it
        raise _Outside from None


def _flow_recipe(text: str) -> tuple[str, type, tuple[Any, ...]]:
    """A one-line flow collection of scalars: its text, its type and its members (items, or
    (key, value) pairs); ``type(members)`` is a new value each time."""
    if text[0] == "[":
        return (text, list, tuple([_scalar(item) for item in _FLOW_ITEM.findall(text)]))
    pairs = _FLOW_PAIR.findall(text)
    if len({key for key, _ in pairs}) != len(pairs):
        raise _Outside  # a duplicate key
    return (text, dict, tuple([(sys.intern(key), _scalar(item)) for key, item in pairs]))


def _flow(text: str, line: int, column: int) -> tuple[Any, Any]:
    """A one-line flow collection of scalars that starts at ``column``, with the entries of
    its members."""
    packed_columns = PACKED_COLUMNS
    if text[0] == "[":
        items: list[Any] = []
        entries: list[Any] = []
        for match in _FLOW_ITEM.finditer(text, 1):
            items.append(_scalar(match.group()))
            item_column = column + match.start()
            entries.append(
                pack(line, item_column, 0)
                if item_column <= packed_columns
                else (line, item_column, 0, 0, None)
            )
        return items, entries
    members: dict[str, Any] = {}
    children: dict[str, Any] = {}
    for match in _FLOW_PAIR.finditer(text, 1):
        key = match.group(1)
        if key in members:
            raise _Outside  # a duplicate key
        key = sys.intern(key)
        members[key] = _scalar(match.group(2))
        key_column, value_column = column + match.start(1), column + match.start(2)
        children[key] = (
            pack(line, value_column, key_column)
            if value_column <= packed_columns and key_column <= packed_columns
            else (line, value_column, line, key_column, None)
        )
    return members, children
