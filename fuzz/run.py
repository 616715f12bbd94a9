"""Coverage-guided fuzzing of tosguard with atheris (libFuzzer for Python).

    python fuzz/run.py manifest [libFuzzer options] [corpus directories]
    python fuzz/run.py policy -max_total_time=600 /tmp/policy-corpus
    python fuzz/run.py check -runs=100000

The harnesses are in ``fuzz/harnesses.py``. With no corpus directory given, the repository's
examples, test corpus and policy library seed the run (copied to a temporary directory, so the
fuzzer's new inputs never land in the repository). A crash writes ``crash-*`` files with the
input; add each as a regression test.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

HERE = Path(__file__).parent
ROOT = HERE.parent
SEEDS = {
    "manifest": ["examples/*.yaml", "examples/*.json", "tests/corpus/**/*.yaml"],
    "check": ["examples/*.yaml", "tests/corpus/**/*.yaml"],
    "policy": ["policies/**/*.tos"],
}


def seed_directory(harness: str) -> str:
    directory = Path(tempfile.mkdtemp(prefix=f"tosguard-fuzz-{harness}-"))
    for pattern in SEEDS[harness]:
        for index, path in enumerate(sorted(ROOT.glob(pattern))):
            shutil.copyfile(path, directory / f"{index:04d}-{path.name}")
    return str(directory)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SEEDS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(SEEDS)}}} [libFuzzer options] [corpus]")
    harness, options = sys.argv[1], sys.argv[2:]
    sys.path.insert(0, str(HERE))
    with atheris.instrument_imports(include=["tosguard"]):
        import harnesses

        # the harnesses import lazily; instrument every stage now
        import tosguard.api
        import tosguard.language.printer
        import tosguard.manifest.model
        import tosguard.report.formats
        import tosguard.report.text  # noqa: F401
    if not any(not option.startswith("-") for option in options):
        options.append(seed_directory(harness))
    atheris.Setup([sys.argv[0], *options], harnesses.HARNESSES[harness])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
