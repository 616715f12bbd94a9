"""Static checks on parsed policy files: names, manifest paths, vocabularies, country codes,
citations, duplicate ids and versions, exceptions that lift nothing.

Every problem becomes a :class:`~tosguard.errors.Diagnostic`; all of them are collected, so a
legal team sees every mistake in one run.

**Namespaces.** The library's files and the user's (``--extra-policies``, files posted to the
service; :attr:`tosguard.language.ast.PolicyFile.user`) define names in two namespaces. Inside a
user
file an unqualified name is the user's own definition if there is one, else the library's;
``library.name`` is always the library's. Library files see the library's names only. A
predicate's body is resolved where the predicate is defined (lexical scope), so a user's
``set training_uses`` never changes what a library predicate using ``training_uses`` means.
Policy ids share one space: a user policy may not take the id of a library document (it would
be merged in as another version of it). Organization-internal (user) policies may omit
``provider`` (they then govern through ``governs`` alone) and use topics of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..engine import budget as budgets
from ..errors import Diagnostic, DiagnosticSink, Span, did_you_mean, source_at
from ..manifest.countries import is_country, suggest_country
from ..manifest.model import known_paths, path_values
from . import ast
from .patterns import check_pattern
from .visitor import ConditionVisitor
from .vocab import KINDS, PATH_ROOTS, SCOPES, SEVERITIES, TOPICS

PROVIDER_ID = re.compile(r"[a-z][a-z0-9-]*\Z")
BUILTIN_NAMES = ("governed",)
#: The most tests a condition may stand for once the predicates it uses are written out in
#: full, and the deepest it may then nest. The compiler, the evaluator and the linter walk
#: conditions so expanded: a predicate used twice by the next, forty times over, would stand
#: for 2**40 tests. The shipped library's largest condition expands to 27 tests, 9 levels.
MAX_EXPANDED_TESTS = 10_000
MAX_EXPANDED_DEPTH = 128
#: The most tests all the conditions of one file may stand for together (the shipped library's
#: 57 files stand for some 2,000): a file is compiled and linted as a whole, so twenty clauses
#: that each use a predicate of 8,000 tests cost as much as one of 160,000.
MAX_FILE_TESTS = 100_000


@dataclass
class Names:
    """The sets and predicates visible from one scope: its own, then its parent's (a policy's,
    then its namespace's; the user's namespace, then the library's)."""

    sets: dict[str, ast.SetDef] = field(default_factory=dict)
    defines: dict[str, ast.Define] = field(default_factory=dict)
    parent: Names | None = None

    @property
    def root(self) -> Names:
        """The library's namespace: what ``library.name`` looks in."""
        return self if self.parent is None else self.parent.root

    def set(self, name: str, library: bool = False) -> ast.SetDef | None:
        if library:
            return self.root.sets.get(name)
        found = self.sets.get(name)
        return found if found or not self.parent else self.parent.set(name)

    def define(self, name: str, library: bool = False) -> ast.Define | None:
        if library:
            return self.root.defines.get(name)
        found = self.defines.get(name)
        return found if found or not self.parent else self.parent.define(name)

    def scope_of(self, item: ast.SetDef | ast.Define) -> Names:
        """The scope ``item`` (found from this one) is defined in: its body's names resolve
        there, not where it is used."""
        names: Names | None = self
        while names is not None:
            if names.defines.get(item.name) is item or names.sets.get(item.name) is item:
                return names
            names = names.parent
        return self

    def all_sets(self) -> Iterator[str]:
        yield from self.sets
        if self.parent:
            yield from self.parent.all_sets()

    def all_defines(self) -> Iterator[str]:
        yield from self.defines
        if self.parent:
            yield from self.parent.all_defines()


@dataclass
class Namespaces:
    """The file-level names of the library and of the user's files, the latter over the
    former."""

    library: Names
    user: Names

    def of(self, file: ast.PolicyFile) -> Names:
        return self.user if file.user else self.library


def global_names(files: Iterable[ast.PolicyFile], sink: DiagnosticSink) -> Names:
    """The file-level definitions of ``files`` as one library namespace (for tools and tests
    that look at library files only; the checker uses :func:`namespace_names`)."""
    return namespace_names(
        [f.model_copy(update={"user": False}) if f.user else f for f in files], sink
    ).library


def namespace_names(files: Iterable[ast.PolicyFile], sink: DiagnosticSink) -> Namespaces:
    """The file-level definitions of ``files``, in their namespaces; a name defined twice in
    one namespace is reported."""
    library = Names()
    user = Names(parent=library)
    files = list(files)
    for file in files:  # the library's first: a clash is reported in the later file
        if not file.user:
            _declare(library, file.sets, file.defines, file.text, sink)
    for file in files:
        if file.user:
            _declare(user, file.sets, file.defines, file.text, sink)
    return Namespaces(library, user)


def policy_names(policy: ast.Policy, library: Names, text: str, sink: DiagnosticSink) -> Names:
    names = Names(parent=library)
    _declare(names, policy.sets, policy.defines, text, sink)
    return names


def _declare(names: Names, sets, defines, text: str, sink: DiagnosticSink) -> None:
    for item in (*sets, *defines):
        if item.name in names.sets or item.name in names.defines or item.name in BUILTIN_NAMES:
            sink.error(
                "policy-duplicate-name",
                f"`{item.name}` is defined twice",
                item.span,
                "give each set and predicate its own name",
                **source_at(text, item.span),
            )
            continue
        if isinstance(item, ast.SetDef):
            names.sets[item.name] = item
        else:
            names.defines[item.name] = item


# ---- expansion: how big a condition is with its predicates written out ------------------------
_Cost = tuple[int, int]  # (tests, depth), each capped one past its limit
_OVER: _Cost = (MAX_EXPANDED_TESTS + 1, MAX_EXPANDED_DEPTH + 1)


def _over(cost: _Cost) -> bool:
    return cost[0] > MAX_EXPANDED_TESTS or cost[1] > MAX_EXPANDED_DEPTH


class Expansion:
    """The expanded size of conditions in one scope of names, reported once per predicate.

    A predicate's cost is computed once, after those of the predicates it uses, with an
    explicit stack: a chain of thousands of predicates each using the previous one costs no
    recursion. A predicate defined in terms of itself is reported as a cycle; one whose
    expansion passes the limits is reported where it first does (not again at every predicate
    or clause that uses it). :meth:`expandable` tells the checker which predicates it may walk
    into: walking the others would take exponential time, or forever.
    """

    def __init__(self, names: Names, text_of, sink: DiagnosticSink):
        self.names = names
        self.text_of = text_of  # file path -> text, for source lines
        self.sink = sink
        self.costs: dict[int, _Cost] = {}  # id(define) -> cost
        self.scopes: dict[int, Names] = {}  # id(define) -> the scope it is defined in
        # (id(define), in a source's context, in `governs`): predicates the checker has
        # walked in that context; walking again would find the same problems
        self.walked: set[tuple[int, bool, bool]] = set()
        # (path, id(named set), operator): the set's values checked against the path's type
        self.fitted: set[tuple[str, int, str]] = set()

    def expandable(self, define: ast.Define) -> bool:
        return not _over(self.define_cost(define))

    def resolve(self, ref: ast.NameRef, names: Names | None = None) -> ast.Define | None:
        """The predicate ``ref`` names, looked up from ``names`` (default: this scope)."""
        names = self.names if names is None else names
        define = names.define(ref.name, ref.library)
        if define is not None and id(define) not in self.scopes:
            self.scopes[id(define)] = names.scope_of(define)
        return define

    def scope(self, define: ast.Define) -> Names:
        """Where the names in the body of ``define`` (found by :meth:`resolve`) resolve."""
        return self.scopes.get(id(define), self.names)

    def check_condition(self, condition, what: str) -> _Cost:
        """The cost of ``condition``, reported when it is too large with predicates that are
        not (those are reported where they are defined)."""
        uses = self._uses(condition)
        cost = self.condition_cost(condition, uses)
        if _over(cost) and all(self.expandable(d) for d in uses):
            self._report(condition.span, what, cost)
        return cost

    def condition_cost(self, condition, uses: list[ast.Define] | None = None) -> _Cost:
        for define in self._uses(condition) if uses is None else uses:
            self.define_cost(define)
        return self._measure(condition, self.names)

    def define_cost(self, define: ast.Define) -> _Cost:
        known = self.costs.get(id(define))
        if known is not None:
            return known
        visiting: list[ast.Define] = []  # the chain being expanded, outermost first
        place: dict[int, int] = {}  # id(define) -> its index in `visiting`
        stack = [define]
        while stack:
            budgets.checkpoint()
            current = stack[-1]
            if id(current) in self.costs:  # done, or a cycle's start marked meanwhile
                stack.pop()
                if place.get(id(current)) == len(visiting) - 1:
                    del place[id(visiting.pop())]
                continue
            if id(current) not in place:
                place[id(current)] = len(visiting)
                visiting.append(current)
                pending = []
                for ref, used in self._references(current.condition, self.scope(current)):
                    if id(used) in self.costs:
                        continue
                    start = place.get(id(used))
                    if start is not None:
                        self._cycle(visiting[start:], ref, used)
                        self.costs[id(used)] = _OVER
                    else:
                        pending.append(used)
                if pending:
                    stack.extend(reversed(pending))
                    continue
            # every predicate `current` uses is measured: it is the last of the chain
            del place[id(visiting.pop())]
            stack.pop()
            cost = self._measure(current.condition, self.scope(current))
            self.costs[id(current)] = cost
            if _over(cost) and all(
                not _over(self.costs.get(id(d), (0, 0)))
                for d in self._uses(current.condition, self.scope(current))
            ):
                self._report(current.span, f"predicate `{current.name}`", cost)
        return self.costs[id(define)]

    def _measure(self, node, names: Names) -> _Cost:
        """Tests and depth of ``node`` expanded, predicates' costs already known (a condition
        itself nests at most :data:`tosguard.language.parse.MAX_NESTING` levels, so recursing is
        safe)."""
        match node:
            case ast.And(items=items) | ast.Or(items=items):
                costs = [self._measure(item, names) for item in items]
                return _capped(sum(c[0] for c in costs), 1 + max(c[1] for c in costs))
            case ast.Not(item=item) | ast.Quantifier(body=item):
                tests, depth = self._measure(item, names)
                return _capped(tests + 1, depth + 1)
            case ast.NameRef(name=name, library=library) if library or name not in BUILTIN_NAMES:
                define = self.resolve(node, names)
                if define is None:
                    return (1, 1)
                tests, depth = self.costs.get(id(define), _OVER)
                return _capped(tests, depth + 1)
        return (1, 1)

    def _references(
        self, node, names: Names | None = None
    ) -> Iterator[tuple[ast.NameRef, ast.Define]]:
        """The predicates ``node`` names directly, each with the reference; names looked up
        from ``names`` (default: this scope)."""
        pending = [node]
        while pending:
            item = pending.pop()
            match item:
                case ast.And(items=items) | ast.Or(items=items):
                    pending.extend(reversed(items))
                case ast.Not(item=inner) | ast.Quantifier(body=inner):
                    pending.append(inner)
                case ast.NameRef(name=name, library=library) if (
                    library or name not in BUILTIN_NAMES
                ):
                    define = self.resolve(item, names)
                    if define is not None:
                        yield item, define

    def _uses(self, node, names: Names | None = None) -> list[ast.Define]:
        return [define for _, define in self._references(node, names)]

    def _cycle(self, members: list[ast.Define], ref: ast.NameRef, used: ast.Define) -> None:
        chain = " → ".join([*(d.name for d in members), used.name])
        self.sink.error(
            "policy-cyclic-definition",
            f"`{used.name}` is defined in terms of itself ({chain})",
            ref.span,
            "break the cycle",
            **source_at(self.text_of(ref.span.file), ref.span),
        )

    def _report(self, span: Span, what: str, cost: _Cost) -> None:
        tests, depth = cost
        if tests > MAX_EXPANDED_TESTS:
            detail = f"more than {MAX_EXPANDED_TESTS:,} tests"
        else:
            detail = f"more than {MAX_EXPANDED_DEPTH} levels"
        self.sink.error(
            "policy-too-complex",
            f"{what} stands for {detail} once the predicates it uses are written out",
            span,
            "a predicate used several times by the next one doubles the work at "
            "each step; simplify the predicates, or test each fact once",
            **source_at(self.text_of(span.file), span),
        )


class _FileTotal:
    """The tests the conditions of one file stand for so far; reported once, where the total
    first passes :data:`MAX_FILE_TESTS`."""

    def __init__(self, path: str, text: str, sink: DiagnosticSink):
        self.path, self.text, self.sink = path, text, sink
        self.tests = 0

    def add(self, cost: _Cost, span: Span) -> None:
        before = self.tests
        self.tests += cost[0]
        if before <= MAX_FILE_TESTS < self.tests:
            self.sink.error(
                "policy-too-complex",
                f"the conditions of `{self.path}` stand for more than "
                f"{MAX_FILE_TESTS:,} tests in all once the predicates they use are written "
                "out",
                span,
                "a file is checked, compiled and linted as a whole: split it, or "
                "simplify the predicates its clauses share",
                **source_at(self.text, span),
            )


def _capped(tests: int, depth: int) -> _Cost:
    return min(tests, MAX_EXPANDED_TESTS + 1), min(depth, MAX_EXPANDED_DEPTH + 1)


# ---- the library ------------------------------------------------------------------------------
def check_library(files: list[ast.PolicyFile]) -> list[Diagnostic]:
    """All diagnostics (errors and warnings) for a set of parsed files, the library's and the
    user's (:attr:`tosguard.language.ast.PolicyFile.user`), sorted by location."""
    sink = DiagnosticSink()
    texts = {f.path: f.text for f in files}
    namespaces = namespace_names(files, sink)
    expansions = {
        id(names): Expansion(names, lambda path: texts.get(path, ""), sink)
        for names in (namespaces.library, namespaces.user)
    }
    for file in files:
        names = namespaces.of(file)
        for set_def in file.sets:
            _check_set(set_def, file.text, sink)
        for define in file.defines:
            budgets.checkpoint()
            _ConditionChecker(
                names, file.text, sink, source_context=True, expansion=expansions[id(names)]
            ).check_define(define)
    _check_versions([(p, f) for f in files for p in f.policies], texts, sink)
    _check_licence_ids([p for f in files for p in f.policies], texts, sink)
    clause_ids = {(p.id, c.id) for f in files for p in f.policies for c in p.clauses}
    for file in files:
        total = _FileTotal(file.path, file.text, sink)
        for policy in file.policies:
            _check_policy(policy, file, namespaces.of(file), clause_ids, sink, texts, total)
    return sorted(set(sink.diagnostics), key=Diagnostic.sort_key)


def _check_versions(policies: list[tuple[ast.Policy, ast.PolicyFile]], texts, sink) -> None:
    """Versions of one document: distinct dates, no overlap, one provider; and no user policy
    with the id of a library document."""
    library_ids: dict[str, ast.Policy] = {}
    for policy, file in policies:
        if not file.user:
            library_ids.setdefault(policy.id, policy)
    seen: dict[tuple[str, date | None], ast.Policy] = {}
    by_id: dict[str, list[ast.Policy]] = {}
    for policy, file in policies:
        taken = library_ids.get(policy.id)
        if file.user and taken is not None:
            span = Span(
                policy.span.file,
                policy.span.line,
                policy.span.column,
                policy.span.line,
                policy.span.column + len("policy"),
            )
            sink.error(
                "policy-duplicate-id",
                f"policy id `{policy.id}` is already a document "
                f"of the library ({taken.span.file}:{taken.span.line})",
                span,
                "give your policy an id of its own (e.g. `acme-" + policy.id + "`); to "
                "make room in a library clause, write an `exception … lifts "
                f"{policy.id}/<clause>` in a policy of yours",
                **source_at(texts[policy.span.file], span),
            )
            continue
        key = (policy.id, policy.effective)
        if key in seen:
            first = seen[key]
            sink.error(
                "policy-duplicate-version",
                f"policy `{policy.id}` has two versions effective {policy.effective}",
                policy.span,
                f"the other is at {first.span}; give each version its own effective date",
                **source_at(texts[policy.span.file], policy.span),
            )
        seen[key] = policy
        by_id.setdefault(policy.id, []).append(policy)
    for versions in by_id.values():
        dated = sorted((p for p in versions if p.effective), key=lambda p: p.effective or date.min)
        for earlier, later in zip(dated, dated[1:], strict=False):
            if earlier.ends and later.effective and earlier.ends >= later.effective:
                span = earlier.fields.get("ends", earlier.span)
                sink.error(
                    "policy-overlapping-versions",
                    f"version {earlier.effective} of `{earlier.id}` ends {earlier.ends}, after "
                    f"the next version takes effect ({later.effective})",
                    span,
                    f"end it on {later.effective - timedelta(days=1)} or drop `ends`",
                    **source_at(texts[span.file], span),
                )
        for later in dated[1:]:
            if later.applies_from:
                span = later.fields.get("applies_from", later.span)
                sink.error(
                    "policy-bad-dates",
                    f"only the earliest version of `{later.id}` can apply before its effective "
                    f"date; this one takes effect {later.effective}, after {dated[0].effective}",
                    span,
                    "move `applies from` to the earliest version, or drop it",
                    **source_at(texts[span.file], span),
                )
        providers = {p.provider for p in versions if p.provider}
        if len(providers) > 1:
            policy = versions[-1]
            sink.error(
                "policy-provider-mismatch",
                f"versions of `{policy.id}` name different providers: "
                + ", ".join(f"`{p}`" for p in sorted(providers)),
                policy.span,
                "all versions of one document have one provider",
                **source_at(texts[policy.span.file], policy.span),
            )


def _check_licence_ids(policies: list[ast.Policy], texts, sink) -> None:
    """A licence id (compared case-insensitively) belongs to one document: otherwise a
    manifest's `license` could not say which terms govern its source."""
    owner: dict[str, ast.Policy] = {}
    for policy in policies:
        span = policy.fields.get("licenses", policy.span)
        seen: set[str] = set()
        for licence in policy.licenses:
            key = licence.casefold()
            if key in seen:
                sink.error(
                    "policy-duplicate-license",
                    f"`{licence}` is listed twice in the `license` line of `{policy.id}`",
                    span,
                    "ids are compared without regard to case: list each once",
                    **source_at(texts[span.file], span),
                )
            seen.add(key)
            first = owner.setdefault(key, policy)
            if first.id != policy.id:
                sink.error(
                    "policy-duplicate-license",
                    f"licence id `{licence}` is claimed by `{first.id}` and `{policy.id}`",
                    span,
                    f"the other is at {first.fields.get('licenses', first.span)}; "
                    "a licence id must name one document",
                    **source_at(texts[span.file], span),
                )


def _check_policy(
    policy, file: ast.PolicyFile, library: Names, clause_ids, sink, texts, total: _FileTotal
) -> None:
    text = file.text

    def error(code, message, span, help=""):
        sink.error(code, message, span, help, **source_at(text, span))

    # a licence, or an organization's own policy, may govern without a provider
    for name in ("document", "effective", "url"):
        if getattr(policy, name) is None:
            error(
                "policy-missing-field",
                f"policy `{policy.id}` has no `{name}`",
                policy.span,
                f"add `{name} …` to the policy header",
            )
    if policy.provider is None and policy.governs is None:
        error(
            "policy-missing-field",
            f"policy `{policy.id}` has neither `provider` nor `governs`",
            policy.span,
            "a licence or an organization's own policy says which "
            'sources it governs, e.g. `governs source.kind == "dataset"`; a provider\'s '
            "terms name the provider with `provider …`",
        )
    if policy.provider and not PROVIDER_ID.match(policy.provider):
        error(
            "policy-bad-provider",
            f"provider id `{policy.provider}` is not a lowercase id",
            policy.fields["provider"],
            "write provider ids like `openai` or `my-lab`",
        )
    services = path_values()["source.service"]
    for service in policy.services:
        if service not in services:
            error(
                "policy-unknown-value",
                f"`{service}` is not a service",
                policy.fields["services"],
                did_you_mean(service, services),
            )
    if policy.ends and policy.effective and policy.ends < policy.effective:
        error(
            "policy-bad-dates",
            f"`ends {policy.ends}` is before `effective {policy.effective}`",
            policy.fields["ends"],
            "a version must end on or after the day it takes effect",
        )
    if policy.applies_from and policy.effective and policy.applies_from >= policy.effective:
        error(
            "policy-bad-dates",
            f"`applies from {policy.applies_from}` is not before `effective {policy.effective}`",
            policy.fields["applies_from"],
            "`applies from` names an earlier date from which the text applies; drop it if "
            "the text applies from its effective date",
        )
    if policy.governs is None and not policy.services and policy.provider:
        error(
            "policy-missing-field",
            f"policy `{policy.id}` says neither `service` nor `governs`",
            policy.span,
            "add `service api` (or another service), or a `governs` condition",
        )

    names = policy_names(policy, library, text, sink)
    expansion = Expansion(names, lambda path: texts.get(path, ""), sink)
    for set_def in policy.sets:
        _check_set(set_def, text, sink)
    for define in policy.defines:
        budgets.checkpoint()
        _ConditionChecker(names, text, sink, source_context=True, expansion=expansion).check_define(
            define
        )
    if policy.governs is not None:
        total.add(
            expansion.check_condition(policy.governs, f"the `governs` of `{policy.id}`"),
            policy.governs.span,
        )
        _ConditionChecker(
            names, text, sink, source_context=True, in_governs=True, expansion=expansion
        ).check(policy.governs)

    seen: dict[str, ast.Clause] = {}
    for clause in policy.clauses:
        if clause.id in seen:
            error(
                "policy-duplicate-clause",
                f"clause id `{clause.id}` is used twice in `{policy.id}`",
                clause.span,
                f"the first is at line {seen[clause.id].span.line}; clause ids must be unique",
            )
        seen[clause.id] = clause
        budgets.checkpoint()
        _check_clause(policy, clause, names, file, clause_ids, sink, expansion, total)


def _check_clause(
    policy,
    clause: ast.Clause,
    names,
    file: ast.PolicyFile,
    clause_ids,
    sink,
    expansion: Expansion,
    total: _FileTotal,
) -> None:
    text = file.text

    def error(code, message, span, help=""):
        sink.error(code, message, span, help, **source_at(text, span))

    where = f"clause `{clause.id}`"
    fields = clause.fields
    for name, vocab in (
        ("topic", TOPICS),
        ("kind", KINDS),
        ("scope", SCOPES),
        ("severity", SEVERITIES),
    ):
        value = getattr(clause, name)
        if value is None or value in vocab:
            continue
        if name == "topic" and file.user:
            _own_topic(value, fields[name], text, sink)
        else:
            error(
                "policy-unknown-value",
                f"for {where}, `{value}` is not a {name}",
                fields[name],
                did_you_mean(value, vocab),
            )
    if clause.topic is None and not clause.lifts:
        error(
            "policy-missing-field",
            f"{where} has no `topic`",
            clause.span,
            "add `topic …` with one of the spec's topics, e.g. `topic competing-models`",
        )
    if clause.kind is None:
        error(
            "policy-missing-field",
            f"{where} has no `kind`",
            clause.span,
            "add `kind prohibition`, `kind obligation` or `kind permission`",
        )
    if clause.kind == "obligation" and clause.require is None:
        error(
            "policy-missing-field",
            f"obligation {where} has no `require`",
            clause.span,
            "say what must hold with `require <condition>`",
        )
    if clause.kind in ("prohibition", "permission") and clause.when is None:
        error(
            "policy-missing-field",
            f"{where} has no `when`",
            clause.span,
            "say when it applies with `when <condition>`",
        )
    if clause.kind != "obligation" and clause.require is not None:
        error(
            "policy-misplaced-field",
            f"`require` is only for obligations ({where} is {_a(clause.kind)})",
            fields["require"],
            "fold the requirement into `when`",
        )
    if clause.lifts and clause.kind != "permission":
        error(
            "policy-misplaced-field",
            f"only permissions lift other clauses ({where} is {_a(clause.kind)})",
            fields.get("lifts", clause.span),
            "use `kind permission` or write it as `exception … lifts …`",
        )
    for ref in clause.lifts:
        target = (ref.policy or policy.id, ref.clause)
        if target not in clause_ids:
            candidates = [c for p, c in clause_ids if p == target[0]]
            error(
                "policy-unknown-clause",
                f"exception `{clause.id}` lifts `{ref}`, which does not exist",
                ref.span,
                did_you_mean(ref.clause, candidates)
                or "name a clause of this policy, or `policy-id/clause-id`",
            )
        elif target == (policy.id, clause.id):
            error(
                "policy-unknown-clause",
                f"exception `{clause.id}` lifts itself",
                ref.span,
                "name the prohibition it makes an exception to",
            )
    for agreement in clause.waivers:
        if not agreement.strip():
            error(
                "policy-bad-value",
                "empty agreement id in `waived by`",
                fields["waivers"],
                'name the agreement, e.g. `waived by "openai-consent"`',
            )

    _check_citation(policy, clause, text, sink)
    scope = clause.scope or "source"
    checker = _ConditionChecker(
        names, text, sink, source_context=scope == "source", expansion=expansion
    )
    for name, condition in (("when", clause.when), ("require", clause.require)):
        if condition is not None:
            total.add(
                expansion.check_condition(condition, f"the `{name}` of {where}"), condition.span
            )
            checker.check(condition)


def _own_topic(topic: str, span: Span, text: str, sink: DiagnosticSink) -> None:
    """A user policy's topic outside the vocabulary: an organization's own topic, if it is a
    lowercase id; one close to a vocabulary topic is likely a typo, and is said to be."""
    if not PROVIDER_ID.match(topic):
        sink.error(
            "policy-bad-value",
            f"topic `{topic}` is not a lowercase id",
            span,
            "write topics like `competing-models` or `data-retention`",
            **source_at(text, span),
        )
        return
    close = did_you_mean(topic, TOPICS)
    if close.startswith("did you mean"):
        sink.add(
            Diagnostic(
                "policy-own-topic",
                f"`{topic}` is not a topic of the vocabulary; it is taken as a topic of your own",
                span,
                f"{close} (`tosguard policies --matrix` shows the vocabulary's)",
                **source_at(text, span),
                severity="warning",
            )
        )


def _check_citation(policy, clause, text, sink) -> None:
    citation = clause.citation
    where = f"clause `{clause.id}`"
    if citation is None:
        sink.error(
            "policy-missing-citation",
            f"{where} has no citation",
            clause.span,
            'add `cite { section "…" quote "…" }` with the verbatim words it rests on',
            **source_at(text, clause.span),
        )
        return
    for name in ("section", "quote"):
        if not getattr(citation, name):
            sink.error(
                "policy-missing-citation",
                f"the citation of {where} has no `{name}`",
                citation.span,
                f'add `{name} "…"` inside `cite {{ … }}`',
                **source_at(text, citation.span),
            )
    for name in ("document", "url", "effective"):
        if not getattr(citation, name) and not getattr(policy, name):
            sink.error(
                "policy-missing-citation",
                f"the citation of {where} has no `{name}`",
                citation.span,
                f"add `{name} …` to the citation or to the policy header",
                **source_at(text, citation.span),
            )


def _check_set(set_def: ast.SetDef, text: str, sink: DiagnosticSink) -> None:
    seen = set()
    for item in set_def.items:
        key = (type(item.value), item.value)  # `1` and `true` are different entries
        if key in seen:
            sink.error(
                "policy-duplicate-value",
                f"`{_shown(item.value)}` appears twice in set `{set_def.name}`",
                item.span,
                "remove the repeated entry",
                **source_at(text, item.span),
            )
        seen.add(key)
        if set_def.countries and not is_country(str(item.value)):
            sink.error(
                "policy-bad-country",
                f"`{item.value}` is not an ISO 3166-1 alpha-2 country code",
                item.span,
                suggest_country(str(item.value)),
                **source_at(text, item.span),
            )


# ---- conditions -------------------------------------------------------------------------------
class _ConditionChecker(ConditionVisitor):
    """Walks a condition, checking names, paths and literal values against the manifest."""

    def __init__(
        self,
        names: Names,
        text: str,
        sink: DiagnosticSink,
        *,
        source_context: bool,
        expansion: Expansion,
        in_governs: bool = False,
    ):
        self.names = names
        self.expansion = expansion
        self.text = text
        self.sink = sink
        self.source_context = source_context
        self.in_governs = in_governs
        self.expanding: list[str] = []

    def error(self, code: str, message: str, span: Span, help: str = "") -> None:
        # a predicate's body may come from another file than the clause being checked
        text = self.expansion.text_of(span.file) or self.text
        self.sink.error(code, message, span, help, **source_at(text, span))

    def check_define(self, define: ast.Define) -> None:
        if not self.expansion.expandable(define):  # reported by the expansion
            return
        self.expanding = [define.name]
        self.check(define.condition, check_context=False)
        self.expanding = []

    def check(self, node, *, check_context: bool = True) -> None:
        saved = self.source_context
        if not check_context:
            self.source_context = True
        try:
            self.visit(node)
        finally:
            self.source_context = saved

    def visit_and(self, node: ast.And) -> None:
        for item in node.items:
            self.visit(item)

    visit_or = visit_and

    def visit_not(self, node: ast.Not) -> None:
        self.visit(node.item)

    def visit_const(self, node: ast.Const) -> None:
        pass

    def visit_quantifier(self, node: ast.Quantifier) -> None:
        if node.origins and not self.source_context:
            self.error(
                "policy-bad-quantifier",
                "`origin` needs a current source",
                node.span,
                "`any origin where` is for clauses with `scope source`",
            )
        if node.other and not self.source_context:
            self.error(
                "policy-bad-quantifier",
                "`other` needs a current source",
                node.span,
                "`any other source` is for clauses with `scope source`",
            )
        saved = self.source_context
        self.source_context = True
        try:
            self.visit(node.body)
        finally:
            self.source_context = saved

    def visit_name_ref(self, node: ast.NameRef) -> None:
        if node.name == "governed" and not node.library:
            if self.in_governs:
                self.error(
                    "policy-bad-name",
                    "`governed` cannot be used inside `governs`",
                    node.span,
                    "`governs` is what defines `governed`",
                )
            elif not self.source_context:
                self.error(
                    "policy-bad-name",
                    "`governed` needs a current source",
                    node.span,
                    "use it in a `scope source` clause or inside `any source where (…)`",
                )
            return
        define = self.expansion.resolve(node, self.names)
        if define is None:
            known = (
                self.names.root.defines
                if node.library
                else [*self.names.all_defines(), *BUILTIN_NAMES]
            )
            hint = did_you_mean(node.name, known)
            if self.names.set(node.name, node.library):
                hint = f"`{node.written}` is a set; test membership with `… in {node.written}`"
            where = "the library has no predicate" if node.library else "unknown predicate"
            self.error(
                "policy-unknown-name",
                f"{where} `{node.written}`",
                node.span,
                hint or "define it with `define name = <condition>`",
            )
            return
        if define.name in self.expanding or not self.expansion.expandable(define):
            return  # a cycle, or too large to walk: reported once by the expansion
        context = (id(define), self.source_context, self.in_governs)
        if context in self.expansion.walked:
            return
        self.expansion.walked.add(context)
        self.expanding.append(define.name)
        names, self.names = self.names, self.expansion.scope(define)
        try:
            self.visit(define.condition)
        finally:
            self.names = names
            self.expanding.pop()

    # -- leaves
    def visit_compare(self, node: ast.Compare) -> None:
        left_type = self._operand(node.left)
        right_type = self._operand(node.right)
        for path, literal in ((node.left, node.right), (node.right, node.left)):
            if isinstance(path, ast.Path) and isinstance(literal, ast.Literal):
                self._literal_fits(path, literal, node.op)
        if node.op not in ("==", "!=") and "list" in (left_type, right_type):
            self.error(
                "policy-type-mismatch",
                f"`{node.op}` cannot compare lists",
                node.span,
                "use `contains` to test list membership",
            )

    def visit_in_set(self, node: ast.InSet) -> None:
        self._operand(node.operand)
        path = node.operand if isinstance(node.operand, ast.Path) else None
        for literal in self._set_items(node.values, path, "in"):
            if path is not None:
                self._literal_fits(path, literal, "in")

    def visit_contains(self, node: ast.Contains) -> None:
        kind = self._operand(node.operand)
        if kind not in ("list", "str", "any"):
            self.error(
                "policy-type-mismatch",
                f"`contains` needs a list or text, and `{_text(node.operand)}` is a {kind}",
                node.span,
                "compare with `==` or `in` instead",
            )
        path = node.operand if isinstance(node.operand, ast.Path) else None
        values = (
            [node.value]
            if node.value is not None
            else list(self._set_items(node.values, path, "contains"))
        )
        for value in values:
            if isinstance(value, ast.Path):
                self._operand(value)
            elif isinstance(node.operand, ast.Path) and isinstance(value, ast.Literal):
                self._literal_fits(node.operand, value, "contains")

    def visit_matches(self, node: ast.Matches) -> None:
        kind = self._operand(node.operand)
        if kind not in ("str", "any"):
            self.error(
                "policy-type-mismatch",
                f"`matches` needs text, and `{_text(node.operand)}` is a {kind}",
                node.span,
                "match on a name such as `model.name`",
            )
        problem = check_pattern(node.pattern, node.regex) if node.regex else ""
        if problem:
            self.error(
                "policy-bad-regex",
                f"invalid regular expression: {problem}",
                node.span,
                "regular expressions use RE2 syntax, which runs in linear time: no "
                "backreferences or lookaround",
            )

    def visit_declared(self, node: ast.Declared) -> None:
        self._operand(node.operand)

    def _set_items(self, ref, path: ast.Path | None = None, op: str = "") -> Iterator[ast.Literal]:
        """The values of a set, to check against ``path``: a named set's only the first time
        it is tested against that path with that operator (a set of 20,000 values tested in
        forty places is checked once, not 800,000 times)."""
        if isinstance(ref, ast.SetLiteral):
            yield from ref.items
            return
        found = self.names.set(ref.name, ref.library)
        if found is None:
            hint = did_you_mean(
                ref.name, self.names.root.sets if ref.library else self.names.all_sets()
            )
            if self.names.define(ref.name, ref.library):
                hint = f"`{ref.written}` is a predicate, not a set"
            where = "the library has no set" if ref.library else "unknown set"
            self.error(
                "policy-unknown-name",
                f"{where} `{ref.written}`",
                ref.span,
                hint or "define it with `set name = { … }`",
            )
            return
        if path is not None:
            tested = (path.dotted, id(found), op)
            if tested in self.expansion.fitted:
                return
            self.expansion.fitted.add(tested)
        yield from found.items

    def _operand(self, operand) -> str:
        """Check an operand and return its type tag (``str``, ``list``, ``date`` …)."""
        if isinstance(operand, ast.Literal):
            return _literal_type(operand.value)
        parts = operand.parts
        root = parts[0]
        if root not in PATH_ROOTS:
            help = _path_help(operand.dotted) or (
                "`library.name` is a predicate or a set of the library, not a value"
                if root == "library" and len(parts) == 2
                else f'to compare with the text `{root}`, write it in double quotes: `"{root}"`'
                if len(parts) == 1
                else "paths start with `source.`, `model.`, `organization.` or `facts.`"
            )
            self.error(
                "policy-unknown-path",
                f"unknown manifest path `{operand.dotted}`",
                operand.span,
                help,
            )
            return "unknown"
        if root == "facts":
            if len(parts) < 2:
                self.error(
                    "policy-unknown-path",
                    "`facts` needs a field name",
                    operand.span,
                    "name the fact, e.g. `facts.eu_entity`",
                )
            return "any"
        if root == "source" and not self.source_context:
            self.error(
                "policy-no-source",
                f"`{operand.dotted}` names a source, but this clause is not about one source",
                operand.span,
                "use `any source where (…)`, or give the clause `scope source`",
            )
        kind = known_paths().get(operand.dotted)
        if kind is None:
            self.error(
                "policy-unknown-path",
                f"unknown manifest path `{operand.dotted}`",
                operand.span,
                _path_help(operand.dotted) or "see `tosguard schema` for the manifest's fields",
            )
            return "unknown"
        return kind

    def _literal_fits(self, path: ast.Path, literal: ast.Literal, op: str) -> None:
        kind = known_paths().get(path.dotted)
        if kind is None:
            return
        value = literal.value
        literal_kind = _literal_type(value)
        element = "str" if kind in ("list", "country", "list[country]") else kind
        if kind == "date" and literal_kind != "date":
            self.error(
                "policy-type-mismatch",
                f"`{path.dotted}` is a date, and `{value}` is not",
                literal.span,
                "write dates as YYYY-MM-DD",
            )
            return
        if element != literal_kind and not (
            element in ("int", "float") and literal_kind in ("int", "float")
        ):
            self.error(
                "policy-type-mismatch",
                f"`{path.dotted}` is a {kind}, and `{value}` is a {literal_kind}",
                literal.span,
                "write text in double quotes, numbers bare, dates as YYYY-MM-DD",
            )
            return
        allowed = path_values().get(path.dotted)
        if allowed and value not in allowed:
            self.error(
                "policy-unknown-value",
                f"`{value}` is not a value of `{path.dotted}`",
                literal.span,
                did_you_mean(str(value), allowed),
            )
        if (
            kind in ("country", "list[country]")
            and isinstance(value, str)
            and not is_country(value)
        ):
            self.error(
                "policy-bad-country",
                f"`{value}` is not an ISO 3166-1 alpha-2 country code",
                literal.span,
                suggest_country(value),
            )


def _a(kind: str | None) -> str:
    if kind is None:
        return "a clause without a kind"
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _shown(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _literal_type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, date):
        return "date"
    return "str"


def _path_help(dotted: str) -> str:
    return did_you_mean(dotted, known_paths())


def _text(operand) -> str:
    return operand.dotted if isinstance(operand, ast.Path) else repr(operand.value)
