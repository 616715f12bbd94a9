"""tosguard benchmarks, side by side in one run: (a) cold CLI start, (b) evaluate() scaling,
(c) tosguard against Cedar on the same rules and data. See bench/README.md.

    bash bench/setup.sh          # once, and after changing src/, grammar/ or policies/
    python bench/run.py [--quick] [--profile] [--skip-cold] [--skip-cedar]

Prints a table and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results" / "latest.json"
os.environ.setdefault("TOSGUARD_CACHE_DIR", tempfile.mkdtemp(prefix="tosguard-bench-cache-"))

import cedar_compare  # noqa: E402  (the cache directory must be set before tosguard loads)
import cold_start  # noqa: E402
import hotspots  # noqa: E402
import scaling  # noqa: E402
from generate import generate, to_yaml  # noqa: E402
from timing import ms, us  # noqa: E402

from tosguard.api import load_library  # noqa: E402
from tosguard.manifest.model import parse_manifest  # noqa: E402

COLD_TARGET, SCALING_TARGET = 2.0, 11.0
AGREEMENT_VARIANTS = ("internal-classifier", "openai-fine-tuning", "llama-named", "undeclared-kind")


@dataclass(frozen=True)
class Plan:
    cli_runs: int
    empty_cache_runs: int
    sizes: tuple[int, ...]
    scaling_rounds: int
    parse_repeats: dict[int, int]
    cedar_repeats: int
    variant_sources: int

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        sizes = (1_000, 10_000, 100_000)
        if quick:
            return cls(5, 1, sizes, 2, {1_000: 3, 10_000: 1, 100_000: 1}, 1, 500)
        return cls(15, 3, sizes, 5, {1_000: 5, 10_000: 3, 100_000: 1}, 3, 2_000)


# ---- table ------------------------------------------------------------------------------------
class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def section(self, title: str) -> None:
        self.rows.append((title, "", "", ""))

    def row(self, metric: str, value: str, target: str = "", met: bool | None = None) -> None:
        status = "" if met is None else ("ok" if met else "MISSED")
        self.rows.append(("  " + metric, value, target, status))

    def render(self) -> str:
        header = ("benchmark", "measured (median)", "target", "")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        out = [_cells(header, widths), line]
        for row in self.rows:
            out.append(_cells(row, widths) if row[1] or row[3] else row[0])
        return "\n".join(out)


def _cells(row: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()


# ---- sections ---------------------------------------------------------------------------------
def cold_rows(table: Table, cold: dict) -> bool:
    table.section("(a) cold CLI start, 20-source manifest, fresh processes (installed package)")
    if "skipped" in cold:
        table.row("skipped", cold["skipped"])
        return True
    runs = cold["baseline"]["runs"]
    table.row(
        f'python -c "import pydantic, yaml, lark" (x{runs})', ms(cold["baseline"]["median_s"])
    )
    result = cold["check_result"]
    table.row(
        f"tosguard check --format json, warm cache (x{runs})",
        f"{ms(cold['check_warm_cache']['median_s'])} (exit {result['exit_code']}, "
        f"{result['verdict']})",
    )
    met = cold["ratio"] <= COLD_TARGET
    table.row("ratio check / imports", f"{cold['ratio']:.2f}x", f"<= {COLD_TARGET:.0f}x", met)
    empty = cold["check_empty_cache"]
    table.row(
        f"tosguard check, empty TOSGUARD_CACHE_DIR (x{empty['runs']})",
        f"{ms(empty['median_s'])} ({cold['ratio_empty_cache']:.2f}x)",
    )
    return met


def scaling_rows(table: Table, result: dict) -> bool:
    table.section(
        f"(b) scaling: evaluate() only (manifest parsed, library loaded), "
        f"{result['rounds']} interleaved rounds"
    )
    for size in result["sizes"]:
        n = size["sources"]
        table.row(
            f"evaluate {n:>7,} sources (x{size['calls_per_round']}/round)",
            f"{ms(size['evaluate']['median_s'])} = {us(size['evaluate_per_source_s'])}/source",
        )
    met = True
    for label, ratio in result["ratios"].items():
        ok = ratio <= SCALING_TARGET
        met &= ok
        table.row(f"ratio {label}", f"{ratio:.2f}x", f"<= {SCALING_TARGET:.0f}x", ok)
    table.section("    YAML parse (parse_manifest), for reference")
    for size in result["sizes"]:
        table.row(
            f"parse {size['sources']:>7,} sources, {size['yaml_bytes'] / 1e6:.1f} MB "
            f"(x{size['parse']['runs']})",
            f"{ms(size['parse']['median_s'])} = {us(size['parse_per_source_s'])}/source",
        )
    table.section("    diagnostics")
    control = result["locality_control"]
    table.row(
        f"locality control: {control['label']}",
        f"{ms(control['evaluate']['median_s'])} = {us(control['evaluate_per_source_s'])}"
        f"/source ({control['ratio_to_smallest']:.2f}x the smallest)",
    )
    largest = result["sizes"][-1]
    table.row(
        f"first evaluate() right after the {largest['sources']:,}-source parse",
        ms(largest["first_evaluate_after_parse_s"]),
    )
    if result["first_evaluate_gc_frozen_s"] is not None:
        table.row(
            "  the same with gc.freeze() between parse and evaluate()",
            ms(result["first_evaluate_gc_frozen_s"]),
        )
    return met


def cedar_rows(table: Table, timing: dict, agreement: dict, variants: dict) -> bool:
    n = timing["sources"]
    table.section(
        f"(c) tosguard vs Cedar (cedarpy {metadata.version('cedarpy')}), same rules, "
        f"same {n:,} sources, same process"
    )
    runs, clauses = timing["tosguard_evaluate"]["runs"], timing["clauses"]
    table.row(
        f"tosguard evaluate(), starter rules = Cedar's ({clauses['starter']} clauses) (x{runs})",
        ms(timing["tosguard_evaluate"]["median_s"]),
    )
    table.row(
        "Cedar: build requests from the parsed manifest",
        ms(timing["cedar_build_requests"]["median_s"]),
    )
    table.row("Cedar: is_authorized_batch", ms(timing["cedar_is_authorized_batch"]["median_s"]))
    table.row("Cedar: total (build + batch)", ms(timing["cedar_total"]["median_s"]))
    met = timing["cedar_total_over_tosguard"] > 1
    table.row(
        "Cedar total / tosguard",
        f"{timing['cedar_total_over_tosguard']:.1f}x",
        "> 1x (tosguard faster)",
        met,
    )
    table.row(
        "Cedar batch only / tosguard",
        f"{timing['cedar_batch_over_tosguard']:.1f}x",
        "> 1x",
        timing["cedar_batch_over_tosguard"] > 1,
    )
    table.row(
        f"for reference: tosguard, whole shipped library ({clauses['shipped']} clauses)",
        f"{ms(timing['tosguard_evaluate_shipped_library']['median_s'])} (Cedar total / "
        f"this: {timing['cedar_total_over_tosguard_shipped']:.1f}x)",
    )
    table.section("    agreement: Cedar Deny <=> tosguard violated error finding (encoded clauses)")
    for name, result in {"default": agreement, **variants}.items():
        denied = f"Cedar deny {result['cedar_deny']:,}, tosguard {result['tosguard_violated']:,}"
        if result["before_the_terms"]:
            denied += f"; {result['before_the_terms']:,} before the terms, left out"
        table.row(
            f"{name} ({result['sources']:,} sources)",
            f"{result['agree']:,} agree, {result['disagree']:,} disagree ({denied})",
        )
    return met


def print_agreement_details(agreement: dict, variants: dict, groups: int = 6) -> None:
    print("\nAgreement, clause by clause (default manifest): Cedar deny / tosguard violated / both")
    for key, counts in agreement["per_clause"].items():
        print(
            f"  {key:<48} {counts['cedar_deny']:>7,} {counts['tosguard_violated']:>7,} "
            f"{counts['both']:>7,}"
        )
    for name, result in {"default": agreement, **variants}.items():
        items = result["disagreements"]
        for item in items[:groups]:
            example = item["example"]
            print(
                f"  [{name}] {item['count']:,} (source, clause) pairs, {item['direction']}: "
                f"{item['clause']}\n      {item['explanation']}\n"
                f"      e.g. `{example['id']}` {json.dumps(example['facts'])}"
            )
        if len(items) > groups:
            print(f"  [{name}] … {len(items) - groups} more groups in {RESULTS.name}")
    if not any(r["disagreements"] for r in (agreement, *variants.values())):
        print("  no disagreements")


def print_imports(cold: dict) -> None:
    if "imports" not in cold:
        return
    imports = cold["imports"]
    print(
        f"\npython -X importtime of the check command (warm cache): "
        f"{imports['total_us'] / 1000:.1f} ms of imports in total"
    )
    print("  top 10 by cumulative time:")
    for row in imports["by_cumulative"]:
        print(f"    {row['cumulative_us'] / 1000:7.1f} ms  {'  ' * row['depth']}{row['module']}")
    print("  top 10 by self time:")
    for row in imports["by_self"]:
        print(f"    {row['self_us'] / 1000:7.1f} ms  {row['module']}")
    heavy = cold["heavy_imports_with_warm_cache"]
    print("  web stack / Lark imported with a warm cache: " + (", ".join(heavy) or "none"))
    if cold["stale_installed_files"]:
        print(
            "  WARNING: the installed copy differs from the working tree in "
            + ", ".join(cold["stale_installed_files"][:8])
            + ": re-run bench/setup.sh"
        )


# ---- environment ------------------------------------------------------------------------------
def environment() -> dict:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=BENCH.parent, capture_output=True, text=True
        ).stdout.strip()

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "src", "grammar", "policies")),
        "packages": {p: version(p) for p in ("pydantic", "lark", "PyYAML", "cedarpy")},
    }


def machine_line(env: dict) -> str:
    start, end = env["load_average_at_start"][0], env["load_average_at_end"][0]
    line = (
        f"{env['cpus']} CPUs, Python {env['python']}, commit {env['commit']}"
        f"{' + working-tree changes' if env['dirty'] else ''}; 1-min load average "
        f"{start:.2f} at start, {end:.2f} at end"
    )
    if max(start, end) > 0.5 * (env["cpus"] or 1):
        line += (
            "\nWARNING: other processes were busy: absolute times are inflated; the "
            "side-by-side ratios are interleaved and hold up better"
        )
    return line


# ---- main -------------------------------------------------------------------------------------
def run_cedar(library, prepared: dict, plan: Plan) -> tuple[dict, dict, dict]:
    policies = cedar_compare.CedarPolicies.load()
    starter = cedar_compare.load_starter_library()
    largest = prepared[max(prepared)]
    timing = cedar_compare.time_side_by_side(
        starter, library, largest.manifest, scaling.AS_OF, policies, plan.cedar_repeats
    )
    results, evaluation = timing.pop("_results"), timing.pop("_evaluation")
    agreement = cedar_compare.agreement(starter, largest.manifest, evaluation, results, policies)
    del results, evaluation
    variants = {}
    for variant in AGREEMENT_VARIANTS:
        text = to_yaml(generate(plan.variant_sources, variant=variant)).encode()
        manifest = parse_manifest(text, f"{variant}.yaml", "yaml").manifest
        variants[variant] = cedar_compare.check_variant(starter, manifest, scaling.AS_OF, policies)
    timing["country_sets"] = cedar_compare.country_sets_match()
    return timing, agreement, variants


def format_phases(phases: dict[int, dict]) -> str:
    labels = list(next(iter(phases.values())))
    lines = [f"  {'sources':>9}  " + "  ".join(f"{label:>34}" for label in labels)]
    for size, row in phases.items():
        lines.append(
            f"  {size:>9,}  " + "  ".join(f"{row.get(label, 0) * 1e6:>34.2f}" for label in labels)
        )
    return "\n".join(lines)


def print_profiles(profiles: dict) -> None:
    for title, text in profiles.items():
        print(f"\n{title}\n{text}")


def main() -> None:
    parser = argparse.ArgumentParser(description="tosguard benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print cProfile hotspots even when every target is met",
    )
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-cedar", action="store_true")
    args = parser.parse_args()
    plan = Plan.for_mode(args.quick)
    output: dict = {"environment": environment(), "quick": args.quick}
    table, met = Table(), {}

    print("(a) cold CLI start …", flush=True)
    cold = (
        {"skipped": "--skip-cold"}
        if args.skip_cold
        else cold_start.run(plan.cli_runs, plan.empty_cache_runs)
    )
    output["cold_start"] = cold
    met["cold_start"] = cold_rows(table, cold)

    print("(b) scaling …", flush=True)
    library = load_library()
    output["scaling"], prepared = scaling.run(
        library, plan.sizes, plan.scaling_rounds, plan.parse_repeats, gc_diagnostic=not args.quick
    )
    met["scaling"] = scaling_rows(table, output["scaling"])

    if not args.skip_cedar:
        print("(c) Cedar …", flush=True)
        timing, agreement, variants = run_cedar(library, prepared, plan)
        output["cedar"] = {"timing": timing, "agreement": agreement, "variants": variants}
        met["cedar"] = cedar_rows(table, timing, agreement, variants)

    output["environment"]["load_average_at_end"] = os.getloadavg()
    print()
    print(machine_line(output["environment"]))
    print(table.render())
    if not args.skip_cedar:
        print_agreement_details(agreement, variants)
        for label, sets in timing["country_sets"].items():
            print(
                f"  Cedar geography set = openai_supported_countries of the {label}: "
                f"{sets['equal']} ({sets['cedar']} / {sets['library']} codes)"
            )
    print_imports(cold)

    profiles = {}
    if args.profile or not met.get("scaling", True):
        phases = hotspots.phase_breakdown(
            library, {size: sized.manifest for size, sized in prepared.items()}, scaling.AS_OF
        )
        output["phase_breakdown"] = phases
        profiles["evaluate() phases, µs per source by size"] = format_phases(phases)
    if args.profile or not met.get("scaling", True) or not met.get("cedar", True):
        largest = prepared[max(prepared)]
        for kind, text in hotspots.profile_evaluate(
            library, largest.manifest, scaling.AS_OF
        ).items():
            profiles[f"cProfile evaluate() {largest.sources:,} sources, {kind}"] = text
    installed = cold_start.Installed.find()
    if installed and not args.skip_cold and (args.profile or not met["cold_start"]):
        for kind, text in hotspots.profile_cli(installed).items():
            profiles[f"cProfile tosguard check (warm cache), {kind}"] = text
    print_profiles(profiles)
    output["targets_met"] = met
    output["profiles"] = profiles

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2, default=str) + "\n", encoding="utf-8")
    print(
        f"\nwrote {RESULTS.relative_to(BENCH.parent)}; targets met: "
        + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in met.items())
    )


if __name__ == "__main__":
    main()
