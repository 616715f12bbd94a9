"""The evaluator's table of governed-ness (one byte per source) behaves as the dict it
replaces: same answers for every index, the model's and organization's ``-1`` included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tosguard.engine.ir import GovernedTable

VALUES = st.sampled_from([True, False, None])


@given(
    size=st.integers(min_value=0, max_value=40),
    writes=st.lists(st.tuples(st.integers(min_value=0, max_value=39), VALUES), max_size=60),
    probes=st.lists(st.integers(min_value=-3, max_value=45), max_size=20),
)
def test_table_answers_as_a_dict(size, writes, probes):
    table, expected = GovernedTable(size), {}
    for index, value in writes:
        if index < size:
            table[index] = value
            expected[index] = value
    assert len(table) == len(expected)
    assert list(table.items()) == sorted(expected.items())
    for index in [*probes, *expected]:
        assert table.get(index, False) is expected.get(index, False)
        assert table.get(index) is expected.get(index)
        assert (index in table) == (index in expected)
        if index in expected:
            assert table[index] is expected[index]
        else:
            with pytest.raises(KeyError):
                table[index]


def test_index_outside_the_sources_is_refused():
    table = GovernedTable(2)
    with pytest.raises(IndexError):
        table[2] = True
    with pytest.raises(IndexError):
        table[-1] = True
    assert table.get(-1, False) is False
