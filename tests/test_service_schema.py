"""Schemathesis against the service's own OpenAPI document, in process: generated requests
(valid and invalid manifests, parameters, policy text) never get a 5xx, and every response
(status, content type, headers, body) is one the document describes."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tosguard.engine.library import default_paths  # noqa: E402
from tosguard.service.app import create_app  # noqa: E402
from tosguard.service.config import Settings  # noqa: E402
from tosguard.service.state import load_policy_set  # noqa: E402

KEY = "schemathesis-key-0123456789"
EXAMPLES = int(__import__("os").environ.get("TOSGUARD_SCHEMATHESIS_EXAMPLES", "25"))


def build_app():
    keys = Path(tempfile.mkdtemp(prefix="tosguard-keys-")) / "keys"
    keys.write_text(KEY)
    policy_set = load_policy_set([str(p) for p in default_paths()])
    return create_app(Settings(api_keys_file=str(keys), timeout=30), policy_set=policy_set)


with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    schema = schemathesis.openapi.from_asgi("/openapi.json", build_app())


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_every_operation_conforms(case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)
