"""(a) Cold CLI start: ``tosguard check`` of a 20-source manifest in a fresh process, against
``python -c "import pydantic, yaml, lark"``, both from the regular (non-editable) install."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from timing import Timings

REPO = Path(__file__).resolve().parent.parent
MANIFEST_20 = "bench/data/manifest-20.yaml"
INSTALLED_VENV = Path(os.environ.get("BENCH_VENV_INST", "/tmp/benchvenv-inst"))
BASELINE_CODE = "import pydantic, yaml, lark"


@dataclass
class Installed:
    python: Path
    tosguard: Path

    @classmethod
    def find(cls) -> Installed | None:
        found = cls(INSTALLED_VENV / "bin" / "python", INSTALLED_VENV / "bin" / "tosguard")
        return found if found.python.exists() and found.tosguard.exists() else None

    def check_command(self) -> list[str]:
        return [str(self.tosguard), "check", MANIFEST_20, "--format", "json"]

    def baseline_command(self) -> list[str]:
        return [str(self.python), "-c", BASELINE_CODE]


def _environment(cache_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TOSGUARD_"))}
    env["TOSGUARD_CACHE_DIR"] = cache_dir
    return env


def _run(command: list[str], env: dict[str, str]) -> float:
    """Wall time of one fresh process; stdout is discarded (``> /dev/null``)."""
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds = time.perf_counter() - start
    if completed.returncode not in (0, 1):  # 0 compliant, 1 not compliant: both are fine
        raise RuntimeError(
            f"{' '.join(command)} exited {completed.returncode}: "
            f"{completed.stderr.decode(errors='replace')[-2000:]}"
        )
    return seconds


def stale_files(installed: Installed) -> list[str]:
    """Modules of the working tree that differ from the installed copy (re-run setup.sh)."""
    site = subprocess.run(
        [
            str(installed.python),
            "-c",
            "import tosguard, os; print(os.path.dirname(tosguard.__file__))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    differ = []
    for module in sorted((REPO / "src" / "tosguard").rglob("*.py")):
        relative = module.relative_to(REPO / "src" / "tosguard")
        copy = Path(site) / relative
        if not copy.exists() or copy.read_bytes() != module.read_bytes():
            differ.append(str(relative))
    for folder in ("policies", "grammar"):
        for original in sorted((REPO / folder).rglob("*")):
            if original.is_file():
                copy = Path(site) / "_data" / folder / original.relative_to(REPO / folder)
                if not copy.exists() or copy.read_bytes() != original.read_bytes():
                    differ.append(f"{folder}/{original.relative_to(REPO / folder)}")
    return differ


def report_check(installed: Installed, cache_dir: str) -> dict:
    """One untimed run: it warms the cache, and its report says what was measured."""
    completed = subprocess.run(
        installed.check_command(),
        cwd=REPO,
        env=_environment(cache_dir),
        capture_output=True,
        text=True,
    )
    report = json.loads(completed.stdout)
    return {
        "exit_code": completed.returncode,
        "verdict": report["verdict"],
        "summary": report["summary"],
    }


def measure_warm(installed: Installed, runs: int, cache_dir: str) -> tuple[Timings, Timings]:
    """``runs`` alternating pairs (baseline, check), fresh processes, warm library cache."""
    env = _environment(cache_dir)
    for _ in range(2):  # warm the OS file cache for both commands
        _run(installed.baseline_command(), env)
        _run(installed.check_command(), env)
    baseline, check = Timings(), Timings()
    for _ in range(runs):
        baseline.seconds.append(_run(installed.baseline_command(), env))
        check.seconds.append(_run(installed.check_command(), env))
    return baseline, check


def measure_cold(installed: Installed, runs: int) -> Timings:
    """The first run with an empty ``TOSGUARD_CACHE_DIR``: the library is parsed, checked and
    compiled (Lark and the grammar included) and the cache is written."""
    cold = Timings()
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tosguard-cold-") as empty:
            cold.seconds.append(_run(installed.check_command(), _environment(empty)))
    return cold


_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def import_profile(installed: Installed, cache_dir: str, top: int = 10) -> dict:
    """``python -X importtime`` of the check command: the slowest imports, by cumulative and by
    self time (microseconds)."""
    command = [str(installed.python), "-X", "importtime", *installed.check_command()]
    completed = subprocess.run(
        command,
        cwd=REPO,
        env=_environment(cache_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows = []
    for line in completed.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            own, total, indent, name = match.groups()
            rows.append(
                {
                    "module": name,
                    "self_us": int(own),
                    "cumulative_us": int(total),
                    "depth": (len(indent) - 1) // 2,
                }
            )
    top_level = [r for r in rows if r["depth"] == 0]
    return {
        "total_us": sum(r["cumulative_us"] for r in top_level),
        "by_cumulative": sorted(rows, key=lambda r: -r["cumulative_us"])[:top],
        "top_level": sorted(top_level, key=lambda r: -r["cumulative_us"])[:top],
        "by_self": sorted(rows, key=lambda r: -r["self_us"])[:top],
        "modules": [r["module"] for r in rows],
    }


def run(runs: int, cold_runs: int) -> dict:
    installed = Installed.find()
    if installed is None:
        return {"skipped": f"no installed tosguard in {INSTALLED_VENV}: run bench/setup.sh"}
    with tempfile.TemporaryDirectory(prefix="tosguard-warm-") as cache_dir:
        check_report = report_check(installed, cache_dir)
        baseline, check = measure_warm(installed, runs, cache_dir)
        imports = import_profile(installed, cache_dir)
    cold = measure_cold(installed, cold_runs)
    heavy = [
        m
        for m in imports["modules"]
        if m.split(".")[0] in ("fastapi", "uvicorn", "starlette", "lark", "httpx", "anyio")
    ]
    return {
        "command": " ".join(["tosguard", *installed.check_command()[1:], "> /dev/null"]),
        "baseline_command": f'python -c "{BASELINE_CODE}"',
        "executable": str(installed.tosguard),
        "stale_installed_files": stale_files(installed),
        "check_result": check_report,
        "baseline": baseline.as_dict(),
        "check_warm_cache": check.as_dict(),
        "ratio": check.median / baseline.median,
        "check_empty_cache": cold.as_dict(),
        "ratio_empty_cache": cold.median / baseline.median,
        "imports": imports,
        "heavy_imports_with_warm_cache": heavy,
    }
