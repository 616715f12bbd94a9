"""Sources that share their relevant facts are evaluated once: the evaluator's memo.

A manifest of 100,000 sources draws them from a small vocabulary (providers, services, routes,
countries, licences, uses), each with its own dates and record counts. What the evaluation of a
source depends on is known statically (:mod:`tosguard.engine.reads`), so each source gets two
**keys** that hold exactly that:

* pass 1 (:class:`Shape`): the four fields the library's index reads (provider, licence,
  service, kind), which name the candidate documents; the **place of its interval** among the
  days on which those documents' versions begin and end (one bisection for each end), of which
  the versions in force, and whether the earliest is applied early, are a function; and a
  class of each path their ``governs`` conditions read;
* pass 2 (:class:`Combination`): the tuple of versions applied (with whether each governs
  the source, and early), and a class of each path read by the ``when``, ``require`` and
  exceptions of their source clauses.

A path only compared with literal dates or numbers (``<``, ``<=``, ``==``, …) or tested with
``is declared`` is classed by its place among those literals (bisection, and whether it equals
one), never by the value itself: exact for a total order of one type. A path tested only
against constants (set membership, ``contains``, ``matches``) is classed by the tuple of those
tests' answers, computed once per distinct value. A path read with another path of the source,
or a value of an unexpected type, is classed by its value. An absent value is classed by the
first level absent (``source.access`` or ``source.access.route``: what ``missing`` names).

Sources with the same key get the same answers from every condition that reads only their own
facts: the first is evaluated as if there were no memo, and the evaluator replays its results
(:class:`Replay`, :class:`Results`) for the others. What is per source stays per source: the
subject, the governed tables' entries, the evaluator's counts, the paths of ``missing`` (they
hold the source's index; the undecided notice's are kept as a template without it) and the
notices' texts. A condition that reads other sources for this one (``any origin where`` of a
source that declares ``derived_from``) is not a function of the key: the evaluator counts such
reads as they happen (:class:`tosguard.engine.ir.Reach`) and keeps no result of a source
where one happened.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter
from typing import Any

from . import ir
from .reads import Reads, reads

# distinct values whose tests' answers are kept per path; past it, values are keyed as they are
CLASSES_KEPT = 4096
_ORDERED = (date, int)  # literal types whose order is total: keyed by bisection
_RAW = object()  # marks a value keyed as it is
_STR = {str}
_index_fields = attrgetter(*ir.INDEX_FIELDS)


class Unkeyable(Exception):
    """A value that cannot be part of a key (not hashable): the source is evaluated as is."""


@dataclass(slots=True, eq=False)
class Replay:
    """Pass 1 of one key, kept from its first source for the others: ``applied``, the
    source's tuple of applications (see ``Evaluator.prepare``); ``writes``, each governed
    table and the code written in it; ``flags``, each version's list of early flags and the
    flag appended."""

    applied: tuple
    writes: tuple[tuple[bytearray, int], ...]
    flags: tuple[tuple[list[bool], bool], ...]
    # the "cannot tell which terms govern" notice: its titles, and its paths with those of
    # the source as their tail (None: not known yet, or not a template; see Evaluator)
    undecided: Any = None

    def apply(self, index: int) -> None:
        """Pass 1 for source ``index``: its entries in the governed tables, its early flags."""
        for codes, code in self.writes:
            codes[index] = code
        for flags, early in self.flags:
            flags.append(early)


class Results:
    """The clauses' results for the sources of one pass-2 key, per application of their
    tuple: ``statuses``, each source clause's raw status and note, and ``plans``, what pass 2
    replays of them (None until known)."""

    __slots__ = ("statuses", "plans")

    def __init__(self, applications: int):
        self.statuses: list[Any] = [None] * applications
        self.plans: list[Plan | None] = [None] * applications


@dataclass(slots=True, eq=False)
class Plan:
    """Pass 2 of one application, for every source of a key: how many results of each status,
    and those the report lists: ``(clause, status, note, undetermined)``, the last telling
    whether the source's missing paths are to be found."""

    counts: tuple[tuple[str, int], ...]
    listed: tuple[tuple[ir.ClauseIR, str, str, bool], ...]
    # per listed result, its missing paths as a template: ``(own, path)`` pairs, ``own``
    # telling that the path is the source's own (``/sources/N/`` + path); None until a source
    # found them, False where they are found for each source (see Evaluator._missing_of)
    missing: list[Any]


class Shape:
    """Pass 1's key of the sources with one set of index fields: the days that divide
    intervals among their candidate documents' versions, and how each path their ``governs``
    conditions read is keyed."""

    __slots__ = ("starts", "ends", "readers", "live")

    def __init__(self, documents: list, memo: SourceMemo):
        governing = Reads()
        starts: set[date] = set()
        ends: set[date] = set()
        for document in documents:
            first, first_begins, _ = document.ranges[0]
            known_from = first.applies_from or first_begins
            starts.add(known_from)  # before it: the earliest version, applied early
            for position, (version, begins, stops) in enumerate(document.ranges):
                ends.add(known_from if position == 0 else begins)
                if stops < date.max:
                    starts.add(stops + timedelta(days=1))
                governing.merge(memo.governs_reads(version))
        # a `governs` reading `governed` reads what pass 1 is still writing: never replayed
        self.live = governing.governed or bool(governing.unknown)
        self.starts = sorted(starts)  # `start` on or past one of them: a version ended, or began
        self.ends = sorted(ends)  # `end` on or past one of them: a version began
        self.readers = memo.readers(governing)

    def key(self, env: ir.Env, start: date, end: date) -> tuple:
        starts, ends = bisect_right(self.starts, start), bisect_right(self.ends, end)
        return (self, starts, ends, *[read(env) for read in self.readers])


class Combination:
    """Pass 2's key of the sources with one tuple of applications: how each path read by the
    source clauses of the versions that (may) govern them is keyed."""

    __slots__ = ("readers", "live")

    def __init__(self, applied: tuple, memo: SourceMemo):
        found = Reads()
        for item in applied:
            if item.governed is not False:
                found.merge(memo.clause_reads(item.version))
        self.live = bool(found.unknown)
        self.readers = memo.readers(found)

    def key(self, env: ir.Env) -> tuple:
        return (self, *[read(env) for read in self.readers])


def _reader(path: ir.Path, found: Reads):
    """The function giving the class of ``path``'s value for the source ``env`` is at. An
    absent value is keyed by the first level absent (``source.access`` or
    ``source.access.route``: the path ``missing`` names), as a negative number."""
    get, absent = path.getter(), _absent(path)
    if path in found.raw:

        def raw(env: ir.Env):
            value = get(env)
            return absent(env) if value is None else (_RAW, _frozen(value))

        return raw
    nodes = list(found.tests[path].values())
    literals = _literals(path, nodes)
    if literals is not None:
        return _by_order(get, absent, literals)
    return _by_tests(get, absent, tuple(node.compiled() for node in nodes))


def _absent(path: ir.Path):
    """``-depth`` of the first level of ``path`` absent for the source at hand."""
    if len(path.parts) == 1:
        return lambda env: -1
    prefixes = tuple(
        ir.Path(path.root, path.parts[:depth]).getter() for depth in range(1, len(path.parts))
    )

    def absent(env: ir.Env) -> int:
        for depth, get in enumerate(prefixes, start=1):
            if get(env) is None:
                return -depth
        return -len(path.parts)

    return absent


def _literals(path: ir.Path, nodes: list[ir.Cond]) -> list | None:
    """The literals ``path`` is compared with, sorted, where every node is such a comparison
    or ``is declared`` and they have one ordered type; else None."""
    values = set()
    for node in nodes:
        if isinstance(node, ir.Declared):
            continue
        if not isinstance(node, ir.Compare):
            return None
        other = node.right if node.left == path else node.left
        if not isinstance(other, ir.Lit):
            return None
        values.add(other.value)
    kinds = {type(v) for v in values}
    if len(kinds) > 1 or (kinds and next(iter(kinds)) not in _ORDERED):
        return None
    return sorted(values)


def _by_order(get, absent, literals: list):
    """Place among ``literals``: ``2 * position + equal``; a value of another type, whose
    comparisons fail, is keyed as it is."""
    kind = type(literals[0]) if literals else None
    count = len(literals)

    def by_order(env: ir.Env):
        value = get(env)
        if value is None:
            return absent(env)
        if kind is None:  # only tested with `is declared`
            return 0
        if type(value) is not kind:
            return (_RAW, _frozen(value))
        position = bisect_left(literals, value)
        return 2 * position + (position < count and literals[position] == value)

    return by_order


def _by_tests(get, absent, tests: tuple):
    """The answers of every test of the path, computed once per distinct value present (with
    the environment at the first source that has it)."""
    classes: dict[Any, tuple] = {}

    def by_tests(env: ir.Env):
        value = get(env)
        if value is None:
            return absent(env)
        frozen = value if type(value) is str else _frozen(value)
        try:
            found = classes.get(frozen)
        except TypeError:
            raise Unkeyable from None
        if found is None:
            if len(classes) >= CLASSES_KEPT:
                return (_RAW, frozen)
            found = classes[frozen] = tuple(test(env) for test in tests)
        return found

    return by_tests


def _frozen(value: Any) -> Any:
    """``value`` as part of a key: equal only to values that every test treats alike."""
    kind = type(value)
    if kind is str or value is None:
        return value
    if kind is list:
        items = tuple(value)
        if set(map(type, items)) <= _STR:  # the usual list, of strings
            return (list, items)
        return (list, tuple(_frozen(item) for item in items))
    return (kind, value)


class SourceMemo:
    """The keys, the replays and the results of one evaluation."""

    def __init__(self, library, manifest) -> None:
        self.library = library
        self.probe = ir.Env(manifest, governed={})
        self.shapes: dict[tuple, Shape] = {}
        self.replays: dict[tuple, Replay] = {}
        self.combinations: dict[tuple, Combination] = {}
        self.results: dict[tuple, Results] = {}
        self._readers: dict[tuple, Any] = {}
        self._reads: dict[tuple[str, int], Reads] = {}
        # sources replayed, evaluated and kept, evaluated alone: in pass 1, then in pass 2
        self.hits = self.misses = self.live = 0
        self.result_hits = self.result_misses = self.result_live = 0

    def governs_reads(self, version: ir.PolicyIR) -> Reads:
        """What ``version``'s ``governs`` reads (found once per version)."""
        found = self._reads.get(("governs", id(version)))
        if found is None:
            found = self._reads[("governs", id(version))] = reads(version.governs)
        return found

    def clause_reads(self, version: ir.PolicyIR) -> Reads:
        """What ``version``'s source clauses read: ``when``, ``require``, exceptions."""
        found = self._reads.get(("clauses", id(version)))
        if found is None:
            found = self._reads[("clauses", id(version))] = Reads()
            for clause in version.clauses:
                if clause.scope == "source":
                    exceptions = (e.when for e in clause.exceptions)
                    reads(clause.when, clause.require, *exceptions, into=found)
        return found

    def readers(self, found: Reads) -> tuple:
        """A reader per path ``found`` reads (one per path and tests, shared by the keys)."""
        made = []
        for path in found.paths():
            raw = path in found.raw
            tests = () if raw else tuple(sorted(found.tests[path]))
            reader = self._readers.get((path, raw, tests))
            if reader is None:
                reader = self._readers[(path, raw, tests)] = _reader(path, found)
            made.append(reader)
        return tuple(made)

    def key(self, index: int, source, start: date, end: date) -> tuple | None:
        """Source ``index``'s key in pass 1 (None: it is to be evaluated as is)."""
        fields = _index_fields(source)
        shape = self.shapes.get(fields)
        if shape is None:
            shape = self.shapes[fields] = Shape(self.library.candidates(source), self)
        if shape.live:
            return None
        try:
            key = shape.key(self.probe.at(index), start, end)
            hash(key)
        except (Unkeyable, TypeError):  # a value that cannot be hashed
            return None
        return key

    def results_of(self, index: int, applied: tuple) -> Results | None:
        """The results kept for source ``index``'s key in pass 2, its tuple of applications
        being ``applied`` (None: it is to be evaluated as is)."""
        combination = self.combinations.get(applied)
        if combination is None:
            combination = self.combinations[applied] = Combination(applied, self)
        if combination.live:
            return None
        try:
            key = combination.key(self.probe.at(index))
            found = self.results.get(key)
        except (Unkeyable, TypeError):
            return None
        if found is None:
            found = self.results[key] = Results(len(applied))
        return found

    @property
    def hit_rate(self) -> float:
        """The share of sources whose pass 1 was replayed."""
        total = self.hits + self.misses + self.live
        return self.hits / total if total else 0.0
