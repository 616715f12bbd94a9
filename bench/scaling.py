"""(b) Scaling: ``evaluate()`` on generated manifests of 1k, 10k and 100k sources (manifest
parsed and library loaded beforehand), and the YAML parse time of each size on its own.

The sizes are measured in interleaved rounds, so that load from other processes on the machine
falls on every size alike. In each round every size evaluates the same total number of sources
(the largest size once, 10k ten times, 1k a hundred times), after one garbage collection; a
round's time per call is the mean of its calls, the reported time of a size is the median over
rounds, and the ratios are medians of the per-round ratios.

Two diagnostics go with it:

* a *locality control*: the 1k manifest's source objects repeated to the second size (same
  objects, so the same data fits the CPU caches as at 1k). If it runs at the 1k cost per source
  while the real second size does not, the extra cost is memory traffic, not the algorithm;
* the first ``evaluate()`` straight after parsing the largest manifest, as one ``tosguard
  check`` run pays it, with and without ``gc.freeze()`` between parse and evaluation.
"""

from __future__ import annotations

import gc
import statistics
from dataclasses import dataclass
from datetime import date

from generate import manifest_text
from timing import Timings, repeat, timed

from tosguard.engine.evaluate import evaluate
from tosguard.manifest.model import parse_manifest

AS_OF = date(2026, 3, 1)


@dataclass
class Sized:
    """A generated manifest of one size: its YAML text, the parsed manifest model, the parse
    times, and the time of the first ``evaluate()`` straight after the (last) parse."""

    sources: int
    text: bytes
    manifest: object
    parse: Timings
    first_evaluate: float


def prepare(library, sources: int, parse_repeats: int) -> Sized:
    """Generate and parse a manifest, then evaluate it once at once, without collecting
    garbage first: that first call is what a single ``tosguard check`` of this size pays."""
    text = manifest_text(sources).encode()
    parse, loaded = repeat(lambda: parse_manifest(text, _name(sources), "yaml"), parse_repeats)
    first, _ = timed(lambda: evaluate(library, loaded.manifest, AS_OF))
    return Sized(sources, text, loaded.manifest, parse, first)


def _name(sources: int) -> str:
    return f"manifest-{sources}.yaml"


def first_evaluate_frozen(library, sized: Sized) -> float:
    """As :func:`prepare`'s first call, with ``gc.freeze()`` right after the parse."""
    gc.collect()
    manifest = parse_manifest(sized.text, _name(sized.sources), "yaml").manifest
    gc.freeze()
    try:
        seconds, _ = timed(lambda: evaluate(library, manifest, AS_OF))
    finally:
        gc.unfreeze()
    return seconds


def repeated(sized: Sized, times: int):
    """The manifest of ``sized`` with its source objects repeated ``times`` times."""
    return sized.manifest.model_copy(update={"sources": list(sized.manifest.sources) * times})


def _round(library, manifest, calls: int) -> tuple[float, object]:
    """Mean time of ``calls`` consecutive calls, after one garbage collection (a full
    collection per call would cost more than a 1k evaluation, with 100k sources in memory)."""
    gc.collect()
    seconds, evaluation = [], None
    for _ in range(calls):
        evaluation = None
        one, evaluation = timed(lambda: evaluate(library, manifest, AS_OF))
        seconds.append(one)
    return statistics.fmean(seconds), evaluation


def measure(library, manifests: dict[str, object], rounds: int) -> dict[str, tuple[Timings, dict]]:
    """Interleaved rounds over ``manifests`` (label → manifest)."""
    largest = max(len(m.sources) for m in manifests.values())
    timings = {label: Timings() for label in manifests}
    counts: dict[str, dict] = {}
    for _ in range(rounds):
        for label, manifest in manifests.items():
            calls = max(1, largest // len(manifest.sources))
            seconds, evaluation = _round(library, manifest, calls)
            timings[label].seconds.append(seconds)
            counts[label] = evaluation.counts
    return {label: (timings[label], counts[label]) for label in manifests}


def _ratio(small: Timings, large: Timings) -> float:
    return statistics.median(b / a for a, b in zip(small.seconds, large.seconds, strict=True))


def _size_row(sized: Sized, timings: Timings, counts: dict, calls: int) -> dict:
    return {
        "sources": sized.sources,
        "yaml_bytes": len(sized.text),
        "calls_per_round": calls,
        "parse": sized.parse.as_dict(),
        "evaluate": timings.as_dict(),
        "evaluate_per_source_s": timings.median / sized.sources,
        "parse_per_source_s": sized.parse.median / sized.sources,
        "first_evaluate_after_parse_s": sized.first_evaluate,
        "counts": counts,
    }


def run(
    library,
    sizes: tuple[int, ...],
    rounds: int,
    parse_repeats: dict[int, int],
    gc_diagnostic: bool = True,
) -> tuple[dict, dict[int, Sized]]:
    prepare(library, 200, 1)  # build the condition closures once, untimed
    prepared = {size: prepare(library, size, parse_repeats[size]) for size in sizes}
    small, second = sizes[0], sizes[1]
    control = f"{second}r"
    manifests = {str(size): sized.manifest for size, sized in prepared.items()}
    manifests[control] = repeated(prepared[small], second // small)
    measured = measure(library, manifests, rounds)
    largest = max(sizes)
    rows = [
        _size_row(sized, *measured[str(size)], max(1, largest // size))
        for size, sized in prepared.items()
    ]
    ratios = {
        f"{b}/{a}": _ratio(measured[str(a)][0], measured[str(b)][0])
        for a, b in zip(sizes, sizes[1:], strict=False)
    }
    control_timings = measured[control][0]
    return {
        "as_of": AS_OF.isoformat(),
        "rounds": rounds,
        "sizes": rows,
        "ratios": ratios,
        "locality_control": {
            "label": f"{second:,} sources = the {small:,} source objects x{second // small}",
            "evaluate": control_timings.as_dict(),
            "evaluate_per_source_s": control_timings.median / second,
            "ratio_to_smallest": _ratio(measured[str(small)][0], control_timings),
        },
        "first_evaluate_gc_frozen_s": (
            first_evaluate_frozen(library, prepared[largest]) if gc_diagnostic else None
        ),
    }, prepared
