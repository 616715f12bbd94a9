"""Quotes checked against the stored text of the terms they cite.

Legal content is data with provenance: a clause's quote must appear, word for word, in the
stored source text of the document version it cites. Stored sources are ``sources/*.txt`` files
next to the policy files (``policies/<provider>/sources/``), each a header of ``key: value``
lines (``url`` required, ``effective`` when the text belongs to one version), a line ``---``,
then the text::

    url: https://openai.com/policies/services-agreement/
    effective: 2025-05-31
    read: Open Terms Archive snapshot of the page
    ---
    3.1 Customer Account. … Customer will not share Account access credentials …

Matching ignores differences of white space and of typographic versus straight quotes; ``…`` in
a quote marks an omission, and the parts around it must appear in order.

>>> text = normalise("Customer will not share Account access credentials.")
>>> quote_found("Customer … credentials.", text), quote_found("Customer may share", text)
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import Diagnostic, Span, source_at
from ..language import ast

TYPOGRAPHIC = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "\u00a0": " "})
SOURCES_DIR = "sources"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.translate(TYPOGRAPHIC)).strip()


def quote_found(quote: str, text: str) -> bool:
    """Each part of the quote (``…`` marks an omission) appears in the normalised ``text``, in
    order."""
    position = 0
    for part in (normalise(p) for p in quote.split("…")):
        if not part:
            continue
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


@dataclass(frozen=True)
class StoredSource:
    path: Path
    url: str
    effective: str | None
    text: str  # normalised
    problem: str = ""  # why the file is not a valid stored source ("" when it is)


def read_source(path: Path) -> StoredSource:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return StoredSource(path, "", None, "", f"cannot be read: {error}")
    header, separator, body = raw.partition("\n---\n")
    fields = dict(
        line.split(": ", 1)
        for line in header.splitlines()
        if ": " in line and not line.startswith(" ")
    )
    url = fields.get("url", "").strip()
    problem = ""
    if not separator:
        problem = "has no `---` line between its header and its text"
    elif not url:
        problem = "has no `url:` line in its header"
    elif not body.strip():
        problem = "holds no text after `---`"
    effective = fields.get("effective")
    return StoredSource(
        path, url, effective.strip() if effective else None, normalise(body), problem
    )


@cache
def _sources_in(directory: Path, stamp: tuple) -> tuple[StoredSource, ...]:
    return tuple(read_source(p) for p in sorted(directory.glob("*.txt")))


def stored_sources(directory: Path) -> tuple[StoredSource, ...]:
    """The stored sources in ``directory`` (a ``sources/`` directory); empty if there is none."""
    if not directory.is_dir():
        return ()
    files = sorted(directory.glob("*.txt"))
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _sources_in(directory, stamp)


def all_stored_sources(root: Path) -> list[StoredSource]:
    """Every stored source under ``root`` (``root/**/sources/*.txt``)."""
    directories = sorted({p.parent for p in root.rglob(f"{SOURCES_DIR}/*.txt")})
    return [s for d in directories for s in stored_sources(d)]


def sources_for(policy_file: Path) -> Path:
    """The ``sources/`` directory that belongs to a policy file: its sibling."""
    return policy_file.parent / SOURCES_DIR


def cited(policy: ast.Policy, clause: ast.Clause) -> tuple[str, str, str]:
    """The quote, URL and effective date a clause cites (the policy's when the citation
    leaves them out)."""
    citation = clause.citation or ast.Citation()
    effective = citation.effective or policy.effective
    return (
        citation.quote or "",
        citation.url or policy.url or "",
        str(effective) if effective else "",
    )


def candidates(url: str, effective: str, sources: Iterable[StoredSource]) -> list[StoredSource]:
    return [
        s for s in sources if not s.problem and s.url == url and s.effective in (None, effective)
    ]


def quote_problem(
    policy: ast.Policy, clause: ast.Clause, sources: Iterable[StoredSource]
) -> tuple[str, str, str] | None:
    """``None`` when the clause's quote is found in a stored source of the version it cites;
    otherwise ``(code, message, help)``."""
    quote, url, effective = cited(policy, clause)
    where = f"clause `{clause.id}`"
    if not quote:
        return (
            "policy-missing-citation",
            f"{where} has no quote to check",
            'add `quote "…"` with the verbatim words',
        )
    found = candidates(url, effective, sources)
    if not found:
        return (
            "policy-source-missing",
            f"no stored source text for `{url}` effective {effective or '(any date)'}",
            f"store the terms' text in `{SOURCES_DIR}/<name>.txt` with `url: {url}` and "
            f"`effective: {effective}` header lines, so that the quote can be checked",
        )
    if any(quote_found(quote, s.text) for s in found):
        return None
    names = ", ".join(f"`{s.path.name}`" for s in found)
    return (
        "policy-quote-not-found",
        f"the quote of {where} does not appear in the stored source text",
        f"compare it word for word with {names}; mark omissions with `…`",
    )


def check_quotes(files: Iterable[ast.PolicyFile], locate: dict[str, Path]) -> list[Diagnostic]:
    """Provenance diagnostics for parsed files; ``locate`` maps a file's display name to its
    path on disk. A file with no sibling ``sources/`` directory is not checked; a clause marked
    ``unverified`` may lack a stored source (that is what the mark says)."""
    diagnostics: list[Diagnostic] = []
    seen_sources: set[Path] = set()
    for file in files:
        path = locate.get(file.path)
        if path is None:
            continue
        directory = sources_for(path)
        sources = stored_sources(directory)
        if not sources:
            continue
        for source in sources:
            if source.problem and source.path not in seen_sources:
                seen_sources.add(source.path)
                diagnostics.append(
                    Diagnostic(
                        "policy-source-invalid",
                        f"stored source `{source.path.name}` {source.problem}",
                        Span(str(source.path), 1, 1),
                        "a stored source is `url: …` and `effective: …` lines, `---`, then the "
                        "text",
                    )
                )
        for policy in file.policies:
            for clause in policy.clauses:
                problem = quote_problem(policy, clause, sources)
                if problem is None or problem[0] == "policy-missing-citation":
                    continue  # a missing quote is the checker's to report
                code, message, help = problem
                citation = clause.citation
                if code == "policy-source-missing" and citation and citation.unverified:
                    continue
                span = citation.fields.get("quote", citation.span) if citation else clause.span
                severity = "error" if code == "policy-quote-not-found" else "warning"
                diagnostics.append(
                    Diagnostic(
                        code, message, span, help, **source_at(file.text, span), severity=severity
                    )
                )
    return diagnostics
