"""Running the service: uvicorn, one or several worker processes, and signals.

``tosguard serve`` first loads and compiles the policy set and reads the API keys in its own
process, so that a broken policy file or key file stops it with the CLI's diagnostics (exit 2)
before a port is opened; the compiled set also lands in the on-disk cache, from which workers
then load it in milliseconds.

* One worker (the default): uvicorn serves from this process with the set already loaded.
  ``SIGHUP`` reloads it in place; a reload that fails keeps the set in use.
* ``--workers N``: uvicorn's supervisor starts N worker processes that share the port, each
  loading the set at start-up. ``SIGHUP`` to the supervisor (the ``tosguard serve`` process)
  makes it replace the workers one at a time, each new one serving only once it has loaded the
  set; if the new set does not load, the new worker never becomes ready, the supervisor keeps
  the old worker and abandons the restart, so the set in use is kept. ``SIGHUP`` sent to one
  worker reloads that worker in place. Metrics are shared through ``PROMETHEUS_MULTIPROC_DIR``,
  a temporary directory removed at exit.

  Where the kernel balances it (Linux, ``SO_REUSEPORT``), each worker listens on a socket of
  its own bound to the same port, and the kernel spreads new connections evenly over them. With
  one socket shared by all workers (uvicorn's default) whichever worker wakes first accepts a
  whole burst of connections, and keep-alive clients then stay pinned to it: one worker served
  48 of 64 connections while the other idled. The supervisor keeps the port bound (not
  listening) for its lifetime, so no other program can take it between worker restarts.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import socket
import sys
import tempfile

from ..errors import Diagnostic, Span, UsageError
from .config import SETTINGS_ENV, Settings


def preflight(settings: Settings):
    """Load the policy set and the API keys, raising the library's errors."""
    from .auth import ApiKeys
    from .state import load_policy_set

    ApiKeys.load(settings.api_keys_file)
    return load_policy_set(settings.policy_paths(), use_cache=settings.use_cache)


def uvicorn_options(settings: Settings, host: str, port: int) -> dict:
    from .logs import log_config

    return {
        "host": host,
        "port": port,
        "log_config": log_config(settings.log_level),
        "log_level": settings.log_level,
        "access_log": False,  # the service writes its own, structured, access log
        "server_header": False,
        "timeout_graceful_shutdown": 30,
    }


def run(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from .app import SUPERVISOR_ENV, create_app
    from .metrics import MULTIPROC_ENV

    policy_set = preflight(settings)
    reuse_port = settings.workers > 1 and balances_reuse_port()
    # bound now (and kept for the supervisor's lifetime when workers listen on their own), so
    # that a port in use or a bad host is a usage error before anything starts
    reserved = bind_port(host, port, reuse_port)
    options = uvicorn_options(settings, host, port)
    if not reuse_port:
        reserved.close()
    if settings.workers <= 1:
        app = create_app(settings, policy_set=policy_set, handle_sighup=True)
        uvicorn.run(app, **options)
        return
    del policy_set  # each worker loads its own (from the cache the preflight filled)
    gc.collect()
    metrics_dir = tempfile.mkdtemp(prefix="tosguard-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[SETTINGS_ENV] = settings.to_env()
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    try:
        if reuse_port:
            run_workers(reserved, host, settings.workers, options)
        else:
            uvicorn.run("tosguard.service.app:create_app_from_env", factory=True,
                        workers=settings.workers, **options)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def balances_reuse_port() -> bool:
    """Whether sockets sharing a port with ``SO_REUSEPORT`` get connections spread over them
    (Linux; elsewhere the option only lets a later socket take the port over)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_port(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A socket bound to ``host:port``; a :class:`UsageError` when that cannot be."""
    try:
        return bound_socket(host, port, reuse_port)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(Diagnostic(
            "usage-cannot-listen", f"cannot listen on {host}:{port}: {reason}", Span("--port"),
            "choose another --port, stop the program listening there, or check --host"),
        ) from None


def run_workers(reserved: socket.socket, host: str, workers: int, options: dict) -> None:
    """uvicorn's supervisor (restarts, rolling SIGHUP restarts), with a listening socket per
    worker: what it hands each worker is a :class:`WorkerListener`, which becomes a socket of
    the worker's own as the worker process starts. ``reserved``: the port, bound (not
    listening) for as long as the supervisor runs."""
    from uvicorn import Config
    from uvicorn.supervisors import Multiprocess

    config = Config("tosguard.service.app:create_app_from_env", factory=True, workers=workers,
                    **options)
    log = logging.getLogger("uvicorn.error")
    with reserved:
        bound = reserved.getsockname()[1]  # the port chosen when 0 was asked for
        listener = WorkerListener(host, bound, config.backlog)
        shown = f"[{host}]" if ":" in host else host
        log.info("tosguard serving on http://%s:%d with %d workers (Press CTRL+C to quit)",
                 shown, bound, workers)
        with contextlib.suppress(KeyboardInterrupt):  # the supervisor handles SIGINT itself
            Multiprocess(config, sockets=[listener]).run()  # type: ignore[list-item]


def bound_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening), with ``SO_REUSEPORT`` if
    asked; raises :class:`OSError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    sock = bound_socket(host, port, reuse_port=True)
    sock.listen(backlog)
    return sock


class WorkerListener:
    """Stands in for the listening socket uvicorn's supervisor passes to each worker process:
    unpickled in the worker (uvicorn starts workers with ``spawn``), it is a new socket of that
    worker's own, listening on the shared port."""

    def __init__(self, host: str, port: int, backlog: int):
        self.host, self.port, self.backlog = host, port, backlog

    def __reduce__(self):
        return (listening_socket, (self.host, self.port, self.backlog))
