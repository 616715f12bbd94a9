"""The one front end of the policy language: files read, parsed, checked and compiled.

Every command that takes policies goes through here — ``check``, ``test``, ``explain``,
``diff``, ``policies``, ``lint`` and the service's start-up, reload and
``POST /v1/policies/validate`` — so the same files always get the same verdict:

* :func:`read_policy_sources` reads the library's files and the user's (``--extra-policies``);
* :func:`parse_sources` parses them, each user file marked as such
  (:attr:`tosguard.language.ast.PolicyFile.user`: its names live in the user's namespace, see
  :mod:`tosguard.language.validate`);
* :func:`analyse` runs every static check on the parsed set (errors and warnings);
* :func:`compile_policy_set` does all of it and returns the compiled
  :class:`~tosguard.engine.library.Library`, carrying its warnings, or raises :class:`PolicyError`
  with every diagnostic. Lint and the validate endpoint layer their own analysis on
  :func:`analyse`, so they report at least the errors ``check`` refuses a set for.

Heavy modules (Lark, pydantic) are imported only when something has to be parsed: a set
found in the compiled-library cache is loaded without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Diagnostic, PolicyError, Span
from .library import Library, read_cache, read_policy_files, revision_of, write_cache

if TYPE_CHECKING:
    from ..language import ast

Contents = list[tuple[Path, str, bytes]]  # (path, display name, bytes) of each file


@dataclass
class PolicySources:
    """The files of one policy set as read: the library's, then the user's."""

    library: Contents
    user: Contents = field(default_factory=list)

    @property
    def displays(self) -> list[str]:
        return [display for _, display, _ in (*self.library, *self.user)]


def read_policy_sources(
    paths: Sequence[str | Path] | None = None, extra: Sequence[str | Path] = ()
) -> PolicySources:
    """The files under ``paths`` (default: the shipped library) as the library, and those
    under ``extra`` as the user's. A file named on both sides is the library's (read once)."""
    library = read_policy_files(paths)
    user = read_policy_files(extra) if extra else []
    mine = {path.resolve() for path, _, _ in library}
    return PolicySources(library, [c for c in user if c[0].resolve() not in mine])


def parse_sources(sources: PolicySources) -> tuple[list[ast.PolicyFile], list[Diagnostic]]:
    """Every file parsed (user files marked as the user's), and the diagnostics of those that
    do not parse."""
    files, diagnostics = [], []
    for contents, user in ((sources.library, False), (sources.user, True)):
        for _path, display, data in contents:
            try:
                files.append(parse_policy_data(data, display, user=user))
            except PolicyError as error:
                diagnostics.extend(error.diagnostics)
    return files, diagnostics


def parse_policy_data(data: bytes | str, display: str, *, user: bool = False) -> ast.PolicyFile:
    """One file's bytes decoded (or its text) and parsed, marked as a user file or the
    library's; raises :class:`PolicyError`."""
    from ..language.parse import decode_policy, parse_policy_text

    text = data if isinstance(data, str) else decode_policy(data, display)
    parsed = parse_policy_text(text, display)
    return parsed.model_copy(update={"user": True}) if user else parsed


def analyse(files: list[ast.PolicyFile]) -> list[Diagnostic]:
    """Every static check on a parsed set, the library's files and the user's, errors and
    warnings, sorted by location."""
    from ..language.validate import check_library

    return check_library(files)


def refuse_empty_set(files: list[ast.PolicyFile], names: Sequence[str]) -> None:
    """A set to check manifests against that holds no ``policy`` at all would pass every
    manifest: an error. (Lint and validate look at files, not at a set, and skip this.)"""
    if any(file.policies for file in files):
        return
    shown = ", ".join(f"`{name}`" for name in names[:3])
    raise PolicyError(
        Diagnostic(
            "policy-empty-set",
            f"the policy files ({shown}{', …' if len(names) > 3 else ''})"
            " hold no `policy`: nothing could be checked against them",
            Span(names[0] if names else "<policies>"),
            "a policy set needs at least one `policy … { … }`; an empty set would pass "
            "every manifest",
        )
    )


def errors_in(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == "error"]


def compile_checked(
    files: list[ast.PolicyFile],
    revision: str,
    displays: list[str],
    warnings: Sequence[Diagnostic] = (),
) -> Library:
    """The library compiled from files :func:`analyse` found without errors."""
    from .compile import compile_files

    return Library(compile_files(files, {}), revision, displays, list(warnings))


def compile_policy_set(sources: PolicySources, *, use_cache: bool = True) -> Library:
    """The compiled library of ``sources`` (from the cache when it holds them), with its
    warnings; raises :class:`PolicyError` with every diagnostic when any is an error."""
    revision = revision_of(sources.library, sources.user)
    displays = sources.displays
    cached = read_cache(revision) if use_cache else None
    if cached is not None:
        policies, warnings = cached
        return Library(policies, revision, displays, warnings)
    files, diagnostics = parse_sources(sources)
    diagnostics += analyse(files)
    if errors_in(diagnostics):
        raise PolicyError(sorted(set(diagnostics), key=Diagnostic.sort_key))
    refuse_empty_set(files, displays)
    library = compile_checked(files, revision, displays, diagnostics)
    if use_cache:
        write_cache(revision, library.policies, library.warnings)
    return library


def load_policy_set(
    paths: Sequence[str | Path] | None = None,
    extra: Sequence[str | Path] = (),
    *,
    use_cache: bool = True,
) -> Library:
    """Read and compile the library under ``paths`` (default: the shipped one) with the user's
    policies under ``extra``."""
    return compile_policy_set(read_policy_sources(paths, extra), use_cache=use_cache)
