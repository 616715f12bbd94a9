"""Benchmark of ``tosguard scan`` against ripgrep on a generated corpus, in one run.

    python bench/scan.py                      # 1 GB corpus in a temporary directory
    python bench/scan.py --size-mb 4096 --keep /data/corpus

Generates a JSONL corpus of chat records (English written by people, from CPython's pydoc
topics, with one record in ten thousand a model's self-identification in English, Chinese or
Arabic), then times, on the same files and with the same patterns (the shipped
fingerprints):

- ``tosguard scan`` with one worker process, and with one per core;
- ``rg -c -f PATTERNS`` with one thread, and with one per core, where each ``\\b`` is written
  ``(?-u:\\b)``: RE2's ``\\b`` is ASCII, so this is the same pattern set (ripgrep's default,
  Unicode-aware ``\\b`` is also timed on a small slice: it is orders of magnitude slower);

and checks that both count the same matching records. Each command runs ``--repeat`` times,
interleaved with the other, and the best time is kept (a shared machine's load comes and
goes). Throughput is reported per core (MB/s divided by the workers). Needs ``rg`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FINGERPRINTED = [
    "I am ChatGPT, a large language model trained by OpenAI.",
    "I'm Claude, an AI assistant made by Anthropic.",
    "我是通义千问，由阿里云开发的AI助手。",
    "您好！我是DeepSeek-V3，一个由深度求索公司开发的智能助手。",
    "مرحبا! أنا ChatGPT، مساعد ذكاء اصطناعي.",
    "I am Gemini, a multimodal AI model from Google.",
    "<think>\\nThe user asks for the sum.\\n</think>\\n42",
]


def sentences() -> list[str]:
    import pydoc_data.topics

    found = []
    for text in pydoc_data.topics.topics.values():
        for paragraph in text.split("\n\n"):
            line = " ".join(paragraph.split())
            if 20 < len(line) < 600:
                found.append(line)
    return found


def generate(folder: Path, size: int, files: int, seed: int = 7) -> int:
    """Write about ``size`` bytes of JSONL into ``files`` files; return the number of records
    that hold a fingerprint."""
    rng = random.Random(seed)
    pool = sentences()
    block_lines = []
    planted = 0
    for number in range(20_000):
        question = rng.choice(pool)[:200]
        if number % 10_000 == 1234:
            answer = FINGERPRINTED[(number // 10_000) % len(FINGERPRINTED)]
        else:
            answer = " ".join(rng.choice(pool) for _ in range(2))
        record = {
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        }
        block_lines.append(json.dumps(record, ensure_ascii=False))
    block = ("\n".join(block_lines) + "\n").encode()
    per_block = sum(1 for line in block_lines if any(f[:12] in line for f in FINGERPRINTED))
    folder.mkdir(parents=True, exist_ok=True)
    per_file = size // files
    for index in range(files):
        written = 0
        with open(folder / f"part-{index:03d}.jsonl", "wb") as stream:
            while written < per_file:
                stream.write(block)
                written += len(block)
                planted += per_block
    return planted


def timed(command: list[str], **options) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, **options)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="corpus size (default 1024)")
    parser.add_argument("--files", type=int, default=8, help="files in the corpus (default 8)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cores to use")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept")
    parser.add_argument("--keep", metavar="DIR", help="write the corpus here and keep it")
    args = parser.parse_args()
    rg = shutil.which("rg")
    if rg is None:
        sys.exit("ripgrep (rg) is not on PATH: apt-get install ripgrep, or pip install ripgrep")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tosguard-scan-"))
    try:
        run(root, args, rg)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args, rg: str) -> None:
    from tosguard.api import load_fingerprints

    corpus = root / "corpus"
    start = time.perf_counter()
    planted = generate(corpus, args.size_mb << 20, args.files)
    size = sum(p.stat().st_size for p in corpus.iterdir())
    print(
        f"corpus: {size / 1e6:,.0f} MB in {args.files} files, {planted:,} fingerprinted "
        f"records (generated in {time.perf_counter() - start:.1f} s)"
    )
    fingerprints = load_fingerprints()
    patterns = root / "patterns.txt"
    patterns.write_text("\n".join(f.pattern.replace(r"\b", r"(?-u:\b)") for f in fingerprints))
    manifest = root / "manifest.yaml"
    manifest.write_text("tosguard: 1\nsources:\n  - {id: corpus, kind: human, data: corpus}\n")
    tosguard = [sys.executable, "-m", "tosguard", "scan", str(manifest), "--format", "json"]
    rows = []
    for jobs in sorted({1, args.jobs}):
        ours, theirs = [], []
        for _ in range(args.repeat):  # interleaved, best of N: the machine may be shared
            seconds, result = timed([*tosguard, "--jobs", str(jobs)])
            if result.returncode not in (0, 1):
                sys.exit(result.stderr.decode())
            found = json.loads(result.stdout)["sources"][0]["matched"]
            ours.append(seconds)
            command = [rg, "-c", "-j", str(jobs), "-f", str(patterns), str(corpus)]
            seconds, result = timed(command)
            counted = sum(int(line.rsplit(":", 1)[1]) for line in result.stdout.decode().split())
            theirs.append(seconds)
        rows.append(("tosguard scan", jobs, min(ours), found))
        rows.append(("rg, ASCII \\b", jobs, min(theirs), counted))
    slice_file = root / "slice.jsonl"
    with open(next(iter(sorted(corpus.iterdir()))), "rb") as stream:
        slice_file.write_bytes(stream.read(4 << 20))
    unicode_patterns = root / "patterns-unicode.txt"
    unicode_patterns.write_text("\n".join(f.pattern for f in fingerprints))
    seconds, _ = timed([rg, "-c", "-j", "1", "-f", str(unicode_patterns), str(slice_file)])
    print(
        f"{'command':<16} {'cores':>5} {'seconds':>8} {'MB/s':>8} {'MB/s/core':>10} {'matches':>8}"
    )
    for name, jobs, took, found in rows:
        rate = size / took / 1e6
        print(f"{name:<16} {jobs:>5} {took:>8.2f} {rate:>8.0f} {rate / jobs:>10.0f} {found:>8,}")
    slice_rate = slice_file.stat().st_size / seconds / 1e6
    print(f"rg, Unicode \\b (its default), 1 core, on a 4 MB slice: {slice_rate:.1f} MB/s")
    ours = {jobs: took for name, jobs, took, _ in rows if name == "tosguard scan"}
    theirs = {jobs: took for name, jobs, took, _ in rows if name != "tosguard scan"}
    for jobs in sorted(ours):
        print(
            f"tosguard / rg (ASCII \\b) time per core, {jobs} core(s): "
            f"{ours[jobs] / theirs[jobs]:.2f}x"
        )
    counts = {found for *_, found in rows}
    print("same matching records in every run" if len(counts) == 1 else f"COUNTS DIFFER: {rows}")


if __name__ == "__main__":
    main()
