"""Attacks through policy text: definitions that expand exponentially or endlessly, regular
expressions that backtrack, nesting that overflows Python's stack, and empty or partial policy
sets. Every front end must answer in bounded time with its own diagnostic (exit 2), never hang,
never exit 3 with a RecursionError, never pass a manifest against no terms.

The CLI runs as a subprocess with a timeout, so a regression shows as a failure, not a hung
suite; the timeouts are generous (the answers take well under a second)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service_fixtures import POLICY_HEADER
from tosguard.engine import library as library_module
from tosguard.errors import PolicyError
from tosguard.language.parse import MAX_NESTING
from tosguard.tools.lint import lint_text

ROOT = Path(__file__).parent.parent.parent
ACME = ROOT / "examples" / "acme.yaml"
TIMEOUT = 60

HEADER = POLICY_HEADER


def clause(condition: str, name: str = "c") -> str:
    return (
        f"  clause {name} {{\n    topic distillation\n    kind prohibition\n"
        f'    when {condition}\n    remedy "r"\n'
        '    cite { section "1" quote "q" }\n  }\n'
    )


def policy(*body: str, defines: str = "") -> str:
    return defines + HEADER + "".join(body) + "}\n"


def doubling(n: int) -> str:
    """`d2 = d1 and d1`, … : d40 stands for 2**39 tests (the red team's 1.3 KB request)."""
    lines = ["define d1 = model.commercial"]
    lines += [f"define d{i} = d{i - 1} and d{i - 1}" for i in range(2, n + 1)]
    return "\n".join(lines) + "\n"


def chain(n: int) -> str:
    """`d2 = d1`, `d3 = d2`, …: as deep as it is long."""
    return "define d1 = model.commercial\n" + "".join(
        f"define d{i} = d{i - 1}\n" for i in range(2, n + 1)
    )


def tosguard(*args: str, cwd: Path = ROOT, stdin: bytes | None = None):
    executable = shutil.which("tosguard")
    command = [executable] if executable else [sys.executable, "-m", "tosguard"]
    return subprocess.run(
        [*command, *args], cwd=cwd, input=stdin, capture_output=True, timeout=TIMEOUT
    )


def codes(result) -> list[str]:
    text = (result.stderr or result.stdout).decode()
    document, _ = json.JSONDecoder().raw_decode(text)  # fmt adds a summary line after it
    return [d["code"] for d in document["errors"]]


HOSTILE = {
    "doubling": (policy(clause("d40"), defines=doubling(40)), "policy-too-complex"),
    "chain": (policy(clause("d3000"), defines=chain(3000)), "policy-too-complex"),
    "cycle": (
        policy(clause("a"), defines="define a = b and b\ndefine b = c or a\ndefine c = a\n"),
        "policy-cyclic-definition",
    ),
    "not-500": (policy(clause("not " * 500 + "model.commercial")), "policy-too-deep"),
    "quantifiers-2000": (
        policy(clause("any source where (" * 2000 + "source.records > 1" + ")" * 2000)),
        "policy-too-deep",
    ),
    "parens-and-nots": (
        policy(clause("(not " * 300 + "model.commercial" + ")" * 300)),
        "policy-too-deep",
    ),
    "backreference": (policy(clause('model.name matches regex "(a)\\\\1"')), "policy-bad-regex"),
}


def written(tmp_path: Path, name: str) -> tuple[Path, str]:
    text, code = HOSTILE[name]
    path = tmp_path / "hostile.tos"
    path.write_text(text, encoding="utf-8")
    return path, code


@pytest.fixture(params=sorted(HOSTILE))
def hostile(request, tmp_path):
    return written(tmp_path, request.param)


# the other front ends share these paths (parse, check, expand); each run costs a second
@pytest.fixture(params=["doubling", "not-500"])
def hostile_sample(request, tmp_path):
    return written(tmp_path, request.param)


def test_lint_reports_it(hostile):
    path, code = hostile
    result = tosguard("lint", str(path), "--error-format", "json")
    assert result.returncode == 2, result.stderr
    assert code in [d["code"] for d in json.loads(result.stdout)["diagnostics"]]


def test_check_with_it_reports_it(hostile):
    path, code = hostile
    result = tosguard("check", str(ACME), "--policies", str(path), "--error-format", "json")
    assert result.returncode == 2, result.stderr
    assert code in codes(result)


def test_check_with_it_as_an_extra_reports_it(hostile_sample):
    path, code = hostile_sample
    result = tosguard("check", str(ACME), "--extra-policies", str(path), "--error-format", "json")
    assert result.returncode == 2, result.stderr
    assert code in codes(result)


def test_policies_and_diff_report_it(hostile_sample, tmp_path):
    path, code = hostile_sample
    result = tosguard("policies", "--policies", str(path), "--error-format", "json")
    assert result.returncode == 2 and code in codes(result), result.stderr
    good = tmp_path / "good.tos"
    good.write_text(policy(clause("model.commercial")), encoding="utf-8")
    result = tosguard("diff", str(good), str(path), "--error-format", "json")
    assert result.returncode == 2 and code in codes(result), result.stderr


def test_fmt_answers_without_a_traceback(hostile):
    """fmt does not expand predicates; what it cannot parse it reports, the rest it formats."""
    path, code = hostile
    result = tosguard("fmt", "--check", str(path), "--error-format", "json")
    assert result.returncode in (0, 1, 2), result.stderr
    assert b"internal" not in result.stderr and b"Traceback" not in result.stderr
    if code == "policy-too-deep":
        assert result.returncode == 2 and code in codes(result)


def test_fmt_of_standard_input_answers_without_a_traceback(hostile):
    path, _ = hostile
    result = tosguard("fmt", "-", stdin=path.read_bytes())
    assert result.returncode in (0, 2), result.stderr
    assert b"internal" not in result.stderr and b"Traceback" not in result.stderr


def test_the_too_complex_predicate_is_named_once_where_it_starts():
    found = lint_text(policy(clause("d40"), defines=doubling(40)), "p.tos").errors
    assert [(d.code, d.span.line) for d in found] == [("policy-too-complex", 15)]
    assert "`d15`" in found[0].message and "10,000" in found[0].message
    found = lint_text(policy(clause("d3000"), defines=chain(3000)), "p.tos").errors
    assert [(d.code, d.span.line) for d in found] == [("policy-too-complex", 129)]


def test_the_cycle_is_shown_at_the_reference_that_closes_it():
    found = lint_text(
        policy(clause("a"), defines="define a = b and b\ndefine b = c or a\ndefine c = a\n"),
        "p.tos",
    ).errors
    assert [(d.code, d.span.line, d.span.column) for d in found] == [
        ("policy-cyclic-definition", 2, 17)
    ]
    assert "(a → b → a)" in found[0].message


def test_a_flat_conjunction_is_one_level():
    """20,000 `and`s once overflowed the stack; now 5,000 are fine and 20,000 are too many
    tests, said as such."""
    assert not lint_text(policy(clause(" and ".join(["model.commercial"] * 5_000))), "p.tos").errors
    found = lint_text(policy(clause(" and ".join(["model.commercial"] * 20_000))), "p.tos")
    assert [d.code for d in found.errors] == ["policy-too-complex"]


def test_a_policy_at_every_limit_runs_everywhere(tmp_path):
    """As deep as the parser allows, through predicates as deep as the checker allows: lint,
    fmt, check (closures and generated functions), explain and diff all answer."""
    nested = "not " * (MAX_NESTING - 2) + "model.commercial"
    defines = chain(60) + f"define deep = {nested}\n"
    text = policy(clause("d60 and deep", "limits"), defines=defines)
    path = tmp_path / "limits.tos"
    path.write_text(text, encoding="utf-8")
    assert not lint_text(text, "limits.tos").errors
    for args in (
        ("lint", str(path), "--no-provenance"),
        ("fmt", "--check", str(path)),
        ("check", str(ACME), "--policies", str(path)),
        ("explain", str(ACME), "--clause", "acme-terms/limits", "--policies", str(path)),
        ("diff", str(path), str(path)),
    ):
        result = tosguard(*args)
        assert result.returncode in (0, 1), (args, result.stderr)
        assert b"Traceback" not in result.stderr and b"internal" not in result.stderr


def test_generated_functions_evaluate_a_policy_at_the_limits(tmp_path):
    from tosguard.api import check, load_library
    from tosguard.manifest.model import parse_manifest

    path = tmp_path / "limits.tos"
    nested = "not " * (MAX_NESTING - 2) + "model.commercial"
    path.write_text(
        policy(
            clause(f'd60 and ({nested}) and source.use contains "distillation"', "limits"),
            defines=chain(60),
        ),
        encoding="utf-8",
    )
    manifest = parse_manifest(
        b"tosguard: 1\nmodel: {name: m, commercial: true}\nsources:\n"
        b"  - {id: a, kind: model-output, provider: acme, service: api,"
        b" use: [distillation]}\n",
        "m.yaml",
    )
    slow = check(load_library([path], use_cache=False), manifest, as_of="2026-01-01")
    fast = check(load_library([path], use_cache=False).accelerate(), manifest, as_of="2026-01-01")
    assert slow.to_json() == fast.to_json()


# ---- regular expressions that backtrack -------------------------------------------------------
def test_a_backtracking_regex_against_a_long_name_is_linear(tmp_path):
    """`^(a+)+$` against a 26-character name took 2.25 s and doubled per character."""
    path = tmp_path / "redos.tos"
    path.write_text(policy(clause('source.model matches regex "^(a+)+$"')), encoding="utf-8")
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "tosguard: 1\nsources:\n  - {id: a, kind: model-output, provider: acme,"
        f" service: api, model: {'a' * 4000}b}}\n",
        encoding="utf-8",
    )
    result = tosguard("check", str(manifest), "--policies", str(path), "--format", "json")
    assert result.returncode in (0, 1), result.stderr


def test_lint_runs_a_backtracking_regex_against_the_vocabulary_in_linear_time():
    """Lint tests patterns against vocabulary values; `(.?){14}(.?){14}Z` froze a worker."""
    text = policy(
        clause('source.kind matches regex "^(.?){14}(.?){14}Z" or source.kind == "model-output"')
    )
    assert not lint_text(text, "p.tos").errors
    text = policy(clause('source.kind matches regex "^(.?){14}(.?){14}Z"'))
    assert [d.code for d in lint_text(text, "p.tos").errors] == ["policy-never-holds"]


# ---- empty and partial policy sets ------------------------------------------------------------
@pytest.mark.parametrize("shape", ["empty-directory", "dev-null", "text-files", "definitions-only"])
def test_check_against_no_policy_is_refused(tmp_path, shape):
    target = tmp_path / "policies"
    target.mkdir()
    if shape == "dev-null":
        target = Path(os.devnull)
    elif shape == "text-files":
        (target / "notes.txt").write_text("policy x {}\n", encoding="utf-8")
    elif shape == "definitions-only":
        (target / "defs.tos").write_text('set s = {"a"}\n', encoding="utf-8")
    for option in ("--policies", "--extra-policies"):
        if option == "--extra-policies" and shape in ("definitions-only", "dev-null"):
            continue  # definitions (or nothing) in a file added to the library are fine
        result = tosguard("check", str(ACME), option, str(target), "--error-format", "json")
        assert result.returncode == 2, (option, result.stdout)
        assert "policy-empty-set" in codes(result)


def test_a_directory_that_cannot_be_read_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a.tos").write_text(policy(clause("model.commercial")), encoding="utf-8")
    locked = tmp_path / "more"
    locked.mkdir()
    (locked / "b.tos").write_text(policy(clause("model.commercial")), encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # root reads any directory; simulate one it cannot
    with pytest.raises(PolicyError) as info:
        library_module.load_library([tmp_path], use_cache=False)
    [diagnostic] = info.value.diagnostics
    assert diagnostic.code == "policy-io" and "more" in diagnostic.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_a_directory_without_permissions_is_refused(tmp_path):
    (tmp_path / "a.tos").write_text(policy(clause("model.commercial")), encoding="utf-8")
    locked = tmp_path / "more"
    locked.mkdir()
    locked.chmod(0)
    try:
        result = tosguard("check", str(ACME), "--policies", str(tmp_path))
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2 and b"policy-io" in result.stderr


def test_a_policy_file_that_never_ends_is_refused_without_reading_it_all(tmp_path):
    result = tosguard("check", str(ACME), "--policies", "/dev/zero", "--error-format", "json")
    assert result.returncode == 2
    assert "policy-too-large" in codes(result)


def test_a_reload_of_an_emptied_directory_keeps_the_set_in_use(tmp_path):
    from tosguard.service.state import PolicyState

    (tmp_path / "a.tos").write_text(policy(clause("model.commercial")), encoding="utf-8")
    state = PolicyState([str(tmp_path)], use_cache=False)
    loaded = state.load()
    (tmp_path / "a.tos").unlink()
    result = state.reload()
    assert not result.ok and state.current is loaded
    assert [d.code for d in result.diagnostics] == ["policy-empty-set"]


# ---- policy test files ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "attack,code_in_message",
    [
        ("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n", "aliases"),
        ("tests:\n  - manifest: " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
        ("tests:\n  - {as_of: 2026-01-01, as_of: 2026-01-02}\n", "duplicate"),
    ],
)
def test_policy_test_files_are_read_strictly(tmp_path, attack, code_in_message):
    """`tosguard test` read test files with PyYAML's recursive loader: alias bombs expanded and
    deep nesting overflowed the stack."""
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "attack.yaml").write_text(attack, encoding="utf-8")
    (tmp_path / "p.tos").write_text(policy(clause("model.commercial")), encoding="utf-8")
    result = tosguard(
        "test", str(tests), "--policies", str(tmp_path / "p.tos"), "--error-format", "json"
    )
    assert result.returncode == 2, result.stdout
    [error] = json.loads(result.stderr)["errors"]
    assert error["code"] == "test-syntax" and code_in_message in error["message"]
    assert error["line"] >= 1


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16", "utf-32-be"])
def test_a_policy_file_in_utf16_or_utf32_is_named_as_such(tmp_path, encoding):
    """UTF-16 without a BOM is valid UTF-8 full of NULs: it got "NUL character in policy
    text" (and with a BOM, "invalid UTF-8 byte 0xff")."""
    path = tmp_path / "p.tos"
    path.write_bytes(policy(clause("model.commercial")).encode(encoding))
    result = tosguard("lint", str(path), "--error-format", "json")
    assert result.returncode == 2
    [diagnostic] = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["code"] == "policy-encoding"
    assert encoding.split("-")[0].upper().replace("UTF", "UTF-") in diagnostic["message"]
    assert "save it as UTF-8" in diagnostic["help"]


# ---- work that is bounded per condition but not per file (a review's reproductions) ----------
# Each runs under a budget of a few seconds (what the service would give it): a regression shows
# as TimeLimitExceeded, not as a hung suite. Unbounded, each took from 6 s to hours.
def bounded(seconds: float = 10):
    from tosguard.engine.budget import Budget, active

    return active(Budget(timeout=seconds))


def doubling_from(n: int) -> str:
    return "define d0 = model.commercial\n" + "".join(
        f"define d{i} = d{i - 1} and d{i - 1}\n" for i in range(1, n + 1)
    )


def test_many_clauses_sharing_a_large_predicate_are_refused_as_a_whole(tmp_path):
    """d13 stands for 8,192 tests, under the limit; forty clauses `when d13` stood for 327,680,
    compiled out in full: 10 s and 285 MB for 4 KB of text, minutes and GBs at 1 MiB."""
    from tosguard.engine.library import compile_contents

    text = policy(*[clause("d13", f"c{i}") for i in range(40)], defines=doubling_from(13))
    with bounded():
        found = lint_text(text, "p.tos").errors
        with pytest.raises(PolicyError):
            compile_contents([(tmp_path / "p.tos", "p.tos", text.encode())])
    [total] = [d for d in found if "in all" in d.message]
    assert total.code == "policy-too-complex" and "100,000" in total.message


def test_a_predicate_shared_by_clauses_is_compiled_once():
    from tosguard.engine.compile import compile_files
    from tosguard.language.parse import parse_policy_text
    from tosguard.language.validate import MAX_FILE_TESTS

    text = policy(*[clause("d10", f"c{i}") for i in range(10)], defines=doubling_from(10))
    assert MAX_FILE_TESTS > 10 * 1024
    [compiled] = compile_files([parse_policy_text(text, "p.tos")], {})
    bodies = {id(clause.when.body) for clause in compiled.clauses}
    assert len(bodies) == 1  # one shared body, not ten copies of 1,024 tests


def test_large_sets_tested_against_each_other_lint_in_linear_time():
    """`x in big and x not in big2` with 4,000 values each, in thirty clauses: the linter's
    membership test against a list took 8.6 s for 62 KB."""
    big = ", ".join(f'"v{i}"' for i in range(4000))
    other = ", ".join(f'"w{i}"' for i in range(4000))
    defines = (
        f"set big = {{{big}}}\nset big2 = {{{other}}}\n"
        "define d = model.name in big and model.name not in big2\n"
    )
    with bounded():
        assert not lint_text(
            policy(*[clause("d", f"c{i}") for i in range(30)], defines=defines), "p.tos"
        ).errors


def test_a_set_of_wrong_values_tested_forty_times_reports_each_value_once():
    """20,000 numbers tested against a text field forty times: 800,000 diagnostics, 481 MB."""
    import tracemalloc

    values = ", ".join(str(i) for i in range(20_000))
    text = policy(clause(" and ".join(["model.name in s"] * 40)), defines=f"set s = {{{values}}}\n")
    tracemalloc.start()
    try:
        with bounded():
            result = lint_text(text, "p.tos")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    errors, _ = result.counts()
    assert 1000 <= errors <= 20_001  # each value once (a sink keeps 1,000, counts the rest)
    assert result.diagnostics[-1].code == "policy-too-many-errors"
    assert peak < 200 * 1024 * 1024


def test_a_long_chain_written_backwards_is_measured_in_linear_time():
    """`define d0 = d1`, `d1 = d2`, … 10,000 deep, in that order: the expansion rescanned its
    chain at every step (18 s)."""
    text = (
        "".join(f"define d{i} = d{i + 1}\n" for i in range(10_000))
        + "define d10000 = model.commercial\n"
        + policy(clause("d0"))
    )
    with bounded():
        found = lint_text(text, "p.tos").errors
    assert {d.code for d in found} == {"policy-too-complex"}


def test_regular_expressions_that_fail_to_compile_fail_once():
    """Sixty patterns that RE2 refuses as too large: 65 ms each, every time they were seen."""
    text = policy(
        *[clause(f'model.name matches regex "\\\\pL{{{1000 + i}}}"', f"c{i}") for i in range(60)]
    )
    with bounded():
        found = lint_text(text, "p.tos").errors
        again = lint_text(text, "p.tos").errors
    assert {d.code for d in found} == {"policy-bad-regex"} and len(found) == 60
    assert found == again


def test_a_lone_surrogate_in_a_policy_string_is_refused_where_it_is_written(tmp_path):
    """`matches regex "\\ud800"` made lint exit 3 and validate answer 500."""
    text = policy(clause('model.name matches regex "\\ud800"'))
    found = lint_text(text, "p.tos").errors
    assert [(d.code, d.span.line) for d in found] == [("policy-encoding", 11)]
    path = tmp_path / "p.tos"
    path.write_text(text, encoding="utf-8")
    result = tosguard("check", str(ACME), "--policies", str(path), "--error-format", "json")
    assert result.returncode == 2 and codes(result) == ["policy-encoding"]


def test_problems_inside_a_predicate_of_another_file_show_that_files_line(tmp_path):
    from tosguard.language.parse import parse_policy_text
    from tosguard.language.validate import check_library

    shared = parse_policy_text('define g = model.purpose == "chatt"\n', "a.tos")
    user = parse_policy_text(policy(clause("g")), "b.tos")
    found = [d for d in check_library([shared, user]) if d.code == "policy-unknown-value"]
    assert len(found) == 1  # once, not once per file that uses it
    assert found[0].span.file == "a.tos" and "chatt" in found[0].source_line


def test_a_linked_directory_is_read_and_a_link_loop_refused(tmp_path):
    linked = tmp_path / "elsewhere"
    linked.mkdir()
    (linked / "a.tos").write_text(policy(clause("model.commercial")), encoding="utf-8")
    root = tmp_path / "set"
    root.mkdir()
    (root / "linked").symlink_to(linked)
    loaded = library_module.load_library([root], use_cache=False)
    assert [p.id for p in loaded.policies] == ["acme-terms"]  # was skipped: a set in part
    (linked / "loop").symlink_to(tmp_path)
    with pytest.raises(PolicyError) as info:
        library_module.load_library([root], use_cache=False)
    assert {d.code for d in info.value.diagnostics} == {"policy-io"}
    assert all("reached twice" in d.message for d in info.value.diagnostics)
