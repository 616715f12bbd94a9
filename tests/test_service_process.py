"""`tosguard serve` as a real process on 127.0.0.1: reports equal the CLI's over HTTP, the body
limit on a chunked upload, the time limit on a slow body, API keys, JSON access logs, SIGHUP
reloads (one worker: in place; two workers: a rolling restart that a broken policy set cannot
complete), metrics summed across workers, and start-up refusals."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from click.testing import CliRunner  # noqa: E402

from service_fixtures import (  # noqa: E402
    POLICY,
    ServeProcess,
    free_port,
    listening_inodes,
    socket_inodes,
    tosguard_command,
    wait_until,
    worker_pids,
)
from tosguard.cli import cli  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
AS_OF = "2026-11-22"
KEY = "process-test-key-0123456789"
AUTH = {"x-api-key": KEY}
YAML = {**AUTH, "content-type": "application/yaml"}
MANIFEST = (
    b"tosguard: 1\nsources:\n  - {id: a, kind: model-output, provider: acme, "
    b"service: api, use: [distillation]}\n"
)


class Server(ServeProcess):
    """A served process with an HTTP client and a private temporary directory (so the test
    sees only this server's files, such as its metrics directory)."""

    def __init__(self, tmp: Path, *args: str, workers: int = 1):
        self.tmpdir = tmp / f"tmp-{len(list(tmp.glob('tmp-*')))}"
        self.tmpdir.mkdir()
        super().__init__(tmp, *args, workers=workers, env={"TMPDIR": str(self.tmpdir)})
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def log_entries(self) -> list[dict]:
        return [json.loads(line) for line in self.logs().splitlines() if line.strip()]

    def stop(self) -> None:
        self.client.close()
        super().stop()


@contextlib.contextmanager
def serving(tmp: Path, *args: str, workers: int = 1):
    server = Server(tmp, *args, workers=workers)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.logs()


def wait_for(predicate, timeout: float = 30, what: str = "condition"):
    return wait_until(predicate, timeout, what, step=0.1)


def raw_exchange(port: int, head: bytes, chunks: list[bytes], pause: float = 0.0) -> bytes:
    """Send a request piece by piece on a raw socket; the response, whatever happens."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server answered and closed: read what it said
        time.sleep(pause)
        received = b""
        with contextlib.suppress(OSError):
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        return received


def problem_of(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/problem+json" in head.lower()
    return status, json.loads(body)


@pytest.fixture
def private(tmp_path) -> tuple[Path, Path]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "acme.tos").write_text(POLICY)
    keys = tmp_path / "keys"
    keys.write_text(KEY + "\n")
    return policies, keys


def cli_json(*args: str) -> bytes:
    """What `tosguard check ARGS --format json` prints: the installed command for the first
    example, the CLI in process (the same code, without the start-up) for the others."""
    if not getattr(cli_json, "ran", False):
        cli_json.ran = True  # type: ignore[attr-defined]
        result = subprocess.run(
            [*tosguard_command(), "check", *args, "--format", "json"],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode in (0, 1), result.stderr.decode()
        return result.stdout
    with contextlib.chdir(ROOT):
        outcome = CliRunner().invoke(cli, ["check", *args, "--format", "json"])
    assert outcome.exit_code in (0, 1), outcome.output
    return outcome.stdout_bytes


def test_one_worker_end_to_end(tmp_path, private) -> None:
    policies, keys = private
    args = (
        "--extra-policies",
        str(policies),
        "--api-keys-file",
        str(keys),
        "--timeout",
        "1",
        "--max-body-bytes",
        "65536",
    )
    with serving(tmp_path, *args) as server:
        client = server.client
        first = client.get("/readyz").json()["revision"]

        # the CLI's report, byte for byte, for every example
        for path in sorted((ROOT / "examples").glob("*.*")):
            name = f"examples/{path.name}"
            kind = "application/json" if path.suffix == ".json" else "application/yaml"
            response = client.post(
                "/v1/check",
                content=path.read_bytes(),
                params={"as_of": AS_OF, "name": name},
                headers={**AUTH, "content-type": kind},
            )
            assert response.status_code == 200, response.text
            assert response.content == cli_json(
                name, "--as-of", AS_OF, "--extra-policies", str(policies)
            ), name

        # API keys
        assert (
            client.post(
                "/v1/check", content=MANIFEST, headers={"content-type": "application/yaml"}
            ).status_code
            == 401
        )
        assert client.get("/healthz").status_code == 200

        # 413 counted on a chunked upload, before the whole body is read
        head = (
            b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
            b"X-API-Key: " + KEY.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"4000\r\n" + b"#" * 0x4000 + b"\r\n"
        status, problem = problem_of(raw_exchange(server.port, head, [chunk] * 64))
        assert (status, problem["type"]) == (413, "urn:tosguard:problem:body-too-large")

        # 408 when the body does not arrive within the time limit
        head = (
            b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/yaml\r\n"
            b"X-API-Key: " + KEY.encode() + b"\r\nContent-Length: 100\r\n\r\n"
        )
        status, problem = problem_of(raw_exchange(server.port, head, [b"tosguard: 1\n"], pause=1.5))
        assert (status, problem["type"]) == (408, "urn:tosguard:problem:body-timeout")

        # SIGHUP: a new set is taken; a broken one is refused and the old one kept
        assert (
            client.post("/v1/check", content=MANIFEST, headers=YAML).json()["verdict"]
            == "non_compliant"
        )
        (policies / "acme.tos").write_text(
            POLICY.replace('contains "distillation"', 'contains "rlhf"')
        )
        server.process.send_signal(signal.SIGHUP)
        second = wait_for(
            lambda: (r := client.get("/readyz").json())["revision"] != first and r["revision"],
            what="the reload",
        )
        assert (
            client.post("/v1/check", content=MANIFEST, headers=YAML).json()["verdict"]
            == "compliant"
        )
        (policies / "acme.tos").write_text("policy {")
        server.process.send_signal(signal.SIGHUP)
        ready = wait_for(
            lambda: (r := client.get("/readyz").json())["reload_failures"] and r,
            what="the failed reload",
        )
        assert ready["revision"] == second
        assert client.post("/v1/check", content=MANIFEST, headers=YAML).status_code == 200
        metrics = client.get("/metrics", headers=AUTH).text
        assert f'tosguard_policy_set_info{{revision="{second}"}} 1.0' in metrics

    entries = server.log_entries()  # every line is JSON
    access = [e for e in entries if e["logger"] == "tosguard.access"]
    assert {e["status"] for e in access} >= {200, 401, 408, 413}
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["request_id"]) for e in access)
    assert KEY not in server.logs()
    failed = [e for e in entries if e["message"].startswith("policy set reload failed")]
    assert failed and failed[0]["errors"][0]["code"]


def test_two_workers_share_metrics_and_roll_on_reload(tmp_path, private) -> None:
    policies, keys = private
    args = ("--policies", str(policies), "--api-keys-file", str(keys))
    with serving(tmp_path, *args, workers=2) as server:
        client = server.client
        first = client.get("/readyz").json()["revision"]
        for _ in range(20):
            response = client.post("/v1/check", content=MANIFEST, headers=YAML)
            assert response.json()["verdict"] == "non_compliant"
        metrics = client.get("/metrics", headers=AUTH).text
        assert 'tosguard_checks_total{verdict="non_compliant"} 20.0' in metrics

        def live_workers() -> set[str]:  # /readyz answered once the first worker was up
            text = client.get("/metrics", headers=AUTH).text
            return set(
                re.findall(
                    r'tosguard_policy_set_info\{pid="(\d+)",revision="' + first + '"} 1.0', text
                )
            )

        workers = wait_for(lambda: len(found := live_workers()) == 2 and found, what="both workers")

        # a reload over HTTP swaps the worker that answers and rolls the other one
        (policies / "acme.tos").write_text(
            POLICY.replace('contains "distillation"', 'contains "rlhf"')
        )
        outcome = client.post("/v1/admin/reload", headers=AUTH).json()
        second = outcome["revision"]
        assert outcome["changed"] and outcome["workers"] == 2

        def rolled() -> bool:
            try:
                text = client.get("/metrics", headers=AUTH).text
            except httpx.TransportError:  # a kept-alive connection to a retiring worker
                return False
            live = re.findall(r'tosguard_policy_set_info\{pid="(\d+)",revision="(\w+)"} 1.0', text)
            return (
                len(live) == 2
                and {r for _, r in live} == {second}
                and not {p for p, _ in live} & workers
            )

        wait_for(rolled, timeout=60, what="the rolling restart")
        for _ in range(10):
            assert (
                client.post("/v1/check", content=MANIFEST, headers=YAML).json()["verdict"]
                == "compliant"
            )

        # a broken set: SIGHUP starts a replacement that never gets ready; the old stay
        (policies / "acme.tos").write_text("policy {")
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "keeping worker" in server.logs(), timeout=60, what="the aborted restart")
        for _ in range(10):
            response = client.post("/v1/check", content=MANIFEST, headers=YAML)
            assert response.json()["verdict"] == "compliant"
            assert response.headers["x-tosguard-revision"] == second
        metrics_dirs = {d for d in os.listdir(server.tmpdir) if d.startswith("tosguard-metrics-")}
        assert metrics_dirs
    assert server.process.returncode is not None
    assert not metrics_dirs & set(os.listdir(server.tmpdir))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing")
def test_two_workers_share_a_burst_of_keep_alive_connections(tmp_path, private) -> None:
    """Each worker listens on its own socket, so a client that opens its connection pool at
    once does not get every connection from whichever worker woke first."""
    policies, keys = private
    with serving(
        tmp_path, "--policies", str(policies), "--api-keys-file", str(keys), workers=2
    ) as server:
        workers = wait_for(
            lambda: len(found := worker_pids(server.process.pid)) == 2 and found,
            what="both workers",
        )
        wait_for(
            lambda: len(set(re.findall(r'"pid": (\d+)', server.logs()))) == 2,
            what="both workers serving",
        )
        listening = listening_inodes(server.port)
        assert len(listening) == 2  # one listening socket per worker, none shared
        assert all(len(socket_inodes(pid) & listening) == 1 for pid in workers)
        before = {pid: len(socket_inodes(pid)) for pid in workers}
        connections = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(32)
        ]
        try:
            for connection in connections:  # answered, so surely accepted
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            for connection in connections:
                assert connection.recv(4096).startswith(b"HTTP/1.1 200")
            taken = {pid: len(socket_inodes(pid)) - before[pid] for pid in workers}
        finally:
            for connection in connections:
                connection.close()
    assert sum(taken.values()) == 32, taken
    # spread by a hash of the client's port: both get a share (all but certainly > 3 of 32)
    assert min(taken.values()) > 3, taken


def test_serve_refuses_an_invalid_policy_set(tmp_path) -> None:
    (tmp_path / "bad.tos").write_text("policy {")
    result = subprocess.run(
        [*tosguard_command(), "serve", "--port", str(free_port()), "--policies", str(tmp_path)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"bad.tos:1" in result.stderr and b"Traceback" not in result.stderr


def test_serve_refuses_a_short_api_key(tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("short\n")
    result = subprocess.run(
        [*tosguard_command(), "serve", "--port", str(free_port()), "--api-keys-file", str(keys)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"shorter than 16" in result.stderr and b"short\n" not in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_a_port_in_use(workers) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*tosguard_command(), "serve", "--port", str(port), "--workers", workers],
            capture_output=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}".encode() in result.stderr
    assert b"--port" in result.stderr and b"Traceback" not in result.stderr
