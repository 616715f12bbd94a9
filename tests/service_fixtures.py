"""Shared fixtures of the service tests (in-process and over real HTTP)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

# The header of the test policy: its clauses follow, then a closing brace.
POLICY_HEADER = """\
policy acme-terms {
  provider  acme
  document  "Acme Terms"
  service   api
  version   "1"
  effective 2024-01-01
  url       "https://acme.example/terms"
"""
# A one-clause policy set the service tests load, validate, break and reload.
POLICY = (
    POLICY_HEADER
    + """\
  clause no-distill {
    topic distillation
    kind prohibition
    when source.use contains "distillation"
    remedy "Do not distil Acme output."
    cite { section "1" quote "You may not distil." }
  }
}
"""
)


# ---- `tosguard serve` as a real process on 127.0.0.1 --------------------------------------------
ROOT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tosguard_command() -> list[str]:
    executable = shutil.which("tosguard")
    return [executable] if executable else [sys.executable, "-m", "tosguard"]


def wait_until(predicate, timeout: float = 30, what: str = "condition", step: float = 0.05):
    """Poll ``predicate`` until it gives something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class ServeProcess:
    """``tosguard serve ARGS`` on a free port of 127.0.0.1, its stderr in a file of ``tmp``;
    ``preexec_fn`` runs in the child before it starts (e.g. to lower its resource limits)."""

    def __init__(
        self, tmp: Path, *args: str, workers: int = 1, preexec_fn=None, env: dict | None = None
    ):
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        command = [
            *tosguard_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            *args,
        ]
        with open(self.log, "wb") as stderr:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=preexec_fn,
                env={**os.environ, **(env or {})},
            )

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        """One request on a fresh connection: (status, raw response); (0, b"") when the
        connection fails or the answer is cut short."""
        raw = exchange(
            self.port,
            f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(),
            timeout=timeout,
        )
        return status_of(raw), raw

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, self.logs()
            return self.get("/readyz", timeout=5)[0] == 200

        wait_until(ready, timeout, "the server to be ready", step=0.1)

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def serve_process(tmp: Path, *args: str, **options):
    server = ServeProcess(tmp, *args, **options)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.logs(), server.logs()


def exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send ``request`` on a new connection and read until the server closes it (or
    ``timeout``); whatever arrived, b"" when the connection failed."""
    received = b""
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock,
    ):
        sock.sendall(request)
        while chunk := sock.recv(65536):
            received += chunk
    return received


def status_of(raw: bytes) -> int:
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def worker_pids(supervisor: int) -> set[int]:
    """The worker processes of a `serve --workers N` supervisor."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_bytes()
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
                if (
                    int(stat[stat.rindex(b")") + 2 :].split()[1]) == supervisor
                    and b"spawn_main" in command
                ):  # not multiprocessing's tracker
                    pids.add(int(entry))
    return pids


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets a process holds open."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                found.add(link[len("socket:[") : -1])
    return found


def listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on ``port`` (IPv4), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
            found.add(fields[9])
    return found
