"""Unit tests of the three-valued connectives and of version selection by time."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest

from tosguard.engine import ir
from tosguard.engine.evaluate import interval_of, segments
from tosguard.engine.library import Library, compile_contents

T, F, U = True, False, None
VALUES = (T, F, U)


class Fixed(ir.Cond):
    """A condition with a fixed three-valued result."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.text = repr(value)
        self.value = value

    def build(self):
        value = self.value
        return lambda env: value


def kleene_and(a, b):
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def kleene_or(a, b):
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


@pytest.mark.parametrize("a,b", list(itertools.product(VALUES, VALUES)))
def test_and_or_follow_kleene(a, b) -> None:
    assert ir.And("", (Fixed(a), Fixed(b))).build()(None) is kleene_and(a, b)
    assert ir.Or("", (Fixed(a), Fixed(b))).build()(None) is kleene_or(a, b)


@pytest.mark.parametrize("a", VALUES)
def test_not(a) -> None:
    assert ir.Not("", Fixed(a)).build()(None) is (None if a is None else not a)


def test_named_cases() -> None:
    assert ir.And("", (Fixed(F), Fixed(U))).build()(None) is False  # false and unknown
    assert ir.And("", (Fixed(T), Fixed(U))).build()(None) is None  # true and unknown
    assert ir.Or("", (Fixed(T), Fixed(U))).build()(None) is True  # true or unknown
    assert ir.Or("", (Fixed(F), Fixed(U))).build()(None) is None  # false or unknown


VERSIONS = """
policy d {
  provider acme
  document "D"
  service api
  version "1"
  effective 2024-01-01
  url "https://x"
}
policy d {
  provider acme
  document "D"
  service api
  version "2"
  effective 2025-01-01
  ends 2025-06-30
  url "https://x"
}
"""


@pytest.fixture(scope="module")
def document():
    library = Library(compile_contents([(Path("d.tos"), "d.tos", VERSIONS.encode())]), "t", [])
    return library.documents["d"]


def spans(found):
    return [(s.version.version, s.start.isoformat(), s.end.isoformat(), s.early) for s in found]


def test_single_day_in_first_version(document) -> None:
    found = segments(document, date(2024, 5, 1), date(2024, 5, 1))
    assert spans(found) == [("1", "2024-05-01", "2024-05-01", False)]


def test_interval_split_at_boundary(document) -> None:
    found = segments(document, date(2024, 12, 1), date(2025, 2, 1))
    assert spans(found) == [
        ("1", "2024-12-01", "2024-12-31", False),
        ("2", "2025-01-01", "2025-02-01", False),
    ]


def test_before_earliest_is_an_early_part_of_its_own(document) -> None:
    # the days before the earliest version are flagged (no terms known then); from its
    # effective date on, that version applies as usual
    found = segments(document, date(2023, 6, 1), date(2024, 2, 1))
    assert spans(found) == [
        ("1", "2023-06-01", "2023-12-31", True),
        ("1", "2024-01-01", "2024-02-01", False),
    ]


def test_entirely_before_earliest_is_all_early(document) -> None:
    found = segments(document, date(2023, 6, 1), date(2023, 7, 1))
    assert spans(found) == [("1", "2023-06-01", "2023-07-01", True)]


def test_after_end_nothing_applies(document) -> None:
    assert segments(document, date(2025, 7, 1), date(2025, 8, 1)) == []


def test_end_date_cuts_the_last_version(document) -> None:
    found = segments(document, date(2025, 6, 1), date(2025, 8, 1))
    assert spans(found) == [("2", "2025-06-01", "2025-06-30", False)]


class _Collected:
    def __init__(self, start, end):
        self.from_, self.to = start, end


class _Source:
    def __init__(self, collected):
        self.collected = collected


def test_interval_of_uses_dates_or_as_of() -> None:
    as_of = date(2026, 1, 1)
    both = _Source(_Collected(date(2025, 1, 1), date(2025, 2, 1)))
    assert interval_of(both, as_of) == (date(2025, 1, 1), date(2025, 2, 1))
    assert interval_of(_Source(None), as_of) == (as_of, as_of)
    from_only = _Source(_Collected(date(2025, 1, 1), None))
    assert interval_of(from_only, as_of) == (date(2025, 1, 1), as_of)
    to_only = _Source(_Collected(None, date(2025, 3, 1)))
    assert interval_of(to_only, as_of) == (date(2025, 3, 1), date(2025, 3, 1))


def test_library_cache_is_reused_and_pruned(tmp_path, monkeypatch) -> None:
    import os
    import time

    from tosguard.engine import library

    monkeypatch.setenv("TOSGUARD_CACHE_DIR", str(tmp_path))
    for index in range(10):
        stale = tmp_path / f"library-old{index}.pickle"
        stale.write_bytes(b"not a pickle")
        os.utime(stale, (time.time() - 1000 + index, time.time() - 1000 + index))
    first = library.load_library()
    caches = sorted(tmp_path.glob("library-*.pickle"))
    assert len(caches) == 8 and (tmp_path / f"library-{first.revision}.pickle") in caches
    second = library.load_library()  # from the cache: same policies, same revision
    assert second.revision == first.revision
    assert [p.label for p in second.policies] == [p.label for p in first.policies]


def test_condition_text_of_a_predicate_from_another_file() -> None:
    shared = b'define trains = source.use contains "distillation"\n'
    policy = (
        b'policy p {\n  provider acme\n  document "D"\n  service api\n'
        b'  effective 2024-01-01\n  url "https://x"\n  clause c {\n'
        b"    topic distillation\n    kind prohibition\n    when trains\n"
        b'    cite { section "1" quote "q" }\n  }\n}\n'
    )
    (compiled,) = compile_contents(
        [(Path("a.tos"), "a.tos", shared), (Path("b.tos"), "b.tos", policy)]
    )
    predicate = compiled.clauses[0].when
    assert predicate.text == "trains"
    assert predicate.body.text == 'source.use contains "distillation"'


def test_compiled_library_pickles_after_evaluation() -> None:
    import pickle

    from tosguard.api import check_file
    from tosguard.engine.library import load_library

    library = load_library(use_cache=False)
    check_file(library, Path(__file__).parent.parent / "examples" / "acme.yaml", as_of="2026-11-22")
    restored = pickle.loads(pickle.dumps(library.policies))
    assert [p.label for p in restored] == [p.label for p in library.policies]
    assert all(getattr(c, "fns", None) is None for p in restored for c in p.clauses)
