"""Legal content is data with provenance: every clause's quote must appear, word for word, in
the stored source text it cites (``policies/<provider>/sources/*.txt``)."""

from __future__ import annotations

import pytest

from tosguard.language.parse import parse_policy_file
from tosguard.resources import policies_dir
from tosguard.tools.provenance import all_stored_sources, normalise, quote_found, quote_problem

POLICIES = policies_dir()


def stored_sources() -> list:
    sources = all_stored_sources(POLICIES)
    for source in sources:
        assert not source.problem, f"{source.path}: {source.problem}"
    return sources


def cited_clauses() -> list[tuple[str, object, object]]:
    found = []
    for path in sorted(POLICIES.rglob("*.tos")):
        parsed = parse_policy_file(path, str(path.relative_to(POLICIES)))
        for policy in parsed.policies:
            for clause in policy.clauses:
                found.append((f"{parsed.path}:{policy.id}/{clause.id}", policy, clause))
    return found


CLAUSES = cited_clauses()
SOURCES = stored_sources()


def test_library_has_clauses_and_sources() -> None:
    assert CLAUSES and stored_sources()


@pytest.mark.parametrize("name,policy,clause", CLAUSES, ids=[c[0] for c in CLAUSES])
def test_quote_appears_in_stored_source(name, policy, clause) -> None:
    problem = quote_problem(policy, clause, SOURCES)
    assert problem is None, f"{name}: {problem[1]} ({problem[2]})"


def test_quote_matcher_rejects_altered_words() -> None:
    text = normalise("Customer will not share Account access credentials.")
    assert quote_found("Customer will not share Account", text)
    assert quote_found("Customer … credentials.", text)
    assert not quote_found("Customer may share Account", text)
    assert not quote_found("credentials … Customer", text)
