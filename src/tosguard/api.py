"""The library API: what the CLI and the HTTP service both call.

>>> from tosguard.api import load_library, check_text
>>> library = load_library()
>>> report = check_text(library, "tosguard: 1\\nsources: []\\n", as_of="2026-01-01")
>>> report.verdict
'compliant'
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .engine.evaluate import evaluate
from .engine.library import Library, load_library
from .errors import Diagnostic, Span, UsageError
from .report.model import Report, build_report

__all__ = [
    "Library",
    "Report",
    "check",
    "check_file",
    "check_text",
    "import_manifest",
    "load_library",
    "parse_date",
]


def parse_date(value: str | date | None, what: str = "--as-of") -> date:
    """An ISO date, or today when ``value`` is None."""
    if value is None:
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            Diagnostic(
                "usage-bad-date",
                f"`{value}` is not a date",
                Span(what),
                "write dates as YYYY-MM-DD, e.g. 2026-11-22",
            )
        ) from None


def check(
    library: Library,
    loaded,
    *,
    as_of: str | date | None = None,
    include_all: bool = False,
    name: str | None = None,
    accept_unknown_ids: bool = False,
) -> Report:
    """Evaluate a loaded manifest (:class:`tosguard.manifest.model.LoadedManifest`).

    ``accept_unknown_ids``: ids no loaded policy knows are warnings, not errors (the team has
    accepted them knowingly; see :mod:`tosguard.engine.identity`)."""
    day = parse_date(as_of)
    evaluation = evaluate(library, loaded.manifest, day, include_all, accept_unknown_ids)
    return build_report(evaluation, loaded, day, name or loaded.name, library.revision)


def check_file(library: Library, path: str | Path, **options) -> Report:
    from .manifest.model import load_manifest

    loaded = load_manifest(path)
    return check(library, loaded, name=str(path), **options)


def check_text(
    library: Library,
    text: str | bytes,
    *,
    fmt: str | None = None,
    name: str = "<manifest>",
    **options,
) -> Report:
    from .manifest.model import parse_manifest

    loaded = parse_manifest(text, name, fmt)
    return check(library, loaded, name=name, **options)


def import_manifest(library: Library, sources, *, fmt: str | None = None):
    """A manifest written from model cards, dataset cards, ML-BOMs, SPDX 3 AI documents,
    Croissant descriptions or Data Provenance summaries (``tosguard import``); returns an
    :class:`tosguard.importers.run.ImportResult` whose ``text`` is the manifest. Licences are
    written as ``library`` knows them (its canonical ids)."""
    from .engine.identity import Vocabulary
    from .importers.run import import_sources

    vocabulary = library.derived("vocabulary", Vocabulary)
    return import_sources(list(sources), vocabulary.canonical_licence, fmt)
