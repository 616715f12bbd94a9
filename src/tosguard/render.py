"""Text rendering of reports, for people: verdict first, then findings grouped by status, each
with the manifest line it is about, the cited words and the remedy.

``style`` is a function ``(text, **click-style-options) -> text``; the CLI passes
``click.style`` on a terminal and an identity function otherwise, so the golden files stay
free of escape codes. Text from the manifest and the policies (names, messages, the manifest
line) is escaped (:func:`~tosguard.safetext.printable`) before it is styled, so that it cannot
act on the terminal.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from .report import Finding, Report
from .safetext import printable

Style = Callable[..., str]

VERDICTS = {
    "compliant": ("COMPLIANT", "green", "no clause is violated or undetermined"),
    "non_compliant": ("NON-COMPLIANT", "red", "at least one clause is violated"),
    "undetermined": ("UNDETERMINED", "yellow",
                     "the manifest does not declare every fact a clause needs"),
}
GROUPS = (
    ("violated", "Violated", "red", "✗"),
    ("undetermined", "Undetermined", "yellow", "?"),
    ("satisfied", "Satisfied", "green", "✓"),
    ("not_applicable", "Not applicable", "bright_black", "·"),
)
WIDTH = 88


def plain(text: str, **_: object) -> str:
    return text


def render_text(report: Report, source_line: Callable[[int], str] | None = None,
                sources: list | None = None, style: Style = plain) -> str:
    """``source_line(n)`` gives line ``n`` of the manifest (e.g. ``LoadedManifest.source_line``)
    so each finding can show the line it is about."""
    lines: list[str] = []
    label, colour, why = VERDICTS[report.verdict]
    lines.append(style(f"{label}", fg=colour, bold=True) + f"  {printable(report.manifest)}"
                 f"  (as of {report.as_of.isoformat()})")
    lines.append(f"  {why}")
    summary = report.summary
    lines.append("  " + ", ".join(f"{summary[key]} {key.replace('_', ' ')}"
                                  for key in ("violated", "undetermined", "satisfied",
                                              "not_applicable")))
    shown_line = _ShownLines(source_line)
    for status, title, group_colour, mark in GROUPS:
        group = [f for f in report.findings if f.status == status]
        if not group:
            continue
        lines.append("")
        lines.append(style(f"{title} ({len(group)})", fg=group_colour, bold=True))
        for finding in group:
            lines.append("")
            lines.extend(_finding_lines(finding, mark, group_colour, shown_line, sources,
                                        style))
    if not report.findings:
        lines.append("")
        lines.append("No findings. Use --all to list satisfied and not-applicable clauses.")
    return "\n".join(lines) + "\n"


def _finding_lines(f: Finding, mark: str, colour: str, shown_line: _ShownLines, sources,
                   style: Style) -> list[str]:
    p = printable  # policy and clause ids, severities and topics are checked words: not escaped
    head = (style(mark, fg=colour, bold=True) + " " + style(f.rule, bold=True)
            + f"  [{f.severity}, {f.topic}]")
    out = [head]
    out += _wrap(p(f.message), "    ")
    where = f"{f.location['file']}:{f.location['line']}:{f.location['column']}"
    out.append("    " + style("at ", fg="bright_black") + p(f"{_subject_name(f.subject, sources)}"
               f" ({where})"))
    text = shown_line(f.location["line"])
    if text:
        number = str(f.location["line"])
        out.append(style(f"      {number} | ", fg="bright_black") + text)
    if f.missing:
        out.append("    " + style("missing: ", fg="yellow") + p(", ".join(f.missing)))
    cite = f.citation
    if cite is not None:
        out.append("    " + style("cites ", fg="bright_black") + p(f"{cite['document']}, "
                   f"{cite['section']} (effective {cite['effective']})"))
        out += _wrap(p(f"“{cite['quote']}”"), "      ", style=lambda t: style(t, italic=True))
        out.append("      " + style(p(cite["url"]), fg="blue"))
    if f.remedy:
        out += _wrap(p(f"remedy: {f.remedy}"), "    ",
                     first_style=lambda t: style(t, fg="cyan"))
    if f.policy_location is not None:
        out.append("    " + style(p(f"policy {f.policy_location['file']}:"
                                    f"{f.policy_location['line']}"), fg="bright_black"))
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
    return {"/model": "the trained model", "/organization": "the organization"}.get(subject,
                                                                                   subject)


def _wrap(text: str, indent: str, style: Style | None = None,
          first_style: Style | None = None) -> list[str]:
    wrapped = textwrap.wrap(text, width=WIDTH, initial_indent=indent, subsequent_indent=indent,
                            break_long_words=False, break_on_hyphens=False) or [indent]
    if style:
        wrapped = [indent + style(line[len(indent):]) for line in wrapped]
    if first_style and wrapped:
        first = wrapped[0][len(indent):]
        head, _, rest = first.partition(" ")
        wrapped[0] = indent + first_style(head) + (" " + rest if rest else "")
    return wrapped
