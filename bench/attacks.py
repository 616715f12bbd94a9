"""The red team's attacks (issue 9), measured against one or more tosguard installations side
by side: how long each takes, how much memory, and what the user gets back.

    python bench/attacks.py --tosguard NEW=/path/to/venv/bin/tosguard \\
                            --tosguard OLD=/tmp/old-venv/bin/tosguard [--only NAME ...]

Each attack runs with a wall-clock cap (``--cap``, 20 s): "capped" means it was still running
when stopped, which is the attack working. The service attacks start `tosguard serve` from the
same installation on a free loopback port. Nothing here runs in CI: the figures are for the
closing notes and docs, and the regression tests are in ``tests/adversarial/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "examples" / "acme.yaml"
HEADER = """policy acme-terms {
  provider acme
  document "Acme Terms"
  service api
  version "1"
  effective 2024-01-01
  url "https://acme.example/terms"
"""


def clause(condition: str) -> str:
    return (
        HEADER + "  clause c {\n    topic distillation\n    kind prohibition\n"
        f'    when {condition}\n    remedy "r"\n'
        '    cite { section "1" quote "q" }\n  }\n}\n'
    )


def doubling(n: int = 40) -> str:
    return "define d1 = model.commercial\n" + "".join(
        f"define d{i} = d{i - 1} and d{i - 1}\n" for i in range(2, n + 1)
    )


def bare_sources(count: int, prefix: str = "s") -> bytes:
    return (
        "tosguard: 1\nsources:\n" + "".join(f"- id: {prefix}{i:x}\n" for i in range(count))
    ).encode()


# ---- running one command ----------------------------------------------------------------------
def run(
    command: list[str], cap: float, stdin: bytes | None = None, cwd: Path | None = None
) -> dict:
    """Wall time, peak RSS (MiB, of this command alone: ``wait4``) and exit status of a
    command, stopped at ``cap`` seconds."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as given,
    ):
        given.write(stdin or b"")
        given.seek(0)
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=given, stdout=out, stderr=err, cwd=cwd)
        status: int | str = "capped"
        usage = None
        while time.monotonic() - started < cap:
            pid, code, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(code)
                break
            time.sleep(0.01)
        else:
            process.kill()
            _, _, usage = os.wait4(process.pid, 0)
        process.returncode = status if isinstance(status, int) else -9
        elapsed = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        said = _first_line(err.read(4096)) or _first_line(out.read(4096))
    return {
        "seconds": round(elapsed, 2),
        "status": status,
        "peak_mib": round(usage.ru_maxrss / 1024) if usage else None,
        "said": said,
    }


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0][:110] if text else ""


# ---- the CLI attacks --------------------------------------------------------------------------
def cli_attacks(tmp: Path) -> dict:
    """name -> (what, function(tosguard, cap) -> result)."""

    def write(name: str, text: str | bytes) -> Path:
        path = tmp / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    doubling_file = write("doubling.tos", doubling() + clause("d40"))
    deep_not = write("not500.tos", clause("not " * 500 + "model.commercial"))
    redos = write("redos.tos", clause('source.model matches regex "^(a+)+$"'))
    redos_manifest = write(
        "redos.yaml",
        "tosguard: 1\nsources:\n  - {id: a, kind: "
        "model-output, provider: acme, service: api, model: " + "a" * 26 + "b}\n",
    )
    empty = tmp / "empty-policies"
    empty.mkdir(exist_ok=True)
    deep_yaml = write("deep.yaml", b"[" * 10_000 + b"]" * 10_000)
    long_list = write(
        "list.yaml",
        "tosguard: 1\nsources:\n  - id: a\n    use: [" + ",".join(["x"] * 32_000) + "]\n",
    )
    errors_40k = write(
        "errors.yaml",
        "tosguard: 1\nsources:\n"
        + "".join(f"  - {{id: s{i}, kind: nope}}\n" for i in range(40_000)),
    )
    unknown_keys = write(
        "keys.json",
        '{"tosguard": 1, "sources": [{"id": "a", '
        + ", ".join(f'"k{i}": 1' for i in range(500_000))
        + "}]}",
    )
    # YAML's own escapes: the key holds ESC and BEL once read, as the red team wrote it
    escape = write("escape.yaml", 'tosguard: 1\nsources: []\n"\\e]0;PWNED\\a\\e[2J": 1\n')

    def cli(*args, stdin=None):
        return lambda tosguard, cap: run([tosguard, *map(str, args)], cap, stdin=stdin)

    def overwrite(tosguard, cap):
        target = write("self.yaml", ACME.read_bytes())
        result = run([tosguard, "check", str(target), "-o", str(target), "--format", "json"], cap)
        result["input kept"] = target.read_bytes() == ACME.read_bytes()
        return result

    return {
        "lint-doubling-40": (
            "lint a 1.3 KB policy, define dN = dN-1 and dN-1",
            cli("lint", doubling_file, "--no-provenance"),
        ),
        "lint-not-500": ("lint `not` x 500", cli("lint", deep_not, "--no-provenance")),
        "regex-26": (
            "check, ^(a+)+$ against a 26-character model name",
            cli("check", redos_manifest, "--policies", redos, "--format", "json"),
        ),
        "empty-policy-set": (
            "check acme.yaml --policies <empty directory>",
            cli("check", ACME, "--policies", empty),
        ),
        "deep-flow-yaml": ("check a manifest of 10,000 nested `[`", cli("check", deep_yaml)),
        "list-32k": ("check a 64 KB line: use: [x, x, ...] x 32,000", cli("check", long_list)),
        "errors-40k-human": (
            "check 40,000 invalid sources, human errors",
            cli("check", errors_40k),
        ),
        "errors-40k-plain": (
            "the same, --error-format plain",
            cli("check", errors_40k, "--error-format", "plain"),
        ),
        "keys-500k": ("check 500,000 unknown keys on one JSON line", cli("check", unknown_keys)),
        "terminal-escape": (
            "check a key that sets the title and clears the screen",
            cli("check", escape),
        ),
        "output-is-input": ("check m.yaml -o m.yaml", overwrite),
    }


# ---- the service attacks ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(tosguard: str, *args: str, env: dict | None = None):
    port = free_port()
    process = subprocess.Popen(
        [tosguard, "serve", "--port", str(port), "--no-access-log", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                yield None, process
                return
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(20)
        if process.poll() is None:
            process.kill()


def post(url: str, body: bytes, content_type: str, timeout: float = 60) -> tuple[int, int]:
    request = urllib.request.Request(url, data=body, headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, len(response.read())
    except urllib.error.HTTPError as error:
        return error.code, len(error.read())


def probe_while(url: str, work) -> tuple[object, float]:
    """Run ``work()`` while asking /healthz every 20 ms; its result and the slowest probe."""
    latencies: list[float] = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/healthz", timeout=30).read()
            latencies.append(time.monotonic() - started)
            time.sleep(0.02)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        result = work()
    finally:
        time.sleep(0.2)
        stop.set()
        thread.join(30)
    return result, max(latencies or [0.0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def rss_mib(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    return 0


def service_attacks(tmp: Path) -> dict:
    def inline(tosguard, cap):
        with server(tosguard, "--timeout", "2", "--max-findings", "100000000") as (url, proc):
            if url is None:  # an older tosguard without --max-findings
                return inline_old(tosguard, cap)
            return _inline(url, cap)

    def inline_old(tosguard, cap):
        with server(tosguard, "--timeout", "2") as (url, proc):
            return _inline(url, cap)

    def _inline(url, cap):
        started = time.monotonic()
        (status, size), slowest = probe_while(
            url,
            lambda: post(url + "/v1/check", bare_sources(1300), "application/yaml", timeout=cap),
        )
        return {
            "status": status,
            "seconds": round(time.monotonic() - started, 2),
            "bytes": size,
            "healthz_max_s": round(slowest, 3),
        }

    def pool(tosguard, cap):
        body = bare_sources(1900, prefix="source-")
        with server(tosguard, "--timeout", "2", "--max-findings", "100000000") as (url, proc):
            if url is None:
                return pool_old(tosguard, cap)
            return _pool(url, proc, body, cap)

    def pool_old(tosguard, cap):
        with server(tosguard, "--timeout", "2") as (url, proc):
            return _pool(url, proc, bare_sources(1900, prefix="source-"), cap)

    def _pool(url, proc, body, cap):
        started = time.monotonic()
        with ThreadPoolExecutor(5) as threads:
            statuses = [
                s
                for s, _ in threads.map(
                    lambda _: post(url + "/v1/check", body, "application/yaml", cap), range(5)
                )
            ]
        answered = time.monotonic() - started
        time.sleep(0.3)
        before = cpu_seconds(proc.pid)
        time.sleep(1.0)
        return {
            "statuses": statuses,
            "seconds": round(answered, 2),
            "cpu_after_1s": round(cpu_seconds(proc.pid) - before, 2),
            "peak_rss_mib": rss_mib(proc.pid),
            "rss_after_mib": rss_mib(proc.pid, "VmRSS"),
        }

    def validate(tosguard, cap):
        with server(tosguard, "--timeout", "2") as (url, proc):
            hostile = doubling().encode()
            started = time.monotonic()
            first = post(url + "/v1/policies/validate", hostile, "text/plain", cap)
            second = post(url + "/v1/policies/validate", hostile, "text/plain", cap)
            elapsed = time.monotonic() - started
            later = post(
                url + "/v1/check",
                bare_sources(60, prefix="a-rather-long-source-id-to-pass-16-kib-"),
                "application/yaml",
                cap,
            )
            return {
                "validate": [first[0], second[0]],
                "seconds": round(elapsed, 2),
                "later_check": later[0],
            }

    def empty_keys(tosguard, cap):
        keys = tmp / "keys.txt"
        keys.write_text("# no keys yet\n\n")
        with server(tosguard, "--api-keys-file", str(keys)) as (url, proc):
            if url is None:
                return {"started": False, "exit": proc.returncode}
            status, _ = post(url + "/v1/check", b"tosguard: 1\nsources: []\n", "application/yaml")
            return {"started": True, "unauthenticated_check": status}

    return {
        "service-inline-1300": (
            "1,300 bare sources (14 KB, checked on the loop), --timeout 2",
            inline,
        ),
        "service-pool-5x29k": ("five 29 KB manifests at once, --timeout 2", pool),
        "service-validate-doubling": ("POST validate d40 twice, then a check", validate),
        "service-empty-key-file": ("--api-keys-file holding only a comment", empty_keys),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tosguard", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--cap", type=float, default=20.0)
    parser.add_argument("--json", metavar="FILE")
    options = parser.parse_args()
    installs = dict(item.split("=", 1) for item in options.tosguard)
    with tempfile.TemporaryDirectory(prefix="tosguard-attacks-") as directory:
        tmp = Path(directory)
        attacks = {**cli_attacks(tmp), **service_attacks(tmp)}
        results: dict = {}
        for name, (what, attack) in attacks.items():
            if options.only and name not in options.only:
                continue
            print(f"\n{name}: {what}")
            for label, tosguard in installs.items():
                result = attack(tosguard, options.cap)
                results.setdefault(name, {})[label] = result
                print(f"  {label:>6}: {json.dumps(result, ensure_ascii=True)}")
                sys.stdout.flush()
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
