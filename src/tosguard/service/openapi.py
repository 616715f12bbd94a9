"""The OpenAPI document: FastAPI's, completed so that it describes every response.

FastAPI documents the success responses from the route declarations. This module adds what it
cannot see: the manifest's JSON Schema as the request body of ``/v1/check`` (in JSON and YAML),
the :class:`~tosguard.service.problems.Problem` schema of every error, 401 and the security
schemes on every protected operation when API keys are configured, 400 wherever a parameter can
be invalid, 503 wherever the policy set is needed; and it removes FastAPI's default 422
``HTTPValidationError``, which this service never sends (invalid parameters get a 400 problem).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .problems import Problem
from .problems import responses as problem_responses

DESCRIPTION = """\
The HTTP face of tosguard. `POST /v1/check` takes a usage manifest (JSON or YAML) and returns
the report the CLI prints with `tosguard check --format json`, byte for byte; the
`/v1/policies` endpoints show the library the service loaded, with every clause's citation and
verbatim quote. Errors are RFC 9457 problem documents (`application/problem+json`) carrying the
list of diagnostics behind them. See docs/service.md.
"""

CHECK_HEADERS = {
    "X-Tosguard-Verdict": {"description": "The report's verdict.", "schema": {"type": "string"}},
    "X-Tosguard-Revision": {
        "description": "Revision of the policy set that checked it.",
        "schema": {"type": "string"},
    },
}

#: The report's other formats (`format` or `Accept` on `/v1/check`); JSON is the Report model.
REPORT_CONTENT = {
    "application/sarif+json": {
        "schema": {"type": "object", "description": "SARIF 2.1.0 (one run)."}
    },
    "application/xml": {"schema": {"type": "string", "description": "JUnit XML."}},
    "text/markdown": {"schema": {"type": "string", "description": "A Markdown report."}},
}

POLICY_REQUEST_BODY = {
    "required": True,
    "description": "The text of one policy file (UTF-8).",
    # an empty body is refused (422 `invalid-request`): the schema says so
    "content": {"text/plain": {"schema": {"type": "string", "minLength": 1}}},
}

# A calendar date, YYYY-MM-DD, exactly as the service accepts it (``date.fromisoformat`` on
# this shape): years 0001 to 9999, months 01 to 12, and the days each month has, 29 February in
# leap years only (divisible by 4, and centuries only when divisible by 400). So a client that
# generates what the schema admits gets a report, never a 400 for a date such as 0000-00-00.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_MONTH_DAY = (
    "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)"
    "|(?:0[13578]|1[02])-31)"
)
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
DATE_PATTERN = f"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)$"

MANIFEST_PREFIX = "Manifest"


def manifest_request_body() -> dict:
    schema = {"$ref": f"#/components/schemas/{MANIFEST_PREFIX}"}
    return {
        "required": True,
        "description": "A usage manifest, format 1 (see `tosguard schema`).",
        "content": {"application/json": {"schema": schema}, "application/yaml": {"schema": schema}},
    }


def _manifest_schemas() -> dict[str, Any]:
    from ..manifest.model import manifest_json_schema

    schema = manifest_json_schema()
    definitions = schema.pop("$defs", {})
    schema.pop("$schema", None)
    schema.pop("$id", None)  # a base URI of its own would turn the refs below elsewhere
    text = json.dumps(
        {MANIFEST_PREFIX: schema, **{MANIFEST_PREFIX + k: v for k, v in definitions.items()}}
    )
    text = text.replace('"#/$defs/', f'"#/components/schemas/{MANIFEST_PREFIX}')
    return json.loads(text)


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {"Problem": schema, **definitions}


def complete(document: dict, *, keys_enabled: bool, public_paths: frozenset[str]) -> dict:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(_problem_schemas())
    schemas.update(_manifest_schemas())
    if keys_enabled:
        document["components"]["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer KEY`",
            },
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            default_422 = responses.get("422")
            if default_422 and "HTTPValidationError" in json.dumps(default_422):
                del responses["422"]
            extra: list[int] = []
            if operation.get("parameters"):
                extra.append(400)
            if path.startswith("/v1/") or path == "/readyz":
                extra.append(503)
            if keys_enabled and path not in public_paths:
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                extra.append(401)
            for status, described in problem_responses(*extra).items():
                responses.setdefault(str(status), described)
    return document


def install(app: FastAPI, *, keys_enabled: bool, public_paths: frozenset[str]) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(
                document, keys_enabled=keys_enabled, public_paths=public_paths
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
