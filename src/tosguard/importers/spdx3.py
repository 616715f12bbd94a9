"""SPDX 3.0 documents with the AI and Dataset profiles (JSON-LD serialization).

Each element is checked against the SPDX 3 model with spdx-python-model (class, property names
and types, enumerations), and the document against the shape SPDX 3.0's JSON-LD serialization
fixes (an ``@context`` naming an SPDX 3.0 context, an ``@graph`` of objects each with a
``type``; relationships with ``from``, ``to`` and ``relationshipType``), with a located error
for each departure. The trained model is the ``ai_AIPackage`` no relationship names as an
ancestor of another; its ``name`` and ``hasDeclaredLicense`` give the model. ``trainedOn``
targets become ``dataset`` sources (and so does every other ``dataset_DatasetPackage``),
``testedOn`` targets ``dataset`` sources used for ``evaluation``, ancestors (``ancestorOf`` /
``descendantOf``) ``model-weights`` sources whose provider is their ``suppliedBy`` agent's. A
dataset's ``dataset_dataCollectionProcess`` and description are read for the models that made it
(hints).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import Diagnostic, did_you_mean, shorten
from .document import Document, ImportInputError
from .draft import Draft, DraftSource, Fact, licence_fact
from .hints import add_mentions, suggest_generators
from .providers import provider_of_name

Canonical = Callable[[str], str | None]
_HELP = "see the SPDX 3.0 JSON-LD serialization (https://spdx.github.io/spdx-spec/v3.0.1/)"


def is_spdx3(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    context = value.get("@context")
    contexts = context if isinstance(context, list) else [context]
    return any(isinstance(c, str) and "spdx.org/rdf/3." in c for c in contexts)


def _check_shape(doc: Document) -> list[dict[str, Any]]:
    problems: list[Diagnostic] = []
    graph = doc.value.get("@graph")
    if not isinstance(graph, list):
        raise ImportInputError(
            doc.error("import-schema", "an SPDX 3.0 document needs an `@graph` list", "", _HELP)
        )
    for index, element in enumerate(graph):
        here = f"/@graph/{index}"
        if not isinstance(element, dict):
            problems.append(
                doc.error("import-schema", "an `@graph` item is not an object", here, _HELP)
            )
            continue
        if not isinstance(element.get("type"), str):
            problems.append(
                doc.error("import-schema", "an element without a `type` string", here, _HELP)
            )
            continue
        if element["type"] in ("Relationship", "LifecycleScopedRelationship"):
            for key, kind in (("from", str), ("relationshipType", str), ("to", list)):
                value = element.get(key)
                if not isinstance(value, kind) or (
                    kind is list and not all(isinstance(v, str) for v in value)
                ):
                    what = "a list of element ids" if kind is list else "a string"
                    problems.append(
                        doc.error(
                            "import-schema",
                            f"a relationship needs `{key}`, {what}",
                            here + (f"/{key}" if key in element else ""),
                            _HELP,
                        )
                    )
    if problems:
        raise ImportInputError(problems)
    return graph


def read(doc: Document, draft: Draft, canonical: Canonical) -> None:
    graph = _check_shape(doc)
    _check_model(doc, graph)
    elements = {
        e["spdxId"]: (e, f"/@graph/{i}")
        for i, e in enumerate(graph)
        if isinstance(e.get("spdxId"), str)
    }
    relations = [(e, f"/@graph/{i}") for i, e in enumerate(graph) if "relationshipType" in e]
    ancestor_of: dict[str, set[str]] = {}  # descendant -> ancestors
    for relation, _ in relations:
        kind, start, ends = relation["relationshipType"], relation["from"], relation["to"]
        for end in ends:
            if kind == "ancestorOf":
                ancestor_of.setdefault(end, set()).add(start)
            elif kind == "descendantOf":
                ancestor_of.setdefault(start, set()).add(end)
    ancestors = {a for found in ancestor_of.values() for a in found}
    packages = [(e, p) for e, p in graph_items(graph) if e["type"] == "ai_AIPackage"]
    trained = next(((e, p) for e, p in packages if e.get("spdxId") not in ancestors), None)
    if trained is None:
        draft.notes.append(f"{doc.name}: no `ai_AIPackage` element: no model read")
    else:
        element, pointer = trained
        draft.model_origin = f"{doc.name} ({pointer})"
        if isinstance(element.get("name"), str):
            draft.model["name"] = Fact.stated(
                element["name"], f"{doc.where(pointer + '/name')} name"
            )
        types = element.get("ai_typeOfModel")
        if isinstance(types, list) and "classification" in types:
            index = types.index("classification")
            where = f"{doc.where(f'{pointer}/ai_typeOfModel/{index}')} ai_typeOfModel"
            draft.model["purpose"] = Fact.hint("classification", where)
        licence = _licence(doc, element, relations, elements, canonical)
        if licence is not None:
            draft.model["downstream_licenses"] = (
                Fact([licence.value], licence.origin, licence.status, licence.note)
                if licence.status != "open"
                else licence
            )
        for ancestor in sorted(ancestor_of.get(element.get("spdxId", ""), ())):
            if ancestor in elements:
                _weights(doc, draft, canonical, *elements[ancestor], relations, elements)
    used: set[str] = set()
    for relation, pointer in relations:
        kind = relation["relationshipType"]
        if kind not in ("trainedOn", "testedOn"):
            continue
        for index, end in enumerate(relation["to"]):
            if end not in elements:
                raise ImportInputError(
                    doc.error(
                        "import-schema",
                        f"`{kind}` names `{end}`, which is no element of the document",
                        f"{pointer}/to/{index}",
                        _HELP,
                    )
                )
            source = _dataset(doc, draft, canonical, *elements[end], relations, elements)
            where = f"{doc.where(f'{pointer}/to/{index}')} {kind}"
            used.add(end)
            if kind == "testedOn":
                source.set("use", Fact.stated(["evaluation"], where))
            else:
                source.set(
                    "use", Fact.open("trainedOn: pretraining, fine-tuning, distillation or rlhf?")
                )
    for element, pointer in graph_items(graph):
        if element["type"] == "dataset_DatasetPackage" and element.get("spdxId") not in used:
            _dataset(doc, draft, canonical, element, pointer, relations, elements)


# The SPDX 3 model's IRIs, shortened in messages (`…/Core/RelationshipType/trainedOn` → the name).
_TERMS = re.compile(r"https://spdx\.org/rdf/3\.[0-9.]+/terms/(?:[A-Za-z]+/)+")
_QUOTED = re.compile(r"'([^']*)'")


def _check_model(doc: Document, graph: list[dict[str, Any]]) -> None:
    """Each element against the SPDX 3 model, with spdx-python-model (the bindings the SPDX
    project generates from the model's SHACL): classes, property names and types,
    enumerations. An element is read alone, so that each error has its element (and, where the
    error names or quotes one, its property)."""
    import spdx_python_model

    context = doc.value.get("@context")
    try:
        spdx_python_model.load_data({"@context": context, "@graph": []})
    except Exception as error:  # the library's errors are of several types
        raise ImportInputError(
            doc.error(
                "import-schema",
                f"not an SPDX 3 context spdx-python-model knows: {_said(error)[0]}",
                "/@context",
                "SPDX 3.0.1 documents name https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
            )
        ) from None
    problems: list[Diagnostic] = []
    for index, element in enumerate(graph):
        if len(problems) >= 20:
            break
        found = _model_error(context, element)
        if found is None:
            continue
        pointer = f"/@graph/{index}" + _culprit(context, element, found)
        said, help = _said(found)
        problems.append(
            doc.error(
                "import-schema",
                f"not a valid SPDX 3 `{shorten(str(element.get('type')), 40)}`: {said}",
                pointer,
                help or _HELP,
            )
        )
    if problems:
        raise ImportInputError(problems)


def _model_error(context: Any, element: dict[str, Any]) -> Exception | None:
    import spdx_python_model

    try:
        spdx_python_model.load_data({"@context": context, "@graph": [element]})
    except Exception as error:  # TypeError, ValueError, KeyError …, as the bindings raise them
        return error
    return None


def _culprit(context: Any, element: dict[str, Any], error: Exception) -> str:
    """The `/key` of the property at fault: the one the message names or quotes, else the one
    whose removal makes the error go (elements are small; at most 64 keys are tried)."""
    quoted = _QUOTED.findall(str(error))
    for key, value in element.items():
        if key in quoted or (isinstance(value, str) and value in quoted):
            return f"/{key}"
    if str(element.get("type")) in quoted:
        return "/type"
    for key in list(element)[:64]:
        if key in ("type", "spdxId", "@id"):
            continue
        rest = {k: v for k, v in element.items() if k != key}
        if _model_error(context, rest) is None:
            return f"/{key}"
    return ""


def _said(error: Exception) -> tuple[str, str]:
    """The error's message, IRIs shortened, and a help line (a did-you-mean for a value outside
    an enumeration)."""
    text = " ".join(_TERMS.sub("", str(error.args[0]) if error.args else str(error)).split())
    if text == "Object is missing required IRI":
        return "the element has no `spdxId`", "every SPDX 3 element has an `spdxId` (an IRI)"
    value, sep, choices = text.partition(" is not a valid value. Choose one of ")
    if sep:
        return f"{shorten(value, 60)} is not a valid value", did_you_mean(
            value.strip("'"), choices.split()
        )
    return shorten(text, 200), ""


def graph_items(graph: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    return [(e, f"/@graph/{i}") for i, e in enumerate(graph)]


def _licence(doc, element, relations, elements, canonical) -> Fact | None:
    spdx_id = element.get("spdxId")
    for relation, pointer in relations:
        if relation["relationshipType"] != "hasDeclaredLicense" or relation["from"] != spdx_id:
            continue
        if len(relation["to"]) != 1:
            return Fact.open(f"one licence id; {doc.where(pointer)} declares several")
        target = relation["to"][0]
        where = f"{doc.where(pointer + '/to/0')} hasDeclaredLicense"
        found = elements.get(target, (None, ""))[0]
        text = None
        if isinstance(found, dict):
            text = found.get("simplelicensing_licenseExpression") or found.get("name")
        if not isinstance(text, str) and "spdx.org/licenses/" in target:
            text = target.rsplit("/", 1)[-1]
        if isinstance(text, str):
            return licence_fact(text, where, canonical)
        return Fact.open(f"the licence {doc.where(pointer)} declares (`{target}`) is not readable")
    return None


def _name(element: dict[str, Any]) -> str:
    name = element.get("name")
    return name if isinstance(name, str) and name.strip() else str(element.get("spdxId", "unnamed"))


def _weights(doc, draft, canonical, element, pointer, relations, elements) -> DraftSource:
    origin = f"{doc.where(pointer)} ancestor"
    source = draft.source(_name(element), origin)
    source.set("kind", Fact.stated("model-weights", origin))
    source.set("model", Fact.stated(_name(element), f"{doc.where(pointer + '/name')} name"))
    supplier = element.get("suppliedBy")
    agent = elements.get(supplier, (None, ""))[0] if isinstance(supplier, str) else None
    name = agent.get("name") if isinstance(agent, dict) else None
    if isinstance(name, str) and provider_of_name(name):
        source.set(
            "provider",
            Fact.stated(
                provider_of_name(name), f"{doc.where(pointer + '/suppliedBy')} suppliedBy `{name}`"
            ),
        )
    licence = _licence(doc, element, relations, elements, canonical)
    if licence is not None:
        source.set("license", licence)
    return source


def _dataset(doc, draft, canonical, element, pointer, relations, elements) -> DraftSource:
    origin = f"{doc.where(pointer)} {element['type']}"
    source = draft.source(_name(element), origin)
    source.set("kind", Fact.stated("dataset", origin))
    licence = _licence(doc, element, relations, elements, canonical)
    if licence is not None:
        source.set("license", licence)
    mentions: dict[str, list[tuple[str, str]]] = {}
    for key in ("dataset_dataCollectionProcess", "description", "comment"):
        text = element.get(key)
        if isinstance(text, str):
            line = doc.span(f"{pointer}/{key}").line or 1
            add_mentions(mentions, text, line, doc.name, key)
    suggest_generators(draft, source, mentions, doc.name)
    return source
