"""The draft manifest an import builds: every value with where it came from.

A :class:`Fact` is one manifest value and its origin (``file:line`` and the key it was read
from). A fact is *stated* (the input says it: written as a value), a *hint* (the input suggests
it: written as a ``# declare:`` line with the suggested value, for the user to confirm), or
*open* (no input says it: a ``# declare:`` line with what to write). Only stated facts reach
``tosguard check``; hints and open facts leave the manifest undetermined until declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

STATED, HINT, OPEN = "stated", "hint", "open"

#: The keys of a source, in the order the manifest documents them.
SOURCE_KEYS = (
    "kind",
    "provider",
    "model",
    "service",
    "access",
    "collected",
    "records",
    "reasoning_traces",
    "use",
    "license",
    "derived_from",
)
MODEL_KEYS = (
    "name",
    "purpose",
    "distribution",
    "commercial",
    "attributions",
    "downstream_licenses",
)
ORGANIZATION_KEYS = ("name", "country", "owned_from", "verified_with", "agreements")


@dataclass
class Fact:
    """One value of the manifest and why it is there."""

    value: Any = None
    origin: str = ""  # `file:line key` it was read from
    status: str = OPEN
    note: str = ""  # what to declare, or why the value is only a hint

    @classmethod
    def stated(cls, value: Any, origin: str, note: str = "") -> Fact:
        return cls(value, origin, STATED, note)

    @classmethod
    def hint(cls, value: Any, origin: str, note: str = "") -> Fact:
        return cls(value, origin, HINT, note)

    @classmethod
    def open(cls, note: str, value: Any = None) -> Fact:
        return cls(value, "", OPEN, note)


@dataclass
class DraftSource:
    """A source of the draft; ``ref`` is the Hugging Face id (or other name) it stands for, by
    which the sources of several inputs are merged."""

    id: str
    ref: str
    facts: dict[str, Fact] = field(default_factory=dict)
    origin: str = ""  # where the source itself was found

    def set(self, key: str, fact: Fact) -> None:
        """Keep the strongest fact for ``key``: stated over hint over open."""
        current = self.facts.get(key)
        if current is None or _rank(fact) > _rank(current):
            self.facts[key] = fact


def _rank(fact: Fact) -> int:
    return {OPEN: 0, HINT: 1, STATED: 2}[fact.status]


@dataclass
class Draft:
    """What one or more inputs say about a pipeline."""

    inputs: list[str] = field(default_factory=list)
    model: dict[str, Fact] = field(default_factory=dict)
    model_ref: str | None = None
    model_origin: str = ""
    sources: list[DraftSource] = field(default_factory=list)
    #: refs of models other inputs name as their base (a card of one fills that source)
    notes: list[str] = field(default_factory=list)

    def source(self, ref: str, origin: str = "", id_hint: str | None = None) -> DraftSource:
        """The source standing for ``ref``, created when new (with a unique id)."""
        found = self.find(ref)
        if found is not None:
            return found
        taken = {s.id for s in self.sources}
        base = slug(id_hint or ref.rsplit("/", 1)[-1]) or "source"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        created = DraftSource(candidate, ref, origin=origin)
        self.sources.append(created)
        return created

    def find(self, ref: str) -> DraftSource | None:
        return next((s for s in self.sources if same_ref(s.ref, ref)), None)


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A manifest id from a name: lowercase letters, digits and `-`, starting with a letter.

    >>> slug("Qwen/Qwen2.5-Math-7B"), slug("1st data"), slug("!!!")
    ('qwen-qwen2-5-math-7b', 's-1st-data', '')
    """
    text = _SLUG.sub("-", text.lower()).strip("-")[:64].strip("-")
    if text and not text[0].isalpha():
        text = "s-" + text
    return text


def ref_key(ref: str) -> str:
    """How refs are compared: without case, scheme or `datasets/` prefix, and by their last
    part when one side has no organization (a card read from disk may not know its org)."""
    ref = ref.strip().lower()
    for prefix in ("hf://", "https://huggingface.co/", "datasets/"):
        ref = ref.removeprefix(prefix)
    return ref.strip("/")


def same_ref(a: str, b: str) -> bool:
    """Whether two refs name the same thing (see :func:`ref_key`).

    >>> same_ref("hf://Qwen/Qwen2.5-7B", "qwen2.5-7b"), same_ref("a/x", "b/x")
    (True, False)
    """
    a, b = ref_key(a), ref_key(b)
    if a == b:
        return True
    if "/" in a and "/" in b:
        return False
    return a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


# Licence values that say nothing about which licence it is.
_NO_LICENCE = frozenset({"other", "unknown", "noassertion", "none", "proprietary", ""})


def licence_fact(raw: Any, origin: str, canonical: Any, source_name: str = "") -> Fact:
    """The fact for a licence value read from an input: the library's canonical id when a
    loaded policy knows the value (matched as `tosguard check` matches it), else a hint with
    the value as written (no policy knows it, so check would report it), else open."""
    from .providers import licence_from_url

    text = str(raw).strip() if isinstance(raw, (str, int, float)) else ""
    if text.lower() in _NO_LICENCE:
        said = f" (it says `{text}`)" if text else ""
        return Fact.open(f"the licence id; {origin or 'the input'} names none{said}")
    candidates = [text]
    if "://" in text:
        from_url = licence_from_url(text)
        if from_url:
            candidates.insert(0, from_url)
    for candidate in candidates:
        found = canonical(candidate)
        if found:
            note = f"written `{text}`" if found != text else ""
            return Fact.stated(found, origin, note)
    return Fact.hint(
        text,
        origin,
        "no loaded policy knows this licence; write the id of the one it is "
        "(`tosguard policies --ids`) or keep it and check will report it",
    )
