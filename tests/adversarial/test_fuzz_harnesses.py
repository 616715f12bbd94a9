"""The fuzzing harnesses of ``fuzz/``, run for a bounded time on every CI run: by Hypothesis
(always: random and mutated seed inputs), and by atheris, coverage-guided, for a few thousand
inputs each where it is installed. Longer campaigns: ``python fuzz/run.py HARNESS
-max_total_time=SECONDS``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).parent.parent.parent
sys.path.insert(0, str(ROOT / "fuzz"))
import harnesses  # noqa: E402

SEEDS = {
    "manifest": sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/*.json")]),
    "check": sorted(ROOT.glob("examples/*.yaml")),
    "policy": sorted(ROOT.glob("policies/*/*.tos"))[:12],
}
RUNS = {"manifest": 3000, "check": 400, "policy": 150}


def mutated(seeds: list[Path]) -> st.SearchStrategy[bytes]:
    """A seed with a few bytes replaced, inserted or cut, or bytes from nowhere."""

    def mutate(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
        data = bytearray(seed)
        for position, cut, insert in edits:
            at = position % (len(data) + 1)
            data[at : at + cut] = insert
        return bytes(data)

    edit = st.tuples(st.integers(0, 1 << 16), st.integers(0, 8), st.binary(max_size=8))
    from_seed = st.builds(
        mutate, st.sampled_from([p.read_bytes() for p in seeds]), st.lists(edit, max_size=4)
    )
    return st.one_of(from_seed, st.binary(max_size=512))


@pytest.mark.parametrize("name", sorted(harnesses.HARNESSES))
def test_harness_accepts_its_seeds(name):
    for seed in SEEDS[name]:
        harnesses.HARNESSES[name](seed.read_bytes())


@pytest.mark.parametrize("name", sorted(harnesses.HARNESSES))
def test_harness_under_hypothesis(name):
    @settings(
        max_examples=150 if name != "policy" else 40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(SEEDS[name]))
    def run(data: bytes) -> None:
        harnesses.HARNESSES[name](data)

    run()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
@pytest.mark.parametrize("name", sorted(harnesses.HARNESSES))
def test_harness_under_atheris(name, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "run.py"),
            name,
            f"-runs={RUNS[name]}",
            "-max_total_time=60",
            "-timeout=20",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
    )
    crashes = sorted(tmp_path.glob("crash-*")) + sorted(tmp_path.glob("timeout-*"))
    assert result.returncode == 0 and not crashes, (
        result.stderr.decode(errors="replace")[-4000:],
        [c.read_bytes()[:500] for c in crashes],
    )
