"""Reading a big manifest: the event reader against the block-YAML reader, side by side.

For each size a manifest is generated (``bench/generate.py``, deterministic) and read in this
process, as ``tosguard check`` reads it (``_load_yaml`` with deferred positions, the cyclic GC
paused), by:

* **events**: libyaml's event stream consumed and nothing else
  (``for _ in yaml.parse(text, Loader=yaml.CSafeLoader): pass``), the floor of issue 14;
* **event reader**: ``_load_yaml`` with the block-YAML reader switched off (PyYAML's event
  stream built into values and positions: every manifest before this reader);
* **block reader**: ``_load_yaml`` as shipped (the block-YAML reader; it must take the text).

The three run interleaved, ``--repeats`` rounds; the best of each is reported.

    python bench/reader.py                       # 10k and 100k sources, best of 3
    python bench/reader.py --sizes 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from unittest import mock

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import manifest_text  # noqa: E402

from tosguard.manifest import yamlload  # noqa: E402
from tosguard.manifest.blockyaml import read_block_yaml  # noqa: E402


def _events(text: str) -> None:
    for _ in yaml.parse(text, Loader=yaml.CSafeLoader):
        pass


def _event_reader(text: str) -> None:
    with mock.patch.object(yamlload, "read_block_yaml", lambda *args: None):
        _read(text)


def _read(text: str) -> None:
    with yamlload.gc_paused(len(text)):
        yamlload._load_yaml(text, yamlload.DEFAULT_MAX_DEPTH, defer=True)


def _timed(run, text: str) -> float:
    gc.collect()
    start = time.perf_counter()
    run(text)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    runs = {"events": _events, "event reader": _event_reader, "block reader": _read}
    print(f"python {sys.version.split()[0]}, best of {args.repeats}, interleaved")
    print(f"{'sources':>9} {'MB':>6} " + " ".join(f"{name + ' s':>15}" for name in runs), end="")
    print(f" {'speed-up':>9}")
    for sources in args.sizes:
        text = manifest_text(sources)
        if read_block_yaml(text, yamlload.DEFAULT_MAX_DEPTH) is None:
            raise SystemExit(f"the block reader does not take the {sources}-source manifest")
        best = {name: float("inf") for name in runs}
        for _ in range(args.repeats):
            for name, run in runs.items():
                best[name] = min(best[name], _timed(run, text))
        speedup = best["event reader"] / best["block reader"]
        print(f"{sources:>9,} {len(text.encode()) / 1e6:>6.1f} ", end="")
        print(" ".join(f"{best[name]:>15.2f}" for name in runs) + f" {speedup:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
