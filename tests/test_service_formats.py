"""`tosguard serve` over real HTTP: the documentation pages served from the package (no CDN),
the report's format by `format` or `Accept` (the CLI's bytes for each), 406 when nothing
acceptable is available, unknown query parameters refused, and a message for people about
every bad parameter value."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from click.testing import CliRunner  # noqa: E402

from service_fixtures import ServeProcess  # noqa: E402
from tosguard.cli import cli  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
AS_OF = "2026-11-22"
MANIFEST = ROOT / "examples" / "missing-facts.yaml"
YAML = {"content-type": "application/yaml"}
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ServeProcess(tmp_path_factory.mktemp("serve"))
    try:
        process.wait_ready()
        with httpx.Client(base_url=f"http://127.0.0.1:{process.port}", timeout=30) as client:
            yield client
    finally:
        process.stop()
    assert "Traceback" not in process.logs(), process.logs()


def cli_report(fmt: str, name: str) -> str:
    """What `tosguard check --format FMT` prints for the manifest, named as the request names
    it (the CLI run in process, in a directory where the manifest has that name)."""
    with contextlib.chdir(MANIFEST.parent):
        result = CliRunner().invoke(cli, ["check", name, "--as-of", AS_OF, "--format", fmt])
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def check(client, params=None, headers=None):
    return client.post(
        "/v1/check",
        params={"as_of": AS_OF, "name": MANIFEST.name, **(params or {})},
        content=MANIFEST.read_bytes(),
        headers={**YAML, **(headers or {})},
    )


def problem_of(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == f"urn:tosguard:problem:{kind}"
    return problem


# ---- documentation pages ----------------------------------------------------------------------
@pytest.mark.parametrize("page,script", [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc")])
def test_docs_pages_load_everything_from_the_service(server, page, script) -> None:
    response = server.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "/openapi.json" in html and script in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "loads from another host"
    for asset in re.findall(r"""(?:src|href)=["']?(/docs/static/[^"' >]+)""", html):
        loaded = server.get(asset)
        assert loaded.status_code == 200 and len(loaded.content) > 1000, asset


# ---- formats ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params,headers,fmt,media",
    [
        ({}, {}, "json", "application/json"),
        ({"format": "sarif"}, {}, "sarif", "application/sarif+json"),
        ({}, {"accept": "application/sarif+json"}, "sarif", "application/sarif+json"),
        ({}, {"accept": "application/junit+xml"}, "junit", "application/xml"),
        ({}, {"accept": "text/html;q=0.9, application/xml"}, "junit", "application/xml"),
        ({"format": "junit"}, {}, "junit", "application/xml"),
        ({}, {"accept": "text/markdown"}, "markdown", "text/markdown"),
        ({"format": "markdown"}, {"accept": "application/json"}, "markdown", "text/markdown"),
        ({}, {"accept": "*/*"}, "json", "application/json"),
    ],
)
def test_format_and_accept_give_the_clis_bytes(server, params, headers, fmt, media) -> None:
    response = check(server, params, headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media
    assert "accept" in response.headers["vary"].lower()
    assert response.text == cli_report(fmt, MANIFEST.name)


def test_nothing_acceptable_is_a_406_problem(server) -> None:
    response = check(server, headers={"accept": "image/png, application/json;q=0"})
    problem = problem_of(response, 406, "not-acceptable")
    (error,) = problem["errors"]
    assert error["code"] == "service-not-acceptable"
    assert "application/sarif+json" in error["help"] and "format=" in error["help"]


# ---- parameters -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path,params,message,help",
    [
        ("/v1/check", {"asof": AS_OF}, "unknown query parameter `asof`", "did you mean `as_of`?"),
        ("/healthz", {"verbose": "1"}, "unknown query parameter `verbose`", "no query parameters"),
    ],
)
def test_unknown_query_parameters_are_refused(server, path, params, message, help) -> None:
    if path == "/v1/check":
        response = server.post(path, params=params, content=b"tosguard: 1\n", headers=YAML)
    else:
        response = server.get(path, params=params)
    problem = problem_of(response, 400, "invalid-parameter")
    (error,) = problem["errors"]
    assert (error["code"], error["message"]) == ("service-unknown-parameter", message)
    assert help in error["help"]


@pytest.mark.parametrize(
    "params,message,help",
    [
        (
            {"as_of": "yesterday"},
            "as_of: expected a date YYYY-MM-DD, got 'yesterday'",
            "write it as `2026-11-22`",
        ),
        ({"as_of": "2026-02-30"}, "as_of: expected a date", "there is no day 2026-02-30"),
        ({"all": "maybe"}, "all: expected true or false, got 'maybe'", "`true` or `false`"),
        ({"format": "sarf"}, "format: expected one of `json`, `sarif`", "did you mean `sarif`?"),
        ({"name": "x" * 1100}, "name: expected at most 1024 characters", "shorten `name`"),
    ],
)
def test_every_bad_parameter_gets_a_message_and_a_help_line(server, params, message, help):
    problem = problem_of(check(server, params), 400, "invalid-parameter")
    (error,) = problem["errors"]
    assert error["code"] == "service-invalid-parameter"
    assert error["message"].startswith(message), error
    assert help in error["help"], error


@pytest.mark.parametrize(
    "error,kinds,message,help",
    [
        (
            {"loc": ("query", "as_of"), "type": "string_pattern_mismatch", "input": "soon"},
            {"as_of": "date"},
            "as_of: expected a date YYYY-MM-DD, got 'soon'",
            "leave it out for today",
        ),
        (
            {
                "loc": ("query", "n"),
                "type": "int_parsing",
                "msg": "Input should be a valid integer",
                "input": "x",
            },
            {},
            "n: input should be a valid integer, got 'x'",
            "`/docs`",
        ),
        (
            {"loc": ("query", "q"), "type": "missing", "msg": "Field required", "input": None},
            {},
            "q: the query parameter is required",
            "add `q` to the request",
        ),
        (
            {
                "loc": ("path", "policy_id"),
                "type": "string_too_long",
                "input": "p" * 300,
                "ctx": {"max_length": 200},
            },
            {},
            "policy_id: expected at most 200 characters, got 300 characters",
            "shorten `policy_id`",
        ),
    ],
)
def test_parameter_messages(error, kinds, message, help) -> None:
    from tosguard.service.negotiate import parameter_item

    entry = parameter_item(error, kinds)
    assert (entry["code"], entry["message"]) == ("service-invalid-parameter", message)
    assert help in entry["help"] and entry["pointer"] == "/" + "/".join(error["loc"])
