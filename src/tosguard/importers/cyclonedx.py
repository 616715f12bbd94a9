"""CycloneDX ML-BOMs (JSON, 1.5 to 1.7), validated against the vendored published schemas.

The trained model is ``metadata.component`` when it is a ``machine-learning-model``, else the
one such component no other names as an ancestor. Its ``name`` and ``licenses`` give the
model; its ``modelCard.modelParameters.datasets`` (references to ``data`` components, or
inline data) give ``dataset`` sources; its ``pedigree.ancestors`` give ``model-weights``
sources whose provider comes from the package URL's organization (``pkg:huggingface/org/name``),
the ``group``, or the supplier's, manufacturer's or publisher's name. Every other ``data``
component is a ``dataset`` source too. cyclonedx-python-lib has no model card support, so the
BOM is read as JSON (the strict loader, positions kept) after schema validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .document import Document, ImportInputError
from .draft import Draft, DraftSource, Fact, licence_fact
from .hfcard import PURPOSES
from .hints import add_mentions, suggest_generators
from .providers import provider_of_name, provider_of_org

Canonical = Callable[[str], str | None]


def is_cyclonedx(value: Any) -> bool:
    return isinstance(value, dict) and value.get("bomFormat") == "CycloneDX"


def _components(value: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    if not isinstance(value, list):
        return
    for index, component in enumerate(value):
        if isinstance(component, dict):
            here = f"{pointer}/{index}"
            yield component, here
            yield from _components(component.get("components"), f"{here}/components")


def read(doc: Document, draft: Draft, canonical: Canonical) -> None:
    from .schemas import CYCLONEDX_SCHEMAS, check_cyclonedx

    bom = doc.value
    version = bom.get("specVersion")
    if version == "1.5":
        version = "1.6"  # 1.6 only added to 1.5: a 1.5 BOM is read by the 1.6 schema
    if not isinstance(version, str) or version not in CYCLONEDX_SCHEMAS:
        raise ImportInputError(
            doc.error(
                "import-schema",
                f"CycloneDX `specVersion` {bom.get('specVersion')!r} is not read: "
                "ML-BOMs are read in versions 1.5, 1.6 and 1.7",
                "/specVersion",
                "model cards came with CycloneDX 1.5; export the BOM as 1.6",
            )
        )
    check_cyclonedx(doc, version)
    components = list(_components(bom.get("components"), "/components"))
    metadata = bom.get("metadata") if isinstance(bom.get("metadata"), dict) else {}
    top = metadata.get("component")
    if isinstance(top, dict):
        components.insert(0, (top, "/metadata/component"))
    by_ref = {c["bom-ref"]: (c, p) for c, p in components if isinstance(c.get("bom-ref"), str)}
    models = [(c, p) for c, p in components if c.get("type") == "machine-learning-model"]
    ancestors = {id(a) for c, _ in models for a in _ancestors(c)}
    trained = next(((c, p) for c, p in models if id(c) not in ancestors), None)
    used: set[int] = set()
    if trained is not None:
        _trained(doc, draft, canonical, *trained, by_ref, used)
    else:
        draft.notes.append(f"{doc.name}: no `machine-learning-model` component: no model read")
    for component, pointer in components:
        if component.get("type") == "data" and id(component) not in used:
            _dataset(doc, draft, canonical, component, pointer)


def _trained(
    doc: Document,
    draft: Draft,
    canonical: Canonical,
    component: dict[str, Any],
    pointer: str,
    by_ref: dict[str, tuple[dict[str, Any], str]],
    used: set[int],
) -> None:
    used.add(id(component))
    draft.model_origin = f"{doc.name} ({pointer})"
    if isinstance(component.get("name"), str):
        draft.model["name"] = Fact.stated(component["name"], f"{doc.where(pointer + '/name')} name")
    licences = _licences(doc, component, pointer, canonical)
    if licences is not None:
        draft.model["downstream_licenses"] = licences
    card = _mapping(component.get("modelCard"))
    parameters = _mapping(card.get("modelParameters"))
    task = parameters.get("task")
    if isinstance(task, str) and task in PURPOSES:
        where = f"{doc.where(pointer + '/modelCard/modelParameters/task')} modelParameters.task"
        draft.model["purpose"] = Fact.hint(PURPOSES[task], where, f"task `{task}`")
    found = parameters.get("datasets")
    datasets: list[Any] = found if isinstance(found, list) else []
    for index, entry in enumerate(datasets):
        here = f"{pointer}/modelCard/modelParameters/datasets/{index}"
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("ref"), str):
            target = by_ref.get(entry["ref"])
            if target is None:
                raise ImportInputError(
                    doc.error(
                        "import-schema",
                        f"dataset reference `{entry['ref']}` names no component of the BOM",
                        here + "/ref",
                        "give the `bom-ref` of a `data` component",
                    )
                )
            used.add(id(target[0]))
            _dataset(doc, draft, canonical, target[0], target[1], via=here)
        else:
            _dataset(doc, draft, canonical, entry, here, via=here)
    pedigree = component.get("pedigree")
    found = pedigree.get("ancestors") if isinstance(pedigree, dict) else None
    for index, ancestor in enumerate(found if isinstance(found, list) else []):
        if isinstance(ancestor, dict):
            _weights(doc, draft, canonical, ancestor, f"{pointer}/pedigree/ancestors/{index}")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ancestors(component: dict[str, Any]) -> list[dict[str, Any]]:
    pedigree = component.get("pedigree")
    found = pedigree.get("ancestors") if isinstance(pedigree, dict) else None
    return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []


def _name(component: dict[str, Any]) -> str:
    name = component.get("name")
    return name if isinstance(name, str) and name.strip() else "unnamed"


def _ref(component: dict[str, Any]) -> str:
    purl = component.get("purl")
    if isinstance(purl, str) and purl.startswith("pkg:huggingface/"):
        return purl.removeprefix("pkg:huggingface/").split("@", 1)[0]
    group = component.get("group")
    name = _name(component)
    return f"{group}/{name}" if isinstance(group, str) and group else name


def _licences(
    doc: Document, component: dict[str, Any], pointer: str, canonical: Canonical
) -> Fact | None:
    entries = component.get("licenses")
    if not isinstance(entries, list) or not entries:
        return None
    facts = []
    for index, entry in enumerate(entries):
        here = f"{pointer}/licenses/{index}"
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("expression"), str):
            facts.append(
                licence_fact(entry["expression"], f"{doc.where(here)} expression", canonical)
            )
            continue
        licence = _mapping(entry.get("license"))
        for key in ("id", "name", "url"):
            if isinstance(licence.get(key), str):
                where = f"{doc.where(here + '/license/' + key)} license.{key}"
                facts.append(licence_fact(licence[key], where, canonical))
                break
    if not facts:
        return None
    if all(f.status == "stated" for f in facts):
        return Fact.stated([f.value for f in facts], "; ".join(f.origin for f in facts))
    return next(f for f in facts if f.status != "stated")


def _provider(doc: Document, component: dict[str, Any], pointer: str) -> Fact:
    purl = component.get("purl")
    if isinstance(purl, str) and purl.startswith("pkg:huggingface/"):
        org = purl.removeprefix("pkg:huggingface/").split("/", 1)[0]
        provider = provider_of_org(org)
        if provider:
            return Fact.stated(provider, f"{doc.where(pointer + '/purl')} purl (org `{org}`)")
    group = component.get("group")
    if isinstance(group, str) and provider_of_org(group):
        return Fact.stated(provider_of_org(group), f"{doc.where(pointer + '/group')} group")
    for key in ("supplier", "manufacturer", "publisher", "author"):
        value = component.get(key)
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str) and provider_of_name(name):
            return Fact.stated(provider_of_name(name), f"{doc.where(pointer + '/' + key)} {key}")
    return Fact.open(f"the provider of `{_name(component)}` (the BOM names none the policies know)")


def _weights(
    doc: Document, draft: Draft, canonical: Canonical, component: dict[str, Any], pointer: str
) -> DraftSource:
    origin = f"{doc.where(pointer)} pedigree.ancestors"
    source = draft.source(_ref(component), origin, id_hint=_name(component))
    source.set("kind", Fact.stated("model-weights", origin))
    source.set("provider", _provider(doc, component, pointer))
    source.set("model", Fact.stated(_name(component), f"{doc.where(pointer + '/name')} name"))
    if isinstance(component.get("purl"), str) and component["purl"].startswith("pkg:huggingface/"):
        source.set("service", Fact.stated("open-weights", f"{doc.where(pointer + '/purl')} purl"))
    licences = _licences(doc, component, pointer, canonical)
    if licences is not None:
        value = licences.value
        if licences.status == "stated" and isinstance(value, list) and len(value) == 1:
            source.set("license", Fact.stated(value[0], licences.origin))
        elif licences.status == "stated":
            source.set("license", Fact.open(f"one licence id; the BOM lists {value}"))
        else:
            source.set("license", licences)
    return source


def _dataset(
    doc: Document,
    draft: Draft,
    canonical: Canonical,
    component: dict[str, Any],
    pointer: str,
    via: str = "",
) -> DraftSource:
    origin = f"{doc.where(via or pointer)} " + ("modelCard datasets" if via else "data component")
    source = draft.source(_ref(component), origin, id_hint=_name(component))
    source.set("kind", Fact.stated("dataset", origin))
    licences = _licences(doc, component, pointer, canonical)
    if licences is not None and licences.status == "stated" and len(licences.value) == 1:
        source.set("license", Fact.stated(licences.value[0], licences.origin))
    elif licences is not None and licences.status != "stated":
        source.set("license", licences)
    description = component.get("description")
    mentions: dict[str, list[tuple[str, str]]] = {}
    if isinstance(description, str):
        line = doc.span(pointer + "/description").line or 1
        add_mentions(mentions, description, line, doc.name)
    suggest_generators(draft, source, mentions, doc.name)
    return source
