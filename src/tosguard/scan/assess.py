"""From what the data shows to findings that cite clauses.

A provider whose fingerprints appear in a source that does not declare it (neither as the
source's ``provider`` nor as the provider of a source it is ``derived_from``, followed
transitively) is undeclared provenance. Which clauses would govern it is decided by the
engine, not by the scan: the source is evaluated again *as if* it declared what the data
shows — ``kind: model-output`` of that provider, through the service it declares if that is
one of the provider's own (``api``, ``consumer-app``, ``enterprise``, ``fine-tuning``), else
``api`` — with everything else it declares (uses, dates, access, the organization, the
trained model) unchanged. Each clause that then comes out violated or undetermined is a
finding of the scan, citing that clause; where none does (the provider's terms allow the use,
as DeepSeek's do), one finding cites the permission that would govern, as a warning: the
declaration is still wrong. See docs/scan.md and docs/policies.md.

Severity follows the strength of the evidence: a strong fingerprint (the text speaks as the
model) keeps the clause's severity; a medium one lowers an error to a warning; a weak one
(a phrase typical of the model, a trace format several models share) is info.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from .. import __version__
from ..report.model import CATEGORY_ORDER, Finding, Report, summarize, verdict_of
from .fingerprints import STRENGTHS, Fingerprint
from .run import SourceScan

__all__ = ["OWN_SERVICES", "assess", "declared_providers"]

#: The services through which a provider's own terms govern its outputs.
OWN_SERVICES = ("api", "consumer-app", "enterprise", "fine-tuning")
_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
#: The most severe a finding may be, by the strength of its evidence.
_CEILING = {"strong": "error", "medium": "warning", "weak": "info"}


def declared_providers(manifest, index: int) -> set[str]:
    """The providers source ``index`` declares: its own and those of the sources it is
    derived from, transitively."""
    by_id = {s.id: s for s in manifest.sources}
    found: set[str] = set()
    pending, seen = [manifest.sources[index]], set()
    while pending:
        source = pending.pop()
        if source.id in seen:
            continue
        seen.add(source.id)
        if source.provider:
            found.add(source.provider)
        pending += [by_id[d] for d in source.derived_from or () if d in by_id]
    return found


def assess(
    library,
    loaded,
    scans: list[SourceScan],
    fingerprints: tuple[Fingerprint, ...],
    as_of: date,
    *,
    name: str,
    accept_unknown_ids: bool = False,
) -> Report:
    """The report of a scan: a finding per clause that the undeclared provenance found in
    each source would bring into play."""
    findings: list[Finding] = []
    for scan in scans:
        declared = declared_providers(loaded.manifest, scan.index)
        evidence: dict[str, list[int]] = {}
        for index in sorted(scan.counts):
            evidence.setdefault(fingerprints[index].provider, []).append(index)
        # a pattern that a declared provider's fingerprint shares (the `<think>` tags of
        # DeepSeek-R1 and QwQ) is explained by the declaration: not evidence of another
        explained = {
            fingerprints[i].pattern for i in scan.counts if fingerprints[i].provider in declared
        }
        for provider, matched in sorted(evidence.items()):
            indices = [i for i in matched if fingerprints[i].pattern not in explained]
            if provider in declared or not indices:
                continue
            findings += _findings(
                library,
                loaded,
                scan,
                provider,
                indices,
                fingerprints,
                as_of,
                name,
                accept_unknown_ids,
            )
    ordered = tuple(sorted(findings, key=_key))
    return Report(
        name,
        as_of,
        verdict_of(ordered),
        summarize(ordered, {}),
        ordered,
        __version__,
        library.revision,
    )


def _key(f: Finding) -> tuple:
    return (
        CATEGORY_ORDER[f.category],
        _SEVERITY_RANK.get(f.severity, 3),
        int(f.subject.split("/")[2]),
        f.provider or "",
        f.policy or "",
        f.clause,
        (f.citation or {}).get("effective") or "",
    )


def _findings(
    library, loaded, scan, provider, indices, fingerprints, as_of, name, accept_unknown_ids
) -> list[Finding]:
    from ..engine.evaluate import evaluate
    from ..report.model import build_report

    strongest = min(indices, key=lambda i: (STRENGTHS.index(fingerprints[i].strength), i))
    strength = fingerprints[strongest].strength
    subject = f"/sources/{scan.index}"
    manifest = loaded.manifest
    source = manifest.sources[scan.index]
    service = source.service if source.service in OWN_SERVICES else "api"
    supposed = source.model_copy(
        update={
            "kind": "model-output",
            "provider": provider,
            "service": service,
            "model": None,
            "license": None,
        }
    )
    sources = list(manifest.sources)
    sources[scan.index] = supposed
    evaluation = evaluate(
        library,
        manifest.model_copy(update={"sources": sources}),
        as_of,
        True,
        accept_unknown_ids,
    )
    results = [
        f
        for f in build_report(evaluation, loaded, as_of, name, library.revision).findings
        if f.subject == subject
    ]
    problems = [f for f in results if f.status in ("violated", "undetermined")]
    span = loaded.span(f"{subject}/data")
    location = {"file": name, "line": span.line, "column": span.column}
    records = scan.providers.get(provider, 0)
    example = scan.examples[strongest][0]
    evidence = (
        f"the data of source `{scan.id}` holds {records:,} record"
        f"{'s' * (records != 1)} matching {provider}'s fingerprints (strongest: "
        f"{strength} {fingerprints[strongest].kind} `{fingerprints[strongest].id}`, e.g. "
        f"{example.where}: “{example.excerpt}”), but the source does not declare provider "
        f"`{provider}`"
    )
    remedy = (
        f"Declare the provenance the data shows (`provider: {provider}` on this source, or a "
        f"source of provider `{provider}` in its `derived_from`) and run `tosguard check`, or "
        f"remove those records from the data."
    )
    ceiling = _CEILING[strength]
    if problems:
        return [
            dataclasses.replace(
                f,
                provider=f.provider or provider,
                severity=_capped(f.severity, ceiling),
                location=location,
                message=f"{evidence}; with it declared, the check reports: {f.message}",
                remedy=f"{remedy} {f.remedy}".strip(),
            )
            for f in problems
        ]
    governing = [f for f in results if f.citation is not None and f.status == "satisfied"]
    governing.sort(key=lambda f: (f.kind != "permission", f.policy or "", f.clause))
    if governing:
        f = governing[0]
        return [
            dataclasses.replace(
                f,
                status="violated",
                severity=_capped("warning", ceiling),
                location=location,
                message=f"{evidence}; with it declared, its terms govern and allow it: {f.message}",
                remedy=remedy,
            )
        ]
    return [
        Finding(
            policy=None,
            provider=provider,
            clause="undeclared-provenance",
            topic="identity",
            kind="identity",
            status="undetermined",
            severity=_capped("error", ceiling),
            subject=subject,
            location=location,
            message=f"{evidence}; no policy of the library governs {provider}'s outputs "
            "through this source's service: tosguard cannot tell what applies",
            missing=(f"{subject}/provider",),
            remedy=remedy,
            citation=None,
            policy_location=None,
        )
    ]


def _capped(severity: str, ceiling: str) -> str:
    return max(severity, ceiling, key=lambda s: _SEVERITY_RANK.get(s, 3))
