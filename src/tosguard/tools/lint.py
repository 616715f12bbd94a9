"""``tosguard lint``: every static check on policy files, all problems at once.

Lint runs, over every file named or found under a directory:

* the parser (syntax errors, mapped to friendly messages by :mod:`tosguard.language.mistakes`);
* the checker (:func:`tosguard.language.validate.check_library`: unknown names and manifest paths
with
  "did you mean", country codes, duplicate policy versions and clause ids, citation fields,
  overlapping versions, exceptions that lift nothing …);
* the checks below, which only a linter makes: conditions that can never hold, exceptions that
  lift a permission, versions with a gap between them, unused definitions, prohibitions and
  obligations without a remedy, and quotes missing from the stored source text
  (:mod:`tosguard.tools.provenance`).

Diagnostics are sorted by file, line and column. ``error`` diagnostics fail the lint (exit 2);
``warning`` diagnostics are shown but fail it only with ``--strict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from ..engine import budget as budgets
from ..errors import (
    Diagnostic,
    DiagnosticSink,
    PolicyError,
    Span,
    capped,
    source_at,
)
from ..errors import (
    counts as count_diagnostics,
)
from ..language import ast
from ..language.conditions import format_condition
from ..language.conditions import literal as literal_text
from ..language.validate import (
    MAX_EXPANDED_DEPTH,
    Expansion,
    Names,
    namespace_names,
    policy_names,
)

# Diagnostics that name things defined elsewhere: after a syntax error in another file they
# would be noise, so they wait until the syntax errors are fixed.
RESOLUTION_CODES = {"policy-unknown-name", "policy-unknown-clause"}
DNF_LIMIT = 256  # conjunctions in a normal form
DNF_WORK = 20_000  # steps (nodes visited, literals copied) one condition's analysis may take
LINT_WORK = 200_000  # steps all the analyses of one lint may take (the shipped library: 3,481)


@dataclass
class LintResult:
    """The diagnostics of a lint, capped (:func:`~tosguard.errors.capped`): the first 100 by
    location, then one that counts the rest."""

    files: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def counts(self) -> tuple[int, int]:
        """The numbers of errors and warnings, shown or not."""
        return count_diagnostics(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def summary(self) -> str:
        def count(n: int, word: str) -> str:
            return f"{n} {word}{'' if n == 1 else 's'}"

        errors, warnings = self.counts()
        return (
            f"{count(errors, 'error')}, {count(warnings, 'warning')} "
            f"in {count(len(self.files), 'file')}"
        )


# ---- entry points -----------------------------------------------------------------------------
def lint_paths(
    paths: Sequence[str | Path],
    context: Sequence[str | Path] = (),
    *,
    provenance: bool = True,
    with_library: bool = False,
) -> LintResult:
    """Lint the ``.tos`` files named or found under ``paths``, and the fingerprint files
    (``fingerprints.yaml``) named or found under them.

    Alone, the files are linted as a library of their own (what ``check --policies PATHS``
    loads). With ``context`` (or ``with_library``: the shipped library), the context is the
    library and the linted files are user policies over it, in their own namespace: what
    ``check --policies CONTEXT --extra-policies PATHS`` loads. A linted file that is also a
    file of the context is linted as the library's. Context files are read for their
    definitions and clauses; of them only errors are reported (``check`` would refuse the set
    for those), not warnings.
    """
    from ..engine.library import default_paths, policy_files

    sink = DiagnosticSink()
    found: list[tuple[Path, str]] = []
    named_fingerprints = [p for p in paths if _is_fingerprint_file(p)]
    for given in paths:
        if given in named_fingerprints:
            continue
        try:
            found += policy_files([given])
        except PolicyError as error:
            sink.diagnostics += error.diagnostics
    if with_library and not context:
        context = default_paths()
    extra: list[tuple[Path, str]] = []
    for given in context:
        try:
            extra += policy_files([given])
        except PolicyError as error:
            sink.diagnostics += error.diagnostics
    context_paths = {p.resolve() for p, _ in extra}
    linted = {display for _, display in found}
    extra = [
        (p, d)
        for p, d in extra
        if d not in linted and p.resolve() not in {f.resolve() for f, _ in found}
    ]
    texts = [
        (display, _read(path, display, sink), bool(context) and path.resolve() not in context_paths)
        for path, display in found
    ]
    context_texts = [(display, _read(path, display, sink)) for path, display in extra]
    locate = {display: path for path, display in found} if provenance else {}
    result = _lint(texts, context_texts, locate)
    from ..scan.fingerprints import fingerprint_files, lint_fingerprints

    fingerprints = fingerprint_files([*(p for p in paths if Path(p).is_dir()), *named_fingerprints])
    result.diagnostics += lint_fingerprints(fingerprints)
    result.files += [str(f) for f in fingerprints]
    result.diagnostics = capped({*sink.diagnostics, *result.diagnostics}, code_prefix="policy")
    return result


def lint_text(text: str, name: str = "<policy>") -> LintResult:
    """Lint one policy text on its own."""
    return _lint([(name, text, False)], [], {})


def lint_files(
    files: Sequence[ast.PolicyFile],
    context: Sequence[ast.PolicyFile] = (),
    *,
    syntax_failed: bool = False,
) -> list[Diagnostic]:
    """Every check lint makes on parsed ``files`` except the parse itself and provenance,
    with ``context`` as the rest of their set (the HTTP validate endpoint passes the loaded
    set, parsed once): first what the front end's ``validate`` stage finds,
    as ``check`` would, then the linter's own checks. The diagnostics about ``files``, and
    the errors about ``context``, sorted."""
    from ..engine.frontend import FrontEndRun, PolicySources, run_front_end

    names = {f.path for f in files}
    run = FrontEndRun(PolicySources([]), files=[*context, *files])
    checked = run_front_end(run, start="validate", until="validate").diagnostics
    diagnostics = [
        d
        for d in checked
        if (d.span.file in names or d.severity == "error")
        and not (syntax_failed and d.code in RESOLUTION_CODES)
    ]
    diagnostics += _extra_checks(list(files), list(context))
    return capped(set(diagnostics), code_prefix="policy")


def library_of(
    paths: Sequence[str | Path], library: Sequence[str | Path], extra: Sequence[str | Path] = ()
) -> tuple[list[str | Path], list[str | Path]]:
    """What to lint, and over which library, when ``lint`` is given files of a policy set.

    A pre-commit hook names the files that changed, one by one; a file of a library uses the
    names its other files define. So a named ``.tos`` file inside ``library`` (the configured
    ``policies``, else the shipped library) is linted as a file of that library, and one
    inside ``extra`` (the configured ``extra-policies``) is linted with the rest of its set,
    as user policies over ``library``: what ``check`` loads. Returns ``(paths, context)``;
    with no named file inside either, ``(paths, [])``: the files are a library of their own.
    """
    files = [Path(p) for p in paths if Path(p).suffix == ".tos" and Path(p).is_file()]
    in_library = [f for f in files if _inside(f, library)]
    in_extra = [f for f in files if _inside(f, extra) and f not in in_library]
    if not in_library and not in_extra:
        return list(paths), []
    if not in_extra:
        return list(paths), list(library)
    # the extra sets of the named files, whole, in place of those files (read once each)
    sets = [e for e in extra if any(_inside(f, [e]) for f in in_extra)]
    kept = [p for p in paths if not _inside(Path(p), sets)]
    return [*kept, *(e for e in sets if not _inside(Path(e), kept))], list(library)


def _inside(path: Path, roots: Sequence[str | Path]) -> bool:
    """Whether ``path`` is one of ``roots`` or under one of them (resolved: links followed)."""
    try:
        resolved = path.resolve()
    except OSError:
        return False
    for root in roots:
        try:
            base = Path(root).resolve()
        except OSError:
            continue
        if resolved == base or base in resolved.parents:
            return True
    return False


def _is_fingerprint_file(path: str | Path) -> bool:
    """A YAML file named on the command line: a fingerprint file (policies are `.tos`)."""
    return Path(path).suffix in (".yaml", ".yml") and Path(path).is_file()


def _read(path: Path, display: str, sink: DiagnosticSink) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as error:
        sink.error(
            "policy-io",
            f"cannot read `{display}`: {error.strerror or error}",
            Span(display),
            "check the path and its permissions",
        )
    return None


def _lint(
    texts: Sequence[tuple[str, str | bytes | None, bool]],
    context: Sequence[tuple[str, str | bytes | None]],
    locate: dict[str, Path],
) -> LintResult:
    """Lint ``texts`` (name, text or bytes, whether a user file) over ``context`` (the
    library's files)."""
    from ..engine.frontend import parse_policy_data

    diagnostics: list[Diagnostic] = []
    parsed: list[ast.PolicyFile] = []
    syntax_failed = False
    for name, text, user in texts:
        if text is None:
            syntax_failed = True
            continue
        try:
            parsed.append(parse_policy_data(text, name, user=user))
        except PolicyError as error:
            diagnostics += error.diagnostics
            syntax_failed = True
    context_files: list[ast.PolicyFile] = []
    for name, text in context:
        if text is None:
            continue
        try:
            context_files.append(parse_policy_data(text, name))
        except PolicyError as error:  # `check` would refuse the set: say so
            diagnostics += error.diagnostics
            syntax_failed = True
    diagnostics += lint_files(parsed, context_files, syntax_failed=syntax_failed)
    if locate:
        from .provenance import check_quotes

        diagnostics += check_quotes(parsed, locate)
    return LintResult(
        [name for name, _, _ in texts], capped(set(diagnostics), code_prefix="policy")
    )


# ---- the linter's own checks ------------------------------------------------------------------
def _extra_checks(files: list[ast.PolicyFile], context: list[ast.PolicyFile]) -> list[Diagnostic]:
    sink = DiagnosticSink()
    quiet = DiagnosticSink()  # duplicate names and oversized predicates: the checker's to report
    everything = [*files, *context]
    namespaces = namespace_names(everything, quiet)
    texts = {f.path: f.text for f in everything}

    def expansion(names: Names) -> Expansion:
        return Expansion(names, lambda path: texts.get(path, ""), quiet)

    clauses = {(p.id, c.id): c for f in everything for p in f.policies for c in p.clauses}
    work = _Work()
    for file in files:
        text = file.text

        def warn(code, message, span, help, severity="warning", text=text):
            sink.add(
                Diagnostic(code, message, span, help, **source_at(text, span), severity=severity)
            )

        scope = expansion(namespaces.of(file))
        for define in file.defines:
            _never_holds(
                define.condition, scope, f"predicate `{define.name}`", define.span, warn, work
            )
        for policy in file.policies:
            budgets.checkpoint()
            names = policy_names(policy, namespaces.of(file), text, quiet)
            scope = expansion(names)
            if policy.governs is not None:
                _never_holds(
                    policy.governs,
                    scope,
                    f"the `governs` of `{policy.id}`",
                    policy.governs.span,
                    warn,
                    work,
                )
            for define in policy.defines:
                _never_holds(
                    define.condition, scope, f"predicate `{define.name}`", define.span, warn, work
                )
            _unused_definitions(policy, warn)
            for clause in policy.clauses:
                _lint_clause(policy, clause, scope, clauses, warn, work)
    if work.skipped and files:
        first = files[0]
        sink.add(
            Diagnostic(
                "policy-analysis-incomplete",
                f"the search for conditions that can never hold "
                f"stopped after {LINT_WORK:,} steps; {work.skipped:,} conditions were not "
                "searched",
                Span(first.path, 1, 1),
                "these files are unusually large or "
                "intricate; lint them a few at a time to search them all",
                severity="warning",
            )
        )
    _version_gaps(files, sink)
    return sink.diagnostics


def _lint_clause(policy, clause: ast.Clause, names: Expansion, clauses, warn, work: _Work) -> None:
    what = "exception" if clause.exception else f"{clause.kind or 'clause'}"
    if clause.when is not None:
        _never_holds(
            clause.when, names, f"the `when` of {what} `{clause.id}`", clause.when.span, warn, work
        )
    if clause.require is not None:
        _never_holds(
            clause.require,
            names,
            f"the `require` of obligation `{clause.id}`",
            clause.require.span,
            warn,
            work,
        )
    if clause.kind in ("prohibition", "obligation") and not clause.remedy:
        warn(
            "policy-missing-remedy",
            f"{clause.kind} `{clause.id}` has no `remedy`",
            clause.span,
            'say what the user can do about a finding: `remedy "…"`',
        )
    for ref in clause.lifts:
        target = clauses.get((ref.policy or policy.id, ref.clause))
        if target is not None and (target.kind or "prohibition") == "permission":
            warn(
                "policy-lifts-permission",
                f"`{clause.id}` lifts `{ref}`, which is a "
                "permission: a permission forbids nothing, so lifting it changes nothing",
                ref.span,
                "name the prohibition or obligation this exception makes room for",
            )


def _unused_definitions(policy: ast.Policy, warn) -> None:
    used = _referenced_names(policy)
    for item in ast.definitions(policy):
        if item.name not in used:
            kind = "set" if isinstance(item, ast.SetDef) else "predicate"
            warn(
                "policy-unused-name",
                f"{kind} `{item.name}` is never used in `{policy.id}`",
                item.span,
                "remove it, or use it in a condition",
            )


def _referenced_names(policy: ast.Policy) -> set[str]:
    found: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, (ast.NameRef, ast.SetName)) and not node.library:
            found.add(node.name)
        if isinstance(node, ast.Node):
            for name in type(node).model_fields:
                if name not in ("span", "fields"):
                    visit(getattr(node, name))
        elif isinstance(node, tuple):
            for item in node:
                visit(item)

    visit(policy.governs)
    for define in policy.defines:
        visit(define.condition)
    for clause in policy.clauses:
        visit(clause.when)
        visit(clause.require)
    return found


def _version_gaps(files: list[ast.PolicyFile], sink: DiagnosticSink) -> None:
    """A version that ends before the next takes effect leaves days with no terms in force:
    sources collected then would silently meet no clause of the document."""
    by_id: dict[str, list[tuple[ast.Policy, str]]] = {}
    for file in files:
        for policy in file.policies:
            by_id.setdefault(policy.id, []).append((policy, file.text))
    for versions in by_id.values():
        dated = sorted(
            (v for v in versions if v[0].effective), key=lambda v: v[0].effective or date.min
        )
        for (earlier, text), (later, _) in zip(dated, dated[1:], strict=False):
            if (
                earlier.ends
                and later.effective
                and earlier.ends + timedelta(days=1) < later.effective
            ):
                span = earlier.fields.get("ends", earlier.span)
                sink.add(
                    Diagnostic(
                        "policy-version-gap",
                        f"version {earlier.effective} of `{earlier.id}` ends {earlier.ends}, "
                        "but the "
                        f"next version takes effect only on {later.effective}",
                        span,
                        "no version is in force in between, so sources collected then meet no "
                        "clause of this document; end it the day before the next one, or add the "
                        "missing version",
                        **source_at(text, span),
                        severity="warning",
                    )
                )


# ---- conditions that can never hold -----------------------------------------------------------
def _never_holds(condition, names: Expansion, what: str, span: Span, warn, work: _Work) -> None:
    if isinstance(condition, ast.Const) and condition.value is False:
        warn(
            "policy-never-holds",
            f"{what} is `false`, so it never holds",
            span,
            "a clause that can never apply is disabled; remove it, or write the real condition",
        )
        return
    reason = never_holds(condition, names, work)
    if reason:
        warn("policy-never-holds", f"{what} can never hold", span, reason, severity="error")


def never_holds(
    condition, names: Names | Expansion | None = None, work: _Work | None = None
) -> str:
    """Why ``condition`` can never be true, or ``""`` when it may be (or the question is too
    hard). Three-valued: "holds" means evaluates to true; a comparison with an undeclared
    value is unknown, never true. ``names``: the scope the condition's names resolve in, as
    an :class:`~tosguard.language.validate.Expansion` where the caller has one (so that predicates
    too large
    to expand are not).

    >>> from tosguard.language.parse import parse_policy_text
    >>> def why(text):
    ...     return never_holds(parse_policy_text("define d = " + text).defines[0].condition)
    >>> why('model.name == "a" and model.name == "b"')
    '`model.name` cannot be both `"a"` and `"b"`'
    >>> why('source.records > 10 and source.records < 5')
    '`source.records` cannot be above 10 and below 5 at once'
    >>> why('model.purpose == "chat" or model.commercial')
    ''
    """
    if not isinstance(names, Expansion):
        names = Expansion(names or Names(), lambda path: "", DiagnosticSink())
    work = work or _Work()
    if work.left <= 0:
        work.skipped += 1
        return ""
    budgets.checkpoint()
    try:
        return _Analysis(names, work).reason(condition)
    except _TooHard:
        if work.left < 0:
            work.skipped += 1
        return ""


class _TooHard(Exception):
    """The analysis would take more than :data:`DNF_WORK` steps, or nest deeper than the
    checker lets a condition expand: no warning is better than a hung linter."""


@dataclass(frozen=True)
class _Lit:
    """A leaf of a condition in negation normal form: the node, and whether it is negated."""

    node: object
    positive: bool
    key: object  # the node's structure without positions, for comparing leaves
    names: Names | None = None  # where the leaf's set names resolve


class _Work:
    """The steps left to all the analyses of one lint run: past them the rest of the
    conditions are not analysed (and lint says so), instead of the run taking hours."""

    def __init__(self, limit: int = LINT_WORK):
        self.left = limit
        self.skipped = 0


class _Analysis:
    def __init__(self, expansion: Expansion, work: _Work | None = None):
        self.names = expansion.names
        self.expansion = expansion
        self.work = work or _Work()
        self.steps = 0
        self.keys: dict[int, object] = {}
        self.expanding: list[int] = []  # id() of the predicates being expanded
        self.why: list[str] = []  # why parts dropped out of the normal form never hold

    def spend(self, steps: int) -> None:
        self.steps += steps
        self.work.left -= steps
        if self.steps > DNF_WORK or self.work.left < 0:
            raise _TooHard

    def reason(self, condition, depth: int = 0) -> str:
        why = len(self.why)
        conjuncts = self.dnf(condition, True, depth)
        if conjuncts is None:
            return ""
        reasons = []
        for conjunct in conjuncts:
            reason = self.contradiction(conjunct)
            if not reason:
                return ""
            reasons.append(reason)
        if not reasons:
            return self.why[why] if len(self.why) > why else "it is always false"
        if len(reasons) == 1:
            return reasons[0]
        return f"none of its {len(reasons)} alternatives can hold; e.g. {reasons[0]}"

    # -- disjunctive normal form: a list of conjunctions of literals, or None if too large
    def dnf(self, node, positive: bool, depth: int = 0) -> list[list[_Lit]] | None:
        self.spend(1)
        depth += 1
        if depth > MAX_EXPANDED_DEPTH:
            raise _TooHard
        if isinstance(node, ast.Not):
            return self.dnf(node.item, not positive, depth)
        if isinstance(node, ast.Const):
            return [[]] if node.value == positive else []
        if isinstance(node, (ast.And, ast.Or)):
            conjunctive = isinstance(node, ast.And) == positive
            maybe = [self.dnf(item, positive, depth) for item in node.items]
            parts = [part for part in maybe if part is not None]
            if len(parts) < len(maybe):
                return None
            if not conjunctive:
                return (
                    [c for part in parts for c in part]
                    if sum(len(p) for p in parts) <= DNF_LIMIT
                    else None
                )
            product: list[list[_Lit]] = [[]]
            for part in parts:
                if len(product) * len(part) > DNF_LIMIT:
                    return None
                product = [a + b for a in product for b in part]
                self.spend(sum(len(c) for c in product))
            return product
        if isinstance(node, ast.NameRef) and (node.library or node.name != "governed"):
            define = self.expansion.resolve(node, self.names)
            if define is not None and not self.expansion.expandable(define):
                raise _TooHard
            if define is not None and id(define) not in self.expanding:
                self.expanding.append(id(define))
                names, self.names = self.names, self.expansion.scope(define)
                try:
                    return self.dnf(define.condition, positive, depth)
                finally:
                    self.names = names
                    self.expanding.pop()
        if isinstance(node, ast.Quantifier) and positive and node.quantifier == "any":
            reason = self.reason(node.body, depth)
            if reason:
                self.why.append(f"no source can meet `{_show(node)}`: {reason}")
                return []
        key = self.keys.get(id(node))
        if key is None:  # predicates expanded repeat the same leaves: compare each once
            # a leaf naming a set means that set in its scope: `x in s` of two namespaces
            # may be two different tests
            named = isinstance(getattr(node, "values", None), ast.SetName)
            key = self.keys[id(node)] = (ast.without_spans(node), id(self.names) if named else 0)
        return [[_Lit(node, positive, key, self.names)]]

    # -- one conjunction
    def contradiction(self, literals: list[_Lit]) -> str:
        seen: dict[object, bool] = {}
        for literal in literals:
            if seen.get(literal.key, literal.positive) != literal.positive:
                return f"`{_show(literal.node)}` cannot be both true and false"
            seen[literal.key] = literal.positive
        by_path: dict[str, list[_Lit]] = {}
        for literal in literals:
            reason = self._leaf_never(literal)
            if reason:
                return reason
            path = _subject_path(literal.node)
            if path is not None:
                by_path.setdefault(path.dotted, []).append(literal)
        for dotted, group in by_path.items():
            reason = _Domain(dotted, self.names, self.spend).contradiction(group)
            if reason:
                return reason
        return ""

    def _leaf_never(self, literal: _Lit) -> str:
        """A single leaf that can never be true on its own."""
        from ..manifest.model import known_paths, path_values

        node, positive = literal.node, literal.positive
        if isinstance(node, ast.Compare):
            if (node.op if positive else _NEGATE[node.op]) != "==":
                return ""
        elif not positive:
            return ""
        kinds = known_paths()
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Path)
            and isinstance(node.right, ast.Path)
        ):
            left, right = (path_values().get(p.dotted) for p in (node.left, node.right))
            if left and right and not set(left) & set(right):
                return f"`{node.left.dotted}` and `{node.right.dotted}` have no value in common"
        path = _subject_path(node)
        if path is None:
            return ""
        kind = kinds.get(path.dotted)
        if (
            isinstance(node, ast.Compare)
            and kind in ("list", "list[country]")
            and isinstance(_other(node), ast.Literal)
        ):
            return (
                f"`{path.dotted}` is a list, and a list is never equal to one value; "
                "use `contains` to test whether it holds the value"
            )
        if (
            isinstance(node, ast.Contains)
            and node.mode == "any"
            and isinstance(node.values, ast.SetLiteral)
            and not node.values.items
        ):
            return f"`{path.dotted}` cannot contain any value of an empty set"
        if (
            isinstance(node, ast.Contains)
            and node.mode == "any"
            and isinstance(node.values, ast.SetName)
        ):
            found = (literal.names or self.names).set(node.values.name, node.values.library)
            if found is not None and not found.items:
                return (
                    f"`{path.dotted}` cannot contain any value of the empty set "
                    f"`{node.values.name}`"
                )
        return ""


def _subject_path(node) -> ast.Path | None:
    """The manifest path a leaf constrains (a path compared with a literal, or tested)."""
    if isinstance(node, ast.Compare):
        if isinstance(node.left, ast.Path) and isinstance(node.right, ast.Literal):
            return node.left
        if isinstance(node.right, ast.Path) and isinstance(node.left, ast.Literal):
            return node.right
        return None
    if isinstance(node, (ast.InSet, ast.Matches, ast.Declared, ast.Contains)) and isinstance(
        node.operand, ast.Path
    ):
        return node.operand
    return None


def _other(node: ast.Compare):
    return node.right if isinstance(node.left, ast.Path) else node.left


_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _show(node) -> str:
    return format_condition(node)


def _show_value(value) -> str:
    return f"`{literal_text(value)}`"


class _Domain:
    """The values one manifest path may take under a conjunction of constraints."""

    def __init__(self, dotted: str, names: Names, spend=lambda steps: None):
        from ..manifest.model import known_paths, path_values

        self.dotted = dotted
        self.names = names
        self.spend = spend  # the analysis's step counter: sets can be large
        self.kind = known_paths().get(dotted, "any" if dotted.startswith("facts.") else "")
        allowed = path_values().get(dotted)
        self.finite: set | None = None
        if allowed and self.kind == "str":
            self.finite = set(allowed)
        elif self.kind == "bool":
            self.finite = {True, False}
        self.scalar = self.kind in ("str", "int", "float", "bool", "date", "country")

    def contradiction(self, literals: list[_Lit]) -> str:
        declared: bool | None = None
        needs_value = False
        equal: list = []
        candidates: set | None = None
        excluded: set = set()
        low: tuple | None = None  # (value, strict)
        high: tuple | None = None
        patterns: list[tuple[ast.Matches, bool]] = []
        for literal in literals:
            node, positive = literal.node, literal.positive
            if isinstance(node, ast.Declared):
                if isinstance(node.operand, ast.Path):
                    value = positive != node.negated
                    if declared is not None and declared != value:
                        return f"`{self.dotted}` cannot be both declared and undeclared"
                    declared = value
                continue
            needs_value = True
            if isinstance(node, ast.Compare):
                op = node.op if isinstance(node.left, ast.Path) else _FLIP[node.op]
                op = op if positive else _NEGATE[op]
                value = _other(node).value
                if op == "==":
                    equal.append(value)
                elif op == "!=":
                    excluded.add(value)
                elif self.kind in ("int", "float", "date") and _ordered(value, self.kind):
                    if op in (">", ">="):
                        bound = (value, op == ">")
                        low = bound if low is None or _tighter_low(bound, low) else low
                    else:
                        bound = (value, op == "<")
                        high = bound if high is None or _tighter_high(bound, high) else high
            elif isinstance(node, ast.InSet) and self.scalar:
                values = self._set_values(node.values, literal.names)
                if values is None:
                    continue
                self.spend(len(values))
                if positive != node.negated:
                    if not values:
                        return f"`{self.dotted}` cannot be in an empty set"
                    candidates = set(values) if candidates is None else candidates & set(values)
                else:
                    excluded.update(values)
            elif isinstance(node, ast.Matches) and self.kind == "str":
                patterns.append((node, positive))
        if declared is False and needs_value:
            return f"`{self.dotted}` is tested as not declared, and compared with a value"
        for first, second in zip(equal, equal[1:], strict=False):
            if first != second:
                return (
                    f"`{self.dotted}` cannot be both {_show_value(first)} and {_show_value(second)}"
                )
        pool = set(equal[:1]) if equal else None
        if candidates is not None:
            pool = candidates if pool is None else pool & candidates
            if not pool:
                shown = ", ".join(_show_value(v) for v in equal[:1]) or "a value"
                return f"`{self.dotted}` cannot be {shown} and in the sets it is tested against"
        if self.finite is not None and (pool is not None or excluded or patterns):
            pool = self.finite if pool is None else pool & self.finite
        if pool is None:
            return self._range_contradiction(low, high)
        self.spend(len(pool) * (1 + len(patterns)))
        remaining = {
            v
            for v in pool
            if v not in excluded
            and _within(v, low, high)
            and all(_matches(m, v) == positive for m, positive in patterns)
        }
        if remaining:
            return ""
        if equal and equal[0] in excluded:
            return f"`{self.dotted}` cannot both be and not be {_show_value(equal[0])}"
        return f"no value of `{self.dotted}` meets every test"

    def _set_values(self, ref, names: Names | None = None) -> list | None:
        if isinstance(ref, ast.SetLiteral):
            return [item.value for item in ref.items]
        found = (names or self.names).set(ref.name, ref.library)
        return None if found is None else [item.value for item in found.items]

    def _range_contradiction(self, low, high) -> str:
        if low is None or high is None:
            return ""
        if _empty_range(low, high, self.kind):
            return (
                f"`{self.dotted}` cannot be {'above' if low[1] else 'at least'} "
                f"{_plain(low[0])} and {'below' if high[1] else 'at most'} "
                f"{_plain(high[0])} at once"
            )
        return ""


def _plain(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _ordered(value, kind: str) -> bool:
    if kind == "date":
        return isinstance(value, date)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tighter_low(new, old) -> bool:
    return new[0] > old[0] or (new[0] == old[0] and new[1] and not old[1])


def _tighter_high(new, old) -> bool:
    return new[0] < old[0] or (new[0] == old[0] and new[1] and not old[1])


def _empty_range(low, high, kind: str) -> bool:
    (lo, lo_strict), (hi, hi_strict) = low, high
    if kind == "int":
        lo_int = math.floor(lo) + 1 if lo_strict else math.ceil(lo)
        hi_int = math.ceil(hi) - 1 if hi_strict else math.floor(hi)
        return lo_int > hi_int
    if kind == "date":
        lo_day = lo + timedelta(days=1) if lo_strict and lo < date.max else lo
        hi_day = hi - timedelta(days=1) if hi_strict and hi > date.min else hi
        return lo_day > hi_day
    return lo > hi or (lo == hi and (lo_strict or hi_strict))


def _within(value, low, high) -> bool:
    try:
        if low is not None and (value < low[0] or (low[1] and value == low[0])):
            return False
        if high is not None and (value > high[0] or (high[1] and value == high[0])):
            return False
    except TypeError:
        return False
    return True


def _matches(node: ast.Matches, value) -> bool:
    from ..language.patterns import PatternError, matcher

    if not isinstance(value, str):
        return False
    try:
        return matcher(node.pattern, node.regex)(value)
    except PatternError:  # reported by the checker
        return True
