"""The provider × topic matrix (``tosguard policies --matrix``) and its generated page
``docs/matrix.md``, which must match the shipped library (rerun with ``UPDATE_GOLDEN=1`` to
regenerate it on purpose).

It also holds the library's clause-coverage check: every clause version of the shipped library
has a policy test that flags it and one in which it is evaluated and does not (the matrix is
only as good as the clauses it lists)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tosguard.engine.library import load_library
from tosguard.resources import policies_dir
from tosguard.tools.matrix import build_matrix, render_json, render_markdown, render_text
from tosguard.tools.policytest import find_test_files, load_tests, run_test

ROOT = Path(__file__).parent.parent
PAGE = ROOT / "docs" / "matrix.md"


@pytest.fixture(scope="module")
def library():
    return load_library(use_cache=False)


@pytest.fixture(scope="module")
def matrix(library):
    return build_matrix(library)


def test_committed_matrix_page_is_current(matrix) -> None:
    page = render_markdown(matrix)
    if os.environ.get("UPDATE_GOLDEN"):
        PAGE.write_text(page, encoding="utf-8")
    assert PAGE.read_text(encoding="utf-8") == page, (
        "docs/matrix.md is stale: regenerate it with `tosguard policies --matrix --format "
        "markdown -o docs/matrix.md` (or UPDATE_GOLDEN=1)"
    )


def test_every_clause_appears_once(library, matrix) -> None:
    entries = [e for cell in matrix.cells.values() for e in cell]
    refs = [(e.policy, e.clause) for e in entries]
    assert len(refs) == len(set(refs))
    assert set(refs) == {(p.id, c.id) for p in library.policies for c in p.clauses}


def test_cells_say_what_providers_allow_forbid_and_require(matrix) -> None:
    def kinds(provider: str, topic: str) -> set[str]:
        return {e.kind for e in matrix.cell(provider, topic)}

    assert kinds("deepseek", "distillation") == {"permission"}
    assert "prohibition" in kinds("anthropic", "distillation")
    assert {"prohibition", "permission"} <= kinds("openai", "competing-models")
    assert kinds("meta", "naming-attribution") == {"obligation"}
    assert "prohibition" in kinds("google", "distillation")  # consumer terms: no ML development
    assert matrix.providers[:2] == ["openai", "anthropic"]


def test_entries_carry_versions_links_and_status(matrix) -> None:
    (competing,) = [
        e
        for e in matrix.cell("openai", "competing-models")
        if e.ref == "openai-services-agreement/competing-models"
    ]
    assert competing.versions == ("2023-11-14", "2025-05-31", "2026-01-01")
    assert competing.file.startswith("policies/openai/") and competing.line > 0
    assert competing.url.startswith("https://")
    (old,) = [
        e
        for e in matrix.cell("google", "distillation")
        if e.policy == "google-generative-ai-additional-terms"
    ]
    assert old.ended == "2024-05-21"
    (owned,) = [
        e
        for e in matrix.cell("meta", "competing-models")
        if e.ref == "meta-llama-api-terms/outputs-owned"
    ]
    assert not owned.latest  # the Meta Model API terms of 2026 dropped it
    assert any(e.unverified for cell in matrix.cells.values() for e in cell)


def test_renderers(matrix) -> None:
    page = render_markdown(matrix)
    assert "| topic | OpenAI | Anthropic |" in page
    assert "(../policies/openai/services-agreement-2026-01-01.tos#L" in page
    assert "unverified citation" in page
    data = json.loads(render_json(matrix))
    assert {"providers", "topics", "cells"} <= set(data)
    assert all(c["entries"] for c in data["cells"])
    assert "openai-services-agreement/geography" in render_text(matrix)


def test_cli_matrix() -> None:
    executable = shutil.which("tosguard")
    command = [executable] if executable else [sys.executable, "-m", "tosguard"]
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [*command, "policies", "--matrix", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["cells"]
    markdown = subprocess.run(
        [*command, "policies", "--matrix", "--format", "markdown"],
        cwd=ROOT,
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert markdown.stdout.decode("utf-8") == PAGE.read_text(encoding="utf-8")
    misuse = subprocess.run(
        [*command, "policies", "--format", "markdown"],
        cwd=ROOT,
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert misuse.returncode == 2 and b"--matrix" in misuse.stderr


# ---- clause coverage of the library's policy tests ----------------------------------------------
FLAG = {"prohibition": "violated", "obligation": "violated", "permission": "satisfied"}


def _coverage(library) -> tuple[dict, set, set]:
    clauses = {(c.file, c.line): (p, c) for p in library.policies for c in p.clauses}
    flagged: set = set()
    cleared: set = set()
    for path in find_test_files([policies_dir()]):
        for test in load_tests(path):
            result = run_test(library, test)
            if result.report is None:
                continue
            findings = [f.as_dict() for f in result.report.findings]
            for finding in findings:
                if finding["citation"] is None:  # a notice: it rests on no clause
                    continue
                key = (finding["policy_location"]["file"], finding["policy_location"]["line"])
                if key not in clauses:
                    continue
                ref = f"{finding['policy']}/{finding['clause']}"
                flag = FLAG[clauses[key][1].kind]
                for wanted in test.must:
                    if (
                        wanted["clause"] == ref
                        and finding["status"] == flag
                        and wanted.get("status", flag) == flag
                        and wanted.get("subject", finding["subject"]) == finding["subject"]
                    ):
                        flagged.add(key)
                for unwanted in test.must_not:
                    if (
                        unwanted["clause"] == ref
                        and finding["status"] != flag
                        and unwanted.get("status", flag) == flag
                        and unwanted.get("subject", finding["subject"]) == finding["subject"]
                    ):
                        cleared.add(key)
    return clauses, flagged, cleared


def test_every_clause_version_has_a_flagging_and_a_clearing_policy_test(library) -> None:
    clauses, flagged, cleared = _coverage(library)
    missing = [
        f"{file}:{line} {p.id}/{c.id}: "
        + " and ".join(
            w
            for w, ok in (
                ("no test flags it", key in flagged),
                ("no test shows it not flagged", key in cleared),
            )
            if not ok
        )
        for key, (p, c) in sorted(clauses.items())
        for file, line in [key]
        if key not in flagged or key not in cleared
    ]
    assert not missing, "\n".join(missing)


def test_docstring_examples_run() -> None:
    import doctest

    import tosguard.tools.matrix

    assert doctest.testmod(tosguard.tools.matrix).failed == 0
