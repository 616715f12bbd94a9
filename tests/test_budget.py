"""Budgets: the checkpoints in the parser, checker, evaluator and report stop work once the
active budget is spent, and cost nothing without one."""

from __future__ import annotations

import time

import pytest

from tosguard.api import check, load_library
from tosguard.engine import budget as budgets
from tosguard.engine.budget import (
    Budget,
    FindingsLimitExceeded,
    SliceSpent,
    TimeLimitExceeded,
)
from tosguard.language.parse import parse_policy_text
from tosguard.manifest.model import parse_manifest

AS_OF = "2026-11-22"


@pytest.fixture(scope="module")
def library():
    return load_library()


def bare_sources(count: int) -> bytes:
    """Sources that declare nothing: every document may govern each, the costliest case."""
    return ("tosguard: 1\nsources:\n" + "".join(f"  - id: s{i}\n" for i in range(count))).encode()


def test_a_budget_without_limits_never_stops():
    Budget().check()
    Budget(max_findings=None).check_findings(10**9)
    with budgets.active(None):
        budgets.checkpoint()


def test_the_deadline_and_the_slice_are_told_apart():
    with pytest.raises(TimeLimitExceeded):
        Budget(deadline=time.monotonic() - 1).check()
    sliced = Budget(timeout=60, slice_seconds=0)
    time.sleep(0.001)
    with pytest.raises(SliceSpent):
        sliced.check()
    with pytest.raises(FindingsLimitExceeded) as info:
        Budget(max_findings=3).check_findings(4)
    assert info.value.limit == 3


def test_the_active_budget_is_scoped_to_its_block():
    spent = Budget(deadline=time.monotonic() - 1)
    with budgets.active(spent):
        assert budgets.current() is spent
        with pytest.raises(TimeLimitExceeded):
            budgets.checkpoint()
    assert budgets.current() is None
    budgets.checkpoint()


def test_evaluation_stops_at_the_deadline(library):
    # 60,000: the evaluator's memo evaluates sources that declare the same once, so 3,000
    # took 0.1 s; 60,000 still take seconds (the notices, counts and replays are per source)
    loaded = parse_manifest(bare_sources(60_000), "m.yaml")
    started = time.monotonic()
    with budgets.active(Budget(timeout=0.2)), pytest.raises(TimeLimitExceeded):
        check(library, loaded, as_of=AS_OF)
    # unbudgeted, this check takes seconds; stopped, it ends within a few source steps
    assert time.monotonic() - started < 1.5


def test_evaluation_stops_at_the_findings_limit(library):
    # one finding per bare source ("cannot tell which terms govern it"), not one per clause
    loaded = parse_manifest(bare_sources(150), "m.yaml")
    with budgets.active(Budget(max_findings=100)), pytest.raises(FindingsLimitExceeded):
        check(library, loaded, as_of=AS_OF)
    report = check(library, loaded, as_of=AS_OF)  # no budget: the whole report
    assert len(report.findings) > 100


def test_report_writing_stops_at_the_deadline(library):
    report = check(library, parse_manifest(bare_sources(300), "m.yaml"), as_of=AS_OF)
    with budgets.active(Budget(deadline=time.monotonic() - 1)), pytest.raises(TimeLimitExceeded):
        report.to_json()


def test_parsing_stops_at_the_deadline():
    text = "define d = " + " and ".join(["model.commercial"] * 20_000)
    started = time.monotonic()
    with budgets.active(Budget(timeout=0.1)), pytest.raises(TimeLimitExceeded):
        parse_policy_text(text)
    assert time.monotonic() - started < 1.5


def test_the_cli_path_is_not_budgeted(library):
    """Without an active budget the same work runs to the end."""
    loaded = parse_manifest(bare_sources(20), "m.yaml")
    assert check(library, loaded, as_of=AS_OF).findings
