"""The Data Provenance Initiative's per-dataset summaries (``data_summaries/*.json``).

A summary maps dataset ids to records with, among others, "Licenses" (a list of
``{"License", "License URL"}``), "Model Generated" (the models whose outputs the data holds,
e.g. ``"OpenAI GPT-3"``), "Derived from Datasets", "Hugging Face URL" and "Text Metrics"
("Num Dialogs"). Each record becomes a ``dataset`` source; "Model Generated" entries become
``model-output`` sources as hints (kind and provider to confirm). A "Licenses" entry that
names a provider rather than a licence (the summaries write ``OpenAI`` for data under
OpenAI's terms) is read as evidence of that provider's outputs, not as the licence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .document import Document, ImportInputError
from .draft import Draft, Fact, licence_fact
from .hints import generator_sources, set_derived
from .providers import names_in, provider_of_name

Canonical = Callable[[str], str | None]
_KEYS = ("Unique Dataset Identifier", "Model Generated", "Licenses", "Dataset Name")


def is_dpi(value: Any) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    return all(isinstance(v, dict) and any(k in v for k in _KEYS) for v in value.values())


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def read(doc: Document, draft: Draft, canonical: Canonical) -> None:
    for uid, record in doc.value.items():
        if not isinstance(record, dict):
            raise ImportInputError(
                doc.error(
                    "import-schema",
                    f"the summary of `{uid}` is not an object",
                    f"/{_escape(uid)}",
                    "a summary maps dataset ids to objects",
                )
            )
        _record(doc, draft, canonical, uid, record, f"/{_escape(uid)}")


def _strings(record: dict[str, Any], key: str, pointer: str) -> list[tuple[str, str]]:
    value = record.get(key)
    if not isinstance(value, list):
        return []
    return [
        (v, f"{pointer}/{_escape(key)}/{i}")
        for i, v in enumerate(value)
        if isinstance(v, str) and v.strip()
    ]


def _record(
    doc: Document,
    draft: Draft,
    canonical: Canonical,
    uid: str,
    record: dict[str, Any],
    pointer: str,
) -> None:
    hf = record.get("Hugging Face URL")
    ref = (
        hf.split("huggingface.co/datasets/", 1)[1].strip("/")
        if isinstance(hf, str) and "huggingface.co/datasets/" in hf
        else uid
    )
    name = record.get("Dataset Name") if isinstance(record.get("Dataset Name"), str) else uid
    origin = f"{doc.where(pointer)} `{uid}`"
    source = draft.find(ref) or draft.source(ref, origin, id_hint=name)
    source.origin = source.origin or origin
    source.set("kind", Fact.stated("dataset", origin))
    metrics = record.get("Text Metrics")
    if (
        isinstance(metrics, dict)
        and type(metrics.get("Num Dialogs")) is int
        and metrics["Num Dialogs"] >= 0
    ):
        where = f"{doc.where(pointer + '/Text Metrics/Num Dialogs')} Num Dialogs"
        note = "the dataset's dialogues in all; write the number the pipeline uses"
        source.set("records", Fact.hint(metrics["Num Dialogs"], where, note))
    mentions: dict[str, list[tuple[str, str]]] = {}
    licences: list[tuple[str, str]] = []
    entries = record.get("Licenses")
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("License"), str):
            continue
        text = entry["License"].strip()
        here = f"{pointer}/Licenses/{index}/License"
        provider = provider_of_name(text)
        if provider:
            mentions.setdefault(provider, []).append((text, f"{doc.where(here)} License `{text}`"))
        elif text:
            licences.append((text, here))
    if len(licences) == 1:
        text, here = licences[0]
        source.set("license", licence_fact(text, f"{doc.where(here)} Licenses", canonical))
    elif licences:
        shown = ", ".join(f"`{t}`" for t, _ in licences)
        source.set(
            "license",
            Fact.open(f"one licence id; {doc.where(pointer + '/Licenses')} lists {shown}"),
        )
    evidence = []
    for text, here in _strings(record, "Model Generated", pointer):
        evidence_where = f"{doc.where(here)} Model Generated `{text}`"
        found = names_in(text)
        if not found:
            evidence.append(evidence_where)
        for provider, model in found:
            mentions.setdefault(provider, []).append((model, evidence_where))
    derived: list[str] = []
    origins: list[str] = []
    suggested: list[str] = []
    for text, here in _strings(record, "Derived from Datasets", pointer):
        where = f"{doc.where(here)} Derived from Datasets"
        parent = draft.source(text, where)
        parent.set("kind", Fact.stated("dataset", where))
        derived.append(parent.id)
        origins.append(where)
    for generator, _ in generator_sources(draft, source, evidence, mentions, doc.name):
        derived.append(generator.id)
        suggested.append(generator.id)
    set_derived(source, derived, origins, suggested)
