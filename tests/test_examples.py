"""Every example manifest states its expected verdict in a comment; the shipped library must
produce it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tosguard.api import check_file, load_library

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.*"))
EXPECTED = re.compile(
    r'(?:#\s*Expected:|"expected_verdict":\s*")\s*(compliant|non_compliant|undetermined)'
)


@pytest.fixture(scope="module")
def library():
    return load_library(use_cache=False)


def expected_verdict(path: Path) -> str:
    match = EXPECTED.search(path.read_text(encoding="utf-8"))
    assert match, f"{path.name} does not say its expected verdict"
    return match.group(1)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_verdict(library, path: Path) -> None:
    report = check_file(library, path, as_of="2026-11-22")
    assert report.verdict == expected_verdict(path), report.to_json()
