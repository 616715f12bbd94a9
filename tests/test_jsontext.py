"""The hand-written JSON writer must produce exactly what ``json.dumps(indent=2,
ensure_ascii=False)`` does, less the characters it writes as ``\\uXXXX`` escapes so that a report
cannot act on a terminal (DEL, C1 controls, bidirectional overrides, lone surrogates: see
``safetext.json_safe``): reports from the CLI and the service are compared byte for byte."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tosguard.api import check_file, load_library
from tosguard.report.jsontext import FragmentCache, dumps
from tosguard.report.model import Finding, Report
from tosguard.safetext import json_safe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.json"))

# Text with escapes, control characters, quotes, non-ASCII and astral characters.
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
SCALARS = st.none() | st.booleans() | st.integers() | TEXT | st.floats(allow_nan=True)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=25,
)


def reference(value, level: int = 0) -> str:
    """What json.dumps writes for ``value`` nested ``level`` deep inside lists."""
    for _ in range(level):
        value = [value]
    text = json_safe(json.dumps(value, indent=2, ensure_ascii=False))
    prefix = "".join("[\n" + "  " * (depth + 1) for depth in range(level))
    suffix = "".join("\n" + "  " * depth + "]" for depth in reversed(range(level)))
    assert text.startswith(prefix) and text.endswith(suffix)
    return text[len(prefix) : len(text) - len(suffix)]


@given(VALUES, st.integers(0, 3))
@settings(max_examples=400)
def test_dumps_matches_json_dumps(value, level):
    assert dumps(value, level) == reference(value, level)


@given(VALUES)
@settings(max_examples=200)
def test_escapes_leave_the_value_unchanged_and_nothing_that_acts_on_a_terminal(value):
    text = dumps(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert not any(
        "\x7f" <= c <= "\x9f"
        or "\u202a" <= c <= "\u202e"
        or "\u2066" <= c <= "\u2069"
        or "\ud800" <= c <= "\udfff"
        or c < " "
        and c != "\n"
        for c in text
    )


def test_terminal_controls_and_bidi_overrides_are_escaped():
    assert dumps("a\x1b]0;x\x07\x9b\u202e\ud800é") == '"a\\u001b]0;x\\u0007\\u009b\\u202e\\ud800é"'


@given(
    st.dictionaries(st.integers() | st.booleans() | st.none() | st.floats(), SCALARS, max_size=4)
)
def test_non_string_keys_are_converted_like_json_dumps(value):
    assert dumps(value) == json_safe(json.dumps(value, indent=2, ensure_ascii=False))


def test_unserialisable_values_are_refused_like_json_dumps():
    with pytest.raises(TypeError):
        dumps({"when": date(2026, 1, 1)})


FINDINGS = st.builds(
    Finding,
    policy=TEXT,
    provider=TEXT,
    clause=TEXT,
    topic=TEXT,
    kind=TEXT,
    status=st.sampled_from(["violated", "undetermined", "satisfied", "not_applicable"]),
    severity=st.sampled_from(["error", "warning", "info"]),
    subject=TEXT,
    location=st.fixed_dictionaries(
        {"file": TEXT, "line": st.integers(1, 10**6), "column": st.integers(1, 10**4)}
    ),
    message=TEXT,
    missing=st.lists(TEXT, max_size=3).map(tuple),
    remedy=TEXT,
    citation=st.fixed_dictionaries(
        {
            "document": TEXT,
            "section": TEXT,
            "effective": st.none() | TEXT,
            "url": TEXT,
            "quote": TEXT,
        }
    ),
    policy_location=st.fixed_dictionaries({"file": TEXT, "line": st.integers(1, 10**6)}),
)
REPORTS = st.builds(
    Report,
    manifest=TEXT,
    as_of=st.dates(),
    verdict=st.sampled_from(["compliant", "non_compliant", "undetermined"]),
    summary=st.dictionaries(TEXT, st.integers(0, 10**6), max_size=4),
    # few distinct clauses, many findings: the cached clause fragments are reused
    findings=st.lists(FINDINGS, max_size=6)
    .flatmap(lambda found: st.lists(st.sampled_from(found), max_size=12) if found else st.just([]))
    .map(tuple),
)


@given(REPORTS)
@settings(max_examples=300)
def test_report_json_is_json_dumps_of_the_report(report):
    expected = json_safe(json.dumps(report.as_dict(), indent=2, ensure_ascii=False)) + "\n"
    assert report.to_json() == expected
    assert report.to_json() == expected  # again, from the fragment cache
    nested = json_safe(json.dumps([report.as_dict()], indent=2, ensure_ascii=False))
    assert "[\n  " + report.json_text(1) + "\n]" == nested


@pytest.fixture(scope="module")
def library():
    return load_library()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_reports_match_json_dumps(library, path):
    for include_all in (False, True):
        report = check_file(library, path, as_of="2026-11-22", include_all=include_all)
        assert report.to_json() == json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def test_fragment_cache_is_bounded_and_starts_again_when_full():
    cache = FragmentCache(limit=3)
    made = []

    def make(key):
        made.append(key)
        return f"<{key}>"

    assert [cache.get(k, lambda k=k: make(k)) for k in "abc"] == ["<a>", "<b>", "<c>"]
    assert cache.get("a", lambda: make("again")) == "<a>"
    assert cache.get("d", lambda: make("d")) == "<d>"  # full: emptied, then d kept
    assert len(cache.entries) == 1
    assert made == ["a", "b", "c", "d"]
