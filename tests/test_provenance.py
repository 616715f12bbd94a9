"""Legal content is data with provenance: every clause's quote must appear, word for word, in
the stored source text it cites (``policies/<provider>/sources/*.txt``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tosguard.parse import parse_policy_file
from tosguard.resources import policies_dir

POLICIES = policies_dir()
TYPOGRAPHIC = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " "})


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(TYPOGRAPHIC)).strip()


def stored_sources() -> list[dict]:
    sources = []
    for path in sorted(POLICIES.rglob("sources/*.txt")):
        header, _, body = path.read_text(encoding="utf-8").partition("\n---\n")
        fields = dict(line.split(": ", 1) for line in header.splitlines() if ": " in line
                      and not line.startswith(" "))
        assert fields.get("url") and body.strip(), f"{path}: needs a url header and a text"
        sources.append({"path": path, "url": fields["url"], "effective": fields.get("effective"),
                        "text": normalise(body)})
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


def quote_found(quote: str, text: str) -> bool:
    """Each part of the quote (``…`` marks an omission) appears in order."""
    position = 0
    for part in (normalise(p) for p in quote.split("…")):
        if not part:
            continue
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def test_library_has_clauses_and_sources() -> None:
    assert CLAUSES and stored_sources()


@pytest.mark.parametrize("name,policy,clause", CLAUSES, ids=[c[0] for c in CLAUSES])
def test_quote_appears_in_stored_source(name, policy, clause) -> None:
    citation = clause.citation
    assert citation is not None and citation.quote, f"{name} has no quote"
    url = citation.url or policy.url
    effective = str(citation.effective or policy.effective)
    candidates = [s for s in stored_sources() if s["url"] == url
                  and s["effective"] in (None, effective)]
    assert candidates, f"{name}: no stored source for {url} effective {effective}"
    assert any(quote_found(citation.quote, s["text"]) for s in candidates), (
        f"{name}: quote not found in {[str(s['path']) for s in candidates]}: {citation.quote!r}")


def test_quote_matcher_rejects_altered_words() -> None:
    text = normalise("Customer will not share Account access credentials.")
    assert quote_found("Customer will not share Account", text)
    assert quote_found("Customer … credentials.", text)
    assert not quote_found("Customer may share Account", text)
    assert not quote_found("credentials … Customer", text)
