"""Validation problems to diagnostics: each pydantic error (or reference problem) becomes a
:class:`~tosguard.errors.Diagnostic` with its code, span, source line and help."""

from __future__ import annotations

import functools
import heapq
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any, get_args, get_origin

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
    did_you_mean,
    line_table,
    max_reported,
    shorten,
)
from .fields import SUGGEST, USES, keys_of, show, type_tag, unwrap
from .pointers import PositionMap, escape_pointer
from .references import raw_reference_problems
from .structure import Manifest
from .validation import CHECKPOINT_EVERY, validation_errors

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
        annotation, _ = unwrap(info.annotation)
        if get_origin(annotation) is list:
            annotation, _ = unwrap(get_args(annotation)[0])
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


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
    annotation, metadata = unwrap(info.annotation)
    return type_tag(annotation, metadata)[1]


class ErrorContext:
    """Turns problems into diagnostics with spans and source lines."""

    def __init__(self, name: str, text: str, positions: PositionMap):
        self.name, self.text, self.positions = name, text, positions

    @functools.cached_property
    def _lines(self) -> LineTable:
        return line_table(self.text)

    def error(self, value: Any, first: ValidationError | None) -> ManifestError:
        """The :class:`ManifestError` for ``value``: its reference problems and validation
        errors (``first``: the first validation's, if it ran), of which only the first
        :func:`~tosguard.errors.max_reported` by position become diagnostics."""
        entries: Iterator[tuple[int, int, bool, Any]] = (
            (*self._where(problem), False, problem) for problem in raw_reference_problems(value)
        )
        entries = itertools.chain(
            entries,
            ((*self._where(error), True, error) for error in validation_errors(value, first)),
        )
        counted = itertools.count()

        def numbered() -> Iterator[tuple[int, int, int, bool, Any]]:
            # (line, column, sequence, is it a validation error, the problem or error)
            for line, column, kind, item in entries:
                sequence = next(counted)
                if not sequence % CHECKPOINT_EVERY:
                    budgets.checkpoint()
                yield line, column, sequence, kind, item

        limit = max_reported()
        chosen = heapq.nsmallest(limit + 1, numbered())
        total = next(counted)
        shown = chosen[:limit]
        diagnostics = [
            self.from_pydantic(item) if kind else self.reference(*item)
            for _, _, _, kind, item in shown
        ]
        first_omitted = None
        if total > len(shown):
            line, column = chosen[limit][:2]
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
                help = SUGGEST[ctx["suggest"]](value)
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
            keys = keys_of(model) if model else []
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
            shown = show(value)
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
                f"`{field}` must be {ctx.get('ge')} or more, found {show(value)}",
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
        shown = show(value)
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
