"""`pip install .` (not only an editable install) must carry the grammar and the shipped
library: the wheel bundles them under ``tosguard/_data``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_wheel_bundles_grammar_and_policies(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("tosguard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tosguard/_data/grammar/tosguard.lark" in names
    # `tosguard import` validates ML-BOMs offline against the vendored CycloneDX schemas
    for schema in ("bom-1.6", "bom-1.7", "spdx", "jsf-0.82", "cryptography-defs"):
        assert f"tosguard/importers/schemas/cyclonedx/{schema}.schema.json" in names
    shipped = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "policies").rglob("*") if p.is_file()
    }
    bundled = {
        n.removeprefix("tosguard/_data/") for n in names if n.startswith("tosguard/_data/policies/")
    }
    assert shipped and shipped <= bundled
