"""Where the grammar and the shipped policy library live: inside the installed package
(``tosguard/_data``, put there by the wheel build) or, in a source checkout, at the repo root."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent.parent


def _data_dir(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _REPO / name


@cache
def grammar_file() -> Path:
    return _data_dir("grammar") / "tosguard.lark"


@cache
def policies_dir() -> Path:
    """The shipped library: the default policy set of ``tosguard check``."""
    return _data_dir("policies")


def cache_dir() -> Path:
    """Per-user cache for parser tables and compiled libraries (``$TOSGUARD_CACHE_DIR``)."""
    configured = os.environ.get("TOSGUARD_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tosguard"


@cache
def is_shipped_policy(display: str) -> bool:
    """Whether ``display`` (a policy file's name in reports: ``policies/meta/…``) is a file of
    the shipped library (names of its files are relative to it, however they were reached)."""
    if not display.startswith("policies/"):
        return False
    return (policies_dir() / display.removeprefix("policies/")).is_file()
