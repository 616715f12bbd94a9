"""Checked AST → IR → closures.

The IR is small slotted dataclasses with no pydantic in sight, so a compiled library pickles
and loads quickly (the CLI's cold start depends on it). Each IR condition builds a closure
``fn(env) -> True | False | None`` once per process: ``None`` is *unknown*, and the connectives
follow Kleene's three-valued logic (``false and unknown`` is false, ``true and unknown`` is
unknown).

:func:`missing` walks the IR again, only for unknown results, to name the manifest paths
whose absence made the result unknown.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import ast
from .check import Names, global_names, policy_names
from .errors import DiagnosticSink

# ---- evaluation environment -------------------------------------------------------------------


class Env:
    """What a condition sees: the manifest, the current source (if any) and its index, the
    governed-ness of each source under the policy version being evaluated, and a memo for
    quantifiers (their bodies never depend on the outer source, so each is computed once)."""

    __slots__ = ("manifest", "model", "organization", "facts", "sources", "source", "index",
                 "governed", "memo")

    def __init__(self, manifest, governed: dict[int, bool | None] | None = None):
        self.manifest = manifest
        self.model = manifest.model
        self.organization = manifest.organization
        self.facts = manifest.facts or {}
        self.sources = manifest.sources
        self.source = None
        self.index = -1
        self.governed = governed if governed is not None else {}
        self.memo: dict[int, Any] = {}

    def at(self, index: int) -> Env:
        self.index = index
        self.source = self.sources[index]
        return self


# ---- operands ---------------------------------------------------------------------------------
_ATTRIBUTE = {"from": "from_"}


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

    def build(self):  # pragma: no cover - every node overrides it
        raise NotImplementedError

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
        fns = tuple(item.build() for item in self.items)

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
        fns = tuple(item.build() for item in self.items)

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
        fn = self.item.build()

        def not_(env):
            value = fn(env)
            return None if value is None else not value

        return not_


_ORDER = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
          ">": operator.gt, ">=": operator.ge}


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
        get = self.operand.getter()
        if self.regex:
            search = re.compile(self.pattern).search
        else:
            search = re.compile(fnmatch.translate(self.pattern)).match

        def matches(env):
            value = get(env)
            if value is None:
                return None
            return isinstance(value, str) and search(value) is not None

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
        return self.body.build()


@dataclass(slots=True)
class Quantifier(Cond):
    quantifier: str = "any"
    other: bool = False
    body: Cond = None  # type: ignore[assignment]
    key: int = 0

    def children(self):
        return (self.body,)

    def build(self):
        body, key, quantifier, other = self.body.build(), self.key, self.quantifier, self.other

        def quantify(env: Env):
            tally = env.memo.get(key)
            if tally is None:
                tally = _tally(env, body)
                env.memo[key] = tally
            values, trues, falses, unknowns = tally
            if other and env.source is not None:
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


def _tally(env: Env, body) -> tuple[list, int, int, int]:
    """Evaluate a quantifier body once for every source (the outer binding is restored)."""
    saved = env.source, env.index
    values = []
    try:
        for index in range(len(env.sources)):
            values.append(body(env.at(index)))
    finally:
        env.source, env.index = saved
    return (values, values.count(True), values.count(False), values.count(None))


def missing(cond: Cond, env: Env, limit: int = 20) -> set[str]:
    """The manifest paths whose absence leaves ``cond`` unknown (empty unless it is unknown)."""
    found: set[str] = set()
    _missing(cond, env, found, limit)
    return found


def _missing(cond: Cond, env: Env, found: set[str], limit: int) -> None:
    if len(found) >= limit or cond.build()(env) is not None:
        return
    if isinstance(cond, Quantifier):
        body = cond.body.build()
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
    if isinstance(cond, Governed):
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

    def closures(self):
        if self.fns is None:
            self.fns = (self.when.build() if self.when else None,
                        self.require.build() if self.require else None)
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
    governs: Cond
    clauses: list[ClauseIR]
    file: str
    line: int
    keys: dict[str, frozenset]  # index constraints read off `governs`
    governs_fn: Any = None

    def governs_closure(self):
        if self.governs_fn is None:
            self.governs_fn = self.governs.build()
        return self.governs_fn

    @property
    def label(self) -> str:
        return f"{self.id}@{self.effective}"


# ---- AST → IR ---------------------------------------------------------------------------------
class _Compiler:
    def __init__(self, names: Names, text: str):
        self.names = names
        self.text = text
        self.counter = _QuantifierCounter.next

    def snippet(self, span) -> str:
        lines = self.text.splitlines()
        if not span.line or span.line > len(lines):
            return ""
        if span.end_line == span.line:
            return lines[span.line - 1][span.column - 1 : span.end_column - 1]
        first = lines[span.line - 1][span.column - 1 :]
        middle = lines[span.line : span.end_line - 1]
        last = lines[span.end_line - 1][: span.end_column - 1] if span.end_line <= len(lines) \
            else ""
        return " ".join(part.strip() for part in (first, *middle, last) if part.strip())

    def operand(self, node) -> Operand:
        if isinstance(node, ast.Literal):
            return Lit(node.value)
        return Path(node.parts[0], tuple(node.parts[1:]))

    def values(self, ref) -> frozenset:
        if isinstance(ref, ast.SetLiteral):
            return frozenset(item.value for item in ref.items)
        found = self.names.set(ref.name)
        return frozenset(item.value for item in found.items) if found else frozenset()

    def cond(self, node) -> Cond:
        text = self.snippet(node.span)
        match node:
            case ast.And(items=items):
                return And(text, tuple(self.cond(i) for i in items))
            case ast.Or(items=items):
                return Or(text, tuple(self.cond(i) for i in items))
            case ast.Not(item=item):
                return Not(text, self.cond(item))
            case ast.Const(value=value):
                return Const(text, value)
            case ast.Compare():
                return Compare(text, node.op, self.operand(node.left), self.operand(node.right))
            case ast.InSet():
                return InSet(text, self.operand(node.operand), self.values(node.values),
                             node.negated)
            case ast.Contains(mode="one"):
                return Contains(text, self.operand(node.operand), self.operand(node.value))
            case ast.Contains():
                return ContainsSet(text, self.operand(node.operand), self.values(node.values),
                                   node.mode)
            case ast.Matches():
                return Matches(text, self.operand(node.operand), node.pattern, node.regex)
            case ast.Declared():
                return Declared(text, self.operand(node.operand), node.negated)
            case ast.Quantifier():
                return Quantifier(text, node.quantifier, node.other, self.cond(node.body),
                                  self.counter())
            case ast.NameRef(name="governed"):
                return Governed(text)
            case ast.NameRef(name=name):
                define = self.names.define(name)
                return Predicate(text, name, self.cond(define.condition))
        raise TypeError(f"cannot compile {type(node).__name__}")  # pragma: no cover


class _QuantifierCounter:
    value = 0

    @classmethod
    def next(cls) -> int:
        cls.value += 1
        return cls.value


def compile_files(files: list[ast.PolicyFile], display: dict[str, str]) -> list[PolicyIR]:
    """Compile checked files; ``display`` maps file paths to the names reports show."""
    sink = DiagnosticSink()  # the files are checked already; duplicates were reported there
    library = global_names(files, sink)
    compiled: list[PolicyIR] = []
    for file in files:
        for policy in file.policies:
            names = policy_names(policy, library, file.text, sink)
            compiled.append(_compile_policy(policy, _Compiler(names, file.text),
                                            display.get(file.path, file.path)))
    _attach_exceptions(compiled)
    return compiled


def _default_governs(policy: ast.Policy) -> ast.Condition:
    """A provider's service terms govern the outputs and weights obtained from its services:
    ``source.kind in {model-output, model-weights} and source.provider == P and
    source.service in S``. Human-written data, crawls and datasets need an explicit
    ``governs``."""
    def literals(*values: str) -> ast.SetLiteral:
        return ast.SetLiteral(items=tuple(ast.Literal(value=v) for v in values))

    items: list = [
        ast.InSet(operand=ast.Path(parts=("source", "kind")),
                  values=literals("model-output", "model-weights")),
        ast.Compare(op="==", left=ast.Path(parts=("source", "provider")),
                    right=ast.Literal(value=policy.provider or "")),
    ]
    if policy.services:
        items.append(ast.InSet(operand=ast.Path(parts=("source", "service")),
                               values=literals(*policy.services)))
    return ast.And(items=tuple(items))


def _compile_policy(policy: ast.Policy, compiler: _Compiler, display: str) -> PolicyIR:
    governs_ast = policy.governs or _default_governs(policy)
    governs = compiler.cond(governs_ast)
    if policy.governs is None:
        services = ", ".join(f'"{s}"' for s in policy.services)
        governs.text = ('source.kind in {"model-output", "model-weights"} and '
                        f'source.provider == "{policy.provider}"'
                        + (f" and source.service in {{{services}}}" if services else ""))
    clauses = [_compile_clause(policy, clause, compiler, display) for clause in policy.clauses]
    topics = {clause.id: clause.topic for clause in clauses}
    for clause in clauses:  # an exception without a topic takes the topic of what it lifts
        if not clause.topic and clause.lifts:
            clause.topic = topics.get(clause.lifts[0][1], "") if clause.lifts[0][0] == policy.id \
                else ""
    return PolicyIR(
        id=policy.id, provider=policy.provider or "", document=policy.document or "",
        services=policy.services, version=policy.version or str(policy.effective),
        effective=policy.effective or date.min, ends=policy.ends, url=policy.url or "",
        governs=governs, clauses=clauses, file=display, line=policy.span.line,
        keys=index_keys(governs),
    )


def _compile_clause(policy: ast.Policy, clause: ast.Clause, compiler: _Compiler,
                    display: str) -> ClauseIR:
    citation = clause.citation or ast.Citation()
    kind = clause.kind or "prohibition"
    return ClauseIR(
        policy=policy.id, id=clause.id, topic=clause.topic or "", kind=kind,
        scope=clause.scope or "source",
        severity=clause.severity or ("info" if kind == "permission" else "error"),
        when=compiler.cond(clause.when) if clause.when is not None else None,
        require=compiler.cond(clause.require) if clause.require is not None else None,
        waivers=clause.waivers,
        message=clause.message or _default_message(clause, citation, policy),
        remedy=clause.remedy or "",
        citation=CitationIR(
            document=citation.document or policy.document or "",
            section=citation.section or "",
            effective=citation.effective or policy.effective,
            url=citation.url or policy.url or "",
            quote=citation.quote or "",
        ),
        file=display, line=clause.span.line,
        lifts=tuple((ref.policy or policy.id, ref.clause) for ref in clause.lifts),
    )


def _default_message(clause: ast.Clause, citation: ast.Citation, policy: ast.Policy) -> str:
    document = citation.document or policy.document or policy.id
    section = f" {citation.section}" if citation.section else ""
    return f"{clause.topic or clause.id} ({document}{section})"


def _attach_exceptions(policies: list[PolicyIR]) -> None:
    """Give every clause the permissions that name it; a prohibition yields to no other."""
    by_clause: dict[tuple[str, str], list[ClauseIR]] = {}
    for policy in policies:
        for clause in policy.clauses:
            by_clause.setdefault((policy.id, clause.id), []).append(clause)
    for policy in policies:
        for clause in policy.clauses:
            for target in clause.lifts:
                for lifted in by_clause.get(target, ()):
                    # An exception lifts the clause in the versions of the same document only
                    # when it belongs to that version, or to another document altogether.
                    if target[0] == policy.id and lifted not in policy.clauses:
                        continue
                    lifted.exceptions.append(clause)


def index_keys(governs: Cond) -> dict[str, frozenset]:
    """Equality constraints on indexed source fields among the top-level conjuncts."""
    keys: dict[str, frozenset] = {}
    conjuncts = governs.items if isinstance(governs, And) else (governs,)
    for item in conjuncts:
        if isinstance(item, Compare) and item.op == "==" and isinstance(item.left, Path) \
                and isinstance(item.right, Lit):
            path, values = item.left, frozenset((item.right.value,))
        elif isinstance(item, InSet) and not item.negated and isinstance(item.operand, Path):
            path, values = item.operand, item.values
        else:
            continue
        if path.root == "source" and len(path.parts) == 1 and path.parts[0] in (
                "provider", "license"):
            keys[path.parts[0]] = values
    return keys
