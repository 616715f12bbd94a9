#!/usr/bin/env python3
"""Write docs/realworld.md, the table of the real-world corpus (tests/realworld/*.yaml).

Each case file opens with a comment block: a title line, then `Facts:` bullets (`# - <URL or
stored source>: what it says`), `Not declared:` and `Reading:` paragraphs. This script reads
those comments and the case's description, date, verdict, `must` and `must_not`, and needs
nothing but PyYAML (it does not import tosguard).

    python scripts/realworld_table.py            # rewrite docs/realworld.md
    python scripts/realworld_table.py --check    # exit 1 when docs/realworld.md is stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "realworld"
OUTPUT = ROOT / "docs" / "realworld.md"
URL = re.compile(r"https?://[^\s)\"'`,;]+")
REGENERATE = "python scripts/realworld_table.py"


def header(text: str) -> list[str]:
    """The leading comment block, without the `# ` prefixes."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return lines


def facts(lines: list[str]) -> list[str]:
    """The Facts bullets, each joined onto one line."""
    bullets: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("Facts:"):
            inside = True
            continue
        if inside and line.startswith("- "):
            bullets.append(line[2:])
        elif inside and line.startswith("  ") and bullets:
            bullets[-1] += " " + line.strip()
        elif inside and line.strip() and not line.startswith(" "):
            inside = False
    return bullets


def sources(bullets: list[str]) -> list[str]:
    """A short link per fact bullet: its first URL, or the stored source it names."""
    cited = []
    for bullet in bullets:
        match = URL.search(bullet)
        if match:
            url = match.group(0).rstrip(".:")
            host = urlparse(url).netloc.removeprefix("www.")
            path = urlparse(url).path.strip("/").split("/")
            label = host if not path or not path[0] else f"{host}/{'/'.join(path[:2])}"
            cited.append(f"[{label}]({url})")
        else:
            stored = re.search(r"policies/[\w./-]+", bullet)
            cited.append(f"`{stored.group(0)}`" if stored else bullet.split(":")[0])
    return cited


def finding(pattern: dict, negate: bool = False) -> str:
    clause = pattern["clause"]
    status = pattern.get("status", "any status")
    subject = f" {pattern['subject']}" if "subject" in pattern else ""
    return f"{'not ' if negate else ''}`{clause}`{subject} {status}"


def row(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    lines = header(text)
    case = yaml.safe_load(text)
    title_lines = []
    for line in lines:
        if not line.strip():
            break
        title_lines.append(line.strip())
    title = " ".join(title_lines) or path.stem
    must = [finding(p) for p in case.get("must", [])]
    must_not = [finding(p, negate=True) for p in case.get("must_not", [])]
    cells = [
        f"[{path.stem}](../tests/realworld/{path.name})",
        title.replace("|", "\\|"),
        "<br>".join(sources(facts(lines))) or "—",
        str(case.get("as_of", "")),
        f"**{case.get('verdict', '—')}**",
        "<br>".join(must + must_not) or "—",
    ]
    return "| " + " | ".join(cells) + " |"


def render() -> str:
    paths = sorted(CASES.glob("*.yaml"))
    out = [
        "# The real-world corpus",
        "",
        f"Generated from `tests/realworld/*.yaml` by `{REGENERATE}`; do not edit by hand.",
        "",
        f"{len(paths)} pipelines from the public record (model cards, dataset cards, papers, blog",
        "posts), each encoded as a tosguard manifest with the verdict a careful counsel would give",
        "and the findings it must and must not produce. Facts the record does not give are left",
        "undeclared, as a team building the manifest from the same record would have to. Each",
        "file's leading comment quotes the facts and gives the reading; `tests/test_realworld.py`",
        "runs every case against the shipped library and lists the cases the library does not",
        "meet yet, with the reason.",
        "",
        "*As of* is the date the verdict is judged on: the release or publication date the",
        "record gives (a paper's arXiv date, a blog post's date); where only the month is known",
        "the day is approximate and the case's `As of:` comment says so. Cases marked",
        "*illustrative* put a public dataset, model or offering in a typical downstream",
        "pipeline; the facts about the dataset, model or terms are cited, the company is not",
        "real. *Findings that matter*: what the report must contain, then (`not`) what it must",
        "not; a status of `any status` means the finding must be absent altogether.",
        "",
        "| case | pipeline | facts from | as of | expected | findings that matter |",
        "|---|---|---|---|---|---|",
    ]
    out += [row(path) for path in paths]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"docs/realworld.md is stale: regenerate it with `{REGENERATE}`")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
