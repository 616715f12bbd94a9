"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error response of the service is a :class:`Problem`: ``type`` (a URN naming the kind of
problem, listed in docs/service.md), ``title``, ``status``, ``detail``, ``instance`` (the request
path), the request id, and ``errors``: the list of ``{code, message, line, column, pointer}``
diagnostics behind it (with the ``help`` line and the ``file`` they concern), the same
diagnostics the CLI prints: at most 100 of them and one more that counts the rest (see
``tosguard.errors.capped``). Control characters from the input are JSON escapes in the body
(:func:`~tosguard.safetext.json_safe`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, Field

from ..errors import Diagnostic
from ..safetext import json_safe

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:tosguard:problem:"

#: slug -> (status, title). The slug is the last part of ``type``.
KINDS: dict[str, tuple[int, str]] = {
    "invalid-parameter": (400, "Invalid request parameter"),
    "malformed-request": (400, "Malformed HTTP request"),
    "unauthorized": (401, "Missing or invalid API key"),
    "reload-disabled": (403, "Reloading over HTTP is disabled"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "No acceptable representation"),
    "body-timeout": (408, "Request body not received in time"),
    "header-timeout": (408, "Request headers not received in time"),
    "reload-failed": (409, "The policy set could not be reloaded"),
    "body-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "manifest-invalid": (422, "Invalid manifest"),
    "manifest-too-many-sources": (422, "Manifest has too many sources"),
    "report-too-large": (422, "Report has too many findings"),
    "invalid-request": (422, "Invalid request"),
    "header-too-large": (431, "Request header fields too large"),
    "timeout": (503, "Request took too long"),
    "not-ready": (503, "Service not ready"),
    "too-many-connections": (503, "Too many connections"),
    "internal": (500, "Internal error"),
}


class ProblemItem(BaseModel):
    """One diagnostic: a stable code, a one-line message, where it is, and how to fix it."""

    code: str = Field(description="Stable error code, e.g. `manifest-unknown-key`.")
    message: str
    line: int | None = Field(None, description="1-based line in the input, when known.")
    column: int | None = Field(None, description="1-based column in the input, when known.")
    pointer: str = Field("", description="JSON pointer (RFC 6901) of the value concerned.")
    help: str = ""
    file: str = Field("", description="The input the diagnostic is about.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(
        description="A URN naming the kind of problem: `urn:tosguard:problem:<kind>`."
    )
    title: str
    status: int
    detail: str = ""
    instance: str = Field("", description="The request path.")
    request_id: str = ""
    errors: list[ProblemItem] = Field(default_factory=list)


class ProblemError(Exception):
    """Raised by endpoints and middleware; rendered by :func:`render`."""

    def __init__(
        self,
        kind: str,
        detail: str = "",
        errors: Sequence[dict] = (),
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ):
        super().__init__(detail or kind)
        self.kind = kind
        self.status = status or KINDS[kind][0]
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def item(
    code: str,
    message: str,
    *,
    pointer: str = "",
    help: str = "",
    file: str = "",
    line: int | None = None,
    column: int | None = None,
) -> dict:
    return {
        "code": code,
        "message": message,
        "line": line,
        "column": column,
        "pointer": pointer,
        "help": help,
        "file": file,
    }


def diagnostic_items(diagnostics: Iterable[Diagnostic]) -> list[dict]:
    return [
        item(
            d.code,
            d.message,
            pointer=d.pointer,
            help=d.help,
            file=d.span.file,
            line=d.span.line or None,
            column=d.span.column or None,
        )
        for d in diagnostics
    ]


def body(error: ProblemError, instance: str, request_id: str) -> bytes:
    title = KINDS.get(error.kind, (error.status, "Error"))[1]
    document = {
        "type": TYPE_PREFIX + error.kind,
        "title": title,
        "status": error.status,
        "detail": error.detail or title.lower(),
        "instance": instance,
        "request_id": request_id,
        "errors": error.errors,
    }
    return json_safe(json.dumps(document, ensure_ascii=False)).encode()


def responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for the given error statuses (all problem documents)."""
    described: dict[int | str, dict] = {}
    for status in statuses:
        kinds = [k for k, (s, _) in KINDS.items() if s == status]
        titles = "; ".join(f"`{k}`" for k in kinds)
        described[status] = {
            "description": f"Problem document ({titles})",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return described
