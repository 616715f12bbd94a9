"""Checked AST → IR (:mod:`tosguard.engine.ir`): names resolved, defaults applied, exceptions
attached to the clauses they lift, and index keys read off each policy's ``governs``."""

from __future__ import annotations

from datetime import date

from ..errors import DiagnosticSink
from ..language import ast
from ..language.conditions import format_condition
from ..language.validate import Names, namespace_names, policy_names
from ..language.visitor import ConditionVisitor
from . import budget as budgets
from .ir import (
    INDEX_FIELDS,
    And,
    CitationIR,
    ClauseIR,
    Compare,
    Cond,
    Const,
    Contains,
    ContainsSet,
    Declared,
    Governed,
    InSet,
    Lit,
    Matches,
    Not,
    Operand,
    Or,
    Origins,
    Path,
    PolicyIR,
    Predicate,
    Quantifier,
)


# ---- AST → IR ---------------------------------------------------------------------------------
class _Compiler(ConditionVisitor):
    """Compiles the conditions of one policy. Each IR node's ``text`` is its AST node as the
    one condition printer writes it (:mod:`tosguard.language.conditions`)."""

    def __init__(self, names: Names):
        self.names = names
        # id(define) -> its body compiled: a predicate used in many places is compiled once
        # and shared, so compiling costs what the policy's text does, not what it expands to
        self.bodies: dict[int, Cond] = {}
        self.nodes = 0

    def operand(self, node) -> Operand:
        if isinstance(node, ast.Literal):
            return Lit(node.value)
        return Path(node.parts[0], tuple(node.parts[1:]))

    def values(self, ref) -> frozenset:
        if isinstance(ref, ast.SetLiteral):
            return frozenset(item.value for item in ref.items)
        found = self.names.set(ref.name, ref.library)
        return frozenset(item.value for item in found.items) if found else frozenset()

    def cond(self, node) -> Cond:
        self.nodes += 1
        if not self.nodes & 1023:
            budgets.checkpoint()
        return self.visit(node, format_condition(node))

    def visit_and(self, node: ast.And, text: str) -> Cond:
        return And(text, tuple(self.cond(i) for i in node.items))

    def visit_or(self, node: ast.Or, text: str) -> Cond:
        return Or(text, tuple(self.cond(i) for i in node.items))

    def visit_not(self, node: ast.Not, text: str) -> Cond:
        return Not(text, self.cond(node.item))

    def visit_const(self, node: ast.Const, text: str) -> Cond:
        return Const(text, node.value)

    def visit_compare(self, node: ast.Compare, text: str) -> Cond:
        return Compare(text, node.op, self.operand(node.left), self.operand(node.right))

    def visit_in_set(self, node: ast.InSet, text: str) -> Cond:
        return InSet(text, self.operand(node.operand), self.values(node.values), node.negated)

    def visit_contains(self, node: ast.Contains, text: str) -> Cond:
        if node.mode == "one":
            return Contains(text, self.operand(node.operand), self.operand(node.value))
        return ContainsSet(text, self.operand(node.operand), self.values(node.values), node.mode)

    def visit_matches(self, node: ast.Matches, text: str) -> Cond:
        return Matches(text, self.operand(node.operand), node.pattern, node.regex)

    def visit_declared(self, node: ast.Declared, text: str) -> Cond:
        return Declared(text, self.operand(node.operand), node.negated)

    def visit_quantifier(self, node: ast.Quantifier, text: str) -> Cond:
        if node.origins:
            return Origins(text, node.quantifier, self.cond(node.body))
        return Quantifier(text, node.quantifier, node.other, self.cond(node.body))

    def visit_name_ref(self, node: ast.NameRef, text: str) -> Cond:
        if node.name == "governed" and not node.library:
            return Governed(text)
        define = self.names.define(node.name, node.library)
        assert define is not None, f"unchecked name `{node.name}`"  # validate reports them
        body = self.bodies.get(id(define))
        if body is None:  # the body's names resolve where it is defined
            names, self.names = self.names, self.names.scope_of(define)
            try:
                body = self.bodies[id(define)] = self.cond(define.condition)
            finally:
                self.names = names
        return Predicate(text, node.name, body)


def compile_files(files: list[ast.PolicyFile], display: dict[str, str]) -> list[PolicyIR]:
    """Compile checked files; ``display`` maps file paths to the names reports show."""
    sink = DiagnosticSink()  # the files are checked already; duplicates were reported there
    namespaces = namespace_names(files, sink)
    compiled: list[PolicyIR] = []
    for file in files:
        for policy in file.policies:
            budgets.checkpoint()
            names = policy_names(policy, namespaces.of(file), file.text, sink)
            compiled.append(
                _compile_policy(policy, _Compiler(names), display.get(file.path, file.path))
            )
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
        ast.InSet(
            operand=ast.Path(parts=("source", "kind")),
            values=literals("model-output", "model-weights"),
        ),
        ast.Compare(
            op="==",
            left=ast.Path(parts=("source", "provider")),
            right=ast.Literal(value=policy.provider or ""),
        ),
    ]
    if policy.services:
        items.append(
            ast.InSet(
                operand=ast.Path(parts=("source", "service")), values=literals(*policy.services)
            )
        )
    return ast.And(items=tuple(items))


def _compile_policy(policy: ast.Policy, compiler: _Compiler, display: str) -> PolicyIR:
    governs_ast = policy.governs or _default_governs(policy)
    governs = compiler.cond(governs_ast)
    clauses = [_compile_clause(policy, clause, compiler, display) for clause in policy.clauses]
    topics = {clause.id: clause.topic for clause in clauses}
    for clause in clauses:  # an exception without a topic takes the topic of what it lifts
        if not clause.topic and clause.lifts:
            clause.topic = (
                topics.get(clause.lifts[0][1], "") if clause.lifts[0][0] == policy.id else ""
            )
    return PolicyIR(
        id=policy.id,
        provider=policy.provider or "",
        document=policy.document or "",
        services=policy.services,
        version=policy.version or str(policy.effective),
        effective=policy.effective or date.min,
        ends=policy.ends,
        url=policy.url or "",
        licenses=policy.licenses,
        applies_from=policy.applies_from,
        governs=governs,
        clauses=clauses,
        file=display,
        line=policy.span.line,
        keys=index_keys(governs),
    )


def _compile_clause(
    policy: ast.Policy, clause: ast.Clause, compiler: _Compiler, display: str
) -> ClauseIR:
    citation = clause.citation or ast.Citation()
    kind = clause.kind or "prohibition"
    return ClauseIR(
        policy=policy.id,
        id=clause.id,
        topic=clause.topic or "",
        kind=kind,
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
            unverified=citation.unverified or "",
        ),
        file=display,
        line=clause.span.line,
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
        if (
            isinstance(item, Compare)
            and item.op == "=="
            and isinstance(item.left, Path)
            and isinstance(item.right, Lit)
        ):
            path, values = item.left, frozenset((item.right.value,))
        elif isinstance(item, InSet) and not item.negated and isinstance(item.operand, Path):
            path, values = item.operand, item.values
        else:
            continue
        if path.root == "source" and len(path.parts) == 1 and path.parts[0] in INDEX_FIELDS:
            keys[path.parts[0]] = values
    return keys
