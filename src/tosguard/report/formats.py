"""Report renderers for tools: Markdown (pull-request comments), SARIF 2.1.0 (code-scanning
UIs, :mod:`.sarif`), JUnit XML (CI test reports, :mod:`.junit`) and GitHub workflow commands
(annotations, :mod:`.github`). Each is deterministic, like the JSON report.

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

from collections.abc import Sequence
from dataclasses import replace

from ..safetext import printable
from .context import NO_CONTEXT, ManifestContext
from .junit import Case, Document, Suite, write_junit
from .model import ACCEPTED, Finding, Report, fails_run, summary_categories
from .sarif import render_sarif
from .text import (
    GROUP_ABOVE,
    GROUPS,
    HEADING_NOTES,
    acceptance_words,
    by_category,
    count_words,
    grouped,
    section_title,
    unlisted_words,
)

__all__ = [
    "MEDIA_TYPES",
    "render",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_sarif",
]

CATEGORY_TITLES = {category: title for category, title, _, _ in GROUPS}
#: The Markdown sections shown open; the others are collapsed (`<details>`).
OPEN_SECTIONS = ("violated", "undetermined")


# ---- Markdown ---------------------------------------------------------------------------------
def render_markdown(report: Report, context: ManifestContext = NO_CONTEXT) -> str:
    """A pull-request comment: the verdict and totals, then a collapsible section per
    category (violated and undetermined open, the others closed) naming subjects by their
    source ids."""
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
    sections = by_category(report.findings)
    for category, title in CATEGORY_TITLES.items():
        group = sections.get(category)
        if not group:
            continue
        heading = section_title(title, len(group), summary.get(category))
        heading += HEADING_NOTES.get(category, "")
        lines += [
            "<details open>" if category in OPEN_SECTIONS else "<details>",
            f"<summary><b>{heading}</b></summary>",
            "",
            "| clause | severity | subject | finding | cites |",
            "|---|---|---|---|---|",
        ]
        shown = []  # a finding, or the first of a group printed as one row
        for item in grouped(group, GROUP_ABOVE):
            if isinstance(item, list):
                lines.append(_markdown_group_row(item, context))
                shown.append(item[0])
            else:
                lines.append(_markdown_row(item, context))
                shown.append(item)
        lines.append("")
        for f in shown:
            if f.acceptance is not None:
                lines.append(
                    f"- **{f.rule}** ({markdown_cell(context.subject_name(f.subject))}): "
                    f"{markdown_cell(acceptance_words(f.acceptance))}"
                )
            elif f.open_remedy:
                lines.append(
                    f"- **{f.rule}** ({markdown_cell(context.subject_name(f.subject))}): "
                    f"{markdown_cell(f.open_remedy)}"
                )
        lines += ["", "</details>", ""]
    if not report.findings:
        lines += ["No findings.", ""]
    lines.append(
        f"<sub>tosguard {report.tosguard_version}, policy set revision "
        f"`{report.policy_revision}`</sub>"
    )
    return printable("\n".join(lines).rstrip() + "\n", layout=True)


def _markdown_row(
    f: Finding, context: ManifestContext, subject: str = "", said: str = "", missing: bool = True
) -> str:
    """A finding's row; ``subject`` (a cell) and ``said`` (words after the message) for a row
    that stands for many subjects, and ``missing``: whether to name the facts missing (a row
    for many names them only when they are the same for all, as the text report does)."""
    cite = f.citation
    where = f"{f.location['file']}:{f.location['line']}"
    source = (
        "—"
        if cite is None
        else f"[{markdown_cell(cite['document'])}, {markdown_cell(cite['section'])}]"
        f"({cite['url']}) ({cite['effective']}): “{markdown_cell(cite['quote'])}”"
    )
    named = f" Missing: {', '.join(f'`{m}`' for m in f.missing)}." if missing and f.missing else ""
    subject = subject or f"{markdown_cell(context.subject_name(f.subject))} ({where})"
    return (
        f"| `{f.rule}` | {f.severity} | {subject} | "
        f"{markdown_cell(f.message)}{said}{named} | {source} |"
    )


def _markdown_group_row(members: list[Finding], context: ManifestContext) -> str:
    """One row for a clause that fires on many subjects (as the text report groups them):
    the first subject's finding, then how many subjects, each as ``id:line``."""
    first = members[0]
    names = ", ".join(
        f"{context.source_id(f.subject) or f.subject}:{f.location['line']}" for f in members
    )
    alike = all(f.message == first.message for f in members)
    said = "" if alike else " (said of the first; `--format json` has each subject's words)"
    subject = f"{len(members):,} subjects of {first.location['file']}: {markdown_cell(names)}"
    same = all(f.missing == first.missing for f in members)
    return _markdown_row(first, context, subject, said, missing=same)


def markdown_cell(text: str) -> str:
    """Text in a Markdown table cell or list item: on one line, ``|`` escaped, and no raw
    HTML (a quote's ``<ok>`` would be read as a tag, a value could close the ``<details>``)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


# ---- JUnit ------------------------------------------------------------------------------------
def render_junit(
    reports: Sequence[Report],
    contexts: Sequence[ManifestContext] | None = None,
    fail_on: str = "undetermined",
) -> str:
    """A test suite per manifest and a test case per finding, at the manifest line it is
    about. A case fails where its finding fails the run under ``fail_on`` (``--fail-on``,
    :func:`~.model.fails_run`): by default violated and undetermined error-severity findings
    (the failure's ``type`` is the severity, or ``undetermined``: a fact is missing); with
    ``warning`` warnings too (type ``warning``); with ``violated`` undetermined ones pass.
    A case that passes with something to say has it as its output. The suite's properties
    record the verdict, the summary's totals, the tosguard version and the policy-set
    revision."""
    contexts = list(contexts or ()) + [NO_CONTEXT] * (len(reports) - len(contexts or ()))
    suites = []
    for report, context in zip(reports, contexts, strict=True):
        properties = [
            ("verdict", report.verdict),
            *(
                (f"summary.{key}", str(report.summary.get(key, 0)))
                for key in summary_categories(report.summary)
            ),
            ("tosguard_version", report.tosguard_version),
            ("policy_set_revision", report.policy_revision),
        ]
        suites.append(
            Suite(
                report.manifest,
                [_junit_case(f, context, fail_on) for f in report.findings],
                properties,
                timestamp=f"{report.as_of.isoformat()}T00:00:00",
                file=report.manifest,
            )
        )
    return write_junit(Document("tosguard", suites))


def _junit_case(f: Finding, context: ManifestContext, fail_on: str) -> Case:
    cite = f.citation
    cited = (
        ""
        if cite is None
        else f"\n{cite['document']}, {cite['section']} ({cite['effective']}): “{cite['quote']}”"
        f"\n{cite['url']}"
    )
    detail = (
        f"{f.message}{cited}"
        + (f"\nremedy: {f.open_remedy}" if f.open_remedy else "")
        + (f"\nmissing: {', '.join(f.missing)}" if f.missing else "")
    )
    case = Case(
        classname=f.policy or "tosguard",
        name=f"{f.rule} {context.subject_name(f.subject)}",
        file=f.location["file"],
        line=f.location["line"],
    )
    if f.category == ACCEPTED:
        return replace(case, skipped=acceptance_words(f.acceptance or {}))
    if not fails_run(f, fail_on):
        if f.category == "warnings":
            return replace(case, output=f"warning ({f.status}): {detail}")
        if f.category == "undetermined":
            return replace(case, output=f"undetermined: {detail}")
        return case
    if f.category == "warnings":
        return replace(case, failure=("warning", f.message, detail))
    if f.category == "violated":
        return replace(case, failure=(f.severity, f.message, detail))
    return replace(case, failure=("undetermined", f.message, detail))


# ---- the registry -----------------------------------------------------------------------------
#: Every report format for a whole run (text, which the CLI writes per manifest with the
#: terminal's styles, is rendered by :mod:`.text`), with its media type. The service offers
#: all but ``github``, which only a workflow step reads (:mod:`tosguard.service.negotiate`).
MEDIA_TYPES = {
    "json": "application/json",
    "sarif": "application/sarif+json",
    "junit": "application/xml",
    "markdown": "text/markdown; charset=utf-8",
    "github": "text/plain; charset=utf-8",
}


def render_json(reports: Sequence[Report]) -> str:
    """One report's JSON, or a list of several (the CLI's and the service's bytes)."""
    if len(reports) == 1:
        return reports[0].to_json()
    return "[\n  " + ",\n  ".join(r.json_text(1) for r in reports) + "\n]\n"


def render(
    fmt: str,
    reports: Sequence[Report],
    contexts: Sequence[ManifestContext] | None = None,
    *,
    sarif_max_results: int | None = None,
    fail_on: str = "undetermined",
) -> str:
    """``reports`` in format ``fmt`` (a key of :data:`MEDIA_TYPES`); ``fail_on`` decides
    which JUnit cases fail (see :func:`render_junit`)."""
    if fmt == "json":
        return render_json(reports)
    if fmt == "markdown":
        contexts = list(contexts or ()) + [NO_CONTEXT] * (len(reports) - len(contexts or ()))
        return "\n".join(render_markdown(r, c) for r, c in zip(reports, contexts, strict=True))
    if fmt == "sarif":
        if sarif_max_results is None:
            return render_sarif(reports, contexts)
        return render_sarif(reports, contexts, sarif_max_results)
    if fmt == "junit":
        return render_junit(reports, contexts, fail_on)
    if fmt == "github":
        from .github import render_github

        return render_github(reports)
    raise ValueError(f"unknown report format {fmt!r}")
