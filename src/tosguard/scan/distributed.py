"""The same scan on a Dask cluster (``pip install 'tosguard[distributed]'``): each unit a task,
the results gathered as they complete, at most a few tasks per worker thread in flight so the
client's memory stays flat. The workers read the files themselves, so the paths must be the
same on every machine (a shared file system), as for any Dask job reading files."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import Diagnostic, Span, UsageError
from .files import Unit
from .worker import UnitResult, scan_unit

__all__ = ["run_on_dask"]

_IN_FLIGHT_PER_THREAD = 4


def run_on_dask(
    units: list[Unit], patterns: tuple[tuple[str, str], ...], scheduler: str
) -> Iterator[tuple[Unit, UnitResult]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError(
            Diagnostic(
                "usage-missing-extra",
                "`--scheduler` needs Dask distributed, which is not installed",
                Span("--scheduler"),
                "install the distributed extra: pip install 'tosguard[distributed]'",
            )
        ) from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(
            Diagnostic(
                "scan-scheduler",
                f"cannot reach the Dask scheduler `{scheduler}`: {error}",
                Span("--scheduler"),
                "give the address the scheduler prints, e.g. `tcp://10.0.0.5:8786`",
            )
        ) from None
    with client:
        threads = max(1, sum(client.nthreads().values()))
        pending = iter(units)
        by_key: dict[object, Unit] = {}
        first = []
        for unit in _take(pending, threads * _IN_FLIGHT_PER_THREAD):
            future = client.submit(scan_unit, unit, patterns, pure=False)
            by_key[future.key] = unit
            first.append(future)
        if not first:
            return
        window = as_completed(first)
        for future in window:
            result = future.result()
            unit = by_key.pop(future.key)
            future.release()
            for following in _take(pending, 1):
                submitted = client.submit(scan_unit, following, patterns, pure=False)
                by_key[submitted.key] = following
                window.add(submitted)
            yield unit, result


def _take(iterator: Iterator[Unit], count: int) -> list[Unit]:
    taken = []
    for unit in iterator:
        taken.append(unit)
        if len(taken) >= count:
            break
    return taken
