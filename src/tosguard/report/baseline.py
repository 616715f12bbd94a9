"""Accepted risks: a baseline file whose entries turn the findings they name into ``accepted``.

A baseline is YAML (or JSON)::

    tosguard-baseline: 1
    accepted:
      - clause: meta-llama-3.1-license/model-name-prefix   # the finding's rule, POLICY/CLAUSE
        manifest: pipelines/chat.yaml   # optional: relative to the baseline file's directory
        subject: math-traces            # optional: a source id, /sources/N, /model, /organization
        reason: the model is renamed before release (JIRA-123)
        accepted_by: jane@acme.example
        expires: 2027-03-01             # accepted until the day before

An entry accepts every violated, undetermined or warning finding of its clause (and subject,
and manifest, when given). An accepted finding keeps its place in every format, marked as
accepted, and counts toward neither the verdict nor ``--fail-on``. The check fails when an
entry has expired (on or after ``expires``, as of the check's date; it then accepts nothing)
or accepts no finding of the manifests checked (a stale entry: the risk is gone, or the entry
names it wrongly). An entry whose ``manifest`` was not checked in this run is left alone.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from ..errors import Diagnostic, ManifestError, Span, TosguardError, did_you_mean, line_of
from .model import ALWAYS_LISTED, Report, with_acceptances

BASELINE_FORMAT = 1
REQUIRED = ("clause", "reason", "accepted_by", "expires")
OPTIONAL = ("manifest", "subject")
#: How long `--write-baseline` accepts a finding for.
DEFAULT_TERM = timedelta(days=90)


class BaselineError(TosguardError):
    """A baseline file that cannot be read, or whose entries are malformed."""

    code_prefix = "baseline"


@dataclass(frozen=True)
class Entry:
    clause: str
    reason: str
    accepted_by: str
    expires: date
    manifest: str | None  # as written
    subject: str | None
    span: Span

    def acceptance(self) -> dict:
        return {
            "reason": self.reason,
            "accepted_by": self.accepted_by,
            "expires": self.expires.isoformat(),
            "baseline": {"file": self.span.file, "line": self.span.line},
        }


@dataclass(frozen=True)
class Baseline:
    path: str
    entries: tuple[Entry, ...]

    def manifest_key(self, entry: Entry) -> str | None:
        """The file an entry's ``manifest`` names, comparable with :func:`manifest_key`."""
        if entry.manifest is None:
            return None
        return _entry_manifest_key(self.path, entry.manifest)


@functools.lru_cache(maxsize=4096)
def _entry_manifest_key(baseline: str, manifest: str) -> str:
    if manifest == "<stdin>":
        return manifest
    return manifest_key(os.path.join(os.path.dirname(baseline), manifest))


def manifest_key(name: str) -> str:
    """A manifest's identity for matching entries: its real path (``<stdin>`` as it is)."""
    return name if name == "<stdin>" else os.path.realpath(name)


@dataclass(frozen=True)
class Checked:
    """One manifest's report and what names its sources (for subjects given by source id)."""

    report: Report
    source_ids: Sequence[str]


def load_baseline(path: str) -> Baseline:
    """Read and check a baseline file; raise :class:`BaselineError` with every problem."""
    from ..manifest.yamlload import load_document_text

    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise BaselineError(
            Diagnostic(
                "baseline-io",
                f"cannot read the baseline `{path}`: {exc.strerror or exc}",
                Span(path),
                "check the path, or write one with `tosguard check --write-baseline FILE`",
            )
        ) from None
    try:
        value, positions, text = load_document_text(data, path)
    except ManifestError as error:  # the reader's words, under the baseline's own code
        raise BaselineError(
            [replace(d, code="baseline-syntax") for d in error.diagnostics]
        ) from None
    problems: list[Diagnostic] = []

    def problem(pointer: str, message: str, help: str) -> None:
        line, column = positions.nearest(pointer) or (0, 0)
        problems.append(
            Diagnostic(
                "baseline-invalid",
                message,
                Span(path, line, column),
                help,
                source_line=line_of(text, line) if line else "",
                pointer=pointer,
            )
        )

    entries: list[Entry] = []
    if not isinstance(value, dict):
        problem("", "a baseline is a mapping with `accepted`", _EXAMPLE)
        raise BaselineError(problems)
    for key in value:
        if key not in ("tosguard-baseline", "accepted"):
            problem(f"/{key}#key", f"unknown key `{key}`", did_you_mean(key, ["accepted"]))
    if value.get("tosguard-baseline", BASELINE_FORMAT) != BASELINE_FORMAT:
        problem("/tosguard-baseline", "unknown baseline format", "this tosguard reads format 1")
    listed = value.get("accepted")
    if not isinstance(listed, list):
        problem("/accepted", "`accepted` must be a list of entries", _EXAMPLE)
        raise BaselineError(problems)
    for number, item in enumerate(listed):
        pointer = f"/accepted/{number}"
        if not isinstance(item, dict):
            problem(pointer, "an entry must be a mapping", _EXAMPLE)
            continue
        bad = False
        for key in item:
            if key not in REQUIRED + OPTIONAL:
                problem(
                    f"{pointer}/{key}#key",
                    f"unknown key `{key}`",
                    did_you_mean(key, REQUIRED + OPTIONAL),
                )
                bad = True
        for key in REQUIRED:
            if key not in item:
                problem(pointer, f"the entry has no `{key}`", _HELP[key])
                bad = True
        for key in REQUIRED + OPTIONAL:
            if key in item and (not isinstance(item[key], str) or not item[key].strip()):
                problem(f"{pointer}/{key}", f"`{key}` must be a non-empty string", _HELP[key])
                bad = True
        if bad:
            continue
        if "/" not in item["clause"]:
            problem(
                f"{pointer}/clause", f"`{item['clause']}` is not `POLICY/CLAUSE`", _HELP["clause"]
            )
            continue
        try:
            expires = date.fromisoformat(item["expires"])
        except ValueError:
            problem(f"{pointer}/expires", f"`{item['expires']}` is not a date", _HELP["expires"])
            continue
        line, column = positions.nearest(pointer) or (0, 0)
        entries.append(
            Entry(
                item["clause"],
                item["reason"],
                item["accepted_by"],
                expires,
                item.get("manifest"),
                item.get("subject"),
                Span(path, line, column),
            )
        )
    if problems:
        raise BaselineError(problems)
    return Baseline(path, tuple(entries))


_EXAMPLE = (
    "write `accepted:` and a list of entries with `clause`, `reason`, `accepted_by` and "
    "`expires` (see docs/ci.md)"
)
_HELP = {
    "clause": "the finding's rule as reports print it, e.g. "
    "`meta-llama-3.1-license/model-name-prefix`",
    "reason": "say why the risk is accepted, e.g. the ticket that tracks it",
    "accepted_by": "who accepted the risk",
    "expires": "the date the acceptance ends, YYYY-MM-DD",
    "manifest": "the manifest's path, relative to the baseline file",
    "subject": "a source id, `/sources/N`, `/model` or `/organization`",
}


class Applied:
    """A baseline applied to the reports of one run, one manifest at a time (a report is
    rendered as soon as it is accepted, without keeping the others): ``manifests`` are the
    names of every manifest the run checks, so that an entry for another is left alone."""

    def __init__(self, baseline: Baseline, manifests: Sequence[str], as_of: date):
        self.baseline = baseline
        self.as_of = as_of
        checked = {manifest_key(name) for name in manifests}
        self.live = []  # (entry, the manifest it names or None), for the entries in play
        self.expired = []
        for entry in baseline.entries:
            wanted = baseline.manifest_key(entry)
            if wanted is not None and wanted not in checked:
                continue  # a manifest this run does not check
            if as_of >= entry.expires:
                self.expired.append(entry)
            else:
                self.live.append((entry, wanted))
        self.matched = [0] * len(self.live)
        self.rules: set[str] = set()
        # entries by rule and subject (None: every subject), so that a report of many findings
        # is matched in one pass whatever the size of the baseline
        self.by_key: dict[tuple[str, str | None], list[int]] = {}
        for index, (entry, _) in enumerate(self.live):
            self.by_key.setdefault((entry.clause, entry.subject), []).append(index)

    def accept(self, checked: Checked) -> Report:
        """The report with the findings the live entries name marked ``accepted``."""
        report = checked.report
        key = manifest_key(report.manifest)
        acceptances: dict[int, dict] = {}
        for number, finding in enumerate(report.findings):
            if finding.category not in ALWAYS_LISTED:
                continue
            rule = finding.rule
            self.rules.add(rule)
            candidates = [
                *self.by_key.get((rule, finding.subject), ()),
                *self.by_key.get((rule, _source_id(finding.subject, checked.source_ids)), ()),
                *self.by_key.get((rule, None), ()),
            ]
            for index in sorted(set(candidates)):  # the first entry in the file accepts it
                entry, wanted = self.live[index]
                if wanted is None or wanted == key:
                    self.matched[index] += 1
                    acceptances.setdefault(number, entry.acceptance())
        return with_acceptances(report, acceptances)

    def problems(self) -> list[Diagnostic]:
        """A diagnostic for each entry in play that has expired (``baseline-expired``) or
        accepted nothing (``baseline-stale``), once every report has been accepted."""
        found = [
            _entry_problem(
                self.baseline,
                entry,
                "baseline-expired",
                f"the acceptance of `{entry.clause}` expired on {entry.expires.isoformat()} "
                f"(checked as of {self.as_of.isoformat()})",
                "review the risk: fix the finding, or renew the entry with a new `expires`",
            )
            for entry in self.expired
        ]
        for (entry, _), matched in zip(self.live, self.matched, strict=True):
            if matched:
                continue
            suggestion = (
                did_you_mean(entry.clause, self.rules) if entry.clause not in self.rules else ""
            )
            found.append(
                _entry_problem(
                    self.baseline,
                    entry,
                    "baseline-stale",
                    f"the entry for `{entry.clause}`"
                    + (f" at `{entry.subject}`" if entry.subject else "")
                    + " accepts no finding",
                    "the risk is gone or the entry names it wrongly: remove the entry"
                    + (f"; {suggestion}" if suggestion.startswith("did you mean") else ""),
                )
            )
        return sorted(found, key=Diagnostic.sort_key)


def _source_id(subject: str, source_ids: Sequence[str]) -> str | None:
    """The id of the source a subject pointer names (None for the model, the organization)."""
    if subject.startswith("/sources/"):
        index = int(subject.split("/")[2])
        if index < len(source_ids):
            return source_ids[index]
    return None


def _entry_problem(
    baseline: Baseline, entry: Entry, code: str, message: str, help: str
) -> Diagnostic:
    try:
        with open(baseline.path, encoding="utf-8", errors="replace") as stream:
            text = stream.read()
    except OSError:
        text = ""
    return Diagnostic(
        code,
        message,
        entry.span,
        help,
        source_line=line_of(text, entry.span.line) if text else "",
    )


def baseline_text(
    checked: Sequence[Checked],
    path: str,
    *,
    accepted_by: str,
    expires: date,
    previous: Baseline | None = None,
) -> tuple[str, int]:
    """A baseline accepting every violated, undetermined and warning finding of ``checked``:
    one entry per rule, subject and manifest, with the manifest relative to ``path``'s
    directory and the subject by source id. An entry of ``previous`` that names the same
    finding keeps its reason, who and expiry. Returns the text and the number of entries."""
    import yaml

    directory = os.path.dirname(os.path.abspath(path))
    kept: dict[tuple[str, str | None, str | None], Entry] = {}
    if previous is not None:
        for entry in previous.entries:
            key = (entry.clause, entry.subject, previous.manifest_key(entry))
            kept.setdefault(key, entry)
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for one in checked:
        report = one.report
        name = report.manifest
        written = name if name == "<stdin>" else os.path.relpath(os.path.abspath(name), directory)
        for finding in report.findings:
            finding = finding.unaccepted()
            if finding.category not in ALWAYS_LISTED:
                continue
            subject = _source_id(finding.subject, one.source_ids) or finding.subject
            key = (finding.rule, subject, written)
            if key in entries:
                continue
            old = kept.get((finding.rule, subject, manifest_key(name)))
            entries[key] = {
                "clause": finding.rule,
                "manifest": written.replace(os.sep, "/"),
                "subject": subject,
                "reason": old.reason if old else f"recorded by --write-baseline: {finding.message}",
                "accepted_by": old.accepted_by if old else accepted_by,
                "expires": (old.expires if old else expires).isoformat(),
            }
    header = (
        "# Accepted risks for `tosguard check --baseline` (docs/ci.md). Review each entry:\n"
        "# say why the risk is accepted, who accepted it and until when.\n"
    )
    body = yaml.dump(
        {"tosguard-baseline": BASELINE_FORMAT, "accepted": list(entries.values())},
        Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),  # libyaml's, when there
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return header + body, len(entries)
