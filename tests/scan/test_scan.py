"""`tosguard scan`: fingerprints found in every supported format and language, the human
control (CPython's pydoc topics) with zero findings, findings that cite clauses, parallel
and sampled scans equal to the serial one, located errors, arbitrary bytes, golden CLI output
in every format, and the same counts on a Dask cluster the test starts."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_cli import err, golden_text, out, revision_of, tosguard
from tosguard.api import load_fingerprints, load_library
from tosguard.api import scan as run_scan
from tosguard.errors import TosguardError
from tosguard.manifest.model import load_manifest, parse_manifest
from tosguard.scan.run import scan_sources

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
MANIFEST = FIXTURES / "manifest.yaml"
GOLDEN = HERE / "golden"
AS_OF = "2026-01-01"

#: What the fixture data holds: per source, records matched per provider, and where the
#: example of each fingerprint found is.
EXPECTED = {
    "chats": {
        "records": 6,
        "matches": {"alibaba": 1, "openai": 2},
        "at": {
            "openai/self-identification-name": "data/chat.jsonl:1",
            "alibaba/self-identification-chinese": "data/chat.jsonl:4",  # \u escapes
            "openai/self-identification-arabic": "data/chat.jsonl:5",
        },
    },
    "instructions": {
        "records": 5,
        "matches": {"deepseek": 2, "google": 1},
        "at": {
            "deepseek/self-identification-chinese": "data/docs.json#0",
            "google/self-identification-name": "data/docs.json#1",
            "google/self-identification-name-alone": "data/docs.json#1",
            "deepseek/self-identification-name": "data/more.jsonl.gz:1",
        },
    },
    "table": {
        "records": 3,
        "matches": {"anthropic": 1, "xai": 1},
        "at": {
            "xai/self-identification-name": "data/table.csv:2",
            "anthropic/self-identification-name": "data/table.csv:5",  # after a 2-line row
            "anthropic/self-identification-name-alone": "data/table.csv:5",
        },
    },
    "notes": {
        "records": 6,
        "matches": {"alibaba": 2, "anthropic": 1, "deepseek": 2},
        "at": {
            "deepseek/reasoning-trace-think-tags": "data/notes.txt:2",
            "alibaba/reasoning-trace-think-tags": "data/notes.txt:2",
            "anthropic/self-identification-name-alone": "data/notes.txt:6",
        },
    },
    "rows": {
        "records": 3,
        "matches": {"deepseek": 1, "meta": 1},
        "at": {
            "meta/self-identification-name": "data/rows.parquet#0",
            "deepseek/self-identification-arabic": "data/rows.parquet#2",
        },
    },
    "sharegpt": {
        "records": 3,
        "matches": {"alibaba": 1, "openai": 1},
        "at": {
            "alibaba/self-identification-name": "data/hf-dataset/data-00000-of-00001.arrow#0",
            "openai/self-identification-other-languages": (
                "data/hf-dataset/data-00000-of-00001.arrow#1"
            ),
        },
    },
}


@pytest.fixture(scope="module")
def library():
    return load_library()


@pytest.fixture(scope="module")
def fingerprints():
    return load_fingerprints()


def _scan(library, fingerprints, manifest=MANIFEST, **options):
    return run_scan(library, load_manifest(manifest), fingerprints, as_of=AS_OF, **options)


def _found(result) -> dict:
    return {
        row["source"]: {
            "records": row["records"],
            "matches": row["matches"],
            "at": {f["fingerprint"]: f["examples"][0]["at"] for f in row["fingerprints"]},
        }
        for row in result.sources
    }


def test_every_format_and_language_is_found(library, fingerprints) -> None:
    assert _found(_scan(library, fingerprints, jobs=1)) == EXPECTED


def test_shipped_fingerprints_name_known_providers(library, fingerprints) -> None:
    from tosguard.engine.identity import Vocabulary

    known = set(library.derived("vocabulary", Vocabulary).listing()["providers"])
    assert {f.provider for f in fingerprints} <= known
    assert {f.kind for f in fingerprints} == {
        "self-identification",
        "refusal-boilerplate",
        "reasoning-trace",
    }


def test_parallel_units_give_the_serial_counts_and_lines(library, fingerprints) -> None:
    loaded = load_manifest(MANIFEST)
    serial = scan_sources(loaded, fingerprints, jobs=1)
    # 16-byte chunks: every line of the JSONL and text files falls in a unit of its own or
    # straddles two, and the line numbers must still be the file's
    split = scan_sources(loaded, fingerprints, jobs=2, chunk=16)
    assert [(s.records, s.counts, s.providers, s.examples) for s in split] == [
        (s.records, s.counts, s.providers, s.examples) for s in serial
    ]


def test_sample_reads_the_first_records(library, fingerprints) -> None:
    result = _scan(library, fingerprints, sample=1)
    records = {row["source"]: row["records"] for row in result.sources}
    assert records == dict.fromkeys(EXPECTED, 1)
    assert _found(result)["chats"]["matches"] == {"openai": 1}


def test_undeclared_provider_cites_the_clause_that_would_govern(library, fingerprints) -> None:
    report = _scan(library, fingerprints, jobs=1).report
    by_rule = {(f.subject, f.rule): f for f in report.findings}
    # OpenAI output in a source declared as Anthropic's: OpenAI's competing-models clause
    competing = by_rule[("/sources/0", "openai-services-agreement/competing-models")]
    assert competing.status == "violated" and competing.severity == "error"
    assert "data/chat.jsonl:1" in competing.message and "3.3" in competing.citation["section"]
    assert competing.location["line"] == 14  # the source's `data:` line
    # DeepSeek permits distillation: the permission that would govern, as a warning
    allowed = by_rule[("/sources/1", "deepseek-open-platform-terms/distillation-allowed")]
    assert allowed.severity == "warning" and allowed.citation is not None
    # the declared provider (meta for `rows`) gives no finding
    assert not [f for f in report.findings if f.subject == "/sources/4" and f.provider == "meta"]
    # weak and medium evidence never makes an error
    notes = [f for f in report.findings if f.subject == "/sources/3"]
    assert notes and all(f.severity != "error" for f in notes)
    assert report.verdict == "non_compliant"


def test_derived_from_declares_the_provider(library, fingerprints, tmp_path) -> None:
    shutil.copytree(FIXTURES / "data", tmp_path / "data")
    (tmp_path / "m.yaml").write_text(
        "tosguard: 1\nsources:\n"
        "  - {id: gpt, kind: model-output, provider: openai, service: api}\n"
        "  - {id: mix, kind: dataset, license: MIT, derived_from: [gpt],"
        " data: data/chat.jsonl}\n"
    )
    result = _scan(library, fingerprints, tmp_path / "m.yaml")
    assert {f.provider for f in result.report.findings} == {"alibaba"}


def _control_files(tmp_path: Path) -> Path:
    """CPython's pydoc topics (English written by people), as text and as JSONL."""
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    data = tmp_path / "data"
    data.mkdir()
    (data / "topics.txt").write_text("\n".join(topics.values()), encoding="utf-8")
    with open(data / "topics.jsonl", "w", encoding="utf-8") as stream:
        for name, text in sorted(topics.items()):
            stream.write(json.dumps({"topic": name, "text": text}) + "\n")
    manifest = tmp_path / "control.yaml"
    manifest.write_text(
        "tosguard: 1\nsources:\n  - {id: pydoc, kind: human, data: [data/topics.txt,"
        " data/topics.jsonl]}\n"
    )
    return manifest


def test_human_written_control_has_no_match(library, fingerprints, tmp_path) -> None:
    result = _scan(library, fingerprints, _control_files(tmp_path), jobs=1)
    (row,) = result.sources
    import pydoc_data.topics

    topics = pydoc_data.topics.topics
    text = "\n".join(topics.values())
    lines = text.count("\n") + (not text.endswith("\n"))
    assert row["records"] == lines + len(topics)  # every line of the text, every topic
    assert row["bytes"] > 500_000
    assert row["matches"] == {} and row["fingerprints"] == []
    assert result.report.findings == () and result.report.verdict == "compliant"


@pytest.mark.parametrize(
    "suffix", [".jsonl", ".json", ".csv", ".tsv", ".txt", ".jsonl.gz", ".parquet", ".arrow"]
)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_tosguard_errors(
    fingerprints, tmp_path_factory, suffix, data
) -> None:
    folder = tmp_path_factory.mktemp("bytes")
    (folder / f"d{suffix}").write_bytes(data)
    (folder / "m.yaml").write_text(f"tosguard: 1\nsources:\n  - {{id: a, data: d{suffix}}}\n")
    try:
        scan_sources(load_manifest(folder / "m.yaml"), fingerprints, jobs=1)
    except TosguardError as error:
        assert error.diagnostics and error.diagnostics[0].code.startswith(("scan-", "usage-"))


def test_bad_data_gets_located_errors(tmp_path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "m.yaml").write_text(
        "tosguard: 1\nsources:\n  - {id: a, data: missing/*.jsonl}\n  - {id: b, data: notes.docx}\n"
    )
    (tmp_path / "notes.docx").write_bytes(b"x")
    result = tosguard("scan", "m.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "error[scan-no-data]: `missing/*.jsonl` names no file" in err(result)
    assert "m.yaml:3:" in err(result) and "error[scan-format]" in err(result)
    (tmp_path / "m.yaml").write_text("tosguard: 1\nsources:\n  - {id: a, data: broken.parquet}\n")
    result = tosguard("scan", "m.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "error[scan-unreadable]" in err(result)
    (tmp_path / "m.yaml").write_text("tosguard: 1\nsources:\n  - {id: a}\n")
    result = tosguard("scan", "m.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "error[scan-nothing-to-scan]" in err(result)


def test_missing_pyarrow_names_the_extra(fingerprints, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(TosguardError) as caught:
        scan_sources(load_manifest(MANIFEST), fingerprints, jobs=1)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "usage-missing-extra"
    assert "tosguard[data]" in diagnostic.help


def test_data_field_in_the_manifest() -> None:
    text = "tosguard: 1\nsources:\n  - id: a\n    data: {}\n"
    loaded = parse_manifest(text.format("x.jsonl"), "m.yaml")
    assert loaded.manifest.sources[0].data_paths() == ["x.jsonl"]
    loaded = parse_manifest(text.format("[a.jsonl, 'b/*.parquet', c/]"), "m.yaml")
    assert loaded.manifest.sources[0].data_paths() == ["a.jsonl", "b/*.parquet", "c/"]
    for bad in ("[]", "3", "[a, 3]"):
        with pytest.raises(TosguardError) as caught:
            parse_manifest(text.format(bad), "m.yaml")
        assert caught.value.diagnostics[0].code == "manifest-type"
        assert str(caught.value.diagnostics[0].span) == "m.yaml:4:11"


def test_check_ignores_data(library) -> None:
    from tosguard.api import check_text

    base = "tosguard: 1\nsources:\n  - {id: a, kind: model-output, provider: openai}\n"
    with_data = base.replace("}", ", data: nowhere.jsonl}")
    one = check_text(library, base, as_of=AS_OF, name="m.yaml")
    two = check_text(library, with_data, as_of=AS_OF, name="m.yaml")
    assert one.to_json() == two.to_json()


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif", "junit"])
def test_cli_golden(fmt) -> None:
    result = tosguard("scan", "fixtures/manifest.yaml", "--as-of", AS_OF, "--format", fmt, cwd=HERE)
    assert result.returncode == 1, err(result)
    assert err(result) == ""  # no progress bar when standard error is not a terminal
    text = golden_text(result, revision_of())
    golden = GOLDEN / f"manifest.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )
    if fmt == "json":
        document = json.loads(out(result))
        assert document["kind"] == "scan" and len(document["sources"]) == len(EXPECTED)


def test_cli_progress_bar_when_asked() -> None:
    result = tosguard("scan", "fixtures/manifest.yaml", "--progress", "--format", "json", cwd=HERE)
    assert "scanning [" in err(result) and result.returncode == 1


def test_same_counts_on_a_dask_cluster_the_test_starts(fingerprints) -> None:
    distributed = pytest.importorskip("distributed")
    loaded = load_manifest(MANIFEST)
    local = scan_sources(loaded, fingerprints, jobs=1, chunk=64)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        remote = scan_sources(loaded, fingerprints, scheduler=cluster.scheduler_address, chunk=64)
    assert [(s.records, s.counts, s.providers, s.examples) for s in remote] == [
        (s.records, s.counts, s.providers, s.examples) for s in local
    ]


def test_extra_fingerprints_and_a_library_without_any(tmp_path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "fingerprints.yaml").write_text(
        "provider: openai\nfingerprints:\n"
        "  - {id: house-marker, kind: self-identification, strength: strong,"
        " pattern: 'zebra-7 says hi', why: our own canary, matches: [zebra-7 says hi]}\n"
    )
    (tmp_path / "d.txt").write_text("nothing\nzebra-7 says hi\n")
    (tmp_path / "m.yaml").write_text("tosguard: 1\nsources:\n  - {id: a, data: d.txt}\n")
    result = tosguard(
        "scan", "m.yaml", "--extra-policies", "mine", "--format", "json", cwd=tmp_path
    )
    (row,) = json.loads(out(result))["sources"]
    assert row["fingerprints"][0]["fingerprint"] == "openai/house-marker"
    assert row["fingerprints"][0]["examples"][0]["at"] == "d.txt:2"
    licences = Path(__file__).parents[2] / "policies" / "licenses"  # clauses, no fingerprints
    result = tosguard("scan", "m.yaml", "--policies", str(licences), cwd=tmp_path)
    assert result.returncode == 2 and "error[scan-no-fingerprints]" in err(result)


LINES = st.lists(
    st.one_of(
        st.text(alphabet="ab I'm我是أنا<>/thinkChatGPTDeepSeek \t", max_size=30),
        st.sampled_from(["I am ChatGPT.", "我是DeepSeek", "<think>", "I'm Claude, an AI"]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=LINES, chunk=st.integers(1, 64), ending=st.sampled_from(["", "\n"]))
def test_units_never_change_counts_or_lines(fingerprints, tmp_path_factory, lines, chunk, ending):
    folder = tmp_path_factory.mktemp("units")
    (folder / "d.txt").write_text("\n".join(lines) + ending, encoding="utf-8")
    (folder / "m.yaml").write_text("tosguard: 1\nsources:\n  - {id: a, data: d.txt}\n")
    loaded = load_manifest(folder / "m.yaml")
    whole = scan_sources(loaded, fingerprints, jobs=1)
    split = scan_sources(loaded, fingerprints, jobs=1, chunk=chunk)
    assert [(s.records, s.counts, s.examples) for s in split] == [
        (s.records, s.counts, s.examples) for s in whole
    ]
    text = "\n".join(lines) + ending
    assert whole[0].records == text.count("\n") + (bool(text) and not text.endswith("\n"))


def test_output_never_overwrites_the_data(tmp_path) -> None:
    shutil.copytree(FIXTURES / "data", tmp_path / "data")
    (tmp_path / "m.yaml").write_text("tosguard: 1\nsources:\n  - {id: a, data: data/}\n")
    before = (tmp_path / "data" / "chat.jsonl").read_bytes()
    result = tosguard("scan", "m.yaml", "-o", "data/chat.jsonl", cwd=tmp_path)
    assert result.returncode == 2 and "usage-output-is-input" in err(result)
    assert (tmp_path / "data" / "chat.jsonl").read_bytes() == before
    result = tosguard("scan", "m.yaml", "-o", "report.sarif", "--format", "sarif", cwd=tmp_path)
    assert result.returncode == 1
    sarif = json.loads((tmp_path / "report.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"]


def test_a_shared_pattern_is_explained_by_the_declared_provider(library, fingerprints, tmp_path):
    shutil.copytree(FIXTURES / "data", tmp_path / "data")
    text = (
        "tosguard: 1\nsources:\n"
        "  - {{id: r1, kind: model-output, provider: {}, data: data/notes.txt}}\n"
    )
    (tmp_path / "m.yaml").write_text(text.format("deepseek"))
    providers = {
        f.provider for f in _scan(library, fingerprints, tmp_path / "m.yaml").report.findings
    }
    assert providers == {"anthropic"}  # the medium "I am Claude …" line, not <think>
    (tmp_path / "m.yaml").write_text(text.format("mistral"))
    providers = {
        f.provider for f in _scan(library, fingerprints, tmp_path / "m.yaml").report.findings
    }
    assert providers == {"alibaba", "anthropic", "deepseek"}


def test_the_scan_example_gives_what_it_says(library, fingerprints) -> None:
    example = HERE.parent.parent / "examples" / "scan" / "sft-mix.yaml"
    assert "Expected scan (as of 2026-11-22): non_compliant" in example.read_text(encoding="utf-8")
    report = run_scan(library, load_manifest(example), fingerprints, as_of="2026-11-22").report
    assert report.verdict == "non_compliant"
    rules = {(f.subject, f.rule, f.status) for f in report.findings}
    assert ("/sources/0", "openai-services-agreement/competing-models", "violated") in rules
    assert ("/sources/0", "deepseek-open-platform-terms/api-key-sharing", "undetermined") in rules
    assert not [f for f in report.findings if f.subject == "/sources/1"]
