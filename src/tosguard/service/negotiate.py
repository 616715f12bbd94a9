"""What a request asks for beyond its body: the report's format (``format`` query or
``Accept``), and its query parameters checked by name and value with messages for people.

Formats: ``format`` names one outright (it wins over ``Accept``); otherwise ``Accept`` is read
as RFC 9110 §12.5.1 says — media ranges with their ``q`` weights, the most specific range that
matches deciding a type's weight, ``q=0`` refusing it — and the acceptable format of highest
weight is sent (then the most specific match, a format's own type before an alias such as
``text/xml``, and JSON, SARIF, JUnit, Markdown in that order). No ``Accept``, or ``*/*``, is
JSON. When nothing acceptable is available the answer is 406 with the list of what is.

>>> choose_format(None, "application/sarif+json")
'sarif'
>>> choose_format(None, "text/markdown;q=0.5, application/xml")
'junit'
>>> choose_format(None, "text/*")
'markdown'
>>> choose_format(None, "*/*"), choose_format(None, "application/*;q=0.2, text/xml")
('json', 'junit')
>>> choose_format("markdown", "application/json")
'markdown'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import did_you_mean
from .problems import ProblemError, item

#: format -> the media types it is sent for (the first is its Content-Type), in the order of
#: preference when ``Accept`` weighs several alike.
FORMATS: dict[str, tuple[str, ...]] = {
    "json": ("application/json",),
    "sarif": ("application/sarif+json",),
    "junit": ("application/xml", "application/junit+xml", "text/xml"),
    "markdown": ("text/markdown",),
}
CONTENT_TYPES = {
    "json": "application/json",
    "sarif": "application/sarif+json",
    "junit": "application/xml; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *parameters = (p.strip() for p in part.split(";"))
        if not media:
            continue
        weight = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0  # a weight that is not a number accepts nothing
        ranges.append((media.lower(), weight))
    return ranges


def _score(media: str, ranges: list[tuple[str, float]]) -> tuple[float, int]:
    """The weight ``Accept`` gives ``media`` (that of the most specific range matching it),
    and that specificity (2 exact, 1 ``type/*``, 0 ``*/*``, -1 no match)."""
    kind = media.split("/")[0]
    best = (0.0, -1)
    for pattern, weight in ranges:
        if pattern == media:
            specificity = 2
        elif pattern == f"{kind}/*":
            specificity = 1
        elif pattern == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (weight, specificity)
    return best


def choose_format(given: str | None, accept: str | None) -> str:
    if given is not None:
        return given
    if not accept or not accept.strip():
        return "json"
    ranges = _ranges(accept)
    best: tuple[float, int, bool] = (0.0, -1, False)
    chosen = None
    for fmt, types in FORMATS.items():
        for number, media in enumerate(types):
            weight, specificity = _score(media, ranges)
            score = (weight, specificity, number == 0)  # a format's own type before an alias
            if weight > 0 and score > best:
                best, chosen = score, fmt
    if chosen is None:
        offered = ", ".join(f"`{t}`" for types in FORMATS.values() for t in types)
        raise ProblemError(
            "not-acceptable",
            f"no report format this service writes is acceptable to `Accept: {accept[:200]}`",
            [
                item(
                    "service-not-acceptable",
                    "none of the media types accepted is available",
                    help=f"accept one of {offered} (or `*/*`), or pass `format=json|sarif|"
                    "junit|markdown`",
                )
            ],
            headers={"Vary": "Accept"},
        )
    return chosen


def reject_unknown(given: Iterable[str], known: Iterable[str], path: str) -> None:
    """A 400 naming every query parameter the endpoint does not take."""
    known = sorted(set(known))
    unknown = sorted({name for name in given if name not in known})
    if not unknown:
        return
    takes = (
        "it takes " + ", ".join(f"`{k}`" for k in known)
        if known
        else "it takes no query parameters"
    )
    raise ProblemError(
        "invalid-parameter",
        f"`{path}` does not take the query parameter"
        f"{'s' if len(unknown) > 1 else ''} " + ", ".join(f"`{u[:100]}`" for u in unknown),
        [
            item(
                "service-unknown-parameter",
                f"unknown query parameter `{name[:100]}`",
                pointer=f"/query/{name[:100]}",
                help=did_you_mean(name, known) or takes,
            )
            for name in unknown[:100]
        ],
    )


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: How each kind of parameter is written, for the messages about a bad value.
EXPECTED = {
    "date": ("a date YYYY-MM-DD", "write it as `2026-11-22`, or leave it out for today"),
    "bool": ("true or false", "use `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)"),
}


def parameter_item(error: Mapping[str, Any], kinds: Mapping[str, str]) -> dict:
    """A problem item for one of FastAPI's validation errors of a request parameter, worded
    for people: ``as_of: expected a date YYYY-MM-DD, got 'yesterday'`` and a help line.
    ``kinds`` maps a parameter's name to its kind (``date``, ``bool``) when it has one."""
    loc = [str(p) for p in error.get("loc", ())]
    where = loc[0] if loc else "request"
    name = ".".join(loc[1:]) or where
    value = error.get("input")
    shown = repr(value if not isinstance(value, str) else value[:100])
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if name in kinds and kinds[name] in EXPECTED:
        expected, help = EXPECTED[kinds[name]]
        if kinds[name] == "date" and isinstance(value, str) and _DATE.fullmatch(value):
            help = f"there is no day {value}; {help}"
    elif kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(context.get("expected", "")))
        expected = "one of " + ", ".join(f"`{c}`" for c in choices)
        help = (did_you_mean(str(value), choices) if isinstance(value, str) else "") or (
            "use " + expected
        )
    elif kind in ("string_too_long", "too_long"):
        limit = context.get("max_length")
        expected = f"at most {limit} characters"
        shown = f"{len(value) if isinstance(value, str) else '?'} characters"
        help = f"shorten `{name}` to {limit} characters or fewer"
    elif kind == "missing":
        return item(
            "service-invalid-parameter",
            f"{name}: the {where} parameter is required",
            pointer="/" + "/".join(loc),
            help=f"add `{name}` to the request",
        )
    else:
        reason = str(error.get("msg", "invalid value"))  # pydantic's own words, as a last resort
        return item(
            "service-invalid-parameter",
            f"{name}: {reason[:1].lower()}{reason[1:]}, got {shown}",
            pointer="/" + "/".join(loc),
            help="see the parameters of this endpoint in `/docs` or `/openapi.json`",
        )
    return item(
        "service-invalid-parameter",
        f"{name}: expected {expected}, got {shown}",
        pointer="/" + "/".join(loc),
        help=help,
    )
