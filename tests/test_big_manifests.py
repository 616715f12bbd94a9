"""Large manifests: text reports grouped by clause, errors capped (``--max-errors``), the size
limit (``--max-manifest-bytes``) reported with the real size, progress on standard error, and
reports streamed to their output byte for byte as they were written whole."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from test_cli import AS_OF, EXAMPLES, err, out, tosguard
from tosguard.api import check
from tosguard.cli import QUICK_EXIT_SOURCES, cli
from tosguard.engine.library import load_library
from tosguard.manifest.model import load_manifest, parse_manifest
from tosguard.progress import Progress
from tosguard.report.model import FINDING_FIELDS
from tosguard.report.text import GROUP_ABOVE, render_text, text_chunks, wrap_words


def openai_manifest(sources: int, *fields: str) -> str:
    """``sources`` OpenAI model-output sources, each with ``fields`` (YAML lines)."""
    lines = [
        "tosguard: 1",
        "organization: {name: Acme, country: US}",
        "model: {name: acme-7b, purpose: chat, distribution: api, commercial: true}",
        "sources:",
    ]
    for number in range(sources):
        lines += [f"  - id: logs-{number}", "    kind: model-output", "    provider: openai"]
        lines += [f"    {field}" for field in fields]
    return "\n".join(lines) + "\n"


def shared_account_manifest(sources: int) -> str:
    """``sources`` OpenAI sources reached through a shared account: the same clauses fire on
    each of them."""
    return openai_manifest(
        sources,
        "model: gpt-4o",
        "service: api",
        "access: {route: shared-account, from_country: US}",
        "use: [distillation]",
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def library():
    return load_library()


# ---- grouping ---------------------------------------------------------------------------------
def test_a_clause_on_many_sources_is_printed_once_with_its_subjects(tmp_path):
    sources = GROUP_ABOVE + 2
    path = write(tmp_path, "many.yaml", shared_account_manifest(sources))
    text = out(tosguard("check", str(path), "--as-of", AS_OF))
    head = "✗ openai-services-agreement/account-sharing  [error, account-sharing]"
    assert text.count(head) == 1
    listing = f"    at {sources} sources (id:line in {path}):"
    assert listing in text
    block = text[text.index(head) :].split("\n\n")[0]
    names = re.findall(r"logs-\d+:\d+", block)
    assert names == [f"logs-{n}:{5 + 7 * n}" for n in range(sources)]
    assert block.count("cites OpenAI Services Agreement") == 1
    assert "at source `" not in block


def undecided_manifest(sources: int) -> str:
    """``sources`` OpenAI sources without their service: each gets the identity notice that
    tells it to declare its own `/sources/N/service`."""
    return openai_manifest(sources, "use: [distillation]")


def test_a_notice_on_many_sources_is_printed_once_with_the_first_remedy_said_so(tmp_path):
    path = write(tmp_path, "m.yaml", undecided_manifest(GROUP_ABOVE + 1))
    result = tosguard("check", str(path), "--as-of", AS_OF)
    text = out(result)
    assert text.count("? tosguard/governing-terms") == 1
    assert f"at {GROUP_ABOVE + 1} sources (id:line in {path}):" in text
    joined = " ".join(line.strip() for line in text.splitlines())  # unwrapped
    assert "(said of source `logs-0`; each subject's own words are in `--format json`)" in joined
    assert "remedy (said of source `logs-0`): Declare `/sources/0/service`: it decides" in joined
    findings = json.loads(out(tosguard("check", str(path), "--as-of", AS_OF, "--format", "json")))[
        "findings"
    ]
    remedies = [f["remedy"] for f in findings if f["clause"] == "governing-terms"]
    assert remedies == [
        f"Declare `/sources/{n}/service`: it decides which terms govern this source (`tosguard "
        "explain` and `--all` show every clause that might apply)."
        for n in range(GROUP_ABOVE + 1)
    ]
    markdown = out(tosguard("check", str(path), "--as-of", AS_OF, "--format", "markdown"))
    (row,) = [line for line in markdown.splitlines() if "`tosguard/governing-terms`" in line]
    assert f"{GROUP_ABOVE + 1} subjects of" in row
    assert "Missing:" not in row  # each source misses its own `/sources/N/service`
    few = write(tmp_path, "few.yaml", undecided_manifest(GROUP_ABOVE))
    assert out(tosguard("check", str(few), "--as-of", AS_OF)).count("remedy: Declare") == (
        GROUP_ABOVE
    )


def test_up_to_the_threshold_each_finding_stands_alone(tmp_path):
    path = write(tmp_path, "few.yaml", shared_account_manifest(GROUP_ABOVE))
    text = out(tosguard("check", str(path), "--as-of", AS_OF))
    head = "✗ openai-services-agreement/account-sharing  [error, account-sharing]"
    assert text.count(head) == GROUP_ABOVE
    assert " sources (id:line in " not in text


def test_grouping_keeps_the_counts_and_every_subject(library, tmp_path):
    loaded = parse_manifest(shared_account_manifest(40), "m.yaml")
    report = check(library, loaded, as_of=AS_OF)
    grouped = render_text(report, loaded.source_line, loaded.manifest.sources)
    alone = render_text(report, loaded.source_line, loaded.manifest.sources, group_above=10**9)
    assert grouped.splitlines()[:4] == alone.splitlines()[:4]  # verdict and summary
    titles = [line for line in alone.splitlines() if re.match(r"^[A-Z][a-z ]+ \(", line)]
    assert titles == [line for line in grouped.splitlines() if line in titles]
    assert len(grouped) < len(alone) / 4
    for number in range(40):
        assert f"logs-{number}:" in grouped


# ---- errors capped ---------------------------------------------------------------------------
def many_errors(count: int) -> str:
    return "tosguard: 1\nsources:\n" + "".join(
        f"  - id: s{n}\n    kind: nonsense\n" for n in range(count)
    )


def test_errors_are_capped_at_50_with_a_count_of_the_rest(tmp_path):
    path = write(tmp_path, "bad.yaml", many_errors(120))
    result = tosguard("check", str(path), "--error-format", "plain")
    assert result.returncode == 2
    lines = err(result).splitlines()
    assert len(lines) == 51
    assert lines[-1].startswith(f"{path}:104:11: manifest-too-many-errors: 70 more errors not")
    assert "(only the first 50 are reported)" in lines[-1]
    assert "`--max-errors` shows more" in lines[-1]


@pytest.mark.parametrize(("limit", "shown", "rest"), [(3, 3, 117), (110, 110, 10), (500, 120, 0)])
def test_max_errors_sets_the_cap(tmp_path, limit, shown, rest):
    path = write(tmp_path, "bad.yaml", many_errors(120))
    result = tosguard("check", str(path), "--error-format", "json", "--max-errors", str(limit))
    found = json.loads(err(result))["errors"]
    kept = [d for d in found if d["code"] != "manifest-too-many-errors"]
    assert len(kept) == shown
    assert [d["line"] for d in kept] == [4 + 2 * n for n in range(shown)]
    if rest:
        assert found[-1]["message"].startswith(f"{rest} more errors not shown")
    else:
        assert len(found) == shown


def test_max_errors_must_be_positive():
    result = tosguard("check", str(EXAMPLES / "acme.yaml"), "--max-errors", "0")
    assert result.returncode == 2 and "--max-errors" in err(result)


# ---- the size limit ----------------------------------------------------------------------------
def test_the_size_limit_names_the_real_size(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as stream:
        stream.truncate(279_000_000)  # sparse: refused from its size, never read
    result = tosguard("check", str(huge))
    assert result.returncode == 2
    assert "the document is 279,000,000 bytes, more than the limit of 67,108,864" in err(result)
    assert "--max-manifest-bytes" in err(result)


@pytest.mark.parametrize("size", ["1K", "1024", "1KiB", "1kb"])
def test_max_manifest_bytes_lowers_the_limit(size):
    path = EXAMPLES / "acme.yaml"
    result = tosguard("check", "examples/acme.yaml", "--max-manifest-bytes", size)
    assert result.returncode == 2
    assert f"the document is {path.stat().st_size:,} bytes, more than the limit of 1,024" in err(
        result
    )


def test_max_manifest_bytes_raises_the_limit_and_reads_pipes_to_the_end():
    data = (EXAMPLES / "acme.yaml").read_bytes()
    refused = tosguard("check", "-", "--max-manifest-bytes", "100", stdin=data)
    if "No such file" in err(refused):  # `-` is not stdin here: use the device
        refused = tosguard("check", "/dev/stdin", "--max-manifest-bytes", "100", stdin=data)
    assert f"the document is {len(data):,} bytes, more than the limit of 100" in err(refused)
    accepted = tosguard(
        "check", "examples/acme.yaml", "--as-of", AS_OF, "--max-manifest-bytes", "2M"
    )
    assert accepted.returncode in (0, 1) and out(accepted).startswith("NON-COMPLIANT")


def test_a_size_must_be_a_size():
    result = tosguard("check", "examples/acme.yaml", "--max-manifest-bytes", "lots")
    assert result.returncode == 2
    assert "`lots` is not a size" in err(result)


def test_load_manifest_takes_the_limit(tmp_path):
    from tosguard.errors import ManifestError

    with pytest.raises(ManifestError) as caught:
        load_manifest(EXAMPLES / "acme.yaml", max_bytes=10)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "manifest-too-large"
    size = (EXAMPLES / "acme.yaml").stat().st_size
    assert diagnostic.message == f"the document is {size:,} bytes, more than the limit of 10"


# ---- progress ---------------------------------------------------------------------------------
def test_progress_goes_to_stderr_and_never_to_stdout():
    plain = tosguard("check", "examples/acme.yaml", "--as-of", AS_OF)
    shown = tosguard("check", "examples/acme.yaml", "--as-of", AS_OF, "--progress")
    assert shown.stdout == plain.stdout
    assert shown.returncode == plain.returncode
    stages = err(shown).splitlines()
    assert stages[0] == "tosguard: loading the policy library…"
    assert "tosguard: reading examples/acme.yaml…" in stages
    assert "tosguard: checking 3 sources of examples/acme.yaml…" in stages
    assert "tosguard: writing the report…" in stages
    assert re.fullmatch(r"tosguard: done in \d+\.\d s", stages[-1])
    assert "tosguard:" not in out(shown)


def test_no_progress_off_a_terminal_unless_asked():
    assert err(tosguard("check", "examples/acme.yaml", "--as-of", AS_OF)) == ""
    assert err(tosguard("check", "examples/acme.yaml", "--as-of", AS_OF, "--no-progress")) == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_waits_a_second_then_erases_itself(monkeypatch):
    import time

    from tosguard import progress

    quick = FakeTerminal()
    with Progress(True, stream=quick) as stages:
        stages.stage("reading")
    assert quick.getvalue() == ""  # under a second: nothing
    monkeypatch.setattr(progress, "DELAY", 0.0)
    slow = FakeTerminal()
    with Progress(True, stream=slow) as stages:
        stages.stage("evaluating 100,000 sources")
        time.sleep(0.5)
    written = slow.getvalue()
    assert "\rtosguard: evaluating 100,000 sources… " in written
    assert written.endswith("\r")
    assert "\n" not in written


# ---- streamed output ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif", "junit"])
def test_the_output_file_holds_what_standard_output_shows(tmp_path, fmt):
    manifest = write(tmp_path, "many.yaml", shared_account_manifest(30))
    args = ("check", str(manifest), "examples/acme.yaml", "--as-of", AS_OF, "--format", fmt)
    printed = tosguard(*args)
    target = tmp_path / "report.out"
    written = tosguard(*args, "--output", str(target))
    assert written.returncode == printed.returncode
    assert target.read_bytes() == printed.stdout


def test_chunks_join_to_the_whole_report(library):
    loaded = parse_manifest(shared_account_manifest(300), "m.yaml")
    report = check(library, loaded, as_of=AS_OF)
    chunks = list(report.json_chunks(0, size=256))
    assert len(chunks) > 2
    assert "".join(chunks) + "\n" == report.to_json()
    whole = render_text(report, loaded.source_line, loaded.manifest.sources)
    assert "".join(text_chunks(report, loaded.source_line, loaded.manifest.sources)) == whole


def test_the_json_findings_are_as_dict(library):
    loaded = load_manifest(EXAMPLES / "missing-facts.yaml")
    report = check(library, loaded, as_of=AS_OF, include_all=True)
    findings = json.loads(report.to_json())["findings"]
    assert findings == [f.as_dict() for f in report.findings]
    assert all(list(found) == list(FINDING_FIELDS) for found in findings)


def test_progress_clears_its_line_for_other_text(monkeypatch):
    import time

    from tosguard import progress

    monkeypatch.setattr(progress, "DELAY", 0.0)
    terminal = FakeTerminal()
    with Progress(True, stream=terminal) as stages:
        stages.stage("reading m.yaml")
        time.sleep(0.3)
        stages.clear()
        shown = terminal.getvalue()
    assert re.search(r"tosguard: reading m\.yaml… \d+\.\d s\r +\r", shown)


# ---- wrapping and leaving quickly ---------------------------------------------------------------
@given(
    words=st.lists(st.text(alphabet=st.sampled_from("ab-é`x \t\n\r"), max_size=30), max_size=25),
    separator=st.sampled_from([" ", "  ", " \n"]),
    indent=st.sampled_from(["", "    ", "      "]),
    width=st.sampled_from([2, 5, 12, 40, 88]),  # 2 and 5: less room than the indent
)
def test_wrap_words_is_textwrap_line_for_line(words, separator, indent, width):
    text = separator.join(words)
    assert wrap_words(text, indent, width) == textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


ENTRY = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
    "from tosguard.cli import main\n"
    "main()\n"
)


def test_a_large_check_leaves_at_once_with_its_whole_report(tmp_path):
    """From QUICK_EXIT_SOURCES sources the process ends without tearing down (no atexit
    handler runs), after the report is flushed whole: the same bytes as in process."""
    small = write(tmp_path, "small.yaml", shared_account_manifest(3))
    large = write(tmp_path, "large.yaml", shared_account_manifest(QUICK_EXIT_SOURCES))
    for path, quick in ((small, False), (large, True)):
        argv = ["check", str(path), "--as-of", AS_OF]
        run = subprocess.run(
            [sys.executable, "-c", ENTRY, *argv],
            capture_output=True,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
        )
        in_process = CliRunner().invoke(cli, argv, env={"NO_COLOR": "1"})
        assert run.returncode == in_process.exit_code == 1
        assert ("atexit ran" in err(run)) is not quick
        assert out(run) == in_process.stdout
