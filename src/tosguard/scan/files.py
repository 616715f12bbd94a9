"""Which files a source's ``data`` names, in which format, cut into units of work.

``data`` holds paths, globs and directories, relative to the manifest file. A directory is
walked for files of the known formats; a directory written by Hugging Face ``datasets``
``save_to_disk`` (``state.json`` beside ``*.arrow`` files, or a ``dataset_dict.json`` over one
directory per split) is read as that dataset's Arrow files. A file is read by its extension
(``.jsonl``/``.ndjson``, ``.json``, ``.csv``/``.tsv``, ``.txt``/``.text``/``.md``,
``.parquet``, ``.arrow``; any of the text formats may be gzipped, ``.gz``). A ``.json`` file
that holds one JSON object per line is read as JSONL, as many data sets name theirs.

Uncompressed line formats (JSONL, text) are cut into byte ranges of :data:`CHUNK` bytes, each
a unit that a worker scans on its own, so a single large file keeps every core busy; the
other formats are one unit per file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, Span

__all__ = ["CHUNK", "Unit", "data_files", "units_of"]

CHUNK = 32 << 20
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".parquet": "parquet",
    ".arrow": "arrow",
}
LINE_FORMATS = ("jsonl", "text")
#: Files of a Hugging Face dataset directory that are metadata, not data.
_HF_METADATA = {"state.json", "dataset_info.json", "dataset_dict.json"}


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of work: bytes ``start``–``end`` of a file (``end`` -1: the whole file), the
    ``part``-th of its file, for source number ``source``."""

    source: int
    path: str
    shown: str
    fmt: str
    start: int
    end: int
    part: int
    size: int

    @property
    def key(self) -> tuple[int, str]:
        return (self.source, self.shown)


def format_of(path: Path) -> str | None:
    """The format of ``path`` by its extension (``jsonl.gz`` for a gzipped one), or None."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    fmt = FORMATS.get(os.path.splitext(name)[1])
    if fmt is None or (gz and fmt in ("parquet", "arrow")):
        return None
    if fmt == "json" and not gz and _looks_like_jsonl(path):
        fmt = "jsonl"
    return f"{fmt}.gz" if gz else fmt


def _looks_like_jsonl(path: Path) -> bool:
    """Whether a ``.json`` file is one JSON value per line (the first line parses alone and
    more follows)."""
    import json

    try:
        with open(path, "rb") as stream:
            first = stream.readline(1 << 20)
            rest = stream.read(64)
    except OSError:
        return False
    if not first.lstrip().startswith(b"{") or not rest.strip():
        return False
    try:
        json.loads(first)
    except ValueError:
        return False
    return True


def data_files(
    patterns: list[str], base: Path, manifest: str, pointer_span: Span
) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    """The files (path, format) that ``patterns`` name, relative to ``base``, and the problems
    found (a path or glob that names nothing, a file of an unknown format), each located at
    the manifest's ``data``."""
    found: list[tuple[Path, str]] = []
    problems: list[Diagnostic] = []
    for given in patterns:
        full = given if os.path.isabs(given) else str(base / given)
        paths = sorted(glob.glob(full, recursive=True)) if glob.has_magic(given) else [full]
        if not paths or not all(os.path.exists(p) for p in paths):
            problems.append(
                Diagnostic(
                    "scan-no-data",
                    f"`{given}` names no file (looked for `{full}`)",
                    pointer_span,
                    "paths in `data` are relative to the manifest file",
                )
            )
            continue
        before, reported = len(found), len(problems)
        for each in paths:
            path = Path(each)
            if path.is_dir():
                found += _walk(path)
                continue
            fmt = format_of(path)
            if fmt is None:
                if not glob.has_magic(given):
                    problems.append(
                        Diagnostic(
                            "scan-format",
                            f"`{given}`: tosguard cannot read this kind of file",
                            pointer_span,
                            "scan reads JSONL, JSON, CSV, TSV, text, Parquet and Arrow files "
                            "(text formats may be gzipped)",
                        )
                    )
                continue
            found.append((path, fmt))
        if len(found) == before and len(problems) == reported:
            problems.append(
                Diagnostic(
                    "scan-no-data",
                    f"`{given}` holds no file that tosguard reads",
                    pointer_span,
                    "scan reads JSONL, JSON, CSV, TSV, text, Parquet and Arrow files",
                )
            )
    unique = list(dict.fromkeys(found))
    return unique, problems


def _walk(directory: Path) -> list[tuple[Path, str]]:
    if (directory / "dataset_dict.json").is_file() or (directory / "state.json").is_file():
        return [(p, "arrow") for p in sorted(directory.rglob("*.arrow"))]
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        here = Path(root)
        if (here / "state.json").is_file() and here != directory:
            found += [(p, "arrow") for p in sorted(here.glob("*.arrow"))]
            continue
        for name in sorted(files):
            if name.startswith(".") or name in _HF_METADATA:
                continue
            fmt = format_of(here / name)
            if fmt is not None:
                found.append((here / name, fmt))
    return found


def units_of(source: int, path: Path, fmt: str, shown: str, chunk: int = CHUNK) -> list[Unit]:
    """The units of one file: byte ranges of a line format, else the whole file."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if fmt not in LINE_FORMATS or size <= chunk:
        return [Unit(source, str(path), shown, fmt, 0, -1, 0, size)]
    return [
        Unit(source, str(path), shown, fmt, start, min(start + chunk, size), part, size)
        for part, start in enumerate(range(0, size, chunk))
    ]
