"""Static checks on parsed policy files: names, manifest paths, vocabularies, country codes,
citations, duplicate ids and versions, exceptions that lift nothing.

Every problem becomes a :class:`~tosguard.errors.Diagnostic`; all of them are collected, so a
legal team sees every mistake in one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from . import ast
from .countries import is_country, suggest_country
from .errors import Diagnostic, DiagnosticSink, Span, did_you_mean, line_of
from .manifest import known_paths, path_values
from .vocab import KINDS, PATH_ROOTS, SCOPES, SEVERITIES, TOPICS

PROVIDER_ID = re.compile(r"[a-z][a-z0-9-]*\Z")
COUNTRY_PATHS_SUFFIX = ("country", "owned_from", "from_country")
BUILTIN_NAMES = ("governed",)


@dataclass
class Names:
    """The sets and predicates visible from one policy: its own, then the library's."""

    sets: dict[str, ast.SetDef] = field(default_factory=dict)
    defines: dict[str, ast.Define] = field(default_factory=dict)
    parent: Names | None = None

    def set(self, name: str) -> ast.SetDef | None:
        found = self.sets.get(name)
        return found if found or not self.parent else self.parent.set(name)

    def define(self, name: str) -> ast.Define | None:
        found = self.defines.get(name)
        return found if found or not self.parent else self.parent.define(name)

    def all_sets(self) -> Iterator[str]:
        yield from self.sets
        if self.parent:
            yield from self.parent.all_sets()

    def all_defines(self) -> Iterator[str]:
        yield from self.defines
        if self.parent:
            yield from self.parent.all_defines()


def global_names(files: Iterable[ast.PolicyFile], sink: DiagnosticSink) -> Names:
    names = Names()
    for file in files:
        _declare(names, file.sets, file.defines, file.text, sink)
    return names


def policy_names(policy: ast.Policy, library: Names, text: str, sink: DiagnosticSink) -> Names:
    names = Names(parent=library)
    _declare(names, policy.sets, policy.defines, text, sink)
    return names


def _declare(names: Names, sets, defines, text: str, sink: DiagnosticSink) -> None:
    for item in (*sets, *defines):
        if item.name in names.sets or item.name in names.defines or item.name in BUILTIN_NAMES:
            sink.error("policy-duplicate-name", f"`{item.name}` is defined twice", item.span,
                       "give each set and predicate its own name",
                       source_line=line_of(text, item.span.line))
            continue
        if isinstance(item, ast.SetDef):
            names.sets[item.name] = item
        else:
            names.defines[item.name] = item


# ---- the library ------------------------------------------------------------------------------
def check_library(files: list[ast.PolicyFile]) -> list[Diagnostic]:
    """All diagnostics for a set of parsed files, sorted by location."""
    sink = DiagnosticSink()
    texts = {f.path: f.text for f in files}
    library = global_names(files, sink)
    for file in files:
        for set_def in file.sets:
            _check_set(set_def, file.text, sink)
        for define in file.defines:
            _ConditionChecker(library, file.text, sink, source_context=True).check_define(define)
    _check_versions([(p, f) for f in files for p in f.policies], texts, sink)
    clause_ids = {(p.id, c.id) for f in files for p in f.policies for c in p.clauses}
    for file in files:
        for policy in file.policies:
            _check_policy(policy, file.text, library, clause_ids, sink)
    return sorted(sink.diagnostics, key=Diagnostic.sort_key)


def _check_versions(policies: list[tuple[ast.Policy, ast.PolicyFile]], texts, sink) -> None:
    seen: dict[tuple[str, date | None], ast.Policy] = {}
    by_id: dict[str, list[ast.Policy]] = {}
    for policy, _file in policies:
        key = (policy.id, policy.effective)
        if key in seen:
            first = seen[key]
            sink.error(
                "policy-duplicate-version",
                f"policy `{policy.id}` has two versions effective {policy.effective}",
                policy.span,
                f"the other is at {first.span}; give each version its own effective date",
                source_line=line_of(texts[policy.span.file], policy.span.line))
        seen[key] = policy
        by_id.setdefault(policy.id, []).append(policy)
    for versions in by_id.values():
        dated = sorted((p for p in versions if p.effective),
                       key=lambda p: p.effective or date.min)
        for earlier, later in zip(dated, dated[1:], strict=False):
            if earlier.ends and later.effective and earlier.ends >= later.effective:
                span = earlier.fields.get("ends", earlier.span)
                sink.error(
                    "policy-overlapping-versions",
                    f"version {earlier.effective} of `{earlier.id}` ends {earlier.ends}, after "
                    f"the next version takes effect ({later.effective})",
                    span, f"end it on {later.effective - timedelta(days=1)} or drop `ends`",
                    source_line=line_of(texts[span.file], span.line))
        providers = {p.provider for p in versions if p.provider}
        if len(providers) > 1:
            policy = versions[-1]
            sink.error("policy-provider-mismatch",
                       f"versions of `{policy.id}` name different providers: "
                       + ", ".join(f"`{p}`" for p in sorted(providers)),
                       policy.span, "all versions of one document have one provider",
                       source_line=line_of(texts[policy.span.file], policy.span.line))


def _check_policy(policy, text, library, clause_ids, sink) -> None:
    def error(code, message, span, help=""):
        sink.error(code, message, span, help, source_line=line_of(text, span.line))

    for required in ("provider", "document", "effective", "url"):
        if getattr(policy, required) is None:
            error("policy-missing-field", f"policy `{policy.id}` has no `{required}`",
                  policy.span, f"add `{required} …` to the policy header")
    if policy.provider and not PROVIDER_ID.match(policy.provider):
        error("policy-bad-provider", f"provider id `{policy.provider}` is not a lowercase id",
              policy.fields["provider"], "write provider ids like `openai` or `my-lab`")
    services = path_values()["source.service"]
    for service in policy.services:
        if service not in services:
            error("policy-unknown-value", f"`{service}` is not a service",
                  policy.fields["services"], did_you_mean(service, services))
    if policy.ends and policy.effective and policy.ends < policy.effective:
        error("policy-bad-dates", f"`ends {policy.ends}` is before `effective {policy.effective}`",
              policy.fields["ends"], "a version must end on or after the day it takes effect")
    if policy.governs is None and not policy.services and policy.provider:
        error("policy-missing-field", f"policy `{policy.id}` says neither `service` nor `governs`",
              policy.span, "add `service api` (or another service), or a `governs` condition")

    names = policy_names(policy, library, text, sink)
    for set_def in policy.sets:
        _check_set(set_def, text, sink)
    for define in policy.defines:
        _ConditionChecker(names, text, sink, source_context=True).check_define(define)
    if policy.governs is not None:
        _ConditionChecker(names, text, sink, source_context=True, in_governs=True).check(
            policy.governs)

    seen: dict[str, ast.Clause] = {}
    for clause in policy.clauses:
        if clause.id in seen:
            error("policy-duplicate-clause", f"clause id `{clause.id}` is used twice in "
                  f"`{policy.id}`", clause.span,
                  f"the first is at line {seen[clause.id].span.line}; clause ids must be unique")
        seen[clause.id] = clause
        _check_clause(policy, clause, names, text, clause_ids, sink)


def _check_clause(policy, clause: ast.Clause, names, text, clause_ids, sink) -> None:
    def error(code, message, span, help=""):
        sink.error(code, message, span, help, source_line=line_of(text, span.line))

    where = f"clause `{clause.id}`"
    fields = clause.fields
    for name, vocab in (("topic", TOPICS), ("kind", KINDS), ("scope", SCOPES),
                        ("severity", SEVERITIES)):
        value = getattr(clause, name)
        if value is not None and value not in vocab:
            error("policy-unknown-value", f"for {where}, `{value}` is not a {name}",
                  fields[name], did_you_mean(value, vocab))
    if clause.topic is None and not clause.lifts:
        error("policy-missing-field", f"{where} has no `topic`", clause.span,
              "add `topic …` with one of the spec's topics, e.g. `topic competing-models`")
    if clause.kind is None:
        error("policy-missing-field", f"{where} has no `kind`", clause.span,
              "add `kind prohibition`, `kind obligation` or `kind permission`")
    if clause.kind == "obligation" and clause.require is None:
        error("policy-missing-field", f"obligation {where} has no `require`", clause.span,
              "say what must hold with `require <condition>`")
    if clause.kind in ("prohibition", "permission") and clause.when is None:
        error("policy-missing-field", f"{where} has no `when`", clause.span,
              "say when it applies with `when <condition>`")
    if clause.kind != "obligation" and clause.require is not None:
        error("policy-misplaced-field", f"`require` is only for obligations ({where} is "
              f"{_a(clause.kind)})", fields["require"], "fold the requirement into `when`")
    if clause.lifts and clause.kind != "permission":
        error("policy-misplaced-field", f"only permissions lift other clauses ({where} is "
              f"{_a(clause.kind)})", fields.get("lifts", clause.span),
              "use `kind permission` or write it as `exception … lifts …`")
    for ref in clause.lifts:
        target = (ref.policy or policy.id, ref.clause)
        if target not in clause_ids:
            candidates = [c for p, c in clause_ids if p == target[0]]
            error("policy-unknown-clause", f"exception `{clause.id}` lifts `{ref}`, which does "
                  "not exist", ref.span, did_you_mean(ref.clause, candidates)
                  or "name a clause of this policy, or `policy-id/clause-id`")
        elif target == (policy.id, clause.id):
            error("policy-unknown-clause", f"exception `{clause.id}` lifts itself", ref.span,
                  "name the prohibition it makes an exception to")
    for agreement in clause.waivers:
        if not agreement.strip():
            error("policy-bad-value", "empty agreement id in `waived by`",
                  fields["waivers"], "name the agreement, e.g. `waived by \"openai-consent\"`")

    _check_citation(policy, clause, text, sink)
    scope = clause.scope or "source"
    checker = _ConditionChecker(names, text, sink, source_context=scope == "source")
    for condition in (clause.when, clause.require):
        if condition is not None:
            checker.check(condition)


def _check_citation(policy, clause, text, sink) -> None:
    citation = clause.citation
    where = f"clause `{clause.id}`"
    if citation is None:
        sink.error("policy-missing-citation", f"{where} has no citation", clause.span,
                   "add `cite { section \"…\" quote \"…\" }` with the verbatim words it rests on",
                   source_line=line_of(text, clause.span.line))
        return
    for name in ("section", "quote"):
        if not getattr(citation, name):
            sink.error("policy-missing-citation", f"the citation of {where} has no `{name}`",
                       citation.span, f"add `{name} \"…\"` inside `cite {{ … }}`",
                       source_line=line_of(text, citation.span.line))
    for name in ("document", "url", "effective"):
        if not getattr(citation, name) and not getattr(policy, name):
            sink.error("policy-missing-citation", f"the citation of {where} has no `{name}`",
                       citation.span, f"add `{name} …` to the citation or to the policy header",
                       source_line=line_of(text, citation.span.line))


def _check_set(set_def: ast.SetDef, text: str, sink: DiagnosticSink) -> None:
    seen = set()
    for item in set_def.items:
        key = (type(item.value), item.value)  # `1` and `true` are different entries
        if key in seen:
            sink.error("policy-duplicate-value", f"`{_shown(item.value)}` appears twice in set "
                       f"`{set_def.name}`", item.span, "remove the repeated entry",
                       source_line=line_of(text, item.span.line))
        seen.add(key)
        if set_def.countries and not is_country(str(item.value)):
            sink.error("policy-bad-country", f"`{item.value}` is not an ISO 3166-1 alpha-2 "
                       "country code", item.span, suggest_country(str(item.value)),
                       source_line=line_of(text, item.span.line))


# ---- conditions -------------------------------------------------------------------------------
class _ConditionChecker:
    """Walks a condition, checking names, paths and literal values against the manifest."""

    def __init__(self, names: Names, text: str, sink: DiagnosticSink, *, source_context: bool,
                 in_governs: bool = False):
        self.names = names
        self.text = text
        self.sink = sink
        self.source_context = source_context
        self.in_governs = in_governs
        self.expanding: list[str] = []

    def error(self, code: str, message: str, span: Span, help: str = "") -> None:
        self.sink.error(code, message, span, help, source_line=line_of(self.text, span.line))

    def check_define(self, define: ast.Define) -> None:
        self.expanding = [define.name]
        self.check(define.condition, check_context=False)
        self.expanding = []

    def check(self, node, *, check_context: bool = True) -> None:
        saved = self.source_context
        if not check_context:
            self.source_context = True
        try:
            self._walk(node)
        finally:
            self.source_context = saved

    def _walk(self, node) -> None:
        method = getattr(self, "_check_" + type(node).__name__.lower())
        method(node)

    def _check_and(self, node: ast.And) -> None:
        for item in node.items:
            self._walk(item)

    _check_or = _check_and

    def _check_not(self, node: ast.Not) -> None:
        self._walk(node.item)

    def _check_const(self, node: ast.Const) -> None:
        pass

    def _check_quantifier(self, node: ast.Quantifier) -> None:
        if node.origins and not self.source_context:
            self.error("policy-bad-quantifier", "`origin` needs a current source",
                       node.span, "`any origin where` is for clauses with `scope source`")
        if node.other and not self.source_context:
            self.error("policy-bad-quantifier", "`other` needs a current source",
                       node.span, "`any other source` is for clauses with `scope source`")
        saved = self.source_context
        self.source_context = True
        try:
            self._walk(node.body)
        finally:
            self.source_context = saved

    def _check_nameref(self, node: ast.NameRef) -> None:
        if node.name == "governed":
            if self.in_governs:
                self.error("policy-bad-name", "`governed` cannot be used inside `governs`",
                           node.span, "`governs` is what defines `governed`")
            elif not self.source_context:
                self.error("policy-bad-name", "`governed` needs a current source", node.span,
                           "use it in a `scope source` clause or inside `any source where (…)`")
            return
        define = self.names.define(node.name)
        if define is None:
            hint = did_you_mean(node.name, [*self.names.all_defines(), *BUILTIN_NAMES])
            if self.names.set(node.name):
                hint = f"`{node.name}` is a set; test membership with `… in {node.name}`"
            self.error("policy-unknown-name", f"unknown predicate `{node.name}`", node.span,
                       hint or "define it with `define name = <condition>`")
            return
        if node.name in self.expanding:
            cycle = " → ".join([*self.expanding, node.name])
            self.error("policy-cyclic-definition", f"`{node.name}` is defined in terms of "
                       f"itself ({cycle})", node.span, "break the cycle")
            return
        self.expanding.append(node.name)
        try:
            self._walk(define.condition)
        finally:
            self.expanding.pop()

    # -- leaves
    def _check_compare(self, node: ast.Compare) -> None:
        left_type = self._operand(node.left)
        right_type = self._operand(node.right)
        for path, literal in ((node.left, node.right), (node.right, node.left)):
            if isinstance(path, ast.Path) and isinstance(literal, ast.Literal):
                self._literal_fits(path, literal, node.op)
        if node.op not in ("==", "!=") and "list" in (left_type, right_type):
            self.error("policy-type-mismatch", f"`{node.op}` cannot compare lists", node.span,
                       "use `contains` to test list membership")

    def _check_inset(self, node: ast.InSet) -> None:
        self._operand(node.operand)
        for literal in self._set_items(node.values):
            if isinstance(node.operand, ast.Path):
                self._literal_fits(node.operand, literal, "in")

    def _check_contains(self, node: ast.Contains) -> None:
        kind = self._operand(node.operand)
        if kind not in ("list", "str", "any"):
            self.error("policy-type-mismatch", f"`contains` needs a list or text, and "
                       f"`{_text(node.operand)}` is a {kind}", node.span,
                       "compare with `==` or `in` instead")
        values = [node.value] if node.value is not None else list(self._set_items(node.values))
        for value in values:
            if isinstance(value, ast.Path):
                self._operand(value)
            elif isinstance(node.operand, ast.Path) and isinstance(value, ast.Literal):
                self._literal_fits(node.operand, value, "contains")

    def _check_matches(self, node: ast.Matches) -> None:
        kind = self._operand(node.operand)
        if kind not in ("str", "any"):
            self.error("policy-type-mismatch", f"`matches` needs text, and "
                       f"`{_text(node.operand)}` is a {kind}", node.span,
                       "match on a name such as `model.name`")
        if node.regex:
            try:
                re.compile(node.pattern)
            except re.error as error:
                self.error("policy-bad-regex", f"invalid regular expression: {error}",
                           node.span, "regular expressions use Python's `re` syntax")

    def _check_declared(self, node: ast.Declared) -> None:
        self._operand(node.operand)

    def _set_items(self, ref) -> Iterator[ast.Literal]:
        if isinstance(ref, ast.SetLiteral):
            yield from ref.items
            return
        found = self.names.set(ref.name)
        if found is None:
            hint = did_you_mean(ref.name, self.names.all_sets())
            if self.names.define(ref.name):
                hint = f"`{ref.name}` is a predicate, not a set"
            self.error("policy-unknown-name", f"unknown set `{ref.name}`", ref.span,
                       hint or "define it with `set name = { … }`")
            return
        yield from found.items

    def _operand(self, operand) -> str:
        """Check an operand and return its type tag (``str``, ``list``, ``date`` …)."""
        if isinstance(operand, ast.Literal):
            return _literal_type(operand.value)
        parts = operand.parts
        root = parts[0]
        if root not in PATH_ROOTS:
            help = _path_help(operand.dotted) or (
                f'to compare with the text `{root}`, write it in double quotes: `"{root}"`'
                if len(parts) == 1 else
                "paths start with `source.`, `model.`, `organization.` or `facts.`")
            self.error("policy-unknown-path", f"unknown manifest path `{operand.dotted}`",
                       operand.span, help)
            return "unknown"
        if root == "facts":
            if len(parts) < 2:
                self.error("policy-unknown-path", "`facts` needs a field name", operand.span,
                           "name the fact, e.g. `facts.eu_entity`")
            return "any"
        if root == "source" and not self.source_context:
            self.error("policy-no-source", f"`{operand.dotted}` names a source, but this "
                       "clause is not about one source", operand.span,
                       "use `any source where (…)`, or give the clause `scope source`")
        kind = known_paths().get(operand.dotted)
        if kind is None:
            self.error("policy-unknown-path", f"unknown manifest path `{operand.dotted}`",
                       operand.span, _path_help(operand.dotted)
                       or "see `tosguard schema` for the manifest's fields")
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
            self.error("policy-type-mismatch", f"`{path.dotted}` is a date, and `{value}` is "
                       "not", literal.span, "write dates as YYYY-MM-DD")
            return
        if element != literal_kind and not (element in ("int", "float") and
                                             literal_kind in ("int", "float")):
            self.error("policy-type-mismatch", f"`{path.dotted}` is a {kind}, and `{value}` is "
                       f"a {literal_kind}", literal.span,
                       "write text in double quotes, numbers bare, dates as YYYY-MM-DD")
            return
        allowed = path_values().get(path.dotted)
        if allowed and value not in allowed:
            self.error("policy-unknown-value", f"`{value}` is not a value of `{path.dotted}`",
                       literal.span, did_you_mean(str(value), allowed))
        if path.parts[-1] in COUNTRY_PATHS_SUFFIX and isinstance(value, str) \
                and not is_country(value):
            self.error("policy-bad-country", f"`{value}` is not an ISO 3166-1 alpha-2 country "
                       "code", literal.span, suggest_country(value))


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
