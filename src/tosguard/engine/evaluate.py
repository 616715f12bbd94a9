"""Evaluate a manifest against a compiled library.

Identity comes first (:mod:`tosguard.engine.identity`): licence ids are canonicalised, undeclared
claims are empty, and ids no policy knows become notices. For each source, the index names the
documents that may govern it; for each such document, the versions in force during the
source's ``collected`` interval are selected (an interval that crosses a version boundary is
split, and each version applies to its part). Which of them govern the source is then decided:
a licence document governs exactly the sources that declare one of its licence ids (its
``governs`` decides for sources that declare none); any other document by its ``governs``,
three-valued; ``human`` and ``web-crawl`` sources only by documents that name their kind. A
source for which that stays unknown gets one notice, "cannot tell which terms govern source
`x`", with the declarations that would decide it, instead of one finding per clause of every
document that might apply; so does a source governed by nothing, and a source used before the
earliest version of a document the library holds ("no version in force"). Those clauses are
listed with ``--all`` only. The rest are evaluated once per subject in their scope:

* ``prohibition``: ``governed and when and not (an exception applies) and not waived``
  → violated / undetermined / satisfied; a prohibition yields only to a permission that names
  it (``lifts``) or to an agreement it names (``waived by``), never to anything else.
* ``obligation``: triggered by ``governed and when``; then ``require`` must hold.
* ``permission``: satisfied where it applies, otherwise not applicable; an unproven
  permission grants nothing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from ..language.vocab import STATUSES
from ..util import gc_paused
from . import budget as budgets
from .identity import UNGOVERNED_KINDS, Notice, Vocabulary, canonical_manifest, unknown_ids
from .ir import (
    ClauseIR,
    Env,
    GovernedTable,
    PolicyIR,
    Reach,
    mentions_origins,
    mentions_quantifier,
    missing,
)
from .library import Document, Library
from .memo import Plan, Replay, Results, SourceMemo

ONE_DAY = timedelta(days=1)
LARGE_MANIFEST = 1000  # sources; above this the cyclic GC is paused during evaluation
# sources; from this many, conditions run as generated functions even in a library not
# accelerated (building them takes longer than they save on fewer sources)
GENERATED_FROM = 5000
# sources; from this many, sources that share their facts are evaluated once (tosguard.engine.
# memo): keying a source tests each value read against every test of it (a `matches` may load
# RE2), which a small manifest does not win back
MEMO_FROM = 1000
# intervals whose selected versions are kept; sources often share their dates, but a manifest
# of 100,000 sources with dates of their own would keep a list per source and document
SELECTED_CACHE = 4096


@dataclass(slots=True)
class Segment:
    """A version of a document applied to (part of) a source's collection interval."""

    version: PolicyIR
    start: date
    end: date
    early: bool  # a part before the earliest version the library holds: no terms known


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


def segments(document: Document, start: date, end: date) -> list[Segment]:
    """The versions of ``document`` that apply to ``[start, end]``, each with its part.

    The earliest version applies from its ``applies from`` date when it declares one, else
    from its effective date; a part before that is an ``early`` segment of the earliest
    version: the library holds no version in force then, and what it says is shown, not
    applied."""
    found = []
    first, first_begins, _ = document.ranges[0]
    known_from = first.applies_from or first_begins
    if start < known_from:
        found.append(Segment(first, start, min(end, known_from - ONE_DAY), True))
    for position, (version, begins, ends) in enumerate(document.ranges):
        if position == 0:
            begins = known_from
        if begins > end:
            break
        if ends >= start:
            found.append(
                Segment(
                    version, start if start > begins else begins, end if end < ends else ends, False
                )
            )
    return found


class InForce:
    """How many source-scope clauses are in force during an interval, over the whole library,
    in O(log n): a version's range meets ``[a, b]`` iff it begins on or before ``b`` and ends
    on or after ``a``. The days before a document's earliest version count as one more range
    of that version (the ``early`` segment :func:`segments` makes of them)."""

    def __init__(self, library: Library):
        starts, stops = [], []
        for document in library.documents.values():
            for position, (version, begins, ends) in enumerate(document.ranges):
                weight = _source_clause_count(version)
                if position == 0:
                    begins = version.applies_from or begins
                    if begins > date.min:
                        starts.append((date.min, weight))
                        stops.append((begins - ONE_DAY, weight))
                starts.append((begins, weight))
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
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True, slots=True, eq=False)  # shared: compared and hashed by identity
class _Applied:
    """A policy version applied to a source: its environment, whether it governs the
    source (three-valued) and whether it was applied before its effective date. The same for
    every source with the same answers, so one object is shared by all of them (and so is
    each source's tuple of them): a large manifest keeps a reference per source, not a list
    of new objects."""

    version: PolicyIR
    env: Env
    governed: bool | None
    early: bool
    document: Document


class Evaluator:
    """Evaluates one manifest, source by source.

    Pass 1 decides, for every source, which policy versions apply and whether each governs
    it; pass 2 evaluates the source-scope clauses of the versions that (may) govern it (a
    quantifier over ``governed`` sources needs pass 1 complete); pass 3 evaluates the model
    and organization clauses of every version that governs some source. Walking the sources
    once per pass, not once per version, keeps large manifests in cache. Only the outcomes
    the report shows are kept; the others are counted.

    From :data:`MEMO_FROM` sources (or with ``memo=True``), sources whose evaluation reads the
    same facts are evaluated once, and the results replayed for the others
    (:mod:`tosguard.engine.memo`); ``memo=False`` evaluates every source.
    """

    def __init__(
        self,
        library: Library,
        manifest,
        as_of: date,
        include_all: bool = False,
        accept_unknown_ids: bool = False,
        memo: bool | None = None,
    ):
        self.library = library
        vocabulary = library.derived("vocabulary", Vocabulary)
        self.declared = manifest  # as written
        self.manifest = canonical_manifest(manifest, vocabulary)  # what conditions read
        self.as_of = as_of
        self.include_all = include_all
        self.notices: list[Notice] = unknown_ids(self.manifest, vocabulary, accept_unknown_ids)
        self.outcomes: list[Outcome] = []
        self.counts = dict.fromkeys(STATUSES, 0)
        self.shared: dict = {}  # quantifier tallies shared across policy versions
        self.evaluated = 0  # source-scope results actually evaluated (any status)
        self.envs: dict[int, Env] = {}  # one environment per policy version applied
        self.selected: dict[tuple[str, date, date], list[Segment]] = {}
        self.bounds: dict[str, _Bounds | None] = {}  # per document: see _bounds
        self.applications: dict[tuple, tuple] = {}  # see _applications
        self.source_clauses: dict[int, list[ClauseIR]] = {}
        self.fast = library.fast or len(manifest.sources) >= GENERATED_FROM
        self.budget = budgets.current()  # checked once per source (see tosguard.engine.budget)
        # sources with the same relevant facts evaluated once (tosguard.engine.memo), from
        # MEMO_FROM sources unless `memo` says (the tests compare the two)
        self.reach = Reach()
        if memo is None:
            memo = len(manifest.sources) >= MEMO_FROM
        self.memo = SourceMemo(library, self.manifest) if memo else None
        self.replays: list[Replay | None] = []  # after prepare: each source's, if kept

    def run(self) -> Evaluation:
        with gc_paused(len(self.manifest.sources) >= LARGE_MANIFEST):
            applied = self.prepare()
            self._notice_identities(applied)
            self._evaluate_sources(applied)
            self._evaluate_model_and_organization()
            self._count_not_applicable()
        return Evaluation(self.outcomes, self.counts, self.notices)

    # -- pass 1
    def prepare(self) -> list[tuple[_Applied, ...]]:
        """Pass 1: the versions applied to each source and whether they govern it. After it,
        :meth:`environment`, :meth:`early` and :meth:`outcome` can explain single results."""
        applied: list[tuple[_Applied, ...]] = []
        as_of, budget = self.as_of, self.budget
        # shared, read-only: one _Applied per (version, governed, early), one tuple per
        # combination of them
        items: dict[tuple, _Applied] = {}
        combinations: dict[tuple[_Applied, ...], tuple[_Applied, ...]] = {}
        memo, reach = self.memo, self.reach
        replays: list[Replay | None] = []
        for index, source in enumerate(self.manifest.sources):
            if budget is not None:
                budget.check()
            start, end = interval_of(source, as_of)
            key = memo.key(index, source, start, end) if memo is not None else None
            if memo is not None and key is not None:
                replay = memo.replays.get(key)
                if replay is not None:
                    memo.hits += 1
                    replay.apply(index)
                    applied.append(replay.applied)
                    replays.append(replay)
                    continue
            reached = reach.count
            writes: list[tuple[bytearray, int]] = []
            flags: list[tuple[list[bool], bool]] = []
            here: list[_Applied] = []
            for document in self.library.candidates(source):
                by_licence = bool(document.licences) and source.license is not None
                for version, early, env, governs in self._applications(document, start, end):
                    governed = True if by_licence else governs(env.at(index))
                    env.governed[index] = governed
                    if key is not None:
                        assert isinstance(env.governed, GovernedTable)
                        writes.append((env.governed.codes, GovernedTable.code(governed)))
                    if governed is not False:
                        env.early.append(early)
                        flags.append((env.early, early))
                        env.decided |= governed is True and not early
                    if governed is False and not self.include_all:
                        continue  # passes 2 and 3 skip it (it is in `env.governed`)
                    item_key = (id(version), governed, early, document.id)
                    item = items.get(item_key)
                    if item is None:
                        item = items[item_key] = _Applied(version, env, governed, early, document)
                    here.append(item)
            combination = tuple(here)
            combination = combinations.setdefault(combination, combination)
            applied.append(combination)
            kept = None
            if memo is not None:
                if key is not None and reach.count == reached:
                    memo.misses += 1
                    kept = memo.replays[key] = Replay(combination, tuple(writes), tuple(flags))
                else:  # unkeyable, or it read other sources: not a function of its key
                    memo.live += 1
            replays.append(kept)
        self.replays = replays
        return applied

    # -- identity: one notice per source whose terms cannot be told
    def _notice_identities(self, applied: list[tuple[_Applied, ...]]) -> None:
        named = {
            n.subject for n in self.notices if n.code in ("unknown-provider", "unknown-license")
        }
        budget = self.budget
        for index, here in enumerate(applied):
            if budget is not None:
                budget.check()
                budget.check_findings(len(self.notices))
            subject = f"/sources/{index}"
            source = self.manifest.sources[index]
            undecided = [item for item in here if item.governed is None and not item.early]
            if undecided:
                self.notices.append(self._undecided_notice(index, source, undecided))
            elif (
                not self.library.partial
                and subject not in named
                and source.kind not in UNGOVERNED_KINDS
                and not any(item.governed for item in here)
            ):
                self.notices.append(_ungoverned_notice(subject, source))
            early: dict[str, tuple[int, _Applied]] = {}
            for position, item in enumerate(here):
                if item.early and item.governed is not False:
                    early.setdefault(item.document.id, (position, item))
            if early:
                results = self._results(index, here)
                for position, item in early.values():
                    said = self._statuses(index, position, item, results)
                    self.notices.append(self._early_notice(index, source, item, said))

    def _undecided_notice(self, index: int, source, undecided: list[_Applied]) -> Notice:
        subject = f"/sources/{index}"
        replay = self.replays[index] if self.replays else None
        own = f"{subject}/"
        if replay is not None and replay.undecided is not None:
            titles, tails = replay.undecided  # the same for every source of the key
            paths = tuple(own + tail if mine else tail for mine, tail in tails)
        else:
            documents: dict[str, str] = {}
            found: set[str] = set()
            for item in undecided:
                documents.setdefault(item.document.id, item.version.document)
                found |= missing(item.version.governs, item.env.at(index))
            paths = tuple(sorted(found, key=_pointer_key))
            titles = list(documents.values())
            if replay is not None and not any(
                mentions_quantifier(item.version.governs) for item in undecided
            ):
                # a quantifier names other sources' paths; without one, every path is this
                # source's or the same for all (the order too: the index is the same in all)
                replay.undecided = (
                    titles,
                    tuple(
                        (True, p[len(own) :]) if p.startswith(own) else (False, p) for p in paths
                    ),
                )
        shown = ", ".join(titles[:3]) + (f" and {len(titles) - 3} more" if len(titles) > 3 else "")
        declare = ", ".join(f"`{p}`" for p in paths) or "its identity"
        return Notice(
            "governing-terms",
            subject,
            subject,
            f"cannot tell which terms govern source `{source.id}`: {shown} may govern it",
            f"Declare {declare}: {'it decides' if len(paths) == 1 else 'they decide'} which "
            "terms govern this source (`tosguard "
            "explain` and `--all` show every clause that might apply).",
            paths,
        )

    def _early_notice(
        self, index: int, source, item: _Applied, statuses: tuple[tuple[str, str], ...]
    ) -> Notice:
        version = item.version
        subject = f"/sources/{index}"
        start, _ = interval_of(source, self.as_of)
        said: dict[str, list[str]] = {"violated": [], "undetermined": []}
        clauses = self.source_clauses[id(version)]
        for clause, (status, _) in zip(clauses, statuses, strict=True):
            if status in said:
                said[status].append(clause.id)
        if said["violated"] or said["undetermined"]:
            would = "; ".join(
                f"{status}: " + ", ".join(f"`{c}`" for c in clauses)
                for status, clauses in said.items()
                if clauses
            )
        else:
            would = "no clause violated"
        return Notice(
            "no-version-in-force",
            subject,
            f"{subject}/collected" if source.collected else subject,
            f"the library holds no version of {version.document} in force on {start} "
            f"(source `{source.id}`); the earliest it holds, effective {version.effective}, "
            f"would say: {would}",
            f"Add the version of {version.document} in force on {start} to the policy set; if "
            "the earliest version's text applied from an earlier date, declare it with "
            "`applies from`; or correct `collected`.",
            policy=version.id,
            provider=version.provider or None,
            policy_location={"file": version.file, "line": version.line},
        )

    def _env(self, version: PolicyIR) -> Env:
        env = self.envs.get(id(version))
        if env is None:
            env = Env(
                self.manifest,
                governs=version.governs,
                shared=self.shared,
                budget=self.budget,
                reach=self.reach,
            )
            env.version = version
            self.envs[id(version)] = env
            self.source_clauses[id(version)] = [c for c in version.clauses if c.scope == "source"]
        return env

    def _applications(self, document: Document, start: date, end: date) -> tuple:
        """What pass 1 needs of :func:`segments`: each version applied, whether early, its
        environment and its ``governs`` function. The versions in force during an interval
        are a run of ``document.ranges`` (their days ascend), so the answer depends on the
        interval only through that run's bounds: kept per bounds, where :meth:`_segments`
        could keep it per interval only (and sources seldom share their dates)."""
        if document.id not in self.bounds:
            self.bounds[document.id] = _bounds(document)
        bounds = self.bounds[document.id]
        if bounds is None:  # not a run: select them one by one
            key: tuple = (document.id, start, end)
            found = self.applications.get(key)
            if found is None:
                if len(self.applications) >= SELECTED_CACHE:
                    self.applications.clear()
                found = self.applications[key] = self._applied_parts(segments(document, start, end))
            return found
        known_from, begins, ends = bounds
        early = start < known_from
        key = (document.id, early, bisect_left(ends, start), bisect_right(begins, end))
        found = self.applications.get(key)
        if found is None:
            found = self.applications[key] = self._applied_parts(segments(document, start, end))
        return found

    def _applied_parts(self, found: list[Segment]) -> tuple:
        return tuple(
            (
                segment.version,
                segment.early,
                self._env(segment.version),
                segment.version.governs_closure(self.fast),
            )
            for segment in found
        )

    def _segments(self, document: Document, start: date, end: date) -> list[Segment]:
        key = (document.id, start, end)
        found = self.selected.get(key)
        if found is None:
            if len(self.selected) >= SELECTED_CACHE:  # dates that never recur: do not hoard
                self.selected.clear()
            found = self.selected[key] = segments(document, start, end)
        return found

    # -- pass 2
    def _evaluate_sources(self, applied: list[tuple[_Applied, ...]]) -> None:
        budget = self.budget
        for index, here in enumerate(applied):
            if budget is not None:
                budget.check()
            subject = f"/sources/{index}"
            looked_up, results = False, None
            for position, item in enumerate(here):
                clauses = self.source_clauses[id(item.version)]
                if item.governed is False:
                    if self.include_all:
                        self._list_not_applicable(clauses, item.version, subject, item.early)
                    continue
                env = item.env.at(index)
                self.evaluated += len(clauses)
                if (item.governed is None or item.early) and not self.include_all:
                    continue  # the source's one notice stands for these
                if not looked_up:
                    looked_up, results = True, self._results(index, here)
                plan = results.plans[position] if results is not None else None
                if plan is None:
                    statuses = self._statuses(index, position, item, results)
                    if results is None or results.statuses[position] is not statuses:
                        for clause, (status, note) in zip(clauses, statuses, strict=True):
                            self._record(
                                clause, item.version, env, subject, item.early, status, note
                            )
                        continue  # not kept: evaluated for this source alone
                    plan = results.plans[position] = self._plan(clauses, item, statuses)
                elif self.memo is not None:
                    self.memo.result_hits += 1
                self._replay(plan, item, env, subject)

    def _results(self, index: int, here: tuple[_Applied, ...]) -> Results | None:
        """The results kept for the sources of source ``index``'s pass-2 key, if any."""
        return self.memo.results_of(index, here) if self.memo is not None else None

    def _statuses(
        self, index: int, position: int, item: _Applied, results: Results | None
    ) -> tuple[tuple[str, str], ...]:
        """The status and note of each source clause of ``item``, the application at
        ``position`` of source ``index``: kept in ``results`` for the other sources of its key,
        unless the conditions read other sources for it (see :mod:`tosguard.engine.memo`)."""
        if results is not None:
            kept = results.statuses[position]
            if kept is not None:
                return kept
        env = item.env.at(index)
        reached = self.reach.count
        found = tuple(
            self._status(clause, env, item.governed)
            for clause in self.source_clauses[id(item.version)]
        )
        if self.memo is not None:
            if results is not None and self.reach.count == reached:
                results.statuses[position] = found
                self.memo.result_misses += 1
            else:
                self.memo.result_live += 1
        return found

    def _plan(self, clauses: list[ClauseIR], item: _Applied, statuses) -> Plan:
        """What pass 2 does with ``statuses`` for every source of a key (see :meth:`_record`)."""
        counts: dict[str, int] = {}
        listed = []
        for clause, (status, note) in zip(clauses, statuses, strict=True):
            undetermined = status == "undetermined"
            status, note = _shown(status, note, item.early, item.version)
            counts[status] = counts.get(status, 0) + 1
            if self._listed(clause, status):
                listed.append((clause, status, note, undetermined))
        return Plan(tuple(counts.items()), tuple(listed), [None] * len(listed))

    def _replay(self, plan: Plan, item: _Applied, env: Env, subject: str) -> None:
        counts = self.counts
        for status, count in plan.counts:
            counts[status] += count
        for number, (clause, status, note, undetermined) in enumerate(plan.listed):
            found = self._missing_of(plan, number, item, env) if undetermined else ()
            self.outcomes.append(
                Outcome(clause, item.version, subject, status, found, note, item.early)
            )
            if self.budget is not None:
                self.budget.check_findings(len(self.outcomes))

    def _missing_of(self, plan: Plan, number: int, item: _Applied, env: Env) -> tuple[str, ...]:
        """The missing paths of the ``number``-th result ``plan`` lists, for the source ``env``
        is at. The sources of a key give every condition the same answers, so where the paths
        can only be the source's own or the same for all (the version governs the source for
        certain, so its ``governs`` names none, and no quantifier reads other sources), the
        first source's are kept as a template and the others' made from it."""
        clause = plan.listed[number][0]
        template = plan.missing[number]
        if template is None or template is False:
            found = self._missing(clause, env, item.version)
            if template is None:
                plan.missing[number] = (
                    _template(found, env.index) if _own_paths_only(clause, item) else False
                )
            return found
        own = f"/sources/{env.index}/"
        return tuple(own + path if mine else path for mine, path in template)

    def environment(self, version: PolicyIR) -> Env:
        """The environment of a version after :meth:`prepare` (``governed`` filled in for the
        sources it was applied to; empty when it applied to none)."""
        return self.envs.get(id(version)) or Env(
            self.manifest, governs=version.governs, shared=self.shared, reach=self.reach
        )

    def early(self, version: PolicyIR) -> bool:
        """Whether ``version`` governs only sources from before its effective date."""
        flags = self.environment(version).early
        return bool(flags) and all(flags)

    def outcome(
        self,
        clause: ClauseIR,
        version: PolicyIR,
        env: Env,
        governed: bool | None,
        subject: str,
        early: bool,
    ) -> Outcome:
        """One clause for one subject, with its missing paths: what explain shows."""
        status, note = self._status(clause, env, governed)
        found = self._missing(clause, env, version) if status == "undetermined" else ()
        status, note = _shown(status, note, early, version)
        return Outcome(clause, version, subject, status, found, note, early)

    # -- pass 3
    def _evaluate_model_and_organization(self) -> None:
        for env in self.envs.values():
            flags = env.early
            if not flags:  # governs no source
                continue
            if not env.decided and not self.include_all:
                continue  # only maybe, or only before its time: the sources' notices say so
            version, early = env.version, all(flags)
            assert version is not None  # set when the environment was made
            env.source, env.index = None, -1
            for clause in version.clauses:
                if clause.scope != "source":
                    subject = "/model" if clause.scope == "model" else "/organization"
                    self._evaluate(clause, version, env, True, subject, early)

    def _evaluate(
        self,
        clause: ClauseIR,
        version: PolicyIR,
        env: Env,
        governed: bool | None,
        subject: str,
        early: bool,
    ) -> None:
        status, note = self._status(clause, env, governed)
        self._record(clause, version, env, subject, early, status, note)

    def _record(
        self,
        clause: ClauseIR,
        version: PolicyIR,
        env: Env,
        subject: str,
        early: bool,
        status: str,
        note: str,
    ) -> None:
        """Count a clause's result for a subject, and keep it when the report lists it."""
        found = self._missing(clause, env, version) if status == "undetermined" else ()
        status, note = _shown(status, note, early, version)
        self.counts[status] += 1
        if self._listed(clause, status):
            self.outcomes.append(Outcome(clause, version, subject, status, found, note, early))
            if self.budget is not None:
                self.budget.check_findings(len(self.outcomes))

    def _listed(self, clause: ClauseIR, status: str) -> bool:
        """Whether the report lists a result (the others are only counted)."""
        return (
            self.include_all
            or status in ("violated", "undetermined")
            or (clause.kind == "obligation" and status != "not_applicable")
        )

    def _list_not_applicable(self, clauses, version, subject, early) -> None:
        for clause in clauses:
            self.outcomes.append(
                Outcome(
                    clause,
                    version,
                    subject,
                    "not_applicable",
                    (),
                    "the policy does not govern this subject",
                    early,
                )
            )
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
        budget = self.budget
        for index, source in enumerate(self.manifest.sources):
            if budget is not None:
                budget.check()
            interval = interval_of(source, self.as_of)
            count = totals.get(interval)
            if count is None:
                count = totals[interval] = in_force.source_clauses(*interval)
            total += count
            if self.include_all:
                self._list_unindexed(index, source, interval)
        self.counts["not_applicable"] += total - self.evaluated
        active = {id(env.version) for env in self.envs.values() if env.early}
        for document in self.library.documents.values():
            if any(id(version) in active for version in document.versions):
                continue
            for segment in self._segments(document, self.as_of, self.as_of):
                clauses = [c for c in segment.version.clauses if c.scope != "source"]
                self.counts["not_applicable"] += len(clauses)
                if self.include_all:
                    for clause in clauses:
                        subject = "/model" if clause.scope == "model" else "/organization"
                        self.outcomes.append(
                            Outcome(
                                clause,
                                segment.version,
                                subject,
                                "not_applicable",
                                (),
                                "the policy governs no source of this manifest",
                                segment.early,
                            )
                        )

    def _list_unindexed(self, index: int, source, interval: tuple[date, date]) -> None:
        """With ``--all``: the not-applicable results of documents the index ruled out."""
        candidates = {d.id for d in self.library.candidates(source)}
        for document in self.library.documents.values():
            if document.id in candidates:
                continue
            for segment in self._segments(document, *interval):
                clauses = [c for c in segment.version.clauses if c.scope == "source"]
                self._list_not_applicable(
                    clauses, segment.version, f"/sources/{index}", segment.early
                )

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
            waived, waived_by = self.waiver(clause)
            if lifted is True:
                note = f"permitted by exception `{lifted_by}`"
            elif waived is True:
                note = f"waived by agreement `{waived_by}`"
            elif clause.waivers:
                note = (
                    "no agreement that waives it is declared ("
                    + " or ".join(f"`{w}`" for w in clause.waivers)
                    + " in `organization.agreements`)"
                )
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
                return (
                    True,
                    f"{exception.policy}/{exception.id}"
                    if exception.policy != clause.policy
                    else exception.id,
                )
            if value is None:
                result = None
        return result, ""

    def waiver(self, clause: ClauseIR) -> tuple[bool, str]:
        """Whether an agreement the manifest declares waives ``clause``: a claim holds only
        when declared (an absent list is an empty one, see :mod:`tosguard.engine.identity`)."""
        if not clause.waivers:
            return False, ""
        organization = self.manifest.organization
        agreements = (organization.agreements if organization is not None else None) or ()
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
        return tuple(sorted(found, key=_pointer_key))


def _own_paths_only(clause: ClauseIR, item: _Applied) -> bool:
    """Whether the missing paths of ``clause`` for a source can only be the source's own or
    the same for every source: the version governs it for certain (its ``governs`` then
    names nothing) and no condition quantifies over the sources or reads their origins."""
    conditions = [clause.when, clause.require, *(e.when for e in clause.exceptions)]
    return item.governed is True and not any(
        mentions_quantifier(c) or mentions_origins(c) for c in conditions if c is not None
    )


def _template(found: tuple[str, ...], index: int) -> tuple[tuple[bool, str], ...] | bool:
    """``found`` with the source's own prefix taken off its paths (False where a path names
    another source, or the source itself without a field: not a template)."""
    own = f"/sources/{index}/"
    template = []
    for path in found:
        if path.startswith(own):
            template.append((True, path[len(own) :]))
        elif path.startswith("/sources/") or path == "/sources":
            return False
        else:
            template.append((False, path))
    return tuple(template)


def _shown(status: str, note: str, early: bool, version: PolicyIR) -> tuple[str, str]:
    """A result under a version applied before its time is not a result: it is shown as
    undetermined, with what that version would say (``--all`` and ``explain`` only)."""
    if not early or status == "not_applicable":
        return status, note
    said = f"the version effective {version.effective} would find it {status.replace('_', ' ')}"
    return "undetermined", f"{note}; {said}" if note else said


_Bounds = tuple[date, list[date], list[date]]


def _bounds(document: Document) -> _Bounds | None:
    """The first day a document's terms are known from, and the first and last days of its
    ranges as :func:`segments` takes them (the earliest from ``known_from``), for bisecting;
    None where those days do not ascend, so that the versions in force during an
    interval might not be a run of them."""
    first, first_begins, _ = document.ranges[0]
    known_from = first.applies_from or first_begins
    begins = [known_from, *(b for _, b, _ in document.ranges[1:])]
    ends = [e for _, _, e in document.ranges]
    if begins != sorted(begins) or ends != sorted(ends):
        return None
    return known_from, begins, ends


def _ungoverned_notice(subject: str, source) -> Notice:
    described = (
        ", ".join(
            f"{name} `{value}`"
            for name, value in (
                ("kind", source.kind),
                ("provider", source.provider),
                ("service", source.service),
                ("licence", source.license),
            )
            if value is not None
        )
        or "nothing declared"
    )
    return Notice(
        "no-governing-terms",
        subject,
        subject,
        f"no policy in the set governs source `{source.id}` ({described}): tosguard cannot "
        "tell what its terms allow",
        "Check the source's `kind`, `provider`, `service` and `license`; if they are right, "
        "add a policy for the terms that govern it (or declare `kind: human` for data your "
        "own people wrote).",
    )


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


def evaluate(
    library: Library,
    manifest,
    as_of: date,
    include_all: bool = False,
    accept_unknown_ids: bool = False,
) -> Evaluation:
    return Evaluator(library, manifest, as_of, include_all, accept_unknown_ids).run()
