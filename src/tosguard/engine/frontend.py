"""The one front end of the policy language: files read, then run through a table of named
stages (:data:`STAGES`: parse → validate → gate → compile).

Every command that takes policies goes through here — ``check``, ``test``, ``explain``,
``diff``, ``policies``, ``lint`` and the service's start-up, reload and
``POST /v1/policies/validate`` — so the same files always get the same verdict:

* :func:`read_policy_sources` reads the library's files and the user's (``--extra-policies``);
* :func:`run_front_end` runs the stages on them, from a stage and up to one, over a
  :class:`FrontEndRun` that carries what each stage hands the next (files, diagnostics, the
  compiled library);
* :func:`compile_policy_set` returns the compiled :class:`~tosguard.engine.library.Library`
  (from the cache when it holds the set), carrying its warnings, or raises
  :class:`PolicyError` with every diagnostic. Lint stops after ``validate`` and layers its own
  checks on it; the validate endpoint lints, then runs ``compile``; so both report at least the
  errors ``check`` refuses a set for.

Heavy modules (Lark, pydantic) are imported only when something has to be parsed: a set
found in the compiled-library cache is loaded without them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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


# ---- the stages ----------------------------------------------------------------------------
@dataclass
class FrontEndRun:
    """What the stages hand on: the sources, the parsed files, every diagnostic so far, and
    (after ``compile``) the library. ``timings``: seconds spent in each stage run."""

    sources: PolicySources
    revision: str = ""
    files: list[ast.PolicyFile] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    library: Library | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def displays(self) -> list[str]:
        """The names reports show: the sources' (or, for files parsed elsewhere, theirs)."""
        return self.sources.displays or [f.path for f in self.files]


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[FrontEndRun], None]
    does: str  # one line for the docs and `--help`


def _parse_stage(run: FrontEndRun) -> None:
    files, diagnostics = parse_sources(run.sources)
    run.files += files
    run.diagnostics += diagnostics


def _validate_stage(run: FrontEndRun) -> None:
    run.diagnostics += analyse(run.files)


def _gate_stage(run: FrontEndRun) -> None:
    if errors_in(run.diagnostics):
        raise PolicyError(sorted(set(run.diagnostics), key=Diagnostic.sort_key))
    refuse_empty_set(run.files, run.displays)


def _compile_stage(run: FrontEndRun) -> None:
    run.library = compile_checked(run.files, run.revision, run.displays, run.diagnostics)


STAGES: tuple[Stage, ...] = (
    Stage("parse", _parse_stage, "each file decoded and parsed to an AST"),
    Stage("validate", _validate_stage, "every static check on the parsed set"),
    Stage("gate", _gate_stage, "any error, or a set without a policy, stops the run"),
    Stage("compile", _compile_stage, "the checked ASTs compiled to the IR of a library"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


def run_front_end(run: FrontEndRun, *, start: str = "parse", until: str = "compile") -> FrontEndRun:
    """Run the stages from ``start`` through ``until`` on ``run``; raises
    :class:`PolicyError` from the ``gate``."""
    first, last = STAGE_NAMES.index(start), STAGE_NAMES.index(until)
    for stage in STAGES[first : last + 1]:
        began = time.perf_counter()
        stage.run(run)
        run.timings[stage.name] = time.perf_counter() - began
    return run


def compile_policy_set(sources: PolicySources, *, use_cache: bool = True) -> Library:
    """The compiled library of ``sources`` (from the cache when it holds them), with its
    warnings; raises :class:`PolicyError` with every diagnostic when any is an error."""
    revision = revision_of(sources.library, sources.user)
    cached = read_cache(revision) if use_cache else None
    if cached is not None:
        policies, warnings = cached
        return Library(policies, revision, sources.displays, warnings)
    library = run_front_end(FrontEndRun(sources, revision)).library
    assert library is not None  # the compile stage ran
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
