"""The manifest model, its vocabularies, and the diagnostics of parse_manifest/load_manifest."""

from __future__ import annotations

import json
import string
from datetime import date

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tosguard.errors import ManifestError
from tosguard.manifest import countries
from tosguard.manifest import model as manifest
from tosguard.manifest.model import (
    PROVIDERS,
    PURPOSES,
    ROUTES,
    SERVICES,
    SOURCE_KINDS,
    TRACES,
    USES,
    Manifest,
    known_paths,
    load_manifest,
    manifest_json_schema,
    parse_manifest,
    path_values,
)

SPEC_EXAMPLE = """\
tosguard: 1
organization:
  name: Acme AI
  country: AE                 # ISO 3166-1 alpha-2, where the organization is established
  owned_from: AE              # jurisdiction of majority ownership (optional)
  verified_with: [openai]     # identity/organization verifications completed (provider ids)
  agreements: []              # ids of signed agreements or written authorizations (waivers)
  monthly_active_users: 120000
model:                        # the model this pipeline trains (omit when only building data)
  name: acme-chat-7b
  purpose: general-assistant  # vocabulary below
  distribution: open-weights  # internal | api | product | open-weights
  commercial: true
  attributions: ["Built with Llama"]   # notices the release displays
  downstream_licenses: [llama3.1]      # licences shipped with the release
sources:
  - id: math-traces
    kind: model-output        # model-output | model-weights | dataset | web-crawl | human
    provider: openai          # provider vocabulary below
    model: gpt-4o-mini
    service: api
    access:
      route: direct
      from_country: AE
    collected: {from: 2025-01-02, to: 2025-01-20}
    records: 17000
    reasoning_traces: none    # none | summarized | raw
    use: [fine-tuning]
    license: null             # SPDX id or licence name, for datasets and weights
    derived_from: []          # ids of other sources this one was produced from
facts: {}                     # free-form extension facts for custom policies
"""


def errors_of(text: str, name: str = "m.yaml") -> list:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, name)
    diagnostics = info.value.diagnostics
    assert all(d.code != "manifest-internal" for d in diagnostics)
    return diagnostics


def only_error(text: str, name: str = "m.yaml"):
    diagnostics = errors_of(text, name)
    assert len(diagnostics) == 1, diagnostics
    return diagnostics[0]


def where(diagnostic) -> tuple[int, int]:
    return diagnostic.span.line, diagnostic.span.column


def manifest_with(source_lines: str = "", top: str = "") -> str:
    return f"tosguard: 1\n{top}sources:\n  - id: s\n{source_lines}"


# --- the model ----------------------------------------------------------------------------


def test_spec_example_parses():
    loaded = parse_manifest(SPEC_EXAMPLE, "acme.yaml")
    m = loaded.manifest
    assert m.tosguard == 1
    assert m.organization.country == "AE" and m.organization.verified_with == ["openai"]
    assert m.organization.agreements == [] and m.organization.monthly_active_users == 120000
    assert m.model.purpose == "general-assistant" and m.model.commercial is True
    source = m.sources[0]
    assert (source.kind, source.provider, source.service) == ("model-output", "openai", "api")
    assert source.access.from_country == "AE" and source.access.route == "direct"
    assert source.collected.from_ == date(2025, 1, 2) and source.collected.to == date(2025, 1, 20)
    assert source.records == 17000 and source.use == ["fine-tuning"]
    assert source.license is None and source.derived_from == []
    assert m.facts == {}
    assert loaded.span("/sources/0").line == 17
    assert loaded.span("/sources/0/access/from_country").column == 21


def test_undeclared_is_none_and_declared_empty_is_empty():
    m = parse_manifest("tosguard: 1\nsources:\n  - id: a\n    use: []\n").manifest
    assert m.organization is None and m.model is None
    assert m.sources[0].use == [] and m.sources[0].derived_from is None
    assert m.sources[0].access is None and m.sources[0].records is None
    assert parse_manifest("tosguard: 1\nsources: []\n").manifest.sources == []


def test_norway_stays_a_string_and_validates():
    m = parse_manifest(
        "tosguard: 1\norganization:\n  country: NO\n  owned_from: NO\n  name: no\nsources: []\n"
    ).manifest
    assert m.organization.country == "NO" and m.organization.owned_from == "NO"
    assert m.organization.name == "no"


def test_lowercase_country_gets_uppercase_help():
    d = only_error("tosguard: 1\norganization:\n  country: no\nsources: []\n")
    assert d.code == "manifest-country"
    assert where(d) == (3, 12)
    assert d.help == "country codes are uppercase: `NO`"
    assert d.pointer == "/organization/country"


def test_uk_fails_with_gb_suggestion():
    d = only_error(manifest_with("    access: {route: proxy, from_country: UK}\n"))
    assert d.code == "manifest-country"
    assert d.message == "`UK` is not an ISO 3166-1 alpha-2 country code"
    assert d.help == "did you mean `GB` (United Kingdom)?"
    assert where(d) == (4, 42)
    assert d.source_line == "    access: {route: proxy, from_country: UK}"


def test_country_name_suggests_code():
    d = only_error("tosguard: 1\norganization: {country: Norway}\nsources: []\n")
    assert d.help == "did you mean `NO`?"


def test_unknown_key_with_did_you_mean():
    d = only_error("tosguard: 1\nmodel:\n  purpos: chat\nsources: []\n")
    assert d.code == "manifest-unknown-key"
    assert d.message == "unknown key `purpos` in `model`"
    assert d.help == "did you mean `purpose`?"
    assert where(d) == (3, 3)
    assert d.pointer == "/model/purpos"


def test_unknown_top_level_key_points_to_facts():
    d = only_error("tosguard: 1\nsources: []\ncustom: 1\n")
    assert d.code == "manifest-unknown-key"
    assert "facts" in d.help
    assert where(d) == (3, 1)


def test_facts_are_free_form():
    m = parse_manifest("tosguard: 1\nsources: []\nfacts: {eu_entity: true, x: [1, {y: 2}]}\n")
    assert m.manifest.facts == {"eu_entity": True, "x": [1, {"y": 2}]}


def test_missing_tosguard():
    d = only_error("sources: []\n")
    assert d.code == "manifest-missing-key"
    assert d.message == "missing required key `tosguard` at the top level"
    assert "tosguard: 1" in d.help
    assert where(d) == (1, 1)


@pytest.mark.parametrize("value", ["2", "true", "'1'", "1.0", "0"])
def test_wrong_tosguard_version(value):
    d = only_error(f"tosguard: {value}\nsources: []\n")
    assert d.code == "manifest-version"
    assert "this tosguard reads manifest format 1" in d.help
    assert where(d) == (1, 11)


def test_missing_required_key_in_source():
    d = only_error("tosguard: 1\nsources:\n  - id: a\n  - id: b\n  - kind: dataset\n")
    assert d.code == "manifest-missing-key"
    assert d.message == "missing required key `id` in `sources[2]`"
    assert d.pointer == "/sources/2/id"
    assert where(d) == (5, 5)


def test_invalid_use_value():
    d = only_error(manifest_with("    use: [fine-tuning, distillaton]\n"))
    assert d.code == "manifest-invalid-value"
    assert d.message == "`distillaton` is not a valid `use`"
    assert d.help == "did you mean `distillation`?"
    assert where(d) == (4, 24)
    assert d.pointer == "/sources/0/use/1"


def test_type_errors():
    diagnostics = errors_of(
        manifest_with("    records: abc\n    model: 4.5\n    use: distillation\n")
        + "model: {commercial: yes}\n"
    )
    by_pointer = {d.pointer: d for d in diagnostics}
    records = by_pointer["/sources/0/records"]
    assert records.code == "manifest-type"
    assert records.message == "expected a whole number for `records`, found `abc`"
    assert where(records) == (4, 14)
    assert by_pointer["/sources/0/model"].help == 'put the value in quotes: `"4.5"`'
    assert by_pointer["/sources/0/use"].message == (
        "expected a list for `use`, found `distillation`"
    )
    commercial = by_pointer["/model/commercial"]
    assert commercial.message == "expected `true` or `false` for `commercial`, found `yes`"
    assert "YAML 1.2" in commercial.help


def test_negative_count_and_empty_id():
    diagnostics = errors_of("tosguard: 1\nsources:\n  - id: ''\n    records: -1\n")
    assert [(d.code, d.pointer) for d in diagnostics] == [
        ("manifest-invalid-value", "/sources/0/id"),
        ("manifest-invalid-value", "/sources/0/records"),
    ]


def test_interval_checks():
    d = only_error(manifest_with("    collected: {from: 2025-02-01, to: 2025-01-01}\n"))
    assert d.code == "manifest-invalid-value"
    assert "ends before it starts" in d.message
    assert d.pointer == "/sources/0/collected"
    d = only_error(manifest_with("    collected: {from: 2025-02-30}\n"))
    assert d.message == "`2025-02-30` is not a valid date"
    assert d.pointer == "/sources/0/collected/from"
    d = only_error(manifest_with("    collected: {to: 20250101}\n"))
    assert d.message == "expected a date `YYYY-MM-DD`, found `20250101`"
    one_sided = parse_manifest(manifest_with("    collected: {from: 2025-02-01}\n"))
    assert one_sided.manifest.sources[0].collected.to is None


def test_provider_ids():
    m = parse_manifest(manifest_with("    provider: cohere\n")).manifest
    assert m.sources[0].provider == "cohere"  # policies may declare other providers
    d = only_error(manifest_with("    provider: OpenAI\n"))
    assert d.code == "manifest-invalid-value"
    assert d.help == "ids are lowercase: `openai`"
    d = only_error("tosguard: 1\norganization: {verified_with: [open ai]}\nsources: []\n")
    assert d.pointer == "/organization/verified_with/0"


def test_duplicate_ids_and_unknown_derived_from_reported_together():
    diagnostics = errors_of(
        "tosguard: 1\nsources:\n"
        "  - id: traces\n"
        "  - id: traces\n"
        "    records: x\n"
        "  - id: mix\n"
        "    derived_from: [tracse, nowhere]\n"
    )
    assert [(d.code, where(d)) for d in diagnostics] == [
        ("manifest-duplicate-id", (4, 9)),
        ("manifest-type", (5, 14)),
        ("manifest-unknown-source", (7, 20)),
        ("manifest-unknown-source", (7, 28)),
    ]
    assert "line 3" in diagnostics[0].help
    assert diagnostics[2].help == "did you mean `traces`?"


def test_model_validated_directly_checks_references():
    with pytest.raises(ValidationError):
        Manifest.model_validate({"tosguard": 1, "sources": [{"id": "a"}, {"id": "a"}]})
    with pytest.raises(ValidationError):
        Manifest.model_validate({"tosguard": 1, "sources": [{"id": "a", "derived_from": ["b"]}]})


def test_every_error_has_position_source_line_and_pointer():
    text = (
        "tosguard: 2\n"
        "organization:\n  country: UK\n  monthly_active_users: many\n  extra: 1\n"
        "model:\n  purpose: chatbot\n  distribution: [api]\n"
        "sources:\n  - id: a\n    kind: weights\n    access: {route: vpn, from_country: us}\n"
        "  - 7\n  - kind: human\n"
    )
    diagnostics = errors_of(text)
    assert len(diagnostics) == 11
    assert diagnostics[5].help == "write a single value, not a list: `api`"
    for d in diagnostics:
        assert d.span.file == "m.yaml" and d.span.line > 0 and d.span.column > 0, d
        assert d.source_line and d.pointer and d.message, d
        assert d.message[:1] in string.ascii_lowercase + "`" and not d.message.endswith(".")
    positions = [(d.span.line, d.span.column) for d in diagnostics]
    assert positions == sorted(positions)


def test_root_must_be_a_mapping():
    d = only_error("- a\n- b\n")
    assert d.code == "manifest-type"
    assert where(d) == (1, 1)


def test_loader_errors_pass_through():
    assert only_error("a: &x 1\n").code == "manifest-alias"
    assert only_error("tosguard: 1\ntosguard: 1\n").code == "manifest-duplicate-key"
    assert only_error(b"tosguard: 1\n\xff").code == "manifest-encoding"


def test_internal_guard(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(manifest, "load_document_text", broken)
    with pytest.raises(ManifestError) as info:
        parse_manifest("tosguard: 1\nsources: []\n")
    assert info.value.diagnostics[0].code == "manifest-internal"


# --- JSON and YAML ------------------------------------------------------------------------


def test_json_and_yaml_give_identical_models():
    data = yaml.safe_load(SPEC_EXAMPLE)
    data["sources"][0]["collected"] = {"from": "2025-01-02", "to": "2025-01-20"}
    from_yaml = parse_manifest(SPEC_EXAMPLE, "m.yaml")
    from_json = parse_manifest(json.dumps(data, indent=2), "m.json")
    assert from_yaml.manifest == from_json.manifest
    assert set(from_yaml.positions) == set(from_json.positions)
    assert str(from_json.span("/sources/0/access/from_country")) == "m.json:34:25"


def test_json_errors_have_positions():
    d = only_error(
        '{\n  "tosguard": 1,\n  "sources": [{"id": "a", "use": ["distil"]}]\n}', "m.json"
    )
    assert d.code == "manifest-invalid-value"
    assert where(d) == (3, 35)
    d = only_error('{"tosguard": 1, "sources": [], "sources": []}', "m.json")
    assert d.code == "manifest-duplicate-key"


def test_format_argument_overrides_extension():
    loaded = parse_manifest('{"tosguard": 1, "sources": []}', "body", fmt="json")
    assert loaded.manifest.sources == []


# --- files and spans ----------------------------------------------------------------------


def test_load_manifest_from_files(tmp_path):
    path = tmp_path / "pipeline.json"
    path.write_text('{"tosguard": 1, "sources": [{"id": "a"}]}')
    loaded = load_manifest(path)
    assert loaded.name == str(path)
    assert loaded.manifest.sources[0].id == "a"
    assert loaded.span("/sources/0/id").line == 1


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ManifestError) as info:
        load_manifest(missing)
    d = info.value.diagnostics[0]
    assert d.code == "manifest-io"
    assert d.message == f"cannot read `{missing}`: No such file or directory"
    assert d.help == "check the path"
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path)
    assert info.value.diagnostics[0].code == "manifest-io"


def test_span_and_source_line():
    loaded = parse_manifest(SPEC_EXAMPLE, "acme.yaml")
    assert str(loaded.span("/sources/0/access/from_country")) == "acme.yaml:24:21"
    assert str(loaded.span("/sources/0/access/undeclared/x")) == "acme.yaml:23:7"
    assert str(loaded.span("/model/purpose#key")) == "acme.yaml:11:3"
    assert loaded.source_line(24) == "      from_country: AE"
    assert loaded.source_line(999) == ""


# --- vocabularies and paths ---------------------------------------------------------------


def test_vocabularies():
    assert "general-assistant" in PURPOSES and len(PURPOSES) == 12
    assert SOURCE_KINDS == ("model-output", "model-weights", "dataset", "web-crawl", "human")
    assert "third-party" in SERVICES and "shared-account" in ROUTES
    assert TRACES == ("none", "summarized", "raw") and "distillation" in USES
    assert PROVIDERS[:2] == ("openai", "anthropic")


def test_known_paths_and_values():
    paths = known_paths()
    assert paths["source.provider"] == "str"
    assert paths["source.access.from_country"] == "country"
    assert paths["source.collected.from"] == "date" and "source.collected.from_" not in paths
    assert paths["source.records"] == "int" and paths["model.commercial"] == "bool"
    assert paths["organization.agreements"] == "list"
    assert paths["organization.country"] == "country"
    values = path_values()
    assert values["source.use"] == USES
    assert values["model.purpose"] == PURPOSES
    assert values["source.access.route"] == ROUTES
    assert "source.provider" not in values


def test_json_schema():
    schema = manifest_json_schema()
    assert schema["properties"]["tosguard"]["const"] == 1
    start = schema["$defs"]["Interval"]["properties"]["from"]
    assert start["format"] == "date" and start["type"] == ["string", "null"]
    assert schema["additionalProperties"] is False


def test_countries_module_does_not_import_pycountry():
    import sys

    assert countries.is_country("NO") and not countries.is_country("no")
    assert countries.country_name("GB") == "United Kingdom"
    assert "pycountry" not in sys.modules
    assert len(countries.all_codes()) >= 249
    assert countries.suggest_country("Q1") == "use an ISO 3166-1 alpha-2 code such as `US` or `DE`"


# --- properties ---------------------------------------------------------------------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_manifest_errors(data):
    for name in ("m.yaml", "m.json"):
        try:
            parse_manifest(data, name)
        except ManifestError as err:
            assert all(d.code != "manifest-internal" for d in err.diagnostics)


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_manifest_errors(text):
    for name in ("m.yaml", "m.json"):
        try:
            parse_manifest(text, name)
        except ManifestError as err:
            assert all(d.code != "manifest-internal" for d in err.diagnostics)


YAML_SPECIALS = st.sampled_from(
    [
        "NO",
        "no",
        "yes",
        "off",
        "~",
        "null",
        "1",
        "1e5",
        "1.5e5",
        "08",
        "010",
        "0o17",
        "2025-01-02",
        "",
        "a: b",
        "#x",
    ]
)
words = st.text(alphabet=string.ascii_letters + string.digits + " -_.:#'\"é漢", max_size=12)
# PyYAML's emitter mangles lone line separators when allow_unicode=True; leave them out. A
# lone surrogate is not text: a manifest holding one is refused (`manifest-encoding`).
any_text = st.text(
    st.characters(exclude_characters="\x85\u2028\u2029", exclude_categories=("Cs",)), max_size=10
)
free_text = words | YAML_SPECIALS | any_text
ids = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
country_codes = st.sampled_from(sorted(countries.all_codes()))
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))


def optional(strategy):
    return st.none() | strategy


@st.composite
def intervals(draw):
    start, end = sorted([draw(dates), draw(dates)])
    interval = {}
    if draw(st.booleans()):
        interval["from"] = start.isoformat()
    if draw(st.booleans()):
        interval["to"] = end.isoformat()
    return interval


@st.composite
def manifests(draw):
    source_ids = draw(st.lists(ids, unique=True, max_size=5))
    sources = []
    for source_id in source_ids:
        source = {"id": source_id}
        fields = {
            "kind": st.sampled_from(SOURCE_KINDS),
            "provider": ids | st.sampled_from(PROVIDERS),
            "model": free_text,
            "service": st.sampled_from(SERVICES),
            "access": st.fixed_dictionaries(
                {}, optional={"route": st.sampled_from(ROUTES), "from_country": country_codes}
            ),
            "collected": intervals(),
            "records": st.integers(min_value=0, max_value=10**12),
            "reasoning_traces": st.sampled_from(TRACES),
            "use": st.lists(st.sampled_from(USES), max_size=3),
            "license": optional(free_text),
            "derived_from": st.lists(st.sampled_from(source_ids), max_size=2),
        }
        for key, strategy in fields.items():
            if draw(st.booleans()):
                source[key] = draw(strategy)
        sources.append(source)
    data = {"tosguard": 1, "sources": sources}
    if draw(st.booleans()):
        data["organization"] = draw(st.fixed_dictionaries({}, optional={
            "name": free_text, "country": country_codes, "owned_from": country_codes,
            "verified_with": st.lists(ids, max_size=2),
            "agreements": st.lists(free_text, max_size=2),
            "monthly_active_users": st.integers(min_value=0, max_value=10**9),
        }))  # fmt: skip
    if draw(st.booleans()):
        data["model"] = draw(st.fixed_dictionaries({}, optional={
            "name": free_text, "purpose": st.sampled_from(PURPOSES),
            "distribution": st.sampled_from(("internal", "api", "product", "open-weights")),
            "commercial": st.booleans(), "attributions": st.lists(free_text, max_size=2),
            "downstream_licenses": st.lists(free_text, max_size=2),
        }))  # fmt: skip
    if draw(st.booleans()):
        data["facts"] = draw(st.dictionaries(ids, st.booleans() | free_text | st.integers()))
    return data


@FUZZ
@given(manifests(), st.booleans())
def test_generated_manifests_parse_the_same_from_json_and_yaml(data, flow_style):
    from_json = parse_manifest(json.dumps(data, ensure_ascii=False), "m.json")
    as_yaml = yaml.safe_dump(data, allow_unicode=True, default_flow_style=flow_style)
    from_yaml = parse_manifest(as_yaml, "m.yaml")
    assert from_json.manifest == from_yaml.manifest
    assert from_json.manifest.model_dump(by_alias=True, exclude_none=True, mode="json") == (
        {"facts": {}, **_without_nulls(data)}
    )
    for loaded in (from_json, from_yaml):
        for index, source in enumerate(data["sources"]):
            pointer = f"/sources/{index}"
            assert pointer in loaded.positions
            for key in source:
                assert f"{pointer}/{key}" in loaded.positions
                assert f"{pointer}/{key}#key" in loaded.positions


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_field_types_come_from_the_model() -> None:
    """The checker and linter read a path's type from the manifest model's tags, not from its
    name: country fields are the ones typed Country, and a list of them keeps the tag."""
    from tosguard.manifest.fields import Country, type_tag
    from tosguard.manifest.model import known_paths

    countries = {path for path, kind in known_paths().items() if kind == "country"}
    assert countries == {
        "organization.country",
        "organization.owned_from",
        "source.access.from_country",
    }
    assert type_tag(list[Country], []) == ("list[country]", ())
    assert known_paths()["source.use"] == "list"


@given(
    index=st.one_of(
        st.integers(min_value=0, max_value=5).map(str),
        st.sampled_from(["", "00", "01", "-1", "²", "1/id", "0/access", "2/collected/to", "x"]),
    )
)
def test_a_source_position_is_the_position_map_s_nearest(index):
    """`LoadedManifest.position` reads `/sources/N` straight from the map: the same answer as
    walking the pointer, for every index, valid or not."""
    loaded = parse_manifest(SPEC_EXAMPLE, "spec.yaml")
    pointer = f"/sources/{index}"
    assert loaded.position(pointer) == loaded.positions.nearest(pointer)
