"""A progress bar on standard error for long scans: bytes done of the total, the rate and the
time left, redrawn at most ten times a second, and cleared at the end."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar"]

_WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, every: float = 0.1):
        self.stream = stream or sys.stderr
        self.every = every
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        fraction = done / total if total else 1.0
        filled = int(fraction * _WIDTH)
        elapsed = max(now - self.started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate else 0.0
        self.stream.write(
            f"\rscanning [{'#' * filled}{'.' * (_WIDTH - filled)}] {fraction:6.1%} "
            f"{done / 1e6:,.0f}/{total / 1e6:,.0f} MB  {rate / 1e6:,.0f} MB/s  {left:,.0f} s left "
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
