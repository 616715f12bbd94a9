"""The table of diagnostic codes (src/tosguard/codes.py) is complete, has no dead rows, and
docs/codes.md is generated from it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tosguard.codes import CODES, STAGES, markdown
from tosguard.config import ConfigError
from tosguard.engine.identity import DOCUMENT_NOTICE_CODES, NOTICE_CODES
from tosguard.errors import ManifestError, PolicyError, TosguardError, UsageError
from tosguard.importers.document import ImportInputError
from tosguard.report.baseline import BaselineError
from tosguard.scan.fingerprints import FingerprintError
from tosguard.scan.run import ScanError
from tosguard.service.problems import KINDS

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tosguard"
CODE_LIKE = re.compile(
    r"(policy|manifest|test|service|http|usage|serve|reload|import|scan|fingerprint|config|baseline)"
    r"-[a-z0-9]+(-[a-z0-9]+)*"
)


def _literals() -> dict[str, str]:
    """Every code-like string constant written in src/, with the first place it is written."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and CODE_LIKE.fullmatch(node.value)
            ):
                found.setdefault(node.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _generated() -> set[str]:
    """Codes built rather than written: the counts of diagnostics left out, per error class."""
    classes = (
        TosguardError,
        PolicyError,
        ManifestError,
        UsageError,
        ImportInputError,
        ScanError,
        FingerprintError,
        ConfigError,
        BaselineError,
    )
    prefixes = {cls.code_prefix for cls in classes}
    return {f"{prefix}-too-many-errors" if prefix else "too-many-errors" for prefix in prefixes}


def test_every_code_written_in_src_is_registered() -> None:
    problem_types = set(KINDS)
    missing = {
        code: where
        for code, where in _literals().items()
        if code not in CODES and code not in problem_types
    }
    assert not missing, "codes written in src/ but not in src/tosguard/codes.py: " + ", ".join(
        f"{code} ({where})" for code, where in missing.items()
    )


def test_identity_and_generated_codes_are_registered() -> None:
    for code in (*NOTICE_CODES, *DOCUMENT_NOTICE_CODES, *_generated()):
        assert code in CODES, code


def test_every_registered_code_is_used() -> None:
    used = set(_literals()) | set(NOTICE_CODES) | set(DOCUMENT_NOTICE_CODES) | _generated()
    dead = sorted(set(CODES) - used)
    assert not dead, f"codes registered but reported nowhere: {dead}"


def test_rows_are_well_formed() -> None:
    for code in CODES.values():
        assert code.stage in STAGES, code
        assert code.severity in {"error", "warning"}, code
        assert code.summary and not code.summary.endswith("."), code


def test_docs_table_is_current() -> None:
    committed = (ROOT / "docs" / "codes.md").read_text(encoding="utf-8")
    assert committed == markdown(), (
        "docs/codes.md is stale: run `python -m tosguard.codes > docs/codes.md`"
    )


def test_module_prints_the_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tosguard.codes"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout == markdown()
