"""The manifest's field types and vocabularies: the ``Literal`` vocabularies (the source of
truth; the tuples are what the policy checker imports), the field types with their own checks
(``Country``, ``Id``, ``IsoDate``, ``Count``, ``Flag``), the limits on lists, and how a field's
annotation reads as a type tag (``country``, ``list[country]`` …)."""

from __future__ import annotations

import re
import types
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ..errors import (
    did_you_mean,
    shorten,
)
from .countries import is_country, suggest_country

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


class PathType:
    """Marks a field's type tag for :func:`known_paths` (e.g. ``country``)."""

    __slots__ = ("tag",)

    def __init__(self, tag: str):
        self.tag = tag

    def __repr__(self) -> str:
        return f"PathType({self.tag!r})"


# The help of these errors is worked out only for the errors reported (see SUGGEST): a
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


SUGGEST: dict[str, Callable[[str], str]] = {"country": suggest_country, "id": _id_help}


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
        {"value": show(value), "help": "write the date as `2025-01-31`"},
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
    PathType("country"),
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
            {"value": show(value), "help": "write `data: train.jsonl` or `data: [a.jsonl, b/]`"},
        )
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise PydanticCustomError(
                "manifest-type",
                "expected a path or a glob, found {value}",
                {"value": show(item), "help": "write each path as text, e.g. `data/*.jsonl`"},
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
    PathType("not-a-policy-path"),
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


def limited(field: str) -> Any:
    return Field(max_length=LIST_LIMITS[field])


def check_version(value: Any) -> Any:
    if type(value) is int and value == FORMAT_VERSION:
        return value
    raise PydanticCustomError(
        "manifest-version",
        "unsupported manifest format {value}",
        {
            "value": show(value),
            "help": f"this tosguard reads manifest format {FORMAT_VERSION}; write `tosguard: 1`",
        },
    )


def unwrap(annotation: Any) -> tuple[Any, list[Any]]:
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


def type_tag(annotation: Any, metadata: list[Any]) -> tuple[str, tuple[str, ...]]:
    for item in metadata:
        if isinstance(item, PathType):
            return item.tag, ()
    origin = get_origin(annotation)
    if origin is Literal:
        return "str", tuple(str(a) for a in get_args(annotation))
    if origin is list:
        inner, inner_metadata = unwrap(get_args(annotation)[0])
        inner_tag, values = type_tag(inner, inner_metadata)
        # A list of tagged values keeps the tag (`list[country]`); of text, it is a `list`.
        return ("list" if inner_tag == "str" else f"list[{inner_tag}]"), values
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is date:
        return "date", ()
    return "str", ()


def keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def show(value: Any) -> str:
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
