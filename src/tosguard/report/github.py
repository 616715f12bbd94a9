"""GitHub Actions workflow commands (``--format github``): an annotation per finding, shown on
the manifest line in the pull request's diff and the run's summary, then one plain line per
manifest with its verdict and totals.

``::error file=examples/acme.yaml,line=21,col=5,title=…::message`` — ``error`` for a finding
that fails the check by default (an error-severity clause violated or undetermined),
``warning`` for a warning, ``notice`` for an info-severity one. The message and the properties
are escaped as the runner's parser expects (``toCommandValue``/``escapeProperty`` in
``@actions/core``): ``%`` as ``%25``, carriage return ``%0D``, line feed ``%0A``; in properties
also ``:`` as ``%3A`` and ``,`` as ``%2C``. Other control characters are written as visible
escapes (:func:`~tosguard.safetext.printable`), so that no input can start a command of its
own: every line the renderer writes begins with ``::`` or is a summary it composed.

>>> escape_data("50% done\\nnext")
'50%25 done%0Anext'
>>> escape_property("a:b,c")
'a%3Ab%2Cc'
"""

from __future__ import annotations

from collections.abc import Sequence

from ..safetext import printable
from .model import ALWAYS_LISTED, Finding, Report
from .text import count_words, provenance

LEVELS = {"error": "error", "warning": "warning", "info": "notice"}
#: GitHub shows at most 50 annotations a job (10 errors and 10 warnings a step): past them,
#: one notice counts the rest (findings come worst first, so the ones shown matter most).
MAX_ANNOTATIONS = 50


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(reports: Sequence[Report], max_annotations: int = MAX_ANNOTATIONS) -> str:
    """The annotations of ``reports`` (at most ``max_annotations``, then a notice counting
    the rest), then each manifest's verdict line."""
    listed = [f for report in reports for f in report.findings if f.category in ALWAYS_LISTED]
    lines = [_annotation(f) for f in listed[:max_annotations]]
    if len(listed) > max_annotations:
        rest = len(listed) - max_annotations
        lines.append(
            f"::notice title=tosguard::{rest:,} more finding{'s' * (rest != 1)} not annotated "
            f"(GitHub shows at most {max_annotations} annotations a job): the verdict lines "
            "below count them all, and `--format sarif` lists them for code scanning"
        )
    for report in reports:
        verdict = report.verdict.replace("_", "-").upper()
        lines.append(
            f"tosguard: {verdict} {printable(report.manifest)} "
            f"(as of {report.as_of.isoformat()}: {', '.join(count_words(report.summary))}; "
            f"{provenance(report)})"
        )
    return "\n".join(lines) + "\n"


def _annotation(f: Finding) -> str:
    level = LEVELS.get(f.severity, "notice")
    title = f"{f.rule} ({f.status})"
    body = [f.message]
    if f.missing:
        body.append("missing: " + ", ".join(f.missing))
    cite = f.citation
    if cite is not None:
        body.append(
            f"{cite['document']}, {cite['section']} ({cite['effective']}): “{cite['quote']}”"
        )
        body.append(cite["url"])
    if f.open_remedy:
        body.append(f"remedy: {f.open_remedy}")
    properties = {
        "file": f.location["file"],
        "line": str(max(f.location["line"], 1)),
        "col": str(max(f.location["column"], 1)),
        "title": title,
    }
    head = ",".join(f"{key}={escape_property(_safe(value))}" for key, value in properties.items())
    return f"::{level} {head}::{escape_data(_safe(chr(10).join(body), layout=True))}"


def _safe(text: str, layout: bool = False) -> str:
    """Visible escapes for the controls, but line breaks kept for :func:`escape_data`."""
    return printable(text, layout=layout).replace("\t", " ")
