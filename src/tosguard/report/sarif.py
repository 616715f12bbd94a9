"""SARIF 2.1.0 for code-scanning UIs (GitHub code scanning, Azure DevOps, VS Code's viewer).

One run for all manifests; each clause is a rule, each problem (violated, undetermined and
warning results) a result. What the tools that read it need:

- ``partialFingerprints``: a hash of the rule, what the finding is about (the source's declared
  id, not its place in the list) and the version of the terms it cites, never of line numbers,
  so that an alert survives edits around it;
- ``region.snippet``: the manifest line the finding points at;
- ``kind`` and ``level`` as SARIF §3.27.9–10 pair them: a violated clause is ``kind: fail`` with
  the clause's severity as ``level``; an undetermined one is ``kind: review``, which requires
  ``level: none``;
- a cap: GitHub takes at most 25,000 results per run (and 10 MB gzipped). Past ``max_results``
  the results of the clauses that fire most often are *folded*, largest first, into one result
  per clause (and status) whose other places are ``relatedLocations``; if that is still too
  many, the last results are left out. Either way the run's invocation carries a note saying
  what was folded or left out, and the run's properties keep every manifest's true totals.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..safetext import json_safe, printable
from .context import NO_CONTEXT, ManifestContext
from .model import ACCEPTED, ALWAYS_LISTED, Finding, Report, summary_categories

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
#: The default cap on results per run: a fifth of GitHub's limit, which keeps the upload of a
#: large manifest's findings well under its 10 MB (gzip) limit too.
DEFAULT_MAX_RESULTS = 5000
#: GitHub's limit of locations per result; a folded result lists at most this many places.
MAX_RELATED = 1000
FINGERPRINT = "tosguardFinding/v1"
# (place in the reports' order, finding, context, whether a baseline was applied to its report)
Entry = tuple[int, Finding, ManifestContext, bool]


def render_sarif(
    reports: Sequence[Report],
    contexts: Sequence[ManifestContext] | None = None,
    max_results: int = DEFAULT_MAX_RESULTS,
) -> str:
    """The SARIF document of ``reports``; ``contexts`` (one per report, in order) gives the
    manifests' lines and source ids."""
    contexts = list(contexts or ()) + [NO_CONTEXT] * (len(reports) - len(contexts or ()))
    rules: dict[str, dict] = {}
    groups: list[list[Entry]] = []
    position = 0
    for report, context in zip(reports, contexts, strict=True):
        by_rule: dict[tuple[str, str, bool], list[Entry]] = {}
        baselined = ACCEPTED in report.summary
        for f in report.findings:
            accepted = f.category == ACCEPTED  # listed as it was, with its suppression
            if not accepted and f.category not in ALWAYS_LISTED:
                continue
            shown = f.unaccepted() if accepted else f
            rules.setdefault(shown.rule, _rule(shown))
            key = (shown.rule, shown.status, accepted)
            by_rule.setdefault(key, []).append((position, f, context, baselined))
            position += 1
        groups += by_rule.values()
    results, notes = _results(groups, max(1, max_results))
    run: dict = {
        "tool": {
            "driver": {
                "name": "tosguard",
                "version": __version__,
                "informationUri": "https://github.com/tosguard/tosguard",
                "rules": [rules[k] for k in sorted(rules)],
            }
        },
    }
    if notes:
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {"descriptor": {"id": code}, "level": "note", "message": {"text": text}}
                    for code, text in notes
                ],
            }
        ]
    run["results"] = results
    run["properties"] = _properties(reports)
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _results(groups: list[list[Entry]], cap: int) -> tuple[list[dict], list[tuple[str, str]]]:
    """The results, folding the largest groups first while there are more than ``cap``; then
    cut to ``cap``. Results keep the report's order (a folded one takes its first place)."""
    total = sum(len(g) for g in groups)
    folded: set[int] = set()
    for number in sorted(range(len(groups)), key=lambda n: (-len(groups[n]), n)):
        if total <= cap or len(groups[number]) == 1:
            break
        folded.add(number)
        total -= len(groups[number]) - 1
    # (place, result, the note saying it was folded): a note is kept only with its result
    entries: list[tuple[int, dict, tuple[str, str] | None]] = []
    for number, group in enumerate(groups):
        if number in folded:
            position, first, _, _ = group[0]
            note = (
                "tosguard/folded",
                printable(
                    f"`{first.rule}` ({first.status}) holds for {len(group)} subjects of "
                    f"`{first.location['file']}`: folded into one result, its other "
                    f"places listed as related locations"
                    + (f" (the first {MAX_RELATED})" if len(group) - 1 > MAX_RELATED else "")
                ),
            )
            entries.append((position, _folded_result(group), note))
        else:
            entries += [(entry[0], _result(*entry[1:]), None) for entry in group]
    entries.sort(key=lambda entry: entry[0])
    kept = entries[:cap]
    results = [result for _, result, _ in kept]
    notes = [note for _, _, note in kept if note is not None]
    if len(entries) > cap:
        notes.append(
            (
                "tosguard/capped",
                f"{len(entries) - cap} more results are left out: at most {cap} are written "
                "(`--sarif-max-results`); the run's properties keep every manifest's totals",
            )
        )
    return results, notes


def _rule(f: Finding) -> dict:
    cite = f.citation
    if cite is None:  # a notice: it rests on the policy set as a whole, not on one clause
        return {
            "id": f.rule,
            "name": f.clause,
            "shortDescription": {"text": printable(f"tosguard: {f.clause}")},
            "help": {"text": printable(f.remedy_template or f.remedy)},
            "properties": {"topic": f.topic, "provider": f.provider},
        }
    return {
        "id": f.rule,
        "name": f.clause,
        "shortDescription": {"text": printable(f"{cite['document']}, {cite['section']}")},
        "fullDescription": {"text": printable(cite["quote"])},
        "helpUri": cite["url"],
        "help": {"text": printable(f.remedy_template or f.remedy or cite["quote"])},
        "properties": {"topic": f.topic, "provider": f.provider, "effective": cite["effective"]},
    }


def _kind_and_level(f: Finding) -> dict:
    if f.status == "violated":
        return {"level": SARIF_LEVELS.get(f.severity, "note"), "kind": "fail"}
    return {"level": "none", "kind": "review"}  # SARIF §3.27.10: only `fail` takes a level


def fingerprint(f: Finding, context: ManifestContext, subject: str | None = None) -> str:
    """A stable hash of the rule, the subject (by its declared id) and the cited version."""
    version = (f.citation or {}).get("effective") or ""
    about = context.subject_key(f.subject) if subject is None else subject
    text = "\0".join((f.rule, about, version))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def artifact_uri(path: str) -> str:
    """A manifest's path as SARIF's ``uri`` (RFC 3986): an absolute path as a ``file:`` URI,
    a relative one percent-encoded (``a#1.yaml`` would end at a fragment); standard input
    keeps its name, encoded.

    >>> artifact_uri("pipelines/a b#1.yaml"), artifact_uri("/srv/m.yaml"), artifact_uri("<stdin>")
    ('pipelines/a%20b%231.yaml', 'file:///srv/m.yaml', '%3Cstdin%3E')
    """
    if os.path.isabs(path):
        return Path(path).as_uri()
    return quote(path.replace(os.sep, "/"), safe="/")


def _physical(f: Finding, context: ManifestContext) -> dict:
    line = max(f.location["line"], 1)
    region: dict = {"startLine": line, "startColumn": max(f.location["column"], 1)}
    snippet = context.line(f.location["line"])
    if snippet.strip():
        region["snippet"] = {"text": printable(snippet)}
    return {"artifactLocation": {"uri": artifact_uri(f.location["file"])}, "region": region}


def _result(f: Finding, context: ManifestContext, baselined: bool = False) -> dict:
    """A finding's result; an accepted one as it was, with its suppression (SARIF §3.35).
    Where a baseline was applied, every other result says it is not suppressed (``[]``)."""
    if f.category == ACCEPTED:
        result = _result(f.unaccepted(), context)
        result["suppressions"] = [_suppression(f.acceptance or {})]
        return result
    result = _unsuppressed_result(f, context)
    if baselined:
        result["suppressions"] = []
    return result


def _suppression(acceptance: dict) -> dict:
    """An accepted risk as SARIF's suppression (§3.35): ``external`` (kept in a baseline file,
    not in the manifest), ``accepted``, with the reason as its justification."""
    entry = acceptance["baseline"]
    return {
        "kind": "external",
        "status": "accepted",
        "justification": printable(acceptance["reason"]),
        "location": {
            "physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(entry["file"])},
                "region": {"startLine": max(entry["line"], 1)},
            }
        },
        "properties": {
            "accepted_by": printable(acceptance["accepted_by"]),
            "expires": acceptance["expires"],
        },
    }


def _unsuppressed_result(f: Finding, context: ManifestContext) -> dict:
    return {
        "ruleId": f.rule,
        **_kind_and_level(f),
        "message": {"text": printable(f.message)},
        "locations": [
            {
                "physicalLocation": _physical(f, context),
                "logicalLocations": [{"fullyQualifiedName": f.subject}],
            }
        ],
        "partialFingerprints": {FINGERPRINT: fingerprint(f, context)},
        "properties": {
            "status": f.status,
            "severity": f.severity,
            "category": f.category,
            "missing": list(f.missing),
            **({"remedy": printable(f.open_remedy)} if f.remedy_template else {}),
        },
    }


def _folded_result(group: list[Entry]) -> dict:
    _, first, context, baselined = group[0]
    result = _result(first, context, baselined)
    # one folded result per manifest, rule and status (an accepted group apart)
    about = f"*{first.location['file']}*{first.status}"
    first = first.unaccepted() if first.category == ACCEPTED else first
    others = group[1 : 1 + MAX_RELATED]
    result["message"] = {
        "text": printable(
            f"{first.message} — and for {len(group) - 1} more subjects of this manifest "
            "(related locations)"
        )
    }
    result["relatedLocations"] = [
        {
            "id": number,
            "physicalLocation": _physical(f, ctx),
            "message": {"text": printable(ctx.subject_name(f.subject))},
        }
        for number, (_, f, ctx, _) in enumerate(others, start=1)
    ]
    result["partialFingerprints"] = {FINGERPRINT: fingerprint(first, context, subject=about)}
    missing = sorted({m for _, f, _, _ in group for m in f.missing})
    result["properties"] = {**result["properties"], "missing": missing, "folded": len(group)}
    return result


def _properties(reports: Sequence[Report]) -> dict:
    revisions = sorted({r.policy_revision for r in reports})
    properties: dict = {"tosguard_version": __version__}
    if len(revisions) == 1:  # one policy set checked every manifest (as in one CLI run)
        properties["policy_set_revision"] = revisions[0]
    properties["reports"] = [
        {
            "manifest": printable(r.manifest),
            "as_of": r.as_of.isoformat(),
            "verdict": r.verdict,
            "tosguard_version": r.tosguard_version,
            "policy_set_revision": r.policy_revision,
            "summary": {
                category: r.summary.get(category, 0) for category in summary_categories(r.summary)
            },
        }
        for r in reports
    ]
    return properties
