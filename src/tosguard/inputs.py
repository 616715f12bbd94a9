"""The manifests a command is given: files, directories, globs and ``-`` for standard input.

A directory stands for every manifest under it (``.yaml``, ``.yml``, ``.json``), hidden
directories and files skipped, in sorted order; a pattern with ``*``, ``?`` or ``[`` that names
no existing file is expanded by tosguard (``**`` crosses directories), for shells that leave
quoted patterns alone; ``-`` reads one manifest from standard input, named ``<stdin>`` in
every location. A file given twice is checked twice, as before. Files a command reads for
another purpose (the baseline) are left out of what a directory or a pattern expands to
(``exclude``).

>>> expand_manifests(["-"])
['-']
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable

from .errors import Diagnostic, Span, UsageError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
STDIN_NAME = "<stdin>"


def expand_manifests(arguments: Iterable[str], exclude: Iterable[str | None] = ()) -> list[str]:
    """The manifest paths ``arguments`` name, in order (``-`` kept as it is), less the
    ``exclude`` files that a directory or pattern would include. Raise :class:`UsageError`
    for a directory or pattern that holds no manifest."""
    skip = {os.path.realpath(path) for path in exclude if path not in (None, STDIN)}
    found: list[str] = []
    problems: list[Diagnostic] = []
    for argument in arguments:
        if argument == STDIN:
            found.append(STDIN)
        elif os.path.isdir(argument):
            inside = [p for p in _walk(argument) if os.path.realpath(p) not in skip]
            if not inside:
                problems.append(_nothing(argument, "directory"))
            found += inside
        elif not os.path.lexists(argument) and glob.has_magic(argument):
            matched = []
            for match in sorted(glob.glob(argument, recursive=True)):
                matched += _walk(match) if os.path.isdir(match) else [match]
            matched = [p for p in matched if os.path.realpath(p) not in skip]
            if not matched:
                problems.append(_nothing(argument, "pattern"))
            found += matched
        else:
            found.append(argument)  # a file, or a missing one: the loader says which
    if problems:
        raise UsageError(problems)
    if found.count(STDIN) > 1:
        raise UsageError(
            Diagnostic(
                "usage-arguments",
                "`-` (standard input) is given more than once",
                Span("<arguments>"),
                "standard input holds one manifest: name `-` once",
            )
        )
    return found


def _walk(directory: str) -> list[str]:
    """Every manifest under ``directory``, sorted, hidden directories and files skipped."""
    found: list[str] = []
    for parent, directories, files in os.walk(directory):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        found += (
            os.path.join(parent, name)
            for name in files
            if not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES)
        )
    return sorted(found)


def _nothing(argument: str, what: str) -> Diagnostic:
    return Diagnostic(
        "usage-no-manifests",
        f"the {what} `{argument}` holds no manifest",
        Span(argument),
        "manifests are files ending in " + ", ".join(f"`{s}`" for s in MANIFEST_SUFFIXES),
    )


def load(argument: str, max_bytes: int | None = None):
    """The :class:`~tosguard.manifest.model.LoadedManifest` of a path, or of standard input
    for ``-`` (JSON when it starts with ``{`` or ``[``, else YAML); either is refused with its
    real size when over ``max_bytes`` (default: the loader's limit)."""
    from .manifest.model import load_manifest, parse_manifest, read_limited
    from .manifest.yamlload import DEFAULT_MAX_BYTES

    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if argument != STDIN:
        return load_manifest(argument, max_bytes=limit)
    data = read_limited(sys.stdin.buffer, STDIN_NAME, limit)
    start = data.lstrip()[:1]
    fmt = "json" if start in (b"{", b"[") else None
    return parse_manifest(data, STDIN_NAME, fmt, max_bytes=limit)


def display_name(argument: str) -> str:
    """The name reports give the manifest ``argument``."""
    return STDIN_NAME if argument == STDIN else argument
