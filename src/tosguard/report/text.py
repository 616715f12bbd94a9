"""Text rendering of reports, for people: verdict first, then the summary, then findings
grouped by category (violated, undetermined, warnings, satisfied, not applicable: the
summary's keys), each with the manifest line it is about, the cited words and the remedy; last,
the tosguard version and policy-set revision that produced it.

Every count printed is one the report holds: a section's title gives how many findings it
lists and, when ``--all`` was not given and fewer are listed than counted, how many there are.

``style`` is a function ``(text, **click-style-options) -> text``; the CLI passes
``click.style`` on a terminal and an identity function otherwise, so the golden files stay
free of escape codes. Text from the manifest and the policies (names, messages, the manifest
line) is escaped (:func:`~tosguard.safetext.printable`) before it is styled, so that it cannot
act on the terminal.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from ..safetext import printable
from .context import policy_place
from .model import Finding, Report, summary_categories

Style = Callable[..., str]

VERDICTS = {
    "compliant": ("COMPLIANT", "green", "no error-severity clause is violated or undetermined"),
    "non_compliant": ("NON-COMPLIANT", "red", "at least one error-severity clause is violated"),
    "undetermined": (
        "UNDETERMINED",
        "yellow",
        "the manifest does not declare every fact an error-severity clause needs",
    ),
}
#: category (a summary key), section title, colour, mark
GROUPS = (
    ("violated", "Violated", "red", "✗"),
    ("undetermined", "Undetermined", "yellow", "?"),
    ("warnings", "Warnings", "yellow", "!"),
    ("accepted", "Accepted", "bright_black", "~"),
    ("satisfied", "Satisfied", "green", "✓"),
    ("not_applicable", "Not applicable", "bright_black", "·"),
)
WIDTH = 88
#: What a section's title adds about the findings it lists.
HEADING_NOTES = {
    "warnings": ": advisory, they do not change the verdict",
    "accepted": ": risks accepted in the baseline, they do not change the verdict",
}


def plain(text: str, **_: object) -> str:
    return text


def render_text(
    report: Report,
    source_line: Callable[[int], str] | None = None,
    sources: list | None = None,
    style: Style = plain,
) -> str:
    """``source_line(n)`` gives line ``n`` of the manifest (e.g. ``LoadedManifest.source_line``)
    so each finding can show the line it is about."""
    lines: list[str] = []
    label, colour, why = VERDICTS[report.verdict]
    lines.append(
        style(f"{label}", fg=colour, bold=True) + f"  {printable(report.manifest)}"
        f"  (as of {report.as_of.isoformat()})"
    )
    summary = report.summary
    lines.append(f"  {why}")
    lines.extend(summary_lines(summary))
    shown_line = _ShownLines(source_line)
    for category, title, group_colour, mark in GROUPS:
        group = [f for f in report.findings if f.category == category]
        if not group:
            continue
        lines.append("")
        heading = section_title(title, len(group), summary.get(category))
        heading += HEADING_NOTES.get(category, "")
        lines.append(style(heading, fg=group_colour, bold=True))
        for finding in group:
            lines.append("")
            lines.extend(
                _finding_lines(
                    finding,
                    mark if finding.status != "undetermined" else "?",
                    group_colour,
                    shown_line,
                    sources,
                    style,
                )
            )
    if not report.findings:
        lines.append("")
        lines.append("No findings. Use --all to list satisfied and not-applicable clauses.")
    lines.append("")
    lines.append(style(provenance(report), fg="bright_black"))
    return "\n".join(lines) + "\n"


def count_words(summary: dict) -> list[str]:
    """The summary's totals in words, in the order of the sections."""
    words = []
    for category in summary_categories(summary):
        total = summary.get(category, 0)
        if category == "warnings":
            words.append(f"{total} warning{'' if total == 1 else 's'}")
        else:
            words.append(f"{total} {category.replace('_', ' ')}")
    return words


def unlisted_words(summary: dict) -> list[str]:
    """How many results of each category the summary counts but the findings do not list
    (``9 satisfied``), for the categories where any are left out (none with ``--all``)."""
    listed = summary.get("listed", {})
    return [
        f"{summary.get(c, 0) - listed.get(c, 0)} {c.replace('_', ' ')}"
        for c in summary_categories(summary)
        if listed.get(c, 0) != summary.get(c, 0)
    ]


def summary_lines(summary: dict) -> list[str]:
    """The totals, then (when not every result is listed) how many of them are not."""
    lines = ["  " + ", ".join(count_words(summary))]
    unlisted = unlisted_words(summary)
    if unlisted:
        lines.append(f"  not listed: {', '.join(unlisted)} (--all lists every result)")
    return lines


def section_title(title: str, shown: int, total: int | None) -> str:
    """``Satisfied (2)``, or ``Satisfied (2 of 11)`` when the summary counts more."""
    if total is None or total == shown:
        return f"{title} ({shown})"
    return f"{title} ({shown} of {total})"


def acceptance_words(acceptance: dict) -> str:
    """An accepted finding's acceptance in words: what it was, who accepted it until when,
    why, and the baseline entry."""
    entry = acceptance["baseline"]
    return (
        f"accepted ({acceptance['status']}) by {acceptance['accepted_by']} until "
        f"{acceptance['expires']}: {acceptance['reason']} ({entry['file']}:{entry['line']})"
    )


def provenance(report: Report) -> str:
    """What produced the report: the tosguard version and the policy-set revision."""
    return (
        f"tosguard {report.tosguard_version}, policy set revision "
        f"{printable(report.policy_revision)}"
    )


def _finding_lines(
    f: Finding, mark: str, colour: str, shown_line: _ShownLines, sources, style: Style
) -> list[str]:
    p = printable  # policy and clause ids, severities and topics are checked words: not escaped
    head = (
        style(mark, fg=colour, bold=True)
        + " "
        + style(f.rule, bold=True)
        + f"  [{f.severity}, {f.topic}]"
    )
    out = [head]
    out += _wrap(p(f.message), "    ")
    where = f"{f.location['file']}:{f.location['line']}:{f.location['column']}"
    out.append(
        "    "
        + style("at ", fg="bright_black")
        + p(f"{_subject_name(f.subject, sources)} ({where})")
    )
    text = shown_line(f.location["line"])
    if text:
        number = str(f.location["line"])
        out.append(style(f"      {number} | ", fg="bright_black") + text)
    if f.missing:
        out.append("    " + style("missing: ", fg="yellow") + p(", ".join(f.missing)))
    cite = f.citation
    if cite is not None:
        out.append(
            "    "
            + style("cites ", fg="bright_black")
            + p(f"{cite['document']}, {cite['section']} (effective {cite['effective']})")
        )
        out += _wrap(p(f"“{cite['quote']}”"), "      ", style=lambda t: style(t, italic=True))
        out.append("      " + style(p(cite["url"]), fg="blue"))
    if f.open_remedy:
        out += _wrap(
            p(f"remedy: {f.open_remedy}"), "    ", first_style=lambda t: style(t, fg="cyan")
        )
    if f.acceptance is not None:
        out += _wrap(p(acceptance_words(f.acceptance)), "    ")
    if f.policy_location is not None:
        out.append(
            "    "
            + style(
                p(f"policy {policy_place(f.policy_location)}"),
                fg="bright_black",
            )
        )
    return out


class _ShownLines:
    """The manifest line each finding shows: clipped, escaped, and worked out once per line
    (a manifest written on one line has every finding on it)."""

    def __init__(self, source_line: Callable[[int], str] | None):
        self.source_line = source_line
        self.shown: dict[int, str] = {}

    def __call__(self, number: int) -> str:
        text = self.shown.get(number)
        if text is None:
            raw = self.source_line(number) if self.source_line else ""
            text = self.shown[number] = printable(_clip(raw.rstrip())) if raw.strip() else ""
        return text


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _subject_name(subject: str, sources) -> str:
    if subject.startswith("/sources/") and sources is not None:
        index = int(subject.split("/")[2])
        if index < len(sources):
            return f"source `{sources[index].id}`"
    return {"/model": "the trained model", "/organization": "the organization"}.get(
        subject, subject
    )


def _wrap(
    text: str, indent: str, style: Style | None = None, first_style: Style | None = None
) -> list[str]:
    wrapped = textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]
    if style:
        wrapped = [indent + style(line[len(indent) :]) for line in wrapped]
    if first_style and wrapped:
        first = wrapped[0][len(indent) :]
        head, _, rest = first.partition(" ")
        wrapped[0] = indent + first_style(head) + (" " + rest if rest else "")
    return wrapped
