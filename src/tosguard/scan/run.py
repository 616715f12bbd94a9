"""Running a scan: the sources' files cut into units, scanned on every core (a process pool),
in this process (``jobs=1``, ``--sample``), or on a Dask cluster (``scheduler``), and the
units' results summed per source.

Memory stays flat whatever the corpus: a unit is at most a chunk of a file, results hold
counts and a few examples, and units are handed out as workers free up.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, Span, TosguardError, UsageError
from .files import CHUNK, Unit, data_files, units_of
from .fingerprints import Fingerprint
from .worker import EXAMPLES, UnitResult, scan_unit

__all__ = ["ScanError", "SourceScan", "Example", "scan_sources"]


class ScanError(TosguardError):
    """The data named by a manifest cannot be found or read."""

    code_prefix = "scan"


@dataclass(frozen=True, slots=True)
class Example:
    file: str
    #: 1-based line number (JSONL, text, CSV) or 0-based record index (JSON, Parquet, Arrow)
    at: int
    by_line: bool
    excerpt: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.at}" if self.by_line else f"{self.file}#{self.at}"


@dataclass
class SourceScan:
    """What the scan found in one source's data."""

    index: int
    id: str
    files: int = 0
    #: the files read (what ``--output`` must never overwrite)
    paths: list[str] = field(default_factory=list)
    bytes: int = 0
    records: int = 0
    #: records that match any fingerprint
    matched: int = 0
    #: per fingerprint index: records that match it
    counts: dict[int, int] = field(default_factory=dict)
    #: per provider: records that match any of its fingerprints
    providers: dict[str, int] = field(default_factory=dict)
    #: per fingerprint index: the first examples, in file and line order
    examples: dict[int, list[Example]] = field(default_factory=dict)


ProgressFn = Callable[[int, int], None]


def scan_sources(
    loaded,
    fingerprints: tuple[Fingerprint, ...],
    *,
    jobs: int | None = None,
    sample: int | None = None,
    scheduler: str | None = None,
    progress: ProgressFn | None = None,
    chunk: int = CHUNK,
) -> list[SourceScan]:
    """Scan the data of every source of ``loaded`` (a LoadedManifest) that declares
    ``data``; one :class:`SourceScan` per such source, in manifest order."""
    units, scans = _plan(loaded, chunk)
    patterns = tuple((f.provider, f.pattern) for f in fingerprints)
    total = sum(_unit_bytes(u) for u in units)
    results: dict[tuple[int, str], dict[int, UnitResult]] = {}
    problems: list[Diagnostic] = []
    done = 0
    for unit, result in _execute(units, patterns, jobs, sample, scheduler):
        done += _unit_bytes(unit)
        if progress is not None:
            progress(done, total)
        if result.problem is not None:
            code, message, line, column = result.problem
            problems.append(
                Diagnostic(
                    code,
                    f"`{unit.shown}`: {message}",
                    Span(unit.path, line, column),
                    "fix or remove the file; a scan reads every file of a source",
                )
            )
            continue
        results.setdefault(unit.key, {})[unit.part] = result
    if problems:
        raise ScanError(problems)
    for (source, shown), parts in sorted(results.items()):
        _merge(scans[source], shown, [parts[p] for p in sorted(parts)])
    return [scans[i] for i in sorted(scans)]


def _plan(loaded, chunk: int) -> tuple[list[Unit], dict[int, SourceScan]]:
    base = Path(loaded.name).parent
    units: list[Unit] = []
    scans: dict[int, SourceScan] = {}
    problems: list[Diagnostic] = []
    for index, source in enumerate(loaded.manifest.sources):
        paths = source.data_paths()
        if not paths:
            continue
        where = loaded.span(f"/sources/{index}/data")
        files, found_problems = data_files(paths, base, loaded.name, where)
        problems += found_problems
        scans[index] = SourceScan(index, source.id, files=len(files))
        scans[index].paths = [str(path) for path, _ in files]
        for path, fmt in files:
            if fmt.split(".")[0] in ("parquet", "arrow"):
                from .readers import require_pyarrow

                require_pyarrow(fmt, where)
            units += units_of(index, path, fmt, _shown(path, base), chunk)
    if problems:
        raise ScanError(problems)
    if not scans:
        raise UsageError(
            Diagnostic(
                "scan-nothing-to-scan",
                f"no source of `{loaded.name}` names its data",
                Span(loaded.name),
                "add `data:` to a source: a file, a glob or a directory, relative to the "
                "manifest (see docs/scan.md)",
            )
        )
    return units, scans


def _shown(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def _unit_bytes(unit: Unit) -> int:
    return unit.size if unit.end < 0 else unit.end - unit.start


def _merge(scan: SourceScan, shown: str, parts: list[UnitResult]) -> None:
    """Add one file's results (its units in order) to its source, turning line numbers
    counted within a unit into the file's."""
    offset = 0
    for result in parts:
        scan.bytes += result.bytes
        scan.records += result.records
        scan.matched += result.matched
        for index, count in result.counts.items():
            scan.counts[index] = scan.counts.get(index, 0) + count
        for provider, count in result.providers.items():
            scan.providers[provider] = scan.providers.get(provider, 0) + count
        for index, examples in sorted(result.examples.items()):
            kept = scan.examples.setdefault(index, [])
            for at, excerpt in examples:
                if len(kept) < EXAMPLES:
                    shift = offset if result.by_line else 0
                    kept.append(Example(shown, at + shift, result.by_line, excerpt))
        offset += result.records


def _execute(
    units: list[Unit], patterns: tuple[tuple[str, str], ...], jobs, sample, scheduler
) -> Iterator[tuple[Unit, UnitResult]]:
    if sample is not None:
        yield from _sampled(units, patterns, sample)
    elif scheduler:
        from .distributed import run_on_dask

        yield from run_on_dask(units, patterns, scheduler)
    elif (jobs or _cores()) == 1 or len(units) == 1:
        for unit in units:
            yield unit, scan_unit(unit, patterns)
    else:
        yield from _pooled(units, patterns, jobs or _cores())


def _cores() -> int:
    """The cores this process may run on (a container's or a job's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _sampled(units: Iterable[Unit], patterns, sample: int) -> Iterator[tuple[Unit, UnitResult]]:
    """The first ``sample`` records of each source, in this process."""
    seen: dict[int, int] = {}
    for unit in units:
        left = sample - seen.get(unit.source, 0)
        if left <= 0:
            continue
        result = scan_unit(unit, patterns, left)
        seen[unit.source] = seen.get(unit.source, 0) + result.records
        yield unit, result


def _scan_one(job: tuple[Unit, tuple[tuple[str, str], ...]]) -> tuple[Unit, UnitResult]:
    unit, patterns = job
    return unit, scan_unit(unit, patterns)


def _worker_signals() -> None:
    """A worker leaves SIGINT to the parent (which stops the pool) and dies quietly on the
    SIGTERM the pool sends when it is closed, whatever handlers it inherited."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _pooled(units: list[Unit], patterns, jobs: int) -> Iterator[tuple[Unit, UnitResult]]:
    import multiprocessing

    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(min(jobs, len(units)), initializer=_worker_signals) as pool:
        yield from pool.imap_unordered(_scan_one, ((u, patterns) for u in units), chunksize=1)
