"""What `tosguard check` reads besides the manifests it is named: directories, glob patterns
and standard input as manifests, and configuration files found from the working directory up
(end to end, through the installed CLI, in temporary directories)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from test_cli import AS_OF, EXAMPLES, ROOT, err, out, tosguard
from tosguard.config import key_positions, read_config

FIXTURE = ROOT / "tests" / "golden" / "fixture"
ACME = (EXAMPLES / "acme.yaml").read_bytes()


def manifests_tree(root: Path) -> Path:
    """pipelines/ with manifests at two depths, a hidden directory, a hidden file and a file
    that is not a manifest."""
    base = root / "pipelines"
    (base / "team-b" / "deep").mkdir(parents=True)
    (base / ".cache").mkdir()
    shutil.copy(EXAMPLES / "acme.yaml", base / "acme.yaml")
    shutil.copy(EXAMPLES / "proxy-unsupported-country.json", base / "team-b" / "proxy.json")
    shutil.copy(EXAMPLES / "llama-naming.yaml", base / "team-b" / "deep" / "llama.yml")
    shutil.copy(EXAMPLES / "acme.yaml", base / ".cache" / "hidden.yaml")
    shutil.copy(EXAMPLES / "acme.yaml", base / ".hidden.yaml")
    (base / "README.md").write_text("not a manifest\n")
    return base


# ---- directories and globs --------------------------------------------------------------------
def test_a_directory_is_every_manifest_inside_sorted_hidden_skipped(tmp_path: Path) -> None:
    manifests_tree(tmp_path)
    result = tosguard("check", "pipelines", "--format", "json", "--as-of", AS_OF, cwd=tmp_path)
    assert result.returncode == 1, err(result)
    reports = json.loads(out(result))
    assert [r["manifest"] for r in reports] == [
        "pipelines/acme.yaml",
        "pipelines/team-b/deep/llama.yml",
        "pipelines/team-b/proxy.json",
    ]
    assert all(f["location"]["file"] == r["manifest"] for r in reports for f in r["findings"])
    text = out(tosguard("check", "pipelines", "--as-of", AS_OF, cwd=tmp_path))
    assert text.count("  (as of 2026-11-22)") == 3  # one text report per manifest


def test_a_quoted_glob_is_expanded_by_tosguard(tmp_path: Path) -> None:
    manifests_tree(tmp_path)
    result = tosguard(
        "check", "pipelines/**/*.y*ml", "--format", "json", "--as-of", AS_OF, cwd=tmp_path
    )
    assert result.returncode == 1, err(result)
    assert [r["manifest"] for r in json.loads(out(result))] == [
        "pipelines/acme.yaml",
        "pipelines/team-b/deep/llama.yml",
    ]


def test_sarif_and_junit_of_a_directory_are_one_document(tmp_path: Path) -> None:
    import xml.dom.minidom

    manifests_tree(tmp_path)
    sarif = json.loads(
        out(tosguard("check", "pipelines", "--format", "sarif", "--as-of", AS_OF, cwd=tmp_path))
    )
    assert len(sarif["runs"]) == 1
    assert len(sarif["runs"][0]["properties"]["reports"]) == 3
    junit = out(tosguard("check", "pipelines", "--format", "junit", "--as-of", AS_OF, cwd=tmp_path))
    suites = xml.dom.minidom.parseString(junit).getElementsByTagName("testsuite")
    assert [s.getAttribute("name") for s in suites] == [
        "pipelines/acme.yaml",
        "pipelines/team-b/deep/llama.yml",
        "pipelines/team-b/proxy.json",
    ]


def test_a_report_is_never_written_over_a_manifest_of_a_directory(tmp_path: Path) -> None:
    base = manifests_tree(tmp_path)
    before = (base / "team-b" / "proxy.json").read_bytes()
    result = tosguard(
        "check", "pipelines", "--format", "json", "-o", "pipelines/team-b/proxy.json", cwd=tmp_path
    )
    assert result.returncode == 2 and "error[usage-output-is-input]" in err(result)
    assert (base / "team-b" / "proxy.json").read_bytes() == before


@pytest.mark.parametrize("argument", ["empty", "nothing-*.yaml"])
def test_a_directory_or_pattern_without_manifests_is_a_usage_error(
    tmp_path: Path, argument: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    result = tosguard("check", argument, cwd=tmp_path)
    assert result.returncode == 2
    assert "error[usage-no-manifests]" in err(result) and f"`{argument}`" in err(result)


def test_diff_takes_a_directory_of_manifests(tmp_path: Path) -> None:
    manifests_tree(tmp_path)
    policies = str(ROOT / "policies")
    result = tosguard(
        "diff", policies, policies, "--manifests", "pipelines", "--format", "json", cwd=tmp_path
    )
    assert result.returncode == 0, err(result)
    assert [m["manifest"] for m in json.loads(out(result))["manifests"]] == [
        "pipelines/acme.yaml",
        "pipelines/team-b/deep/llama.yml",
        "pipelines/team-b/proxy.json",
    ]


# ---- standard input ---------------------------------------------------------------------------
def test_stdin_is_a_manifest_named_stdin() -> None:
    from_file = tosguard("check", "examples/acme.yaml", "--format", "json", "--as-of", AS_OF)
    from_stdin = tosguard("check", "-", "--format", "json", "--as-of", AS_OF, stdin=ACME)
    assert from_stdin.returncode == from_file.returncode == 1
    assert out(from_stdin) == out(from_file).replace('"examples/acme.yaml"', '"<stdin>"')
    text = out(tosguard("check", "-", "--as-of", AS_OF, stdin=ACME))
    assert text.startswith("NON-COMPLIANT  <stdin>") and "(<stdin>:12:3)" in text


def test_stdin_json_and_its_errors_are_located_at_stdin() -> None:
    as_json = (EXAMPLES / "proxy-unsupported-country.json").read_bytes()
    result = tosguard("check", "-", "--format", "json", "--as-of", AS_OF, stdin=as_json)
    assert json.loads(out(result))["manifest"] == "<stdin>"
    bad = tosguard("check", "-", stdin=b"tosguard: 1\nsourcs: []\n")
    assert bad.returncode == 2
    assert "--> <stdin>:2:1" in err(bad) and "did you mean `sources`?" in err(bad)


def test_stdin_twice_is_refused_and_explain_reads_stdin() -> None:
    twice = tosguard("check", "-", "-", stdin=ACME)
    assert twice.returncode == 2 and "more than once" in err(twice)
    explained = tosguard(
        "explain", "-", "--clause", "meta-llama-3.1-license/model-name-prefix", stdin=ACME
    )
    assert explained.returncode == 0, err(explained)
    assert "<stdin>" in out(explained)


# ---- configuration ----------------------------------------------------------------------------
def project(root: Path, config: str, name: str = "pyproject.toml") -> Path:
    """A project with the fixture policy and manifest and ``config``, checked from a
    directory two levels down."""
    (root / "specs").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE / "policy.tos", root / "specs" / "policy.tos")
    shutil.copy(FIXTURE / "manifest.yaml", root / "manifest.yaml")
    (root / name).write_text(config, encoding="utf-8")
    below = root / "a" / "b"
    below.mkdir(parents=True, exist_ok=True)
    return below


PYPROJECT = """[project]
name = "demo"

[tool.tosguard]
policies = ["specs/policy.tos"]   # relative to this file
format = "json"
fail-on = "violated"
"""


def test_config_is_found_walking_up_and_named_on_stderr(tmp_path: Path) -> None:
    below = project(tmp_path, PYPROJECT)
    result = tosguard("check", "../../manifest.yaml", "--as-of", AS_OF, cwd=below)
    assert result.returncode == 1, err(result)
    report = json.loads(out(result))  # format json, from the configuration
    assert {f["policy"] for f in report["findings"]} == {"fixture-terms"}  # its policies
    assert err(result) == f"tosguard: using configuration {tmp_path / 'pyproject.toml'}\n"


def test_flags_override_the_config_and_isolated_ignores_it(tmp_path: Path) -> None:
    below = project(tmp_path, PYPROJECT)
    text = tosguard("check", "../../manifest.yaml", "--as-of", AS_OF, "--format", "text", cwd=below)
    assert out(text).startswith("NON-COMPLIANT")
    isolated = tosguard("check", "../../manifest.yaml", "--as-of", AS_OF, "--isolated", cwd=below)
    assert out(isolated).startswith("NON-COMPLIANT")  # text, shipped library
    assert "fixture-terms" not in out(isolated) and err(isolated) == ""


def test_fail_on_from_the_config(tmp_path: Path) -> None:
    # llama-naming is compliant with one warning: only `fail-on = "warning"` fails it
    shutil.copy(EXAMPLES / "llama-naming.yaml", tmp_path / "llama.yaml")
    assert tosguard("check", "llama.yaml", "--as-of", AS_OF, cwd=tmp_path).returncode == 0
    (tmp_path / ".tosguard.toml").write_text('fail-on = "warning"\n')
    assert tosguard("check", "llama.yaml", "--as-of", AS_OF, cwd=tmp_path).returncode == 1
    overridden = tosguard(
        "check", "llama.yaml", "--as-of", AS_OF, "--fail-on", "violated", cwd=tmp_path
    )
    assert overridden.returncode == 0


def test_the_nearest_config_wins_and_in_one_directory_dot_tosguard_first(
    tmp_path: Path,
) -> None:
    below = project(tmp_path, PYPROJECT)
    (tmp_path / "a" / "tosguard.toml").write_text('format = "markdown"\n')
    result = tosguard("check", "../../manifest.yaml", "--as-of", AS_OF, cwd=below)
    assert out(result).startswith("## tosguard: **NON-COMPLIANT**")
    assert str(tmp_path / "a" / "tosguard.toml") in err(result)
    (tmp_path / "a" / ".tosguard.toml").write_text('format = "junit"\n')
    result = tosguard("check", "../../manifest.yaml", "--as-of", AS_OF, cwd=below)
    assert out(result).startswith("<?xml") and ".tosguard.toml" in err(result)


def test_a_pyproject_without_tool_tosguard_is_passed_over(tmp_path: Path) -> None:
    below = project(tmp_path, PYPROJECT)
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "inner"\n[tool.ruff]\n')
    result = tosguard("check", "../../manifest.yaml", "--as-of", AS_OF, cwd=below)
    assert str(tmp_path / "pyproject.toml") in err(result)
    json.loads(out(result))


def test_config_option_names_the_file(tmp_path: Path) -> None:
    below = project(tmp_path, 'format = "sarif"\n', name="ci.toml")
    result = tosguard(
        "check", "../../manifest.yaml", "--config", "../../ci.toml", "--as-of", AS_OF, cwd=below
    )
    assert json.loads(out(result))["version"] == "2.1.0"
    missing = tosguard("check", "../../manifest.yaml", "--config", "nope.toml", cwd=below)
    assert missing.returncode == 2 and "error[config-io]" in err(missing)


def test_no_config_prints_nothing_more(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "acme.yaml", tmp_path / "acme.yaml")
    here = tosguard("check", "acme.yaml", "--as-of", AS_OF, cwd=tmp_path)
    assert err(here) == ""
    in_repo = tosguard("check", "examples/acme.yaml", "--as-of", AS_OF)  # pyproject: no table
    assert err(in_repo) == "" and out(here) == out(in_repo).replace("examples/", "")


@pytest.mark.parametrize(
    "config,code,where,help",
    [
        (
            '[tool.tosguard]\nformat = "json"\nfial-on = "warning"\n',
            "config-unknown-key",
            "pyproject.toml:3:1",
            "did you mean `fail-on`?",
        ),
        (
            '[tool.tosguard]\nfail-on   =   "warnings"\n',
            "config-bad-value",
            "pyproject.toml:2:15",
            'expected one of "violated", "undetermined", "warning"',
        ),
        (
            '[tool.tosguard]\npolicies = [\n  "a",\n  3,\n]\n',
            "config-bad-value",
            "pyproject.toml:2:12",
            "relative to the configuration file",
        ),
        (
            '[tool.tosguard]\nformat = "json\n',
            "config-syntax",
            "pyproject.toml:2:15",
            "toml.io",
        ),
        (
            "[tool.tosguard]\nbaseline = 'x'\n[tool.tosguard.extra]\nk = 1\n",
            "config-unknown-key",
            "pyproject.toml:3:1",
            "",
        ),
    ],
)
def test_bad_config_is_a_located_error(
    tmp_path: Path, config: str, code: str, where: str, help: str
) -> None:
    below = project(tmp_path, config)
    result = tosguard("check", "../../manifest.yaml", cwd=below)
    assert result.returncode == 2
    assert f"error[{code}]" in err(result), err(result)
    assert f"--> {tmp_path / where}" in err(result)
    assert help in err(result)


# ---- where keys are, without a TOML parser that keeps positions -------------------------------
TRICKY = '''# a comment with key = "no"
title = "x = 1"   # trailing comment
"quoted key" = 1
multi = """
fake = 1
"""
literal = \'\'\'
[not.a.table]
\'\'\'
array = [
  "a = b", # comment ]
  [1, 2],
]
inline = { fail-on = "x", nested = { y = 1 } }

[tool . "tosguard"]
fail-on = "warning"
dotted.key = true
[[tool.list]]
item = 1
'''


def test_key_positions_skip_values_of_every_kind() -> None:
    import tomllib

    tomllib.loads(TRICKY)  # the document is valid TOML
    found = key_positions(TRICKY)
    assert found == {
        ("title",): (2, 1, 9),
        ("quoted key",): (3, 1, 16),
        ("multi",): (4, 1, 9),
        ("literal",): (7, 1, 11),
        ("array",): (10, 1, 9),
        ("inline",): (14, 1, 10),
        ("tool", "tosguard"): (16, 1, 1),
        ("tool", "tosguard", "fail-on"): (17, 1, 11),
        ("tool", "tosguard", "dotted", "key"): (18, 1, 14),
        ("tool", "list"): (19, 1, 1),
        ("tool", "list", "item"): (20, 1, 8),
    }


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "tosguard.toml").write_text(
        'policies = "p"\nextra-policies = ["x/y.tos"]\nbaseline = "b.yaml"\noutput = "r.json"\n'
    )
    config = read_config(tmp_path / "tosguard.toml")
    assert config.values == {
        "policies": (str(tmp_path / "p"),),
        "extra-policies": (str(tmp_path / "x" / "y.tos"),),
        "baseline": str(tmp_path / "b.yaml"),
        "output": str(tmp_path / "r.json"),
    }


# ---- key_positions, as a property over generated documents -----------------------------------
_BARE_KEYS = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
_ANY_KEYS = st.text(alphabet=st.sampled_from("ab =#[].\"'\\é"), min_size=1, max_size=6)
_TEXT = st.text(alphabet=st.sampled_from("xy =#[]{},\"'\n\\"), max_size=12)


def _toml_string(text: str) -> str:
    """A TOML string of ``text``, in one of the forms that can hold it."""
    if "\n" in text and "'''" not in text and not text.endswith("'"):
        return "'''" + text + "'''"
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


_VALUES = st.recursive(
    st.one_of(
        st.integers(-5, 5).map(str),
        st.sampled_from(["true", "false"]),
        _TEXT.map(_toml_string),
    ),
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda items: "[\n  " + ",\n  ".join(items) + "\n]")
        | st.lists(inner.filter(lambda v: "\n" not in v), max_size=2).map(
            lambda items: "{ " + ", ".join(f"k{n} = {v}" for n, v in enumerate(items)) + " }"
        )
    ),
    max_leaves=4,
)


def _key_text(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


@given(
    tables=st.dictionaries(
        _BARE_KEYS,
        st.dictionaries(st.one_of(_BARE_KEYS, _ANY_KEYS), _VALUES, min_size=1, max_size=4),
        min_size=1,
        max_size=3,
    )
)
@settings(max_examples=150, deadline=None)
def test_key_positions_point_at_each_key(tables: dict[str, dict[str, str]]) -> None:
    import tomllib

    text = "# generated\n"
    wanted: dict[tuple[str, ...], int] = {}
    for table, members in tables.items():
        wanted[("tool", table)] = text.count("\n") + 1
        text += f"[tool.{table}]  # a table\n"
        for key, value in members.items():
            wanted[("tool", table, key)] = text.count("\n") + 1
            text += f"{_key_text(key)} = {value}  # = [\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assume(False)  # e.g. two keys that TOML reads as one
    found = key_positions(text)
    rows = text.split("\n")
    for path, line in wanted.items():
        key_line, key_column, value_column = found[path]
        assert key_line == line, (path, text)
        if len(path) == 3:
            row = rows[line - 1]
            assert row[key_column - 1 :].startswith(_key_text(path[-1]) + " = ")
            assert row[value_column - 1 :].startswith(tables[path[1]][path[2]].split("\n")[0])


def test_explain_loads_the_policies_of_the_config(tmp_path: Path) -> None:
    below = project(tmp_path, PYPROJECT)
    args = ("explain", "../../manifest.yaml", "--clause", "fixture-terms/compete")
    explained = tosguard(*args, "--as-of", AS_OF, cwd=below)
    assert explained.returncode == 0, err(explained)
    assert "fixture-terms/compete" in out(explained)
    assert "using configuration" in err(explained)
    unknown = tosguard(*args, "--isolated", cwd=below)  # the shipped library has no such policy
    assert unknown.returncode == 2 and "no policy `fixture-terms`" in err(unknown)


def test_key_positions_read_toml_escapes_in_quoted_keys() -> None:
    text = '"a\\U0001F600" = 1\n"b\\u00e9\\t" = 2\n'
    assert key_positions(text) == {("a😀",): (1, 1, 17), ("bé\t",): (2, 1, 15)}
