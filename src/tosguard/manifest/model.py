"""The usage manifest, format version 1: how it is loaded, and the paths and schema its model
gives.

Every field but ``tosguard``, ``sources`` and a source's ``id`` is optional, and a field that is
not declared is ``None``: the evaluator reads ``None`` as *unknown* (three-valued logic), which
is not the same as a declared empty list.

:func:`parse_manifest` and :func:`load_manifest` read YAML or JSON through the strict loader
in :mod:`tosguard.manifest.yamlload` and turn every problem, including every pydantic
validation error (:mod:`.validation`, :mod:`.references`, :mod:`.messages`), into a
:class:`~tosguard.errors.Diagnostic` with a code, a line and column, the source line and a help
text, raised together in one :class:`~tosguard.errors.ManifestError`.

The field types and vocabularies are in :mod:`.fields`, the pydantic classes in
:mod:`.structure`; this module re-exports them.

>>> loaded = parse_manifest("tosguard: 1\\nsources:\\n  - id: a\\n    provider: openai\\n",
...                         "m.yaml")
>>> loaded.manifest.sources[0].provider, loaded.span("/sources/0/provider").line
('openai', 4)
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pydantic import (
    BaseModel,
    ValidationError,
)

from ..engine import budget as budgets
from ..errors import (
    Diagnostic,
    LineTable,
    ManifestError,
    Span,
)
from .fields import (
    DISTRIBUTIONS,
    FORMAT_VERSION,
    PROVIDERS,
    PURPOSES,
    ROUTES,
    SERVICES,
    SOURCE_KINDS,
    TRACES,
    USES,
    Country,
    PathType,
    type_tag,
    unwrap,
)
from .messages import ErrorContext
from .references import raw_reference_problems
from .structure import Access, Interval, Manifest, Organization, Source, TrainedModel
from .validation import VALIDATION_CONTEXT, SkipValidation, unknown_section_keys
from .yamlload import (
    DEFAULT_MAX_BYTES,
    PositionMap,
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
    "Country",
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
    "read_limited",
]


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


@functools.cache
def _paths() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    tags: dict[str, str] = {}
    values: dict[str, tuple[str, ...]] = {}
    pending: list[tuple[str, type[BaseModel]]] = list(_SCOPES.items())
    while pending:
        prefix, model = pending.pop(0)
        for name, info in model.model_fields.items():
            path = f"{prefix}.{info.alias or name}"
            annotation, metadata = unwrap(info.annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                tags[path] = "object"
                pending.append((path, annotation))
                continue
            if any(isinstance(m, PathType) and m.tag == "not-a-policy-path" for m in metadata):
                continue
            tags[path], allowed = type_tag(annotation, metadata)
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
            index = pointer[9:]  # of `/sources/N`, the usual subject of a finding
            if (
                pointer.startswith("/sources/")
                and index.isascii()
                and index.isdigit()
                and (index == "0" or index[0] != "0")
            ):
                position = self.positions.member("sources", int(index))
                if position is not None:  # else its nearest ancestor's
                    return position
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
    data: bytes | str,
    name: str = "<manifest>",
    fmt: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedManifest:
    """Read and validate a manifest; raise :class:`ManifestError` with every problem found.

    ``fmt`` is ``"yaml"`` or ``"json"``; by default it follows the name's extension
    (``.json`` is JSON, anything else YAML). A document over ``max_bytes`` is refused
    (``manifest-too-large``).
    """
    return _parse_guarded([data], name, fmt, max_bytes)


def _parse_guarded(
    held: list[bytes | str], name: str, fmt: str | None, max_bytes: int
) -> LoadedManifest:
    """:func:`parse_manifest` of the one document in ``held``, which is emptied as soon as
    the document is read (a caller that passes its only reference frees the bytes before
    the validation, when the memory peaks)."""
    try:
        return _parse(held, name, fmt, max_bytes)
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


#: The help of ``manifest-too-large`` for a file (the CLI's option raises the limit).
TOO_LARGE_HELP = (
    "split the manifest, or raise the limit with `--max-manifest-bytes` if this size is expected"
)
_DRAIN = 1 << 20  # bytes read at a time to count the size of a stream over the limit


def load_manifest(
    path: str | os.PathLike[str], fmt: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> LoadedManifest:
    """Read and validate the manifest file at ``path``; a file over ``max_bytes`` is refused
    with its real size, before it is read when its size is known."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            data = read_limited(stream, name, max_bytes)
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
    held: list[bytes | str] = [data]
    del data
    return _parse_guarded(held, name, fmt, max_bytes)


def read_limited(stream: BinaryIO, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``stream`` (a file, a pipe, standard input), refused with their real size
    when over ``max_bytes``: before they are read when the size is known, else counted to the
    end."""
    status = os.fstat(stream.fileno())
    size = status.st_size if stat.S_ISREG(status.st_mode) else None
    if size is not None and size > max_bytes:
        raise _too_large(name, size, max_bytes)
    # as much as the file holds (a size hint of the limit would allocate all of it)
    data = stream.read((max_bytes if size is None else size) + 1)
    if size is not None and len(data) > size:  # it grew since: read on to the limit
        data += stream.read(max_bytes + 1 - len(data))
    if len(data) > max_bytes:  # a pipe or a device, or a file that grew: count it all
        size = len(data)
        del data
        while chunk := stream.read(_DRAIN):
            size += len(chunk)
        raise _too_large(name, size, max_bytes)
    return data


def _too_large(name: str, size: int, max_bytes: int) -> ManifestError:
    return ManifestError(
        Diagnostic(
            code="manifest-too-large",
            message=f"the document is {size:,} bytes, more than the limit of {max_bytes:,}",
            span=Span(name),
            help=TOO_LARGE_HELP,
        )
    )


def _parse(held: list[bytes | str], name: str, fmt: str | None, max_bytes: int) -> LoadedManifest:
    with gc_paused(len(held[0])):
        return _parse_document(held, name, fmt, max_bytes)


def _parse_document(
    held: list[bytes | str], name: str, fmt: str | None, max_bytes: int
) -> LoadedManifest:
    value, positions, text = load_document_text(held.pop(), name, fmt, max_bytes=max_bytes)
    try:
        if unknown_section_keys(value):
            raise SkipValidation
        manifest = Manifest.model_validate(value, context=VALIDATION_CONTEXT)
    except (ValidationError, SkipValidation) as exc:
        first = exc if isinstance(exc, ValidationError) else None
        raise ErrorContext(name, text, positions).error(value, first) from None
    if next(raw_reference_problems(value), None) is not None:
        raise ErrorContext(name, text, positions).error(value, None)
    del value
    _share_fields_sets(manifest.sources)
    return LoadedManifest(name=name, manifest=manifest, positions=positions, text=text)


def _share_fields_sets(sources: list[Source]) -> None:
    """Let the models of the sources share their sets of fields set (pydantic makes one per
    model: 700 bytes for a source of ten fields). The models are frozen, so the sets are only
    read; sources declare the same few combinations of fields."""
    shared: dict[frozenset[str], set[str]] = {}
    for source in sources:
        for model in (source, source.access, source.collected):
            if model is None:
                continue
            fields = model.__pydantic_fields_set__
            key = frozenset(fields)
            one = shared.setdefault(key, fields)
            if one is not fields:
                object.__setattr__(model, "__pydantic_fields_set__", one)
