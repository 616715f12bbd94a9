"""Attacks on the HTTP service (issue 9, items 6, 9, 10 and 12), each reproduced on 127.0.0.1
with bounded sizes, loops and waits, and the defence asserted:

- API keys configured but yielding none: `serve` refuses to start (exit 2), and a reload that
  would read an empty key file keeps the keys in use;
- endless or huge request headers: 431 at the header limit, memory bounded, slow headers cut
  off with 408 after the header timeout, and probes answered while more slow connections are
  open than the process has file descriptors;
- rolling restarts under keep-alive load: not one request lost;
- small defects: malformed HTTP gets a problem document, no response reflects the client's
  `Host`, and the OpenAPI document admits exactly the dates and policy bodies the service takes;
- the red team's second round: an endless chunked trailer gets 431 with probes answered and
  memory flat (and little is parsed after a 401), slow bodies at the connection cap give way to
  probes while a request fully received is kept, answers nobody reads are dropped after the
  write timeout with their memory, and log lines escape C1 and bidirectional controls.

Tests that start `tosguard serve` are marked slow, like tests/test_service_process.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

with warnings.catch_warnings():  # starlette would rather have httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from service_fixtures import (  # noqa: E402
    POLICY,
    ROOT,
    exchange,
    free_port,
    listening_inodes,
    rss_bytes,
    serve_process,
    socket_inodes,
    status_of,
    tosguard_command,
    wait_until,
    worker_pids,
)
from tosguard.engine.library import default_paths  # noqa: E402
from tosguard.errors import UsageError  # noqa: E402
from tosguard.service.app import create_app  # noqa: E402
from tosguard.service.auth import ApiKeys  # noqa: E402
from tosguard.service.config import Settings  # noqa: E402
from tosguard.service.openapi import DATE_PATTERN  # noqa: E402
from tosguard.service.state import load_policy_set  # noqa: E402

PROBLEM = "application/problem+json"
KEY = "attack-test-key-0123456789abcdef"
MANIFEST = (
    b"tosguard: 1\nsources:\n  - {id: a, kind: model-output, provider: acme, "
    b"service: api, use: [distillation]}\n"
)


@pytest.fixture(scope="module")
def shipped():
    return load_policy_set([str(p) for p in default_paths()])


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == f"urn:tosguard:problem:{kind}"
    return problem


# ---- item 6: API keys that fail open ------------------------------------------------------------
def serve_refusal(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`tosguard serve ARGS`, expected to refuse to start: bounded, so that a server that does
    start (the attack succeeding) fails the test instead of hanging it."""
    try:
        return subprocess.run(
            [*tosguard_command(), "serve", "--port", str(free_port()), *args],
            capture_output=True,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("`tosguard serve` started instead of refusing") from None


@pytest.mark.slow
def test_serve_refuses_a_key_file_of_comments_and_blank_lines(tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# production keys\n\n   \n# (rotated)\n")
    result = serve_refusal("--api-keys-file", str(keys))
    assert result.returncode == 2, result.stderr.decode()
    stderr = result.stderr.decode()
    assert "error[serve-api-keys-empty]" in stderr
    assert f"{keys}:1:1" in stderr and "holds no key" in stderr
    assert "help: write one key per line" in stderr and "Traceback" not in stderr


@pytest.mark.slow
@pytest.mark.parametrize("value", [" , ,", ""])
def test_serve_refuses_keys_from_the_environment_that_are_all_blank(value) -> None:
    result = serve_refusal(env={"TOSGUARD_API_KEYS": value})
    assert result.returncode == 2, result.stderr.decode()
    stderr = result.stderr.decode()
    assert "`$TOSGUARD_API_KEYS` is set but holds no key" in stderr
    assert "help: set it to keys separated by commas" in stderr


def test_key_sources_that_yield_no_key_are_refused(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    comments = tmp_path / "comments"
    comments.write_text("#\n")
    for path in (empty, comments):
        with pytest.raises(UsageError, match="holds no key") as raised:
            ApiKeys.load(str(path), environ={})
        assert raised.value.diagnostics[0].help
    for value in ("", ",", " , ,"):
        with pytest.raises(UsageError, match="holds no key"):
            ApiKeys.load(None, environ={"TOSGUARD_API_KEYS": value})
    good = tmp_path / "good"
    good.write_text(f"# ok\n{KEY}\n")
    with pytest.raises(UsageError, match="holds no key"):  # each configured source counts
        ApiKeys.load(str(good), environ={"TOSGUARD_API_KEYS": " , "})
    assert ApiKeys.load(str(good), environ={}).enabled
    assert not ApiKeys.load(None, environ={}).enabled  # nothing configured: open, as documented


def test_a_reload_that_reads_an_empty_key_file_keeps_the_keys(shipped, tmp_path, caplog) -> None:
    keys = tmp_path / "keys"
    keys.write_text(KEY + "\n")
    yaml = {"content-type": "application/yaml"}
    with TestClient(create_app(Settings(api_keys_file=str(keys)), policy_set=shipped)) as client:
        keys.write_text("# emptied by mistake\n")
        with caplog.at_level(logging.ERROR, "tosguard.service"):
            assert client.post("/v1/admin/reload", headers={"x-api-key": KEY}).status_code == 200
        response = client.post("/v1/check", content=MANIFEST, headers=yaml)
        assert_problem(response, 401, "unauthorized")
        response = client.post("/v1/check", content=MANIFEST, headers={**yaml, "x-api-key": KEY})
        assert response.status_code == 200
    errors = [r for r in caplog.records if "API keys could not be re-read" in r.getMessage()]
    assert errors and errors[0].fields["errors"][0]["code"] == "serve-api-keys-empty"


# ---- item 12: small HTTP defects ----------------------------------------------------------------
def test_a_trailing_slash_is_a_404_naming_the_path_and_never_reflects_the_host(shipped) -> None:
    with TestClient(create_app(Settings(), policy_set=shipped)) as client:
        for method, path, right in [
            ("POST", "/v1/check/", "/v1/check"),
            ("GET", "/healthz/", "/healthz"),
            ("GET", "/v1/policies/", "/v1/policies"),
        ]:
            response = client.request(
                method,
                path,
                content=MANIFEST,
                follow_redirects=False,
                headers={"host": "evil.example", "content-type": "application/yaml"},
            )
            problem = assert_problem(response, 404, "not-found")
            assert "location" not in response.headers
            assert "evil.example" not in response.text + json.dumps(dict(response.headers))
            assert problem["errors"][0]["help"] == f"send the request to `{right}`"
        problem = assert_problem(client.get("/v1/chek"), 404, "not-found")
        assert problem["errors"][0]["help"] == "did you mean `/v1/check`?"


def test_the_as_of_pattern_admits_exactly_the_dates_the_service_accepts() -> None:
    pattern = re.compile(DATE_PATTERN)
    years = [0, 1, 4, 99, 100, 400, 1582, 1900, 2000, 2023, 2024, 2100, 9996, 9999]
    for year in years:
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    date.fromisoformat(text)
                    valid = True
                except ValueError:
                    valid = False
                assert bool(pattern.fullmatch(text)) == valid, text


def test_what_the_openapi_document_admits_is_answered(shipped) -> None:
    with TestClient(create_app(Settings(), policy_set=shipped)) as client:
        document = client.get("/openapi.json").json()
        check = document["paths"]["/v1/check"]["post"]
        as_of = next(p for p in check["parameters"] if p["name"] == "as_of")
        string = next(s for s in as_of["schema"]["anyOf"] if s.get("type") == "string")
        assert as_of["schema"]["format"] == "date" and string["pattern"] == DATE_PATTERN
        for day in ("0001-01-01", "9999-12-31", "2024-02-29", "2000-02-29"):
            response = client.post(
                "/v1/check",
                params={"as_of": day},
                content=MANIFEST,
                headers={"content-type": "application/yaml"},
            )
            assert response.status_code == 200, (day, response.text)
        for day in ("0000-00-00", "2026-13-01", "2026-02-29", "1900-02-29", "2026-04-31"):
            response = client.post(
                "/v1/check",
                params={"as_of": day},
                content=MANIFEST,
                headers={"content-type": "application/yaml"},
            )
            assert_problem(response, 400, "invalid-parameter")
        validate = document["paths"]["/v1/policies/validate"]["post"]
        body = validate["requestBody"]["content"]["text/plain"]["schema"]
        assert body == {"type": "string", "minLength": 1}
        assert (
            client.post(
                "/v1/policies/validate",
                content=POLICY.encode(),
                headers={"content-type": "text/plain"},
            ).status_code
            == 200
        )


def problem_in(raw: bytes, status: int, kind: str) -> dict:
    """The problem document of a raw HTTP response, checked."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert status_of(raw) == status, raw[:300]
    assert b"content-type: application/problem+json" in head.lower(), head
    problem = json.loads(body)
    assert problem["type"] == f"urn:tosguard:problem:{kind}" and problem["errors"][0]["help"]
    return problem


@pytest.fixture
def policies(tmp_path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "acme.tos").write_text(POLICY)
    return directory


@pytest.mark.slow
def test_malformed_http_gets_a_problem_document(tmp_path, policies) -> None:
    with serve_process(tmp_path, "--policies", str(policies)) as server:
        for garbage in (
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
        ):
            problem = problem_in(exchange(server.port, garbage), 400, "malformed-request")
            assert problem["errors"][0]["code"] == "http-malformed"


# ---- item 9: header size limit, header timeout, connection cap ----------------------------------
def head_of(size: int, path: str = "/healthz") -> bytes:
    """A GET request whose line and headers are exactly ``size`` bytes."""
    start = f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: ".encode()
    return start + b"a" * (size - len(start) - 4) + b"\r\n\r\n"


@pytest.mark.slow
def test_a_head_over_the_limit_gets_431(tmp_path, policies) -> None:
    with serve_process(
        tmp_path, "--policies", str(policies), "--max-header-bytes", "4096"
    ) as server:
        assert status_of(exchange(server.port, head_of(4096))) == 200
        problem = problem_in(exchange(server.port, head_of(4097)), 431, "header-too-large")
        assert "4096 bytes" in problem["detail"]
        # one header of 64 KiB, sent at once and in pieces
        big = head_of(64 * 1024)
        problem_in(exchange(server.port, big), 431, "header-too-large")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            with contextlib.suppress(OSError):
                for start in range(0, len(big), 1000):
                    sock.sendall(big[start : start + 1000])
            problem_in(sock.recv(65536), 431, "header-too-large")


@pytest.mark.slow
def test_endless_headers_keep_memory_bounded(tmp_path, policies) -> None:
    """The red team's attack, scaled down: 10 connections sending one header that never ends
    (6 MiB each here; 50 MiB each added 506 MB to the server)."""
    connections, per_connection, chunk = 10, 6 << 20, b"a" * 65536
    with serve_process(tmp_path, "--policies", str(policies)) as server:
        pid = server.process.pid
        before = peak = rss_bytes(pid)
        answers: list[bytes] = []

        def attack() -> None:
            answer = b""
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
            ):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Endless: ")
                with contextlib.suppress(OSError):  # until the server stops reading
                    for _ in range(per_connection // len(chunk)):
                        sock.sendall(chunk)
                sock.settimeout(5)
                answer = sock.recv(65536)
            answers.append(answer)

        threads = [threading.Thread(target=attack) for _ in range(connections)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.01)
        grown = peak - before
        assert grown < 16 << 20, f"the server grew by {grown >> 20} MiB"
        assert len(answers) == connections
        for answer in answers:
            problem_in(answer, 431, "header-too-large")
        assert server.get("/healthz")[0] == 200


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and when it closed it."""
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            return received, time.monotonic()
        if not data:
            return received, time.monotonic()
        received += data
    raise AssertionError(f"the connection is still open; received {received[:200]!r}")


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """One whole response (with a Content-Length) from a kept-alive connection."""
    sock.settimeout(timeout)
    received = b""

    def more() -> bytes:
        data = sock.recv(65536)
        assert data, f"closed after {received!r}"
        return data

    while b"\r\n\r\n" not in received:
        received += more()
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        body += more()
    return head + b"\r\n\r\n" + body


def drip(sock: socket.socket, data: bytes, interval: float, stop: threading.Event) -> None:
    """Send ``data`` a byte at a time, one every ``interval`` seconds (slowloris)."""
    for byte in data:
        if stop.wait(interval):
            return
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return


@pytest.mark.slow
def test_slow_headers_are_cut_off_after_the_header_timeout(tmp_path, policies) -> None:
    timeout, bound = 1.0, 10.0  # generous: a busy machine may be late, never early
    with serve_process(
        tmp_path, "--policies", str(policies), "--header-timeout", str(timeout)
    ) as server:
        stop = threading.Event()
        sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
        try:
            started = time.monotonic()
            silent, slow, kept, blank = sockets
            # 1. a connection that says nothing is closed, without an answer
            # 2. a first request dripped a byte at a time gets 408
            threading.Thread(target=drip, args=(slow, head_of(2000), 0.1, stop)).start()
            # 3. a kept-alive connection: one request answered, then the next one dripped
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(kept, bound).startswith(b"HTTP/1.1 200")
            next_started = time.monotonic()
            threading.Thread(target=drip, args=(kept, head_of(2000), 0.1, stop)).start()
            # 4. the same, dripping blank lines (no request ever begins)
            blank.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(blank, bound).startswith(b"HTTP/1.1 200")
            threading.Thread(target=drip, args=(blank, b"\r\n" * 1000, 0.1, stop)).start()

            answer, closed = read_until_closed(silent, started + bound)
            assert answer == b"" and closed - started >= timeout * 0.9
            answer, closed = read_until_closed(slow, started + bound)
            problem = problem_in(answer, 408, "header-timeout")
            assert problem["errors"][0]["code"] == "http-header-timeout"
            answer, closed = read_until_closed(kept, next_started + bound)
            problem_in(answer, 408, "header-timeout")
            assert closed - next_started >= timeout * 0.9
            answer, closed = read_until_closed(blank, next_started + bound)
            assert answer == b""
        finally:
            stop.set()
            for sock in sockets:
                sock.close()
        assert server.get("/healthz")[0] == 200


def test_the_connection_cap_fits_under_the_open_files_limit() -> None:
    from tosguard.service.protocol import connection_cap

    assert connection_cap(0, 20000) == 1024  # the default
    assert connection_cap(0, 128) == 80  # an eighth, at least 48, kept for the worker itself
    assert connection_cap(5000, 20000) == 5000
    with pytest.raises(UsageError, match="does not fit under the open-files limit"):
        connection_cap(5000, 1024)
    with pytest.raises(UsageError, match="leaves room for 2 connections"):
        connection_cap(0, 50)


@pytest.mark.slow
def test_serve_refuses_a_connection_cap_over_the_open_files_limit(tmp_path, policies) -> None:
    result = subprocess.run(
        [
            *tosguard_command(),
            "serve",
            "--port",
            str(free_port()),
            "--policies",
            str(policies),
            "--max-connections",
            "1000",
        ],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=low_open_files_limit(256),
    )
    assert result.returncode == 2, result.stderr.decode()
    assert b"error[usage-max-connections]" in result.stderr
    assert b"help: give at most 208" in result.stderr  # 256 less the 48 the worker keeps


def low_open_files_limit(limit: int):
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return lower


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="descriptor limits as on Linux")
def test_probes_are_answered_with_more_slow_connections_than_descriptors(
    tmp_path, policies
) -> None:
    """`ulimit -n 128` and 300 slow connections (the red team: `nofile=256`, 300 connections,
    every probe failed for 20 s)."""
    limit, slow = 128, 300
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > slow + 64, "the test needs fds"
    with serve_process(
        tmp_path, "--policies", str(policies), preexec_fn=low_open_files_limit(limit)
    ) as server:
        held: list[socket.socket] = []
        try:
            for number in range(slow):
                with contextlib.suppress(OSError):
                    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                    held.append(sock)
                    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow-{number}: ".encode())
            time.sleep(0.5)  # let the server take them all
            for _ in range(5):
                started = time.monotonic()
                status, raw = server.get("/healthz", timeout=10)
                assert status == 200, raw
                assert time.monotonic() - started < 5
            assert len(os.listdir(f"/proc/{server.process.pid}/fd")) < limit
        finally:
            for sock in held:
                sock.close()
        assert "Traceback" not in server.logs()


# ---- the red team's second round: chunked framing, slow bodies, unread answers, log text -------
def post_head(
    path: str = "/v1/check", *, length: int | None = None, key: bool = False, close: bool = False
) -> bytes:
    """The head of a YAML POST, with a Content-Length (``length``) or else chunked."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    extra = (f"X-API-Key: {KEY}\r\n" if key else "") + ("Connection: close\r\n" if close else "")
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/yaml\r\n{extra}"
        f"{framing}\r\n\r\n"
    ).encode()


def chunked(body: bytes, size: int, trailers: bytes = b"") -> bytes:
    """``body`` as chunks of ``size`` bytes, then the last chunk, ``trailers`` and the end."""
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailers + b"\r\n"


def endless_trailer(
    port: int,
    head: bytes,
    budget: int,
    seconds: float,
    answers: list[bytes],
    answered_first: bool = False,
) -> None:
    """The red team's attack: after a chunked request head, the last chunk and a trailer field
    that never ends, sent 64 KiB at a time for as long as the server takes it (at most
    ``budget`` bytes and ``seconds`` seconds); what the server answered meanwhile is added to
    ``answers``. ``answered_first``: the head alone first, the rest once the answer began."""
    answer = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:

        def read() -> None:
            with contextlib.suppress(OSError):
                while data := sock.recv(65536):
                    answer.extend(data)

        reader = threading.Thread(target=read)
        reader.start()
        sock.sendall(head)
        if answered_first:
            wait_until(lambda: answer, timeout=10, what="the answer to the head")
        sock.sendall(b"0\r\nX-T: ")
        chunk, sent, started = b"a" * 65536, 0, time.monotonic()
        with contextlib.suppress(OSError):  # until the server stops taking it
            while sent < budget and time.monotonic() - started < seconds:
                sock.sendall(chunk)
                sent += len(chunk)
        reader.join(timeout=30)
    answers.append(bytes(answer))


def probe_while(server, busy: threading.Thread) -> tuple[float, int]:
    """`GET /healthz` on fresh connections while ``busy`` runs: the slowest answer (each must
    be a 200), and the server's peak resident memory meanwhile."""
    slowest, peak = 0.0, rss_bytes(server.process.pid)
    while busy.is_alive():
        started = time.monotonic()
        status, raw = server.get("/healthz", timeout=60)
        assert status == 200, raw[:300]
        slowest = max(slowest, time.monotonic() - started)
        peak = max(peak, rss_bytes(server.process.pid))
        time.sleep(0.05)
    return slowest, peak


def access_entries(server) -> list[dict]:
    return [
        entry
        for line in server.logs().splitlines()
        if (entry := json.loads(line))["logger"] == "tosguard.access"
    ]


@pytest.mark.slow
def test_chunked_trailers_are_held_to_the_header_limit(tmp_path, policies) -> None:
    """The red team: `POST` chunked, then `0\\r\\nX-T: ` and 1 MiB pieces of one trailer value.
    The bytes went to the parser uncounted and httptools grew the value with `+=` on the event
    loop: probes waited up to 14 s, memory grew 44 MB, with or without an API key. Now the
    trailer is counted against --max-header-bytes (431), and of a request already answered
    (401) little more is parsed, and nothing more answered."""
    keys = tmp_path / "keys"
    keys.write_text(KEY + "\n")
    with serve_process(
        tmp_path, "--policies", str(policies), "--api-keys-file", str(keys)
    ) as server:
        # with a key the app waits for the body: the trailer is refused at the limit; without
        # one the app answers at once (401), and answers nothing more
        for key in (True, False):
            before = rss_bytes(server.process.pid)
            answers: list[bytes] = []
            attack = threading.Thread(
                target=endless_trailer,
                args=(server.port, post_head(key=key), 48 << 20, 15, answers, not key),
            )
            attack.start()
            slowest, peak = probe_while(server, attack)
            if key:
                problem = problem_in(answers[0], 431, "header-too-large")
                assert problem["errors"][0]["code"] == "http-chunked-framing-too-large"
                assert "16384 bytes" in problem["detail"]
            else:  # the 401 alone: past the limit the rest is dropped unparsed, unanswered
                assert status_of(answers[0]) == 401, answers[0][:300]
                assert answers[0].count(b"HTTP/1.1 ") == 1, answers[0]
            assert slowest < 2, f"a probe waited {slowest:.1f} s"
            assert peak - before < 16 << 20, f"the server grew by {(peak - before) >> 20} MiB"

        # within the limit: a body in many small chunks, with trailers, is checked as usual
        body = MANIFEST + b"#" * 3000 + b"\n"
        raw = exchange(
            server.port, post_head(key=True, close=True) + chunked(body, 3, b"X-A: 1\r\nX-B: 2\r\n")
        )
        assert status_of(raw) == 200 and b'"verdict": "non_compliant"' in raw, raw[:300]

        # a malformed chunk while the app waits for the body: the parser's 400, and the app,
        # told the client is gone, neither answers again nor logs an error
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(post_head(key=True))
            time.sleep(0.3)
            sock.sendall(b"zz\r\n")
            problem = problem_in(
                read_until_closed(sock, time.monotonic() + 10)[0], 400, "malformed-request"
            )
            assert "chunk size" in problem["errors"][0]["message"]
        # a client gone before its body arrived: 499 in the access log, no error
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(post_head(length=100, key=True) + b"tosguard: 1\n")
            time.sleep(0.3)
        # answered before its body came (a client's head and body in two writes, the 401
        # between them): the rest is read and dropped, and the connection carries the next
        # request; but of a rest over 256 KiB nothing more is read, and the connection closes
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(post_head(length=len(MANIFEST)))
            assert status_of(read_response(sock, 10)) == 401
            sock.sendall(MANIFEST + b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert status_of(read_response(sock, 10)) == 200
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(post_head(length=1 << 20))
            assert status_of(read_response(sock, 10)) == 401
            with contextlib.suppress(OSError):
                sock.sendall(b"#" * (1 << 20) + b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_until_closed(sock, time.monotonic() + 10)[0] == b""

        def logged() -> list[dict] | None:
            entries = [e for e in access_entries(server) if e["path"] == "/v1/check"]
            return entries if len(entries) >= 7 else None

        entries = wait_until(logged, what="the access-log lines")
        assert sorted((e["status"], e.get("problem") or "") for e in entries) == [
            (200, ""),
            (400, "malformed-request"),
            (401, ""),
            (401, ""),
            (401, ""),
            (431, "header-too-large"),
            (499, ""),
        ]
    assert "internal error" not in server.logs()


BIG_MANIFEST = b"tosguard: 1\nsources:\n" + b"".join(
    b"  - {id: s%d, kind: model-output, provider: acme, service: api, use: [distillation]}\n"
    % number
    for number in range(2000)
)


@pytest.fixture
def big_answers(tmp_path) -> Path:
    """A policy set whose one clause has a remedy of 10,800 characters: each finding is some
    11 KB, and the report on BIG_MANIFEST (2,000 findings) about 23 MB."""
    directory = tmp_path / "big-answers"
    directory.mkdir()
    remedy = "Do not distil Acme output. " * 400
    (directory / "acme.tos").write_text(
        POLICY.replace('"Do not distil Acme output."', f'"{remedy}"')
    )
    return directory


def unread_request(port: int, body: bytes) -> socket.socket:
    """A connection that asks for the report on ``body`` and takes only its first byte: it
    returns once the answer has begun (the server wrote it whole and holds what did not fit in
    the kernel's buffers)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    sock.sendall(post_head(length=len(body)) + body)
    assert sock.recv(1, socket.MSG_PEEK) == b"H"
    return sock


def established(port: int) -> int:
    """The server's open connections on ``port`` (IPv4), from /proc/net/tcp."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        count += int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01"
    return count


def read_whole(sock: socket.socket, timeout: float, pause: float = 0.0) -> bytes:
    """One whole response with a Content-Length; ``pause`` seconds between reads."""
    sock.settimeout(timeout)
    received = bytearray()
    while b"\r\n\r\n" not in received:
        received += sock.recv(1 << 20)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
    while len(received) < len(head) + 4 + length:
        time.sleep(pause)
        data = sock.recv(1 << 20)
        assert data, f"closed after {len(received)} bytes"
        received += data
    return bytes(received)


def read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """What the server sends until it closes the connection, resets it, or ``timeout``."""
    sock.settimeout(timeout)
    received = b""
    with contextlib.suppress(OSError):
        while data := sock.recv(65536):
            received += data
    return received


class ThreadGroup:
    """Threads started on entering the block and stopped (``stop`` set, then joined) on
    leaving it."""

    threads: list[threading.Thread]
    stop: threading.Event

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


class SlowBodies(ThreadGroup):
    """Clients that send a complete request head and then drip its body a byte every half
    second, each opening a new connection whenever the server closes its own (the red team:
    1,024 of them kept every probe on 503 for the whole --timeout); the answers they got."""

    def __init__(self, port: int, clients: int):
        self.port = port
        self.stop = threading.Event()
        self.answers: list[bytes] = []
        self.connected = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self) -> None:
        while not self.stop.is_set():
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock,
            ):
                sock.sendall(post_head(length=100_000))
                with self.lock:
                    self.connected += 1
                while not self.stop.wait(0.5):
                    readable, _, _ = select.select([sock], [], [], 0)
                    if readable:  # answered: read it, then come back
                        self.answers.append(read_all(sock))
                        break
                    sock.sendall(b"#")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_RCVBUF, MSG_PEEK as on Linux")
def test_slow_bodies_do_not_hold_the_connection_cap(tmp_path, big_answers) -> None:
    """At the cap, a new connection closes the one whose body has been arriving longest (503)
    when no connection waits for a head; a request fully received, here one whose client is
    slow to take its 23 MB answer, is never closed for another."""
    cap = 16
    with serve_process(
        tmp_path, "--policies", str(big_answers), "--max-connections", str(cap), "--timeout", "60"
    ) as server:
        unread = unread_request(server.port, BIG_MANIFEST)
        with unread, SlowBodies(server.port, cap - 1) as attackers:
            wait_until(lambda: attackers.connected >= cap - 1, what="the slow bodies")
            time.sleep(0.5)  # every slot is taken
            for _ in range(12):
                started = time.monotonic()
                status, raw = server.get("/healthz", timeout=10)
                assert status == 200, raw[:300]
                assert time.monotonic() - started < 5
                time.sleep(0.2)
            answer = read_whole(unread, timeout=30)  # all of it, at last
            assert status_of(answer) == 200 and len(answer) > 20 << 20
        assert attackers.answers, "no slow body was closed for a probe"
        for raw in attackers.answers:
            problem = problem_in(raw, 503, "too-many-connections")
            assert "request body was still arriving" in problem["errors"][0]["message"]
    assert "internal error" not in server.logs()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, SO_RCVBUF as on Linux")
def test_an_answer_the_client_does_not_take_is_dropped_after_the_write_timeout(
    tmp_path, big_answers
) -> None:
    """Three clients ask for a 23 MB report and never read it: before, the server held the
    answers (105 MB) as long as the connections lived. Now each is aborted once writing has
    been paused for the write timeout (the request's --timeout) and its buffer freed. glibc's
    fixed mmap threshold makes freed buffers leave the resident set, so that it can be seen."""
    timeout = 5
    with serve_process(
        tmp_path,
        "--policies",
        str(big_answers),
        "--timeout",
        str(timeout),
        env={"MALLOC_MMAP_THRESHOLD_": "131072"},
    ) as server:
        pid = server.process.pid
        before = rss_bytes(pid)
        clients = [unread_request(server.port, BIG_MANIFEST) for _ in range(3)]
        try:
            held = rss_bytes(pid) - before
            assert held > 40 << 20, f"the answers hold only {held >> 20} MiB"
            assert established(server.port) == 3
            wait_until(
                lambda: established(server.port) == 0,
                timeout=timeout + 30,
                what="the server to drop the connections",
            )
            wait_until(
                lambda: rss_bytes(pid) - before < held * 0.4,
                timeout=10,
                what=f"the memory to be freed (held {held >> 20} MiB)",
            )
            for sock in clients:  # what the kernel had taken is all they can read
                assert len(read_until_closed(sock, time.monotonic() + 10)[0]) < 20 << 20
        finally:
            for sock in clients:
                sock.close()
        # a client that takes its answer in time gets all of it
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(post_head(length=len(BIG_MANIFEST)) + BIG_MANIFEST)
            answer = read_whole(sock, timeout=30, pause=0.01)
            assert status_of(answer) == 200 and len(answer) > 20 << 20
        aborted = [
            e
            for e in map(json.loads, server.logs().splitlines())
            if e["message"] == "connection aborted: the client did not read its answer"
        ]
        assert len(aborted) == 3 and all(e["unsent_bytes"] > 1 << 20 for e in aborted)


@pytest.mark.slow
def test_log_lines_escape_c1_and_bidirectional_controls(tmp_path, policies) -> None:
    """A path with U+202E (right-to-left override), U+009B (CSI, a C1 control) and DEL reached
    stderr raw; every log line now writes them as JSON escapes."""
    with serve_process(tmp_path, "--policies", str(policies)) as server:
        raw = exchange(
            server.port,
            b"GET /x%E2%80%AEy%C2%9Bz%7F HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        )
        assert status_of(raw) == 404
        wait_until(
            lambda: any(e["status"] == 404 for e in access_entries(server)),
            what="the access-log line",
        )
    data = server.log.read_bytes()
    for char in ("\u202e", "\x9b", "\x7f"):
        assert char.encode() not in data, char
    line = next(line for line in data.splitlines() if b'"status": 404' in line)
    assert rb'"path": "/x\u202ey\u009bz\u007f"' in line
    assert json.loads(line)["path"] == "/x\u202ey\u009bz\x7f"


def test_every_log_line_is_escaped_in_one_place() -> None:
    from tosguard.service.logs import JsonFormatter

    record = logging.LogRecord(
        "tosguard.service", logging.ERROR, __file__, 1, "bad \x1b[2J \x9b \u2066 \udcff", None, None
    )
    record.fields = {"path": "/\u202e"}
    line = JsonFormatter().format(record)
    for char in ("\x1b", "\x9b", "\u2066", "\udcff", "\u202e"):
        assert char not in line
    entry = json.loads(line)
    assert (entry["message"], entry["path"]) == ("bad \x1b[2J \x9b \u2066 \udcff", "/\u202e")


# ---- item 10: rolling restarts ------------------------------------------------------------------
class Clients(ThreadGroup):
    """Clients that send `POST /v1/check` until stopped, and record every request that got
    no answer (an error, a reset, an empty reply): keep-alive clients that pause a little
    between requests (so that their connections are often idle, as a client's pool is), and
    clients that open a new connection for each request."""

    def __init__(self, port: int, keep_alive: int, one_shot: int):
        self.port = port
        self.stop = threading.Event()
        self.answered = self.closes = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(True,)) for _ in range(keep_alive)]
        self.threads += [threading.Thread(target=self.run, args=(False,)) for _ in range(one_shot)]

    def run(self, keep_alive: bool) -> None:
        headers = {"content-type": "application/yaml"}
        if not keep_alive:
            headers["connection"] = "close"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            try:
                connection.request("POST", "/v1/check", body=MANIFEST, headers=headers)
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200 and json.loads(body)["verdict"], body[:200]
                with self.lock:
                    self.answered += 1
                    self.closes += keep_alive and response.will_close
            except Exception as error:  # noqa: BLE001 - every failure is recorded
                with self.lock:
                    self.failures.append(repr(error))
                connection.close()
            if keep_alive:
                self.stop.wait(0.02)


@pytest.mark.slow
def test_a_stopping_worker_answers_the_next_request_on_an_idle_connection(
    tmp_path, policies
) -> None:
    """uvicorn closed idle keep-alive connections the moment it began to stop, under a client
    that may just have sent a request on one; a draining worker answers it."""
    with serve_process(tmp_path, "--policies", str(policies)) as server:
        idle, quiet = (socket.create_connection(("127.0.0.1", server.port)) for _ in range(2))
        with idle, quiet:
            for sock in (idle, quiet):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                assert b"connection: close" not in read_response(sock, 10).lower()
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)  # the worker is draining now
            idle.sendall(
                b"POST /v1/check HTTP/1.1\r\nHost: t\r\nContent-Type: "
                b"application/yaml\r\nContent-Length: %d\r\n\r\n%s" % (len(MANIFEST), MANIFEST)
            )
            answer = read_response(idle, 10)
            assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in answer.lower()
            assert read_until_closed(idle, time.monotonic() + 10)[0] == b""
            # a connection that stays idle through the grace period is closed then
            assert read_until_closed(quiet, time.monotonic() + 10)[0] == b""
        server.process.wait(timeout=30)  # uvicorn re-raises the SIGTERM it handled: -15


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT, /proc")
def test_rolling_restarts_lose_no_request(tmp_path, policies) -> None:
    """Two workers under keep-alive and connection-per-request load, two SIGHUPs: every
    request gets its answer (the red team: 12 failed in 40,874 over 3 SIGHUPs)."""
    with serve_process(
        tmp_path, "--policies", str(policies), "--no-access-log", workers=2
    ) as server:
        supervisor = server.process.pid
        workers = wait_until(
            lambda: len(found := worker_pids(supervisor)) == 2 and found, what="two workers"
        )
        listening = listening_inodes(server.port)
        assert len(listening) == 2 and socket_inodes(supervisor) >= listening
        with Clients(server.port, keep_alive=6, one_shot=2) as clients:
            for _ in range(2):
                wait_until(lambda: clients.answered > 50, what="answers")
                server.process.send_signal(signal.SIGHUP)

                def replaced(old: set[int] = workers) -> set[int] | None:
                    now = worker_pids(supervisor)
                    return now if len(now) == 2 and not now & old else None

                workers = wait_until(replaced, timeout=120, what="both workers replaced")
            answered = clients.answered
            wait_until(lambda: clients.answered > answered + 50, what="answers after")
        assert clients.failures == [], (clients.failures[:5], clients.answered)
        assert clients.closes > 0  # drained: kept-alive connections were told to close
        # each replacement took over its slot's socket: still two, held by the supervisor
        assert listening_inodes(server.port) == listening
        assert all(len(socket_inodes(pid) & listening) == 1 for pid in workers)
        assert not server.logs().count("not ready in time")
