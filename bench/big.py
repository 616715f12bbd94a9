"""Big manifests: a default ``tosguard check`` against merely parsing the file, side by side.

For each size (10k and 100k sources; 1M with ``--million``) a manifest is generated once
(``bench/generate.py``, deterministic, kept in ``--data``), then measured in fresh processes:

* **parse**: read the file and consume libyaml's event stream
  (``yaml.parse(text, Loader=yaml.CSafeLoader)``), nothing else: the floor for any YAML reader;
* **check**: ``python -m tosguard check FILE`` with every default (text report), its output
  sent to a file (``--output``-less: standard output redirected), wall time of the process;
* **ratio** check / parse (the target: at most 3x at 100k);
* **cpu s**: the check process's user and system CPU time, which other jobs on the machine
  disturb less than its wall time;
* **peak RSS** of the check process (``wait4``) and the **memory per source**: the peak RSS
  above that of a check of a 20-source manifest, divided by the sources (target: 6 KB).

Runs alternate parse and check ``--repeats`` times; medians are reported. ``--src DIR`` runs
another checkout's ``src`` (e.g. ``../other-checkout/src``) with the same interpreter, to compare
before and after in one session.

    python bench/big.py                    # 10k and 100k
    python bench/big.py --million          # and 1,000,000 sources
    python bench/big.py --src ../other-checkout/src --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import manifest_text  # noqa: E402

PARSE = """
import sys, time, yaml
start = time.perf_counter()
with open(sys.argv[1], "rb") as stream:
    text = stream.read().decode("utf-8")
for _ in yaml.parse(text, Loader=yaml.CSafeLoader):
    pass
print(time.perf_counter() - start)
"""


def _manifest(data: Path, sources: int) -> Path:
    path = data / f"big-{sources}.yaml"
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part")
        part.write_text(manifest_text(sources), encoding="utf-8")
        part.replace(path)
    return path


def _run(argv: list[str], env: dict[str, str], stdout) -> tuple[float, int, int, float]:
    """Wall seconds, peak RSS in bytes, exit status and CPU seconds of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss * 1024, process.returncode, usage.ru_utime + usage.ru_stime


def _check(path: Path, env: dict[str, str], out: Path) -> tuple[float, int, int, float]:
    argv = [sys.executable, "-m", "tosguard", "check", str(path)]
    if path.stat().st_size > 64 << 20:  # past the default limit (1M sources: 279 MB)
        argv += ["--max-manifest-bytes", "1G"]
    with open(out, "wb") as stream:
        return _run(argv, env, stream)


def _parse(path: Path, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", PARSE, str(path)], env=env, capture_output=True, text=True
    )
    return float(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--million", action="store_true", help="also 1,000,000 sources")
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="source counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--src", type=Path, default=None, help="a checkout's src/ to run")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tosguard-big")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    sizes = args.sizes or [10_000, 100_000] + ([1_000_000] if args.million else [])

    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    if args.src is not None:
        env["PYTHONPATH"] = str(args.src.resolve())
    env.setdefault("TOSGUARD_CACHE_DIR", str(args.data / "cache"))
    args.data.mkdir(parents=True, exist_ok=True)
    out = args.data / "report.txt"

    small = _manifest(args.data, 20)
    _check(small, env, out)  # warm the compiled-library cache
    base_rss = min(_check(small, env, out)[1] for _ in range(2))
    rows = []
    for sources in sizes:
        path = _manifest(args.data, sources)
        parses, checks, peaks, cpus = [], [], [], []
        for _ in range(args.repeats):
            parses.append(_parse(path, env))
            elapsed, peak, status, cpu = _check(path, env, out)
            if status not in (0, 1):
                print(f"check of {path} exited {status}", file=sys.stderr)
                break
            checks.append(elapsed)
            peaks.append(peak)
            cpus.append(cpu)
        if not checks:
            continue
        parse, check, peak = statistics.median(parses), statistics.median(checks), max(peaks)
        rows.append(
            {
                "sources": sources,
                "bytes": path.stat().st_size,
                "parse_s": round(parse, 3),
                "check_s": round(check, 3),
                "ratio": round(check / parse, 2),
                "check_cpu_s": round(statistics.median(cpus), 3),
                "peak_rss_mib": round(peak / 2**20, 1),
                "bytes_per_source": round((peak - base_rss) / sources),
                "report_bytes": out.stat().st_size,
            }
        )
    print(f"python {sys.version.split()[0]}, src {args.src or 'installed'}, ", end="")
    print(f"baseline RSS (20 sources) {base_rss / 2**20:.1f} MiB, median of {args.repeats}")
    header = f"{'sources':>9} {'MB':>7} {'parse s':>8} {'check s':>8} {'ratio':>6} {'cpu s':>6} "
    header += f"{'peak MiB':>9} {'KB/src':>7} {'report MB':>10}"
    print(header)
    for row in rows:
        print(
            f"{row['sources']:>9,} {row['bytes'] / 1e6:>7.1f} {row['parse_s']:>8.2f} "
            f"{row['check_s']:>8.2f} {row['ratio']:>6.2f} {row['check_cpu_s']:>6.2f} "
            f"{row['peak_rss_mib']:>9.1f} "
            f"{row['bytes_per_source'] / 1000:>7.1f} {row['report_bytes'] / 1e6:>10.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"baseline_rss": base_rss, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
