"""The manifest's JSON Schema, as editors read it: valid draft 2020-12 with an `$id`, a
description on every field, the library's ids offered as completions, messages that name what
was expected (no anyOf-with-null), every example manifest valid under it, and the published copy
(`schema/manifest-1.json`) up to date."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from test_cli import out, tosguard
from tosguard.manifest.model import SCHEMA_ID, manifest_json_schema
from tosguard.manifest.yamlload import load_document

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".yaml", ".json"))


@pytest.fixture(scope="module")
def schema() -> dict:
    result = tosguard("schema")
    assert result.returncode == 0, result.stderr
    return json.loads(out(result))


@pytest.fixture(scope="module")
def validator(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def as_json(value):
    """The manifest as JSON holds it (the loader reads YAML dates as dates)."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value


def fields(schema: dict):
    """Every property of every object in the schema: (where, name, definition)."""
    for name, definition in [("Manifest", schema), *schema["$defs"].items()]:
        for field, prop in definition.get("properties", {}).items():
            yield name, field, prop


def test_the_schema_is_draft_2020_12_with_an_id(schema, validator) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID


def test_every_field_has_a_description(schema) -> None:
    undescribed = [f"{m}.{f}" for m, f, prop in fields(schema) if not prop.get("description")]
    assert not undescribed, undescribed
    assert len(list(fields(schema))) >= 35


def test_optional_fields_are_not_anyof_null(schema) -> None:
    assert "anyOf" not in json.dumps(schema)
    assert schema["required"] == ["tosguard", "sources"]
    assert schema["$defs"]["Source"]["required"] == ["id"]


def test_library_ids_are_offered_as_completions(schema) -> None:
    source = schema["$defs"]["Source"]["properties"]
    assert "openai" in source["provider"]["examples"]
    assert "llama3.1" in source["license"]["examples"]
    organization = schema["$defs"]["Organization"]["properties"]
    assert "anthropic-authorization" in organization["agreements"]["items"]["examples"]
    assert "openai" in organization["verified_with"]["items"]["examples"]


def test_user_policies_add_their_ids(tmp_path) -> None:
    policy = tmp_path / "mine.tos"
    policy.write_text(
        'policy mine {\n  provider zeta-labs\n  document "Mine"\n  service api\n'
        '  effective 2020-01-01\n  url "https://example.org"\n'
        "  clause c {\n    topic distillation\n    kind prohibition\n"
        '    when source.records > 0\n    cite { section "1" quote "q" }\n  }\n}\n'
    )
    result = tosguard("schema", "--extra-policies", str(policy))
    assert result.returncode == 0, result.stderr
    source = json.loads(out(result))["$defs"]["Source"]["properties"]
    assert {"zeta-labs", "openai"} <= set(source["provider"]["examples"])


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_manifest_is_valid(validator, path) -> None:
    value, _ = load_document(path.read_bytes(), path.name)
    errors = [e.message for e in validator.iter_errors(as_json(value))]
    assert not errors, errors


@pytest.mark.parametrize(
    "source,expected",
    [
        ({"id": "a", "kind": "model_output"}, "is not one of ["),
        ({"id": "a", "records": "many"}, "is not of type 'integer', 'null'"),
        ({"id": "a", "collected": {"from": "soon"}}, "is not a 'date'"),
        ({"id": "a", "access": {"from_country": "Norway"}}, "does not match"),
        ({"id": "a", "licence": "MIT"}, "Additional properties are not allowed"),
    ],
)
def test_messages_name_what_was_expected(validator, source, expected) -> None:
    (error,) = validator.iter_errors({"tosguard": 1, "sources": [source]})
    assert expected in error.message
    assert "is not valid under any of the given schemas" not in error.message


def test_null_is_still_accepted_where_the_model_takes_it(validator) -> None:
    manifest = {
        "tosguard": 1,
        "organization": None,
        "model": {"name": None, "purpose": None},
        "sources": [{"id": "a", "license": None, "access": None, "use": None}],
    }
    assert not list(validator.iter_errors(manifest))


def test_the_published_schema_is_up_to_date(schema) -> None:
    published = ROOT / "schema" / "manifest-1.json"
    assert json.loads(published.read_text(encoding="utf-8")) == schema, (
        "regenerate it: tosguard schema -o schema/manifest-1.json"
    )


def test_the_service_documents_the_same_fields() -> None:
    bare = manifest_json_schema()
    assert "examples" not in json.dumps(bare)  # no library given: no ids
    assert bare["$defs"]["Source"]["properties"]["id"]["description"]
