"""``tosguard explain``: why one clause came out as it did, for each subject.

For each subject (each source, or the trained model, or the organization) the explanation
says which version of the document was selected and why (the source's collection dates, the
versions in force, "applied before its effective date"), whether that version governs the
subject, the value of every sub-condition of ``when`` and ``require`` (true, false, or unknown
with the manifest paths it needs), which exceptions and agreements could apply and whether
they do, and the result. The result is computed by the evaluator itself
(:class:`tosguard.engine.evaluate.Evaluator`), so ``explain`` never disagrees with ``check``.

The explanation is plain data (:meth:`Explanation.as_dict`, the JSON output) and a text for
people (:func:`render_text`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from ..engine import ir
from ..engine.evaluate import Evaluator, interval_of, segments
from ..engine.ir import ClauseIR, Env, PolicyIR
from ..errors import Diagnostic, Span, UsageError, did_you_mean
from ..language.vocab import STATUSES
from ..safetext import json_safe, printable
from ..util import jsonable as _jsonable

VALUE_WORDS = {True: "true", False: "false", None: "unknown"}
STATUS_WORDS = {
    "violated": "VIOLATED",
    "undetermined": "UNDETERMINED",
    "satisfied": "SATISFIED",
    "not_applicable": "NOT APPLICABLE",
}


@dataclass
class Explanation:
    manifest: str
    as_of: date
    policy: str
    clause: ClauseIR  # the clause in the latest version that has it
    subjects: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        clause = self.clause
        return {
            "tosguard": 1,
            "manifest": self.manifest,
            "as_of": self.as_of.isoformat(),
            "clause": {
                "policy": clause.policy,
                "id": clause.id,
                "kind": clause.kind,
                "scope": clause.scope,
                "severity": clause.severity,
                "topic": clause.topic,
                "document": clause.citation.document,
                "section": clause.citation.section,
                "quote": clause.citation.quote,
            },
            "subjects": self.subjects,
        }

    def to_json(self) -> str:
        return json_safe(json.dumps(self.as_dict(), indent=2, ensure_ascii=False)) + "\n"


# ---- building the explanation -----------------------------------------------------------------
def explain(
    library, loaded, clause_ref: str, *, as_of: date, subject: str | None = None
) -> Explanation:
    """Explain clause ``policy/clause`` (or a clause id the library has once) for the subjects
    of a loaded manifest; ``subject`` narrows it to one (``/sources/2``, ``2``, a source id,
    ``/model``, ``/organization``)."""
    policy_id, clause_id = _resolve(library, clause_ref)
    document = library.documents[policy_id]
    having = [v for v in document.versions if _clause_in(v, clause_id)]
    latest = _clause_in(having[-1], clause_id)
    assert latest is not None
    manifest = loaded.manifest
    explanation = Explanation(loaded.name, as_of, policy_id, latest)
    evaluator = Evaluator(library, manifest, as_of, include_all=True)
    evaluator.prepare()
    scopes = {c.scope for c in (_clause_in(v, clause_id) for v in having) if c is not None}
    wanted = _subjects(manifest, subject, scopes)
    for target in wanted:
        if target.startswith("/sources/"):
            explanation.subjects.append(
                _explain_source(
                    evaluator, document, clause_id, int(target.split("/")[2]), loaded, as_of
                )
            )
        else:
            explanation.subjects.append(
                _explain_global(evaluator, document, clause_id, target, loaded)
            )
    return explanation


def _resolve(library, reference: str) -> tuple[str, str]:
    clauses = {(c.policy, c.id) for p in library.policies for c in p.clauses}
    if "/" in reference:
        policy_id, _, clause_id = reference.partition("/")
        if (policy_id, clause_id) in clauses:
            return policy_id, clause_id
        if policy_id not in library.documents:
            raise _usage(
                f"no policy `{policy_id}` in the library",
                did_you_mean(policy_id, library.documents),
            )
        raise _usage(
            f"policy `{policy_id}` has no clause `{clause_id}`",
            did_you_mean(clause_id, [c for p, c in clauses if p == policy_id]),
        )
    matches = sorted(p for p, c in clauses if c == reference)
    if len(matches) == 1:
        return matches[0], reference
    if matches:
        raise _usage(
            f"clause id `{reference}` is in several policies",
            "name one: " + ", ".join(f"`{p}/{reference}`" for p in matches),
        )
    raise _usage(
        f"no clause `{reference}` in the library",
        did_you_mean(reference, [f"{p}/{c}" for p, c in clauses])
        or "write `policy-id/clause-id`; `tosguard policies` lists the policies",
    )


def _usage(message: str, help: str) -> UsageError:
    return UsageError(Diagnostic("usage-bad-clause", message, Span("--clause"), help))


def _clause_in(version: PolicyIR, clause_id: str) -> ClauseIR | None:
    return next((c for c in version.clauses if c.id == clause_id), None)


def _subjects(manifest, subject: str | None, scopes: set[str]) -> list[str]:
    everything: list[str] = []
    if "organization" in scopes:
        everything.append("/organization")
    if "model" in scopes:
        everything.append("/model")
    if "source" in scopes:
        everything += [f"/sources/{i}" for i in range(len(manifest.sources))]
    if subject is None:
        return everything
    wanted = subject.strip()
    if wanted.isdigit():
        wanted = f"/sources/{wanted}"
    ids = {source.id: f"/sources/{i}" for i, source in enumerate(manifest.sources)}
    wanted = ids.get(wanted, wanted)
    if wanted not in everything:
        options = everything + list(ids)
        raise UsageError(
            Diagnostic(
                "usage-bad-subject",
                f"`{subject}` is not a subject of this clause",
                Span("--subject"),
                did_you_mean(subject, options)
                or "name a source (`/sources/0` or its id), `/model` or `/organization`",
            )
        )
    return [wanted]


def _source_name(manifest, index: int) -> str:
    return f"/sources/{index} (id {manifest.sources[index].id})"


def _explain_source(
    evaluator: Evaluator, document, clause_id: str, index: int, loaded, as_of: date
) -> dict:
    manifest = loaded.manifest
    source = manifest.sources[index]
    start, end = interval_of(source, as_of)
    collected = source.collected
    if collected is not None and (getattr(collected, "from_", None) or collected.to):
        dates = f"collected from {start} to {end}"
    else:
        dates = f"no collection dates are declared, so the evaluation date {as_of} applies"
    entry: dict = {
        "subject": f"/sources/{index}",
        "name": _source_name(manifest, index),
        "location": _location(loaded, f"/sources/{index}"),
        "dates": {"from": start.isoformat(), "to": end.isoformat(), "text": dates},
        "versions_known": [v.effective.isoformat() for v in document.versions],
        "versions": [],
    }
    if document not in evaluator.library.candidates(evaluator.manifest.sources[index]):
        keys = " and ".join(
            f"`source.{k}` in {{{', '.join(sorted(map(str, v)))}}}"
            for k, v in sorted(document.keys.items())
        )
        values = " and ".join(
            f"its {k} is {_value(getattr(source, k))}" for k in sorted(document.keys)
        )
        entry["status"] = "not_applicable"
        entry["why"] = (
            f"the document governs only sources with {keys}, and this source is not one: {values}"
        )
        return entry
    statuses = []
    for segment in segments(document, start, end):
        version = segment.version
        part: dict = {
            "effective": version.effective.isoformat(),
            "from": segment.start.isoformat(),
            "to": segment.end.isoformat(),
            "early": segment.early,
            "file": version.file,
            "line": version.line,
        }
        clause = _clause_in(version, clause_id)
        if clause is None:
            part.update(status="not_applicable", why=f"this version has no clause `{clause_id}`")
            statuses.append("not_applicable")
            entry["versions"].append(part)
            continue
        part["kind"] = clause.kind
        env = evaluator.environment(version)
        governed = env.governed.get(index, False)
        env.at(index)
        part["governs"] = _tree(version.governs, env)
        part["governed"] = VALUE_WORDS[governed]
        if clause.scope != "source":
            part.update(
                status="not_applicable",
                why=f"in this version the clause is about the {clause.scope}",
            )
        elif governed is False:
            part.update(status="not_applicable", why="this version does not govern the source")
        else:
            outcome = evaluator.outcome(
                clause, version, env, governed, f"/sources/{index}", segment.early
            )
            part.update(_clause_parts(evaluator, clause, env))
            part.update(status=outcome.status, missing=list(outcome.missing), note=outcome.note)
            part["why"] = _why(clause, outcome.status, part)
        statuses.append(part["status"])
        entry["versions"].append(part)
    entry["status"] = _worst(statuses)
    return entry


def _explain_global(evaluator: Evaluator, document, clause_id: str, subject: str, loaded) -> dict:
    manifest = loaded.manifest
    entry: dict = {
        "subject": subject,
        "name": "the trained model" if subject == "/model" else "the organization",
        "location": _location(loaded, subject),
        "versions_known": [v.effective.isoformat() for v in document.versions],
        "versions": [],
    }
    statuses = []
    for version in document.versions:
        clause = _clause_in(version, clause_id)
        if clause is None or clause.scope not in subject:
            continue
        part: dict = {
            "effective": version.effective.isoformat(),
            "file": version.file,
            "line": version.line,
            "kind": clause.kind,
        }
        env = evaluator.environment(version)
        governed = {i: g for i, g in env.governed.items() if g is not False}
        part["governed_sources"] = [
            {
                "subject": f"/sources/{i}",
                "name": _source_name(manifest, i),
                "governed": VALUE_WORDS[g],
            }
            for i, g in sorted(governed.items())
        ]
        if not governed:
            part.update(
                status="not_applicable",
                why="no source of the manifest is governed by this version, so the "
                "clause is not evaluated for it",
            )
        else:
            env.source, env.index = None, -1
            outcome = evaluator.outcome(
                clause, version, env, True, subject, evaluator.early(version)
            )
            part.update(_clause_parts(evaluator, clause, env))
            part.update(
                status=outcome.status,
                missing=list(outcome.missing),
                note=outcome.note,
                early=outcome.early,
            )
            part["why"] = _why(clause, outcome.status, part)
        statuses.append(part["status"])
        entry["versions"].append(part)
    entry["status"] = _worst(statuses) if statuses else "not_applicable"
    if not statuses:
        entry["why"] = "no version of the document holds this clause for this subject"
    return entry


def _clause_parts(evaluator: Evaluator, clause: ClauseIR, env: Env) -> dict:
    parts: dict = {}
    if clause.when is not None:
        parts["when"] = _tree(clause.when, env)
    if clause.require is not None:
        parts["require"] = _tree(clause.require, env)
    parts["exceptions"] = []
    for exception in clause.exceptions:
        value = exception.closures()[0](env) if exception.when else True
        name = (
            exception.id
            if exception.policy == clause.policy
            else f"{exception.policy}/{exception.id}"
        )
        item: dict = {
            "id": name,
            "applies": VALUE_WORDS[value],
            "section": exception.citation.section,
        }
        if exception.when is not None:
            item["when"] = _tree(exception.when, env)
        parts["exceptions"].append(item)
    if clause.waivers:
        organization = evaluator.declared.organization
        agreements = organization.agreements if organization is not None else None
        parts["waivers"] = {
            "named": list(clause.waivers),
            "declared": None if agreements is None else list(agreements),
            "applies": VALUE_WORDS[evaluator.waiver(clause)[0]],
        }
    return parts


# ---- condition trees --------------------------------------------------------------------------
def _tree(cond: ir.Cond, env: Env) -> dict:
    value = cond.build()(env)
    node: dict = {"condition": cond.text, "value": VALUE_WORDS[value]}
    if value is None:
        node["missing"] = sorted(ir.missing(cond, env))
    facts = [_fact(operand, env) for operand in _paths(cond)]
    if facts:
        node["facts"] = facts
    if isinstance(cond, ir.Predicate):
        node["predicate"] = cond.name
        node["children"] = [_tree(cond.body, env)]
    elif isinstance(cond, ir.Quantifier):
        node["sources"] = _per_source(cond, env, range(len(env.sources)))
    elif isinstance(cond, ir.Origins):
        indexes, complete = ir.origins_of(env, env.index)
        node["sources"] = _per_source(cond, env, indexes)
        if not complete:
            node["note"] = "the sources' `derived_from` is not declared everywhere"
    elif isinstance(cond, ir.Governed):
        node["note"] = "whether this version governs the source in question"
    elif cond.children():
        node["children"] = [_tree(child, env) for child in cond.children()]
    return node


def _per_source(cond, env: Env, indexes) -> list[dict]:
    body = cond.body.build()
    saved = env.source, env.index
    rows = []
    try:
        for index in indexes:
            if getattr(cond, "other", False) and index == saved[1]:
                continue
            rows.append(
                {
                    "subject": f"/sources/{index}",
                    "id": env.sources[index].id,
                    "value": VALUE_WORDS[body(env.at(index))],
                }
            )
    finally:
        env.source, env.index = saved
    return rows


def _paths(cond: ir.Cond) -> list[ir.Path]:
    if isinstance(cond, ir.Declared):
        return [cond.operand] if isinstance(cond.operand, ir.Path) else []
    return [o for o in cond.operands() if isinstance(o, ir.Path)]


def _fact(path: ir.Path, env: Env) -> dict:
    value = path.getter()(env)
    if path.root == "source" and env.source is None:
        return {"path": path.dotted, "value": None, "text": f"`{path.dotted}` (no current source)"}
    shown = "not declared" if value is None else f"is {_value(value)}"
    return {
        "path": path.dotted,
        "pointer": path.pointer(env),
        "value": _jsonable(value),
        "text": f"`{path.dotted}` {shown}",
    }


def _value(value) -> str:
    if value is None:
        return "not declared"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---- results in words -------------------------------------------------------------------------
def _why(clause: ClauseIR, status: str, part: dict) -> str:
    missing = part.get("missing") or []
    declare = ", ".join(f"`{m}`" for m in missing)
    note = part.get("note", "")
    if status == "undetermined" and part.get("early") and not missing:
        return (
            f"the library holds no version in force then; {note}"
            if note
            else "the library holds no version in force then"
        )
    if status == "undetermined":
        return "the manifest does not declare enough to decide" + (
            f": declare {declare}" if declare else ""
        )
    if clause.kind == "permission":
        return (
            "its condition holds, so it permits what it describes"
            if status == "satisfied"
            else "its condition does not hold, so it permits nothing here"
        )
    if clause.kind == "obligation":
        if status == "not_applicable":
            return "its trigger (`when`) does not hold, so the duty does not arise"
        if status == "violated":
            return "the duty arises (`when` holds) and its requirement (`require`) is not met"
        return "the duty arises and is met" if not note else f"the duty is lifted: {note}"
    if status == "violated":
        return (
            "the conduct the clause prohibits is present, and no exception or agreement "
            "lifts the prohibition"
        )
    if note:
        return f"the conduct is present, but it is {note}"
    return "the conduct the clause prohibits is not present"


def _worst(statuses: list[str]) -> str:
    for status in STATUSES:
        if status in statuses:
            return status
    return "not_applicable"


def _location(loaded, pointer: str) -> dict:
    span = loaded.span(pointer)
    return {"file": loaded.name, "line": span.line, "column": span.column}


# ---- text -------------------------------------------------------------------------------------
def render_text(explanation: Explanation, width: int = 100) -> str:
    clause = explanation.clause
    citation = clause.citation
    out = [
        f"Why {clause.policy}/{clause.id} came out as it did",
        f"for {explanation.manifest}, as of {explanation.as_of}",
        "",
    ]
    kind = {
        "prohibition": "a prohibition",
        "obligation": "an obligation",
        "permission": "a permission",
    }.get(clause.kind, clause.kind)
    out.append(
        f"The clause is {kind} about each {clause.scope} (severity {clause.severity}, "
        f"topic {clause.topic or '-'}), citing {citation.document}, {citation.section}:"
    )
    out += _wrapped(f"“{citation.quote}”", "  ", width)
    for subject in explanation.subjects:
        out.append("")
        out += _subject_lines(subject, width)
    return printable("\n".join(out) + "\n", layout=True)


def _subject_lines(subject: dict, width: int) -> list[str]:
    location = subject["location"]
    where = f"{location['file']}:{location['line']}" if location["line"] else location["file"]
    out = [f"{subject['name']}  ({where}): {STATUS_WORDS[subject['status']]}"]
    if "dates" in subject:
        out.append(f"  Dates: {subject['dates']['text']}.")
    known = subject["versions_known"]
    out.append(f"  Versions in the library: effective {_join(known)}.")
    if subject.get("why") and not subject["versions"]:
        out += _wrapped(f"Result: not applicable, because {subject['why']}.", "  ", width)
    for part in subject["versions"]:
        out += _version_lines(part, width)
    return out


def _version_lines(part: dict, width: int) -> list[str]:
    out = []
    if "from" in part:
        span = part["from"] if part["from"] == part["to"] else f"{part['from']} to {part['to']}"
        text = f"Version effective {part['effective']} applies to {span}"
        if part["early"]:
            text += (
                ", before its effective date: the library holds no version of this "
                "document in force then, so the result is undetermined; what this, the "
                "earliest version, would say is shown"
            )
        out += _wrapped(text + f" ({part['file']}:{part['line']}).", "  ", width)
    else:
        out += _wrapped(
            f"Version effective {part['effective']} ({part['file']}:{part['line']}):", "  ", width
        )
    if "governs" in part:
        out.append(f"    Governs this source: {part['governed']}")
        out += _tree_lines(part["governs"], "      ", width)
    if "governed_sources" in part:
        rows = part["governed_sources"]
        if rows:
            out.append("    Sources this version governs (through which it applies):")
            out += [f"      {r['name']}: {r['governed']}" for r in rows]
    if "when" in part:
        label = {
            "prohibition": "The prohibited conduct (when)",
            "obligation": "The trigger (when)",
            "permission": "The condition (when)",
        }
        out.append(f"    {label.get(_kind_of(part), 'when')}: {part['when']['value']}")
        out += _tree_lines(part["when"], "      ", width)
    if "require" in part:
        out.append(f"    The requirement (require): {part['require']['value']}")
        out += _tree_lines(part["require"], "      ", width)
    if part.get("exceptions"):
        out.append("    Exceptions that name this clause:")
        for exception in part["exceptions"]:
            applies = {
                "true": "applies",
                "false": "does not apply",
                "unknown": "may apply (unknown)",
            }[exception["applies"]]
            out.append(f"      {exception['id']} ({exception['section']}): {applies}")
            if "when" in exception:
                out += _tree_lines(exception["when"], "        ", width)
    elif "when" in part and _kind_of(part) != "permission":
        out.append("    Exceptions that name this clause: none")
    if "waivers" in part:
        waivers = part["waivers"]
        declared = waivers["declared"]
        shown = (
            "not declared, so none (a claim holds only when declared)"
            if declared is None
            else (_join(declared) or "none")
        )
        out += _wrapped(
            f"Agreements that waive it: {_join(waivers['named'])}; the manifest's "
            f"organization.agreements: {shown}; waived: {waivers['applies']}",
            "    ",
            width,
        )
    result = f"Result: {part['status'].replace('_', ' ')}, because {part['why']}."
    out += _wrapped(result, "    ", width)
    return out


def _kind_of(part: dict) -> str:
    return part.get("kind", "prohibition")


def _tree_lines(node: dict, indent: str, width: int) -> list[str]:
    mark = {"true": "true   ", "false": "false  ", "unknown": "unknown"}[node["value"]]
    text = node["condition"]
    if node.get("predicate") and text == node["predicate"]:
        text = f"{text} (a named condition)"
    line = f"{indent}{mark}  {text}"
    details = [f["text"] for f in node.get("facts", [])]
    if node["value"] == "unknown" and node.get("missing") and not node.get("children"):
        details.append("missing " + ", ".join(f"`{m}`" for m in node["missing"]))
    if node.get("note"):
        details.append(node["note"])
    out = _wrapped(
        line + (f"   ({'; '.join(details)})" if details else ""), "", width, hang=len(indent) + 9
    )
    if "sources" in node:
        trues = [s for s in node["sources"] if s["value"] == "true"]
        unknowns = [s for s in node["sources"] if s["value"] == "unknown"]
        summary = (
            f"true for {_join([s['subject'] for s in trues])}"
            if trues
            else "true for no source"
            if node["sources"]
            else "there is no source to look at"
        )
        if unknowns:
            summary += f"; unknown for {_join([s['subject'] for s in unknowns])}"
        out.append(f"{indent}         ({summary})")
    for child in node.get("children", []):
        out += _tree_lines(child, indent + "  ", width)
    return out


def _join(items) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _wrapped(text: str, indent: str, width: int, hang: int | None = None) -> list[str]:
    import textwrap

    following = " " * (hang if hang is not None else len(indent) + 2)
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=following,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]
