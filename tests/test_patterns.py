"""Name patterns: globs mean what fnmatch means, regular expressions run on RE2 (linear time,
no backtracking constructs), and both are the same for the evaluator, checker and linter."""

from __future__ import annotations

import fnmatch
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tosguard.language.patterns import PatternError, check_pattern, matcher

GLOB_CHARS = st.sampled_from(list("ab*?[]!-^\\.") + ["é", "Llama", "-"])
TEXT_CHARS = st.sampled_from(list("ab-.[]!^\\*?") + ["é", "Llama"])


@settings(max_examples=400, deadline=None)
@given(st.lists(GLOB_CHARS, max_size=8).map("".join), st.lists(TEXT_CHARS, max_size=8).map("".join))
def test_globs_match_as_fnmatch_does(pattern, text):
    assert matcher(pattern, regex=False)(text) == fnmatch.fnmatchcase(text, pattern)


def test_glob_is_case_sensitive_and_whole():
    llama = matcher("Llama*", regex=False)
    assert llama("Llama-acme-7b")
    assert not llama("llama-acme-7b")
    assert not llama("acme-Llama")


def test_regex_searches_anywhere_with_inline_flags():
    vision = matcher("(?i)vision", regex=True)
    assert vision("meta-llama/Llama-3.2-11B-Vision-Instruct")
    assert not vision("Llama-3.2-1B")
    assert matcher("^Llama[ -]?3", regex=True)("Llama 3 chat")


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?=a)b", "(?<=a)b", "a{1001}", "("])
def test_patterns_re2_cannot_run_are_refused_with_a_reason(pattern):
    reason = check_pattern(pattern, regex=True)
    assert reason
    with pytest.raises(PatternError):
        matcher(pattern, regex=True)


def test_catastrophic_backtracking_patterns_run_in_linear_time():
    # Python's re takes seconds on 26 characters and doubles per character; RE2 does not care.
    nested = matcher("^(a+)+$", regex=True)
    optional = matcher("^(.?){14}(.?){14}Z", regex=True)
    started = time.perf_counter()
    assert not nested("a" * 5000 + "b")
    assert not optional("a" * 5000)
    assert time.perf_counter() - started < 2  # milliseconds in fact; exponential otherwise


def test_results_are_remembered_within_a_bound():
    from tosguard.language import patterns

    test = matcher("x*", regex=False)
    for index in range(patterns._MEMO_SIZE * 3):
        assert test(f"x{index}")
    # the memo lives in the closure; it never holds more than its bound
    memo = next(
        cell.cell_contents for cell in test.__closure__ if isinstance(cell.cell_contents, dict)
    )
    assert len(memo) <= patterns._MEMO_SIZE


def test_invalid_glob_compiles_as_fnmatch_reads_it():
    assert check_pattern("[", regex=False) == ""
    assert matcher("[", regex=False)("[")
