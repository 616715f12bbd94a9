"""The shipped library's own policy tests (``policies/*/tests/*.yaml``) must pass."""

from __future__ import annotations

import pytest

from tosguard.engine.library import load_library
from tosguard.resources import policies_dir
from tosguard.tools.policytest import find_test_files, load_tests, run_test

TESTS = [t for f in find_test_files([policies_dir()]) for t in load_tests(f)]


@pytest.fixture(scope="module")
def library():
    return load_library(use_cache=False)


def test_library_has_policy_tests() -> None:
    assert TESTS


@pytest.mark.parametrize(
    "test", TESTS, ids=[f"{t.file.split('policies/')[-1]}:{t.name}" for t in TESTS]
)
def test_policy_test_passes(library, test) -> None:
    result = run_test(library, test)
    assert result.passed, "\n".join(result.failures)


def test_runner_reports_wrong_expectations(library, tmp_path) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(
        "manifest: {tosguard: 1, sources: []}\n"
        "verdict: non_compliant\n"
        "must: [{clause: openai-services-agreement/geography, status: violated}]\n"
    )
    (test,) = load_tests(path)
    failures = run_test(library, test).failures
    assert "verdict is compliant, expected non_compliant" in failures
    assert any("missing finding clause=openai-services-agreement/geography" in f for f in failures)


def test_runner_rejects_tests_that_assert_nothing(library, tmp_path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("manifest: {tosguard: 1, sources: []}\n")
    (test,) = load_tests(path)
    assert not run_test(library, test).passed
