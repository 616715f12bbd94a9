"""Report renderers for tools: Markdown (pull-request comments), SARIF 2.1.0 (code-scanning
UIs) and JUnit XML (CI test reports). Each is deterministic, like the JSON report.

Each is read by people, in a terminal or a web page: control characters and bidirectional
overrides from the manifest or the policies are written as visible escapes
(:func:`~tosguard.safetext.printable`) in Markdown, JUnit (where XML 1.0 could not hold most
of them anyway) and SARIF's texts; the rest of the SARIF document is escaped as JSON
(:func:`~tosguard.safetext.json_safe`), which leaves its values as they are.

Each counts what it lists the way the JSON report's summary does (:mod:`tosguard.report.model`):
violated and undetermined error-severity results decide the verdict, violated or undetermined
results of lesser severity are *warnings*; and each records the tosguard version and the
policy-set revision that produced it.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from .. import __version__
from ..safetext import json_safe, printable
from .model import ACCEPTED, ALWAYS_LISTED, Finding, Report, summary_categories
from .text import (
    GROUPS,
    HEADING_NOTES,
    acceptance_words,
    count_words,
    section_title,
    unlisted_words,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
CATEGORY_TITLES = {category: title for category, title, _, _ in GROUPS}


def _totals(report: Report) -> dict[str, int]:
    """The summary's five totals, without the ``listed`` counts."""
    summary = report.summary
    return {category: summary.get(category, 0) for category in summary_categories(summary)}


# ---- Markdown ---------------------------------------------------------------------------------
def render_markdown(report: Report) -> str:
    verdict = report.verdict.replace("_", "-").upper()
    summary = report.summary
    lines = [
        f"## tosguard: **{verdict}** — `{report.manifest}`",
        "",
        f"As of {report.as_of.isoformat()}: {', '.join(count_words(summary))}.",
    ]
    unlisted = unlisted_words(summary)
    if unlisted:
        lines.append(f"Not listed: {', '.join(unlisted)} (`--all` lists every result).")
    lines.append("")
    for category, title in CATEGORY_TITLES.items():
        group = [f for f in report.findings if f.category == category]
        if not group:
            continue
        heading = section_title(title, len(group), summary.get(category))
        heading += HEADING_NOTES.get(category, "")
        lines += [
            f"### {heading}",
            "",
            "| clause | severity | subject | finding | cites |",
            "|---|---|---|---|---|",
        ]
        lines += [_markdown_row(f) for f in group]
        lines.append("")
        for f in group:
            if f.acceptance is not None:
                lines.append(
                    f"- **{f.rule}** ({f.subject}): {_cell(acceptance_words(f.acceptance))}"
                )
            elif f.remedy:
                lines.append(f"- **{f.rule}** ({f.subject}): {_cell(f.remedy)}")
        lines.append("")
    if not report.findings:
        lines += ["No findings.", ""]
    lines.append(
        f"<sub>tosguard {report.tosguard_version}, policy set revision "
        f"`{report.policy_revision}`</sub>"
    )
    return printable("\n".join(lines).rstrip() + "\n", layout=True)


def _markdown_row(f: Finding) -> str:
    cite = f.citation
    where = f"{f.location['file']}:{f.location['line']}"
    source = (
        "—"
        if cite is None
        else f"[{_cell(cite['document'])}, {_cell(cite['section'])}]({cite['url']}) "
        f"({cite['effective']}): “{_cell(cite['quote'])}”"
    )
    missing = f" Missing: {', '.join(f'`{m}`' for m in f.missing)}." if f.missing else ""
    return (
        f"| `{f.rule}` | {f.severity} | `{f.subject}` ({where}) | "
        f"{_cell(f.message)}{missing} | {source} |"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---- SARIF ------------------------------------------------------------------------------------
def render_sarif(reports: list[Report]) -> str:
    """One SARIF run for all manifests; each clause is a rule, each finding a result.
    Satisfied and not-applicable findings (with ``--all``) are omitted: SARIF lists problems,
    which are every violated, undetermined and warning result (each result's
    ``properties.category``). The run's properties record the tosguard version, the
    policy-set revision and, per manifest, its verdict and the summary's totals."""
    rules: dict[str, dict] = {}
    results = []
    for report in reports:
        for f in report.findings:
            if f.category == ACCEPTED:  # listed as it was, with its suppression (SARIF 3.35)
                rules.setdefault(f.rule, _sarif_rule(f))
                results.append(_sarif_result(f.unaccepted(), f.rule))
                results[-1]["suppressions"] = [_sarif_suppression(f.acceptance or {})]
                continue
            if f.category not in ALWAYS_LISTED:
                continue
            rule_id = f.rule
            rules.setdefault(rule_id, _sarif_rule(f))
            results.append(_sarif_result(f, rule_id))
            if ACCEPTED in report.summary:  # a baseline was applied: this one is not suppressed
                results[-1]["suppressions"] = []
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
            "summary": _totals(r),
        }
        for r in reports
    ]
    run = {
        "tool": {
            "driver": {
                "name": "tosguard",
                "version": __version__,
                "informationUri": "https://github.com/tosguard/tosguard",
                "rules": [rules[k] for k in sorted(rules)],
            }
        },
        "results": results,
        "properties": properties,
    }
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _sarif_suppression(acceptance: dict) -> dict:
    """An accepted risk as SARIF's suppression (§3.35): ``external`` (kept in a baseline file,
    not in the manifest), ``accepted``, with the reason as its justification."""
    entry = acceptance["baseline"]
    return {
        "kind": "external",
        "status": "accepted",
        "justification": printable(acceptance["reason"]),
        "location": {
            "physicalLocation": {
                "artifactLocation": {"uri": entry["file"]},
                "region": {"startLine": max(entry["line"], 1)},
            }
        },
        "properties": {
            "accepted_by": printable(acceptance["accepted_by"]),
            "expires": acceptance["expires"],
        },
    }


def _sarif_rule(f: Finding) -> dict:
    cite = f.citation
    if cite is None:  # a notice: it rests on the policy set as a whole, not on one clause
        return {
            "id": f.rule,
            "name": f.clause,
            "shortDescription": {"text": printable(f"tosguard: {f.clause}")},
            "help": {"text": printable(f.remedy)},
            "properties": {"topic": f.topic, "provider": f.provider},
        }
    return {
        "id": f.rule,
        "name": f.clause,
        "shortDescription": {"text": printable(f"{cite['document']}, {cite['section']}")},
        "fullDescription": {"text": printable(cite["quote"])},
        "helpUri": cite["url"],
        "help": {"text": printable(f.remedy or cite["quote"])},
        "properties": {"topic": f.topic, "provider": f.provider, "effective": cite["effective"]},
    }


def _sarif_result(f: Finding, rule_id: str) -> dict:
    return {
        "ruleId": rule_id,
        "level": SARIF_LEVELS.get(f.severity, "note") if f.status == "violated" else "warning",
        "kind": "fail" if f.status == "violated" else "review",
        "message": {"text": printable(f.message)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": f.location["file"]},
                    "region": {
                        "startLine": max(f.location["line"], 1),
                        "startColumn": max(f.location["column"], 1),
                    },
                },
                "logicalLocations": [{"fullyQualifiedName": f.subject}],
            }
        ],
        "properties": {
            "status": f.status,
            "severity": f.severity,
            "category": f.category,
            "missing": list(f.missing),
        },
    }


# ---- JUnit ------------------------------------------------------------------------------------
def render_junit(reports: list[Report]) -> str:
    """A test suite per manifest and a test case per finding: violated error-severity
    findings fail, undetermined ones are errors (a fact is missing), the others pass;
    warnings pass with their text as the case's output, as they do not change the verdict.
    The suite's properties record the verdict, the summary's totals, the tosguard version
    and the policy-set revision."""
    suites = []
    for report in reports:
        cases = [_junit_case(f) for f in report.findings]
        failures = sum(f.category == "violated" for f in report.findings)
        errors = sum(f.category == "undetermined" for f in report.findings)
        skipped = sum(f.category == ACCEPTED for f in report.findings)
        properties = [
            ("verdict", report.verdict),
            *((f"summary.{key}", str(value)) for key, value in _totals(report).items()),
            ("tosguard_version", report.tosguard_version),
            ("policy_set_revision", report.policy_revision),
        ]
        suites.append(
            f'  <testsuite name={quoteattr(report.manifest)} tests="{len(cases)}" '
            f'failures="{failures}" errors="{errors}" '
            + (f'skipped="{skipped}" ' if skipped else "")
            + f'timestamp="{report.as_of.isoformat()}T00:00:00">\n'
            "    <properties>\n"
            + "".join(
                f'      <property name="{name}" value={quoteattr(value)}/>\n'
                for name, value in properties
            )
            + "    </properties>\n"
            + "".join(cases)
            + "  </testsuite>\n"
        )
    return printable(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="tosguard">\n'
        + "".join(suites)
        + "</testsuites>\n",
        layout=True,
    )


def _junit_case(f: Finding) -> str:
    name = quoteattr(f"{f.rule} {f.subject}")
    head = f"    <testcase classname={quoteattr(f.policy or 'tosguard')} name={name}"
    cite = f.citation
    cited = (
        ""
        if cite is None
        else f"\n{cite['document']}, {cite['section']} ({cite['effective']}): “{cite['quote']}”"
        f"\n{cite['url']}"
    )
    detail = escape(
        f"{f.message}{cited}"
        + (f"\nremedy: {f.remedy}" if f.remedy else "")
        + (f"\nmissing: {', '.join(f.missing)}" if f.missing else "")
    )
    if f.category == ACCEPTED:
        accepted = acceptance_words(f.acceptance or {})
        return f"{head}>\n      <skipped message={quoteattr(accepted)}/>\n    </testcase>\n"
    if f.category == "warnings":
        return (
            f"{head}>\n      <system-out>warning ({f.status}): {detail}</system-out>\n"
            "    </testcase>\n"
        )
    if f.status == "violated":
        return (
            f'{head}>\n      <failure message={quoteattr(f.message)} type="{f.severity}">'
            f"{detail}</failure>\n    </testcase>\n"
        )
    if f.status == "undetermined":
        return (
            f'{head}>\n      <error message={quoteattr(f.message)} type="undetermined">'
            f"{detail}</error>\n    </testcase>\n"
        )
    return f"{head}/>\n"
