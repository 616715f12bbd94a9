"""A policy library: files found, parsed, checked and compiled once, then indexed.

Compiling the shipped library takes Lark and pydantic; loading it from the on-disk cache takes
neither, which is what keeps ``tosguard check`` fast. The cache is keyed by the content of
every policy file, the grammar and the tosguard version, so an edit is never missed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

from .. import __version__
from ..errors import Diagnostic, PolicyError, Span
from ..resources import cache_dir, grammar_file, policies_dir
from .identity import UNGOVERNED_KINDS, Vocabulary
from .ir import INDEX_FIELDS, PolicyIR

T = TypeVar("T")
POLICY_SUFFIX = ".tos"
MAX_POLICY_BYTES = 4 * 1024 * 1024  # one policy file; a larger one is refused
CACHE_FORMAT = b"ir-9"  # bump when the IR classes change shape


@dataclass
class Document:
    """All versions of one policy id (one provider document), oldest first."""

    id: str
    provider: str
    versions: list[PolicyIR]
    keys: dict[str, frozenset] = field(default_factory=dict)
    ranges: list[tuple[PolicyIR, date, date]] = field(init=False, repr=False)
    licences: frozenset[str] = field(init=False)  # canonical ids: a licence document's

    def __post_init__(self) -> None:
        """Each version with the days it is in force: from its effective date until it ends,
        or until the day before the next version takes effect."""
        self.licences = frozenset(v.licenses[0] for v in self.versions if v.licenses)
        self.ranges = []
        for position, version in enumerate(self.versions):
            end = version.ends or date.max
            if position + 1 < len(self.versions):
                end = min(end, self.versions[position + 1].effective - timedelta(days=1))
            self.ranges.append((version, version.effective, end))


@dataclass
class Library:
    """A compiled policy set (:func:`tosguard.engine.frontend.compile_policy_set` builds one), with
    the warnings its files drew."""

    policies: list[PolicyIR]
    revision: str
    files: list[str]
    warnings: list[Diagnostic] = field(default_factory=list)
    documents: dict[str, Document] = field(init=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[PolicyIR]] = {}
        for policy in self.policies:
            grouped.setdefault(policy.id, []).append(policy)
        self.documents = {}
        for policy_id in sorted(grouped):
            versions = sorted(grouped[policy_id], key=lambda p: p.effective)
            keys = _common_keys(versions)
            self.documents[policy_id] = Document(policy_id, versions[0].provider, versions, keys)
        self._candidates: dict[tuple, list[Document]] = {}
        self._derived: dict[str, object] = {}
        self.fast = False  # evaluate with generated functions (see accelerate)
        self.partial = False  # a restriction to some documents (see restrict)

    def candidates(self, source) -> list[Document]:
        """The documents whose terms may govern ``source`` (its licence id canonical, see
        :mod:`tosguard.engine.identity`); the rest are never evaluated for it. Memoized per key.

        A licence document may govern exactly the sources that declare one of its licence
        ids, and, by its ``governs``, sources that declare no licence. Any other document, the
        sources its ``governs`` does not exclude by their declared provider, licence, service
        or kind (an undeclared field excludes nothing). Sources of kind ``human`` and
        ``web-crawl`` fall under the licence they declare, and under no other document
        unless its ``governs`` names their kind."""
        key = tuple(getattr(source, name) for name in INDEX_FIELDS)
        found = self._candidates.get(key)
        if found is None:
            found = [d for d in self.documents.values() if _may_govern(d, key)]
            self._candidates[key] = found
        return found

    def accelerate(self) -> Library:
        """Build now the generated function of every condition (:mod:`tosguard.engine.codegen`) and
        evaluate with them from now on: some 40 ms once, then a tenth less per check. For
        processes that check many manifests (the service does this at start-up)."""
        for policy in self.policies:
            policy.governs_closure(fast=True)
            for clause in policy.clauses:
                clause.closures(fast=True)
                for exception in clause.exceptions:
                    exception.closures(fast=True)
        self.fast = True
        return self

    def derived(self, name: str, build: Callable[[Library], T]) -> T:
        """A structure computed from this library alone (e.g. the evaluator's count of clauses
        in force), built on first use and kept as long as the library."""
        found = self._derived.get(name)
        if found is None:
            found = self._derived[name] = build(self)
        return found  # type: ignore[return-value]

    def restrict(self, policy_ids: Iterable[str]) -> Library:
        wanted = set(policy_ids)
        unknown = wanted - set(self.documents)
        if unknown:
            from ..errors import UsageError, did_you_mean

            name = sorted(unknown)[0]
            raise UsageError(
                Diagnostic(
                    "usage-unknown-policy",
                    f"no policy `{name}` in the library",
                    Span("<arguments>"),
                    did_you_mean(name, self.documents),
                )
            )
        kept = [p for p in self.policies if p.id in wanted]
        restricted = Library(
            kept, self.revision + ":" + ",".join(sorted(wanted)), self.files, self.warnings
        )
        restricted.fast = self.fast  # the same clause objects, functions already built
        # ids stay those of the whole set, and a source outside the chosen documents is not
        # "governed by nothing": it was left out on purpose
        restricted._derived["vocabulary"] = self.derived("vocabulary", Vocabulary)
        restricted.partial = True
        return restricted

    def listing(self) -> list[dict]:
        """One row per document: what ``tosguard policies`` and ``GET /v1/policies`` show."""
        return [
            {
                "id": document.id,
                "provider": document.provider or None,
                "document": document.versions[-1].document,
                "versions": [v.effective.isoformat() for v in document.versions],
                "clauses": sum(len(v.clauses) for v in document.versions),
                "files": [v.file for v in document.versions],
            }
            for document in self.documents.values()
        ]

    @property
    def clause_count(self) -> int:
        return sum(len(p.clauses) for p in self.policies)


def _may_govern(document: Document, values: tuple) -> bool:
    fields = dict(zip(INDEX_FIELDS, values, strict=True))
    licence, kind = fields["license"], fields["kind"]
    if document.licences and licence is not None:
        return licence in document.licences
    keys = document.keys
    if kind in UNGOVERNED_KINDS:
        return not document.licences and kind in keys.get("kind", ())
    for name, value in fields.items():
        allowed = keys.get(name)
        if allowed is not None and value is not None and value not in allowed:
            return False
    return True


def _common_keys(versions: list[PolicyIR]) -> dict[str, frozenset]:
    """Index keys shared by all versions (a key missing from one version is dropped)."""
    keys: dict[str, frozenset] = {}
    for name in INDEX_FIELDS:
        if all(name in v.keys for v in versions):
            keys[name] = frozenset().union(*(v.keys[name] for v in versions))
    return keys


# ---- loading ----------------------------------------------------------------------------------
def policy_files(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """``(path, display name)`` for every ``.tos`` file named or found under a directory.

    Raises :class:`PolicyError` naming every path that does not exist and every directory that
    cannot be read: a library missing part of its files must not load as if it were whole.
    """
    found: list[tuple[Path, str]] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files, unreadable = _files_under(path)
            found += [(file, _display(file, path, str(given))) for file in files]
            for directory, error in unreadable:
                shown = _display(directory, path, str(given)) if directory != path else str(given)
                looped = error.errno == 0
                problems.append(
                    Diagnostic(
                        "policy-io",
                        f"cannot read the directory `{shown}`: {error.strerror or error}",
                        Span(shown),
                        "remove the link, so that each directory is read once"
                        if looped
                        else "make it readable, or leave it out: a policy set must not load in "
                        "part",
                    )
                )
        elif path.exists():
            found.append((path, str(given)))
        else:
            problems.append(
                Diagnostic(
                    "policy-io",
                    f"cannot read `{given}`: no such file or directory",
                    Span(str(given)),
                    "pass a .tos file or a directory of them",
                )
            )
    if problems:
        raise PolicyError(problems)
    return found


def _files_under(root: Path) -> tuple[list[Path], list[tuple[Path, OSError]]]:
    """The ``.tos`` files under ``root`` in a stable order, and the directories that could not
    be read. Symbolic links to directories are followed (a link is how a library is often put
    together, and skipping one would load the set in part); a directory reached a second time
    (a link loop, or two links to one directory) is not read again, and is reported."""
    unreadable: list[tuple[Path, OSError]] = []
    seen: set[tuple[int, int]] = set()

    def failed(error: OSError) -> None:
        unreadable.append((Path(error.filename) if error.filename else root, error))

    files = []
    for top, directories, names in os.walk(root, onerror=failed, followlinks=True):
        try:
            info = os.stat(top)
        except OSError as error:
            failed(error)
            directories[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            unreadable.append(
                (
                    Path(top),
                    OSError(
                        0,
                        "it is reached twice, through a "
                        "symbolic link (a loop, or two links to "
                        "one directory)",
                    ),
                )
            )
            directories[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        directories.sort()
        files += [Path(top, name) for name in names if name.endswith(POLICY_SUFFIX)]
    return sorted(files), unreadable


def _display(file: Path, root: Path, given: str) -> str:
    relative = file.relative_to(root).as_posix()
    if root.resolve() == policies_dir().resolve():
        return f"policies/{relative}"
    return f"{given.rstrip('/')}/{relative}"


def default_paths() -> list[Path]:
    return [policies_dir()]


def load_library(
    paths: Sequence[str | Path] | None = None,
    extra: Sequence[str | Path] = (),
    *,
    use_cache: bool = True,
) -> Library:
    """Load, check and compile the policies under ``paths`` (default: the shipped library),
    with the user's policies under ``extra`` in their own namespace
    (:mod:`tosguard.engine.frontend`).

    Raises :class:`PolicyError` with every diagnostic when any file is invalid.
    """
    from .frontend import load_policy_set

    return load_policy_set(paths, extra, use_cache=use_cache)


def read_policy_files(paths: Sequence[str | Path] | None = None) -> list[tuple[Path, str, bytes]]:
    """``(path, display name, bytes)`` of every policy file under ``paths`` (default: the
    shipped library); a directory without any, or one that cannot be read, is an error."""
    given = list(paths) if paths is not None else default_paths()
    files = policy_files(given)
    _refuse_empty_paths(given, files)
    return [(path, display, _read(path, display)) for path, display in files]


def library_of(contents: list[tuple[Path, str, bytes]], *, use_cache: bool = True) -> Library:
    """The library compiled from the files :func:`read_policy_files` read (from the cache
    when it holds them), all of them the library's."""
    from .frontend import PolicySources, compile_policy_set

    return compile_policy_set(PolicySources(contents), use_cache=use_cache)


def compile_contents(contents: list[tuple[Path, str, bytes]]) -> list[PolicyIR]:
    """Parse, check and compile file contents, all the library's, without the cache; every
    error of every file is reported (a :class:`PolicyError`)."""
    from .frontend import PolicySources, compile_policy_set

    return compile_policy_set(PolicySources(contents), use_cache=False).policies


def _refuse_empty_paths(given: Sequence[str | Path], files: list[tuple[Path, str]]) -> None:
    """A directory given as policies that holds no ``.tos`` file is an error, not an empty
    contribution: a mistyped path must not silently check against fewer terms."""
    if not given:
        raise PolicyError(
            Diagnostic(
                "policy-empty-set",
                "no policy paths were given",
                Span("<policies>"),
                "name a .tos file or a directory of them",
            )
        )
    problems = []
    for path in given:
        if Path(path).is_dir() and not any(_under(file, Path(path)) for file, _ in files):
            problems.append(
                Diagnostic(
                    "policy-empty-set",
                    f"no policy files (`*{POLICY_SUFFIX}`) under `{path}`",
                    Span(str(path)),
                    "point at a .tos file or a directory of them; an empty set "
                    "would pass every manifest",
                )
            )
    if problems:
        raise PolicyError(problems)


def _under(file: Path, directory: Path) -> bool:
    try:
        file.relative_to(directory)
    except ValueError:
        return False
    return True


def _read(path: Path, display: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_POLICY_BYTES + 1)  # longer: refused as too large
    except OSError as error:
        raise PolicyError(
            Diagnostic(
                "policy-io",
                f"cannot read `{display}`: {error.strerror or error}",
                Span(display),
                "check the path and its permissions",
            )
        ) from None


def revision_of(
    contents: Sequence[tuple[Path, str, bytes]], user: Sequence[tuple[Path, str, bytes]] = ()
) -> str:
    """The revision of a policy set: its files' names and contents, each in its namespace,
    the grammar and the tosguard version."""
    digest = hashlib.sha256(__version__.encode() + CACHE_FORMAT)
    digest.update(hashlib.sha256(grammar_file().read_bytes()).digest())
    for _, display, data in contents:
        digest.update(display.encode() + b"\0" + hashlib.sha256(data).digest())
    for _, display, data in user:
        digest.update(b"user\0" + display.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def _cache_file(revision: str) -> Path:
    return cache_dir() / f"library-{revision}.pickle"


def read_cache(revision: str) -> tuple[list[PolicyIR], list[Diagnostic]] | None:
    """The compiled library from the cache, if there is one nobody else could have written:
    the directory must be the user's alone and the file a regular file of theirs."""
    from ..files import private_dir, read_private

    if private_dir(cache_dir(), create=False) is None:
        return None
    data = read_private(_cache_file(revision))
    if data is None:
        return None
    try:
        found = pickle.loads(data)
    except Exception:  # a stale or corrupt cache is rebuilt, never fatal
        return None
    if not (
        isinstance(found, tuple)
        and len(found) == 2
        and isinstance(found[0], list)
        and isinstance(found[1], list)
    ):
        return None
    return found[0], found[1]


def write_cache(revision: str, policies: list[PolicyIR], warnings: list[Diagnostic] = ()) -> None:  # type: ignore[assignment]
    """Atomically, in the user's private cache directory; a symlink planted at the name is
    replaced, never followed. Failures only cost the next run a rebuild."""
    from ..files import private_dir, write_private

    directory = private_dir(cache_dir())
    if directory is None:
        return
    data = pickle.dumps((policies, list(warnings)), protocol=pickle.HIGHEST_PROTOCOL)
    if write_private(_cache_file(revision), data):
        with contextlib.suppress(OSError):
            _prune_cache(directory)


def _read_cache(revision: str) -> list[PolicyIR] | None:
    """The compiled policies alone from the cache (see :func:`read_cache`)."""
    found = read_cache(revision)
    return None if found is None else found[0]


_write_cache = write_cache


def _prune_cache(directory: Path, keep: int = 8) -> None:
    """Keep the most recently written compiled libraries; older revisions are dead weight."""
    caches = sorted(
        directory.glob("library-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for stale in caches[keep:]:
        stale.unlink(missing_ok=True)
