"""Evaluate a manifest against a compiled library.

For each source, the index names the documents that may govern it; for each such document,
the versions in force during the source's ``collected`` interval are selected (an interval
that crosses a version boundary is split, and each version applies to its part). Each
version's ``governs`` condition then decides, three-valued, whether it governs the source.
Clauses are evaluated once per subject in their scope:

* ``prohibition``: ``governed and when and not (an exception applies) and not waived``
  → violated / undetermined / satisfied; a prohibition yields only to a permission that names
  it (``lifts``) or to an agreement it names (``waived by``), never to anything else.
* ``obligation``: triggered by ``governed and when``; then ``require`` must hold.
* ``permission``: satisfied where it applies, otherwise not applicable; an unproven
  permission grants nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .ir import ClauseIR, Env, PolicyIR, missing
from .library import Document, Library
from .util import gc_paused

ONE_DAY = timedelta(days=1)
LARGE_MANIFEST = 1000  # sources; above this the cyclic GC is paused during evaluation


@dataclass(frozen=True, slots=True)
class Segment:
    """A version of a document applied to (part of) a source's collection interval."""

    version: PolicyIR
    start: date
    end: date
    early: bool  # applied before its effective date: the library has no earlier version


@dataclass(slots=True)
class Outcome:
    """One clause evaluated for one subject."""

    clause: ClauseIR
    version: PolicyIR
    subject: str
    status: str
    missing: tuple[str, ...]
    note: str
    early: bool


# ---- time -------------------------------------------------------------------------------------
def interval_of(source, as_of: date) -> tuple[date, date]:
    """The dates a source's use falls in: its ``collected`` interval, or the evaluation date."""
    collected = source.collected
    start = getattr(collected, "from_", None) if collected is not None else None
    end = getattr(collected, "to", None) if collected is not None else None
    if start and end:
        return start, end
    if start:
        return start, max(start, as_of)
    if end:
        return end, end
    return as_of, as_of


def in_force(version: PolicyIR, following: PolicyIR | None) -> tuple[date, date]:
    """The days a version is in force: from its effective date until it ends, or until the
    next version takes effect."""
    end = date.max
    if version.ends:
        end = version.ends
    if following is not None:
        end = min(end, following.effective - ONE_DAY)
    return version.effective, end


def segments(document: Document, start: date, end: date) -> list[Segment]:
    """The versions of ``document`` that apply to ``[start, end]``, each with its part."""
    versions = document.versions
    found: list[Segment] = []
    for position, version in enumerate(versions):
        following = versions[position + 1] if position + 1 < len(versions) else None
        begins, ends = in_force(version, following)
        if position == 0 and start < begins:
            # Before the earliest known version: apply it anyway, and say so.
            found.append(Segment(version, start, min(end, ends), True))
            continue
        low, high = max(start, begins), min(end, ends)
        if low <= high:
            found.append(Segment(version, low, high, False))
    return found


# ---- evaluation -------------------------------------------------------------------------------
@dataclass
class Evaluation:
    outcomes: list[Outcome]
    counts: dict[str, int]


class Evaluator:
    """Evaluates one manifest; ``keep`` decides which outcomes are kept as findings (the
    others are only counted)."""

    def __init__(self, library: Library, manifest, as_of: date, include_all: bool = False):
        self.library = library
        self.manifest = manifest
        self.as_of = as_of
        self.include_all = include_all
        self.outcomes: list[Outcome] = []
        self.counts = {"violated": 0, "undetermined": 0, "satisfied": 0, "not_applicable": 0}
        self.shared: dict = {}  # quantifier tallies shared across policy versions
        self.evaluated = 0  # source-scope results actually evaluated (any status)
        self.active: set[int] = set()  # ids of versions that govern (or may govern) a source
        self.selected: dict[tuple[str, date, date], list[Segment]] = {}

    def run(self) -> Evaluation:
        with gc_paused(len(self.manifest.sources) >= LARGE_MANIFEST):
            for version, work in self._work_by_version().values():
                self._evaluate_version(version, work)
            self._count_not_applicable()
        return Evaluation(self.outcomes, self.counts)

    def _segments(self, document: Document, start: date, end: date) -> list[Segment]:
        key = (document.id, start, end)
        found = self.selected.get(key)
        if found is None:
            found = self.selected[key] = segments(document, start, end)
        return found

    def _work_by_version(self) -> dict[int, tuple[PolicyIR, list[tuple[int, bool]]]]:
        """Which sources each policy version must be evaluated for (and whether early)."""
        work: dict[int, tuple[PolicyIR, list[tuple[int, bool]]]] = {}
        as_of = self.as_of
        for index, source in enumerate(self.manifest.sources):
            start, end = interval_of(source, as_of)
            for document in self.library.candidates(source):
                for segment in self._segments(document, start, end):
                    key = id(segment.version)
                    if key not in work:
                        work[key] = (segment.version, [])
                    work[key][1].append((index, segment.early))
        return work

    def _evaluate_version(self, version: PolicyIR, work: list[tuple[int, bool]]) -> None:
        env = Env(self.manifest, governs=version.governs, shared=self.shared)
        governs = version.governs_closure()
        governed = env.governed
        early_for: dict[int, bool] = {}
        for index, early in work:
            governed[index] = governs(env.at(index))
            early_for[index] = early
        source_clauses = [c for c in version.clauses if c.scope == "source"]
        for index, _early in work:
            status_governed = governed[index]
            env.at(index)
            subject = f"/sources/{index}"
            if status_governed is False:
                if self.include_all:
                    self._list_not_applicable(source_clauses, version, subject,
                                              early_for[index])
                continue
            self.evaluated += len(source_clauses)
            for clause in source_clauses:
                self._record(self._clause_outcome(clause, version, env, status_governed,
                                                  subject, early_for[index]))
        active = [i for i, g in governed.items() if g is not False]
        if not active:
            return
        self.active.add(id(version))
        early = all(early_for[i] for i in active)
        env.source, env.index = None, -1
        for clause in version.clauses:
            if clause.scope == "source":
                continue
            subject = "/model" if clause.scope == "model" else "/organization"
            self._record(self._clause_outcome(clause, version, env, True, subject, early))

    def _list_not_applicable(self, clauses, version, subject, early) -> None:
        for clause in clauses:
            self.outcomes.append(Outcome(clause, version, subject, "not_applicable", (),
                                         "the policy does not govern this subject", early))

    def _count_not_applicable(self) -> None:
        """Count (and with ``--all`` list) every clause in force that does not apply.

        The count is defined by the library, not by the index: for each source, every
        source-scope clause of every document version in force during its interval, less
        those evaluated; for the model and the organization, the clauses of the documents
        that govern no source, in their version in force at the evaluation date."""
        documents = list(self.library.documents.values())
        totals: dict[tuple[date, date], int] = {}
        in_force = 0
        for index, source in enumerate(self.manifest.sources):
            interval = interval_of(source, self.as_of)
            total = totals.get(interval)
            if total is None:
                total = totals[interval] = sum(
                    _source_clause_count(segment.version)
                    for document in documents for segment in self._segments(document, *interval))
            in_force += total
            if self.include_all:
                self._list_unindexed(index, source, interval)
        self.counts["not_applicable"] += in_force - self.evaluated
        for document in documents:
            if any(id(version) in self.active for version in document.versions):
                continue
            for segment in self._segments(document, self.as_of, self.as_of):
                clauses = [c for c in segment.version.clauses if c.scope != "source"]
                self.counts["not_applicable"] += len(clauses)
                if self.include_all:
                    for clause in clauses:
                        subject = "/model" if clause.scope == "model" else "/organization"
                        self.outcomes.append(Outcome(
                            clause, segment.version, subject, "not_applicable", (),
                            "the policy governs no source of this manifest", segment.early))

    def _list_unindexed(self, index: int, source, interval: tuple[date, date]) -> None:
        """With ``--all``: the not-applicable results of documents the index ruled out."""
        candidates = {d.id for d in self.library.candidates(source)}
        for document in self.library.documents.values():
            if document.id in candidates:
                continue
            for segment in self._segments(document, *interval):
                clauses = [c for c in segment.version.clauses if c.scope == "source"]
                self._list_not_applicable(clauses, segment.version, f"/sources/{index}",
                                          segment.early)

    def _record(self, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if self.include_all or outcome.status in ("violated", "undetermined") or (
                outcome.clause.kind == "obligation" and outcome.status != "not_applicable"):
            self.outcomes.append(outcome)

    def _clause_outcome(self, clause: ClauseIR, version: PolicyIR, env: Env,
                        governed: bool | None, subject: str, early: bool) -> Outcome:
        when, require = clause.closures()
        applies = _and(governed, when(env) if when else True)
        if clause.kind == "permission":
            status = "satisfied" if applies is True else "not_applicable"
            return Outcome(clause, version, subject, status, (), "", early)
        if clause.kind == "obligation":
            if applies is False:
                return Outcome(clause, version, subject, "not_applicable", (), "", early)
            met = require(env)
            breach = _and(applies, _not(met))
        else:
            breach = applies
        note = ""
        if breach is not False:
            lifted, lifted_by = self._exceptions(clause, env)
            waived, waived_by = self._waivers(clause)
            if lifted is True:
                note = f"permitted by exception `{lifted_by}`"
            elif waived is True:
                note = f"waived by agreement `{waived_by}`"
            breach = _and(breach, _and(_not(lifted), _not(waived)))
        if breach is True:
            return Outcome(clause, version, subject, "violated", (), note, early)
        if breach is False:
            if clause.kind == "obligation" and applies is False:
                return Outcome(clause, version, subject, "not_applicable", (), "", early)
            return Outcome(clause, version, subject, "satisfied", (), note, early)
        return Outcome(clause, version, subject, "undetermined",
                       self._missing(clause, env, version), note, early)

    def _exceptions(self, clause: ClauseIR, env: Env) -> tuple[bool | None, str]:
        result: bool | None = False
        for exception in clause.exceptions:
            when, _ = exception.closures()
            value = when(env) if when else True
            if value is True:
                return True, f"{exception.policy}/{exception.id}" \
                    if exception.policy != clause.policy else exception.id
            if value is None:
                result = None
        return result, ""

    def _waivers(self, clause: ClauseIR) -> tuple[bool | None, str]:
        if not clause.waivers:
            return False, ""
        organization = self.manifest.organization
        agreements = organization.agreements if organization is not None else None
        if agreements is None:
            return None, ""
        for agreement in clause.waivers:
            if agreement in agreements:
                return True, agreement
        return False, ""

    def _missing(self, clause: ClauseIR, env: Env, version: PolicyIR) -> tuple[str, ...]:
        found: set[str] = set()
        if env.source is not None and env.governed.get(env.index) is None:
            found |= missing(version.governs, env)
        for condition in (clause.when, clause.require):
            if condition is not None:
                found |= missing(condition, env)
        for exception in clause.exceptions:
            if exception.when is not None:
                found |= missing(exception.when, env)
        if clause.waivers:
            organization = self.manifest.organization
            if organization is None:
                found.add("/organization")
            elif organization.agreements is None:
                found.add("/organization/agreements")
        return tuple(sorted(found, key=_pointer_key))


def _source_clause_count(version: PolicyIR) -> int:
    return sum(1 for clause in version.clauses if clause.scope == "source")


def _pointer_key(pointer: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pointer.split("/"))


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _not(a: bool | None) -> bool | None:
    return None if a is None else not a


def evaluate(library: Library, manifest, as_of: date, include_all: bool = False) -> Evaluation:
    return Evaluator(library, manifest, as_of, include_all).run()
