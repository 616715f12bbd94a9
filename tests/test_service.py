"""The HTTP service, in process: every endpoint, every error as a problem document, the body
limit, API keys, reloads, metrics, logs and the OpenAPI document. The reports must be the
CLI's bytes for the same input."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

with warnings.catch_warnings():  # starlette would rather have httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from click.testing import CliRunner  # noqa: E402

from service_fixtures import POLICY  # noqa: E402
from tosguard.api import check as run_check  # noqa: E402
from tosguard.cli import cli  # noqa: E402
from tosguard.engine.library import default_paths  # noqa: E402
from tosguard.manifest.model import parse_manifest  # noqa: E402
from tosguard.service.access import StartupFailure  # noqa: E402
from tosguard.service.app import create_app  # noqa: E402
from tosguard.service.auth import key_id  # noqa: E402
from tosguard.service.config import Settings  # noqa: E402
from tosguard.service.state import load_policy_set  # noqa: E402
from tosguard.tools.lint import lint_text  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.*"))
AS_OF = "2026-11-22"
KEY = "k3y-for-tests-0123456789abcdef"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def shipped():
    return load_policy_set([str(p) for p in default_paths()], use_cache=False)


@pytest.fixture
def client(shipped):
    with TestClient(create_app(Settings(), policy_set=shipped)) as client:
        yield client


def make_client(shipped, **settings) -> TestClient:
    return TestClient(create_app(Settings(**settings), policy_set=shipped))


def cli_json(*args: str, cwd: Path = ROOT) -> bytes:
    """What `tosguard check ARGS --format json` prints (the CLI run in process, for speed;
    tests/test_service_process.py compares with the installed command too)."""
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, ["check", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.stdout_bytes


def content_type(path: Path) -> str:
    return "application/json" if path.suffix == ".json" else "application/yaml"


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == f"urn:tosguard:problem:{kind}"
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    for entry in problem["errors"]:
        assert {"code", "message", "line", "column", "pointer"} <= set(entry)
    return problem


# ---- POST /v1/check: the CLI's report, byte for byte ------------------------------------------
@pytest.mark.parametrize("include_all", [False, True], ids=["findings", "all"])
def test_every_example_report_equals_the_cli(client, include_all: bool) -> None:
    for path in EXAMPLES:
        name = f"examples/{path.name}"
        flags = ["--all"] if include_all else []
        expected = cli_json(name, "--as-of", AS_OF, *flags)
        response = client.post(
            "/v1/check",
            content=path.read_bytes(),
            params={"as_of": AS_OF, "name": name, "all": str(include_all).lower()},
            headers={"content-type": content_type(path)},
        )
        assert response.status_code == 200, response.text
        assert response.content == expected, name
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-tosguard-verdict"] == json.loads(expected)["verdict"]


def test_a_300_source_manifest_gets_the_cli_report(shipped, tmp_path) -> None:
    sources = "".join(
        f"  - id: s{i}\n    kind: model-output\n    provider: openai\n"
        f"    service: api\n    use: [fine-tuning]\n"
        f"    access: {{route: direct, from_country: US}}\n"
        for i in range(300)
    )
    text = f"tosguard: 1\nmodel: {{name: m, purpose: chat}}\nsources:\n{sources}"
    (tmp_path / "big.yaml").write_text(text)
    with make_client(shipped) as client:
        response = client.post(
            "/v1/check",
            content=text.encode(),
            params={"as_of": AS_OF, "name": "big.yaml"},
            headers={"content-type": "application/yaml"},
        )
    assert response.status_code == 200
    assert response.content == cli_json("big.yaml", "--as-of", AS_OF, cwd=tmp_path)


def test_default_name_and_json_suffix_types(client) -> None:
    body = b'{"tosguard": 1, "sources": []}'
    response = client.post(
        "/v1/check",
        content=body,
        headers={"content-type": "application/vnd.acme+json; charset=utf-8"},
    )
    assert response.status_code == 200
    report = response.json()
    assert report["manifest"] == "<request>"
    assert report["verdict"] == "compliant"


def test_policies_parameter_restricts_the_library(client, shipped) -> None:
    ids = sorted(shipped.library.documents)
    chosen = ids[0]
    path = ROOT / "examples" / "acme.yaml"
    response = client.post(
        "/v1/check",
        content=path.read_bytes(),
        params={"as_of": AS_OF, "policies": chosen, "all": "true"},
        headers={"content-type": "application/yaml"},
    )
    assert response.status_code == 200
    expected = run_check(
        shipped.library.restrict([chosen]),
        parse_manifest(path.read_bytes(), "<request>", "yaml"),
        as_of=AS_OF,
        include_all=True,
        name="<request>",
    )
    assert response.content == expected.to_json().encode()
    assert {f["policy"] for f in response.json()["findings"]} <= {chosen}
    both = client.post(
        "/v1/check",
        content=path.read_bytes(),
        params=[("policies", ",".join(ids[:2])), ("policies", ids[0])],
        headers={"content-type": "application/yaml"},
    )
    assert both.status_code == 200


def test_unknown_policy_id_is_a_400_with_a_suggestion(client, shipped) -> None:
    known = sorted(shipped.library.documents)[0]
    response = client.post(
        "/v1/check",
        content=b"tosguard: 1\nsources: []\n",
        params={"policies": known[:-1]},
        headers={"content-type": "application/yaml"},
    )
    problem = assert_problem(response, 400, "invalid-parameter")
    assert problem["errors"][0]["code"] == "usage-unknown-policy"
    assert known in problem["errors"][0]["help"]


@pytest.mark.parametrize("as_of", ["2026-02-30", "yesterday", "2026-1-1"])
def test_bad_as_of_is_a_400(client, as_of: str) -> None:
    response = client.post(
        "/v1/check",
        params={"as_of": as_of},
        content=b"tosguard: 1\nsources: []\n",
        headers={"content-type": "application/yaml"},
    )
    assert_problem(response, 400, "invalid-parameter")


def test_invalid_manifest_lists_every_error_with_positions(client) -> None:
    body = b"tosguard: 1\norganisation: {}\nsources:\n  - id: a\n    provider: OpenAI\n"
    response = client.post(
        "/v1/check",
        content=body,
        params={"name": "m.yaml"},
        headers={"content-type": "application/yaml"},
    )
    problem = assert_problem(response, 422, "manifest-invalid")
    codes = {e["code"] for e in problem["errors"]}
    assert "manifest-unknown-key" in codes
    unknown = next(e for e in problem["errors"] if e["code"] == "manifest-unknown-key")
    assert (unknown["line"], unknown["column"], unknown["pointer"]) == (2, 1, "/organisation")
    assert "organization" in unknown["help"]
    assert unknown["file"] == "m.yaml"
    assert problem["instance"] == "/v1/check"


@pytest.mark.parametrize(
    "body",
    [
        b"a: &a [1, 2]\nb: [*a, *a, *a]\n",  # alias
        b"tosguard: 1\nsources: []\nsources: []\n",  # duplicate key
        b"tosguard: 1\nfacts: " + b"[" * 5000 + b"]" * 5000 + b"\n",  # deep nesting
        b'tosguard: 1\nsources: []\nfacts: {a: "\xff\xfe"}\n',  # invalid UTF-8
        b"",  # empty
        b"\x00\x01\x02",  # binary
        b"- just\n- a list\n",  # not a mapping
        b"tosguard: 1\nsources: [{id: a, derived_from: [a]}]\n",  # self reference
    ],
    ids=["alias", "duplicate", "deep", "utf8", "empty", "binary", "list", "cycle"],
)
def test_malformed_manifests_get_422_never_500(client, body: bytes) -> None:
    for kind in ("application/yaml", "application/json"):
        response = client.post("/v1/check", content=body, headers={"content-type": kind})
        assert response.status_code in (200, 422), response.text
        if response.status_code == 422:
            assert_problem(response, 422, "manifest-invalid")


def test_unsupported_media_type_is_a_415(client) -> None:
    for headers in ({"content-type": "application/x-www-form-urlencoded"}, {}):
        response = client.post("/v1/check", content=b"tosguard: 1\nsources: []\n", headers=headers)
        problem = assert_problem(response, 415, "unsupported-media-type")
        assert "application/yaml" in problem["errors"][0]["help"]


def test_too_many_sources_is_a_422(shipped) -> None:
    body = "tosguard: 1\nsources:\n" + "".join(f"  - id: s{i}\n" for i in range(6))
    with make_client(shipped, max_sources=5) as client:
        response = client.post(
            "/v1/check", content=body.encode(), headers={"content-type": "application/yaml"}
        )
    problem = assert_problem(response, 422, "manifest-too-many-sources")
    assert problem["errors"][0]["pointer"] == "/sources"


# ---- body limit -------------------------------------------------------------------------------
def test_body_over_the_limit_is_a_413_by_declared_length(shipped) -> None:
    with make_client(shipped, max_body_bytes=1000) as client:
        ok = client.post(
            "/v1/check",
            content=b"tosguard: 1\nsources: []\n" + b" " * 900,
            headers={"content-type": "application/yaml"},
        )
        assert ok.status_code == 200
        response = client.post(
            "/v1/check", content=b"#" * 1001, headers={"content-type": "application/yaml"}
        )
        problem = assert_problem(response, 413, "body-too-large")
        assert "1000 bytes" in problem["detail"]


def test_body_over_the_limit_is_a_413_when_chunked(shipped) -> None:
    sent = []

    def chunks():
        for _ in range(100):
            sent.append(1)
            yield b"#" * 100

    with make_client(shipped, max_body_bytes=1000) as client:
        response = client.post(
            "/v1/check", content=chunks(), headers={"content-type": "application/yaml"}
        )
        assert_problem(response, 413, "body-too-large")
        small = client.post(
            "/v1/check",
            content=iter([b"tosguard: 1\n", b"sources: []\n"]),
            headers={"content-type": "application/yaml"},
        )
        assert small.status_code == 200


def test_validate_has_the_body_limit_too(shipped) -> None:
    with make_client(shipped, max_body_bytes=100) as client:
        response = client.post(
            "/v1/policies/validate", content=b"#" * 101, headers={"content-type": "text/plain"}
        )
    assert_problem(response, 413, "body-too-large")


# ---- time limit -------------------------------------------------------------------------------
def test_a_check_over_the_time_limit_is_a_503(shipped, monkeypatch) -> None:
    import threading

    from tosguard.service import work

    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(5)
        return b"{}", "compliant"

    monkeypatch.setattr(work, "check_manifest", slow)
    # checks of manifests over `inline_max_bytes` run in the pool, under the time limit
    with make_client(shipped, timeout=0.2, inline_max_bytes=0) as client:
        response = client.post(
            "/v1/check",
            content=b"tosguard: 1\nsources: []\n",
            headers={"content-type": "application/yaml"},
        )
        release.set()
    problem = assert_problem(response, 503, "timeout")
    assert response.headers["retry-after"] == "1"
    assert "0.2 s" in problem["detail"]


def test_small_manifests_are_checked_on_the_loop_and_large_ones_in_the_pool(
    shipped, monkeypatch
) -> None:
    import threading

    from tosguard.service import work

    real, threads = work.check_manifest, []

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(work, "check_manifest", recording)
    manifest = (ROOT / "examples" / "acme.yaml").read_bytes()
    answers = []
    for limit in (len(manifest), len(manifest) - 1):
        with make_client(shipped, inline_max_bytes=limit) as client:
            answers.append(
                client.post(
                    "/v1/check?as_of=2026-11-22",
                    content=manifest,
                    headers={"content-type": "application/yaml"},
                )
            )
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert not threads[0].startswith("tosguard-eval")
    assert threads[1].startswith("tosguard-eval")


def test_an_internal_error_is_a_problem_not_a_traceback(shipped, monkeypatch, caplog) -> None:
    from tosguard.service import work

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(work, "check_manifest", broken)
    with make_client(shipped) as client, caplog.at_level(logging.ERROR, "tosguard.service"):
        response = client.post(
            "/v1/check",
            content=b"tosguard: 1\nsources: []\n",
            headers={"content-type": "application/yaml"},
        )
    problem = assert_problem(response, 500, "internal")
    assert "boom" not in response.text and "Traceback" not in response.text
    logged = [r for r in caplog.records if r.name == "tosguard.service"]
    assert logged and logged[0].fields["request_id"] == problem["request_id"]


# ---- the library ------------------------------------------------------------------------------
def test_policy_list_equals_the_cli(client) -> None:
    executable = shutil.which("tosguard")
    command = [executable] if executable else [sys.executable, "-m", "tosguard"]
    result = subprocess.run(
        [*command, "policies", "--format", "json"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert client.get("/v1/policies").json() == json.loads(result.stdout)


def test_policy_and_clause_details_carry_the_citation(client, shipped) -> None:
    document = next(iter(shipped.library.documents.values()))
    detail = client.get(f"/v1/policies/{document.id}").json()
    assert detail["id"] == document.id
    assert [v["effective"] for v in detail["versions"]] == [
        v.effective.isoformat() for v in document.versions
    ]
    clause = document.versions[-1].clauses[0]
    response = client.get(f"/v1/policies/{document.id}/clauses/{clause.id}")
    assert response.status_code == 200
    body = response.json()
    latest = body["versions"][-1]
    assert latest["citation"]["quote"] == clause.citation.quote
    assert latest["citation"]["section"] == clause.citation.section
    assert latest["policy_location"] == {"file": clause.file, "line": clause.line}
    assert latest["kind"] == clause.kind


def test_unknown_policy_and_clause_are_404_with_suggestions(client, shipped) -> None:
    document = next(iter(shipped.library.documents.values()))
    problem = assert_problem(client.get(f"/v1/policies/{document.id}x"), 404, "not-found")
    assert document.id in problem["errors"][0]["help"]
    clause = document.versions[-1].clauses[0].id
    problem = assert_problem(
        client.get(f"/v1/policies/{document.id}/clauses/{clause}x"), 404, "not-found"
    )
    assert clause in problem["errors"][0]["help"]


def test_validate_accepts_a_good_policy_and_locates_errors(client) -> None:
    good = client.post(
        "/v1/policies/validate",
        content=POLICY.encode(),
        params={"name": "acme.tos"},
        headers={"content-type": "text/plain"},
    )
    assert good.status_code == 200
    assert good.json() | {"revision": None} == {
        "valid": True,
        "name": "acme.tos",
        "context": "library",
        "revision": None,
        "errors": 0,
        "warnings": 0,
        "diagnostics": [],
    }
    bad = POLICY.replace("topic distillation", "topic distilation")
    response = client.post(
        "/v1/policies/validate",
        content=bad.encode(),
        params={"name": "acme.tos", "context": "none"},
        headers={"content-type": "text/plain"},
    )
    result = response.json()
    assert response.status_code == 200 and result["valid"] is False
    (diagnostic,) = result["diagnostics"]
    assert (diagnostic["line"], diagnostic["file"]) == (9, "acme.tos")
    assert "distillation" in diagnostic["help"]


def test_validate_reports_lint_warnings_too(client) -> None:
    """What `tosguard lint` says about the text, warnings included, not only what stops it
    from loading."""
    text = POLICY.replace('    remedy "Do not distil Acme output."\n', "")
    result = client.post(
        "/v1/policies/validate",
        content=text.encode(),
        params={"name": "acme.tos", "context": "none"},
        headers={"content-type": "text/plain"},
    ).json()
    assert result["valid"] is True and result["errors"] == 0 and result["warnings"] == 1
    (warning,) = result["diagnostics"]
    assert (warning["code"], warning["severity"], warning["line"]) == (
        "policy-missing-remedy",
        "warning",
        8,
    )
    assert warning["code"] in {d.code for d in lint_text(text, "acme.tos").warnings}


def test_validate_uses_the_library_context(client, shipped) -> None:
    """A library file needs the named sets of its siblings: alone it does not check."""
    for _path, display, data in shipped.contents:
        in_context = client.post(
            "/v1/policies/validate",
            content=data,
            params={"name": display},
            headers={"content-type": "text/plain"},
        ).json()
        assert in_context["valid"], (display, in_context["diagnostics"])


@pytest.mark.parametrize(
    "text", [b"\xff\xfe policy", b"policy {", b"}" * 10000, b"policy p {\n" * 2000]
)
def test_validate_never_fails_on_garbage(client, text: bytes) -> None:
    response = client.post(
        "/v1/policies/validate", content=text, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200
    result = response.json()
    assert not result["valid"] and result["diagnostics"]
    for diagnostic in result["diagnostics"]:
        assert diagnostic["code"] and diagnostic["message"]


def test_validate_needs_a_body(client) -> None:
    response = client.post("/v1/policies/validate", headers={"content-type": "text/plain"})
    assert_problem(response, 422, "invalid-request")


def test_validate_refuses_other_media_types(client) -> None:
    response = client.post(
        "/v1/policies/validate", content=b"{}", headers={"content-type": "application/json"}
    )
    assert_problem(response, 415, "unsupported-media-type")


# ---- routing errors ---------------------------------------------------------------------------
def test_unknown_paths_and_methods_are_problems(client) -> None:
    assert_problem(client.get("/v2/check"), 404, "not-found")
    response = client.put("/v1/check")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"


# ---- API keys ---------------------------------------------------------------------------------
@pytest.fixture
def keyed(shipped, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# service keys\n{KEY}\n\nanother-key-0123456789\n")
    with make_client(shipped, api_keys_file=str(keys)) as client:
        yield client


def test_keys_are_required_when_configured(keyed, caplog) -> None:
    body, headers = b"tosguard: 1\nsources: []\n", {"content-type": "application/yaml"}
    with caplog.at_level(logging.INFO, "tosguard.access"):
        response = keyed.post("/v1/check", content=body, headers=headers)
        problem = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert problem["errors"] == []
        wrong = keyed.post(
            "/v1/check", content=body, headers={**headers, "authorization": f"Bearer {KEY}x"}
        )
        assert_problem(wrong, 401, "unauthorized")
        bearer = keyed.post(
            "/v1/check", content=body, headers={**headers, "authorization": f"Bearer {KEY}"}
        )
        assert bearer.status_code == 200
        header = keyed.post("/v1/check", content=body, headers={**headers, "x-api-key": KEY})
        assert header.status_code == 200
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200
    assert keyed.get("/openapi.json").status_code == 200
    for page in ("/docs", "/redoc", "/docs/static/swagger-ui.css"):  # public, like the document
        assert keyed.get(page).status_code == 200, page
    assert_problem(keyed.get("/metrics"), 401, "unauthorized")
    assert keyed.get("/metrics", headers={"x-api-key": KEY}).status_code == 200
    lines = [json.dumps(r.fields) for r in caplog.records if r.name == "tosguard.access"]
    assert lines and not any(KEY in line for line in lines)
    assert sum(key_id(KEY) in line for line in lines) == 2


def test_public_metrics(shipped, tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(KEY)
    with make_client(shipped, api_keys_file=str(keys), public_metrics=True) as client:
        assert client.get("/metrics").status_code == 200
        assert_problem(client.get("/v1/policies"), 401, "unauthorized")


def test_short_keys_and_unreadable_key_files_are_refused(tmp_path) -> None:
    from tosguard.errors import UsageError
    from tosguard.service.auth import ApiKeys

    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(UsageError, match="shorter than"):
        ApiKeys.load(str(short), environ={})
    with pytest.raises(UsageError, match="cannot read"):
        ApiKeys.load(str(tmp_path / "missing"), environ={})
    keys = ApiKeys.load(None, environ={"TOSGUARD_API_KEYS": f"{KEY}, "})
    assert keys.match(KEY.encode()) == key_id(KEY)
    assert keys.match(b"nope") is None and keys.match(None) is None
    assert not ApiKeys.load(None, environ={}).enabled


# ---- reloads ----------------------------------------------------------------------------------
def test_reload_over_http_needs_keys(client) -> None:
    problem = assert_problem(client.post("/v1/admin/reload"), 403, "reload-disabled")
    assert "SIGHUP" in problem["detail"]


def test_a_failed_reload_keeps_the_set_in_use(tmp_path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "acme.tos").write_text(POLICY)
    keys = tmp_path / "keys"
    keys.write_text(KEY)
    auth = {"x-api-key": KEY}
    manifest = (
        b"tosguard: 1\nsources:\n  - {id: a, kind: model-output, provider: acme, "
        b"service: api, use: [distillation]}\n"
    )
    headers = {**auth, "content-type": "application/yaml"}
    settings = Settings(policies=(str(policies),), api_keys_file=str(keys), use_cache=False)
    with TestClient(create_app(settings)) as client:  # loads at start-up
        first = client.get("/readyz", headers=auth).json()["revision"]
        assert (
            client.post("/v1/check", content=manifest, headers=headers).json()["verdict"]
            == "non_compliant"
        )

        (policies / "acme.tos").write_text(POLICY.replace("kind prohibition", "kind prohibitio"))
        response = client.post("/v1/admin/reload", headers=auth)
        problem = assert_problem(response, 409, "reload-failed")
        assert problem["errors"][0]["file"].endswith("acme.tos")
        assert problem["errors"][0]["line"] == 10
        assert first in problem["detail"]
        ready = client.get("/readyz").json()
        assert ready["revision"] == first and ready["reload_failures"] == 1
        assert (
            client.post("/v1/check", content=manifest, headers=headers).json()["verdict"]
            == "non_compliant"
        )

        (policies / "acme.tos").write_text(
            POLICY.replace("severity", "severity").replace(
                'source.use contains "distillation"', 'source.use contains "rlhf"'
            )
        )
        response = client.post("/v1/admin/reload", headers=auth)
        assert response.status_code == 200
        outcome = response.json()
        assert outcome["previous"] == first and outcome["changed"]
        assert outcome["revision"] != first and outcome["policies"] == 1
        assert (
            client.post("/v1/check", content=manifest, headers=headers).json()["verdict"]
            == "compliant"
        )
        metrics = client.get("/metrics", headers=auth).text
        assert 'tosguard_policy_reloads_total{result="failure"} 1.0' in metrics
        assert 'tosguard_policy_reloads_total{result="success"} 1.0' in metrics
        assert f'tosguard_policy_set_info{{revision="{outcome["revision"]}"}} 1.0' in metrics
        assert f'revision="{first}"' not in metrics


def test_a_reload_rotates_the_api_keys(shipped, tmp_path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(KEY)
    new_key = "rotated-key-0123456789abcdef"
    with make_client(shipped, api_keys_file=str(keys)) as client:
        assert client.get("/v1/policies", headers={"x-api-key": KEY}).status_code == 200
        keys.write_text(new_key)
        assert client.post("/v1/admin/reload", headers={"x-api-key": KEY}).status_code == 200
        assert_problem(client.get("/v1/policies", headers={"x-api-key": KEY}), 401, "unauthorized")
        assert client.get("/v1/policies", headers={"x-api-key": new_key}).status_code == 200
        keys.write_text("short")  # unreadable as keys: the keys in use stay
        assert client.post("/v1/admin/reload", headers={"x-api-key": new_key}).status_code == 200
        assert client.get("/v1/policies", headers={"x-api-key": new_key}).status_code == 200


def test_the_app_survives_a_second_lifespan(shipped) -> None:
    app = create_app(Settings(), policy_set=shipped)
    for _ in range(2):
        with TestClient(app) as client:
            response = client.post(
                "/v1/policies/validate",
                content=POLICY.encode(),
                headers={"content-type": "text/plain"},
            )
            assert response.status_code == 200


def test_an_invalid_set_at_start_up_does_not_serve(tmp_path) -> None:
    (tmp_path / "bad.tos").write_text("policy {")
    app = create_app(Settings(policies=(str(tmp_path),), use_cache=False))
    with pytest.raises(StartupFailure), TestClient(app):
        pass


# ---- operations -------------------------------------------------------------------------------
def test_health_and_readiness(client, shipped) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["revision"] == shipped.revision
    assert ready["clauses"] == shipped.library.clause_count


def test_metrics_count_requests_verdicts_and_the_revision(client, shipped) -> None:
    path = ROOT / "examples" / "acme.yaml"
    for _ in range(3):
        client.post(
            "/v1/check", content=path.read_bytes(), headers={"content-type": "application/yaml"}
        )
    client.get("/v1/policies/no-such-policy")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    verdict = client.post(
        "/v1/check", content=path.read_bytes(), headers={"content-type": "application/yaml"}
    ).json()["verdict"]
    assert f'tosguard_checks_total{{verdict="{verdict}"}} 3.0' in text
    assert 'tosguard_http_requests_total{method="POST",route="/v1/check",status="200"} 3.0' in text
    assert 'route="/v1/policies/{policy_id}",status="404"' in text
    assert "no-such-policy" not in text
    assert f'tosguard_policy_set_info{{revision="{shipped.revision}"}} 1.0' in text
    assert "tosguard_http_request_duration_seconds_bucket" in text
    assert "tosguard_process_resident_memory_bytes" in text


def test_request_ids_are_echoed_or_made(client, caplog) -> None:
    with caplog.at_level(logging.INFO, "tosguard.access"):
        given = client.get("/healthz", headers={"x-request-id": "abc-123"})
        made = client.get("/healthz", headers={"x-request-id": b"bad id\xc3\xa9"})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    (first, second) = [r.fields for r in caplog.records if r.name == "tosguard.access"]
    assert first["request_id"] == "abc-123" and first["status"] == 200
    assert first["route"] == "/healthz" and first["duration_ms"] >= 0
    assert second["request_id"] == made.headers["x-request-id"]


def test_access_log_is_json_with_the_verdict(client, capsys) -> None:
    from tosguard.service.logs import JsonFormatter

    record = logging.LogRecord("tosguard.access", logging.INFO, __file__, 1, "request", None, None)
    record.fields = {"request_id": "r", "status": 200, "verdict": "compliant"}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["verdict"] == "compliant"
    assert line["time"].endswith("Z") and line["level"] == "info"


def test_log_lines_are_written_off_the_logging_thread(monkeypatch) -> None:
    """A stalled standard error (a full pipe, a file in writeback) must not stall requests:
    lines are formatted at once and written by a background thread, all of them by the end."""
    import io
    import threading
    import time

    from tosguard.service.logs import BackgroundHandler, JsonFormatter

    class SlowStream(io.StringIO):
        writes = 0

        def write(self, text: str) -> int:
            time.sleep(0.2)
            self.writes += 1
            return super().write(text)

    stream = SlowStream()
    monkeypatch.setattr("sys.stderr", stream)
    handler = BackgroundHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.Logger("tosguard.test-background")
    logger.addHandler(handler)
    started = time.monotonic()
    for number in range(5):
        logger.warning("line %d", number)
    logged = time.monotonic() - started
    assert handler.writer.is_alive() and handler.writer is not threading.current_thread()
    handler.close()  # writes what is queued
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [f"line {n}" for n in range(5)]
    assert logged < 0.5  # writing them one by one would take 1 s
    # what queued up while the writer was busy went out in one write (a writer that took a
    # line at a time fell behind a busy worker, and its queue grew)
    assert stream.writes <= 2


def test_access_log_can_be_turned_off(shipped, caplog) -> None:
    with (
        make_client(shipped, access_log=False) as client,
        caplog.at_level(logging.INFO, "tosguard.access"),
    ):
        client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "tosguard.access"]


# ---- the OpenAPI document ---------------------------------------------------------------------
def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_openapi_describes_every_error_as_a_problem(client) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    assert "Problem" in document["components"]["schemas"]
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                assert list(response["content"]) == [PROBLEM], (path, method, status)
        assert "security" not in operation
    check = document["paths"]["/v1/check"]["post"]
    assert set(check["responses"]) == {"200", "400", "406", "408", "413", "415", "422", "503"}
    assert set(check["requestBody"]["content"]) == {"application/json", "application/yaml"}
    assert "Manifest" in document["components"]["schemas"]


def test_openapi_declares_keys_when_configured(keyed) -> None:
    document = keyed.get("/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for path, _, operation in operations(document):
        protected = path not in ("/healthz", "/readyz")
        assert ("401" in operation["responses"]) == protected, path
        assert ("security" in operation) == protected, path


# ---- the CLI stays light ----------------------------------------------------------------------
def test_cli_check_does_not_import_the_web_stack() -> None:
    code = (
        "import sys\nfrom tosguard.cli import main\n"
        "try:\n    main(['check', 'examples/acme.yaml', '--format', 'json'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'prometheus_client', "
        "'tosguard.service.app') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=120, text=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


def test_unknown_ids_are_errors_unless_accepted(shipped) -> None:
    manifest = (
        b"tosguard: 1\nsources:\n  - {id: s, kind: model-output, provider: opnai, "
        b"service: api, use: [distillation]}\n"
    )
    headers = {"content-type": "application/yaml"}
    with make_client(shipped) as client:
        strict = client.post("/v1/check", content=manifest, headers=headers).json()
        accepted = client.post(
            "/v1/check", content=manifest, headers=headers, params={"accept_unknown_ids": "true"}
        ).json()
    assert strict["verdict"] == "undetermined"
    assert [(f["clause"], f["severity"]) for f in strict["findings"]] == [
        ("unknown-provider", "error")
    ]
    assert accepted["verdict"] == "compliant"
    assert [f["severity"] for f in accepted["findings"]] == ["warning"]
    with make_client(shipped, accept_unknown_ids=True) as client:
        default = client.post("/v1/check", content=manifest, headers=headers).json()
        asked = client.post(
            "/v1/check", content=manifest, headers=headers, params={"accept_unknown_ids": "false"}
        ).json()
    assert default["verdict"] == "compliant" and asked["verdict"] == "undetermined"
