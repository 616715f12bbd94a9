"""Policy tests: a manifest plus the findings it must and must not produce.

A test file (``policies/<provider>/tests/*.yaml``, or anywhere ``tosguard test`` is pointed at)
holds one test, or a list of them under ``tests:``::

    description: distilling GPT-4o into an open chat model is forbidden
    as_of: 2026-01-01
    manifest: {tosguard: 1, sources: [...]}        # inline, or `manifest_file: ../x.yaml`
    verdict: non_compliant                         # optional
    must:                                          # findings that must be in the report
      - {clause: openai-services-agreement/competing-models, subject: /sources/0,
         status: violated}
    must_not:                                      # findings that must not be
      - {clause: openai-services-agreement/competing-models, status: violated}

In ``must`` and ``must_not``, ``subject`` and ``status`` may be left out to match any. A test
that asserts nothing (no verdict, no must, no must_not) fails.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Diagnostic, PolicyError, Span, TosguardError

TEST_KEYS = {"description", "as_of", "manifest", "manifest_file", "verdict", "must", "must_not"}
MATCH_KEYS = {"clause", "subject", "status"}


@dataclass
class PolicyTest:
    file: str
    name: str
    description: str
    as_of: str
    manifest: dict | None
    manifest_file: str | None
    verdict: str | None
    must: list[dict]
    must_not: list[dict]


@dataclass
class PolicyTestResult:
    test: PolicyTest
    failures: list[str] = field(default_factory=list)
    report: object | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def find_test_files(paths: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.yaml") if "tests" in p.parts
                            or path.name == "tests")
        elif path.exists():
            found.append(path)
        else:
            raise PolicyError(Diagnostic("test-io", f"cannot read `{given}`: no such file or "
                                         "directory", Span(str(given)),
                                         "pass a test file or a directory of them"))
    return found


def load_tests(path: Path) -> list[PolicyTest]:
    """Every test in one file; malformed files raise :class:`PolicyError`."""
    import yaml

    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        span = Span(name, mark.line + 1, mark.column + 1) if mark else Span(name)
        message = f"cannot read policy test: {str(error).splitlines()[0]}"
        raise PolicyError(Diagnostic("test-syntax", message, span, "a policy test is a YAML "
                                     "mapping; see docs/language.md")) from None
    entries = data.get("tests") if isinstance(data, dict) and "tests" in data else [data]
    if not isinstance(entries, list):
        entries = [entries]
    return [_test(name, index, entry, len(entries)) for index, entry in enumerate(entries)]


def _test(file: str, index: int, entry: object, count: int) -> PolicyTest:
    def fail(message: str, help: str) -> PolicyError:
        return PolicyError(Diagnostic("test-invalid", message, Span(file), help))

    if not isinstance(entry, dict):
        raise fail("a policy test must be a mapping", "write `manifest:` and `must:` keys")
    unknown = set(entry) - TEST_KEYS
    if unknown:
        from .errors import did_you_mean

        key = sorted(unknown)[0]
        raise fail(f"unknown key `{key}` in policy test", did_you_mean(key, TEST_KEYS))
    if ("manifest" in entry) == ("manifest_file" in entry):
        raise fail("a policy test needs exactly one of `manifest` and `manifest_file`",
                   "give the manifest inline, or its path relative to the test file")
    for key in ("must", "must_not"):
        for item in entry.get(key) or []:
            if not isinstance(item, dict) or "clause" not in item or set(item) - MATCH_KEYS:
                raise fail(f"each `{key}` entry needs `clause` and may have `subject`, "
                           "`status`", "e.g. {clause: policy-id/clause-id, status: violated}")
    stem = Path(file).stem
    return PolicyTest(
        file=file,
        name=f"{stem}[{index}]" if count > 1 else stem,
        description=str(entry.get("description", "")),
        as_of=str(entry.get("as_of", "2026-01-01")),
        manifest=entry.get("manifest"),
        manifest_file=entry.get("manifest_file"),
        verdict=entry.get("verdict"),
        must=list(entry.get("must") or []),
        must_not=list(entry.get("must_not") or []),
    )


def run_test(library, test: PolicyTest) -> PolicyTestResult:
    """Evaluate the test's manifest (with ``--all``) and compare the findings."""
    from .api import check
    from .manifest import load_manifest, parse_manifest

    result = PolicyTestResult(test)
    if not (test.verdict or test.must or test.must_not):
        result.failures.append("the test asserts nothing (no verdict, must or must_not)")
        return result
    try:
        if test.manifest_file is not None:
            loaded = load_manifest(Path(test.file).parent / test.manifest_file)
        else:
            loaded = parse_manifest(json.dumps(test.manifest, default=str).encode(),
                                    f"{test.file}#manifest", "json")
        report = check(library, loaded, as_of=test.as_of, include_all=True)
    except TosguardError as error:
        result.failures += [f"manifest error: {d.span}: {d.message}" for d in error.diagnostics]
        return result
    result.report = report
    findings = [f.as_dict() for f in report.findings]
    if test.verdict and report.verdict != test.verdict:
        result.failures.append(f"verdict is {report.verdict}, expected {test.verdict}")
    for wanted in test.must:
        if not any(_matches(f, wanted) for f in findings):
            result.failures.append(f"missing finding {_show(wanted)}")
    for unwanted in test.must_not:
        for finding in findings:
            if _matches(finding, unwanted):
                result.failures.append(f"unexpected finding {_show(unwanted)}: "
                                       f"{finding['subject']} is {finding['status']}")
    return result


def _matches(finding: dict, pattern: dict) -> bool:
    clause = f"{finding['policy']}/{finding['clause']}"
    return (clause == pattern["clause"]
            and pattern.get("subject", finding["subject"]) == finding["subject"]
            and pattern.get("status", finding["status"]) == finding["status"])


def _show(pattern: dict) -> str:
    return " ".join(f"{k}={pattern[k]}" for k in ("clause", "subject", "status") if k in pattern)
