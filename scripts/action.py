"""The steps of the GitHub Action (action.yml) that are not GitHub's own: install tosguard from
the action's checkout, run `tosguard check` writing SARIF, print a summary, and write the
step's outputs (``verdict``, ``exit-code``, ``sarif``) to ``$GITHUB_OUTPUT``.

It reads the action's inputs from ``INPUT_*`` variables (as action.yml passes them) and runs
anywhere: the test suite runs it with ``GITHUB_OUTPUT`` set to a temporary file. It exits 0
once it has written the outputs, whatever the verdict, so that the SARIF is uploaded even for
a failing check; the action's last step fails the job with ``exit-code``. It exits 2 itself
only when it cannot run at all (bad inputs, installation failed).

Environment:
  INPUT_MANIFESTS       manifests, directories or glob patterns, separated by spaces or
                        newlines (shell quoting allowed); required
  INPUT_FAIL_ON         violated | undetermined | warning (default: the configuration's, else
                        undetermined)
  INPUT_SARIF           where to write the SARIF report (empty: none, the verdict is read
                        from a JSON report in a temporary file)
  INPUT_POLICIES, INPUT_EXTRA_POLICIES, INPUT_BASELINE, INPUT_CONFIG, INPUT_AS_OF
                        passed to `tosguard check` when not empty (lists as for manifests)
  INPUT_ARGS            further arguments for `tosguard check`
  TOSGUARD              a tosguard executable to use instead of installing one
  GITHUB_ACTION_PATH    the action's checkout, installed with pip (default: this repo)
  RUNNER_TEMP           where the virtual environment and temporary files go
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY   as GitHub Actions sets them (optional here)
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

FAIL_ON = ("violated", "undetermined", "warning")
#: the worst verdict of several manifests decides the run's
VERDICT_ORDER = ("non_compliant", "undetermined", "compliant")


class ActionError(Exception):
    """An input the action cannot run with, or an installation that failed."""


def main() -> int:
    try:
        return run(os.environ)
    except ActionError as error:
        print(f"::error title=tosguard::{error}", flush=True)
        write_outputs(os.environ, {"verdict": "error", "exit-code": "2", "sarif": ""})
        return 2


def run(env: os._Environ[str] | dict[str, str]) -> int:
    manifests = shlex.split(env.get("INPUT_MANIFESTS", ""))
    if not manifests:
        raise ActionError("the `manifests` input is empty: name the manifests to check")
    fail_on = env.get("INPUT_FAIL_ON", "").strip()
    if fail_on and fail_on not in FAIL_ON:
        raise ActionError(f"`fail-on: {fail_on}` is not one of {', '.join(FAIL_ON)}")
    temporary = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())
    tosguard = env.get("TOSGUARD") or install(env, temporary)
    sarif = env.get("INPUT_SARIF", "").strip()
    report = Path(sarif) if sarif else temporary / "tosguard-report.json"
    command = [tosguard, "check", *manifests, "--output", str(report)]
    command += ["--format", "sarif" if sarif else "json"]
    if fail_on:
        command += ["--fail-on", fail_on]
    for name, option in (
        ("INPUT_POLICIES", "--policies"),
        ("INPUT_EXTRA_POLICIES", "--extra-policies"),
    ):
        for value in shlex.split(env.get(name, "")):
            command += [option, value]
    for name, option in (
        ("INPUT_BASELINE", "--baseline"),
        ("INPUT_CONFIG", "--config"),
        ("INPUT_AS_OF", "--as-of"),
    ):
        value = env.get(name, "").strip()
        if value:
            command += [option, value]
    extra = shlex.split(env.get("INPUT_ARGS", ""))
    owned = {"--format", "--output", "-o"}  # the action reads the report it asks for
    taken = [a for a in extra if a in owned or a.split("=", 1)[0] in owned]
    if taken:
        raise ActionError(
            f"`args` may not set {', '.join(sorted(set(taken)))}: the action writes the "
            "report itself (use the `sarif` input for a SARIF file)"
        )
    command += extra
    if report.exists():
        report.unlink()  # a report left from an earlier run must not be read as this one's
    print("+ " + shlex.join(command), flush=True)
    code = subprocess.run(command, check=False).returncode
    reports = read_reports(report, bool(sarif)) if report.exists() else []
    verdict = worst(r["verdict"] for r in reports) if reports else "error"
    for one in reports:
        totals = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in one["summary"].items())
        print(f"{one['verdict'].replace('_', '-').upper():14} {one['manifest']}  ({totals})")
    print(f"verdict: {verdict}, exit code {code}", flush=True)
    write_outputs(
        env,
        {
            "verdict": verdict,
            "exit-code": str(code),
            "sarif": str(report) if sarif and report.exists() else "",
        },
    )
    write_summary(env, reports, verdict, code)
    return 0


def install(env, temporary: Path) -> str:
    """tosguard installed from the action's checkout into a virtual environment."""
    source = env.get("GITHUB_ACTION_PATH") or str(Path(__file__).resolve().parent.parent)
    venv = temporary / "tosguard-venv"
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(_bin(venv, "python")), "-m", "pip", "install", "--quiet", source],
    ]
    for step in steps:
        print("+ " + shlex.join(step), flush=True)
        if subprocess.run(step, check=False).returncode:
            raise ActionError(f"installing tosguard from {source} failed")
    return str(_bin(venv, "tosguard"))


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def read_reports(path: Path, sarif: bool) -> list[dict]:
    """Each manifest's verdict and totals, from the SARIF run's properties or the JSON
    report (one object, or a list of them for several manifests)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if sarif:
        return [
            {"manifest": r["manifest"], "verdict": r["verdict"], "summary": r["summary"]}
            for run in document["runs"]
            for r in run.get("properties", {}).get("reports", [])
        ]
    reports = document if isinstance(document, list) else [document]
    return [
        {
            "manifest": r["manifest"],
            "verdict": r["verdict"],
            "summary": {k: v for k, v in r["summary"].items() if k != "listed"},
        }
        for r in reports
    ]


def worst(verdicts) -> str:
    return min(verdicts, key=VERDICT_ORDER.index, default="compliant")


def write_outputs(env, outputs: dict[str, str]) -> None:
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as stream:
        for key, value in outputs.items():
            stream.write(f"{key}={value}\n")


def write_summary(env, reports: list[dict], verdict: str, code: int) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    lines = [f"### tosguard: {verdict.replace('_', '-')} (exit code {code})", ""]
    if reports:
        lines += ["| manifest | verdict | summary |", "|---|---|---|"]
        for one in reports:
            totals = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in one["summary"].items())
            lines.append(f"| `{one['manifest']}` | {one['verdict']} | {totals} |")
    with open(path, "a", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
