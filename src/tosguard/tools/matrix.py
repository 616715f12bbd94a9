"""The provider × topic matrix: what each provider's documents forbid, require or allow.

Built from a loaded library (:func:`tosguard.engine.library.load_library`), one cell per provider
and
topic. A cell lists the clauses of that topic across the provider's documents, each once per
clause id, with the versions of its document that contain it, a link to the policy file and
line of its latest version and the cited section and URL. The result does not depend on the
date it is built: an entry says whether the clause is in the latest version of its document
and whether that document has ended, never whether it is "in force today".

>>> from tosguard.engine.library import load_library
>>> matrix = build_matrix(load_library())
>>> [e.clause for e in matrix.cell("openai", "geography")][:1]
['geography']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from ..engine.library import Library
from ..language.vocab import PROVIDER_NAMES, TOPICS
from ..safetext import json_safe, printable

VERBS = {"prohibition": "forbids", "obligation": "requires", "permission": "allows"}
KIND_ORDER = {"prohibition": 0, "obligation": 1, "permission": 2}


@dataclass(frozen=True)
class Entry:
    """One clause (all versions of it) in a cell."""

    provider: str
    topic: str
    kind: str
    policy: str
    clause: str
    severity: str
    document: str
    section: str
    url: str
    message: str
    versions: tuple[str, ...]
    latest: bool  # the clause is in the latest version of its document
    ended: str  # the date the document ended (superseded), or ""
    file: str
    line: int
    unverified: str = ""

    @property
    def verb(self) -> str:
        return VERBS.get(self.kind, self.kind)

    @property
    def ref(self) -> str:
        return f"{self.policy}/{self.clause}"


@dataclass
class Matrix:
    providers: list[str]
    topics: list[str]
    cells: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)

    def cell(self, provider: str, topic: str) -> list[Entry]:
        return self.cells.get((provider, topic), [])

    def as_dict(self) -> dict:
        return {
            "providers": [{"id": p, "name": provider_name(p)} for p in self.providers],
            "topics": self.topics,
            "cells": [
                {
                    "provider": p,
                    "topic": t,
                    "kinds": _kinds(self.cell(p, t)),
                    "entries": [_entry_dict(e) for e in self.cell(p, t)],
                }
                for p in self.providers
                for t in self.topics
                if self.cell(p, t)
            ],
        }


def provider_name(provider: str) -> str:
    """The column title: open licences and an organization's own policies have no provider."""
    return PROVIDER_NAMES.get(provider, provider) or "Licences and own policies"


def build_matrix(library: Library) -> Matrix:
    """Group every clause of ``library`` by provider and topic."""
    found: dict[tuple[str, str], dict[tuple[str, str], Entry]] = {}
    for document in library.documents.values():
        latest = document.versions[-1]
        latest_ids = {c.id for c in latest.clauses}
        ended = latest.ends.isoformat() if latest.ends else ""
        by_clause: dict[str, list] = {}
        for version in document.versions:
            for clause in version.clauses:
                by_clause.setdefault(clause.id, []).append((version, clause))
        for clause_id, occurrences in by_clause.items():
            version, clause = occurrences[-1]
            topic = clause.topic or "other"
            entry = Entry(
                provider=document.provider,
                topic=topic,
                kind=clause.kind,
                policy=document.id,
                clause=clause_id,
                severity=clause.severity,
                document=clause.citation.document,
                section=clause.citation.section,
                url=clause.citation.url,
                message=clause.message,
                versions=tuple(v.effective.isoformat() for v, _ in occurrences),
                latest=clause_id in latest_ids,
                ended=ended,
                file=clause.file,
                line=clause.line,
                unverified=clause.citation.unverified,
            )
            found.setdefault((document.provider, topic), {})[(document.id, clause_id)] = entry
    providers = _ordered({p for p, _ in found}, list(PROVIDER_NAMES))
    topics = _ordered({t for _, t in found}, list(TOPICS))
    cells = {key: sorted(entries.values(), key=_entry_key) for key, entries in found.items()}
    return Matrix(providers, topics, cells)


def _ordered(values: set[str], known: list[str]) -> list[str]:
    return [v for v in known if v in values] + sorted(values - set(known))


def _kinds(entries: list[Entry]) -> list[str]:
    return sorted({e.kind for e in entries}, key=lambda kind: KIND_ORDER.get(kind, 9))


def _entry_key(entry: Entry) -> tuple:
    return (KIND_ORDER.get(entry.kind, 9), not entry.latest, entry.policy, entry.clause)


def _entry_dict(entry: Entry) -> dict:
    data = asdict(entry)
    data["verb"] = entry.verb
    data["versions"] = list(entry.versions)
    return data


def _status(entry: Entry) -> str:
    if entry.ended:
        return f"document superseded after {entry.ended}"
    if not entry.latest:
        return "earlier versions only"
    return ""


# ---- renderers --------------------------------------------------------------------------------
def render_json(matrix: Matrix) -> str:
    return json_safe(json.dumps(matrix.as_dict(), indent=2, ensure_ascii=False)) + "\n"


def render_text(matrix: Matrix) -> str:
    lines: list[str] = []
    for provider in matrix.providers:
        lines.append(provider_name(provider))
        for topic in matrix.topics:
            entries = matrix.cell(provider, topic)
            if not entries:
                continue
            lines.append(f"  {topic}")
            for entry in entries:
                notes = [
                    entry.severity if entry.kind != "permission" else "",
                    _status(entry),
                    "unverified citation" if entry.unverified else "",
                ]
                note = ", ".join(n for n in notes if n)
                lines.append(f"    {entry.verb:<8} {entry.ref}" + (f"  ({note})" if note else ""))
                lines.append(
                    f"             {entry.document}, {entry.section} [{', '.join(entry.versions)}]"
                )
                lines.append(f"             {entry.file}:{entry.line}  {entry.url}")
        lines.append("")
    return printable("\n".join(lines), layout=True)


def _anchor(provider: str, topic: str) -> str:
    return f"{provider}-{topic}"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(
    matrix: Matrix, *, link_prefix: str = "../", title: str = "Provider × topic matrix"
) -> str:
    """The matrix as a Markdown page: a summary table (topics × providers) whose cells link to
    per-provider sections listing every clause with its policy file and cited source.
    ``link_prefix`` is prepended to policy file paths (``../`` from ``docs/``)."""
    out = [
        f"# {title}",
        "",
        "<!-- Generated by `tosguard policies --matrix --format markdown` from the shipped "
        "library; do not edit by hand. tests/test_matrix.py fails when it is stale. -->",
        "",
        "What each provider's terms and licences **forbid**, **require** or **allow**, topic by "
        "topic, as encoded in the shipped policy library. Each entry names the clause "
        "(`policy/clause`), the versions of its document that contain it, the policy file "
        "and line of its latest version, and the cited section with a link to the provider's "
        "text. Severity is shown for prohibitions and obligations (`error` changes the "
        "verdict, `warning` does not). This page summarises the library; the clauses, their "
        "conditions and the verbatim quotes in the policy files are what `tosguard check` "
        "applies.",
        "",
        "## Summary",
        "",
        "| topic | " + " | ".join(provider_name(p) for p in matrix.providers) + " |",
        "|---|" + "---|" * len(matrix.providers),
    ]
    for topic in matrix.topics:
        cells = []
        for provider in matrix.providers:
            entries = matrix.cell(provider, topic)
            kinds = _kinds(entries)
            if not kinds:
                cells.append("—")
                continue
            label = " · ".join(VERBS[k] for k in kinds)
            cells.append(f"[{label}](#{_anchor(provider, topic)})")
        out.append(f"| {topic} | " + " | ".join(cells) + " |")
    out += [
        "",
        "— : no clause of this topic in the library (which is not the same as "
        '"allowed": see the provider\'s documents).',
        "",
    ]
    for provider in matrix.providers:
        out += [f"## {provider_name(provider)}", ""]
        for topic in matrix.topics:
            entries = matrix.cell(provider, topic)
            if not entries:
                continue
            out += [
                f'<a id="{_anchor(provider, topic)}"></a>',
                "",
                f"### {provider_name(provider)}: {topic}",
                "",
            ]
            for entry in entries:
                notes = [
                    f"`{entry.severity}`" if entry.kind != "permission" else "",
                    _status(entry),
                    f"unverified citation: {entry.unverified}" if entry.unverified else "",
                ]
                note = "; ".join(n for n in notes if n)
                out.append(
                    f"- **{entry.verb}** [`{entry.ref}`]({link_prefix}{entry.file}#L{entry.line})"
                    + (f" ({_md(note)})" if note else "")
                    + f" — {_md(entry.message)}.  "
                )
                out.append(
                    f"  {_md(entry.document)}, [{_md(entry.section)}]({entry.url}); "
                    f"versions {', '.join(entry.versions)}."
                )
            out.append("")
    return printable("\n".join(out).rstrip("\n") + "\n", layout=True)
