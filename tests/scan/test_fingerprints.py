"""Fingerprint files: the shipped set loads and lints clean; a bad file gets every problem
located, with a help line; `tosguard lint` reports them."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_cli import err, out, tosguard
from tosguard.resources import policies_dir
from tosguard.scan.fingerprints import (
    FingerprintError,
    fingerprint_files,
    lint_fingerprints,
    load_fingerprints,
)

BAD = """provider: openai
fingerprints:
  - id: a
    kind: self-identificaton
    strength: strong
    pattern: 'I am (ChatGPT'
    why: x
  - id: b
    kind: self-identification
    strength: weak
    pattern: 'I am ChatGPT'
    why: x
    matches: ["I'm ChatGPT"]
    not_matches: ["I am ChatGPT too"]
  - id: b
    kind: refusal-boilerplate
    strength: weak
    pattern: 'x'
    why: y
    exampels: []
"""


def test_shipped_fingerprints_load_and_lint_clean() -> None:
    files = fingerprint_files([policies_dir()])
    assert len(files) == 8
    fingerprints = load_fingerprints(files)
    assert len({f.rule for f in fingerprints}) == len(fingerprints)
    assert all(f.why and f.line > 1 for f in fingerprints)
    assert lint_fingerprints(files) == []


def test_a_bad_file_gets_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "openai" / "fingerprints.yaml"
    path.parent.mkdir()
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(FingerprintError) as caught:
        load_fingerprints([path])
    found = {(d.code, d.span.line) for d in caught.value.diagnostics}
    assert found == {
        ("fingerprint-invalid", 4),  # the kind, with a did-you-mean
        ("fingerprint-pattern", 6),
        ("fingerprint-example", 13),  # misses its example
        ("fingerprint-example", 14),  # matches its counterexample
        ("fingerprint-invalid", 20),  # unknown key
    }
    kind = next(d for d in caught.value.diagnostics if d.span.line == 4)
    assert kind.help == "did you mean `self-identification`?"
    result = tosguard("lint", str(tmp_path))
    assert result.returncode == 2
    assert "error[fingerprint-pattern]" in out(result) + err(result)
    named = tosguard("lint", str(path))  # as the pre-commit hook passes a changed file
    assert named.returncode == 2
    assert "error[fingerprint-pattern]" in out(named) + err(named)
    assert "policy-syntax" not in out(named) + err(named)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    entry = "  - {id: a, kind: reasoning-trace, strength: weak, pattern: '<think>', why: w}\n"
    path = tmp_path / "fingerprints.yaml"
    path.write_text("provider: deepseek\nfingerprints:\n" + entry + entry, encoding="utf-8")
    with pytest.raises(FingerprintError) as caught:
        load_fingerprints([path])
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "fingerprint-duplicate-id" and diagnostic.span.line == 4
