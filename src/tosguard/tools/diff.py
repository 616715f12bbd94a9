"""``tosguard diff``: what changed between two versions of a policy or a library, and whose
findings change.

Two sides, OLD and NEW, are each a set of policy files (files or directories). Policies are
matched by id; their versions by effective date. Where a version exists on one side only, it
is compared with the version it follows on the other side (a provider's new terms are compared
with the terms they replace); when each side holds exactly one version of a policy, the two are
compared whatever their dates (``diff terms-2025.tos terms-2026.tos``). Within a version pair,
clauses are matched by id: added, removed, or changed (kind, topic, scope, severity, condition,
requirement, exceptions, waivers, message, remedy, citation), and named sets and predicates by
name (a set shows the values added and removed; a clause shows the changed definitions it
depends on).

With manifests, each is evaluated under both sides (``--as-of`` applies to sources without
dates) and the changes of verdict and of each (clause, subject) result are listed: this answers
"the provider updated its terms; which of our pipelines are affected?".

Exit status (``tosguard diff``): 0 no differences, 1 differences, 2 invalid input.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..language import ast
from ..language.conditions import format_condition, literal
from ..language.printer import CITE_FIELDS
from ..language.printer import HEADER_FIELDS as POLICY_FIELDS
from ..language.vocab import STATUS_ORDER
from ..safetext import json_safe, printable
from ..util import jsonable as _jsonable

CLAUSE_FIELDS = (
    "exception",
    "kind",
    "topic",
    "scope",
    "severity",
    "when",
    "require",
    "lifts",
    "waivers",
    "message",
    "remedy",
)
TEXT_FIELDS = {"message", "remedy", "quote", "document", "section", "unverified"}


@dataclass
class Side:
    paths: list[str]
    files: list[ast.PolicyFile]
    library: Any  # tosguard.engine.library.Library

    def versions(self) -> dict[str, dict[date | None, ast.Policy]]:
        found: dict[str, dict[date | None, ast.Policy]] = {}
        for file in self.files:
            for policy in file.policies:
                found.setdefault(policy.id, {})[policy.effective] = policy
        return found

    def library_definitions(self) -> dict[str, ast.SetDef | ast.Define]:
        return {d.name: d for f in self.files for d in ast.definitions(f)}


def load_side(paths, extra=()) -> Side:
    """Parse, check and compile the policy files of one side through the one front end
    (:mod:`tosguard.engine.frontend`); raises :class:`PolicyError` with every problem. With
    ``extra`` (what both sides build on), ``extra`` is the library and the side's own files
    are user policies over it, as ``tosguard lint PATHS --extra-policies EXTRA`` reads them; a
    side's file that is also one of ``extra`` stays the library's."""
    from ..engine.frontend import FrontEndRun, read_policy_sources, run_front_end

    sources = read_policy_sources(extra, paths) if extra else read_policy_sources(paths)
    run = run_front_end(FrontEndRun(sources, revision="diff"))
    assert run.library is not None  # the compile stage ran
    return Side([str(p) for p in paths], run.files, run.library)


# ---- the comparison ---------------------------------------------------------------------------
@dataclass
class FieldChange:
    field: str
    old: object
    new: object

    def as_dict(self) -> dict:
        return {"field": self.field, "old": _jsonable(self.old), "new": _jsonable(self.new)}


@dataclass
class ClauseChange:
    clause: str
    change: str  # added | removed | changed
    kind: str = ""
    fields: list[FieldChange] = field(default_factory=list)
    depends_on_changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "clause": self.clause,
            "change": self.change,
            "kind": self.kind,
            "fields": [f.as_dict() for f in self.fields],
            "depends_on_changed": self.depends_on_changed,
        }


@dataclass
class DefinitionChange:
    scope: str  # "library" or policy-id@effective
    name: str
    kind: str  # set | predicate
    change: str  # added | removed | changed
    old: str = ""
    new: str = ""
    added_values: list = field(default_factory=list)
    removed_values: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "scope": self.scope,
            "name": self.name,
            "kind": self.kind,
            "change": self.change,
            "old": self.old,
            "new": self.new,
            "added_values": _jsonable(self.added_values),
            "removed_values": _jsonable(self.removed_values),
        }


@dataclass
class PolicyChange:
    policy: str
    change: str  # added | removed | changed | new version | version removed
    old_version: date | None = None
    new_version: date | None = None
    fields: list[FieldChange] = field(default_factory=list)
    clauses: list[ClauseChange] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "change": self.change,
            "old_version": _jsonable(self.old_version),
            "new_version": _jsonable(self.new_version),
            "fields": [f.as_dict() for f in self.fields],
            "clauses": [c.as_dict() for c in self.clauses],
        }


@dataclass
class ResultChange:
    clause: str
    subject: str
    old: list[str]
    new: list[str]

    def as_dict(self) -> dict:
        return {"clause": self.clause, "subject": self.subject, "old": self.old, "new": self.new}


@dataclass
class ManifestChange:
    manifest: str
    old_verdict: str
    new_verdict: str
    results: list[ResultChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old_verdict != self.new_verdict or bool(self.results)

    def as_dict(self) -> dict:
        return {
            "manifest": self.manifest,
            "verdict": {"old": self.old_verdict, "new": self.new_verdict},
            "changed": self.changed,
            "results": [r.as_dict() for r in self.results],
        }


@dataclass
class Diff:
    old: list[str]
    new: list[str]
    policies: list[PolicyChange] = field(default_factory=list)
    definitions: list[DefinitionChange] = field(default_factory=list)
    manifests: list[ManifestChange] = field(default_factory=list)
    as_of: date | None = None
    context: dict = field(default_factory=dict, repr=False)  # NEW's library-wide definitions

    @property
    def changed(self) -> bool:
        return bool(self.policies or self.definitions or any(m.changed for m in self.manifests))

    def as_dict(self) -> dict:
        return {
            "tosguard": 1,
            "old": self.old,
            "new": self.new,
            "changed": self.changed,
            "policies": [p.as_dict() for p in self.policies],
            "definitions": [d.as_dict() for d in self.definitions],
            "as_of": _jsonable(self.as_of),
            "manifests": [m.as_dict() for m in self.manifests],
        }

    def to_json(self) -> str:
        return json_safe(json.dumps(self.as_dict(), indent=2, ensure_ascii=False)) + "\n"


def diff_sides(old: Side, new: Side) -> Diff:
    result = Diff(old.paths, new.paths)
    result.context = new.library_definitions()
    result.definitions += _definition_changes(
        "library", old.library_definitions(), new.library_definitions()
    )
    changed_library = {d.name for d in result.definitions}
    old_versions, new_versions = old.versions(), new.versions()
    for policy_id in sorted(set(old_versions) | set(new_versions)):
        before, after = old_versions.get(policy_id, {}), new_versions.get(policy_id, {})
        for change in _policy_changes(policy_id, before, after, changed_library, result):
            result.policies.append(change)
    return result


def _policy_changes(
    policy_id, before: dict, after: dict, changed_library: set[str], result: Diff
) -> list[PolicyChange]:
    if not before:
        return [
            PolicyChange(
                policy_id,
                "added",
                None,
                e,
                clauses=[ClauseChange(c.id, "added", _kind(c)) for c in after[e].clauses],
            )
            for e in _dates(after)
        ]
    if not after:
        return [PolicyChange(policy_id, "removed", e, None) for e in _dates(before)]
    pairs: list[tuple[date | None, date | None]] = []
    if len(before) == 1 and len(after) == 1:
        pairs = [(next(iter(before)), next(iter(after)))]
    else:
        for effective in _dates(after):
            if effective in before:
                pairs.append((effective, effective))
            else:
                earlier = [e for e in _dates(before) if e and effective and e < effective]
                pairs.append((earlier[-1] if earlier else _dates(before)[0], effective))
        for effective in _dates(before):
            if effective not in after:
                pairs.append((effective, None))
    changes = []
    for old_date, new_date in pairs:
        if new_date is None:
            changes.append(PolicyChange(policy_id, "version removed", old_date, None))
            continue
        change = _compare_versions(before[old_date], after[new_date], changed_library, result)
        if change.fields or change.clauses or old_date != new_date:
            change.change = "changed" if old_date == new_date else "new version"
            changes.append(change)
    return changes


def _dates(versions: dict) -> list:
    return sorted(versions, key=lambda d: d or date.min)


def _compare_versions(
    old: ast.Policy, new: ast.Policy, changed_library: set[str], result: Diff
) -> PolicyChange:
    change = PolicyChange(new.id, "changed", old.effective, new.effective)
    for name in POLICY_FIELDS:
        a, b = _field(old, name), _field(new, name)
        if a != b:
            change.fields.append(FieldChange(name, a, b))
    scope = f"{new.id}@{new.effective}"
    local = _definition_changes(
        scope, {d.name: d for d in ast.definitions(old)}, {d.name: d for d in ast.definitions(new)}
    )
    result.definitions += local
    changed_names = changed_library | {d.name for d in local}
    definitions = _definitions_of(new, result)
    old_clauses = {c.id: c for c in old.clauses}
    new_clauses = {c.id: c for c in new.clauses}
    for clause_id in [c.id for c in new.clauses] + [
        c.id for c in old.clauses if c.id not in new_clauses
    ]:
        a, b = old_clauses.get(clause_id), new_clauses.get(clause_id)
        if a is None:
            assert b is not None
            change.clauses.append(ClauseChange(clause_id, "added", _kind(b)))
        elif b is None:
            change.clauses.append(ClauseChange(clause_id, "removed", _kind(a)))
        else:
            fields = [
                FieldChange(n, _field(a, n), _field(b, n))
                for n in CLAUSE_FIELDS
                if _field(a, n) != _field(b, n)
            ]
            fields += [
                FieldChange(f"cite.{n}", x, y)
                for n, x, y in ((n, _cite(a, n), _cite(b, n)) for n in CITE_FIELDS)
                if x != y
            ]
            depends = sorted(_names_used(b, definitions) & changed_names)
            if fields or depends:
                change.clauses.append(ClauseChange(clause_id, "changed", _kind(b), fields, depends))
    return change


def _kind(clause: ast.Clause) -> str:
    return "exception" if clause.exception else (clause.kind or "prohibition")


def _field(node, name: str):
    value = getattr(node, name)
    if name in ("when", "require", "governs"):
        return format_condition(value) if value is not None else None
    if name == "lifts":
        return [str(ref) for ref in value]
    if isinstance(value, tuple):
        return list(value)
    if name == "scope" and value is None:
        return "source"
    if name == "severity" and value is None:
        return "info" if node.kind == "permission" else "error"
    return value


def _cite(clause: ast.Clause, name: str):
    return getattr(clause.citation, name) if clause.citation else None


def _definitions_of(policy: ast.Policy, result: Diff) -> dict:
    return {**result.context, **{d.name: d for d in ast.definitions(policy)}}


def _names_used(clause: ast.Clause, local: dict) -> set[str]:
    """Names a clause's conditions use, directly or through the predicates it uses."""
    found: set[str] = set()
    pending = [clause.when, clause.require]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.NameRef, ast.SetName)) and node.name not in found:
            found.add(node.name)
            define = local.get(node.name)
            if isinstance(define, ast.Define):
                pending.append(define.condition)
        if isinstance(node, ast.Node):
            pending += [
                getattr(node, n) for n in type(node).model_fields if n not in ("span", "fields")
            ]
        elif isinstance(node, tuple):
            pending += list(node)
    return found


def _definition_changes(scope: str, before: dict, after: dict) -> list[DefinitionChange]:
    changes = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        kind = "set" if isinstance(a or b, ast.SetDef) else "predicate"
        if a is None or b is None or type(a) is not type(b):
            changes.append(
                DefinitionChange(
                    scope,
                    name,
                    kind,
                    "added" if a is None else "removed" if b is None else "changed",
                    _definition_text(a),
                    _definition_text(b),
                )
            )
            continue
        if isinstance(a, ast.SetDef):
            old_values = [item.value for item in a.items]
            new_values = [item.value for item in b.items]
            if old_values != new_values or a.countries != b.countries:
                changes.append(
                    DefinitionChange(
                        scope,
                        name,
                        kind,
                        "changed",
                        _definition_text(a),
                        _definition_text(b),
                        [v for v in new_values if v not in old_values],
                        [v for v in old_values if v not in new_values],
                    )
                )
        elif format_condition(a.condition) != format_condition(b.condition):
            changes.append(
                DefinitionChange(
                    scope,
                    name,
                    kind,
                    "changed",
                    format_condition(a.condition),
                    format_condition(b.condition),
                )
            )
    return changes


def _definition_text(node) -> str:
    if node is None:
        return ""
    if isinstance(node, ast.Define):
        return format_condition(node.condition)
    values = ", ".join(str(i.value) if node.countries else literal(i.value) for i in node.items)
    return f"countries {{{values}}}" if node.countries else f"{{{values}}}"


# ---- manifests --------------------------------------------------------------------------------
def compare_manifests(old: Side, new: Side, manifests, as_of: date) -> list[ManifestChange]:
    from ..api import check
    from ..inputs import display_name, load

    changes = []
    for path in manifests:
        loaded = load(str(path))
        name = display_name(str(path))
        before = check(old.library, loaded, as_of=as_of, include_all=True, name=name)
        after = check(new.library, loaded, as_of=as_of, include_all=True, name=name)
        change = ManifestChange(name, before.verdict, after.verdict)
        a, b = _results(before), _results(after)
        for key in sorted(set(a) | set(b), key=_result_order):
            if a.get(key, []) != b.get(key, []):
                change.results.append(ResultChange(key[0], key[1], a.get(key, []), b.get(key, [])))
        changes.append(change)
    return changes


def _results(report) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for finding in report.findings:
        found.setdefault((f"{finding.policy}/{finding.clause}", finding.subject), []).append(
            finding.status
        )
    return {key: sorted(set(v), key=STATUS_ORDER.__getitem__) for key, v in found.items()}


def _result_order(key: tuple[str, str]) -> tuple:
    clause, subject = key
    number = int(subject.split("/")[2]) if subject.startswith("/sources/") else -1
    return (clause, number, subject)


# ---- text -------------------------------------------------------------------------------------
def render_text(diff: Diff) -> str:
    out = [f"Policy changes from {', '.join(diff.old)} to {', '.join(diff.new)}"]
    if not diff.policies and not diff.definitions:
        out.append("  no changes to policies, clauses or definitions")
    for change in diff.policies:
        out += _policy_lines(change)
    for definition in diff.definitions:
        out += _definition_lines(definition, diff)
    if diff.manifests:
        out.append("")
        out.append(f"Manifests evaluated under both (as of {diff.as_of}):")
        for manifest in diff.manifests:
            out += _manifest_lines(manifest)
    affected = sum(m.changed for m in diff.manifests)
    if diff.manifests:
        out.append("")
        out.append(
            f"{affected} of {len(diff.manifests)} manifest"
            f"{'s' * (len(diff.manifests) != 1)} affected"
        )
    return printable("\n".join(out) + "\n", layout=True)


def _policy_lines(change: PolicyChange) -> list[str]:
    if change.change == "added":
        head = f"+ policy {change.policy} (version effective {change.new_version}): added"
    elif change.change == "removed":
        head = f"- policy {change.policy} (version effective {change.old_version}): removed"
    elif change.change == "version removed":
        head = f"- {change.policy}: version effective {change.old_version} removed"
    elif change.change == "new version":
        head = (
            f"~ {change.policy}: version effective {change.new_version}, compared with "
            f"the version effective {change.old_version}"
        )
    else:
        head = f"~ {change.policy} (version effective {change.new_version}): changed"
    lines = ["", head]
    for item in change.fields:
        lines += _field_lines(item, "    ")
    for clause in change.clauses:
        if change.change == "added":
            lines.append(f"    + {clause.kind} {clause.clause}")
            continue
        sign = {"added": "+", "removed": "-", "changed": "~"}[clause.change]
        lines.append(f"    {sign} {clause.kind} {clause.clause}: {clause.change}")
        for item in clause.fields:
            lines += _field_lines(item, "        ")
        if clause.depends_on_changed:
            lines.append(
                "        depends on changed definitions: "
                + ", ".join(f"`{n}`" for n in clause.depends_on_changed)
            )
    return lines


def _field_lines(item: FieldChange, indent: str) -> list[str]:
    name = item.field
    old, new = item.old, item.new
    if isinstance(old, str) and isinstance(new, str) and name.split(".")[-1] in TEXT_FIELDS:
        return [f"{indent}{name}: {word_diff(old, new)}"]
    return (
        [f"{indent}{name}: {_show(old)}", f"{indent}{' ' * len(name)}→ {_show(new)}"]
        if len(_show(old)) + len(_show(new)) > 60
        else [f"{indent}{name}: {_show(old)} → {_show(new)}"]
    )


def _definition_lines(change: DefinitionChange, diff: Diff) -> list[str]:
    where = "library-wide" if change.scope == "library" else f"in {change.scope}"
    sign = {"added": "+", "removed": "-", "changed": "~"}[change.change]
    lines = ["", f"{sign} {change.kind} `{change.name}` ({where}): {change.change}"]
    if change.kind == "set" and change.change == "changed":
        if change.added_values:
            lines.append("    values added: " + ", ".join(map(str, change.added_values)))
        if change.removed_values:
            lines.append("    values removed: " + ", ".join(map(str, change.removed_values)))
        if not change.added_values and not change.removed_values:
            lines.append("    the same values, in another order")
    elif change.change == "changed":
        lines += [f"    was: {change.old}", f"    now: {change.new}"]
    users = [
        f"{p.policy}/{c.clause}"
        for p in diff.policies
        for c in p.clauses
        if change.name in c.depends_on_changed
    ]
    if users:
        lines.append("    used by changed clauses: " + ", ".join(sorted(set(users))))
    return lines


def _manifest_lines(change: ManifestChange) -> list[str]:
    if not change.changed:
        return [f"  {change.manifest}: no change (verdict {change.old_verdict})"]
    verdict = (
        change.old_verdict
        if change.old_verdict == change.new_verdict
        else f"{change.old_verdict} → {change.new_verdict}"
    )
    lines = [f"  {change.manifest}: verdict {verdict}"]
    for result in change.results:
        old = ", ".join(result.old) or "no result"
        new = ", ".join(result.new) or "no result"
        lines.append(f"    {result.clause} {result.subject}: {old} → {new}")
    return lines


def _show(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def word_diff(old: str, new: str, context: int = 6) -> str:
    """Words removed ``[-…-]`` and added ``{+…+}``, with a few unchanged words around them.

    >>> word_diff("may not use Output to develop models", "may not use Output to train models")
    'may not use Output to [-develop-]{+train+} models'
    """
    a, b = old.split(), new.split()
    parts = []
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            words = a[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            if len(words) > 2 * context:
                head = [] if first else words[:context]
                tail = [] if last else words[-context:]
                words = [*head, "…", *tail]
            parts.append(" ".join(words))
            continue
        if tag in ("delete", "replace"):
            parts.append("[-" + " ".join(a[i1:i2]) + "-]")
        if tag in ("insert", "replace"):
            parts.append("{+" + " ".join(b[j1:j2]) + "+}")
    text = " ".join(p for p in parts if p)
    return text.replace("-] {+", "-]{+")


def run(old_paths, new_paths, *, manifests=(), as_of: date, extra=()) -> Diff:
    """Load both sides, compare them and, with manifests, evaluate each under both."""
    old = load_side([Path(p) for p in old_paths], [Path(p) for p in extra])
    new = load_side([Path(p) for p in new_paths], [Path(p) for p in extra])
    result = diff_sides(old, new)
    if manifests:
        result.as_of = as_of
        result.manifests = compare_manifests(old, new, manifests, as_of)
    return result
