"""A strict YAML/JSON loader that remembers where every value came from.

:func:`load_document` returns plain Python values (dict, list, str, int, float, bool, None) and
a map from JSON pointer (RFC 6901) to the 1-based ``(line, column)`` where the value starts.
For the value of a mapping key, ``pointer + "#key"`` also maps to the position of the key.
The map is a :class:`PositionMap`: a read-only :class:`~collections.abc.Mapping` that keeps the
positions in a tree shaped like the document and walks it on lookup, because building a flat
dict of millions of pointer strings took longer than parsing a large manifest.

YAML is read from PyYAML's *event* stream (libyaml's C parser when available) and the values
are built here with an explicit stack, so that:

* deep nesting cannot overflow the Python stack: past ``max_depth`` the load stops with
  ``manifest-too-deep`` at the first node that is too deep;
* anchors and aliases are refused at the first anchor, before anything is expanded, so an
  alias bomb ("billion laughs") costs nothing;
* only plain (unquoted) scalars are resolved (:func:`.plain.resolve_plain`, the one resolution
  both readers use), and only to what YAML 1.2 (core schema) and YAML 1.1 agree on, so that
  no reader or writer of either version sees a different value: ``true``/``false`` (also
  ``True``, ``TRUE`` …) are booleans; ``null``/``~``/empty are None;
  ``[-+]?(0|[1-9][0-9]*)`` is an int; ``1.5``, ``2.``, ``.5``, ``1.5e+3``, ``.inf`` and ``.nan``
  are floats; everything else is a string. So YAML 1.1's ``yes``, ``no``, ``on``, ``off``,
  ``0o17``, ``1_000`` and dates are strings (``NO`` is Norway), and so are the forms the two
  versions read differently: ``010`` (octal 8 in 1.1, ten in 1.2), ``1e5`` and ``1.5e5`` (a
  string in 1.1; write ``1.5e+5``). Documents written by PyYAML's ``safe_dump`` read back equal;
* keys are always strings (``NO:`` is the key ``"NO"``, ``1:`` the key ``"1"``); a key that is a
  sequence or a mapping is an error, and so is a key that appears twice in one mapping;
* every explicit tag (``!!str``, ``!foo`` …) is refused with ``manifest-tag``: quoting a value
  is the way to make it a string, and refusing tags keeps the accepted language small;
* a stream must hold exactly one document, and it must not be empty.

A YAML text in the plain block form nearly every manifest takes (``key: value`` lines indented
with spaces, quoted strings without escapes, one-line flow lists and mappings of scalars: the
subset :mod:`.blockyaml` describes) is read first by that module's reader, one regex match per
distinct line instead of a Python event object per node; it builds exactly what the event
reader builds (values, key order, positions, what is deferred) and declines (``None``) any text
outside the subset, which the event reader then reads, so every rule above, and every error,
is the event reader's.

JSON (``fmt="json"``, or a name ending in ``.json``) is first validated with :func:`json.loads`
(strict JSON: duplicate keys and ``NaN``/``Infinity`` are refused); those values are the result.
Positions come from running the YAML event reader over the same text. Where YAML reads the text
differently from JSON (a key over 1024 characters, a control character in a string, a surrogate
pair escape, or any difference in the values built), positions come instead from a small JSON
scanner (:mod:`.jsonload`), so a JSON document always gets a position for every value.

Every problem becomes a :class:`~tosguard.errors.ManifestError`; no PyYAML exception escapes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import yaml

from .. import util
from ..errors import Diagnostic, ManifestError, Span, shorten, source_window
from .blockyaml import read_block_yaml
from .decode import check_printable, decode
from .failures import (
    YAML_SURROGATE_HELP,
    Failure,
    escape_failure,
    escape_range_failure,
    long_key_failure,
    may_hold_surrogates,
    reader_failure,
    refuse_surrogates,
    syntax_failure,
    too_deep,
)
from .jsonload import load_json
from .jsonload import scan_json as _scan_json  # noqa: F401  (the tests reach it here)
from .plain import resolve_plain, resolve_plain_json
from .pointers import (
    DEFERRED,
    PACKED_COLUMNS,
    Entry,
    PositionMap,
    escape_pointer,
    pack,
    unescape_pointer,
    unpack,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "PositionMap",
    "gc_paused",
    "escape_pointer",
    "load_document",
    "load_document_text",
    "unescape_pointer",
]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
#: Positions are kept to this depth when a document is read (``/sources/0/access``); deeper
#: ones are read again when a lookup needs them (errors, ``explain``).
DEFER_DEPTH = 3

_GC_PAUSE_BYTES = 1 << 20  # pause the cyclic GC while building documents larger than this
_CParser: Any = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
_PARSER: Any = _CParser or yaml.SafeLoader

_MISSING = object()


def load_document(
    data: bytes | str,
    name: str,
    fmt: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[Any, PositionMap]:
    """Read one YAML or JSON document; return its value and the positions of its values.

    ``fmt`` is ``"yaml"`` or ``"json"``; by default a name ending in ``.json`` is JSON and
    anything else YAML. Raises :class:`ManifestError` for every problem (codes
    ``manifest-too-large``, ``manifest-encoding``, ``manifest-syntax``, ``manifest-alias``,
    ``manifest-tag``, ``manifest-duplicate-key``, ``manifest-invalid-key``,
    ``manifest-too-deep``, ``manifest-multiple-documents``, ``manifest-empty``,
    ``manifest-format``).

    >>> value, positions = load_document(b"country: NO\\nusers: [1, 2]\\n", "m.yaml")
    >>> value
    {'country': 'NO', 'users': [1, 2]}
    >>> positions["/users/1"], positions["/users#key"]
    ((2, 12), (2, 1))
    """
    value, positions, _ = load_document_text(
        data, name, fmt, max_bytes=max_bytes, max_depth=max_depth
    )
    return value, positions


def load_document_text(
    data: bytes | str,
    name: str,
    fmt: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> tuple[Any, PositionMap, str]:
    """Like :func:`load_document`, and also return the decoded text (BOM removed)."""
    text = ""
    try:
        kind = _format_of(name, fmt)
        text = decode(data, max_bytes)
        with gc_paused(len(text)):
            if kind == "json":
                value, positions = load_json(text, max_depth, _load_yaml)
            else:
                check_printable(text)
                value, positions = _load_yaml(text, max_depth, defer=True)
        return value, positions, text
    except Failure as failure:
        raise ManifestError(_diagnostic(failure, name, text)) from None
    except (RecursionError, MemoryError) as exc:  # pragma: no cover - defensive
        deep = isinstance(exc, RecursionError)
        raise ManifestError(
            Diagnostic(
                code="manifest-too-deep" if deep else "manifest-too-large",
                message=f"the document is too {'deeply nested' if deep else 'large'} to read",
                span=Span(name),
                help="split the document or simplify its structure",
            )
        ) from None


def gc_paused(size: int) -> contextlib.AbstractContextManager[None]:
    """Pause the cyclic GC while building a document larger than 1 MiB: building millions of
    containers triggers many collections that find nothing (the values hold no cycles)."""
    return util.gc_paused(size >= _GC_PAUSE_BYTES)


def _diagnostic(failure: Failure, name: str, text: str) -> Diagnostic:
    return Diagnostic(
        code=failure.code,
        message=failure.message,
        span=Span(name, failure.line, failure.column),
        help=failure.help,
        pointer=failure.pointer,
        **(source_window(text, failure.line, failure.column) if failure.line else {}),
    )


def _format_of(name: str, fmt: str | None) -> str:
    if fmt is None:
        return "json" if name.lower().endswith(".json") else "yaml"
    kind = fmt.lower()
    if kind in ("yaml", "yml"):
        return "yaml"
    if kind == "json":
        return "json"
    raise Failure(
        "manifest-format", f"unknown document format `{fmt}`", 0, 0, help="use `yaml` or `json`"
    )


def _load_yaml(
    text: str, max_depth: int, json_numbers: bool = False, defer: bool = False
) -> tuple[Any, PositionMap]:
    """The value and positions of a YAML text. With ``defer``, the positions below
    :data:`DEFER_DEPTH` levels are read only if a lookup needs them (see :func:`_build`).

    A YAML text in the plain block subset of :mod:`.blockyaml` is read by that reader, which
    builds exactly what the event reader would; anything else goes to the event reader."""
    if not json_numbers:
        read = read_block_yaml(
            text,
            max_depth,
            DEFER_DEPTH if defer else 0,
            lambda: _load_yaml(text, max_depth, json_numbers)[1],
        )
        if read is not None:
            return read
    parser = None
    try:
        parser = _PARSER(text)  # the pure-Python reader checks characters here
        value, positions = _build(
            parser.get_event,
            max_depth,
            json_numbers,
            DEFER_DEPTH if defer else 0,
            lambda: _load_yaml(text, max_depth, json_numbers)[1],
        )
    except yaml.MarkedYAMLError as err:
        if _is_nesting_limit(err):
            raise _nesting_failure(text, err, max_depth, json_numbers) from None
        raise (
            long_key_failure(text, err) or escape_failure(text, err) or syntax_failure(err)
        ) from None
    except yaml.YAMLError as err:
        raise reader_failure(err, text) from None
    except ValueError as err:
        # PyYAML's pure-Python scanner calls chr() on a `\U` escape beyond U+10FFFF.
        failure = escape_range_failure(text, parser.get_mark().index) if parser else None
        raise failure or Failure(
            "manifest-syntax", f"the document cannot be read: {err}", 0, 0
        ) from None
    except (RecursionError, MemoryError) as err:
        raise Failure("manifest-syntax", f"the document cannot be read: {err}", 0, 0) from None
    finally:
        if parser is not None:
            parser.dispose()
    if not json_numbers and may_hold_surrogates(text):
        # libyaml refuses a surrogate escape in a double-quoted scalar; the pure-Python parser
        # reads it as a lone surrogate, found here so that both parsers fail alike.
        refuse_surrogates(value, positions, YAML_SURROGATE_HELP)
    return value, positions


_LIBYAML_NESTING = "exceeded maximum nesting depth"


def _is_nesting_limit(err: yaml.MarkedYAMLError) -> bool:
    return (err.problem or "").startswith(_LIBYAML_NESTING) and err.problem_mark is not None


def _nesting_failure(
    text: str, err: yaml.MarkedYAMLError, max_depth: int, json_numbers: bool
) -> Failure:
    """tosguard's own depth error where libyaml stopped at its nesting limit first.

    libyaml refuses flow nesting deeper than 1000, and because every ``[`` may start an implicit
    key its scanner reads a dense run of openers ahead of the events, so it can raise before
    :func:`_build` has seen the level that passes ``max_depth``. Reading again only the text
    before the place libyaml stopped gives the same events up to that point (an implicit key
    is decided within 1024 characters, and none that encloses a level libyaml counted there
    could be that short), so :func:`_build` then fails exactly where, and as, it does with
    the pure-Python parser, which has no such limit.
    """
    mark = err.problem_mark
    parser = _PARSER(text[: mark.index])
    try:
        _build(parser.get_event, max_depth, json_numbers)
    except Failure as failure:
        return failure
    except yaml.YAMLError:
        pass
    finally:
        parser.dispose()
    return too_deep(max_depth, mark.line + 1, mark.column + 1)


def _build(
    get_event: Callable[[], Any],
    max_depth: int,
    json_numbers: bool = False,
    defer_at: int = 0,
    complete: Callable[[], PositionMap] | None = None,
) -> tuple[Any, PositionMap]:
    """Build values and positions from the event stream, without recursion.

    This loop runs once per YAML node, millions of times for a large manifest, so it keeps its
    state in local variables and does no more per event than it must.

    With ``defer_at`` (a depth, e.g. 3: ``/sources/0/access``), a collection that deep keeps
    its own position, but not those of its members: they are marked deferred, and the first
    lookup that needs one reads the whole document again with ``complete``. A report points at
    sources and their fields; deeper positions serve only errors and ``explain``, and keeping
    them all cost a kilobyte per source.
    """
    scalar_event, mapping_start, sequence_start = (
        yaml.ScalarEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    intern = sys.intern
    packed_columns = PACKED_COLUMNS
    missing = _MISSING
    resolve = resolve_plain_json if json_numbers else resolve_plain

    get_event()  # StreamStart
    event = get_event()
    if event.__class__ is yaml.StreamEndEvent:
        raise Failure(
            "manifest-empty",
            "the document is empty",
            1,
            1,
            help="a manifest starts with `tosguard: 1`",
        )
    root: Any = missing
    root_entry: Entry | None = None
    # Enclosing collections: (container, its entries, is it a mapping, its token in its parent).
    stack: list[tuple[Any, Any, bool, Any]] = []
    # The innermost open collection, and for a mapping the key awaiting its value.
    current: Any = None
    entries: Any = None
    in_mapping = False
    token: Any = None
    key: Any = missing
    key_line = key_column = 0
    children: Any = None
    mark: Any = None
    deferred = False  # whether some positions were left to `complete`

    while True:
        event = get_event()
        cls = event.__class__
        if cls is scalar_event:
            if event.anchor is not None or event.tag is not None:
                _refuse_node(event, _pointer(stack, token))
            mark = event.start_mark
            value = event.value
            if in_mapping and key is missing:
                if value in current:
                    if entries is None and complete is not None:
                        complete()  # the full read fails here, with the first key's place
                    first = entries[value]
                    if first.__class__ is int:
                        first = unpack(first)
                    _duplicate_key(value, first, mark, _pointer(stack, token))
                # keys recur in every source: one string each (the values and positions
                # then share it)
                key, key_line, key_column = intern(value), mark.line + 1, mark.column + 1
                continue
            if not event.style:  # plain: resolve; quoted and block scalars stay strings
                try:
                    value = resolve(value)
                except ValueError:
                    _too_many_digits(value, mark)
            children = None
        elif cls is mapping_start or cls is sequence_start:
            if event.anchor is not None or event.tag is not None:
                _refuse_node(event, _pointer(stack, token))
            mark = event.start_mark
            if in_mapping and key is missing:
                raise Failure(
                    "manifest-invalid-key",
                    "a key must be a plain value, not a list or a mapping",
                    mark.line + 1,
                    mark.column + 1,
                    help="write the key as a string",
                    pointer=_pointer(stack, token),
                )
            if current is not None and len(stack) + 1 >= max_depth:
                raise too_deep(max_depth, mark.line + 1, mark.column + 1, _pointer(stack, token))
            if cls is mapping_start:
                value, children = {}, {}
            else:
                value, children = [], []
            if defer_at and current is not None and (entries is None or len(stack) >= defer_at - 1):
                children, deferred = DEFERRED, True
        elif cls is mapping_end or cls is sequence_end:
            if stack:
                current, entries, in_mapping, token = stack.pop()
            else:
                current = None
            continue
        elif cls is yaml.AliasEvent:
            _refuse_node(event, _pointer(stack, token))
        elif cls is yaml.DocumentEndEvent:
            break
        else:  # pragma: no cover - the parser emits nothing else inside a document
            continue

        # Attach the value to the open collection (or make it the root), with its position.
        if current is None:
            root = value
            root_entry = (mark.line + 1, mark.column + 1, 0, 0, children)
        elif in_mapping:
            current[key] = value
            if entries is not None:
                line, column = mark.line + 1, mark.column + 1
                if (
                    children is None
                    and line == key_line
                    and column <= packed_columns
                    and key_column <= packed_columns
                ):  # the usual `key: value` on one line
                    entries[key] = pack(line, column, key_column)
                else:
                    entries[key] = (line, column, key_line, key_column, children)
            child_token = key
            key = missing
        else:
            child_token = len(current)
            current.append(value)
            if entries is not None:
                column = mark.column + 1
                if children is None and column <= packed_columns:
                    entries.append(pack(mark.line + 1, column, 0))
                else:
                    entries.append((mark.line + 1, column, 0, 0, children))
        if children is not None:
            if current is None:
                child_token = None
            else:
                stack.append((current, entries, in_mapping, token))
            current, in_mapping, token = value, cls is mapping_start, child_token
            entries = None if children is DEFERRED else children

    event = get_event()
    if event.__class__ is yaml.DocumentStartEvent:
        mark = event.start_mark
        raise Failure(
            "manifest-multiple-documents",
            "the stream holds more than one YAML document",
            mark.line + 1,
            mark.column + 1,
            help="a manifest is one document; remove the `---` and what follows, "
            "or split it into several files",
        )
    if root is None or root_entry is None:
        line, column = root_entry[:2] if root_entry else (1, 1)
        raise Failure(
            "manifest-empty",
            "the document is empty",
            line,
            column,
            help="a manifest starts with `tosguard: 1`",
        )
    return root, PositionMap(root_entry, complete if deferred else None)


def _pointer(stack: list[tuple[Any, Any, bool, Any]], token: Any) -> str:
    """The pointer of the innermost open collection (only computed for error messages)."""
    tokens = [frame[3] for frame in stack[1:]]
    if stack:
        tokens.append(token)
    return "".join("/" + escape_pointer(str(t)) for t in tokens)


def _too_many_digits(text: str, mark: Any) -> NoReturn:
    raise Failure(
        "manifest-syntax",
        f"the number `{text[:20]}…` has too many digits ({len(text)})",
        mark.line + 1,
        mark.column + 1,
        help="write it as a string in quotes",
    )


def _refuse_node(event: Any, pointer: str) -> NoReturn:
    mark = event.start_mark
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        sigil = "*" if isinstance(event, yaml.AliasEvent) else "&"
        raise Failure(
            "manifest-alias",
            "anchors and aliases are not allowed in manifests "
            f"(found `{sigil}{shorten(event.anchor)}`)",
            mark.line + 1,
            mark.column + 1,
            help="write the value out in full; aliases can expand to huge documents (alias bombs)",
            pointer=pointer,
        )
    raise Failure(
        "manifest-tag",
        f"explicit tags are not allowed in manifests (found `{shorten(_short_tag(event.tag))}`)",
        mark.line + 1,
        mark.column + 1,
        help="remove the tag; put a value in quotes to make it a string",
        pointer=pointer,
    )


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _duplicate_key(key: str, first: Entry, mark: Any, container_pointer: str) -> NoReturn:
    raise Failure(
        "manifest-duplicate-key",
        f"duplicate key `{shorten(key)}`",
        mark.line + 1,
        mark.column + 1,
        help=f"`{shorten(key)}` is already set on line {first[2]}; remove one of them",
        pointer=container_pointer + "/" + escape_pointer(key),
    )


# --------------------------------------------------------------------------------------------
# JSON
