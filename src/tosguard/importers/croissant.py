"""MLCommons Croissant dataset descriptions (JSON-LD), with the RAI extension.

Croissant publishes no JSON schema (its reference checker, mlcroissant, validates the JSON-LD
graph and pulls in a data stack), so the document is checked for what this importer relies on:
an ``@context``, a ``Dataset`` ``@type``, a ``conformsTo`` naming a Croissant version, and a
``name``, each with a located error. The dataset becomes a ``dataset`` source: ``license``
(SPDX id or licence URL), ``prov:wasDerivedFrom`` as ``derived_from``; and, where
``rai:dataCollectionType`` or ``keywords`` say the data is machine-made, or
``prov:wasGeneratedBy`` / the description name models, ``model-output`` sources as hints;
``rai:dataCollectionTimeframe`` (an ISO interval) gives ``collected``.
Keys are matched with or without their ``sc:``/``schema:`` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from ..errors import Diagnostic
from .document import Document, ImportInputError
from .draft import Draft, Fact, licence_fact
from .hints import add_mentions, generator_sources, set_derived
from .providers import SYNTHETIC_TAGS, names_in

Canonical = Callable[[str], str | None]
_HELP = "see the Croissant format (https://docs.mlcommons.org/croissant/docs/croissant-spec.html)"
_TYPES = ("sc:Dataset", "schema:Dataset", "Dataset", "https://schema.org/Dataset")
# rai:dataCollectionType values (lowercase words) that say the data is machine-made.
_MACHINE_WORDS = ("generated", "synthetic", "automated", "model", "machine")


def is_croissant(value: Any) -> bool:
    if not isinstance(value, dict) or "@context" not in value:
        return False
    conforms = _get(value, "conformsTo") or value.get("dct:conformsTo")
    values = conforms if isinstance(conforms, list) else [conforms]
    return any(isinstance(v, str) and "mlcommons.org/croissant" in v for v in values)


def _get(node: dict[str, Any], key: str) -> Any:
    for prefix in ("", "sc:", "schema:", "https://schema.org/"):
        if prefix + key in node:
            return node[prefix + key]
    return None


def _key(node: dict[str, Any], key: str) -> str:
    for prefix in ("", "sc:", "schema:", "https://schema.org/"):
        if prefix + key in node:
            return prefix + key
    return key


def _check(doc: Document) -> None:
    value = doc.value
    problems: list[Diagnostic] = []
    if value.get("@type") not in _TYPES:
        problems.append(
            doc.error(
                "import-schema",
                f"a Croissant description's `@type` is `sc:Dataset`, not {value.get('@type')!r}",
                "/@type",
                _HELP,
            )
        )
    if not isinstance(_get(value, "name"), str):
        problems.append(
            doc.error("import-schema", "a Croissant dataset needs a `name` string", "", _HELP)
        )
    if problems:
        raise ImportInputError(problems)


def _texts(value: Any, pointer: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """Every string under ``value`` with its pointer (bounded depth)."""
    if depth > 16:
        return
    if isinstance(value, str):
        yield value, pointer
    elif isinstance(value, list):
        for index, item in enumerate(value[:1000]):
            yield from _texts(item, f"{pointer}/{index}", depth + 1)
    elif isinstance(value, dict):
        for key, item in list(value.items())[:1000]:
            if key != "@context":
                yield from _texts(item, f"{pointer}/{_escape(key)}", depth + 1)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def read(doc: Document, draft: Draft, canonical: Canonical) -> None:
    _check(doc)
    value = doc.value
    name = _get(value, "name")
    url = _get(value, "url")
    ref = url if isinstance(url, str) and "huggingface.co/datasets/" in url else name
    if isinstance(ref, str) and "huggingface.co/datasets/" in ref:
        ref = ref.split("huggingface.co/datasets/", 1)[1].strip("/")
    origin = f"{doc.where('/' + _escape(_key(value, 'name')))} name"
    source = draft.find(ref) or draft.source(ref, origin, id_hint=name)
    source.origin = source.origin or origin
    source.set("kind", Fact.stated("dataset", f"{doc.name} (a Croissant dataset)"))
    licence_key = _key(value, "license")
    licence = value.get(licence_key)
    if isinstance(licence, list) and len(licence) == 1:
        licence = licence[0]
    if isinstance(licence, dict):
        licence = licence.get("@id") or _get(licence, "url") or _get(licence, "name")
    if isinstance(licence, str):
        source.set(
            "license",
            licence_fact(licence, f"{doc.where('/' + _escape(licence_key))} license", canonical),
        )
    elif isinstance(licence, list):
        source.set(
            "license", Fact.open(f"one licence id; {doc.where('/' + licence_key)} lists several")
        )
    collected = _timeframe(doc)
    if collected is not None:
        source.set("collected", collected)
    derived: list[str] = []
    origins: list[str] = []
    suggested: list[str] = []
    parents = value.get("prov:wasDerivedFrom")
    for index, parent in enumerate(
        parents if isinstance(parents, list) else [parents] if parents else []
    ):
        here = "/prov:wasDerivedFrom" + (f"/{index}" if isinstance(parents, list) else "")
        label = parent
        if isinstance(parent, dict):
            label = _get(parent, "name") or parent.get("@id") or _get(parent, "url")
        if not isinstance(label, str):
            continue
        where = f"{doc.where(here)} prov:wasDerivedFrom"
        parent_ref = label.split("huggingface.co/datasets/", 1)[-1].strip("/")
        parent_source = draft.source(parent_ref, where)
        parent_source.set(
            "kind", Fact.open("what it is: dataset, model-output, web-crawl, human, …")
        )
        derived.append(parent_source.id)
        origins.append(where)
    evidence: list[str] = []
    collection = value.get("rai:dataCollectionType")
    for text, pointer in _texts(collection, "/rai:dataCollectionType"):
        if any(word in text.lower() for word in _MACHINE_WORDS):
            evidence.append(f"{doc.where(pointer)} rai:dataCollectionType `{text}`")
    mentions: dict[str, list[tuple[str, str]]] = {}
    for text, pointer in _texts(_get(value, "keywords"), "/" + _key(value, "keywords")):
        if text.lower() in SYNTHETIC_TAGS:
            evidence.append(f"{doc.where(pointer)} keyword `{text}`")
        for provider, model in names_in(text):
            mentions.setdefault(provider, []).append(
                (model, f"{doc.where(pointer)} keyword `{text}`")
            )
    for text, pointer in _texts(value.get("prov:wasGeneratedBy"), "/prov:wasGeneratedBy"):
        for provider, model in names_in(text):
            mentions.setdefault(provider, []).append(
                (model, f'{doc.where(pointer)} prov:wasGeneratedBy "{text[:80]}"')
            )
    for key in ("description", "rai:dataCollection"):
        text = _get(value, key) if key == "description" else value.get(key)
        if isinstance(text, str):
            line = (
                doc.span("/" + _escape(_key(value, key) if key == "description" else key)).line or 1
            )
            add_mentions(
                mentions,
                text.replace("\\n", "\n"),
                line,
                doc.name,
                key,
                at=doc.where("/" + _escape(key)),
            )
    for generator, _ in generator_sources(draft, source, evidence, mentions, doc.name):
        if collected is not None:
            generator.set(
                "collected", Fact.hint(collected.value, collected.origin, "when the data was made")
            )
        derived.append(generator.id)
        suggested.append(generator.id)
    set_derived(source, derived, origins, suggested)


_INTERVAL = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})[^/]*/([0-9]{4}-[0-9]{2}-[0-9]{2})[^/]*")


def _timeframe(doc: Document) -> Fact | None:
    """``rai:dataCollectionTimeframe`` written as an ISO interval (``start/end``)."""
    value = doc.value.get("rai:dataCollectionTimeframe")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    match = _INTERVAL.fullmatch(value) if isinstance(value, str) else None
    if match is None or match[1] > match[2]:
        return None
    try:
        date.fromisoformat(match[1]), date.fromisoformat(match[2])
    except ValueError:
        return None
    origin = f"{doc.where('/rai:dataCollectionTimeframe')} rai:dataCollectionTimeframe"
    return Fact.stated({"from": match[1], "to": match[2]}, origin)
