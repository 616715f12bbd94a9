"""Prometheus metrics, through the official client (``prometheus_client``).

With one worker the metrics live in the process. With several, ``tosguard serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, each worker writes
its values to memory-mapped files there, and whichever worker answers ``/metrics`` adds them up,
so a scrape sees the whole service whichever worker it reaches. Per-worker gauges (the policy
revision, resident memory) then carry a ``pid`` label, which is how an operator sees that every
worker has taken a reload.

Label values are bounded (route templates, never raw paths; a fixed set of methods), so the
number of series cannot grow with traffic.

Exported:

- ``tosguard_http_requests_total{method,route,status}``
- ``tosguard_http_request_duration_seconds{method,route}`` (histogram)
- ``tosguard_http_requests_in_progress``
- ``tosguard_checks_total{verdict}``
- ``tosguard_policy_set_info{revision}`` (1 for the revision in use)
- ``tosguard_policy_set_loaded_timestamp_seconds``, ``tosguard_policy_set_clauses``
- ``tosguard_policy_reloads_total{result}`` (``success`` or ``failure``)
- ``tosguard_process_resident_memory_bytes`` (sampled at most once a second)
"""

from __future__ import annotations

import contextlib
import os
import time

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def resident_memory_bytes() -> int:
    """This process's resident set size, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )
        from prometheus_client.values import MutexValue, ValueClass

        disable_created_metrics()  # no `_created` series: they double the output for nothing

        self.multiprocess = ValueClass is not MutexValue and multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self.registry
        if not self.multiprocess:
            from prometheus_client import PLATFORM_COLLECTOR, PROCESS_COLLECTOR

            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR):
                with contextlib.suppress(ValueError):  # already registered
                    self.registry.register(collector)
        self.requests = Counter(
            "tosguard_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tosguard_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "tosguard_http_requests_in_progress",
            "HTTP requests being answered.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.checks = Counter(
            "tosguard_checks", "Manifests checked, by verdict.", ["verdict"], registry=registry
        )
        self.moved_to_pool = Counter(
            "tosguard_checks_moved_to_pool",
            "Small manifests whose check outgrew its slice of the "
            "event loop and went on in an evaluation thread.",
            registry=registry,
        )
        self.revision = Gauge(
            "tosguard_policy_set_info",
            "The policy set in use: 1 for its revision.",
            ["revision"],
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.loaded_at = Gauge(
            "tosguard_policy_set_loaded_timestamp_seconds",
            "When the policy set in use was loaded (Unix time).",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.clauses = Gauge(
            "tosguard_policy_set_clauses",
            "Clauses in the policy set in use.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.reloads = Counter(
            "tosguard_policy_reloads", "Policy set reload attempts.", ["result"], registry=registry
        )
        self.memory = Gauge(
            "tosguard_process_resident_memory_bytes",
            "Resident memory of the worker process.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        for verdict in ("compliant", "non_compliant", "undetermined"):
            self.checks.labels(verdict)
        for result in ("success", "failure"):
            self.reloads.labels(result)
        self._revision: str | None = None
        self._memory_sampled = 0.0
        self.sample_memory()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        now = time.monotonic()
        if now - self._memory_sampled >= 1.0:
            self.sample_memory(now)

    def sample_memory(self, now: float | None = None) -> None:
        self._memory_sampled = time.monotonic() if now is None else now
        self.memory.set(resident_memory_bytes())

    def policy_set(self, revision: str, loaded_at: float, clauses: int) -> None:
        if self._revision is not None and self._revision != revision:
            if self.multiprocess:
                self.revision.labels(self._revision).set(0)
            else:
                self.revision.remove(self._revision)
        self._revision = revision
        self.revision.labels(revision).set(1)
        self.loaded_at.set(loaded_at)
        self.clauses.set(clauses)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client.multiprocess import MultiProcessCollector

            self.sample_memory()
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        self.sample_memory()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def worker_exit(self) -> None:
        """Drop this worker's live gauges (multiprocess mode); counters stay summed."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
