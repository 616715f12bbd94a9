"""Structured logs: one JSON object a line on standard error, for the access log and for
uvicorn's own messages alike, so a log shipper needs a single parser.

An access-log line::

    {"time": "2026-11-22T10:00:00.123Z", "level": "info", "logger": "tosguard.access",
     "message": "request", "request_id": "7f9c…", "method": "POST", "path": "/v1/check",
     "route": "/v1/check", "status": 200, "duration_ms": 2.41, "request_bytes": 5121,
     "response_bytes": 15382, "client": "127.0.0.1", "key_id": "3b1f0c9a2e7d",
     "verdict": "non_compliant", "revision": "a1b2c3d4e5f60718"}

The query string is not logged, and API keys never are: ``key_id`` is the first 12 hex digits
of the key's SHA-256 digest.

Lines are formatted where they are logged but written by a background thread: a write to
standard error blocks whenever its reader (a pipe to a log shipper, a file during writeback)
falls behind, and written from the event loop it stalled every request of the worker with it
(single requests waiting 1 to 4 s in a load test whose access log went to a file).
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import multiprocessing.util
import queue
import sys
import threading
import time

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
        return json.dumps(entry, ensure_ascii=False, default=str)


class BackgroundHandler(logging.handlers.QueueHandler):
    """Formats records on the logging thread and hands the lines to a thread that writes them
    to standard error; the lines still queued are written at exit."""

    def __init__(self) -> None:
        super().__init__(queue.SimpleQueue())
        writer = logging.StreamHandler(sys.stderr)
        self.listener = logging.handlers.QueueListener(self.queue, writer)
        self.listener.start()
        self.stopped = threading.Lock()
        atexit.register(self.flush_and_stop)
        # uvicorn's workers are multiprocessing children, which leave by os._exit without
        # running atexit; multiprocessing's own finalizers do run there
        multiprocessing.util.Finalize(None, self.flush_and_stop, exitpriority=100)

    def flush_and_stop(self) -> None:
        """Write what is queued and stop the writer thread (once, however often called)."""
        if self.stopped.acquire(blocking=False):
            self.listener.stop()

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
