"""The compiled form of policies (IR) and its evaluation closures.

The IR is small slotted dataclasses with no pydantic in sight, so a compiled library pickles
and loads quickly, and ``tosguard check`` never imports the parser or the AST (the CLI's cold
start depends on it). :mod:`tosguard.engine.compile` produces it. Each IR condition builds a closure
``fn(env) -> True | False | None`` once per process: ``None`` is *unknown*, and the connectives
follow Kleene's three-valued logic (``false and unknown`` is false, ``true and unknown`` is
unknown).

:func:`missing` walks the IR again, only for unknown results, to name the manifest paths
whose absence made the result unknown.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# ---- evaluation environment -------------------------------------------------------------------
_CODES = {False: 1, True: 2, None: 3}  # 0: not recorded
_VALUES = (None, False, True, None)


class GovernedTable:
    """Whether each source is governed by one policy version (three-valued), by source index:
    the part of a ``dict[int, bool | None]`` the evaluator uses, one byte per source. A large
    manifest has a table per version applied (tens), so a dict entry per source and version
    would be most of an evaluation's memory. Indexes outside the sources (the ``-1`` of the
    model and the organization) are never recorded."""

    __slots__ = ("codes",)

    def __init__(self, size: int):
        self.codes = bytearray(size)

    def get(self, index: int, default: Any = None) -> Any:
        if 0 <= index < len(self.codes):
            code = self.codes[index]
            if code:
                return _VALUES[code]
        return default

    def __getitem__(self, index: int) -> bool | None:
        if 0 <= index < len(self.codes) and self.codes[index]:
            return _VALUES[self.codes[index]]
        raise KeyError(index)

    @staticmethod
    def code(value: bool | None) -> int:
        """The byte recorded for ``value`` (what the evaluator's memo writes in ``codes``)."""
        return _CODES[value]

    def __setitem__(self, index: int, value: bool | None) -> None:
        if not 0 <= index < len(self.codes):
            raise IndexError(index)
        self.codes[index] = _CODES[value]

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and 0 <= index < len(self.codes) and bool(self.codes[index])

    def __len__(self) -> int:
        return len(self.codes) - self.codes.count(0)

    def items(self) -> Iterator[tuple[int, bool | None]]:
        """The recorded entries, by ascending index (the order the evaluator records them)."""
        for index, code in enumerate(self.codes):
            if code:
                yield index, _VALUES[code]


class Reach:
    """How often conditions read other sources for the current one (an ``origin``
    quantifier, or a quantifier with ``other`` over such a body): one counter shared by the
    environments of an evaluation. The evaluator's memo (:mod:`tosguard.engine.memo`) replays
    a source's results for another only where no such read happened."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class Env:
    """What a condition sees: the manifest, the current source (if any) and its index, the
    governed-ness of each source under the policy version being evaluated, and a memo for
    quantifiers (their bodies never depend on the outer source, so each is computed once)."""

    __slots__ = (
        "manifest",
        "model",
        "organization",
        "facts",
        "sources",
        "source",
        "index",
        "governed",
        "governs",
        "memo",
        "shared",
        "budget",
        "version",
        "early",
        "decided",
        "reach",
    )

    def __init__(
        self,
        manifest,
        governed: dict[int, bool | None] | GovernedTable | None = None,
        governs: Cond | None = None,
        shared: dict | None = None,
        budget=None,
        reach: Reach | None = None,
    ):
        self.manifest = manifest
        self.model = manifest.model
        self.organization = manifest.organization
        self.facts = manifest.facts or {}
        self.sources = manifest.sources
        self.source = None
        self.index = -1
        self.governed = governed if governed is not None else GovernedTable(len(self.sources))
        self.governs = governs  # the version's `governs` condition, to explain `governed`
        self.memo: dict[Any, Any] = {}  # per-version caches: quantifier tallies, missing paths
        # Tallies of quantifiers whose bodies do not mention `governed`: the same for every
        # policy version, so shared by all the Envs of one evaluation.
        self.shared: dict[Any, Any] = shared if shared is not None else {}
        self.budget = budget  # a tosguard.engine.budget.Budget checked by long loops, or None
        # The evaluator's record of the policy version this environment evaluates: the
        # version, whether each of its applications was an early one (before the version took
        # effect), and whether it governs some source for certain while in force.
        self.version: PolicyIR | None = None
        self.early: list[bool] = []
        self.decided = False
        self.reach = reach if reach is not None else Reach()

    def at(self, index: int) -> Env:
        self.index = index
        self.source = self.sources[index]
        return self


def _state_without_closures(obj) -> tuple[None, dict]:
    """Pickle state of a slotted IR object without its built closures and generated functions
    (``fn_``, ``fns``, ``governs_fn`` and their ``fast`` forms): they cannot be pickled and
    are rebuilt after loading."""
    state = {}
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in _CLOSURE_SLOTS and hasattr(obj, name):
                state[name] = getattr(obj, name)
    return (None, state)


_CLOSURE_SLOTS = frozenset({"fn_", "fast_", "fns", "fast_fns", "governs_fn", "fast_governs_fn"})

# Source fields whose equality constraints in a policy's `governs` index the library.
INDEX_FIELDS = ("provider", "license", "service", "kind")


# ---- operands ---------------------------------------------------------------------------------
_ATTRIBUTE = {"from": "from_"}
_GETTERS: dict[Path, Any] = {}  # one getter per distinct path, shared by every condition


@dataclass(frozen=True, slots=True)
class Path:
    root: str
    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join((self.root, *self.parts))

    def pointer(self, env: Env) -> str:
        tail = "/".join(p.replace("~", "~0").replace("/", "~1") for p in self.parts)
        if self.root == "source":
            return f"/sources/{env.index}/{tail}"
        return f"/{self.root}/{tail}"

    def getter(self):
        found = _GETTERS.get(self)
        if found is None:
            found = _GETTERS[self] = self._build_getter()
        return found

    def _build_getter(self):
        attrs = tuple(_ATTRIBUTE.get(p, p) for p in self.parts)
        if self.root == "facts":
            keys = self.parts

            def get_fact(env: Env):
                value = env.facts
                for key in keys:
                    if not isinstance(value, dict):
                        return None
                    value = value.get(key)
                return value

            return get_fact
        base = {"source": "source", "model": "model", "organization": "organization"}[self.root]
        if len(attrs) == 1:
            (a,) = attrs

            def get1(env: Env):
                obj = getattr(env, base)
                return None if obj is None else getattr(obj, a)

            return get1

        def get_n(env: Env):
            value = getattr(env, base)
            for a in attrs:
                if value is None:
                    return None
                value = getattr(value, a)
            return value

        return get_n


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any

    def getter(self):
        value = self.value
        return lambda env: value


Operand = Path | Lit


# ---- conditions -------------------------------------------------------------------------------
@dataclass(slots=True)
class Cond:
    text: str
    fn_: Any = field(default=None, init=False, repr=False, compare=False)
    fast_: Any = field(default=None, init=False, repr=False, compare=False)  # see codegen

    def build(self):  # pragma: no cover - every node overrides it
        raise NotImplementedError

    def compiled(self):
        """The node's closure, built once (children reuse their parents' built closures)."""
        fn = getattr(self, "fn_", None)
        if fn is None:
            fn = self.build()
            self.fn_ = fn
        return fn

    def __getstate__(self):
        return _state_without_closures(self)

    def children(self) -> tuple[Cond, ...]:
        return ()

    def operands(self) -> tuple[Operand, ...]:
        return ()


@dataclass(slots=True)
class Const(Cond):
    value: bool = True

    def build(self):
        value = self.value
        return lambda env: value


@dataclass(slots=True)
class And(Cond):
    items: tuple[Cond, ...] = ()

    def children(self):
        return self.items

    def build(self):
        fns = tuple(item.compiled() for item in self.items)

        def and_(env):
            unknown = False
            for fn in fns:
                value = fn(env)
                if value is False:
                    return False
                if value is None:
                    unknown = True
            return None if unknown else True

        return and_


@dataclass(slots=True)
class Or(Cond):
    items: tuple[Cond, ...] = ()

    def children(self):
        return self.items

    def build(self):
        fns = tuple(item.compiled() for item in self.items)

        def or_(env):
            unknown = False
            for fn in fns:
                value = fn(env)
                if value is True:
                    return True
                if value is None:
                    unknown = True
            return None if unknown else False

        return or_


@dataclass(slots=True)
class Not(Cond):
    item: Cond = None  # type: ignore[assignment]

    def children(self):
        return (self.item,)

    def build(self):
        fn = self.item.compiled()

        def not_(env):
            value = fn(env)
            return None if value is None else not value

        return not_


_ORDER = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(slots=True)
class Compare(Cond):
    op: str = "=="
    left: Operand = None  # type: ignore[assignment]
    right: Operand = None  # type: ignore[assignment]

    def operands(self):
        return (self.left, self.right)

    def build(self):
        compare = _ORDER[self.op]
        if isinstance(self.right, Lit):
            get, constant = self.left.getter(), self.right.value

            def compare_constant(env):
                value = get(env)
                if value is None:
                    return None
                try:
                    return compare(value, constant)
                except TypeError:
                    return False

            return compare_constant
        left, right = self.left.getter(), self.right.getter()

        def compare_values(env):
            a, b = left(env), right(env)
            if a is None or b is None:
                return None
            try:
                return compare(a, b)
            except TypeError:
                return False

        return compare_values


@dataclass(slots=True)
class InSet(Cond):
    operand: Operand = None  # type: ignore[assignment]
    values: frozenset = frozenset()
    negated: bool = False

    def operands(self):
        return (self.operand,)

    def build(self):
        get, values, negated = self.operand.getter(), self.values, self.negated

        def in_set(env):
            value = get(env)
            if value is None:
                return None
            if isinstance(value, list):  # a list is "in" a set when all its items are
                return values.issuperset(value) != negated
            return (value in values) != negated

        return in_set


@dataclass(slots=True)
class Contains(Cond):
    operand: Operand = None  # type: ignore[assignment]
    value: Operand = None  # type: ignore[assignment]

    def operands(self):
        return (self.operand, self.value)

    def build(self):
        get, get_value = self.operand.getter(), self.value.getter()

        def contains(env):
            container, value = get(env), get_value(env)
            if container is None or value is None:
                return None
            if isinstance(container, str):
                return isinstance(value, str) and value in container
            try:
                return value in container
            except TypeError:
                return False

        return contains


@dataclass(slots=True)
class ContainsSet(Cond):
    operand: Operand = None  # type: ignore[assignment]
    values: frozenset = frozenset()
    mode: str = "any"

    def operands(self):
        return (self.operand,)

    def build(self):
        get, values = self.operand.getter(), self.values
        if self.mode == "any":

            def contains_any(env):
                container = get(env)
                if container is None:
                    return None
                if isinstance(container, str):
                    return any(v in container for v in values if isinstance(v, str))
                return not values.isdisjoint(container)

            return contains_any

        def contains_all(env):
            container = get(env)
            if container is None:
                return None
            if isinstance(container, str):
                return all(isinstance(v, str) and v in container for v in values)
            return values.issubset(container)

        return contains_all


@dataclass(slots=True)
class Matches(Cond):
    operand: Operand = None  # type: ignore[assignment]
    pattern: str = ""
    regex: bool = False

    def operands(self):
        return (self.operand,)

    def build(self):
        from ..language.patterns import matcher

        get, pattern, regex = self.operand.getter(), self.pattern, self.regex
        test = None  # compiled on first use: a check that never gets here never imports RE2

        def matches(env):
            nonlocal test
            value = get(env)
            if value is None:
                return None
            if not isinstance(value, str):
                return False
            if test is None:
                test = matcher(pattern, regex)
            return test(value)

        return matches


@dataclass(slots=True)
class Declared(Cond):
    operand: Operand = None  # type: ignore[assignment]
    negated: bool = False

    def operands(self):
        return ()  # never unknown: its answer is exactly whether the value is there

    def build(self):
        get, negated = self.operand.getter(), self.negated
        return lambda env: (get(env) is not None) != negated


@dataclass(slots=True)
class Governed(Cond):
    def build(self):
        return lambda env: env.governed.get(env.index, False)


@dataclass(slots=True)
class Predicate(Cond):
    name: str = ""
    body: Cond = None  # type: ignore[assignment]

    def children(self):
        return (self.body,)

    def build(self):
        return self.body.compiled()


@dataclass(slots=True)
class Quantifier(Cond):
    quantifier: str = "any"
    other: bool = False
    body: Cond = None  # type: ignore[assignment]

    def children(self):
        return (self.body,)

    def build(self, body=None):
        """The closure; ``body``: the function evaluating the body (default: its closure).

        Its tally is kept per evaluation: in the environment's memo under this node's identity
        (an environment belongs to one policy version), or, when the body does not mention
        `governed`, under the body's text in the tallies all versions share."""
        body = body or self.body.compiled()
        quantifier, other = self.quantifier, self.other
        gated = gated_by_governed(self.body)
        # its value for a source reads other sources' origins: count it (see Reach)
        reaches = other and mentions_origins(self.body)
        shared = not mentions_governed(self.body)
        key = ("quantifier", repr(self.body)) if shared else ("quantifier", id(self))

        def quantify(env: Env):
            memo = env.shared if shared else env.memo
            tally = memo.get(key)
            if tally is None:
                tally = _tally(env, body, gated)
                memo[key] = tally
            values, trues, falses, unknowns = tally
            if other and env.source is not None:
                if reaches:
                    env.reach.count += 1
                own = values[env.index]
                trues -= own is True
                falses -= own is False
                unknowns -= own is None
            if quantifier == "all":
                return False if falses else (None if unknowns else True)
            found = True if trues else (None if unknowns else False)
            if quantifier == "no":
                return None if found is None else not found
            return found

        return quantify


@dataclass(slots=True)
class Origins(Cond):
    """``any|all|no origin where <body>``: over the sources the current source was derived
    from, following ``derived_from`` transitively. An undeclared ``derived_from`` anywhere on
    the way leaves the set of origins unknown."""

    quantifier: str = "any"
    body: Cond = None  # type: ignore[assignment]

    def children(self):
        return (self.body,)

    def build(self, body=None):
        """The closure; ``body``: the function evaluating the body (default: its closure)."""
        body, quantifier = body or self.body.compiled(), self.quantifier

        def over_origins(env: Env):
            source = env.source
            if source is None or source.derived_from is not None:
                env.reach.count += 1  # reads other sources (undeclared origins are unknown)
            indexes, complete = origins_of(env, env.index)
            values = []
            saved = env.source, env.index
            try:
                values = [body(env.at(i)) for i in indexes]
            finally:
                env.source, env.index = saved
            unknown = not complete or None in values
            if quantifier == "all":
                return False if False in values else (None if unknown else True)
            found = True if True in values else (None if unknown else False)
            if quantifier == "no":
                return None if found is None else not found
            return found

        return over_origins


def origins_of(env: Env, index: int) -> tuple[list[int], bool]:
    """Indexes of the sources ``index`` derives from (transitively), and whether every
    ``derived_from`` on the way is declared."""
    # the same for every policy version: computed once per source and evaluation
    known = env.shared.get(("origins", index))
    if known is not None:
        return known
    ids = env.shared.get("ids")
    if ids is None:
        ids = {source.id: i for i, source in enumerate(env.sources)}
        env.shared["ids"] = ids
    found: list[int] = []
    seen = {index}
    pending = [index]
    complete = True
    while pending:
        derived = env.sources[pending.pop()].derived_from
        if derived is None:
            complete = False
            continue
        for source_id in derived:
            origin = ids.get(source_id)
            if origin is not None and origin not in seen:
                seen.add(origin)
                found.append(origin)
                pending.append(origin)
    env.shared[("origins", index)] = result = (sorted(found), complete)
    return result


def mentions_governed(cond: Cond) -> bool:
    """Whether ``cond`` (or a predicate it uses) depends on the policy version's ``governed``."""
    if isinstance(cond, Governed):
        return True
    return any(mentions_governed(child) for child in cond.children())


def mentions_quantifier(cond: Cond) -> bool:
    """Whether ``cond`` (or a predicate it uses) quantifies over the sources."""
    if isinstance(cond, Quantifier):
        return True
    return any(mentions_quantifier(child) for child in cond.children())


def mentions_origins(cond: Cond) -> bool:
    """Whether ``cond`` (or a predicate it uses) reads the origins of a source."""
    if isinstance(cond, Origins):
        return True
    return any(mentions_origins(child) for child in cond.children())


def gated_by_governed(cond: Cond) -> bool:
    """Whether ``cond`` is false wherever ``governed`` is: ``governed`` itself, or a
    conjunction with it among its conjuncts (``and`` is false as soon as one conjunct is,
    whatever the others are, unknown included), through predicates."""
    while isinstance(cond, Predicate):
        cond = cond.body
    if isinstance(cond, Governed):
        return True
    return isinstance(cond, And) and any(gated_by_governed(item) for item in cond.items)


def _tally(env: Env, body, gated: bool = False) -> tuple[list, int, int, int]:
    """Evaluate a quantifier body once for every source (the outer binding is restored).

    With ``gated`` (the body is :func:`gated_by_governed`), it is false for every source the
    policy version does not govern, without being run: the usual ``any source where (governed
    and …)`` of a model clause runs only on the few sources a version governs."""
    saved = env.source, env.index
    governed = env.governed
    if gated and isinstance(governed, GovernedTable):
        return _gated_tally(env, body, governed.codes, saved)
    values = []
    budget = env.budget
    try:
        for index in range(len(env.sources)):
            if budget is not None and not index & 255:
                budget.check()
            values.append(body(env.at(index)))
    finally:
        env.source, env.index = saved
    return (values, values.count(True), values.count(False), values.count(None))


def _gated_tally(env: Env, body, codes: bytearray, saved) -> tuple[list, int, int, int]:
    values: list[bool | None] = [False] * len(env.sources)
    budget = env.budget
    not_governed = (0, _CODES[False])  # unrecorded reads as not governed (`Governed`)
    try:
        for index, code in enumerate(codes):
            if code in not_governed:
                continue
            if budget is not None:
                budget.check()
            values[index] = body(env.at(index))
    finally:
        env.source, env.index = saved
    return (values, values.count(True), values.count(False), values.count(None))


def missing(cond: Cond, env: Env, limit: int = 20) -> set[str]:
    """The manifest paths whose absence leaves ``cond`` unknown (empty unless it is unknown)."""
    found: set[str] = set()
    _missing(cond, env, found, limit)
    return found


def _missing(cond: Cond, env: Env, found: set[str], limit: int) -> None:
    if len(found) >= limit or cond.compiled()(env) is not None:
        return
    if isinstance(cond, Quantifier):
        body = cond.body.compiled()
        saved = env.source, env.index
        try:
            for index in range(len(env.sources)):
                if cond.other and index == saved[1]:
                    continue
                if body(env.at(index)) is None:
                    _missing(cond.body, env, found, limit)
                if len(found) >= limit:
                    break
        finally:
            env.source, env.index = saved
        return
    if isinstance(cond, Origins):
        indexes, complete = origins_of(env, env.index)
        if not complete:
            pending = [env.index, *indexes]
            for index in pending:
                if env.sources[index].derived_from is None:
                    found.add(f"/sources/{index}/derived_from")
        body = cond.body.compiled()
        saved = env.source, env.index
        try:
            for index in indexes:
                if body(env.at(index)) is None:
                    _missing(cond.body, env, found, limit)
        finally:
            env.source, env.index = saved
        return
    if isinstance(cond, Governed):
        # `governed` is unknown where the version's `governs` is: name what that needs.
        if env.governs is not None:
            _missing(env.governs, env, found, limit)
        return
    for operand in cond.operands():
        if isinstance(operand, Path) and operand.getter()(env) is None:
            found.add(_deepest_missing(operand, env))
    for child in cond.children():
        _missing(child, env, found, limit)


def _deepest_missing(path: Path, env: Env) -> str:
    """Point at the first absent level: `/model` when the whole model is undeclared."""
    for depth in range(1, len(path.parts) + 1):
        prefix = Path(path.root, path.parts[:depth])
        if prefix.getter()(env) is None:
            if depth == 1 and path.root != "source" and path.root != "facts":
                container = {"model": env.model, "organization": env.organization}[path.root]
                if container is None:
                    return f"/{path.root}"
            return prefix.pointer(env)
    return path.pointer(env)


# ---- compiled policies ------------------------------------------------------------------------
@dataclass(slots=True)
class CitationIR:
    document: str
    section: str
    effective: date | None
    url: str
    quote: str
    unverified: str = ""  # why the quote is unverified; empty when checked against the source


@dataclass(slots=True)
class ClauseIR:
    policy: str
    id: str
    topic: str
    kind: str
    scope: str
    severity: str
    when: Cond | None
    require: Cond | None
    waivers: tuple[str, ...]
    message: str
    remedy: str
    citation: CitationIR
    file: str
    line: int
    lifts: tuple[tuple[str, str], ...] = ()
    exceptions: list[ClauseIR] = field(default_factory=list)
    fns: Any = None  # (when, require) closures, built after loading
    fast_fns: Any = None  # the same as generated functions (tosguard.engine.codegen)

    def __getstate__(self):
        return _state_without_closures(self)

    def closures(self, fast: bool = False):
        """The (when, require) functions: closures, or with ``fast`` generated functions
        (quicker to run, slower to build: for a long-running service or a large manifest)."""
        if fast:
            if getattr(self, "fast_fns", None) is None:
                from .codegen import function

                self.fast_fns = (
                    function(self.when) if self.when else None,
                    function(self.require) if self.require else None,
                )
            return self.fast_fns
        if getattr(self, "fns", None) is None:
            self.fns = (
                self.when.compiled() if self.when else None,
                self.require.compiled() if self.require else None,
            )
        return self.fns


@dataclass(slots=True)
class PolicyIR:
    id: str
    provider: str
    document: str
    services: tuple[str, ...]
    version: str
    effective: date
    ends: date | None
    url: str
    licenses: tuple[str, ...]  # the licence ids it answers to, canonical first
    applies_from: date | None  # its text applies from this date, before `effective`
    governs: Cond
    clauses: list[ClauseIR]
    file: str
    line: int
    keys: dict[str, frozenset]  # index constraints read off `governs`
    governs_fn: Any = None
    fast_governs_fn: Any = None

    def __getstate__(self):
        return _state_without_closures(self)

    def governs_closure(self, fast: bool = False):
        """The function deciding ``governs`` (see :meth:`ClauseIR.closures` for ``fast``)."""
        if fast:
            if getattr(self, "fast_governs_fn", None) is None:
                from .codegen import function

                self.fast_governs_fn = function(self.governs)
            return self.fast_governs_fn
        if getattr(self, "governs_fn", None) is None:
            self.governs_fn = self.governs.compiled()
        return self.governs_fn

    @property
    def label(self) -> str:
        return f"{self.id}@{self.effective}"
