"""Suite-wide hooks: every run ends with the versions it ran on, so a failure in CI (which
installs the newest releases the declared ranges allow) names them, even under ``-q``."""

from __future__ import annotations

from importlib import metadata

_DEPENDENCIES = (
    "pydantic",
    "pydantic-core",
    "lark",
    "PyYAML",
    "click",
    "pycountry",
    "google-re2",
    "fastapi",
    "starlette",
    "uvicorn",
    "httptools",
    "uvloop",
    "hypothesis",
    "schemathesis",
    "httpx",
)


def dependency_versions() -> str:
    versions = []
    for name in _DEPENDENCIES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    try:
        import yaml

        versions.append(f"libyaml {'yes' if yaml.__with_libyaml__ else 'no'}")
    except ImportError:  # pragma: no cover
        pass
    return "dependencies: " + ", ".join(versions)


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.write_line(dependency_versions())
