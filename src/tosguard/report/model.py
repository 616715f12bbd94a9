"""The report (format version 1): findings with citations, the summary and the verdict.

Every result falls in one of five categories (:data:`CATEGORIES`), the keys of the summary:
``violated`` and ``undetermined`` are the error-severity results that decide the verdict,
``warnings`` the violated or undetermined results of warning or info severity (advisory: they
never change the verdict), then ``satisfied`` and ``not_applicable`` (any severity). The
summary counts every result; its ``listed`` counts what ``findings`` holds, category by
category (all of the first three always; with ``--all``, everything).

A check run with a baseline of accepted risks (:mod:`tosguard.report.baseline`) has a sixth
category, ``accepted``, after ``warnings``: the findings an entry of the baseline accepts, whose
``status`` is then ``accepted`` and whose ``acceptance`` says what they were and who accepted
them until when. They never change the verdict. Without a baseline the key is absent.

Plain dataclasses and hand-ordered dicts keep the JSON byte-for-byte deterministic and keep the
CLI from paying for pydantic models it does not need.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from .. import __version__
from ..engine.budget import current as current_budget
from ..engine.evaluate import Evaluation, Outcome
from ..engine.identity import Notice
from ..language.vocab import STATUS_ORDER
from .jsontext import INDENT, FragmentCache, encode_string, write
from .remedies import fill as fill_remedy

REPORT_FORMAT = 1
#: The summary's categories, in the order of the report's sections and its findings.
CATEGORIES = ("violated", "undetermined", "warnings", "satisfied", "not_applicable")
#: The category of accepted risks: in a summary only when a baseline was applied.
ACCEPTED = "accepted"
CATEGORY_ORDER = {
    name: number for number, name in enumerate((*CATEGORIES[:3], ACCEPTED, *CATEGORIES[3:]))
}
#: The categories whose every result is listed, with or without ``--all``.
ALWAYS_LISTED = ("violated", "undetermined", "warnings")
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_FRAGMENTS = FragmentCache()  # the encoded clause parts of findings


@dataclass(frozen=True, slots=True)
class Finding:
    """One result. A finding of ``kind`` ``identity`` rests on what the policy set holds as
    a whole (an id no policy knows, terms that cannot be told apart), not on one clause: its
    ``clause`` is the notice's code, its ``citation`` is None, and ``policy`` names the
    document it concerns, if one."""

    policy: str | None
    provider: str | None
    clause: str
    topic: str
    kind: str
    status: str
    severity: str
    subject: str
    location: dict
    message: str
    missing: tuple[str, ...]
    remedy: str
    citation: dict | None
    policy_location: dict | None
    #: for an ``accepted`` finding: the status it had, and the baseline entry that accepts it
    acceptance: dict | None = None
    #: The clause's remedy as the policy writes it, before manifest values are filled in
    #: (not in the report's JSON: what a rule says for every finding, e.g. SARIF's help).
    remedy_template: str | None = None

    @property
    def rule(self) -> str:
        return rule_of(self.policy, self.clause)

    @property
    def open_remedy(self) -> str:
        """The remedy, where something is left to do (violated, undetermined, or accepted as a
        risk); "" where the clause is met or does not apply, so a met obligation is not told
        to act."""
        return self.remedy if self.status in ("violated", "undetermined", "accepted") else ""

    @property
    def category(self) -> str:
        """The summary category this finding is counted in (see :func:`category_of`)."""
        return category_of(self.status, self.severity)

    def as_dict(self) -> dict:
        """The finding as the report's JSON holds it: :data:`FINDING_FIELDS`, in order."""
        shown = {name: _FIELD_VALUE[name](self) for name in FINDING_FIELDS}
        if self.acceptance is not None:  # only in a report a baseline was applied to
            shown["acceptance"] = self.acceptance
        return shown

    def unaccepted(self) -> Finding:
        """This finding as it was before a baseline accepted it."""
        if self.acceptance is None:
            return self
        return replace(self, status=self.acceptance["status"], acceptance=None)

    def write_json(self, out: list[str], level: int) -> None:
        """Append the JSON of :meth:`as_dict`, indented for nesting ``level`` deep. The fields
        that come from the clause (:data:`_HEAD`, :data:`_TAIL`) are encoded once per clause
        and reused; the rest are written here, in the order of :data:`FINDING_FIELDS`."""
        out.append(
            _FRAGMENTS.get(
                (level, self.policy, self.provider, self.clause, self.topic),
                lambda: self._fields_json(_HEAD, level, "{"),
            )
        )
        pad = INDENT * (level + 1)
        for name in _BODY:
            out.append(f',\n{pad}"{name}": ')
            write(getattr(self, name), out, level + 1)
        key = (
            level,
            self.remedy,
            tuple((self.citation or {}).items()),
            tuple((self.policy_location or {}).items()),
        )
        if self.acceptance is not None:
            tail = self._fields_json(_TAIL, level, "")
            closing = "\n" + INDENT * level + "}"
            out += [tail[: -len(closing)], f',\n{pad}"acceptance": ']
            write(self.acceptance, out, level + 1)
            out.append(closing)
            return
        try:
            out.append(_FRAGMENTS.get(key, lambda: self._fields_json(_TAIL, level, "")))
        except TypeError:  # an unhashable value: encode it afresh
            out.append(self._fields_json(_TAIL, level, ""))

    def _fields_json(self, names: tuple[str, ...], level: int, opening: str) -> str:
        """The JSON of the fields ``names``: after ``{`` when ``opening``, else after a comma
        (and then, for the last fields, with the closing brace)."""
        pad = INDENT * (level + 1)
        out = [INDENT * level + "{\n" if opening else ",\n"]
        for number, name in enumerate(names):
            out.append((",\n" if number else "") + f'{pad}"{name}": ')
            write(_FIELD_VALUE[name](self), out, level + 1)
        if names[-1] == FINDING_FIELDS[-1]:
            out.append("\n" + INDENT * level + "}")
        return "".join(out)


#: The fields of a finding in the report, in order: the one place the shape is written.
FINDING_FIELDS = (
    "policy",
    "provider",
    "clause",
    "topic",
    "status",
    "severity",
    "subject",
    "location",
    "message",
    "missing",
    "remedy",
    "citation",
    "policy_location",
)
# The fields shared by every finding of a clause: encoded once (see Finding.write_json).
_HEAD, _BODY, _TAIL = FINDING_FIELDS[:4], FINDING_FIELDS[4:10], FINDING_FIELDS[10:]
_FIELD_VALUE: dict[str, Callable[[Finding], Any]] = {
    name: operator.attrgetter(name) for name in FINDING_FIELDS
}
_FIELD_VALUE["missing"] = lambda finding: list(finding.missing)


def category_of(status: str, severity: str) -> str:
    """The summary category of a result: a violated or undetermined result of any severity
    but ``error`` is one of the ``warnings``; every other result is counted under its status.

    >>> category_of("violated", "error"), category_of("violated", "warning")
    ('violated', 'warnings')
    >>> category_of("undetermined", "info"), category_of("satisfied", "warning")
    ('warnings', 'satisfied')
    """
    if severity != "error" and status in ("violated", "undetermined"):
        return "warnings"
    return status


@dataclass(frozen=True, slots=True)
class Report:
    """A report. ``tosguard_version`` and ``policy_revision`` say what produced it: the
    tosguard release and the policy set's revision (``Library.revision``, written as
    ``policy_set_revision``), so that a report can be traced to the terms it applied; the same
    inputs give the same bytes."""

    manifest: str
    as_of: date
    verdict: str
    summary: dict
    findings: tuple[Finding, ...]
    tosguard_version: str
    policy_revision: str

    def as_dict(self) -> dict:
        return {
            "tosguard": REPORT_FORMAT,
            "tosguard_version": self.tosguard_version,
            "policy_set_revision": self.policy_revision,
            "manifest": self.manifest,
            "as_of": self.as_of.isoformat(),
            "verdict": self.verdict,
            "summary": self.summary,
            "findings": [f.as_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        """The report's JSON text: ``json.dumps(self.as_dict(), indent=2,
        ensure_ascii=False)`` and a newline, byte for byte (what the CLI prints and the
        service sends), less the characters :func:`tosguard.safetext.json_safe` escapes."""
        return self.json_text(0) + "\n"

    def json_text(self, level: int) -> str:
        """The JSON of :meth:`as_dict`, nested ``level`` levels deep (no final newline)."""
        return "".join(self.json_chunks(level))

    def json_chunks(self, level: int, size: int = 1 << 16) -> Iterator[str]:
        """:meth:`json_text` in pieces of about ``size`` characters, to be written as they
        are made (a report of 100,000 sources is about 100 MB of text)."""
        pad = INDENT * level
        out = [
            f'{{\n{pad}  "tosguard": {REPORT_FORMAT},\n{pad}  "tosguard_version": ',
            encode_string(self.tosguard_version),
            f',\n{pad}  "policy_set_revision": ',
            encode_string(self.policy_revision),
            f',\n{pad}  "manifest": ',
            encode_string(self.manifest),
            f',\n{pad}  "as_of": "{self.as_of.isoformat()}",\n{pad}  "verdict": ',
            encode_string(self.verdict),
            f',\n{pad}  "summary": ',
        ]
        write(self.summary, out, level + 1)
        out.append(f',\n{pad}  "findings": ')
        if self.findings:
            separator = "[\n"
            budget = current_budget()
            pieces = size // 64  # about 20 strings per finding, of a few characters each
            for number, finding in enumerate(self.findings):
                if not number & 255:
                    if budget is not None:
                        budget.check()
                    if len(out) > pieces:
                        yield "".join(out)
                        out = []
                out.append(separator)
                finding.write_json(out, level + 2)
                separator = ",\n"
            out.append(f"\n{pad}  ]")
        else:
            out.append("[]")
        out.append(f"\n{pad}}}")
        yield "".join(out)

    def fails(self, fail_on: str = "undetermined") -> bool:
        """Whether this report should fail a CI job (exit code 1) under ``--fail-on``: with
        ``warning``, any result the summary counts as a warning fails it too."""
        if self.verdict == "non_compliant":
            return True
        if fail_on == "violated":
            return False
        if self.verdict == "undetermined":
            return True
        if fail_on == "warning":
            return any(f.category == "warnings" for f in self.findings)
        return False


def fails_run(finding: Finding, fail_on: str = "undetermined") -> bool:
    """Whether ``finding`` alone fails a run under ``--fail-on`` (what :meth:`Report.fails`
    says of the findings together): a violated error always, an undetermined error unless
    ``violated``, a warning only with ``warning``; an accepted risk, a satisfied or a
    not-applicable result never."""
    category = finding.category
    if category == "violated":
        return True
    if category == "undetermined":
        return fail_on != "violated"
    return category == "warnings" and fail_on == "warning"


def rule_of(policy: str | None, clause: str) -> str:
    """A finding's rule id: ``policy/clause``; ``tosguard/<code>`` for a notice that concerns
    no document (what SARIF, JUnit, policy tests and the corpus name findings by)."""
    return f"{policy or 'tosguard'}/{clause}"


def verdict_of(findings) -> str:
    """``non_compliant`` if an error-severity finding is violated, else ``undetermined`` if
    one is undetermined, else ``compliant``: warnings never change it."""
    errors = [f for f in findings if f.severity == "error"]
    if any(f.status == "violated" for f in errors):
        return "non_compliant"
    if any(f.status == "undetermined" for f in errors):
        return "undetermined"
    return "compliant"


def summary_categories(summary: dict) -> tuple[str, ...]:
    """The categories a summary counts, in order: :data:`CATEGORIES`, with ``accepted``
    after ``warnings`` when a baseline was applied."""
    if ACCEPTED not in summary:
        return CATEGORIES
    return (*CATEGORIES[:3], ACCEPTED, *CATEGORIES[3:])


def summarize(findings, counts: dict[str, int], accepted: bool = False) -> dict:
    """The summary: how many results fall in each category (:data:`CATEGORIES`), and under
    ``listed`` how many of them ``findings`` holds.

    Every violated and undetermined result is a finding, so their categories are counted from
    the findings themselves; ``counts`` (the evaluator's tally by status, listed or not) gives
    the satisfied and not-applicable results, of which only some are listed without
    ``--all``. The five totals partition the results: they add up to every clause evaluated
    or counted as not applicable.
    """
    listed = dict.fromkeys(summary_categories({ACCEPTED: 0} if accepted else {}), 0)
    for finding in findings:
        listed[finding.category] += 1
    summary: dict = {name: listed[name] for name in ALWAYS_LISTED}
    if accepted:
        summary[ACCEPTED] = listed[ACCEPTED]
    for name in CATEGORIES[len(ALWAYS_LISTED) :]:
        summary[name] = counts.get(name, 0)
    summary["listed"] = listed
    return summary


def build_report(
    evaluation: Evaluation, loaded, as_of: date, manifest_name: str, policy_revision: str
) -> Report:
    # Subjects and clauses recur: each subject's location and each clause's citation is made
    # once and shared by its findings (read-only: a report is never changed once built).
    places: dict[str, dict] = {}
    cited: dict[int, tuple[dict, dict]] = {}
    said: dict[tuple, str] = {}  # the message of each clause, status and missing facts
    budget = current_budget()
    built = []
    for number, outcome in enumerate(evaluation.outcomes):
        if budget is not None and not number & 255:
            budget.check()
        built.append(_finding(outcome, loaded, manifest_name, places, cited, said))
    built += [_notice_finding(notice, loaded, manifest_name) for notice in evaluation.notices]
    findings = tuple(sorted(built, key=_finding_key))
    return Report(
        manifest_name,
        as_of,
        verdict_of(findings),
        summarize(findings, evaluation.counts),
        findings,
        __version__,
        policy_revision,
    )


def _finding(
    outcome: Outcome,
    loaded,
    manifest_name: str,
    places: dict[str, dict],
    cited: dict[int, tuple[dict, dict]],
    said: dict[tuple, str],
) -> Finding:
    clause, version = outcome.clause, outcome.version
    location = places.get(outcome.subject)
    if location is None:
        span = loaded.span(outcome.subject)
        location = places[outcome.subject] = {
            "file": manifest_name,
            "line": span.line,
            "column": span.column,
        }
    shared = cited.get(id(clause))
    if shared is None:
        citation = clause.citation
        shared = cited[id(clause)] = (
            {
                "document": citation.document,
                "section": citation.section,
                "effective": citation.effective.isoformat() if citation.effective else None,
                "url": citation.url,
                "quote": citation.quote,
            },
            {"file": clause.file, "line": clause.line},
        )
    key = (id(clause), outcome.status, outcome.missing, outcome.note, outcome.early)
    message = said.get(key)
    if message is None:
        message = said[key] = message_for(outcome)
    return Finding(
        policy=clause.policy,
        provider=version.provider or None,
        clause=clause.id,
        topic=clause.topic,
        kind=clause.kind,
        status=outcome.status,
        severity=clause.severity,
        subject=outcome.subject,
        location=location,
        message=message,
        missing=outcome.missing,
        remedy=fill_remedy(clause.remedy, loaded.manifest, outcome.subject)
        if "{" in clause.remedy
        else clause.remedy,
        remedy_template=clause.remedy if "{" in clause.remedy else None,
        citation=shared[0],
        policy_location=shared[1],
    )


def with_acceptances(report: Report, acceptances: dict[int, dict]) -> Report:
    """``report`` after a baseline: the findings at the indexes of ``acceptances`` become
    ``accepted`` (each with its acceptance, to which the status it had is added), the summary
    gains the ``accepted`` category, and the verdict is worked out again without them."""
    findings = []
    for number, finding in enumerate(report.findings):
        acceptance = acceptances.get(number)
        if acceptance is not None:
            finding = replace(
                finding, status=ACCEPTED, acceptance={"status": finding.status, **acceptance}
            )
        findings.append(finding)
    findings.sort(key=_finding_key)
    counts = {name: report.summary.get(name, 0) for name in CATEGORIES[len(ALWAYS_LISTED) :]}
    return replace(
        report,
        verdict=verdict_of(findings),
        summary=summarize(findings, counts, accepted=True),
        findings=tuple(findings),
    )


def _notice_finding(notice: Notice, loaded, manifest_name: str) -> Finding:
    span = loaded.span(notice.pointer)
    return Finding(
        policy=notice.policy,
        provider=notice.provider,
        clause=notice.code,
        topic="identity",
        kind="identity",
        status=notice.status,
        severity=notice.severity,
        subject=notice.subject,
        location={"file": manifest_name, "line": span.line, "column": span.column},
        message=notice.message,
        missing=notice.missing,
        remedy=notice.remedy,
        citation=None,
        policy_location=notice.policy_location,
    )


def message_for(outcome: Outcome) -> str:
    """One sentence saying what was found, in the clause's own words."""
    clause, status = outcome.clause, outcome.status
    base = clause.message
    if status == "violated":
        text = f"not met: {base}" if clause.kind == "obligation" else base
    elif status == "undetermined":
        if clause.kind == "obligation":
            text = f"cannot confirm: {base}"
        else:
            text = f"cannot tell whether this is allowed: {base}"
        if outcome.missing:
            text += " (declare " + ", ".join(f"`{m}`" for m in outcome.missing) + ")"
    elif status == "satisfied":
        if clause.kind == "obligation":
            text = f"met: {base}"
        elif clause.kind == "permission":
            text = f"permitted: {base}"
        else:
            text = f"not violated: {base}"
    else:
        text = f"does not apply: {base}"
    if outcome.note:
        text += f"; {outcome.note}"
    if clause.citation.unverified:
        text += f" [unverified citation: {clause.citation.unverified}]"
    if outcome.early:
        text += (
            " (the library holds no version of this document in force then: shown as undetermined)"
        )
    return text


def _subject_key(subject: str) -> tuple:
    if subject.startswith("/sources/"):
        return (2, int(subject.split("/")[2]))
    return (0 if subject == "/organization" else 1, 0)


def _finding_key(f: Finding) -> tuple:
    return (
        CATEGORY_ORDER[f.category],
        STATUS_ORDER.get(f.acceptance["status"] if f.acceptance else f.status, 0),
        SEVERITY_ORDER.get(f.severity, 3),
        _subject_key(f.subject),
        f.kind != "identity",
        f.policy or "",
        (f.citation or {}).get("effective") or "",
        f.clause,
    )
