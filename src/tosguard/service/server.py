"""Running the service: uvicorn, one or several worker processes, and signals.

``tosguard serve`` first loads and compiles the policy set and reads the API keys in its own
process, so that a broken policy file or key file stops it with the CLI's diagnostics (exit 2)
before a port is opened; the compiled set also lands in the on-disk cache, from which workers
then load it in milliseconds. It also raises its open-files limit to the hard limit (workers
inherit it) and checks that the connection cap fits under it (:mod:`.protocol`).

* One worker (the default): uvicorn serves from this process with the set already loaded.
  ``SIGHUP`` reloads it in place; a reload that fails keeps the set in use.
* ``--workers N``: a supervisor (uvicorn's, with a listening socket per worker: see below)
  starts N worker processes that share the port, each loading the set at start-up. ``SIGHUP``
  to the supervisor (the ``tosguard serve`` process) makes it replace the workers one at a
  time, each new one serving only once it has loaded the set; if the new set does not load,
  the new worker never becomes ready, the supervisor keeps the old worker and abandons the
  restart, so the set in use is kept. ``SIGHUP`` sent to one worker reloads that worker in
  place. Metrics are shared through ``PROMETHEUS_MULTIPROC_DIR``, a temporary directory removed
  at exit.

  Where the kernel balances it (Linux, ``SO_REUSEPORT``), each worker accepts on a listening
  socket of its own, all bound to the same port, and the kernel spreads new connections evenly
  over them. With one socket shared by all workers (uvicorn's default) whichever worker wakes
  first accepts a whole burst of connections, and keep-alive clients then stay pinned to it:
  one worker served 48 of 64 connections while the other idled.

  The supervisor opens these sockets, one per worker *slot*, and keeps them open for its
  lifetime: the replacement of worker *i* accepts on socket *i* beside the worker it replaces,
  and when that one stops accepting and drains (:mod:`.protocol`), the socket stays open and
  listening, so the connections waiting in its accept queue are taken by the replacement. A
  socket of the worker's own, closed with the worker, reset every connection in its queue (one
  of the ways requests were lost on each ``SIGHUP``).
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

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from ..errors import Diagnostic, Span, UsageError
from .config import SETTINGS_ENV, Settings

supervisor_log = logging.getLogger("uvicorn.error")


def preflight(settings: Settings):
    """Load the policy set and the API keys, raising the library's errors."""
    from .auth import ApiKeys
    from .state import load_policy_set

    ApiKeys.load(settings.api_keys_file)
    return load_policy_set(
        settings.library_paths(), settings.extra_policies, use_cache=settings.use_cache
    )


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
        # how long a new worker may take to start (and a worker to answer the supervisor's
        # ping): uvicorn's 5 s is too short on a busy 2-core machine, where a worker importing
        # and loading under load took longer and the rolling restart of a SIGHUP was abandoned
        "timeout_worker_healthcheck": 30,
    }


def http_limits(settings: Settings, open_files: int):
    """The connection limits of each worker; a :class:`UsageError` when the connection cap
    does not fit under the open-files limit."""
    from .protocol import HttpLimits, connection_cap

    # one clock for the whole exchange: the body must arrive, the work finish and the answer be
    # taken within the request's time limit (see protocol.TosguardProtocol.pause_writing)
    return HttpLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout=settings.header_timeout,
        write_timeout=settings.timeout,
        max_connections=connection_cap(settings.max_connections, open_files),
        access_log=settings.access_log,
    )


def run(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from .app import SUPERVISOR_ENV, create_app
    from .metrics import MULTIPROC_ENV
    from .protocol import ServeConfig, raise_open_files_limit

    policy_set = preflight(settings)
    limits = http_limits(settings, raise_open_files_limit())
    reuse_port = settings.workers > 1 and balances_reuse_port()
    # bound now, so that a port in use or a bad host is a usage error before anything starts
    reserved = bind_port(host, port, reuse_port)
    options = uvicorn_options(settings, host, port)
    log = logging.getLogger("uvicorn.error")
    if settings.workers <= 1:
        app = create_app(settings, policy_set=policy_set, handle_sighup=True)
        config = ServeConfig(app, http_limits=limits, **options)
        reserved.listen(config.backlog)
        announce(log, host, reserved, 1)
        server = uvicorn.Server(config)
        with reserved, contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[reserved])
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    del policy_set  # each worker loads its own (from the cache the preflight filled)
    gc.collect()
    metrics_dir = tempfile.mkdtemp(prefix="tosguard-metrics-")
    os.environ[MULTIPROC_ENV] = metrics_dir
    os.environ[SETTINGS_ENV] = settings.to_env()
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    config = ServeConfig(
        "tosguard.service.app:create_app_from_env",
        factory=True,
        workers=settings.workers,
        http_limits=limits,
        **options,
    )
    try:
        slots = worker_sockets(reserved, host, settings.workers, reuse_port, config.backlog)
        announce(log, host, reserved, settings.workers)
        with contextlib.ExitStack() as stack, contextlib.suppress(KeyboardInterrupt):
            for sock in set(slots):
                stack.enter_context(sock)
            WorkerSupervisor(config, slots).run()  # the supervisor handles SIGINT itself
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def announce(log: logging.Logger, host: str, sock: socket.socket, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    plural = "s" if workers > 1 else ""
    log.info(
        "tosguard serving on http://%s:%d with %d worker%s (Press CTRL+C to quit)",
        shown,
        sock.getsockname()[1],
        workers,
        plural,
    )


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
        raise UsageError(
            Diagnostic(
                "usage-cannot-listen",
                f"cannot listen on {host}:{port}: {reason}",
                Span("--port"),
                "choose another --port, stop the program listening there, or check --host",
            ),
        ) from None


def worker_sockets(
    reserved: socket.socket, host: str, workers: int, reuse_port: bool, backlog: int
) -> list[socket.socket]:
    """The listening socket of each worker slot: with ``reuse_port`` one per slot, all bound
    to the port of ``reserved`` (the first is ``reserved`` itself); else ``reserved``, shared."""
    if not reuse_port:
        reserved.listen(backlog)
        return [reserved] * workers
    port = reserved.getsockname()[1]  # the port chosen when 0 was asked for
    slots = [reserved]
    try:
        slots += [bind_port(host, port, reuse_port=True) for _ in range(workers - 1)]
        for sock in slots:
            sock.listen(backlog)
    except BaseException:
        for sock in slots[1:]:
            sock.close()
        raise
    return slots


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


class WorkerSupervisor(Multiprocess):
    """uvicorn's supervisor (signals, health checks, restarts of dead workers, rolling
    restarts on ``SIGHUP`` that bring each replacement into service before retiring the worker
    it replaces), with a listening socket per worker slot: worker *i*, and each replacement of
    it, gets ``slots[i]``, which this process keeps open. uvicorn hands every worker the same
    sockets, which would make all of them accept on all sockets, so the three places where it
    starts workers are given the slot (the rest of their logic is uvicorn's, as of 0.55)."""

    def __init__(self, config: Config, slots: list[socket.socket]):
        super().__init__(config, sockets=slots)
        self.slots = slots

    def start_worker(self, slot: int) -> Process:
        process = Process(self.config, [self.slots[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            self.processes.append(self.start_worker(slot))

    def restart_all(self) -> None:
        for idx, old_process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new_process = self.start_worker(idx)
            if not new_process.wait_until_ready(
                self.config.timeout_worker_healthcheck, self.should_exit
            ):
                new_process.kill()
                new_process.join()
                if not self.should_exit.is_set():
                    supervisor_log.error(
                        f"New child process [{new_process.pid}] was not ready in time; "
                        f"keeping worker [{old_process.pid}] and aborting the restart."
                    )
                return
            old_process.terminate()  # it stops accepting and drains; its slot stays open
            old_process.join()
            self.processes[idx] = new_process

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                supervisor_log.error(
                    f"Child process [{process.pid}] failed to start, stopping the parent process."
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            supervisor_log.info(f"Child process [{process.pid}] died")
            self.processes[idx] = self.start_worker(idx)

    def handle_ttin(self) -> None:
        supervisor_log.warning(
            "Received SIGTTIN: not supported (each worker has a listening "
            "socket of its own); restart with another --workers"
        )

    def handle_ttou(self) -> None:
        supervisor_log.warning(
            "Received SIGTTOU: not supported (each worker has a listening "
            "socket of its own); restart with another --workers"
        )
