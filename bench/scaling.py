"""(b) Scaling: ``evaluate()`` on generated manifests of 1k, 10k and 100k sources (manifest
parsed and library loaded beforehand), and the YAML parse time of each size on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from generate import manifest_text
from timing import Timings, repeat, timed

from tosguard.evaluate import evaluate
from tosguard.manifest import parse_manifest

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
    name = f"manifest-{sources}.yaml"
    parse, loaded = repeat(lambda: parse_manifest(text, name, "yaml"), parse_repeats)
    first, _ = timed(lambda: evaluate(library, loaded.manifest, AS_OF))
    return Sized(sources, text, loaded.manifest, parse, first)


def run(library, sizes: tuple[int, ...], repeats: dict[int, int],
        parse_repeats: dict[int, int]) -> tuple[dict, dict[int, Sized]]:
    prepare(library, 200, 1)  # build the condition closures once, untimed
    prepared: dict[int, Sized] = {}
    rows = []
    for sources in sizes:
        sized = prepare(library, sources, parse_repeats[sources])
        prepared[sources] = sized
        timings, evaluation = repeat(lambda s=sized: evaluate(library, s.manifest, AS_OF),
                                     repeats[sources])
        rows.append({
            "sources": sources, "yaml_bytes": len(sized.text),
            "parse": sized.parse.as_dict(), "evaluate": timings.as_dict(),
            "evaluate_per_source_s": timings.median / sources,
            "parse_per_source_s": sized.parse.median / sources,
            "first_evaluate_after_parse_s": sized.first_evaluate,
            "counts": evaluation.counts,
        })
    ratios = {f"{b['sources']}/{a['sources']}": b["evaluate"]["median_s"] /
              a["evaluate"]["median_s"] for a, b in zip(rows, rows[1:], strict=False)}
    return {"as_of": AS_OF.isoformat(), "sizes": rows, "ratios": ratios}, prepared
