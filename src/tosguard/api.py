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
    "load_fingerprints",
    "load_library",
    "parse_date",
    "scan",
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


def load_fingerprints(paths=None, extra=()):
    """The provider fingerprints of the policy library (``fingerprints.yaml`` under
    ``paths``, default the shipped library, and under ``extra``) for :func:`scan`. A library
    with none is a usage error: a scan without fingerprints would find nothing, silently."""
    from .engine.library import default_paths
    from .scan.fingerprints import fingerprint_files
    from .scan.fingerprints import load_fingerprints as load

    roots = [*(paths or default_paths()), *extra]
    fingerprints = load(fingerprint_files(roots))
    if not fingerprints:
        raise UsageError(
            Diagnostic(
                "scan-no-fingerprints",
                "no fingerprint under " + ", ".join(f"`{r}`" for r in roots),
                Span("--policies"),
                "fingerprints are `fingerprints.yaml` files in the policy library "
                "(see docs/scan.md); leave out `--policies` to use the shipped ones",
            )
        )
    return fingerprints


def scan(
    library: Library,
    loaded,
    fingerprints,
    *,
    as_of: str | date | None = None,
    name: str | None = None,
    jobs: int | None = None,
    sample: int | None = None,
    scheduler: str | None = None,
    progress=None,
    accept_unknown_ids: bool = False,
):
    """Scan the data named by a loaded manifest's sources for provider fingerprints and
    judge what it finds against the declaration (:mod:`tosguard.scan`); a
    :class:`tosguard.scan.report.ScanReport`."""
    from .scan.assess import assess
    from .scan.report import build
    from .scan.run import scan_sources

    day = parse_date(as_of)
    scans = scan_sources(
        loaded, fingerprints, jobs=jobs, sample=sample, scheduler=scheduler, progress=progress
    )
    report = assess(
        library,
        loaded,
        scans,
        fingerprints,
        day,
        name=name or loaded.name,
        accept_unknown_ids=accept_unknown_ids,
    )
    return build(report, loaded, scans, fingerprints, sample)


def import_manifest(library: Library, sources, *, fmt: str | None = None):
    """A manifest written from model cards, dataset cards, ML-BOMs, SPDX 3 AI documents,
    Croissant descriptions or Data Provenance summaries (``tosguard import``); returns an
    :class:`tosguard.importers.run.ImportResult` whose ``text`` is the manifest. Licences are
    written as ``library`` knows them (its canonical ids)."""
    from .engine.identity import Vocabulary
    from .importers.run import import_sources

    vocabulary = library.derived("vocabulary", Vocabulary)
    return import_sources(list(sources), vocabulary.canonical_licence, fmt)
