"""Small timing helpers shared by the benchmarks."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Timings:
    """Wall times (seconds) of repeated runs of one thing."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "best_s": self.best,
            "runs": len(self.seconds),
            **asdict(self),
        }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return (seconds, result)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def repeat(fn: Callable[[], Any], repeats: int) -> tuple[Timings, Any]:
    """Time ``fn`` ``repeats`` times, collecting garbage before each run (so one run's garbage
    is not charged to the next); the garbage collector stays enabled while timing, as in real
    use. Returns the timings and the last result."""
    timings, result = Timings(), None
    for _ in range(repeats):
        result = None
        gc.collect()
        seconds, result = timed(fn)
        timings.seconds.append(seconds)
    return timings, result


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs"
