"""What each fuzzer feeds tosguard, and what may come back.

Each harness takes arbitrary bytes and runs one front end of tosguard on them. The only
failures allowed are tosguard's own errors (a :class:`~tosguard.errors.TosguardError` with
diagnostics that carry a code, a message and a help line where one is due); anything else — a
Python exception, a RecursionError, an assertion below — is a bug the fuzzer reports with the
input. Run by the atheris drivers beside this file, and by Hypothesis in
``tests/adversarial/test_fuzz_harnesses.py``.
"""

from __future__ import annotations

import functools

from tosguard.errors import ManifestError, PolicyError, TosguardError


def _assert_diagnostics(error: TosguardError) -> None:
    """Every diagnostic has a code, a message and a place, and prints as one line of the plain
    format and one block of the human format, with nothing in them that acts on a terminal
    (user text inside a message is escaped on output: a newline in a YAML value must not
    forge a line of its own)."""
    from tosguard.errors import render_human, render_plain
    from tosguard.safetext import is_unsafe

    assert error.diagnostics, "an error without diagnostics"
    for diagnostic in error.diagnostics:
        assert diagnostic.code and diagnostic.message, diagnostic
        assert diagnostic.span.line >= 0 and diagnostic.span.column >= 0, diagnostic
    plain = render_plain(error.diagnostics)
    assert len(plain.split("\n")) == len(error.diagnostics), plain
    human = render_human(error.diagnostics)
    assert human.count("\n\n") == len(error.diagnostics) - 1, human
    for text in (plain, human):
        unsafe = [char for char in text if char != "\n" and is_unsafe(char)]
        assert not unsafe, (unsafe, text)


def manifest(data: bytes) -> None:
    """The manifest reader, as YAML and as JSON: a manifest, or a ManifestError."""
    from tosguard.manifest.model import parse_manifest

    for name in ("fuzz.yaml", "fuzz.json"):
        try:
            loaded = parse_manifest(data, name)
        except ManifestError as error:
            _assert_diagnostics(error)
            continue
        for index in range(len(loaded.manifest.sources)):
            assert loaded.position(f"/sources/{index}") is not None


@functools.cache
def _library():
    from tosguard.api import load_library

    return load_library()


def check(data: bytes) -> None:
    """A whole check against the shipped library: a report that renders in every format, or a
    ManifestError. The same input always gives the same JSON."""
    from tosguard.api import check as run_check
    from tosguard.manifest.model import parse_manifest
    from tosguard.report.formats import render_junit, render_markdown, render_sarif
    from tosguard.report.text import render_text

    try:
        loaded = parse_manifest(data, "fuzz.yaml")
    except ManifestError as error:
        _assert_diagnostics(error)
        return
    report = run_check(_library(), loaded, as_of="2026-01-01")
    again = run_check(_library(), loaded, as_of="2026-01-01")
    assert report.to_json() == again.to_json()
    render_text(report, loaded.source_line, loaded.manifest.sources)
    render_markdown(report)
    render_sarif([report])
    render_junit([report])


def policy(data: bytes) -> None:
    """A policy file through every authoring tool: parse, check, lint, compile, format.
    Formatting is idempotent and keeps the meaning (the formatted text parses to the same
    tree, which :func:`tosguard.language.printer.format_text` verifies itself)."""
    from tosguard.engine.compile import compile_files
    from tosguard.language.parse import decode_policy, parse_policy_text
    from tosguard.language.printer import format_text
    from tosguard.tools.lint import lint_files

    try:
        text = decode_policy(data, "fuzz.tos")
        parsed = parse_policy_text(text, "fuzz.tos")
    except PolicyError as error:
        _assert_diagnostics(error)
        return
    diagnostics = lint_files([parsed])
    if not any(d.severity == "error" for d in diagnostics):
        compile_files([parsed], {})
    formatted = format_text(text, "fuzz.tos")
    assert format_text(formatted, "fuzz.tos") == formatted


HARNESSES = {"manifest": manifest, "check": check, "policy": policy}
