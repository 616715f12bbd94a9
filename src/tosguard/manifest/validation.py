"""Every validation error of an invalid manifest, with bounded memory (see the comment below)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from pydantic import (
    BaseModel,
    TypeAdapter,
    ValidationError,
)

from ..engine import budget as budgets
from .fields import keys_of, unwrap
from .structure import Manifest, Organization, Source, TrainedModel

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
# then makes more than about PIECE errors, and of all the errors only the first
# MAX_REPORTED (by position) are kept and turned into diagnostics; the others are counted.

VALIDATION_CONTEXT = {"references_checked": True}
CHECKPOINT_EVERY = 4096  # errors between two checks of the request's time limit
PIECE = 20_000  # the most errors one validation call may make
_CHUNK_WEIGHT = 2048  # values in one chunk of sources validated together


class SkipValidation(Exception):
    pass


def unknown_section_keys(value: Any) -> bool:
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
    return frozenset(keys_of(model))


@functools.cache
def _sources_adapter() -> TypeAdapter[list[Source]]:
    return TypeAdapter(list[Source])


_NESTED: dict[type[BaseModel], dict[str, type[BaseModel]]] = {}


def _nested_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The keys of ``model`` whose values are mappings validated by another model."""
    if model not in _NESTED:
        nested = {}
        for name, info in model.model_fields.items():
            annotation, _ = unwrap(info.annotation)
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


def validation_errors(value: Any, first: ValidationError | None) -> Iterator[Any]:
    """pydantic's errors for ``value``, which failed validation (``first``, or None where the
    first validation was skipped), in no particular order."""
    if first is not None and first.error_count() <= PIECE:
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
        Manifest.model_validate(top, context=VALIDATION_CONTEXT)
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
                adapter.validate_python(sources[index:end], context=VALIDATION_CONTEXT)
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    offset, *rest = error["loc"]
                    error["loc"] = ("sources", index + int(offset), *rest)
                    yield error
        index = end


def _heavy_source_errors(source: Any, index: int) -> Iterator[Any]:
    yield from _unknown_keys(source, Source, ("sources", index))
    try:
        Source.model_validate(_known_part(source, Source), context=VALIDATION_CONTEXT)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            error["loc"] = ("sources", index, *error["loc"])
            yield error
