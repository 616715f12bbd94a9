"""JSON pointers (RFC 6901) and the map from a pointer to where its value starts in a document.

:class:`PositionMap` keeps the positions in a tree shaped like the document and walks it on
lookup, because building a flat dict of millions of pointer strings took longer than parsing a
large manifest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = [
    "DEFERRED",
    "PACKED_COLUMNS",
    "Entry",
    "PositionMap",
    "escape_pointer",
    "pack",
    "unescape_pointer",
    "unpack",
]


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
Entry = tuple[int, int, int, int, Any]
# A scalar whose key (if any) is on its own line, with columns below 2**16, is kept packed in
# one int (80 bytes of tuple and a line number less per value): see pack() and unpack().
_COLUMN_BITS = 16
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1
#: The largest column a packed entry holds.
PACKED_COLUMNS = _COLUMN_MASK


def pack(line: int, column: int, key_column: int) -> int:
    """A scalar's entry as one int: its line and column, and its key's column on the same
    line (0: not the value of a key). Columns must be at most :data:`PACKED_COLUMNS`."""
    return (line << (2 * _COLUMN_BITS)) | (column << _COLUMN_BITS) | key_column


def unpack(packed: int) -> Entry:
    """The entry :func:`pack` packed."""
    line = packed >> (2 * _COLUMN_BITS)
    key_column = packed & _COLUMN_MASK
    column = (packed >> _COLUMN_BITS) & _COLUMN_MASK
    return (line, column, line if key_column else 0, key_column, None)


DEFERRED: Any = type("Deferred", (), {"__repr__": lambda self: "<deferred>"})()


class PositionMap(Mapping[str, tuple[int, int]]):
    """JSON pointer → 1-based ``(line, column)``, for every value of one document.

    ``pointer + "#key"`` gives the position of the key of a mapping member. Lookups walk a
    tree shaped like the document, so they cost one step per pointer token.

    >>> from tosguard.manifest.yamlload import load_document
    >>> _, positions = load_document(b"a:\\n  b: [x, y]\\n", "doc.yaml")
    >>> positions["/a/b/1"], positions["/a/b#key"], positions.nearest("/a/b/7/c")
    ((2, 10), (2, 3), (2, 6))
    >>> list(positions)
    ['', '/a', '/a#key', '/a/b', '/a/b#key', '/a/b/0', '/a/b/1']
    """

    __slots__ = ("_root", "_complete")

    def __init__(
        self, root: Entry | None = None, complete: Callable[[], PositionMap] | None = None
    ):
        self._root = root
        # Set when the tree is partial: entries whose children are DEFERRED were not read;
        # the first lookup that needs them reads the whole document with `complete`.
        self._complete = complete

    def _expand(self) -> None:
        if self._complete is not None:
            self._root, self._complete = self._complete()._root, None

    def _walk(self, pointer: str) -> Entry | None:
        entry = self._root
        if entry is None or pointer == "":
            return entry
        if pointer[0] != "/":
            return None
        for token in pointer[1:].split("/"):
            if entry.__class__ is int:  # a packed scalar: no children
                return None
            children = entry[4]
            if children is None:
                return None
            if children is DEFERRED:
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
        return unpack(entry) if entry.__class__ is int else entry

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
            if found.__class__ is int:
                found = unpack(found)
            children = found[4]
            if children is DEFERRED:
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
        if found.__class__ is int:
            found = unpack(found)
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

    def member(self, key: str, index: int) -> tuple[int, int] | None:
        """The position of ``/key/index`` (``/sources/3``: what most report lines point at),
        without parsing a pointer; None where the document has none there."""
        root = self._root
        if root is None or root.__class__ is int or root[4].__class__ is not dict:
            return None
        entry = root[4].get(key)
        if entry is None or entry.__class__ is int:
            return None
        items = entry[4]
        if items.__class__ is not list or not 0 <= index < len(items):
            return None
        item = items[index]
        if item.__class__ is int:
            item = unpack(item)
        return item[0], item[1]

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
        stack: list[tuple[str, Entry]] = [("", self._root)]
        while stack:
            pointer, entry = stack.pop()
            if entry.__class__ is int:
                entry = unpack(entry)
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
            if entry.__class__ is int:
                entry = unpack(entry)
            count += 2 if entry[2] else 1
            children = entry[4]
            if children.__class__ is dict:
                stack.extend(children.values())
            elif children is not None:
                stack.extend(children)
        return count

    def __repr__(self) -> str:
        return f"PositionMap({len(self)} positions)"
