"""Structured logs: one JSON object a line on standard error, for the access log and for
uvicorn's own messages alike, so a log shipper needs a single parser.

An access-log line::

    {"time": "2026-11-22T10:00:00.123Z", "level": "info", "logger": "tosguard.access",
     "message": "request", "request_id": "7f9c…", "method": "POST", "path": "/v1/check",
     "route": "/v1/check", "status": 200, "duration_ms": 2.41, "request_bytes": 5121,
     "response_bytes": 15382, "client": "127.0.0.1", "key_id": "3b1f0c9a2e7d",
     "verdict": "non_compliant", "revision": "a1b2c3d4e5f60718"}

The query string is not logged, and API keys never are: ``key_id`` is the first 12 hex digits
of the key's SHA-256 digest. Text from requests (a path, an error message) is written with the C1
controls, the bidirectional overrides and isolates and lone surrogates as JSON ``\\uXXXX``
escapes (:func:`~tosguard.safetext.json_safe`), like the C0 controls: a line decodes to the same
values, and a terminal or log viewer showing it is not driven by what a client sent.

Lines are formatted where they are logged but written by a background thread: a write to
standard error blocks whenever its reader (a pipe to a log shipper, a file during writeback)
falls behind, and written from the event loop it stalled every request of the worker with it
(single requests waiting 1 to 4 s in a load test whose access log went to a file).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import multiprocessing.util
import queue
import sys
import threading
import time

from ..safetext import json_safe

ACCESS_LOGGER = "tosguard.access"
SERVICE_LOGGER = "tosguard.service"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        seconds = record.created
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        entry = {
            "time": f"{stamp}.{int(seconds % 1 * 1000):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
            entry["traceback"] = self.formatException(record.exc_info)
        # the one place every line passes: C1 controls, bidirectional overrides and lone
        # surrogates (a request path can carry them) become \uXXXX escapes, never raw bytes
        return json_safe(json.dumps(entry, ensure_ascii=False, default=str))


class BackgroundHandler(logging.Handler):
    """Formats each record where it is logged and queues the line; a writer thread writes
    whatever has queued up, in one write, to standard error. Writing in batches keeps the
    writer abreast of a busy event loop: one line per turn of the GIL (what
    ``logging.handlers.QueueListener`` does) fell behind at 300 requests a second and the queue
    grew. What is still queued is written at exit."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.stream = sys.stderr
        self.writer = threading.Thread(
            target=self._write_lines, name="tosguard-log-writer", daemon=True
        )
        self.writer.start()
        self.stopped = threading.Lock()
        atexit.register(self.flush_and_stop)
        # uvicorn's workers are multiprocessing children, which leave by os._exit without
        # running atexit; multiprocessing's own finalizers do run there
        multiprocessing.util.Finalize(None, self.flush_and_stop, exitpriority=100)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def _write_lines(self) -> None:
        get, get_nowait = self.lines.get, self.lines.get_nowait
        while True:
            batch = [get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(get_nowait())
            text = "".join(line for line in batch if line is not None)
            if text:
                with contextlib.suppress(OSError, ValueError):  # standard error is gone
                    self.stream.write(text)
                    self.stream.flush()
            if None in batch:
                return

    def flush_and_stop(self) -> None:
        """Write what is queued and stop the writer thread (once, however often called)."""
        if self.stopped.acquire(blocking=False):
            self.lines.put(None)
            self.writer.join(timeout=10)

    def close(self) -> None:
        self.flush_and_stop()
        super().close()


def log_config(level: str = "info") -> dict:
    """A :func:`logging.config.dictConfig` for uvicorn: JSON lines on stderr for everything."""
    level = level.upper()
    handler = {"()": f"{__name__}.BackgroundHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "tosguard": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
