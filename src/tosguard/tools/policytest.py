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
that asserts nothing (no verdict, no must, no must_not) fails, and so does one that names a
clause the library does not have.

A run also measures **clause coverage**: for each clause of the library, whether some test
exercised it as *violated* and as *satisfied* (for a permission: as applying and as not
applying). ``tosguard test --coverage-min N`` fails below N percent of these outcomes. Results
print as text (a readable diff of the findings of each failing test), JSON or JUnit XML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..engine.identity import DOCUMENT_NOTICE_CODES, NOTICE_CODES
from ..errors import Diagnostic, PolicyError, Span, TosguardError, did_you_mean
from ..language.vocab import STATUSES
from ..safetext import json_safe, printable

TEST_KEYS = {"description", "as_of", "manifest", "manifest_file", "verdict", "must", "must_not"}
MATCH_KEYS = {"clause", "subject", "status"}
VERDICTS = ("compliant", "non_compliant", "undetermined")
# The outcomes a clause should be seen in, by kind, and how the coverage table names them.
GOALS = {
    "prohibition": ("violated", "satisfied"),
    "obligation": ("violated", "satisfied"),
    "permission": ("satisfied", "not_applicable"),
}
GOAL_NAMES = {
    ("permission", "satisfied"): "applies",
    ("permission", "not_applicable"): "does not apply",
}


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
    line: int = 0  # where the test starts in its file


@dataclass
class PolicyTestResult:
    test: PolicyTest
    failures: list[str] = field(default_factory=list)
    report: object | None = None
    details: list[str] = field(default_factory=list)  # the readable diff of the findings

    @property
    def passed(self) -> bool:
        return not self.failures


def find_test_files(paths: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.yaml") if "tests" in p.parts or path.name == "tests"
            )
        elif path.exists():
            found.append(path)
        else:
            raise PolicyError(
                Diagnostic(
                    "test-io",
                    f"cannot read `{given}`: no such file or directory",
                    Span(str(given)),
                    "pass a test file or a directory of them",
                )
            )
    return found


def load_tests(path: Path) -> list[PolicyTest]:
    """Every test in one file; malformed files raise :class:`PolicyError`.

    Test files are read by the manifest's strict loader (:mod:`tosguard.manifest.yamlload`): no
    alias
    bombs, no unbounded nesting, no duplicate keys, and a manifest written inline reads as it
    would in a file of its own (``NO`` is Norway).
    """
    from ..errors import ManifestError
    from ..manifest.yamlload import load_document

    name = str(path)
    try:
        data, positions = load_document(path.read_bytes(), name)
    except OSError as error:
        raise PolicyError(
            Diagnostic(
                "test-syntax",
                f"cannot read policy test: {error.strerror or error}",
                Span(name),
                "check the path",
            )
        ) from None
    except ManifestError as error:
        raise PolicyError(
            [
                Diagnostic(
                    "test-syntax",
                    f"cannot read policy test: {d.message}",
                    d.span,
                    d.help or "a policy test is a YAML mapping; see docs/authoring.md",
                    source_line=d.source_line,
                )
                for d in error.diagnostics
            ]
        ) from None
    listed = isinstance(data, dict) and "tests" in data
    entries = data.get("tests") if listed else [data]
    if not isinstance(entries, list):
        entries = [entries]
    lines = [
        (positions.get(f"/tests/{index}" if listed else "") or (1, 1))[0]
        for index in range(len(entries))
    ]
    return [
        _test(name, index, entry, len(entries), lines[index]) for index, entry in enumerate(entries)
    ]


def _test(file: str, index: int, entry: object, count: int, line: int = 0) -> PolicyTest:
    def fail(message: str, help: str) -> PolicyError:
        return PolicyError(Diagnostic("test-invalid", message, Span(file, line, 1), help))

    if not isinstance(entry, dict):
        raise fail("a policy test must be a mapping", "write `manifest:` and `must:` keys")
    unknown = set(entry) - TEST_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"unknown key `{key}` in policy test", did_you_mean(key, TEST_KEYS))
    verdict = entry.get("verdict")
    if verdict is not None and verdict not in VERDICTS:
        raise fail(f"`{verdict}` is not a verdict", did_you_mean(str(verdict), VERDICTS))
    as_of = entry.get("as_of", "2026-01-01")
    if not isinstance(as_of, date):
        try:
            date.fromisoformat(str(as_of))
        except ValueError:
            raise fail(f"`as_of: {as_of}` is not a date", "write dates as YYYY-MM-DD") from None
    if ("manifest" in entry) == ("manifest_file" in entry):
        raise fail(
            "a policy test needs exactly one of `manifest` and `manifest_file`",
            "give the manifest inline, or its path relative to the test file",
        )
    for key in ("must", "must_not"):
        for item in entry.get(key) or []:
            if not isinstance(item, dict) or "clause" not in item or set(item) - MATCH_KEYS:
                raise fail(
                    f"each `{key}` entry needs `clause` and may have `subject`, `status`",
                    "e.g. {clause: policy-id/clause-id, status: violated}",
                )
            if "/" not in str(item["clause"]):
                raise fail(
                    f"`{item['clause']}` does not name a policy",
                    "write `policy-id/clause-id`, e.g. `openai-services-agreement/geography`",
                )
            if "status" in item and item["status"] not in STATUSES:
                raise fail(
                    f"`{item['status']}` is not a status",
                    did_you_mean(str(item["status"]), STATUSES),
                )
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
        line=line,
    )


def run_test(library, test: PolicyTest) -> PolicyTestResult:
    """Evaluate the test's manifest (with ``--all``) and compare the findings."""
    from ..api import check
    from ..manifest.model import load_manifest, parse_manifest

    result = PolicyTestResult(test)
    if not (test.verdict or test.must or test.must_not):
        result.failures.append("the test asserts nothing (no verdict, must or must_not)")
        return result
    try:
        if test.manifest_file is not None:
            loaded = load_manifest(Path(test.file).parent / test.manifest_file)
        else:
            loaded = parse_manifest(
                json.dumps(test.manifest, default=str).encode(), f"{test.file}#manifest", "json"
            )
        report = check(library, loaded, as_of=test.as_of, include_all=True)
    except TosguardError as error:
        result.failures += [f"manifest error: {d.span}: {d.message}" for d in error.diagnostics]
        return result
    result.report = report
    findings = [f.as_dict() for f in report.findings]
    known = {f"{c.policy}/{c.id}" for p in library.policies for c in p.clauses}
    known |= {f"tosguard/{code}" for code in NOTICE_CODES}
    known |= {
        f"{document}/{code}" for document in library.documents for code in DOCUMENT_NOTICE_CODES
    }
    if test.verdict and report.verdict != test.verdict:
        result.failures.append(f"verdict is {report.verdict}, expected {test.verdict}")
        result.details.append(f"verdict: expected {test.verdict}, got {report.verdict}")
    for pattern in [*test.must, *test.must_not]:
        if pattern["clause"] not in known:
            hint = did_you_mean(str(pattern["clause"]), known)
            result.failures.append(f"unknown clause `{pattern['clause']}`")
            result.details.append(
                f"unknown clause `{pattern['clause']}`"
                + (f": {hint}" if hint.startswith("did") else "")
            )
    for wanted in test.must:
        if wanted["clause"] in known and not any(_matches(f, wanted) for f in findings):
            result.failures.append(f"missing finding {_show(wanted)}")
            result.details += _diff(wanted, findings, "must")
    for unwanted in test.must_not:
        hits = [f for f in findings if _matches(f, unwanted)]
        for finding in hits:
            result.failures.append(
                f"unexpected finding {_show(unwanted)}: {finding['subject']} is {finding['status']}"
            )
        if hits:
            result.details += _diff(unwanted, hits, "must not")
    return result


def _diff(pattern: dict, findings: list[dict], kind: str) -> list[str]:
    """Expected (``-``) against what the report holds for that clause (``+``)."""
    clause = pattern["clause"]
    wanted = f"{pattern.get('subject', '(any subject)')} {pattern.get('status', '(any status)')}"
    lines = [f"findings of {clause}:"]
    if kind == "must":
        lines.append(f"  - {wanted}    (must)")
        got = [
            f
            for f in findings
            if _rule(f) == clause and pattern.get("subject", f["subject"]) == f["subject"]
        ]
        if not got:
            lines.append(
                "  + (no result: the policy governs no subject of the manifest at that date)"
                if "subject" not in pattern
                else "  + (no result for this subject)"
            )
    else:
        lines.append(f"  - {wanted}    (must not)")
        got = findings
    for finding in got:
        effective = (finding["citation"] or {}).get("effective")
        version = f"version {effective}: " if effective else ""
        lines.append(
            f"  + {finding['subject']} {finding['status']}    ({version}{finding['message']})"
        )
    return lines


def run_tests(library, tests: Sequence[PolicyTest]) -> list[PolicyTestResult]:
    return [run_test(library, test) for test in tests]


# ---- coverage ---------------------------------------------------------------------------------
@dataclass
class ClauseCoverage:
    clause: str  # policy-id/clause-id
    kind: str
    goals: tuple[str, ...]
    seen: set[str] = field(default_factory=set)

    @property
    def missing(self) -> list[str]:
        return [goal for goal in self.goals if goal not in self.seen]


@dataclass
class Coverage:
    clauses: list[ClauseCoverage]

    @property
    def total(self) -> int:
        return sum(len(c.goals) for c in self.clauses)

    @property
    def covered(self) -> int:
        return sum(len(c.goals) - len(c.missing) for c in self.clauses)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    def as_dict(self) -> dict:
        return {
            "covered": self.covered,
            "total": self.total,
            "percent": round(self.percent, 1),
            "clauses": [
                {
                    "clause": c.clause,
                    "kind": c.kind,
                    "exercised": {goal: goal in c.seen for goal in c.goals},
                }
                for c in self.clauses
            ],
        }


def coverage(library, results: Sequence[PolicyTestResult]) -> Coverage:
    """Which clauses of the library the tests exercised, and as what (versions of one
    document count together, by clause id)."""
    table: dict[str, ClauseCoverage] = {}
    for policy in library.policies:
        for clause in policy.clauses:
            key = f"{clause.policy}/{clause.id}"
            if key not in table:
                table[key] = ClauseCoverage(key, clause.kind, GOALS.get(clause.kind, ()))
    for result in results:
        for finding in getattr(result.report, "findings", ()):
            entry = table.get(f"{finding.policy}/{finding.clause}")
            if entry is not None:
                entry.seen.add(finding.status)
    return Coverage([table[key] for key in sorted(table)])


# ---- output -----------------------------------------------------------------------------------
def render_text(
    results: Sequence[PolicyTestResult],
    cover: Coverage,
    minimum: float | None = None,
    *,
    show_coverage: bool = True,
) -> str:
    lines = []
    for result in results:
        test = result.test
        mark = "PASS" if result.passed else "FAIL"
        about = f"  {test.description}" if test.description else ""
        lines.append(f"{mark}  {test.file}:{test.line}  {test.name}{about}")
        if not result.passed:
            details = result.details or result.failures
            for failure in result.failures:
                if failure.startswith("manifest error") or failure.startswith("the test"):
                    details = [*details, failure] if failure not in details else details
            lines += [f"      {line}" for line in details]
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    lines.append("")
    lines.append(f"{passed} passed, {failed} failed")
    if show_coverage:
        lines.append("")
        lines += _coverage_lines(cover, minimum)
    return printable("\n".join(lines) + "\n", layout=True)


def _coverage_lines(cover: Coverage, minimum: float | None) -> list[str]:
    lines = [
        f"Clause coverage: {cover.covered} of {cover.total} outcomes exercised "
        f"({cover.percent:.1f}%)"
    ]
    if minimum is not None:
        verdict = "meets" if cover.percent >= minimum else "is below"
        lines[0] += f", which {verdict} the minimum of {minimum:g}%"
    width = max((len(c.clause) for c in cover.clauses), default=0)
    for entry in cover.clauses:
        marks = "  ".join(
            f"{GOAL_NAMES.get((entry.kind, g), g)} {'yes' if g in entry.seen else 'NO'}"
            for g in entry.goals
        )
        lines.append(f"  {entry.clause.ljust(width)}  {marks}")
    return lines


def render_json(
    results: Sequence[PolicyTestResult], cover: Coverage, minimum: float | None = None
) -> str:
    passed = sum(r.passed for r in results)
    data = {
        "tests": [
            {
                "file": r.test.file,
                "line": r.test.line,
                "name": r.test.name,
                "description": r.test.description,
                "passed": r.passed,
                "failures": r.failures,
                "diff": r.details,
            }
            for r in results
        ],
        "summary": {"passed": passed, "failed": len(results) - passed},
        "coverage": {**cover.as_dict(), "minimum": minimum},
    }
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def render_junit(
    results: Sequence[PolicyTestResult], cover: Coverage, minimum: float | None = None
) -> str:
    """JUnit XML (the report's writer, :mod:`tosguard.report.junit`), one ``testsuite`` per
    test file, each test a case at its line; with a minimum, clause coverage is one more test
    case, failing below it."""
    from ..report.junit import Case, Document, Suite, write_junit

    by_file: dict[str, list[PolicyTestResult]] = {}
    for result in results:
        by_file.setdefault(result.test.file, []).append(result)
    suites = []
    for file, group in by_file.items():
        cases = []
        for result in group:
            name = result.test.name + (
                f": {result.test.description}" if result.test.description else ""
            )
            failure = (
                None
                if result.passed
                else (
                    "policy-test",
                    "; ".join(result.failures),
                    "\n".join(result.details or result.failures),
                )
            )
            cases.append(Case(_classname(file), name, file, result.test.line, failure))
        suites.append(Suite(file, cases, file=file))
    if minimum is not None:
        below = cover.percent < minimum
        failure = (
            (
                "coverage",
                f"clause coverage {cover.percent:.1f}% is below {minimum:g}%",
                "\n".join(_coverage_lines(cover, minimum)),
            )
            if below
            else None
        )
        case = Case("tosguard.coverage", f"clause coverage at least {minimum:g}%", failure=failure)
        suites.append(Suite("clause coverage", [case]))
    return write_junit(Document("tosguard policy tests", suites, totals=True))


def _classname(file: str) -> str:
    return file.removesuffix(".yaml").replace("/", ".").replace("\\", ".").strip(".")


def _rule(finding: dict) -> str:
    from ..report.model import rule_of

    return rule_of(finding["policy"], finding["clause"])


def _matches(finding: dict, pattern: dict) -> bool:
    return (
        _rule(finding) == pattern["clause"]
        and pattern.get("subject", finding["subject"]) == finding["subject"]
        and pattern.get("status", finding["status"]) == finding["status"]
    )


def _show(pattern: dict) -> str:
    return " ".join(f"{k}={pattern[k]}" for k in ("clause", "subject", "status") if k in pattern)
