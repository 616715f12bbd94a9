"""The evaluator's memo: ``evaluate()`` alone with the memo off and on, interleaved.

For each size (default 10k and 100k sources of ``bench/generate.py``), the manifest is parsed
once and the shipped library loaded once; then evaluations alternate memo off / memo on
``--repeats`` times (after a garbage collection each, with the cyclic GC frozen as ``tosguard
check`` has it), and the best time of each is reported with their ratio, the share of sources
whose pass 1 was replayed (hit rate), the share of pass-2 applications replayed, and the keys.

    python bench/memo.py                     # 10k and 100k, best of 3
    python bench/memo.py --sizes 100000 --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import manifest_text  # noqa: E402

from tosguard.engine.evaluate import Evaluator  # noqa: E402
from tosguard.engine.library import load_library  # noqa: E402
from tosguard.manifest.model import parse_manifest  # noqa: E402

AS_OF = date(2026, 3, 1)


def _timed(library, manifest, memo: bool) -> tuple[float, Evaluator]:
    gc.collect()
    evaluator = Evaluator(library, manifest, AS_OF, memo=memo)
    start = time.perf_counter()
    evaluator.run()
    return time.perf_counter() - start, evaluator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    library = load_library()
    print(f"python {sys.version.split()[0]}, best of {args.repeats}, memo off and on interleaved")
    print(f"{'sources':>9} {'off s':>7} {'on s':>7} {'speed-up':>8} {'hit rate':>8} "
          f"{'pass 2':>7} {'keys':>6} {'live':>6}")  # fmt: skip
    for sources in args.sizes:
        manifest = parse_manifest(manifest_text(sources).encode(), "m.yaml").manifest
        gc.freeze()  # as `tosguard check` does after parsing
        off, on = [], []
        memo = None
        for _ in range(args.repeats):
            off.append(_timed(library, manifest, False)[0])
            seconds, evaluator = _timed(library, manifest, True)
            on.append(seconds)
            memo = evaluator.memo
        assert memo is not None
        replayed = memo.result_hits / max(
            1, memo.result_hits + memo.result_misses + memo.result_live
        )
        print(
            f"{sources:>9,} {min(off):>7.2f} {min(on):>7.2f} {min(off) / min(on):>7.2f}x "
            f"{memo.hit_rate:>8.1%} {replayed:>7.1%} {len(memo.replays):>6} {memo.live:>6}"
        )
        del manifest
        gc.unfreeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
