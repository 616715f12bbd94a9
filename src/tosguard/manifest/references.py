"""Cross-field checks: source ids are unique and ``derived_from`` names declared sources."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import (
    shorten,
)

# --------------------------------------------------------------------------------------------
# Cross-field checks: source ids are unique and `derived_from` names declared sources.


# (code, message, pointer, help, related pointer); help is worked out when it is reported.
Problem = tuple[str, str, str, Callable[[], str], str]


def reference_problems(sources: list[tuple[Any, Any]]) -> Iterator[Problem]:
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


def raw_reference_problems(value: Any) -> Iterator[Problem]:
    if not isinstance(value, dict) or not isinstance(value.get("sources"), list):
        return iter(())
    return reference_problems(
        [
            (s.get("id"), s.get("derived_from")) if isinstance(s, dict) else (None, None)
            for s in value["sources"]
        ]
    )
