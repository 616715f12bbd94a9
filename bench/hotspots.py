"""Where the time goes: cProfile of ``evaluate()`` in process and of the CLI in a fresh process.
``run.py`` prints these when a target is missed (or with ``--profile``)."""

from __future__ import annotations

import cProfile
import io
import pstats
import subprocess
import tempfile
from datetime import date
from pathlib import Path

from cold_start import REPO, Installed, _environment

from tosguard.evaluate import evaluate


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
    return {"by_tottime": _top(stats, "tottime", top), "by_cumulative": _top(stats, "cumulative",
                                                                             top)}


def profile_cli(installed: Installed, top: int = 25) -> dict[str, str]:
    """The check command under cProfile with a warm library cache (imports dominate)."""
    with tempfile.TemporaryDirectory(prefix="tosguard-prof-") as cache_dir:
        env = _environment(cache_dir)
        output = Path(cache_dir) / "cli.prof"
        subprocess.run(installed.check_command(), cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL, check=False)
        subprocess.run([str(installed.python), "-m", "cProfile", "-o", str(output),
                        *installed.check_command()], cwd=REPO, env=env,
                       stdout=subprocess.DEVNULL, check=False)
        stats = pstats.Stats(str(output))
    stats.strip_dirs()
    return {"by_cumulative": _top(stats, "cumulative", top), "by_tottime": _top(stats, "tottime",
                                                                               top)}
