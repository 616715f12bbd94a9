"""The scan report: what each source's data holds (records, matches per provider, examples)
and the findings (:mod:`tosguard.scan.assess`), in every format ``check`` writes. The findings
are an ordinary :class:`~tosguard.report.model.Report`, so Markdown, SARIF and JUnit come from
the same renderers as ``check``'s, with the data section added where the format has room."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..report.formats import markdown_cell
from ..report.model import REPORT_FORMAT, Report
from ..safetext import json_safe, printable
from .assess import declared_providers
from .fingerprints import Fingerprint
from .run import SourceScan

__all__ = ["ScanReport", "render"]


@dataclass(frozen=True)
class ScanReport:
    report: Report
    sources: tuple[dict, ...]
    sample: int | None
    #: every data file read
    paths: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        return self.report.verdict

    def fails(self, fail_on: str) -> bool:
        return self.report.fails(fail_on)


def build(
    report: Report, loaded, scans: list[SourceScan], fingerprints: tuple[Fingerprint, ...], sample
) -> ScanReport:
    sources = []
    for scan in scans:
        rows = []
        for index in sorted(scan.counts, key=lambda i: (fingerprints[i].rule, i)):
            fingerprint = fingerprints[index]
            rows.append(
                {
                    "fingerprint": fingerprint.rule,
                    "kind": fingerprint.kind,
                    "strength": fingerprint.strength,
                    "records": scan.counts[index],
                    "examples": [
                        {"at": e.where, "excerpt": e.excerpt} for e in scan.examples.get(index, [])
                    ],
                }
            )
        sources.append(
            {
                "source": scan.id,
                "subject": f"/sources/{scan.index}",
                "declared": sorted(declared_providers(loaded.manifest, scan.index)),
                "files": scan.files,
                "bytes": scan.bytes,
                "records": scan.records,
                "matched": scan.matched,
                "matches": dict(sorted(scan.providers.items())),
                "fingerprints": rows,
            }
        )
    paths = tuple(path for scan in scans for path in scan.paths)
    return ScanReport(report, tuple(sources), sample, paths)


def render(
    scan: ScanReport,
    fmt: str,
    source_line=None,
    sources=None,
    style=None,
    context=None,
    fail_on: str = "undetermined",
) -> str:
    """``scan`` in format ``fmt``; ``context`` (a :class:`~tosguard.report.context.
    ManifestContext`) lets the formats for tools name sources by id and quote manifest lines;
    ``fail_on`` decides which JUnit cases fail."""
    contexts = [context] if context is not None else None
    if fmt == "json":
        return render_json(scan)
    if fmt == "markdown":
        from ..report.formats import render_markdown

        return (
            render_markdown(scan.report, *(contexts or ())).rstrip("\n")
            + "\n\n"
            + _markdown_data(scan)
        )
    if fmt == "sarif":
        from ..report.formats import render_sarif

        document = json.loads(render_sarif([scan.report], contexts))
        document["runs"][0]["properties"]["scan"] = {
            "sample": scan.sample,
            "sources": list(scan.sources),
        }
        return json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
    if fmt == "github":
        from ..report.github import render_github

        return render_github([scan.report])
    if fmt == "junit":
        from ..report.formats import render_junit

        return _junit_data(scan, render_junit([scan.report], contexts, fail_on))
    from ..report.text import plain, render_text

    text = render_text(scan.report, source_line, sources, style or plain)
    return _text_data(scan) + "\n" + text


def render_json(scan: ScanReport) -> str:
    report = scan.report
    document = {
        "tosguard": REPORT_FORMAT,
        "kind": "scan",
        "tosguard_version": report.tosguard_version,
        "policy_set_revision": report.policy_revision,
        "manifest": report.manifest,
        "as_of": report.as_of.isoformat(),
        "sample": scan.sample,
        "verdict": report.verdict,
        "summary": report.summary,
        "sources": list(scan.sources),
        "findings": [f.as_dict() for f in report.findings],
    }
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _junit_data(scan: ScanReport, text: str) -> str:
    """The JUnit report with each source's counts among the suite's properties."""
    from xml.sax.saxutils import quoteattr

    rows = []
    for row in scan.sources:
        for key in ("records", "matched"):
            rows.append((f"data.{row['source']}.{key}", str(row[key])))
        rows += [(f"data.{row['source']}.matches.{p}", str(n)) for p, n in row["matches"].items()]
    extra = "".join(
        f"      <property name={quoteattr(name)} value={quoteattr(value)}/>\n"
        for name, value in rows
    )
    return text.replace(
        "    </properties>\n", printable(extra, layout=True) + "    </properties>\n", 1
    )


def _matches_words(row: dict) -> str:
    if not row["matches"]:
        return "no fingerprint"
    return ", ".join(f"{provider} {count:,}" for provider, count in row["matches"].items())


def _text_data(scan: ScanReport) -> str:
    sampled = f" (first {scan.sample:,} records of each source)" if scan.sample else ""
    lines = [f"Data scanned{sampled}"]
    for row in scan.sources:
        declared = ", ".join(row["declared"]) or "no provider"
        lines.append(
            f"  {printable(row['source'])}: {_records(row['records'])} in {row['files']} "
            f"file{'s' * (row['files'] != 1)} ({_size(row['bytes'])}), declares {declared}; "
            f"matches: {_matches_words(row)}"
        )
        for fingerprint in row["fingerprints"]:
            lines.append(
                f"    {fingerprint['fingerprint']} [{fingerprint['strength']} "
                f"{fingerprint['kind']}]: {_records(fingerprint['records'])}"
            )
            for example in fingerprint["examples"]:
                lines.append(f"      {printable(example['at'])}  {printable(example['excerpt'])}")
    return "\n".join(lines) + "\n"


def _markdown_data(scan: ScanReport) -> str:
    sampled = f" (first {scan.sample:,} records of each source)" if scan.sample else ""
    lines = [
        f"### Data scanned{sampled}",
        "",
        "| source | declares | files | records | matches |",
        "|---|---|---|---|---|",
    ]
    for row in scan.sources:
        lines.append(
            f"| `{row['source']}` | {', '.join(row['declared']) or '—'} | {row['files']} | "
            f"{row['records']:,} | {_matches_words(row)} |"
        )
    examples = [
        f"- `{fingerprint['fingerprint']}` ({fingerprint['strength']}) in `{row['source']}`, "
        f"`{example['at']}`: “{markdown_cell(example['excerpt'])}”"
        for row in scan.sources
        for fingerprint in row["fingerprints"]
        for example in fingerprint["examples"][:1]
    ]
    if examples:
        lines += ["", *examples]
    return printable("\n".join(lines) + "\n", layout=True)


def _records(count: int) -> str:
    return f"{count:,} record{'s' * (count != 1)}"


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return str(count)
