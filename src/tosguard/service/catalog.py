"""The policy library as JSON: the list, one policy with its versions, one clause with its
condition, citation and verbatim quote. Built from the compiled set in use."""

from __future__ import annotations

from ..engine.library import Document, Library
from ..errors import did_you_mean
from .problems import ProblemError, item


def policy_rows(library: Library) -> dict:
    """The same rows as ``tosguard policies --format json``."""
    return {"revision": library.revision, "policies": library.listing()}


def find_document(library: Library, policy_id: str) -> Document:
    document = library.documents.get(policy_id)
    if document is None:
        help = did_you_mean(policy_id, library.documents)
        raise ProblemError(
            "not-found",
            f"no policy `{policy_id}` in the library",
            [
                item(
                    "service-unknown-policy",
                    f"no policy `{policy_id}`",
                    help=help or "`GET /v1/policies` lists them",
                )
            ],
        )
    return document


def policy_detail(library: Library, policy_id: str) -> dict:
    document = find_document(library, policy_id)
    versions = []
    for version in document.versions:
        versions.append(
            {
                "version": version.version,
                "effective": version.effective.isoformat(),
                "ends": version.ends.isoformat() if version.ends else None,
                "document": version.document,
                "url": version.url,
                "services": list(version.services),
                "file": version.file,
                "line": version.line,
                "clauses": [
                    {
                        "id": c.id,
                        "topic": c.topic,
                        "kind": c.kind,
                        "scope": c.scope,
                        "severity": c.severity,
                    }
                    for c in version.clauses
                ],
            }
        )
    return {
        "id": document.id,
        "provider": document.provider or None,
        "revision": library.revision,
        "versions": versions,
    }


def clause_detail(library: Library, policy_id: str, clause_id: str) -> dict:
    document = find_document(library, policy_id)
    versions = []
    for version in document.versions:
        for clause in version.clauses:
            if clause.id != clause_id:
                continue
            citation = clause.citation
            versions.append(
                {
                    "version": version.version,
                    "effective": version.effective.isoformat(),
                    "ends": version.ends.isoformat() if version.ends else None,
                    "topic": clause.topic,
                    "kind": clause.kind,
                    "scope": clause.scope,
                    "severity": clause.severity,
                    "when": clause.when.text if clause.when is not None else None,
                    "require": clause.require.text if clause.require is not None else None,
                    "message": clause.message,
                    "remedy": clause.remedy,
                    "waived_by": list(clause.waivers),
                    "lifts": [f"{p}/{c}" for p, c in clause.lifts],
                    "lifted_by": [f"{e.policy}/{e.id}" for e in clause.exceptions],
                    "citation": {
                        "document": citation.document,
                        "section": citation.section,
                        "effective": citation.effective.isoformat() if citation.effective else None,
                        "url": citation.url,
                        "quote": citation.quote,
                        "unverified": citation.unverified,
                    },
                    "policy_location": {"file": clause.file, "line": clause.line},
                }
            )
    if not versions:
        known = {c.id for v in document.versions for c in v.clauses}
        help = did_you_mean(clause_id, known)
        raise ProblemError(
            "not-found",
            f"policy `{policy_id}` has no clause `{clause_id}`",
            [
                item(
                    "service-unknown-clause",
                    f"no clause `{clause_id}` in `{policy_id}`",
                    help=help or f"`GET /v1/policies/{policy_id}` lists its clauses",
                )
            ],
        )
    return {
        "policy": document.id,
        "provider": document.provider or None,
        "clause": clause_id,
        "revision": library.revision,
        "versions": versions,
    }
