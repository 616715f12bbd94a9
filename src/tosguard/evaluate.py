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

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from . import budget as budgets
from .ir import ClauseIR, Env, PolicyIR, missing
from .library import Document, Library
from .util import gc_paused

ONE_DAY = timedelta(days=1)
LARGE_MANIFEST = 1000  # sources; above this the cyclic GC is paused during evaluation
# sources; from this many, conditions run as generated functions even in a library not
# accelerated (building them takes longer than they save on fewer sources)
GENERATED_FROM = 5000


@dataclass(slots=True)
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
    ranges = document.ranges
    version, begins, ends = ranges[0]
    if start < begins:
        # Before the earliest known version: apply it anyway, and say so.
        found = [Segment(version, start, end if end < ends else ends, True)]
    elif start <= ends:
        found = [Segment(version, start, end if end < ends else ends, False)]
    else:
        found = []
    for version, begins, ends in ranges[1:]:  # in order of their effective dates
        if begins > end:
            break
        if ends >= start:
            found.append(Segment(version, start if start > begins else begins,
                                 end if end < ends else ends, False))
    return found


class InForce:
    """How many source-scope clauses are in force during an interval, over the whole library,
    in O(log n): a version's range meets ``[a, b]`` iff it begins on or before ``b`` and ends
    on or after ``a`` (the earliest version of a document reaches back indefinitely)."""

    def __init__(self, library: Library):
        starts, stops = [], []
        for document in library.documents.values():
            for position, (version, begins, ends) in enumerate(document.ranges):
                weight = _source_clause_count(version)
                starts.append((date.min if position == 0 else begins, weight))
                stops.append((ends, weight))
        starts.sort(key=lambda item: item[0])
        stops.sort(key=lambda item: item[0])
        self.start_dates = [d for d, _ in starts]
        self.stop_dates = [d for d, _ in stops]
        self.start_sums = list(accumulate((w for _, w in starts), initial=0))
        self.stop_sums = list(accumulate((w for _, w in stops), initial=0))

    def source_clauses(self, start: date, end: date) -> int:
        begun = self.start_sums[bisect_right(self.start_dates, end)]
        stopped = self.stop_sums[bisect_left(self.stop_dates, start)]
        return begun - stopped


# ---- evaluation -------------------------------------------------------------------------------
@dataclass
class Evaluation:
    outcomes: list[Outcome]
    counts: dict[str, int]


@dataclass(slots=True)
class _Applied:
    """A policy version applied to one source: its environment, whether it governs the
    source (three-valued) and whether it was applied before its effective date."""

    version: PolicyIR
    env: Env
    governed: bool | None
    early: bool


class Evaluator:
    """Evaluates one manifest, source by source.

    Pass 1 decides, for every source, which policy versions apply and whether each governs
    it; pass 2 evaluates the source-scope clauses of the versions that (may) govern it (a
    quantifier over ``governed`` sources needs pass 1 complete); pass 3 evaluates the model
    and organization clauses of every version that governs some source. Walking the sources
    once per pass, not once per version, keeps large manifests in cache. Only the outcomes
    the report shows are kept; the others are counted.
    """

    def __init__(self, library: Library, manifest, as_of: date, include_all: bool = False):
        self.library = library
        self.manifest = manifest
        self.as_of = as_of
        self.include_all = include_all
        self.outcomes: list[Outcome] = []
        self.counts = {"violated": 0, "undetermined": 0, "satisfied": 0, "not_applicable": 0}
        self.shared: dict = {}  # quantifier tallies shared across policy versions
        self.evaluated = 0  # source-scope results actually evaluated (any status)
        self.envs: dict[int, Env] = {}  # one environment per policy version applied
        self.selected: dict[tuple[str, date, date], list[Segment]] = {}
        self.source_clauses: dict[int, list[ClauseIR]] = {}
        self.fast = library.fast or len(manifest.sources) >= GENERATED_FROM
        self.budget = budgets.current()  # checked once per source (see tosguard.budget)

    def run(self) -> Evaluation:
        with gc_paused(len(self.manifest.sources) >= LARGE_MANIFEST):
            applied = self.prepare()
            self._evaluate_sources(applied)
            self._evaluate_model_and_organization()
            self._count_not_applicable()
        return Evaluation(self.outcomes, self.counts)

    # -- pass 1
    def prepare(self) -> list[list[_Applied]]:
        """Pass 1: the versions applied to each source and whether they govern it. After it,
        :meth:`environment`, :meth:`early` and :meth:`outcome` can explain single results."""
        applied: list[list[_Applied]] = []
        as_of, budget = self.as_of, self.budget
        for index, source in enumerate(self.manifest.sources):
            if budget is not None:
                budget.check()
            start, end = interval_of(source, as_of)
            here: list[_Applied] = []
            for document in self.library.candidates(source):
                for segment in self._segments(document, start, end):
                    env = self._env(segment.version)
                    governed = segment.version.governs_closure(self.fast)(env.at(index))
                    env.governed[index] = governed
                    if governed is not False:
                        env.memo["early"].append(segment.early)
                    here.append(_Applied(segment.version, env, governed, segment.early))
            applied.append(here)
        return applied

    def _env(self, version: PolicyIR) -> Env:
        env = self.envs.get(id(version))
        if env is None:
            env = Env(self.manifest, governs=version.governs, shared=self.shared,
                      budget=self.budget)
            env.memo["version"] = version
            env.memo["early"] = []
            self.envs[id(version)] = env
            self.source_clauses[id(version)] = [c for c in version.clauses
                                                if c.scope == "source"]
        return env

    def _segments(self, document: Document, start: date, end: date) -> list[Segment]:
        key = (document.id, start, end)
        found = self.selected.get(key)
        if found is None:
            found = self.selected[key] = segments(document, start, end)
        return found

    # -- pass 2
    def _evaluate_sources(self, applied: list[list[_Applied]]) -> None:
        budget = self.budget
        for index, here in enumerate(applied):
            if budget is not None:
                budget.check()
            subject = f"/sources/{index}"
            for item in here:
                clauses = self.source_clauses[id(item.version)]
                if item.governed is False:
                    if self.include_all:
                        self._list_not_applicable(clauses, item.version, subject, item.early)
                    continue
                env = item.env.at(index)
                self.evaluated += len(clauses)
                for clause in clauses:
                    self._evaluate(clause, item.version, env, item.governed, subject,
                                   item.early)

    def environment(self, version: PolicyIR) -> Env:
        """The environment of a version after :meth:`prepare` (``governed`` filled in for the
        sources it was applied to; empty when it applied to none)."""
        return self.envs.get(id(version)) or Env(self.manifest, governs=version.governs,
                                                 shared=self.shared)

    def early(self, version: PolicyIR) -> bool:
        """Whether ``version`` governs only sources from before its effective date."""
        flags = self.environment(version).memo.get("early") or []
        return bool(flags) and all(flags)

    def outcome(self, clause: ClauseIR, version: PolicyIR, env: Env, governed: bool | None,
                subject: str, early: bool) -> Outcome:
        """One clause for one subject, with its missing paths: what explain shows."""
        status, note = self._status(clause, env, governed)
        found = self._missing(clause, env, version) if status == "undetermined" else ()
        return Outcome(clause, version, subject, status, found, note, early)

    # -- pass 3
    def _evaluate_model_and_organization(self) -> None:
        for env in self.envs.values():
            flags = env.memo["early"]
            if not flags:  # governs no source
                continue
            version, early = env.memo["version"], all(flags)
            env.source, env.index = None, -1
            for clause in version.clauses:
                if clause.scope != "source":
                    subject = "/model" if clause.scope == "model" else "/organization"
                    self._evaluate(clause, version, env, True, subject, early)

    def _evaluate(self, clause: ClauseIR, version: PolicyIR, env: Env, governed: bool | None,
                  subject: str, early: bool) -> None:
        status, note = self._status(clause, env, governed)
        self.counts[status] += 1
        if self.include_all or status in ("violated", "undetermined") or (
                clause.kind == "obligation" and status != "not_applicable"):
            found = self._missing(clause, env, version) if status == "undetermined" else ()
            self.outcomes.append(Outcome(clause, version, subject, status, found, note, early))
            if self.budget is not None:
                self.budget.check_findings(len(self.outcomes))

    def _list_not_applicable(self, clauses, version, subject, early) -> None:
        for clause in clauses:
            self.outcomes.append(Outcome(clause, version, subject, "not_applicable", (),
                                         "the policy does not govern this subject", early))
        if self.budget is not None:
            self.budget.check_findings(len(self.outcomes))

    def _count_not_applicable(self) -> None:
        """Count (and with ``--all`` list) every clause in force that does not apply.

        The count is defined by the library, not by the index: for each source, every
        source-scope clause of every document version in force during its interval, less
        those evaluated; for the model and the organization, the clauses of the documents
        that govern no source, in their version in force at the evaluation date."""
        in_force = self.library.derived("in-force", InForce)
        totals: dict[tuple[date, date], int] = {}
        total = 0
        for index, source in enumerate(self.manifest.sources):
            interval = interval_of(source, self.as_of)
            count = totals.get(interval)
            if count is None:
                count = totals[interval] = in_force.source_clauses(*interval)
            total += count
            if self.include_all:
                self._list_unindexed(index, source, interval)
        self.counts["not_applicable"] += total - self.evaluated
        active = {id(env.memo["version"]) for env in self.envs.values() if env.memo["early"]}
        for document in self.library.documents.values():
            if any(id(version) in active for version in document.versions):
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

    def _status(self, clause: ClauseIR, env: Env, governed: bool | None) -> tuple[str, str]:
        """The clause's status for the subject in ``env``, and a note on what decided it."""
        when, require = clause.closures(self.fast)
        applies = _and(governed, when(env) if when else True)
        if clause.kind == "permission":
            return ("satisfied" if applies is True else "not_applicable"), ""
        if clause.kind == "obligation":
            if applies is False:
                return "not_applicable", ""
            breach = _and(applies, _not(require(env)))
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
            return "violated", note
        if breach is False:
            if clause.kind == "obligation" and applies is False:
                return "not_applicable", ""
            return "satisfied", note
        return "undetermined", note

    def _exceptions(self, clause: ClauseIR, env: Env) -> tuple[bool | None, str]:
        result: bool | None = False
        for exception in clause.exceptions:
            when, _ = exception.closures(self.fast)
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
            # the same for every clause of the version on this source: found once
            key = ("governs-missing", env.index)
            governs_missing = env.memo.get(key)
            if governs_missing is None:
                governs_missing = env.memo[key] = frozenset(missing(version.governs, env))
            found |= governs_missing
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
