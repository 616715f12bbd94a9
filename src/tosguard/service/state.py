"""The policy set a worker serves: loaded and compiled once, swapped whole on a reload.

A reload reads, checks and compiles the configured policy paths again *beside* the set in use;
only a set that compiles without error replaces it, in one assignment, so a request sees either
the old set or the new one, never a mix, and a failed reload keeps the old set and records why.
Reloads are serialised by a lock; requests never wait for one.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.frontend import PolicySources, compile_policy_set, read_policy_sources
from ..engine.library import Library
from ..errors import Diagnostic, PolicyError, Span, TosguardError

RESTRICTED_CACHE_SIZE = 32  # restricted libraries kept per set (``?policies=``), LRU


@dataclass
class PolicySet:
    """One loaded set: the compiled library, the text of its files — the library's
    (``contents``) and the user's (``user_contents``, from ``--extra-policies``): the context a
    posted policy is validated in — and when it was loaded."""

    library: Library
    contents: list[tuple[Path, str, bytes]]
    loaded_at: float
    user_contents: list[tuple[Path, str, bytes]] = field(default_factory=list)
    _restricted: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _parsed: list | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _parse_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def revision(self) -> str:
        return self.library.revision

    def parsed_files(self) -> list:
        """The set's files parsed to ASTs (frozen, so shareable), on first use: the context
        posted policy text is validated in."""
        with self._parse_lock:  # not `_lock`: restrict() must never wait for a parse
            if self._parsed is None:
                from ..engine.frontend import FrontEndRun, PolicySources, run_front_end

                sources = PolicySources(self.contents, self.user_contents)
                run = run_front_end(FrontEndRun(sources), until="parse")
                if run.diagnostics:  # the set compiled, so its files parse
                    raise PolicyError(run.diagnostics)
                self._parsed = run.files
            return self._parsed

    def restrict(self, policy_ids: Sequence[str]) -> Library:
        """The library restricted to ``policy_ids`` (raises UsageError for unknown ids); a few
        recent restrictions are kept, so a client that always asks for the same ids does not
        pay for re-indexing."""
        key = tuple(sorted(set(policy_ids)))
        with self._lock:
            found = self._restricted.get(key)
            if found is not None:
                self._restricted.move_to_end(key)
                return found
        restricted = self.library.restrict(key)
        with self._lock:
            self._restricted[key] = restricted
            while len(self._restricted) > RESTRICTED_CACHE_SIZE:
                self._restricted.popitem(last=False)
        return restricted


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    revision: str  # the revision in use after the attempt
    previous: str
    at: float
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def changed(self) -> bool:
        return self.ok and self.revision != self.previous


def load_policy_set(
    paths: Sequence[str], extra: Sequence[str] = (), *, use_cache: bool = True
) -> PolicySet:
    """Load a set — the library under ``paths``, the user's policies under ``extra`` — through
    the one front end (:mod:`tosguard.engine.frontend`), as ``tosguard check`` does; raises
    :class:`~tosguard.errors.TosguardError` with every diagnostic."""
    # one reading: what is compiled is what validates
    sources: PolicySources = read_policy_sources(paths, extra)
    # a service checks many manifests: conditions as generated functions from the start
    library = compile_policy_set(sources, use_cache=use_cache).accelerate()
    return PolicySet(library, sources.library, time.time(), sources.user)


class PolicyState:
    """The set in use, and the history of reload attempts."""

    def __init__(
        self,
        paths: Sequence[str],
        extra: Sequence[str] = (),
        *,
        use_cache: bool = True,
        initial: PolicySet | None = None,
    ):
        self.paths = list(paths)
        self.extra = list(extra)
        self.use_cache = use_cache
        self.current: PolicySet | None = initial
        self.last_reload: ReloadResult | None = None
        self.reload_count = 0
        self.failure_count = 0
        self._reload_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self.current is not None

    def load(self) -> PolicySet:
        """The start-up load: raises when the set is invalid (the worker must not serve)."""
        if self.current is None:
            self.current = load_policy_set(self.paths, self.extra, use_cache=self.use_cache)
        return self.current

    def reload(self) -> ReloadResult:
        """Load the configured paths again; keep the set in use when that fails."""
        with self._reload_lock:
            previous = self.current.revision if self.current else ""
            try:
                fresh = load_policy_set(self.paths, self.extra, use_cache=self.use_cache)
            except TosguardError as error:
                result = ReloadResult(
                    False, previous, previous, time.time(), tuple(error.diagnostics)
                )
                self.failure_count += 1
            except Exception as error:  # a bug must not take the set in use down with it
                diagnostic = Diagnostic(
                    "reload-internal",
                    f"internal error while loading the policies: {type(error).__name__}: {error}",
                    Span("<reload>"),
                    "this is a bug in tosguard; please report it",
                )
                result = ReloadResult(False, previous, previous, time.time(), (diagnostic,))
                self.failure_count += 1
            else:
                self.current = fresh
                result = ReloadResult(True, fresh.revision, previous, time.time())
                self.reload_count += 1
            self.last_reload = result
            return result
