"""Where the time goes: cProfile of ``evaluate()`` in process and of the CLI in a fresh process.
``run.py`` prints these when a target is missed (or with ``--profile``)."""

from __future__ import annotations

import cProfile
import functools
import gc
import io
import pstats
import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

from cold_start import REPO, Installed, _environment

from tosguard.engine.evaluate import evaluate


def _top(stats: pstats.Stats, sort: str, top: int) -> str:
    stream = io.StringIO()
    stats.stream = stream
    stats.sort_stats(sort).print_stats(top)
    lines = stream.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:]).rstrip()


def profile_evaluate(library, manifest, as_of: date, top: int = 15) -> dict[str, str]:
    profiler = cProfile.Profile()
    profiler.runcall(evaluate, library, manifest, as_of)
    stats = pstats.Stats(profiler)
    stats.strip_dirs()
    return {
        "by_tottime": _top(stats, "tottime", top),
        "by_cumulative": _top(stats, "cumulative", top),
    }


# Phases of evaluate(): (module, attribute, label). Internal names: a phase that no longer
# exists is skipped.
PHASES = (
    ("tosguard.engine.evaluate", "Evaluator._work_by_version", "index + version segments"),
    ("tosguard.engine.evaluate", "Evaluator._evaluate_version", "clauses (incl. tallies)"),
    ("tosguard.engine.ir", "_tally", "quantifier tallies (full passes)"),
)


@contextmanager
def _timing(owner, name: str, label: str, totals: dict[str, float]):
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed_call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - start

    setattr(owner, name, timed_call)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _owner(module_name: str, dotted: str):
    import importlib

    owner = importlib.import_module(module_name)
    *path, name = dotted.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


def phase_breakdown(library, manifests: dict[int, object], as_of: date) -> dict[int, dict]:
    """Time per source of each phase of ``evaluate()``, by manifest size (same total sources
    per size), to show which phase grows faster than the sources do."""
    largest = max(manifests)
    breakdown = {}
    for size, manifest in manifests.items():
        totals: dict[str, float] = {}
        calls = max(1, largest // size)
        with ExitStack() as stack:
            for module_name, dotted, label in PHASES:
                try:
                    owner, name = _owner(module_name, dotted)
                    getattr(owner, name)
                except (ImportError, AttributeError):
                    continue
                stack.enter_context(_timing(owner, name, label, totals))
            gc.collect()
            for _ in range(calls):
                evaluate(library, manifest, as_of)
        breakdown[size] = {label: seconds / calls / size for label, seconds in totals.items()}
    return breakdown


def profile_cli(installed: Installed, top: int = 25) -> dict[str, str]:
    """The check command under cProfile with a warm library cache (imports dominate)."""
    with tempfile.TemporaryDirectory(prefix="tosguard-prof-") as cache_dir:
        env = _environment(cache_dir)
        output = Path(cache_dir) / "cli.prof"
        subprocess.run(
            installed.check_command(), cwd=REPO, env=env, stdout=subprocess.DEVNULL, check=False
        )
        subprocess.run(
            [
                str(installed.python),
                "-m",
                "cProfile",
                "-o",
                str(output),
                *installed.check_command(),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        stats = pstats.Stats(str(output))
    stats.strip_dirs()
    return {
        "by_cumulative": _top(stats, "cumulative", top),
        "by_tottime": _top(stats, "tottime", top),
    }
