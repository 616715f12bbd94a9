"""Identity before clauses: what a manifest's ids mean, decided once, before any clause runs.

The library's policies declare the ids they answer to: providers (their ``provider``), licences
(their ``license`` line: SPDX id, Hugging Face tag, the licence's own name, the first one
canonical), agreements (the ``waived by`` ids and those their conditions test), verifications
(provider ids and those their conditions test). Against that vocabulary a manifest is

* **canonicalised**: a licence id is matched case-insensitively and replaced by its document's
  canonical id, so that every condition sees one spelling;
* **checked**: an id no loaded policy knows is an error-severity ``undetermined`` notice at its
  line, with a did-you-mean (a warning when the team accepts unknown ids knowingly);
* **held to its claims**: an agreement or verification the manifest does not declare does not
  hold, so an absent ``agreements`` or ``verified_with`` list is an empty one.

Which documents then govern each source is decided in :mod:`tosguard.engine.evaluate`; its notices
("cannot tell which terms govern source `x`") are built here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import did_you_mean
from .ir import Cond, Contains, ContainsSet, InSet, Lit, Path

# The codes of notices (findings of topic `identity`); `no-version-in-force` is per document.
NOTICE_CODES = (
    "unknown-provider",
    "unknown-license",
    "unknown-agreement",
    "unknown-verification",
    "governing-terms",
    "no-governing-terms",
)
DOCUMENT_NOTICE_CODES = ("no-version-in-force",)
# Kinds of source that no model provider's terms govern unless a policy names the kind.
UNGOVERNED_KINDS = frozenset({"human", "web-crawl"})
CLAIM_PATHS = {
    "agreements": ("organization", ("agreements",)),
    "verifications": ("organization", ("verified_with",)),
}


@dataclass(frozen=True, slots=True)
class Notice:
    """A finding that rests on what the library holds as a whole (an id no policy knows, terms
    that cannot be told apart), not on one clause: it has no quote, and names what to declare."""

    code: str  # unknown-provider, unknown-license, governing-terms, no-version-in-force, …
    subject: str  # the JSON pointer of the source, or /organization
    pointer: str  # where the finding points: the value at fault, or the source
    message: str
    remedy: str
    missing: tuple[str, ...] = ()
    severity: str = "error"
    status: str = "undetermined"
    policy: str | None = None  # the document it concerns, when it concerns one
    provider: str | None = None
    policy_location: dict | None = None


class Vocabulary:
    """The ids the loaded policies answer to."""

    def __init__(self, library) -> None:
        self.providers = frozenset(p.provider for p in library.policies if p.provider)
        self.licences: dict[str, str] = {}  # casefolded alias -> canonical id
        self.licence_documents: dict[str, str] = {}  # canonical id -> document title
        for document in library.documents.values():
            for version in document.versions:
                if not version.licenses:
                    continue
                canonical = version.licenses[0]
                self.licence_documents.setdefault(canonical, version.document)
                for alias in version.licenses:
                    self.licences.setdefault(alias.casefold(), canonical)
        # ids a `governs` condition tests for are known too (to themselves)
        providers = set(self.providers)
        for document in library.documents.values():
            providers.update(document.keys.get("provider", ()))
            for licence in document.keys.get("license", ()):
                if isinstance(licence, str):
                    self.licences.setdefault(licence.casefold(), licence)
        self.providers = frozenset(p for p in providers if isinstance(p, str))
        agreements: set[str] = set()
        verifications: set[str] = set(self.providers)
        for policy in library.policies:
            for clause in policy.clauses:
                agreements.update(clause.waivers)
                for condition in _conditions_of(clause):
                    agreements.update(_literals_tested(condition, CLAIM_PATHS["agreements"]))
                    verifications.update(_literals_tested(condition, CLAIM_PATHS["verifications"]))
        self.agreements = frozenset(agreements)
        self.verifications = frozenset(verifications)
        self._suggestions: dict[tuple[str, str], str] = {}  # a manifest repeats its ids

    def listing(self) -> dict:
        """What ``tosguard policies --ids`` shows: every id a manifest may use."""
        aliases: dict[str, list[str]] = {}
        for alias, canonical in self.licences.items():
            aliases.setdefault(canonical, []).append(alias)
        return {
            "providers": sorted(self.providers),
            "licenses": [
                {
                    "id": canonical,
                    "document": self.licence_documents.get(canonical),
                    "matches": sorted(aliases[canonical]),
                }
                for canonical in sorted(aliases, key=str.casefold)
            ],
            "agreements": sorted(self.agreements),
            "verifications": sorted(self.verifications),
        }

    def canonical_licence(self, licence: str) -> str | None:
        return self.licences.get(licence.casefold())

    def suggestion(self, what: str, value: str) -> str:
        """``did you mean …?`` for an unknown id of kind ``what`` (``provider``, ``licence``,
        ``agreement``, ``verification``), or an empty string; for a licence, the canonical id
        of the closest spelling. Worked out once per distinct value."""
        key = (what, value)
        found = self._suggestions.get(key)
        if found is None:
            found = self._suggestions[key] = self._suggest(what, value)
        return found

    def _suggest(self, what: str, value: str) -> str:
        if what == "licence":
            help = did_you_mean(value.casefold(), self.licences)
            if help.startswith("did you mean `"):
                return f"did you mean `{self.licences[help[len('did you mean `') : -2]]}`?"
            return ""
        known = {
            "provider": self.providers,
            "agreement": self.agreements,
            "verification": self.verifications,
        }[what]
        help = did_you_mean(value, known)
        return help if help.startswith("did you mean") else ""


def _conditions_of(clause) -> Iterator[Cond]:
    for condition in (clause.when, clause.require):
        if condition is not None:
            yield condition
    for exception in clause.exceptions:
        if exception.when is not None:
            yield exception.when


def _literals_tested(condition: Cond, path: tuple[str, tuple[str, ...]]) -> Iterator[str]:
    """The string literals ``condition`` compares with the manifest list at ``path``."""
    stack = [condition]
    while stack:
        node = stack.pop()
        stack.extend(node.children())
        operand = getattr(node, "operand", None)
        if not (isinstance(operand, Path) and (operand.root, operand.parts) == path):
            continue
        if isinstance(node, Contains) and isinstance(node.value, Lit):
            if isinstance(node.value.value, str):
                yield node.value.value
        elif isinstance(node, ContainsSet | InSet):
            yield from (value for value in node.values if isinstance(value, str))


# ---- the manifest as the engine reads it ------------------------------------------------------
def canonical_manifest(manifest, vocabulary: Vocabulary):
    """``manifest`` with licence ids in their canonical spelling and undeclared claims empty
    (the manifest itself is left untouched: its positions still point at what was written)."""
    sources = list(manifest.sources)
    changed = False
    for index, source in enumerate(sources):
        licence = source.license
        if licence is None:
            continue
        canonical = vocabulary.canonical_licence(licence)
        if canonical is not None and canonical != licence:
            sources[index] = source.model_copy(update={"license": canonical})
            changed = True
    update: dict = {"sources": sources} if changed else {}
    model = manifest.model
    if model is not None and model.downstream_licenses:
        spelled = [vocabulary.canonical_licence(name) or name for name in model.downstream_licenses]
        if spelled != model.downstream_licenses:
            update["model"] = model.model_copy(update={"downstream_licenses": spelled})
    organization = manifest.organization
    claims: dict[str, list[str]] = {
        name: []
        for name in ("agreements", "verified_with")
        if organization is None or getattr(organization, name) is None
    }
    if claims:
        if organization is None:
            from ..manifest.model import Organization

            update["organization"] = Organization.model_validate(claims)
        else:
            update["organization"] = organization.model_copy(update=claims)
    return manifest.model_copy(update=update) if update else manifest


def unknown_ids(manifest, vocabulary: Vocabulary, accept: bool = False) -> list[Notice]:
    """A notice for every provider, licence, agreement and verification id that no loaded
    policy knows (warnings when ``accept``: the team has accepted unknown ids knowingly)."""
    severity = "warning" if accept else "error"
    found: list[Notice] = []
    for index, source in enumerate(manifest.sources):
        if source.provider is not None and source.provider not in vocabulary.providers:
            found.append(
                _unknown_source_id(
                    vocabulary, severity, index, source, "provider", "which terms govern it"
                )
            )
        if source.license is not None and vocabulary.canonical_licence(source.license) is None:
            found.append(
                _unknown_source_id(vocabulary, severity, index, source, "license", "what it allows")
            )
    organization = manifest.organization
    if organization is not None:
        for name, known, what in (
            ("agreements", vocabulary.agreements, "agreement"),
            ("verified_with", vocabulary.verifications, "verification"),
        ):
            for position, value in enumerate(getattr(organization, name) or ()):
                if value not in known:
                    found.append(
                        Notice(
                            f"unknown-{what}",
                            "/organization",
                            f"/organization/{name}/{position}",
                            _unknown(
                                f"no policy knows the {what} `{value}`: it lifts nothing",
                                vocabulary.suggestion(what, value),
                            ),
                            _fix(what),
                            severity=severity,
                        )
                    )
    return found


def _unknown_source_id(
    vocabulary: Vocabulary, severity: str, index: int, source, field: str, consequence: str
) -> Notice:
    """``no policy covers provider `opnai` (source `gpt`): …; did you mean `openai`?``"""
    value = getattr(source, field)
    what = "licence" if field == "license" else field
    subject = f"/sources/{index}"
    return Notice(
        f"unknown-{field}",
        subject,
        f"{subject}/{field}",
        _unknown(
            f"no policy covers {what} `{value}` (source `{source.id}`): tosguard cannot "
            f"tell {consequence}",
            vocabulary.suggestion(what, value),
        ),
        _fix(what),
        severity=severity,
    )


def _unknown(message: str, suggestion: str) -> str:
    """The message, with the did-you-mean when there is a close id."""
    return f"{message}; {suggestion}" if suggestion else message


def _fix(what: str) -> str:
    return (
        f"Use an id a loaded policy declares (`tosguard policies --ids` lists them), add a "
        f"policy that covers this {what}, or accept unknown ids knowingly with "
        "`--accept-unknown-ids`."
    )
