"""The one JUnit XML writer, for reports (``check --format junit``) and policy tests
(``tosguard test --format junit``).

The document is the common JUnit dialect CI servers read (Jenkins' ``junit-10.xsd``, which
``tests/schemas/`` holds and the tests validate against), plus the ``file`` and ``line``
attributes on each ``testcase`` that GitLab, Jenkins and the GitHub test-report actions read
to point at the line (pytest's ``xunit1`` writes them too). A case fails with ``<failure>``
whose ``type`` says why (``error`` or ``warning`` for a violated clause, ``undetermined`` for a
clause the manifest does not declare enough to decide, ``policy-test``, ``coverage``):
``<error>`` is not used, as CI tools read it as a test that crashed.

Text from manifests and policies is escaped for XML and written with visible escapes for the
characters XML 1.0 cannot hold (:func:`~tosguard.safetext.printable`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from ..safetext import printable


@dataclass(frozen=True, slots=True)
class Case:
    """One ``testcase``. ``failure`` is ``(type, message, text)`` when the case fails;
    ``output`` is written as ``system-out`` (for a case that passes with something to say)."""

    classname: str
    name: str
    file: str | None = None
    line: int | None = None
    failure: tuple[str, str, str] | None = None
    output: str = ""
    skipped: str | None = None  # the reason a case is skipped (an accepted risk)


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    cases: Sequence[Case]
    properties: Sequence[tuple[str, str]] = ()
    timestamp: str | None = None
    file: str | None = None

    @property
    def failures(self) -> int:
        return sum(case.failure is not None for case in self.cases)

    @property
    def skipped(self) -> int:
        return sum(case.skipped is not None for case in self.cases)


@dataclass(frozen=True, slots=True)
class Document:
    name: str
    suites: Sequence[Suite] = field(default_factory=tuple)
    totals: bool = False  # write tests/failures/errors on <testsuites> too


def write_junit(document: Document) -> str:
    """The XML text of ``document`` (deterministic: no times, no host names)."""
    head = f"<testsuites name={quoteattr(document.name)}"
    if document.totals:
        tests = sum(len(s.cases) for s in document.suites)
        failures = sum(s.failures for s in document.suites)
        head += f' tests="{tests}" failures="{failures}" errors="0"'
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', head, ">\n"]
    for suite in document.suites:
        parts.append(_suite(suite))
    parts.append("</testsuites>\n")
    return printable("".join(parts), layout=True)


def _suite(suite: Suite) -> str:
    attributes = (
        f'name={quoteattr(suite.name)} tests="{len(suite.cases)}" '
        f'failures="{suite.failures}" errors="0"'
    )
    if suite.skipped:
        attributes += f' skipped="{suite.skipped}"'
    if suite.file is not None:
        attributes += f" file={quoteattr(suite.file)}"
    if suite.timestamp is not None:
        attributes += f' timestamp="{suite.timestamp}"'
    out = [f"  <testsuite {attributes}>\n"]
    if suite.properties:
        out.append("    <properties>\n")
        out += [
            f"      <property name={quoteattr(name)} value={quoteattr(value)}/>\n"
            for name, value in suite.properties
        ]
        out.append("    </properties>\n")
    out += [_case(case) for case in suite.cases]
    out.append("  </testsuite>\n")
    return "".join(out)


def _case(case: Case) -> str:
    head = f"    <testcase classname={quoteattr(case.classname)} name={quoteattr(case.name)}"
    if case.file is not None:
        head += f" file={quoteattr(case.file)}"
    if case.line is not None:
        head += f' line="{case.line}"'
    if case.failure is not None:
        kind, message, text = case.failure
        return (
            f"{head}>\n      <failure message={quoteattr(message)} type={quoteattr(kind)}>"
            f"{escape(text)}</failure>\n    </testcase>\n"
        )
    if case.skipped is not None:
        return f"{head}>\n      <skipped message={quoteattr(case.skipped)}/>\n    </testcase>\n"
    if case.output:
        return f"{head}>\n      <system-out>{escape(case.output)}</system-out>\n    </testcase>\n"
    return f"{head}/>\n"
