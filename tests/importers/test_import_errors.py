"""`tosguard import` on bad inputs: located errors with registered codes, never a traceback;
the merging of several inputs; the provider tables; the command line; and a property: on any
front matter or JSON, import raises nothing but tosguard's own errors."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tosguard.api import import_manifest, load_library
from tosguard.codes import CODES
from tosguard.errors import TosguardError
from tosguard.manifest.model import PROVIDERS

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"


@pytest.fixture(scope="module")
def library():
    return load_library()


def _errors(library, tmp_path: Path, name: str, text: str, fmt: str | None = None):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TosguardError) as caught, contextlib.chdir(tmp_path):
        import_manifest(library, [name], fmt=fmt)
    for diagnostic in caught.value.diagnostics:
        assert diagnostic.code in CODES, diagnostic.code
    return caught.value.diagnostics


# (file name, text, code, line, column)
MALFORMED = [
    ("card/README.md", "---\nlicense: mit\nbase_model: [a, b\n---\n# x\n", "import-syntax", 4, 1),
    ("card/README.md", "---\nlicense: mit\nlicense: apache-2.0\n---\n", "import-syntax", 3, 1),
    ("card/README.md", "# A model\n\nNo metadata here.\n", "import-format", 1, 1),
    ("dup.json", '{"bomFormat": "CycloneDX", "bomFormat": "x"}', "import-syntax", 1, 28),
    (
        "bom.json",
        '{"bomFormat": "CycloneDX", "specVersion": "1.6",\n "components": [{"type": "robot", '
        '"name": "x"}]}',
        "import-schema",
        2,
        26,
    ),
    (
        "bom.json",
        '{"bomFormat": "CycloneDX", "specVersion": "2.0"}',
        "import-schema",
        1,
        43,
    ),
    (
        "doc.spdx3.json",
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",\n "@graph": [\n'
        '  {"type": "Relationship", "from": "a", "relationshipType": "trainedOn"}]}',
        "import-schema",
        3,
        3,
    ),
    (
        "doc.spdx3.json",
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",\n "@graph": [\n'
        '  {"spdxId": "urn:r", "type": "Relationship", "from": "a", "relationshipType": '
        '"trainedOn",\n   "to": ["missing"]}]}',
        "import-schema",
        4,
        11,
    ),
    (
        "doc.spdx3.json",
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",\n "@graph": [\n'
        '  {"spdxId": "urn:r", "type": "Relationship", "from": "a", "to": ["b"],\n'
        '   "relationshipType": "trainedOnn"}]}',
        "import-schema",
        4,
        24,
    ),
    (
        "doc.spdx3.json",
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",\n "@graph": [\n'
        '  {"type": "dataset_DatasetPackage", "spdxId": "urn:x", "name": "d",\n'
        '   "dataset_datasetSiz": 3}]}',
        "import-schema",
        4,
        26,
    ),
    (
        "doc.spdx3.json",
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",\n "@graph": [\n'
        '  {"type": "software_File", "name": "weights.bin"}]}',
        "import-schema",
        3,
        3,
    ),
    (
        "doc.spdx3.json",
        '{"@context": "https://spdx.org/rdf/3.0.9/spdx-context.jsonld", "@graph": []}',
        "import-schema",
        1,
        14,
    ),
    (
        "c.json",
        '{"@context": {}, "@type": "sc:Thing",\n "conformsTo": "http://mlcommons.org/croissant/1.0"'
        ', "name": "x"}',
        "import-schema",
        1,
        27,
    ),
    ("other.json", '{"hello": "world"}', "import-format", 1, 1),
    ("other.txt", "hello", "import-format", 1, 1),
]


@pytest.mark.parametrize(("name", "text", "code", "line", "column"), MALFORMED)
def test_malformed_inputs_get_located_errors(library, tmp_path, name, text, code, line, column):
    first = _errors(library, tmp_path, name, text)[0]
    assert (first.code, first.span.line, first.span.column) == (code, line, column), first
    assert first.span.file == name
    assert first.help


def test_spdx_enumeration_errors_suggest_the_value(library, tmp_path) -> None:
    text = (
        '{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": [\n'
        '{"spdxId": "urn:r", "type": "Relationship", "from": "a", "to": ["b"],\n'
        ' "relationshipType": "testedOnn"}]}'
    )
    (first,) = _errors(library, tmp_path, "d.json", text)
    assert first.help == "did you mean `testedOn`?"
    assert "`Relationship`" in first.message and "'testedOnn'" in first.message


def test_real_bom_with_a_trailing_comma(library) -> None:
    """The CycloneDX project's own `MLBOM/Model/OpenSource/bom.json` has a trailing comma."""
    with pytest.raises(TosguardError) as caught, contextlib.chdir(FIXTURES):
        import_manifest(library, ["malformed/opensource-bert.cdx.json"])
    (first,) = caught.value.diagnostics
    assert (first.code, first.span.line) == ("import-syntax", 9)


def test_invalid_utf8_and_missing_files(library, tmp_path) -> None:
    (tmp_path / "README.md").write_bytes(b"---\nlicense: \xff\n---\n")
    with pytest.raises(TosguardError) as caught:
        import_manifest(library, [str(tmp_path / "README.md")])
    assert caught.value.diagnostics[0].code == "import-encoding"
    with pytest.raises(TosguardError) as caught:
        import_manifest(library, [str(tmp_path / "nope.json")])
    assert caught.value.diagnostics[0].code == "import-io"


def test_unknown_input_format_option(library) -> None:
    with pytest.raises(TosguardError) as caught:
        import_manifest(library, ["x"], fmt="spdx2")
    assert caught.value.diagnostics[0].code == "usage-bad-option"


def test_base_card_fills_the_base_source(library, tmp_path) -> None:
    """A base model's card, in its `org/name/` folder, gives that source its licence (the
    cards here are made for the test)."""
    trained = tmp_path / "acme" / "chat-8b" / "README.md"
    base = tmp_path / "meta-llama" / "Llama-3.1-8B" / "README.md"
    for path, text in (
        (trained, "---\nbase_model: meta-llama/Llama-3.1-8B\nlicense: llama3.1\n---\n"),
        (base, "---\nlicense: llama3.1\npipeline_tag: text-generation\n---\n"),
    ):
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    with contextlib.chdir(tmp_path):
        result = import_manifest(
            library, ["meta-llama/Llama-3.1-8B/README.md", "acme/chat-8b/README.md"]
        )
    assert "    license: llama3.1" in result.text
    assert "meta-llama/Llama-3.1-8B/README.md:2 license" in result.text
    assert "  # declare: name: chat-8b" in result.text  # a folder name is only a hint


def test_two_unrelated_model_cards_are_refused(library, tmp_path) -> None:
    for org in ("a", "b"):
        path = tmp_path / org / "m" / "README.md"
        path.parent.mkdir(parents=True)
        path.write_text("---\nlicense: mit\nlibrary_name: transformers\n---\n", encoding="utf-8")
    with pytest.raises(TosguardError) as caught, contextlib.chdir(tmp_path):
        import_manifest(library, ["a/m/README.md", "b/m/README.md"])
    assert caught.value.diagnostics[0].code == "import-ambiguous"


def test_model_and_dataset_cards_merge(library, tmp_path) -> None:
    """A dataset card fills the source a model card's `datasets` names (by `org/name`)."""
    card = FIXTURES / "hf" / "tatsu-lab" / "alpaca" / "README.md"
    model = "---\nbase_model: huggyllama/llama-7b\ndatasets:\n- tatsu-lab/alpaca\n---\n"
    path = tmp_path / "stanford" / "alpaca-7b" / "README.md"
    path.parent.mkdir(parents=True)
    path.write_text(model, encoding="utf-8")
    text = import_manifest(library, [str(path), str(card)]).text
    assert len(re.findall(r"(?m)^  - id: alpaca +#", text)) == 1
    assert "    license: CC-BY-NC-4.0" in text
    assert "provider of `huggyllama/llama-7b`" in text  # no policy knows `huggyllama`


def test_a_card_and_a_summary_of_one_dataset_merge(library) -> None:
    """Alpaca's dataset card and its Data Provenance summary name one dataset and one
    generator: each appears once, with what either input says."""
    with contextlib.chdir(FIXTURES):
        text = import_manifest(library, ["hf/tatsu-lab/alpaca/README.md", "dpi/Alpaca.json"]).text
    assert len(re.findall(r"(?m)^  - id: alpaca +#", text)) == 1
    assert len(re.findall(r"(?m)^  - id: alpaca-openai +#", text)) == 1
    assert "    license: CC-BY-NC-4.0" in text
    assert "# declare: records: 52002" in text


def test_unknown_licence_is_a_hint_not_a_value(library, tmp_path) -> None:
    path = tmp_path / "x" / "y" / "README.md"
    path.parent.mkdir(parents=True)
    path.write_text("---\nlicense: other\nlicense_name: acme-1.0\nlibrary_name: t\n---\n")
    text = import_manifest(library, [str(path)]).text
    assert "  # declare: downstream_licenses: [acme-1.0]" in text
    path.write_text("---\nlicense: other\nlibrary_name: t\n---\n")
    text = import_manifest(library, [str(path)]).text
    assert "  # declare: downstream_licenses:  " in text


def test_croissant_derived_from_and_generated_by(library, tmp_path) -> None:
    doc = {
        "@context": {"@vocab": "https://schema.org/"},
        "@type": "sc:Dataset",
        "name": "rewrites",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "license": "https://choosealicense.com/licenses/odc-by/",
        "prov:wasDerivedFrom": [{"@id": "https://huggingface.co/datasets/allenai/WildChat"}],
        "prov:wasGeneratedBy": [
            {"@type": "prov:Activity", "prov:wasAssociatedWith": {"name": "Claude 3.5 Sonnet"}}
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(doc, indent=1))
    text = import_manifest(library, [str(tmp_path / "c.json")]).text
    assert "    license: ODC-By-1.0" in text
    assert "derived_from: [wildchat, rewrites-anthropic]" in text
    assert "    # declare: provider: anthropic" in text


def test_provider_tables_name_only_providers_the_library_knows(library) -> None:
    from tosguard.engine.identity import Vocabulary
    from tosguard.importers import providers

    known = library.derived("vocabulary", Vocabulary).providers
    named = {*providers.ORGANIZATIONS.values(), *(p for _, p in providers._MODEL_NAMES)}
    assert named <= known, named - known
    assert set(PROVIDERS) <= known


# ---- command line -----------------------------------------------------------------------------
def _cli(*args: str, cwd: Path = FIXTURES) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "tosguard", "import", *args],
        cwd=cwd,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},  # never the network, wherever tests run
    )
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


def test_cli_writes_stdout_and_refuses_to_overwrite(tmp_path) -> None:
    result = _cli("dpi/Alpaca.json")
    assert result.returncode == 0
    assert result.stdout.startswith(b"# Written by `tosguard import` from: dpi/Alpaca.json")
    out = tmp_path / "m.yaml"
    assert _cli("dpi/Alpaca.json", "-o", str(out)).returncode == 0
    first = out.read_bytes()
    out.write_text("keep me")
    refused = _cli("dpi/Alpaca.json", "-o", str(out))
    assert refused.returncode == 2 and b"usage-output-exists" in refused.stderr
    assert out.read_text() == "keep me"
    assert _cli("dpi/Alpaca.json", "-o", str(out), "--force").returncode == 0
    assert out.read_bytes() == first


def test_cli_writes_into_a_device() -> None:
    result = _cli("dpi/Alpaca.json", "-o", "/dev/null")
    assert result.returncode == 0, result.stderr


def test_cli_never_overwrites_an_input(tmp_path) -> None:
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: mit\nlibrary_name: t\n---\n")
    result = _cli(str(card), "-o", str(card), "--force", cwd=tmp_path)
    assert result.returncode == 2 and b"usage-output-is-input" in result.stderr


def test_cli_errors_are_located(tmp_path) -> None:
    result = _cli("malformed/opensource-bert.cdx.json", "--error-format", "plain")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("malformed/opensource-bert.cdx.json:9:")
    forced = _cli("dpi/Alpaca.json", "--from", "cyclonedx")
    assert forced.returncode == 2 and b"import-schema" in forced.stderr


def test_hub_card_is_read_by_its_id(library, monkeypatch) -> None:
    """`hf://org/name` downloads only README.md (here replaced by the fixture: no network) and
    names the model by the Hub id."""
    hub = pytest.importorskip("huggingface_hub")
    asked = []

    def download(repo_id, filename, repo_type="model", **_):
        asked.append((repo_id, filename, repo_type))
        return str(FIXTURES / "hf" / "deepseek-ai" / "DeepSeek-R1-Distill-Qwen-7B" / "README.md")

    monkeypatch.setattr(hub, "hf_hub_download", download)
    text = import_manifest(library, ["hf://deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"]).text
    assert asked == [("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "README.md", "model")]
    assert "  name: DeepSeek-R1-Distill-Qwen-7B" in text
    assert "(the card's Hub id)" in text
    import_manifest(library, ["hf://datasets/tatsu-lab/alpaca"])
    assert asked[-1] == ("tatsu-lab/alpaca", "README.md", "dataset")
    with pytest.raises(TosguardError) as caught:
        import_manifest(library, ["hf://just-a-name"])
    assert caught.value.diagnostics[0].code == "usage-arguments"


def test_cli_hub_without_the_extra_or_network(tmp_path) -> None:
    """`hf://` needs huggingface_hub; with it and no network (`HF_HUB_OFFLINE`), the download
    fails cleanly."""
    result = _cli("hf://deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", cwd=tmp_path)
    assert result.returncode == 2
    assert b"usage-missing-extra" in result.stderr or b"import-hub" in result.stderr


# ---- property ---------------------------------------------------------------------------------
@functools.cache
def _library():
    return load_library()  # not a fixture: Hypothesis shows a failing test's arguments


_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=30)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
_keys = st.sampled_from(
    [
        "license",
        "license_name",
        "base_model",
        "datasets",
        "tags",
        "pipeline_tag",
        "model-index",
        "source_datasets",
        "annotations_creators",
        "dataset_info",
        "pretty_name",
        "base_model_relation",
    ]
) | st.text(max_size=10)
_front_matter = st.dictionaries(_keys, _json, max_size=8)
_bom_keys = st.sampled_from(
    [
        "bomFormat",
        "specVersion",
        "components",
        "metadata",
        "@context",
        "@graph",
        "@type",
        "conformsTo",
        "name",
        "prov:wasDerivedFrom",
        "rai:dataCollectionType",
        "Licenses",
        "Model Generated",
        "license",
        "keywords",
    ]
)
_document = st.dictionaries(_bom_keys, _json, max_size=6) | st.dictionaries(
    st.text(max_size=8), st.dictionaries(_bom_keys, _json, max_size=4), max_size=3
)


@settings(
    max_examples=int(os.environ.get("TOSGUARD_IMPORT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(front=_front_matter, body=st.text(max_size=200))
def test_any_front_matter_imports_or_fails_cleanly(tmp_path_factory, front, body):
    library = _library()
    folder = tmp_path_factory.mktemp("card") / "org" / "name"
    folder.mkdir(parents=True)
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body
    (folder / "README.md").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        import_manifest(library, [str(folder / "README.md")])
    except TosguardError as error:
        assert all(d.code in CODES for d in error.diagnostics)


@settings(
    max_examples=int(os.environ.get("TOSGUARD_IMPORT_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    document=_document,
    fmt=st.sampled_from([None, "cyclonedx", "spdx3", "croissant", "dpi"]),
)
def test_any_json_imports_or_fails_cleanly(tmp_path_factory, document, fmt):
    library = _library()
    path = tmp_path_factory.mktemp("json") / "doc.json"
    path.write_text(json.dumps(document), encoding="utf-8", errors="surrogatepass")
    try:
        import_manifest(library, [str(path)], fmt=fmt)
    except TosguardError as error:
        assert all(d.code in CODES for d in error.diagnostics)


def test_check_imports_nothing_of_import() -> None:
    """`tosguard check` starts as fast as before: no importer, schema validator or Hub client."""
    code = (
        "import sys\n"
        "from tosguard import cli\n"
        "try:\n"
        "    cli.main(['check', 'examples/acme.yaml', '--as-of', '2026-11-22'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('jsonschema', 'referencing', 'huggingface_hub', 'spdx_python_model')\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in heavy or m.startswith('tosguard.importers')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=HERE.parent.parent, capture_output=True, timeout=120
    )
    assert result.stdout.decode().strip().splitlines()[-1] == "[]", result.stderr.decode()


def test_docstring_examples_run() -> None:
    import doctest
    import importlib

    for name in ("draft", "providers", "writer"):
        module = importlib.import_module(f"tosguard.importers.{name}")
        result = doctest.testmod(module)
        assert result.attempted and result.failed == 0, name
