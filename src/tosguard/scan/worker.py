"""Scanning one unit of work (:class:`~tosguard.scan.files.Unit`): what runs in a worker
process, a thread or a Dask worker. It takes plain values and returns a plain
:class:`UnitResult`, so that it pickles.

Line formats (JSONL, text) are scanned as bytes: one RE2 pass of the combined alternation over
the unit finds the candidate lines, and only those are looked at record by record (for JSON,
their string literals decoded, so that ``\\u6211\\u662f`` is read as 我是). Record formats
(JSON, CSV, Parquet, Arrow) are read record by record, the strings of each joined. Memory is
bounded by the unit (:data:`~tosguard.scan.files.CHUNK` bytes, or a batch of rows), not by the
file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .files import Unit
from .fingerprints import Matcher, matcher_for

__all__ = ["EXAMPLES", "UnitResult", "scan_unit"]

#: Examples kept per pattern and unit (the report keeps the first few over the whole scan).
EXAMPLES = 3
#: Characters of context kept on each side of a match in an example.
CONTEXT = 60
#: The largest JSON document read (it is read whole; JSONL streams).
MAX_JSON = 512 << 20
_BATCH = 2048
_PIECE = 1 << 20
_STRING = re.compile(rb'"(?:[^"\\\n]|\\.)*"')
_SPACE = re.compile(r"\s+")


@dataclass
class UnitResult:
    source: int
    shown: str
    part: int
    bytes: int = 0
    records: int = 0
    #: records that match any pattern
    matched: int = 0
    #: per pattern index: records that match it
    counts: dict[int, int] = field(default_factory=dict)
    #: per provider: records that match any of its patterns
    providers: dict[str, int] = field(default_factory=dict)
    #: per pattern index: (line or record number, excerpt), line numbers counted in the unit
    examples: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    by_line: bool = True
    #: a file that cannot be read: (code, message, line, column)
    problem: tuple[str, str, int, int] | None = None


def scan_unit(
    unit: Unit, patterns: tuple[tuple[str, str], ...], limit: int | None = None
) -> UnitResult:
    """Scan ``unit`` for ``patterns`` (provider, pattern); at most ``limit`` records when
    given. Never raises for what the file holds: a file that cannot be read is the result's
    ``problem``."""
    matcher = matcher_for(patterns)
    result = UnitResult(unit.source, unit.shown, unit.part)
    try:
        if unit.fmt in ("jsonl", "text"):
            _scan_range(unit, matcher, result, limit)
        elif unit.fmt in ("jsonl.gz", "text.gz"):
            _scan_gzip_lines(unit, matcher, result, limit)
        else:
            result.by_line = unit.fmt.split(".")[0] in ("csv", "tsv")
            _scan_records(_records(unit), matcher, result, limit)
    except _Unreadable as error:
        result.problem = ("scan-unreadable", error.message, error.line, error.column)
    except OSError as error:
        result.problem = ("scan-io", f"cannot read the file: {error.strerror or error}", 0, 0)
    except MemoryError:
        result.problem = ("scan-unreadable", "the file does not fit in memory", 0, 0)
    except Exception as error:  # a library's own failure on a damaged file
        result.problem = ("scan-unreadable", f"{type(error).__name__}: {error}", 0, 0)
    return result


class _Unreadable(Exception):
    def __init__(self, message: str, line: int = 0, column: int = 0):
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


# ---- line formats -----------------------------------------------------------------------------
def _scan_range(unit: Unit, matcher: Matcher, result: UnitResult, limit: int | None) -> None:
    """Scan the lines that begin in the unit's byte range, through a read-only memory map of
    the file (no copy: the pages are the file cache's); a file that cannot be mapped (empty,
    or not a regular file) is read."""
    import mmap

    json_data = unit.fmt.startswith("jsonl")
    with open(unit.path, "rb") as stream:
        begin = _line_start(stream, unit.start)
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        # the end of the last line begun in the range
        end = size if unit.end < 0 else _line_start(stream, unit.end)
        if end <= begin:
            return
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            stream.seek(begin)
            _scan_lines(stream.read(end - begin), 0, None, 0, json_data, matcher, result, limit)
            return
        with mapped:
            _scan_lines(mapped, begin, min(end, len(mapped)), 0, json_data, matcher, result, limit)


def _line_start(stream, offset: int) -> int:
    """The offset of the first line that begins at or after ``offset``."""
    if offset <= 0:
        stream.seek(0)
        return 0
    stream.seek(offset - 1)
    if stream.read(1) != b"\n":
        stream.readline()  # the rest of a line begun before ``offset``
    return stream.tell()


def _scan_gzip_lines(unit: Unit, matcher: Matcher, result: UnitResult, limit) -> None:
    import gzip
    import zlib

    from .files import CHUNK

    line_base = 0
    try:
        with gzip.open(unit.path, "rb") as stream:
            while limit is None or result.records < limit:
                data = stream.read(CHUNK)
                if not data:
                    break
                if not data.endswith(b"\n"):
                    data += stream.readline()
                left = None if limit is None else limit - result.records
                line_base += _scan_lines(
                    data, 0, None, line_base, unit.fmt.startswith("jsonl"), matcher, result, left
                )
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise _Unreadable(f"not a valid gzip file: {error}") from None


def _scan_lines(
    data, begin: int, end: int | None, line_base: int, json_data: bool, matcher, result, limit
) -> int:
    """Scan the lines of ``data[begin:end]`` (bytes or a memory map; ``end`` None: to the
    end); return how many there are. Line numbers in examples are ``line_base`` plus the
    line's number in the range."""
    end = len(data) if end is None else end
    if limit is not None:
        end = _after_lines(data, begin, end, limit)
    result.bytes += end - begin
    search = matcher.search_json if json_data else matcher.search
    # one pass of newline counting: from candidate to candidate, then the rest
    pos = counted = begin
    index = 0  # the 0-based number of the line at `counted`
    while pos < end:
        found = search(data, pos, end)
        if found is None:
            break
        start = data.rfind(b"\n", begin, found.start()) + 1 or begin
        stop = data.find(b"\n", found.end(), end)
        stop = end if stop < 0 else stop
        index += _newlines(data, counted, start)
        counted = start
        text = data[start:stop]
        _record(_json_strings(text) if json_data else text, line_base + index + 1, matcher, result)
        pos = stop + 1
    lines = index + _newlines(data, counted, end)
    if end > begin and data[end - 1 : end] != b"\n":
        lines += 1
    result.records += lines
    return lines


def _newlines(data, start: int, end: int) -> int:
    """The newlines in ``data[start:end]``; a memory map, which has no ``count``, is counted
    a megabyte at a time (each piece copied while it is in the processor's cache)."""
    if isinstance(data, bytes):
        return data.count(b"\n", start, end)
    return sum(data[at : min(at + _PIECE, end)].count(b"\n") for at in range(start, end, _PIECE))


def _after_lines(data, begin: int, end: int, count: int) -> int:
    """The end of the ``count``-th line from ``begin`` (or ``end``)."""
    pos = begin
    for _ in range(count):
        found = data.find(b"\n", pos, end)
        if found < 0:
            return end
        pos = found + 1
    return pos


def _json_strings(line: bytes) -> bytes:
    """The string values of a line of JSON, decoded, one per line; of a line that is not
    JSON, every string literal in it (one that does not decode is kept as written)."""
    try:
        return "\n".join(_strings(json.loads(line))).encode("utf-8", "replace")
    except (ValueError, RecursionError):
        pass
    parts = []
    for literal in _STRING.findall(line):
        try:
            parts.append(json.loads(literal))
        except ValueError:
            parts.append(literal[1:-1].decode("utf-8", "replace"))
    return "\n".join(parts).encode("utf-8", "replace")


def _record(text: bytes, where: int, matcher: Matcher, result: UnitResult) -> None:
    found = matcher.which(text)
    result.matched += bool(found)
    for provider in {matcher.providers[i] for i in found}:
        result.providers[provider] = result.providers.get(provider, 0) + 1
    for index in found:
        result.counts[index] = result.counts.get(index, 0) + 1
        kept = result.examples.setdefault(index, [])
        if len(kept) < EXAMPLES:
            kept.append((where, _excerpt(text, matcher.span(index, text))))


def _excerpt(text: bytes, span: tuple[int, int]) -> str:
    start, end = span
    before = text[max(0, start - 4 * CONTEXT) : start].decode("utf-8", "replace")[-CONTEXT:]
    match = text[start:end].decode("utf-8", "replace")
    after = text[end : end + 4 * CONTEXT].decode("utf-8", "replace")[:CONTEXT]
    shown = _SPACE.sub(" ", f"{before}{match}{after}").strip()
    return ("…" if len(before) == CONTEXT else "") + shown + ("…" if len(after) == CONTEXT else "")


# ---- record formats ---------------------------------------------------------------------------
def _scan_records(
    records: Iterator[tuple[int, str, int]], matcher: Matcher, result: UnitResult, limit
) -> None:
    search = matcher.search
    for where, text, size in records:
        if limit is not None and result.records >= limit:
            break
        result.records += 1
        result.bytes += size
        data = text.encode("utf-8", "replace")
        if search(data) is not None:
            _record(data, where, matcher, result)


def _records(unit: Unit) -> Iterator[tuple[int, str, int]]:
    """(line or record number, text, bytes) of each record of a record-format file."""
    fmt = unit.fmt.split(".")[0]
    if fmt in ("csv", "tsv"):
        return _csv_records(unit, "\t" if fmt == "tsv" else ",")
    if fmt == "json":
        return _json_records(unit)
    return _arrow_records(unit, fmt)


def _open_text(unit: Unit):
    if unit.fmt.endswith(".gz"):
        import gzip

        return gzip.open(unit.path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(unit.path, encoding="utf-8", errors="replace", newline="")


def _csv_records(unit: Unit, delimiter: str) -> Iterator[tuple[int, str, int]]:
    import csv

    csv.field_size_limit(1 << 30)
    with _open_text(unit) as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            next(reader, None)  # the header
            line = reader.line_num
            for row in reader:
                text = "\n".join(row)
                yield line + 1, text, len(text)
                line = reader.line_num
        except csv.Error as error:
            raise _Unreadable(f"not valid CSV: {error}", reader.line_num) from None


def _json_records(unit: Unit) -> Iterator[tuple[int, str, int]]:
    if unit.fmt.endswith(".gz"):
        import gzip

        with gzip.open(unit.path, "rb") as stream:
            data = stream.read(MAX_JSON + 1)
    else:
        with open(unit.path, "rb") as stream:
            data = stream.read(MAX_JSON + 1)
    if len(data) > MAX_JSON:
        raise _Unreadable(
            f"a JSON document over {MAX_JSON >> 20} MiB is read whole: write it as JSONL "
            "(one record a line), which is streamed"
        )
    try:
        value = json.loads(data)
    except json.JSONDecodeError as error:
        raise _Unreadable(f"not valid JSON: {error.msg}", error.lineno, error.colno) from None
    except (ValueError, RecursionError) as error:
        raise _Unreadable(f"not valid JSON: {error}") from None
    for number, record in enumerate(_json_rows(value)):
        text = "\n".join(_strings(record))
        yield number, text, len(text)


def _json_rows(value) -> list:
    """The records of a JSON document: the items of a top-level list, or of the one list
    that a top-level object holds (``{"data": [...]}``), else the document itself."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1 and len(value) <= 2:
            return lists[0]
    return [value]


def _strings(value) -> list[str]:
    """Every string value inside ``value`` (not the keys), in order, without recursion."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
    return found


def _arrow_records(unit: Unit, fmt: str) -> Iterator[tuple[int, str, int]]:
    from .readers import record_batches

    number = 0
    for batch in record_batches(unit.path, fmt, _BATCH):
        for row in batch.to_pylist():
            text = "\n".join(_strings(row))
            yield number, text, len(text)
            number += 1
