"""The usage manifest, format version 1: its model, its vocabularies and how it is loaded.

Every field but ``tosguard``, ``sources`` and a source's ``id`` is optional, and a field that is
not declared is ``None``: the evaluator reads ``None`` as *unknown* (three-valued logic), which
is not the same as a declared empty list.

:func:`parse_manifest` and :func:`load_manifest` read YAML or JSON through the strict loader
in :mod:`tosguard.manifest.yamlload` and turn every problem, including every pydantic validation
error,
into a :class:`~tosguard.errors.Diagnostic` with a code, a line and column, the source line and
a help text, raised together in one :class:`~tosguard.errors.ManifestError`.

>>> loaded = parse_manifest("tosguard: 1\\nsources:\\n  - id: a\\n    provider: openai\\n",
...                         "m.yaml")
>>> loaded.manifest.sources[0].provider, loaded.span("/sources/0/provider").line
('openai', 4)
"""

from __future__ import annotations

import difflib
import functools
import heapq
import itertools
import os
import re
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..engine import budget as budgets
from ..errors import (
    MAX_REPORTED,
    Diagnostic,
    LineTable,
    ManifestError,
    Span,
    did_you_mean,
    line_table,
    shorten,
)
from .countries import is_country, suggest_country
from .yamlload import (
    DEFAULT_MAX_BYTES,
    PositionMap,
    escape_pointer,
    gc_paused,
    load_document_text,
)

__all__ = [
    "DISTRIBUTIONS",
    "PROVIDERS",
    "PURPOSES",
    "ROUTES",
    "SERVICES",
    "SOURCE_KINDS",
    "TRACES",
    "USES",
    "Access",
    "Interval",
    "LoadedManifest",
    "Manifest",
    "Organization",
    "Source",
    "TrainedModel",
    "known_paths",
    "load_manifest",
    "manifest_json_schema",
    "parse_manifest",
    "path_values",
]

FORMAT_VERSION = 1

# --------------------------------------------------------------------------------------------
# Vocabularies. The Literal types are the source of truth; the tuples are what the policy
# checker imports to validate policy literals.

Purpose = Literal[
    "general-assistant",
    "chat",
    "reasoning",
    "code",
    "classification",
    "embedding",
    "retrieval",
    "moderation",
    "translation",
    "image-generation",
    "speech",
    "domain-specific",
]
Distribution = Literal["internal", "api", "product", "open-weights"]
SourceKind = Literal["model-output", "model-weights", "dataset", "web-crawl", "human"]
Service = Literal["api", "consumer-app", "enterprise", "fine-tuning", "open-weights", "third-party"]
Route = Literal[
    "direct", "proxy", "reseller", "authorized-reseller", "shared-account", "automated-ui"
]
#: Cloud platforms that resell a provider's models under their own or the provider's terms
#: (which terms govern is the policies' business; see docs/policies.md).
Platform = Literal["amazon-bedrock", "azure", "google-vertex-ai"]
Traces = Literal["none", "summarized", "raw"]
Use = Literal[
    "pretraining", "fine-tuning", "distillation", "rlhf", "evaluation", "filtering", "rewriting"
]

PURPOSES: tuple[str, ...] = get_args(Purpose)
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
SERVICES: tuple[str, ...] = get_args(Service)
ROUTES: tuple[str, ...] = get_args(Route)
PLATFORMS: tuple[str, ...] = get_args(Platform)
TRACES: tuple[str, ...] = get_args(Traces)
USES: tuple[str, ...] = get_args(Use)
#: The providers the shipped policies know; policies may declare others, so a manifest may
#: name any well-formed id (``[a-z][a-z0-9-]*``).
PROVIDERS: tuple[str, ...] = (
    "openai",
    "anthropic",
    "google",
    "meta",
    "deepseek",
    "alibaba",
    "mistral",
    "xai",
)

_ID = re.compile(r"[a-z][a-z0-9-]*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --------------------------------------------------------------------------------------------
# Field types with their own checks. Their errors are PydanticCustomError whose type is our
# diagnostic code and whose context carries the help text.


class _PathType:
    """Marks a field's type tag for :func:`known_paths` (e.g. ``country``)."""

    __slots__ = ("tag",)

    def __init__(self, tag: str):
        self.tag = tag

    def __repr__(self) -> str:
        return f"_PathType({self.tag!r})"


# The help of these errors is worked out only for the errors reported (see _SUGGEST): a
# manifest may hold a great many invalid values, and the error cap shows the first 100.
def _check_country(value: str) -> str:
    if is_country(value):
        return value
    raise PydanticCustomError(
        "manifest-country",
        "`{value}` is not an ISO 3166-1 alpha-2 country code",
        {"value": shorten(value), "suggest": "country"},
    )


def _check_id(value: str) -> str:
    if _ID.fullmatch(value):
        return value
    raise PydanticCustomError(
        "manifest-invalid-value",
        "`{value}` is not a valid id",
        {"value": shorten(value), "suggest": "id"},
    )


def _id_help(value: str) -> str:
    lowered = value.strip().lower()
    if _ID.fullmatch(lowered):
        return f"ids are lowercase: `{lowered}`"
    help = did_you_mean(lowered, PROVIDERS) if lowered else ""
    return help or "use a lowercase id of letters, digits and `-`, such as `openai`"


_SUGGEST: dict[str, Callable[[str], str]] = {"country": suggest_country, "id": _id_help}


def _check_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "manifest-invalid-value",
                "`{value}` is not a valid date",
                {"value": shorten(value), "help": "there is no such day"},
            ) from None
    raise PydanticCustomError(
        "manifest-invalid-value",
        "expected a date `YYYY-MM-DD`, found {value}",
        {"value": _show(value), "help": "write the date as `2025-01-31`"},
    )


Country = Annotated[
    str,
    AfterValidator(_check_country),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Z]{2}$",
            "description": "ISO 3166-1 alpha-2 country code",
        }
    ),
    _PathType("country"),
]
Id = Annotated[
    str,
    AfterValidator(_check_id),
    WithJsonSchema({"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}),
]
IsoDate = Annotated[date, BeforeValidator(_check_date)]
Count = Annotated[int, Field(strict=True, ge=0)]


#: Where a source's data is (``tosguard scan``): a path, a glob or a list of them, relative to
#: the manifest file. Not a path policies may read: ``check`` ignores it.
def _check_data(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise PydanticCustomError(
            "manifest-type",
            "expected a path, a glob or a list of them, found {value}",
            {"value": _show(value), "help": "write `data: train.jsonl` or `data: [a.jsonl, b/]`"},
        )
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise PydanticCustomError(
                "manifest-type",
                "expected a path or a glob, found {value}",
                {"value": _show(item), "help": "write each path as text, e.g. `data/*.jsonl`"},
            )
    return items


DataPaths = Annotated[
    list[str],
    BeforeValidator(_check_data),
    Field(max_length=10_000),
    WithJsonSchema(
        {  # one path, or a list of them (a type list, not anyOf: editors' messages read better)
            "type": ["string", "array"],
            "pattern": "\\S",
            "items": {"type": "string", "pattern": "\\S"},
            "minItems": 1,
            "maxItems": 10_000,
            "description": "files, globs or directories of the source's data, relative to "
            "the manifest (read by `tosguard scan`)",
        }
    ),
    _PathType("not-a-policy-path"),
]
Flag = Annotated[bool, Field(strict=True)]

#: The most values each list of the manifest may hold. Beyond them a list is refused with one
#: error (pydantic checks the length before the items), so that a list of a million invalid
#: values costs one diagnostic, not a million. `sources` has no limit of its own.
LIST_LIMITS = {
    "use": 64,
    "verified_with": 1000,
    "agreements": 1000,
    "attributions": 1000,
    "downstream_licenses": 1000,
    "derived_from": 10_000,
    "data": 10_000,
}


def _limited(field: str) -> Any:
    return Field(max_length=LIST_LIMITS[field])


def _check_version(value: Any) -> Any:
    if type(value) is int and value == FORMAT_VERSION:
        return value
    raise PydanticCustomError(
        "manifest-version",
        "unsupported manifest format {value}",
        {
            "value": _show(value),
            "help": f"this tosguard reads manifest format {FORMAT_VERSION}; write `tosguard: 1`",
        },
    )


_CONFIG = ConfigDict(extra="forbid", frozen=True)


class Organization(BaseModel):
    """The organization that runs the pipeline."""

    model_config = _CONFIG

    name: str | None = Field(None, description="The organization's name.")
    country: Country | None = Field(
        None, description="Where the organization is established (ISO 3166-1 alpha-2)."
    )
    owned_from: Country | None = Field(
        None, description="The jurisdiction of its majority ownership (ISO 3166-1 alpha-2)."
    )
    verified_with: Annotated[list[Id], _limited("verified_with")] | None = Field(
        None,
        description="Providers with whom the organization completed identity or organization "
        "verification (provider ids). Absent means none.",
    )
    agreements: Annotated[list[str], _limited("agreements")] | None = Field(
        None,
        description="Ids of signed agreements or written authorizations that waive clauses "
        "(`tosguard policies --ids` lists them). Absent means none.",
    )
    monthly_active_users: Count | None = Field(
        None,
        description="The highest monthly count of active users in the period the terms look at.",
    )


class TrainedModel(BaseModel):
    """The model the pipeline trains."""

    model_config = _CONFIG

    name: str | None = Field(
        None, description="The model's name as released (some licences require a prefix)."
    )
    purpose: Purpose | None = Field(None, description="What the model is for.")
    distribution: Distribution | None = Field(
        None,
        description="How the model is made available: kept internal, served through an "
        "API, built into a product, or released as open weights.",
    )
    commercial: Flag | None = Field(None, description="Whether the model is used commercially.")
    attributions: Annotated[list[str], _limited("attributions")] | None = Field(
        None, description="Notices the release displays, e.g. `Built with Llama`."
    )
    downstream_licenses: Annotated[list[str], _limited("downstream_licenses")] | None = Field(
        None,
        description="Licences shipped with the release, whose terms and use restrictions bind "
        "its users (licence ids).",
    )


class Access(BaseModel):
    """How a source's outputs were obtained."""

    model_config = _CONFIG

    route: Route | None = Field(
        None,
        description="How requests reach the provider: directly, through a proxy or a "
        "reseller, a shared account, or an automated user interface.",
    )
    platform: Platform | None = Field(
        None, description="The cloud platform offering the provider's models, if any."
    )
    from_country: Country | None = Field(
        None,
        description="Where the requests leave from (ISO 3166-1 alpha-2); a proxy does not "
        "change it.",
    )


class Interval(BaseModel):
    """When a source was collected; ``from`` and ``to`` are inclusive and each optional."""

    model_config = _CONFIG

    from_: IsoDate | None = Field(
        default=None, alias="from", description="The first day of collection (YYYY-MM-DD)."
    )
    to: IsoDate | None = Field(None, description="The last day of collection (YYYY-MM-DD).")

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise PydanticCustomError(
                "manifest-invalid-value",
                "the interval ends before it starts: `from` is {start}, `to` is {end}",
                {
                    "start": self.from_.isoformat(),
                    "end": self.to.isoformat(),
                    "help": "swap `from` and `to`",
                },
            )
        return self


class Source(BaseModel):
    """One data source of the pipeline."""

    model_config = _CONFIG

    id: Annotated[str, Field(min_length=1)] = Field(
        description="A name for the source, unique in the manifest; findings name it."
    )
    kind: SourceKind | None = Field(None, description="What the source is.")
    provider: Id | None = Field(
        None, description="The provider whose model produced the data (a provider id)."
    )
    model: str | None = Field(None, description="The provider's model, e.g. `gpt-4o-mini`.")
    service: Service | None = Field(
        None,
        description="Through which of the provider's services the data was obtained; with "
        "the kind, it decides which terms govern the source.",
    )
    access: Access | None = Field(None, description="How the provider was reached.")
    collected: Interval | None = Field(
        None,
        description="When the data was collected: it selects the versions of the terms in "
        "force (the evaluation date when absent).",
    )
    records: Count | None = Field(None, description="How many records the source holds.")
    reasoning_traces: Traces | None = Field(
        None, description="Whether the data holds the model's reasoning, and in what form."
    )
    #: The outputs include results grounded in a search service (e.g. Grounding with Google
    #: Search), which some terms forbid training on.
    grounded: Flag | None = Field(
        None,
        description="The outputs include results grounded in a search service (e.g. "
        "Grounding with Google Search).",
    )
    use: Annotated[list[Use], _limited("use")] | None = Field(
        None, description="What the pipeline does with the data."
    )
    license: str | None = Field(
        None,
        description="The licence of a dataset or of model weights (SPDX id, Hugging Face "
        "licence tag or the licence's name).",
    )
    derived_from: Annotated[list[str], _limited("derived_from")] | None = Field(
        None, description="Ids of other sources of this manifest this one was produced from."
    )
    data: DataPaths | None = Field(
        None,
        description="The files of this source's data (paths, globs or directories, relative "
        "to the manifest), for `tosguard scan`; `check` does not read them.",
    )

    def data_paths(self) -> list[str]:
        """The paths and globs of :attr:`data`, as a list (empty when not declared)."""
        return list(self.data or ())


class Manifest(BaseModel):
    """A usage manifest, format 1."""

    model_config = _CONFIG

    tosguard: Annotated[Literal[1], BeforeValidator(_check_version)] = Field(
        description="The manifest format version: 1."
    )
    organization: Organization | None = Field(
        None, description="The organization that runs the pipeline."
    )
    model: TrainedModel | None = Field(
        None, description="The model the pipeline trains (omit when it only builds data)."
    )
    # fail_fast: validation stops at the first invalid source (a valid manifest costs the
    # same); parse_manifest looks for the others piece by piece, with bounded memory.
    sources: Annotated[list[Source], Field(fail_fast=True)] = Field(
        description="The data the pipeline draws on."
    )
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form extension facts, read by custom policies as `facts.*`.",
    )

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Manifest:
        # parse_manifest runs these checks on the raw data, with positions, and says so.
        if info.context and info.context.get("references_checked"):
            return self
        problem = next(_reference_problems([(s.id, s.derived_from) for s in self.sources]), None)
        if problem is not None:
            code, message, _, help, _ = problem
            raise PydanticCustomError(code, "{message}", {"message": message, "help": help()})
        return self


#: Where the schema is published; editors and SchemaStore refer to it by this id.
SCHEMA_ID = "https://raw.githubusercontent.com/tosguard/tosguard/main/schema/manifest-1.json"
#: The fields whose ids the loaded policy library knows: (model, field) -> vocabulary key.
_LIBRARY_IDS = {
    ("Source", "provider"): "providers",
    ("Organization", "verified_with"): "providers",
    ("Source", "license"): "licenses",
    ("TrainedModel", "downstream_licenses"): "licenses",
    ("Organization", "agreements"): "agreements",
}


def manifest_json_schema(vocabulary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the manifest, for editors (``tosguard schema``).

    Every field has its description; an optional field is simply not required, and where
    the model also takes ``null`` (the same as leaving it out) the schema says so with a type
    list (``"type": ["string", "null"]``) rather than an ``anyOf``, so that an editor's
    message names what was expected. ``vocabulary`` (the library's
    :meth:`~tosguard.engine.identity.Vocabulary.listing`) adds the provider, licence and
    agreement ids the loaded policies know as ``examples``, which editors offer as
    completions (not as an ``enum``: policies may add ids, and licences match without
    regard to case).

    >>> schema = manifest_json_schema({"providers": ["openai"], "licenses": [{"id": "MIT"}]})
    >>> source = schema["$defs"]["Source"]["properties"]
    >>> source["provider"]["type"], source["provider"]["examples"], source["license"]["examples"]
    (['string', 'null'], ['openai'], ['MIT'])
    """
    schema = Manifest.model_json_schema(by_alias=True)
    definitions = schema.get("$defs", {})
    nullable_refs: set[str] = set()
    for name, definition in [("Manifest", schema), *definitions.items()]:
        for key, prop in definition.get("properties", {}).items():
            definition["properties"][key] = _readable(prop, nullable_refs)
            if vocabulary is not None and (name, key) in _LIBRARY_IDS:
                _add_examples(definition["properties"][key], vocabulary, name, key)
    for name in nullable_refs:  # referenced only where null is allowed as well
        definitions[name]["type"] = ["object", "null"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"tosguard usage manifest (format {FORMAT_VERSION})",
        "description": "What an ML data pipeline does — who runs it, the model it trains, the "
        "sources it draws on — for `tosguard check` (docs/manifest.md).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def _readable(prop: dict[str, Any], nullable_refs: set[str]) -> dict[str, Any]:
    """``prop`` without pydantic's ``anyOf [X, null]``, ``default: null`` and generated
    title."""
    prop = {k: v for k, v in prop.items() if k != "title"}
    if prop.get("default", 0) is None:
        del prop["default"]
    options = prop.get("anyOf")
    if not options or len(options) != 2 or {"type": "null"} not in options:
        return prop
    (inner,) = [o for o in options if o != {"type": "null"}]
    merged = {k: v for k, v in prop.items() if k != "anyOf"}
    if "$ref" in inner:
        nullable_refs.add(inner["$ref"].rsplit("/", 1)[1])
        return {**inner, **merged}
    if isinstance(inner.get("type"), (str, list)):
        types = inner["type"] if isinstance(inner["type"], list) else [inner["type"]]
        merged = {**inner, **merged, "type": [*types, "null"]}
        if "enum" in inner:
            merged["enum"] = [*inner["enum"], None]
        return merged
    return prop


def _add_examples(prop: dict[str, Any], vocabulary: Mapping[str, Any], model: str, field: str):
    key = _LIBRARY_IDS[(model, field)]
    ids = [entry["id"] if isinstance(entry, dict) else entry for entry in vocabulary.get(key, ())]
    if not ids:
        return
    target = prop.get("items", prop)
    target["examples"] = ids
    prop["description"] = (
        prop.get("description", "") + f" The loaded policies know: {', '.join(ids)}."
    ).strip()


# --------------------------------------------------------------------------------------------
# Paths usable in policy conditions.


_SCOPES: dict[str, type[BaseModel]] = {
    "organization": Organization,
    "model": TrainedModel,
    "source": Source,
}


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip ``Optional`` and ``Annotated``; return the bare type and the metadata found."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata.extend(extra)
        elif origin is Union or origin is types.UnionType:
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, metadata
            annotation = members[0]
        else:
            return annotation, metadata


def _type_tag(annotation: Any, metadata: list[Any]) -> tuple[str, tuple[str, ...]]:
    for item in metadata:
        if isinstance(item, _PathType):
            return item.tag, ()
    origin = get_origin(annotation)
    if origin is Literal:
        return "str", tuple(str(a) for a in get_args(annotation))
    if origin is list:
        inner, inner_metadata = _unwrap(get_args(annotation)[0])
        inner_tag, values = _type_tag(inner, inner_metadata)
        # A list of tagged values keeps the tag (`list[country]`); of text, it is a `list`.
        return ("list" if inner_tag == "str" else f"list[{inner_tag}]"), values
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is date:
        return "date", ()
    return "str", ()


@functools.cache
def _paths() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    tags: dict[str, str] = {}
    values: dict[str, tuple[str, ...]] = {}
    pending: list[tuple[str, type[BaseModel]]] = list(_SCOPES.items())
    while pending:
        prefix, model = pending.pop(0)
        for name, info in model.model_fields.items():
            path = f"{prefix}.{info.alias or name}"
            annotation, metadata = _unwrap(info.annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                tags[path] = "object"
                pending.append((path, annotation))
                continue
            if any(isinstance(m, _PathType) and m.tag == "not-a-policy-path" for m in metadata):
                continue
            tags[path], allowed = _type_tag(annotation, metadata)
            if allowed:
                values[path] = allowed
    return tags, values


def known_paths() -> dict[str, str]:
    """Every manifest path a policy condition may use, with its type tag.

    Paths are dotted and scoped (``source.access.from_country``, ``model.purpose``,
    ``organization.agreements``; ``source.collected.from``, not ``from_``). Tags: ``str``,
    ``int``, ``bool``, ``date``, ``list``, ``country``, and ``object`` for a nested mapping
    (useful in "is declared" tests). ``facts.*`` paths are free-form and not listed.

    >>> known_paths()["source.access.from_country"], known_paths()["source.collected.from"]
    ('country', 'date')
    """
    return dict(_paths()[0])


def path_values() -> dict[str, tuple[str, ...]]:
    """The allowed values of every enumerated path (for a ``list`` path, of its items).

    >>> path_values()["model.distribution"]
    ('internal', 'api', 'product', 'open-weights')
    """
    return dict(_paths()[1])


# --------------------------------------------------------------------------------------------
# Loading.


@dataclass(frozen=True)
class LoadedManifest:
    """A validated manifest with its file name, positions and text."""

    name: str
    manifest: Manifest
    positions: Mapping[str, tuple[int, int]]
    text: str = field(repr=False)

    def position(self, pointer: str) -> tuple[int, int] | None:
        """The position of ``pointer`` or of its nearest ancestor that has one."""
        if isinstance(self.positions, PositionMap):
            return self.positions.nearest(pointer)
        while True:
            if pointer in self.positions:
                return self.positions[pointer]
            if not pointer:
                return None
            pointer = pointer[: max(pointer.rfind("/"), 0)]

    def span(self, pointer: str) -> Span:
        """Where ``pointer`` (a JSON pointer, or ``pointer#key``) is, or its nearest ancestor."""
        position = self.position(pointer)
        return Span(self.name, *position) if position else Span(self.name)

    def source_line(self, line: int) -> str:
        """The text of 1-based ``line``, as :func:`tosguard.errors.line_of` gives it, in O(1)."""
        return self._lines.line(line)

    @functools.cached_property
    def _lines(self) -> LineTable:
        return LineTable(self.text)


def parse_manifest(
    data: bytes | str, name: str = "<manifest>", fmt: str | None = None
) -> LoadedManifest:
    """Read and validate a manifest; raise :class:`ManifestError` with every problem found.

    ``fmt`` is ``"yaml"`` or ``"json"``; by default it follows the name's extension
    (``.json`` is JSON, anything else YAML).
    """
    try:
        return _parse(data, name, fmt)
    except (ManifestError, budgets.LimitExceeded):  # the service's time limit stops the work
        raise
    except Exception as exc:  # last resort: no traceback escapes for any input
        raise ManifestError(
            Diagnostic(
                code="manifest-internal",
                message=f"internal error while reading the manifest: {type(exc).__name__}: {exc}",
                span=Span(name),
                help="this is a bug in tosguard; please report it with the manifest",
            )
        ) from exc


def load_manifest(path: str | os.PathLike[str], fmt: str | None = None) -> LoadedManifest:
    """Read and validate the manifest file at ``path``."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            data = stream.read(DEFAULT_MAX_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ManifestError(
            Diagnostic(
                code="manifest-io",
                message=f"cannot read `{name}`: {reason}",
                span=Span(name),
                help="check the path",
            )
        ) from None
    return parse_manifest(data, name, fmt)


def _parse(data: bytes | str, name: str, fmt: str | None) -> LoadedManifest:
    with gc_paused(len(data)):
        return _parse_document(data, name, fmt)


def _parse_document(data: bytes | str, name: str, fmt: str | None) -> LoadedManifest:
    value, positions, text = load_document_text(data, name, fmt)
    try:
        if _unknown_section_keys(value):
            raise _SkipValidation
        manifest = Manifest.model_validate(value, context=_CONTEXT)
    except (ValidationError, _SkipValidation) as exc:
        first = exc if isinstance(exc, ValidationError) else None
        raise _ErrorContext(name, text, positions).error(value, first) from None
    if next(_raw_reference_problems(value), None) is not None:
        raise _ErrorContext(name, text, positions).error(value, None)
    return LoadedManifest(name=name, manifest=manifest, positions=positions, text=text)


# --------------------------------------------------------------------------------------------
# Every validation error, with bounded memory.
#
# A manifest can hold a great many errors (a list of a million invalid values, a mapping of
# half a million unknown keys), and pydantic keeps every one, then builds a dict for each. So
# the first validation (the only one of a valid manifest) stops at the first invalid source
# (`fail_fast`), lists are refused past LIST_LIMITS with one error, and it is skipped where a
# section has unknown keys. On failure the manifest is validated again piece by piece: the
# unknown keys of each mapping are listed here and removed, the rest of the manifest without
# its sources is validated, then the sources in chunks of bounded size. No validation call
# then makes more than about _PIECE errors, and of all the errors only the first
# MAX_REPORTED (by position) are kept and turned into diagnostics; the others are counted.

_CONTEXT = {"references_checked": True}
_CHECKPOINT_EVERY = 4096  # errors between two checks of the request's time limit
_PIECE = 20_000  # the most errors one validation call may make
_CHUNK_WEIGHT = 2048  # values in one chunk of sources validated together


class _SkipValidation(Exception):
    pass


def _unknown_section_keys(value: Any) -> bool:
    """Whether the top level, `organization` or `model` has a key the model does not know (a
    cheap check: these mappings have a handful of keys in a valid manifest)."""
    if value.__class__ is not dict:
        return False
    if not value.keys() <= _fields(Manifest):
        return True
    return any(
        value.get(section).__class__ is dict and not value[section].keys() <= _fields(model)
        for section, model in (("organization", Organization), ("model", TrainedModel))
    )


@functools.cache
def _fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(_keys_of(model))


@functools.cache
def _sources_adapter() -> TypeAdapter[list[Source]]:
    return TypeAdapter(list[Source])


_NESTED: dict[type[BaseModel], dict[str, type[BaseModel]]] = {}


def _nested_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The keys of ``model`` whose values are mappings validated by another model."""
    if model not in _NESTED:
        nested = {}
        for name, info in model.model_fields.items():
            annotation, _ = _unwrap(info.annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                nested[info.alias or name] = annotation
        _NESTED[model] = nested
    return _NESTED[model]


def _known_part(value: Any, model: type[BaseModel], skip: frozenset[str] = frozenset()) -> Any:
    """``value`` without the keys ``model`` (and the models of its mapping fields, except
    those in ``skip``) does not know."""
    if value.__class__ is not dict:
        return value
    known = _fields(model)
    nested = _nested_models(model)
    return {
        key: _known_part(item, nested[key]) if key in nested and key not in skip else item
        for key, item in value.items()
        if key in known
    }


def _unknown_keys(
    value: Any, model: type[BaseModel], loc: tuple[Any, ...], skip: frozenset[str] = frozenset()
) -> Iterator[dict[str, Any]]:
    """An ``extra_forbidden`` error for each key :func:`_known_part` leaves out."""
    if value.__class__ is not dict:
        return
    known = _fields(model)
    nested = _nested_models(model)
    for key, item in value.items():
        if key not in known:
            yield {
                "type": "extra_forbidden",
                "loc": (*loc, key),
                "msg": "Extra inputs are not permitted",
                "input": item,
            }
        elif key in nested and key not in skip:
            yield from _unknown_keys(item, nested[key], (*loc, key))


def _validation_errors(value: Any, first: ValidationError | None) -> Iterator[Any]:
    """pydantic's errors for ``value``, which failed validation (``first``, or None where the
    first validation was skipped), in no particular order."""
    if first is not None and first.error_count() <= _PIECE:
        errors = first.errors(include_url=False)
        yield from errors
        failed = next(
            (
                e["loc"][1]
                for e in errors
                if len(e["loc"]) >= 2 and e["loc"][0] == "sources" and isinstance(e["loc"][1], int)
            ),
            None,
        )
        if failed is not None:  # the first validation stopped at this source
            yield from _source_errors(value["sources"], failed + 1)
        return
    if value.__class__ is not dict:  # pragma: no cover - a non-mapping makes one error
        return
    skip = frozenset({"sources"})
    yield from _unknown_keys(value, Manifest, (), skip)
    top = _known_part(value, Manifest, skip)
    sources = top.get("sources")
    if sources.__class__ is list:
        top["sources"] = []
    try:
        Manifest.model_validate(top, context=_CONTEXT)
    except ValidationError as exc:
        yield from exc.errors(include_url=False)
    if sources.__class__ is list:
        yield from _source_errors(sources, 0)


def _weight(source: Any) -> int:
    """About the most errors validating ``source`` can make: its keys and list items."""
    if source.__class__ is not dict:
        return 1
    weight = len(source)
    for item in source.values():
        if item.__class__ is list or item.__class__ is dict:
            weight += len(item)
    return weight


def _source_errors(sources: list[Any], start: int) -> Iterator[Any]:
    """The errors of ``sources[start:]``, validated in chunks of bounded weight; a source
    heavier than a chunk is validated alone, less its unknown keys."""
    adapter = _sources_adapter()
    index = start
    while index < len(sources):
        budgets.checkpoint()
        end, weight = index, 0
        while end < len(sources) and weight < _CHUNK_WEIGHT:
            weight += _weight(sources[end])
            end += 1
        if end - index == 1 and weight >= _CHUNK_WEIGHT:
            yield from _heavy_source_errors(sources[index], index)
        else:
            try:
                adapter.validate_python(sources[index:end], context=_CONTEXT)
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    offset, *rest = error["loc"]
                    error["loc"] = ("sources", index + int(offset), *rest)
                    yield error
        index = end


def _heavy_source_errors(source: Any, index: int) -> Iterator[Any]:
    yield from _unknown_keys(source, Source, ("sources", index))
    try:
        Source.model_validate(_known_part(source, Source), context=_CONTEXT)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            error["loc"] = ("sources", index, *error["loc"])
            yield error


# --------------------------------------------------------------------------------------------
# Cross-field checks: source ids are unique and `derived_from` names declared sources.


# (code, message, pointer, help, related pointer); help is worked out when it is reported.
_Problem = tuple[str, str, str, Callable[[], str], str]


def _reference_problems(sources: list[tuple[Any, Any]]) -> Iterator[_Problem]:
    """Duplicate ids and unknown ``derived_from`` ids, in source order.

    Each problem is ``(code, message, pointer, help, related pointer)``; ``help()`` gives the
    help text, and the related pointer (or ``""``) names the place the help text refers to,
    such as the first use of an id.

    ``sources`` holds ``(id, derived_from)`` for each source, in order; values of the wrong
    type are skipped (the model reports them).
    """
    first: dict[str, int] = {}
    for index, (source_id, _) in enumerate(sources):
        if not isinstance(source_id, str) or not source_id:
            continue
        if source_id in first:
            earlier = first[source_id]
            yield (
                "manifest-duplicate-id",
                f"duplicate source id `{shorten(source_id)}`",
                f"/sources/{index}/id",
                functools.partial(_duplicate_help, earlier),
                f"/sources/{earlier}/id",
            )
        else:
            first[source_id] = index
    for index, (_, derived_from) in enumerate(sources):
        if not isinstance(derived_from, list):
            continue
        for position, reference in enumerate(derived_from):
            if not isinstance(reference, str) or reference in first:
                continue
            yield (
                "manifest-unknown-source",
                f"`derived_from` names `{shorten(reference)}`, which is not a source id here",
                f"/sources/{index}/derived_from/{position}",
                functools.partial(_unknown_source_help, reference, first),
                "",
            )


def _duplicate_help(earlier: int) -> str:
    return f"`sources[{earlier}]` already has this id; give each source its own"


def _unknown_source_help(reference: str, ids: dict[str, int]) -> str:
    help = ""
    if len(ids) <= 1000 and len(reference) <= 100:  # difflib over very many ids is slow
        close = difflib.get_close_matches(reference, list(ids), n=1, cutoff=0.6)
        help = f"did you mean `{close[0]}`?" if close else ""
    return help or "list the ids of sources declared under `sources`"


def _raw_reference_problems(value: Any) -> Iterator[_Problem]:
    if not isinstance(value, dict) or not isinstance(value.get("sources"), list):
        return iter(())
    return _reference_problems(
        [
            (s.get("id"), s.get("derived_from")) if isinstance(s, dict) else (None, None)
            for s in value["sources"]
        ]
    )


# --------------------------------------------------------------------------------------------
# Pydantic errors -> diagnostics.


_TYPE_NAMES = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "a string",
    "bool_type": "`true` or `false`",
    "bool_parsing": "`true` or `false`",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}
_MISSING_HELP = {
    "tosguard": "start the manifest with `tosguard: 1`",
    "sources": "list the data sources under `sources:` (write `sources: []` if there are none)",
    "id": "give each source an `id` that is unique in the manifest",
}


def _show(value: Any) -> str:
    """A short rendering of a user value for a message."""
    if value is None:
        return "nothing (`null`)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "…"
    return f"`{text}`"


def _where(loc: tuple[Any, ...]) -> str:
    """``sources[2].access`` for ``("sources", 2, "access")``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc``, if any."""
    model: type[BaseModel] = Manifest
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if info is None:
            return None
        annotation, _ = _unwrap(info.annotation)
        if get_origin(annotation) is list:
            annotation, _ = _unwrap(get_args(annotation)[0])
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _allowed_values(loc: tuple[Any, ...]) -> tuple[str, ...]:
    fields = [p for p in loc if isinstance(p, str)]
    if not fields:
        return ()
    model = _model_at(tuple(p for p in loc if isinstance(p, str))[:-1])
    if model is None:
        return ()
    info = model.model_fields.get(fields[-1])
    if info is None:
        return ()
    annotation, metadata = _unwrap(info.annotation)
    return _type_tag(annotation, metadata)[1]


class _ErrorContext:
    """Turns problems into diagnostics with spans and source lines."""

    def __init__(self, name: str, text: str, positions: PositionMap):
        self.name, self.text, self.positions = name, text, positions

    @functools.cached_property
    def _lines(self) -> LineTable:
        return line_table(self.text)

    def error(self, value: Any, first: ValidationError | None) -> ManifestError:
        """The :class:`ManifestError` for ``value``: its reference problems and validation
        errors (``first``: the first validation's, if it ran), of which only the first
        :data:`~tosguard.errors.MAX_REPORTED` by position become diagnostics."""
        entries: Iterator[tuple[int, int, bool, Any]] = (
            (*self._where(problem), False, problem) for problem in _raw_reference_problems(value)
        )
        entries = itertools.chain(
            entries,
            ((*self._where(error), True, error) for error in _validation_errors(value, first)),
        )
        counted = itertools.count()

        def numbered() -> Iterator[tuple[int, int, int, bool, Any]]:
            # (line, column, sequence, is it a validation error, the problem or error)
            for line, column, kind, item in entries:
                sequence = next(counted)
                if not sequence % _CHECKPOINT_EVERY:
                    budgets.checkpoint()
                yield line, column, sequence, kind, item

        chosen = heapq.nsmallest(MAX_REPORTED + 1, numbered())
        total = next(counted)
        shown = chosen[:MAX_REPORTED]
        diagnostics = [
            self.from_pydantic(item) if kind else self.reference(*item)
            for _, _, _, kind, item in shown
        ]
        first_omitted = None
        if total > len(shown):
            line, column = chosen[MAX_REPORTED][:2]
            first_omitted = Span(self.name, line, column)
        return ManifestError(diagnostics, omitted=total - len(shown), first_omitted=first_omitted)

    def _where(self, item: Any) -> tuple[int, int]:
        """The position a problem or a pydantic error is reported at (as in its diagnostic)."""
        if isinstance(item, tuple):
            return self.positions.nearest(item[2]) or (0, 0)
        loc = tuple(item.get("loc", ()))
        kind = item.get("type")
        if kind == "missing":
            loc = loc[:-1]
        return self.positions.nearest_path(loc, key=kind == "extra_forbidden") or (0, 0)

    def diagnostic(
        self, code: str, message: str, pointer: str, help: str = "", at: str | None = None
    ) -> Diagnostic:
        position = self.positions.nearest(at if at is not None else pointer)
        line, column = position or (0, 0)
        return Diagnostic(
            code=code,
            message=message,
            span=Span(self.name, line, column),
            help=help,
            pointer=pointer,
            **(self._lines.window(line, column) if line else {}),
        )

    def reference(
        self, code: str, message: str, pointer: str, help: Callable[[], str], related: str
    ) -> Diagnostic:
        text = help()
        position = self.positions.get(related) if related else None
        if position:
            text = f"{text} (line {position[0]})"
        return self.diagnostic(code, message, pointer, text)

    def from_pydantic(self, error: Any) -> Diagnostic:
        loc: tuple[Any, ...] = tuple(error.get("loc", ()))
        kind: str = error.get("type", "")
        value = error.get("input")
        ctx = error.get("ctx") or {}
        pointer = _pointer_of(loc)
        field = shorten(next((p for p in reversed(loc) if isinstance(p, str)), ""))
        where = _where(loc[:-1])
        inside = f" in `{where}`" if where else " at the top level"

        if kind.startswith("manifest-"):
            help = str(ctx.get("help", ""))
            if "suggest" in ctx and isinstance(value, str):
                help = _SUGGEST[ctx["suggest"]](value)
            return self.diagnostic(kind, str(error.get("msg", "")), pointer, help)
        if kind == "missing":
            return self.diagnostic(
                "manifest-missing-key",
                f"missing required key `{field}`{inside}",
                pointer,
                _MISSING_HELP.get(field, f"add `{field}: …`"),
                at=pointer[: pointer.rfind("/")],
            )
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            keys = _keys_of(model) if model else []
            help = did_you_mean(str(loc[-1]), keys) if keys else ""
            if not help and keys:
                help = "the keys here are " + ", ".join(f"`{k}`" for k in keys)
            if not loc[:-1]:
                help += ("; " if help else "") + "put custom data under `facts`"
            return self.diagnostic(
                "manifest-unknown-key",
                f"unknown key `{field}`{inside}",
                pointer,
                help,
                at=pointer + "#key",
            )
        if kind == "literal_error":
            allowed = _allowed_values(loc)
            shown = _show(value)
            if isinstance(value, (list, dict)):
                message = f"expected one of the `{field}` values, found {shown}"
            else:
                message = f"{shown} is not a valid `{field}`"
            help = ""
            if isinstance(value, list) and len(value) == 1 and value[0] in allowed:
                help = f"write a single value, not a list: `{value[0]}`"
            elif allowed and not isinstance(value, (list, dict)):
                help = did_you_mean(str(value), allowed)
            if not help and allowed:
                help = "expected one of " + ", ".join(f"`{a}`" for a in allowed)
            return self.diagnostic("manifest-invalid-value", message, pointer, help)
        if kind in _TYPE_NAMES:
            return self._type_error(kind, field, loc, value, pointer)
        if kind == "greater_than_equal":
            return self.diagnostic(
                "manifest-invalid-value",
                f"`{field}` must be {ctx.get('ge')} or more, found {_show(value)}",
                pointer,
            )
        if kind == "too_long":
            limit = ctx.get("max_length", 0)
            help = f"list at most {limit:,} values"
            if field == "use":
                help = "list each use once: " + ", ".join(f"`{u}`" for u in USES)
            return self.diagnostic(
                "manifest-invalid-value",
                f"`{field}` lists {ctx.get('actual_length', 0):,} values, more than the "
                f"{limit:,} allowed",
                pointer,
                help,
            )
        if kind == "string_too_short":
            return self.diagnostic(
                "manifest-invalid-value",
                f"`{field}` must not be empty",
                pointer,
                "write a non-empty value",
            )
        message = str(error.get("msg", "invalid value"))
        message = message[:1].lower() + message[1:]
        return self.diagnostic(
            "manifest-invalid-value",
            f"invalid value for `{field or 'the manifest'}`: {message}",
            pointer,
        )

    def _type_error(
        self, kind: str, field: str, loc: tuple[Any, ...], value: Any, pointer: str
    ) -> Diagnostic:
        expected = _TYPE_NAMES[kind]
        shown = _show(value)
        label = f"`{field}`" if loc and isinstance(loc[-1], str) else f"`{_where(loc)}`"
        if not loc:
            return self.diagnostic(
                "manifest-type",
                f"expected the manifest to be a mapping, found {shown}",
                pointer,
                "a manifest is a mapping that starts with `tosguard: 1`",
            )
        help = ""
        scalar = isinstance(value, (int, float)) and not isinstance(value, bool)
        if expected == "a string" and (scalar or isinstance(value, bool)):
            help = f'put the value in quotes: `"{self._raw(pointer, value)}"`'
        elif expected == "`true` or `false`" and isinstance(value, str):
            if value.lower() in _YAML11_BOOLEANS:
                help = f"`{value}` is a string in a manifest (YAML 1.2); write `true` or `false`"
            else:
                help = "write `true` or `false`"
        elif expected == "a list" and isinstance(value, (str, int, float)):
            help = f"write a list, even of one item: `[{shorten(str(value))}]`"
        elif expected == "a whole number" and isinstance(value, str) and value.isdigit():
            help = "remove the quotes"
        return self.diagnostic(
            "manifest-type", f"expected {expected} for {label}, found {shown}", pointer, help
        )

    def _raw(self, pointer: str, value: Any) -> str:
        """The value as written in the source, when it can be found there (for quoting help)."""
        position = self.positions.get(pointer)
        bounds = self._lines.bounds(position[0]) if position else None
        if position and bounds:
            start = bounds[0] + position[1] - 1
            match = _RAW_VALUE.match(self.text, start, min(bounds[1], start + 100))
            if match:
                return shorten(match.group())
        return "true" if value is True else "false" if value is False else shorten(str(value))


_RAW_VALUE = re.compile(r"[^\s,\]}#]+")


def _pointer_of(loc: Any) -> str:
    return "".join("/" + escape_pointer(str(part)) for part in loc)
