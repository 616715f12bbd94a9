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


# ---- quantifiers over governed sources ----------------------------------------------------------
def _gated_bodies():
    """The bodies of the shipped library's quantifiers that `governed` gates (with the
    manifest paths nothing else reads), and one made here that reads an undeclared field."""
    from tosguard.engine.ir import Quantifier, gated_by_governed
    from tosguard.engine.library import load_library

    found, pending = {}, []
    for document in load_library().documents.values():
        for version in document.versions:
            for clause in version.clauses:
                pending += [c for c in (clause.when, clause.require) if c is not None]
    while pending:
        cond = pending.pop()
        if isinstance(cond, Quantifier) and gated_by_governed(cond.body):
            found.setdefault(repr(cond.body), cond.body)
        pending += cond.children()
    return list(found.values())


GATED = _gated_bodies()


def test_the_library_has_gated_quantifiers():
    assert len(GATED) >= 5  # the model clauses' `any source where (governed and …)`


@given(
    codes=st.lists(st.sampled_from([0, 1, 2, 3]), min_size=1, max_size=12),
    uses=st.lists(
        st.one_of(st.none(), st.lists(st.sampled_from(["fine-tuning", "evaluation", "rlhf"]))),
        min_size=12,
        max_size=12,
    ),
    kinds=st.lists(
        st.sampled_from([None, "model-output", "dataset", "model-weights"]),
        min_size=12,
        max_size=12,
    ),
)
def test_a_gated_tally_runs_only_on_governed_sources_with_the_same_values(codes, uses, kinds):
    """Skipping the sources a version does not govern (or has not recorded) changes no value
    of a tally: `governed and …` is false there, whatever the rest is, unknown included."""
    from tosguard.engine.ir import Env, _tally
    from tosguard.manifest.model import parse_manifest

    sources = "".join(
        f"  - id: s{n}\n"
        + (f"    kind: {kinds[n]}\n" if kinds[n] else "")
        + (f"    use: [{', '.join(uses[n])}]\n" if uses[n] is not None else "")
        for n in range(len(codes))
    )
    text = (
        "tosguard: 1\norganization: {name: A, country: US}\n"
        "model: {name: m, purpose: chat, distribution: api, commercial: true}\n"
        f"sources:\n{sources}"
    )
    manifest = parse_manifest(text, "m.yaml").manifest
    env = Env(manifest)
    env.governed.codes[:] = bytes(codes)
    for body in GATED:
        function = body.compiled()
        assert _tally(env, function, gated=True) == _tally(env, function, gated=False)
        assert (env.source, env.index) == (None, -1)  # the outer binding is restored
