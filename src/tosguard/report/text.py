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

import functools
import textwrap
from collections.abc import Callable, Iterable, Iterator

from ..safetext import printable
from .context import policy_place
from .model import Finding, Report, category_of, summary_categories

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
#: A clause that fires on more subjects than this in one section is printed once (grouped).
GROUP_ABOVE = 10


def plain(text: str, **_: object) -> str:
    return text


def render_text(
    report: Report,
    source_line: Callable[[int], str] | None = None,
    sources: list | None = None,
    style: Style = plain,
    group_above: int = GROUP_ABOVE,
) -> str:
    """``source_line(n)`` gives line ``n`` of the manifest (e.g. ``LoadedManifest.source_line``)
    so each finding can show the line it is about."""
    return "".join(text_chunks(report, source_line, sources, style, group_above))


def text_chunks(
    report: Report,
    source_line: Callable[[int], str] | None = None,
    sources: list | None = None,
    style: Style = plain,
    group_above: int = GROUP_ABOVE,
) -> Iterator[str]:
    """The text of :func:`render_text` in pieces (a line or a finding at a time), to be
    written as it is made. A clause that fires on more than ``group_above`` subjects in one
    section is printed once, with the list of its subjects (see :func:`_group_lines`)."""
    lines: list[str] = []
    label, colour, why = VERDICTS[report.verdict]
    lines.append(
        style(f"{label}", fg=colour, bold=True) + f"  {printable(report.manifest)}"
        f"  (as of {report.as_of.isoformat()})"
    )
    summary = report.summary
    lines.append(f"  {why}")
    lines.extend(summary_lines(summary))
    yield "\n".join(lines) + "\n"
    blocks = _Blocks(style, _ShownLines(source_line), sources)
    sections = by_category(report.findings)
    for category, title, group_colour, mark in GROUPS:
        group = sections.get(category)
        if not group:
            continue
        heading = section_title(title, len(group), summary.get(category))
        heading += HEADING_NOTES.get(category, "")
        yield "\n" + style(heading, fg=group_colour, bold=True) + "\n"
        for item in grouped(group, group_above):
            if isinstance(item, list):
                yield "\n" + blocks.group(item, mark, group_colour)
            else:
                yield "\n" + blocks.finding(item, mark, group_colour)
    tail = []
    if not report.findings:
        tail.append("")
        tail.append("No findings.")  # what --all would add is said in the summary, if any
    tail.append("")
    tail.append(style(provenance(report), fg="bright_black"))
    yield "\n".join(tail) + "\n"


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


GroupKey = tuple


def group_key(f: Finding) -> GroupKey:
    """What the findings of one group share: everything but the subject, its place and the
    words that name it (the message, the facts missing, and the remedy where it names them:
    an identity notice tells each source what to declare at its own paths)."""
    cite = f.citation
    where = f.policy_location
    return (
        f.rule,
        f.status,
        f.severity,
        f.topic,
        None if f.acceptance is None else acceptance_words(f.acceptance),
        None if cite is None else tuple(cite.values()),
        None if where is None else tuple(where.values()),
    )


def by_category(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """The findings of each summary category (a section), in their order."""
    sections: dict[str, list[Finding]] = {}
    for f in findings:
        sections.setdefault(category_of(f.status, f.severity), []).append(f)
    return sections


def grouped(findings: list[Finding], group_above: int) -> Iterator[Finding | list[Finding]]:
    """The findings in order, except that the findings of a group of more than
    ``group_above`` (alike but for their subjects, see :func:`group_key`) come once, as the
    list of them, where the first of them stands."""
    if len(findings) <= group_above:
        yield from findings
        return
    keys = [group_key(f) for f in findings]
    groups: dict[GroupKey, list[Finding]] = {}
    for key, f in zip(keys, findings, strict=True):
        groups.setdefault(key, []).append(f)
    for key, f in zip(keys, findings, strict=True):
        members = groups[key]
        if len(members) <= group_above:
            yield f
        elif members[0] is f:
            yield members


class _Blocks:
    """The text of one finding, or of a group of them. The parts that come from the clause
    (its head line, message, citation, quote and remedy) are the same for many findings: each
    is wrapped and styled once per report."""

    def __init__(self, style: Style, shown_line: _ShownLines, sources):
        self.style, self.shown_line, self.sources = style, shown_line, sources
        self.heads: dict[tuple, str] = {}
        self.messages: dict[str, str] = {}
        self.tails: dict[tuple, str] = {}

    def finding(self, f: Finding, mark: str, colour: str) -> str:
        style, p = self.style, printable
        out = [self._head(f, mark, colour), self._message(f.message)]
        location = f.location
        where = f"{location['file']}:{location['line']}:{location['column']}"
        out.append(
            "    "
            + style("at ", fg="bright_black")
            + p(f"{_subject_name(f.subject, self.sources)} ({where})")
            + "\n"
        )
        text = self.shown_line(location["line"])
        if text:
            out.append(style(f"      {location['line']} | ", fg="bright_black") + text + "\n")
        if f.missing:
            out.append(self._missing(f.missing))
        out.append(self._tail(f))
        return "".join(out)

    def group(self, members: list[Finding], mark: str, colour: str) -> str:
        """One clause that fires on many subjects: its head line and message once (the first
        subject's message, said to be one of many when the others differ), then how many
        subjects, each named with its line (``id:line``), wrapped, then the citation once."""
        style, p = self.style, printable
        first = members[0]
        out = [self._head(first, mark, colour)]
        alike = all(f.message == first.message for f in members)
        name = _subject_name(first.subject, self.sources)
        if alike:
            out.append(self._message(first.message))
        else:
            out.append(
                self._message(
                    f"{first.message} (said of {name}; each subject's own words are in "
                    "`--format json`)"
                )
            )
        files = {f.location["file"] for f in members}
        single = files.pop() if len(files) == 1 else None
        noun = "sources" if all(f.subject.startswith("/sources/") for f in members) else "subjects"
        where = f" in {single}" if single is not None else ""
        out.append(
            "    "
            + style("at ", fg="bright_black")
            + p(f"{len(members):,} {noun} (id:line{where}):")
            + "\n"
        )
        names = ", ".join(self._short_names(members, single is None))
        out.extend(line + "\n" for line in _wrap(p(names), "      "))
        if first.missing and all(f.missing == first.missing for f in members):
            out.append(self._missing(first.missing))
        if all(f.open_remedy == first.open_remedy for f in members):
            out.append(self._tail(first))
        else:  # each names its own subject's paths: the first's, said to be its
            out.append("".join(line + "\n" for line in self._tail_lines(first, said_of=name)))
        return "".join(out)

    def _short_names(self, members: list[Finding], with_file: bool) -> list[str]:
        """Each subject as ``id:line`` (``id:file:line`` ``with_file``): a source by its id."""
        ids = self.ids
        count = len(ids)
        names = []
        for f in members:
            subject = name = f.subject
            if count and subject.startswith("/sources/"):
                index = int(subject.split("/", 3)[2])
                if index < count:
                    name = ids[index]
            location = f.location
            if with_file:
                names.append(f"{name}:{location['file']}:{location['line']}")
            else:
                names.append(f"{name}:{location['line']}")
        return names

    @functools.cached_property
    def ids(self) -> list[str]:
        """The sources' ids, by index (none without the sources)."""
        return [source.id for source in self.sources] if self.sources is not None else []

    def _head(self, f: Finding, mark: str, colour: str) -> str:
        if f.status == "undetermined":
            mark = "?"
        key = (mark, colour, f.rule, f.severity, f.topic)
        text = self.heads.get(key)
        if text is None:
            style = self.style
            text = self.heads[key] = (
                style(mark, fg=colour, bold=True)
                + " "
                + style(f.rule, bold=True)
                + f"  [{f.severity}, {f.topic}]\n"
            )
        return text

    def _message(self, message: str) -> str:
        text = self.messages.get(message)
        if text is None:
            text = self.messages[message] = "".join(
                line + "\n" for line in _wrap(printable(message), "    ")
            )
        return text

    def _missing(self, missing: tuple[str, ...]) -> str:
        return "    " + self.style("missing: ", fg="yellow") + printable(", ".join(missing)) + "\n"

    def _tail(self, f: Finding) -> str:
        cite, where = f.citation, f.policy_location
        key = (
            f.open_remedy,
            None if f.acceptance is None else acceptance_words(f.acceptance),
            None if cite is None else tuple(cite.values()),
            None if where is None else tuple(where.values()),
        )
        text = self.tails.get(key)
        if text is None:
            text = self.tails[key] = "".join(line + "\n" for line in self._tail_lines(f))
        return text

    def _tail_lines(self, f: Finding, said_of: str | None = None) -> list[str]:
        style, p = self.style, printable
        out: list[str] = []
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
            head = "remedy:" if said_of is None else f"remedy (said of {said_of}):"
            out += _wrap(
                p(f"{head} {f.open_remedy}"),
                "    ",
                first_style=lambda t: style(t, fg="cyan"),
                first_words=head.count(" ") + 1,
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
    text: str,
    indent: str,
    style: Style | None = None,
    first_style: Style | None = None,
    first_words: int = 1,
) -> list[str]:
    """``text`` wrapped at :data:`WIDTH` with ``indent``; ``style`` styles each line's text,
    ``first_style`` the first ``first_words`` words of the first line (``remedy:``)."""
    wrapped = wrap_words(text, indent) or [indent]
    if style:
        wrapped = [indent + style(line[len(indent) :]) for line in wrapped]
    if first_style and wrapped:
        words = wrapped[0][len(indent) :].split(" ", first_words)
        head, rest = " ".join(words[:first_words]), " ".join(words[first_words:])
        wrapped[0] = indent + first_style(head) + (" " + rest if rest else "")
    return wrapped


def wrap_words(text: str, indent: str, width: int = WIDTH) -> list[str]:
    """``textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent,
    break_long_words=False, break_on_hyphens=False)``, line for line.

    A large report wraps a list of thousands of subjects and a message per notice. Where the
    words are separated by single spaces (nearly all text, once escaped for printing), each
    line ends at the last space that leaves it short enough (or, for a word longer than a
    line, at the next space), found with ``str.rfind``: several times faster than textwrap's
    list of chunks. Anything else (a tab, a newline, a run of spaces, a space at either end)
    goes to textwrap itself."""
    room = width - len(indent)
    if (
        room < 1  # no room for a word: textwrap puts one on each line
        or not text
        or text[0] == " "
        or text[-1] == " "
        or "  " in text
        or not text.isprintable()
    ):
        return textwrap.wrap(
            text,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    lines: list[str] = []
    start, end = 0, len(text)
    while end - start > room:
        cut = text.rfind(" ", start, start + room + 1)
        if cut < 0:  # the first word is longer than a line: it has the line to itself
            cut = text.find(" ", start + room + 1)
            if cut < 0:
                break
        lines.append(indent + text[start:cut])
        start = cut + 1
    lines.append(indent + text[start:])
    return lines
