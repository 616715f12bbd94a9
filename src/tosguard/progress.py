"""Progress of a long command on standard error: what it is doing and for how long.

A :class:`Progress` names the current stage (``reading m.yaml (27.9 MB)``, ``evaluating
100,000 sources``, ``writing the report``); a daemon thread shows it, with the time spent, once
the command has run for :data:`DELAY` seconds, so a quick run prints nothing. On a terminal the
line is rewritten in place and erased at the end; forced on elsewhere (``--progress``, e.g.
into a CI log) each stage is one line, written as soon as it starts, and the last says how long
the whole command took. Nothing is ever written to standard output.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["DELAY", "Progress"]

#: Seconds a command runs before its progress is shown (unless forced).
DELAY = 1.0
_TICK = 0.2  # seconds between two updates of the line on a terminal


class Progress:
    """Stages of one command, shown on ``stream`` (standard error).

    ``enabled``: whether to show anything; ``forced``: show every stage from the start (the
    ``--progress`` flag) instead of only past :data:`DELAY` seconds. Use as a context manager;
    :meth:`stage` names what runs next.
    """

    def __init__(self, enabled: bool, forced: bool = False, stream: TextIO | None = None):
        self.enabled = enabled
        self.forced = forced
        self.stream = stream if stream is not None else sys.stderr
        self.live = enabled and not forced and self.stream.isatty()
        self.start = time.monotonic()
        self.label = ""
        self.stage_start = self.start
        self.shown = False  # whether anything was written (then the end is said too)
        self._width = 0
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled and not self.forced:
            self._thread = threading.Thread(target=self._run, name="tosguard-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stage(self, label: str) -> None:
        """Start the stage ``label`` (the one before ends)."""
        if not self.enabled:
            return
        with self._lock:
            self.label, self.stage_start = label, time.monotonic()
            if self.forced:
                self._line(f"tosguard: {label}…")
            elif self.shown:
                self._show()

    def clear(self) -> None:
        """Erase the line on a terminal (before other text goes there); it comes back at the
        next update."""
        with self._lock:
            if self.live and self.shown and self._width:
                self._write("\r" + " " * self._width + "\r")
                self._width = 0

    def close(self) -> None:
        """End: erase the line on a terminal; elsewhere, say how long the command took."""
        if not self.enabled or self._done.is_set():
            return
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self.live:
                if self.shown:
                    self._write("\r" + " " * self._width + "\r")
            elif self.shown:
                self._line(f"tosguard: done in {time.monotonic() - self.start:.1f} s")

    def _run(self) -> None:
        if self._done.wait(max(0.0, DELAY - (time.monotonic() - self.start))):
            return
        while True:
            with self._lock:
                if self._done.is_set():
                    return
                self._show()
            if not self.live or self._done.wait(_TICK):
                return  # off a terminal: the stage lines say the rest

    def _show(self) -> None:
        now = time.monotonic()
        text = f"tosguard: {self.label}… {now - self.stage_start:.1f} s"
        if self.live:
            self._write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self._line(f"tosguard: {self.label}…")

    def _line(self, text: str) -> None:
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not fail the command
            self.enabled = False
            return
        self.shown = True
