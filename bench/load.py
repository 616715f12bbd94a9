"""Bounded load test of `tosguard serve`, on loopback only.

For each worker count it starts `python -m tosguard serve` on a free port of 127.0.0.1, waits
for /readyz, warms up, then drives POST /v1/check with a 20-source manifest over a fixed number
of keep-alive connections until a fixed number of requests is done or a fixed time has passed,
whichever comes first. It reports checks per second, p50/p99/max latency, errors (any answer
other than the expected 200 report, or a broken connection) and the resident memory of the
server's processes before and after the run, then stops the server.

    python bench/load.py                                  # 1 and 2 workers, 100,000 requests each
    python bench/load.py --workers 2 --requests 20000 --concurrency 64 --duration 120
    python bench/load.py --workers 2 --rate 300 --requests 30000   # latency at 300 checks/s
    python bench/load.py --workers 2 --json --rate 500   # the manifest sent as JSON
    python bench/load.py --output bench/results/load.json

By default each connection sends its next request as soon as it has the answer (closed loop):
that measures the most checks per second, and latency is then the queue: with 64 connections,
p50 is about 64 / throughput. `--rate R` offers R requests per second in all, spread over the
connections (open loop), and counts each latency from the request's due time, so a server that
falls behind is charged for it: that is the latency a client sees at that load.

Targets (SPEC.md): at least 500 checks/s of a 20-source manifest on 2 cores, p99 under 50 ms at
64 concurrent connections, no errors, memory flat over 100,000 requests.

The client is a minimal HTTP/1.1 client on asyncio streams (uvloop when installed): it sends
one prepared request per connection at a time and reads `Content-Length` bodies, which costs
far less CPU than a general-purpose client, so that on a 2-core machine as much CPU as possible
is left to the server. Every response body is compared with the one the first request got.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

BENCH = Path(__file__).resolve().parent
MANIFEST = BENCH / "data" / "manifest-20.yaml"
AS_OF = "2026-11-22"


# ---- the manifest -----------------------------------------------------------------------------
def manifest_bytes(path: Path) -> bytes:
    """The 20-source benchmark manifest; generated here when bench/data does not hold it."""
    if path.exists():
        return path.read_bytes()
    sys.path.insert(0, str(BENCH))
    from generate import generate, to_yaml

    return to_yaml(generate(20)).encode()


# ---- the server -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workers: int, port: int, log: Path, extra: list[str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "tosguard",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *extra,
    ]
    with open(log, "wb") as stderr:
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(
                    b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def cpu_seconds(root: int) -> float:
    """User and system CPU time used so far by ``root`` and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def rss_mib(root: int) -> dict[str, float]:
    """Resident memory (MiB) of each process of the server, and their total."""
    sizes = {}
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        sizes[str(pid)] = int(line.split()[1]) / 1024
        except OSError:
            continue
    sizes["total"] = sum(sizes.values())
    return {k: round(v, 1) for k, v in sizes.items()}


# ---- the client -------------------------------------------------------------------------------
def as_json(body: bytes) -> bytes:
    """The manifest as JSON (what an HTTP client is likelier to send), dates as strings."""
    import yaml

    return json.dumps(yaml.safe_load(body), default=str, indent=2).encode()


def request_bytes(port: int, body: bytes, media_type: str = "application/yaml") -> bytes:
    name = "bench.json" if media_type == "application/json" else "bench.yaml"
    head = (
        f"POST /v1/check?as_of={AS_OF}&name={name} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: {media_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def probe(port: int, payload: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        return await read_response(reader)
    finally:
        writer.close()


class Run:
    def __init__(
        self, port: int, payload: bytes, requests: int, duration: float, rate: float | None = None
    ):
        self.port, self.payload = port, payload
        self.limit, self.duration = requests, duration
        self.rate = rate  # None: closed loop (each connection sends as soon as answered)
        self.issued = 0
        self.started = 0.0
        self.latencies = array("d")
        self.slowest = (0.0, 0.0)  # (latency, when it started, seconds into the run)
        self.errors: dict[str, int] = {}
        self.expected: bytes | None = None
        self.deadline = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    async def connection(self) -> None:
        reader = writer = None
        try:
            while self.issued < self.limit and time.perf_counter() < self.deadline:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                sequence = self.issued
                self.issued += 1
                if self.rate:
                    # open loop: request n is due at n / rate; latency counts from then, so a
                    # server that falls behind is charged for the wait (no coordinated omission)
                    started = self.started + sequence / self.rate
                    delay = started - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    started = time.perf_counter()
                try:
                    writer.write(self.payload)
                    status, body = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    self.error(type(exc).__name__)
                    writer.close()
                    reader = writer = None
                    continue
                latency = time.perf_counter() - started
                self.latencies.append(latency)
                if latency > self.slowest[0]:
                    self.slowest = (latency, started - self.started)
                if status != 200:
                    self.error(f"status {status}")
                elif self.expected is None:
                    self.expected = body
                elif body != self.expected:
                    self.error("different report")
        finally:
            if writer is not None:
                writer.close()

    async def run(self, concurrency: int) -> float:
        self.started = time.perf_counter()
        self.deadline = self.started + self.duration
        await asyncio.gather(*(self.connection() for _ in range(concurrency)))
        return time.perf_counter() - self.started


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def drive(
    port: int,
    payload: bytes,
    requests: int,
    duration: float,
    concurrency: int,
    rate: float | None = None,
) -> dict:
    run = Run(port, payload, requests, duration, rate)
    elapsed = asyncio.run(run.run(concurrency))
    latencies = sorted(run.latencies)
    done = len(latencies)
    return {
        "requests": done,
        "seconds": round(elapsed, 2),
        "checks_per_s": round(done / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "max_at_s": round(run.slowest[1], 2),  # when the slowest request started
        "errors": sum(run.errors.values()),
        "error_kinds": run.errors,
        "stopped_by": "requests" if run.issued >= requests else "duration",
    }


def bench_workers(workers: int, args, body: bytes, log_dir: Path) -> dict:
    port = free_port()
    log = log_dir / f"serve-{workers}w.log"
    extra = [] if args.access_log else ["--no-access-log"]
    server = start_server(workers, port, log, extra)
    try:
        wait_ready(port, server)
        payload = request_bytes(port, body, args.media_type)
        status, answer = asyncio.run(probe(port, payload))
        if status != 200:
            raise SystemExit(
                f"the server answers {status} to the benchmark manifest, not a "
                f"report:\n{answer.decode(errors='replace')[:2000]}"
            )
        drive(port, payload, args.warmup, args.duration, args.concurrency)
        before = rss_mib(server.pid)
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        result = drive(port, payload, args.requests, args.duration, args.concurrency, args.rate)
        server_cpu = cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        after = rss_mib(server.pid)
        done = max(1, result["requests"])
        result["server_cpu_ms_per_request"] = round(server_cpu * 1000 / done, 3)
        result["client_cpu_ms_per_request"] = round(client_cpu * 1000 / done, 3)
    finally:
        stop_server(server)
    return {
        "workers": workers,
        "media_type": args.media_type,
        "concurrency": args.concurrency,
        "rate": args.rate,
        **result,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "server_log": str(log),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--requests", type=int, default=100_000, help="requests per worker count (default 100000)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=900.0,
        help="at most this many seconds per worker count (default 900)",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=2000)
    parser.add_argument(
        "--rate",
        type=float,
        help="offer this many requests per second in "
        "all (open loop; latency counted from each request's due time) "
        "instead of sending as fast as answers come back",
    )
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument(
        "--json",
        dest="media_type",
        action="store_const",
        const="application/json",
        default="application/yaml",
        help="send the manifest as JSON (default: as YAML)",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="run the server without its access log (default: with it)",
    )
    parser.add_argument("--output", type=Path, help="also write the results here (JSON)")
    args = parser.parse_args(argv)
    if (
        args.requests < 1
        or args.duration <= 0
        or not 1 <= args.concurrency <= 1024
        or (args.rate is not None and not 0 < args.rate <= 100_000)
    ):
        parser.error(
            "--requests, --duration, --concurrency and --rate must be positive and bounded"
        )
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    body = manifest_bytes(args.manifest)
    if args.media_type == "application/json":
        body = as_json(body)
    log_dir = Path(tempfile.mkdtemp(prefix="tosguard-load-"))
    results = []
    for workers in args.workers:
        result = bench_workers(workers, args, body, log_dir)
        results.append(result)
        rate = f" rate={args.rate:g}/s" if args.rate else " closed-loop"
        print(
            f"workers={workers} {args.media_type.split('/')[1]} "
            f"concurrency={result['concurrency']}{rate} "
            f"requests={result['requests']} in {result['seconds']} s: "
            f"{result['checks_per_s']} checks/s, p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
            f"(at {result['max_at_s']} s), "
            f"errors {result['errors']} {result['error_kinds'] or ''}, "
            f"RSS {result['rss_before_mib']['total']} -> "
            f"{result['rss_after_mib']['total']} MiB; CPU per request: server "
            f"{result['server_cpu_ms_per_request']} ms, client "
            f"{result['client_cpu_ms_per_request']} ms",
            flush=True,
        )
    if args.output:
        args.output.write_text(
            json.dumps(
                {"manifest": str(args.manifest), "cpus": os.cpu_count(), "results": results},
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
