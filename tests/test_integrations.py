"""The ways tosguard plugs into the tools teams run: the GitHub Action (action.yml, whose steps
run here as scripts/action.py and the action's own shell step), the pre-commit hooks (run with
`pre-commit try-repo` against a temporary git repository) and the container image (the
Dockerfile read and checked: docker cannot run in the suite)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_cli import AS_OF, EXAMPLES, ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
SCRIPT = ROOT / "scripts" / "action.py"


# ---- the GitHub Action ------------------------------------------------------------------------
def test_action_is_composite_with_its_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    inputs = ACTION["inputs"]
    for name in ("manifests", "fail-on", "sarif", "policies", "extra-policies", "python-version"):
        assert name in inputs and inputs[name]["description"], name
    assert inputs["manifests"]["required"] is True
    assert ACTION["outputs"]["verdict"]["value"] == "${{ steps.check.outputs.verdict }}"
    steps = ACTION["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert steps[0]["with"]["python-version"] == "${{ inputs.python-version }}"
    check = steps[1]
    assert check["id"] == "check" and check["shell"] == "bash"
    assert check["run"] == 'python "$GITHUB_ACTION_PATH/scripts/action.py"'
    # every input the script reads is passed to it, under the name it reads
    for name in inputs:
        if name in ("python-version", "upload-sarif", "category"):
            continue
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert check["env"][variable] == "${{ inputs." + name + " }}", name
        assert variable in SCRIPT.read_text(encoding="utf-8"), name
    upload = steps[2]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"] == {
        "sarif_file": "${{ steps.check.outputs.sarif }}",
        "category": "${{ inputs.category }}",
    }
    assert "steps.check.outputs.sarif != ''" in upload["if"]


def tosguard_executable(tmp_path: Path) -> str:
    """The tosguard the suite runs, as one executable (a wrapper when it is only a module)."""
    found = shutil.which("tosguard") or str(Path(sys.executable).parent / "tosguard")
    if os.path.exists(found):
        return found
    wrapper = tmp_path / "tosguard"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tosguard "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def run_action(tmp_path: Path, install: bool = False, **inputs: str):
    """scripts/action.py as the action's `check` step runs it, in ``tmp_path`` (the
    workspace); returns the process, its outputs and the step summary."""
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    outputs.write_text(""), summary.write_text("")
    env = {
        **os.environ,
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTION_PATH": str(ROOT),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "NO_COLOR": "1",
        "INPUT_AS_OF": AS_OF,
        "INPUT_SARIF": "tosguard.sarif",
    }
    (tmp_path / "runner-temp").mkdir(exist_ok=True)
    env.pop("TOSGUARD", None)
    if not install:
        env["TOSGUARD"] = tosguard_executable(tmp_path)
    env.update({"INPUT_" + k.upper(): v for k, v in inputs.items()})
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in result.stderr, result.stderr
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return result, written, summary.read_text()


def last_step(code: str, verdict: str) -> int:
    """The action's last step, which fails the job with tosguard's exit code."""
    script = ACTION["runs"]["steps"][-1]["run"]
    env = {**os.environ, "CODE": code, "VERDICT": verdict}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True).returncode


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    shutil.copy(EXAMPLES / "acme.yaml", tmp_path / "pipelines" / "acme.yaml")
    shutil.copy(EXAMPLES / "deepseek-r1-distill-qwen.yaml", tmp_path / "pipelines" / "ok.yaml")
    return tmp_path


def test_action_non_compliant_writes_sarif_and_outputs(workspace: Path) -> None:
    result, outputs, summary = run_action(workspace, manifests="pipelines/acme.yaml")
    assert result.returncode == 0, result.stderr  # the upload step still runs
    assert outputs == {"verdict": "non_compliant", "exit-code": "1", "sarif": "tosguard.sarif"}
    sarif = json.loads((workspace / "tosguard.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert "NON-COMPLIANT  pipelines/acme.yaml" in result.stdout
    assert "### tosguard: non-compliant (exit code 1)" in summary
    assert last_step(outputs["exit-code"], outputs["verdict"]) == 1


def test_action_directory_gives_the_worst_verdict_and_compliant_passes(workspace: Path) -> None:
    _, both, _ = run_action(workspace, manifests="pipelines")
    assert both["verdict"] == "non_compliant"
    result, one, summary = run_action(workspace, manifests="'pipelines/ok.yaml'")
    assert one == {"verdict": "compliant", "exit-code": "0", "sarif": "tosguard.sarif"}
    assert "| `pipelines/ok.yaml` | compliant |" in summary
    assert last_step(one["exit-code"], one["verdict"]) == 0


def test_action_fail_on_baseline_and_no_sarif(workspace: Path) -> None:
    subprocess.run(
        [
            tosguard_executable(workspace),
            "check",
            "pipelines/acme.yaml",
            "--as-of",
            AS_OF,
            "--write-baseline",
            "risks.yaml",
        ],
        cwd=workspace,
        check=True,
        capture_output=True,
    )
    result, outputs, _ = run_action(
        workspace,
        manifests="pipelines/acme.yaml\npipelines/ok.yaml\n",
        baseline="risks.yaml",
        fail_on="warning",
        sarif="",
    )
    assert outputs == {"verdict": "compliant", "exit-code": "0", "sarif": ""}, result.stdout
    assert not (workspace / "tosguard.sarif").exists()


def test_action_invalid_input(workspace: Path) -> None:
    (workspace / "bad.yaml").write_text("tosguard: 1\nsourcs: []\n")
    result, outputs, _ = run_action(workspace, manifests="bad.yaml")
    assert outputs == {"verdict": "error", "exit-code": "2", "sarif": ""}
    assert "did you mean `sources`?" in result.stderr
    assert last_step("2", "error") == 2
    refused, outputs, _ = run_action(workspace, manifests="", fail_on="sometimes")
    assert refused.returncode == 2 and outputs["verdict"] == "error"
    assert "::error title=tosguard::the `manifests` input is empty" in refused.stdout
    taken, outputs, _ = run_action(workspace, manifests="pipelines", args="--format=text")
    assert taken.returncode == 2 and outputs["verdict"] == "error"
    assert "`args` may not set --format" in taken.stdout


@pytest.mark.slow
def test_action_installs_tosguard_from_its_checkout(workspace: Path) -> None:
    result, outputs, _ = run_action(workspace, install=True, manifests="pipelines/ok.yaml")
    assert outputs["verdict"] == "compliant", result.stdout + result.stderr
    venv = workspace / "runner-temp" / "tosguard-venv"
    assert (venv / "bin" / "tosguard").exists()


# ---- pre-commit -------------------------------------------------------------------------------
HOOK_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "src", "grammar", "policies")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def hooks_repo(tmp_path_factory) -> Path:
    """This checkout's hooks, committed in a git repository of their own: try-repo clones a
    git repository, and a fresh clone, an sdist or a dirty work tree must all work."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("hooks")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in HOOK_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=ignore)
        else:
            shutil.copy(source, repo / name)
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "hooks", cwd=repo)
    return repo


def try_repo(hooks: Path, project: Path, hook: str, home: Path):
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), hook, "--all-files"]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_pre_commit_hooks_with_try_repo(hooks_repo: Path, tmp_path: Path) -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["tosguard-check", "tosguard-lint", "tosguard-fmt"]
    project = tmp_path / "project"
    (project / "manifests").mkdir(parents=True)
    (project / "specs").mkdir()
    shutil.copy(EXAMPLES / "acme.yaml", project / "manifests" / "acme.yaml")
    shutil.copy(EXAMPLES / "acme.yaml", project / "not-a-manifest.yaml")  # outside `files`
    policy = (ROOT / "tests" / "golden" / "fixture" / "policy.tos").read_text()
    (project / "specs" / "terms.tos").write_text(policy)
    git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)
    home = tmp_path / "pre-commit-home"

    failed = try_repo(hooks_repo, project, "tosguard-check", home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "NON-COMPLIANT  manifests/acme.yaml" in failed.stdout
    assert "not-a-manifest.yaml" not in failed.stdout

    shutil.copy(EXAMPLES / "deepseek-r1-distill-qwen.yaml", project / "manifests" / "acme.yaml")
    git("add", "-A", cwd=project)
    passed = try_repo(hooks_repo, project, "tosguard-check", home)
    assert passed.returncode == 0, passed.stdout + passed.stderr

    linted = try_repo(hooks_repo, project, "tosguard-lint", home)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    canonical = subprocess.run(
        [sys.executable, "-m", "tosguard", "fmt", "-"],
        input=policy.replace("clause ", "clause  ", 1),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert canonical != policy  # the fixture is not in the canonical layout: fmt rewrites it
    formatted = try_repo(hooks_repo, project, "tosguard-fmt", home)
    assert formatted.returncode == 1  # the file was rewritten: pre-commit fails the commit
    assert (project / "specs" / "terms.tos").read_text() == canonical
    git("add", "-A", cwd=project)
    again = try_repo(hooks_repo, project, "tosguard-fmt", home)
    assert again.returncode == 0, again.stdout + again.stderr


# ---- the container image ----------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " " if raw.endswith("\\") else raw.strip()
        if not raw.endswith("\\"):
            if current:
                word, _, rest = current.partition(" ")
                lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def test_dockerfile_is_multi_stage_slim_non_root_and_serves_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()
    stages = [args for word, args in instructions if word == "FROM"]
    assert len(stages) == 2 and all(s.startswith("python:3.1") and "slim" in s for s in stages)
    assert " AS build" in stages[0]
    final = instructions[[w for w, _ in instructions].index("FROM", 1) :]
    assert any(w == "COPY" and a.startswith("--from=build ") for w, a in final)
    users = [a for w, a in final if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    user_at = max(i for i, (w, _) in enumerate(final) if w == "USER")
    assert all(w != "USER" for w, _ in final[user_at + 1 :])
    entry = json.loads(dict(final)["ENTRYPOINT"])
    command = json.loads(dict(final)["CMD"])
    assert entry == ["tosguard"] and command[0] == "serve"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert dict(final)["EXPOSE"] == port
    health = dict(final)["HEALTHCHECK"]
    assert f"http://127.0.0.1:{port}/healthz" in health
    # the service has that endpoint and `serve` those options
    from tosguard.service.app import PUBLIC_PATHS

    assert "/healthz" in PUBLIC_PATHS
    help_text = subprocess.run(
        [sys.executable, "-m", "tosguard", "serve", "--help"], capture_output=True, text=True
    ).stdout
    assert "--host" in help_text and "--port" in help_text


def test_dockerignore_lets_in_only_what_the_image_builds_from() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = [
        source.removeprefix("./").rstrip("/")
        for word, args in dockerfile_instructions()
        if word == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    ]
    assert (
        sorted(copied)
        == sorted(allowed)
        == [
            "README.md",
            "grammar",
            "policies",
            "pyproject.toml",
            "src",
        ]
    )
