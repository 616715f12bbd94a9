"""Provider fingerprints: the patterns ``tosguard scan`` looks for in training data.

They are data in the policy library, one file per provider (``policies/<provider>/
fingerprints.yaml``), each pattern with its kind, its strength as evidence, the reasoning for
it and examples that must and must not match (checked on load, so a pattern that stops
matching its own example is an error at its line, not a silent blind spot)::

    provider: openai
    fingerprints:
      - id: self-identification-name
        kind: self-identification        # | refusal-boilerplate | reasoning-trace
        strength: strong                 # | medium | weak
        pattern: '(?i)\\bI(?:\\s+am|\\s*''m)\\s+ChatGPT\\b'
        why: ChatGPT answers "I am ChatGPT" …
        matches: ["I am ChatGPT."]
        not_matches: ["I am using ChatGPT."]

Patterns are RE2 (linear time on any input). All the patterns of all providers are compiled
into one alternation, which finds the records worth a closer look in one pass over the bytes,
and one RE2 set, which tells which patterns a candidate record matches (:class:`Matcher`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import Diagnostic, DiagnosticSink, ManifestError, Span, TosguardError, did_you_mean

__all__ = [
    "KINDS",
    "STRENGTHS",
    "Fingerprint",
    "FingerprintError",
    "Matcher",
    "fingerprint_files",
    "load_fingerprints",
]

KINDS = ("self-identification", "refusal-boilerplate", "reasoning-trace")
#: Strengths, strongest first: the order in which evidence is ranked.
STRENGTHS = ("strong", "medium", "weak")
FILE_NAME = "fingerprints.yaml"
_KEYS = ("id", "kind", "strength", "pattern", "why", "matches", "not_matches")
_REQUIRED = ("id", "kind", "strength", "pattern", "why")
_ID = re.compile(r"[a-z][a-z0-9-]*")
#: Memory RE2 may use for the combined alternation: its lazy DFA is what makes a scan fast.
SCAN_MEMORY = 256 << 20
#: A JSON ``\\uXXXX`` escape: text written by ``json.dumps`` (``ensure_ascii``) hides non-ASCII
#: words behind these, so in JSON data a record holding one is decoded and looked at.
JSON_ESCAPE = r"\\u[0-9a-fA-F]{4}"


class FingerprintError(TosguardError):
    """A fingerprint file that cannot be read or is not valid."""

    code_prefix = "fingerprint"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    provider: str
    id: str
    kind: str
    strength: str
    pattern: str
    why: str
    file: str
    line: int

    @property
    def rule(self) -> str:
        return f"{self.provider}/{self.id}"


def fingerprint_files(roots: Iterable[str | Path]) -> list[Path]:
    """The fingerprint files of a policy library: ``fingerprints.yaml`` in each provider's
    directory (or a file named directly), sorted."""
    found: list[Path] = []
    for root in roots:
        path = Path(root)
        if path.is_file():
            if path.name.endswith(".yaml"):
                found.append(path)
        elif path.is_dir():
            found += path.rglob(FILE_NAME)
    return sorted(set(found))


def load_fingerprints(files: Sequence[str | Path]) -> tuple[Fingerprint, ...]:
    """Read, validate and check every fingerprint file; raise :class:`FingerprintError` with
    every problem found (file, line, column, help)."""
    sink = DiagnosticSink()
    loaded: list[Fingerprint] = []
    for file in files:
        loaded += _load_file(Path(file), sink)
    seen: dict[tuple[str, str], Fingerprint] = {}
    for fingerprint in loaded:
        key = (fingerprint.provider, fingerprint.id)
        if key in seen:
            sink.error(
                "fingerprint-duplicate-id",
                f"fingerprint `{fingerprint.rule}` is defined twice (first at "
                f"{seen[key].file}:{seen[key].line})",
                Span(fingerprint.file, fingerprint.line, 1),
                "give each fingerprint of a provider its own id",
            )
        seen.setdefault(key, fingerprint)
    sink.raise_if_any(FingerprintError)
    return tuple(loaded)


def lint_fingerprints(files: Sequence[str | Path]) -> list[Diagnostic]:
    """The diagnostics of :func:`load_fingerprints`, for ``tosguard lint``."""
    try:
        load_fingerprints(files)
    except FingerprintError as error:
        return list(error.diagnostics)
    return []


def _load_file(path: Path, sink: DiagnosticSink) -> list[Fingerprint]:
    from ..manifest.yamlload import load_document_text

    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        sink.error(
            "fingerprint-io",
            f"cannot read `{name}`: {error.strerror or error}",
            Span(name),
            "check the path and its permissions",
        )
        return []
    try:
        value, positions, _ = load_document_text(data, name, "yaml")
    except ManifestError as error:  # YAML that does not parse, bad encoding …
        for diagnostic in error.diagnostics:
            sink.add(diagnostic)
        return []

    def where(pointer: str) -> Span:
        place = positions.nearest(pointer)
        return Span(name, *place) if place else Span(name)

    def invalid(pointer: str, message: str, help: str) -> None:
        sink.error("fingerprint-invalid", message, where(pointer), help)

    if not isinstance(value, dict):
        invalid("", "a fingerprint file is a mapping", "start with `provider:` and `fingerprints:`")
        return []
    for key in value:
        if key not in ("provider", "fingerprints"):
            invalid(
                f"/{key}",
                f"unknown key `{key}`",
                did_you_mean(str(key), ("provider", "fingerprints"))
                or "the keys are `provider` and `fingerprints`",
            )
    provider = value.get("provider")
    if not isinstance(provider, str) or not _ID.fullmatch(provider):
        invalid("/provider", "`provider` must be a provider id", "write e.g. `provider: openai`")
        return []
    entries = value.get("fingerprints")
    if not isinstance(entries, list):
        invalid("/fingerprints", "`fingerprints` must be a list", "write `fingerprints:` and items")
        return []
    found = []
    for number, entry in enumerate(entries):
        fingerprint = _entry(provider, entry, f"/fingerprints/{number}", name, where, sink)
        if fingerprint is not None:
            found.append(fingerprint)
    return found


def _entry(provider, entry, pointer, name, where, sink) -> Fingerprint | None:
    def invalid(at: str, message: str, help: str) -> None:
        sink.error("fingerprint-invalid", message, where(at), help)

    if not isinstance(entry, dict):
        invalid(pointer, "a fingerprint is a mapping", "give `id`, `kind`, `strength`, …")
        return None
    ok = True
    for key in entry:
        if key not in _KEYS:
            invalid(
                f"{pointer}/{key}",
                f"unknown key `{key}`",
                did_you_mean(str(key), _KEYS) or "the keys are " + ", ".join(_KEYS),
            )
            ok = False
    for key in _REQUIRED:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            invalid(pointer, f"fingerprint needs `{key}` (a text)", f"add `{key}:`")
            ok = False
    if not ok:
        return None
    for key, allowed in (("kind", KINDS), ("strength", STRENGTHS)):
        if entry[key] not in allowed:
            invalid(
                f"{pointer}/{key}",
                f"`{entry[key]}` is not a {key}",
                did_you_mean(entry[key], allowed) or "one of " + ", ".join(allowed),
            )
            ok = False
    if not _ID.fullmatch(entry["id"]):
        invalid(f"{pointer}/id", f"`{entry['id']}` is not a valid id", "use `a-z`, `0-9`, `-`")
        ok = False
    pattern = entry["pattern"]
    search = None
    try:
        search = _compile(pattern)
    except ValueError as error:
        sink.error(
            "fingerprint-pattern",
            f"the pattern of `{provider}/{entry['id']}` does not compile: {error}",
            where(f"{pointer}/pattern"),
            "patterns are RE2: no backreferences or lookaround",
        )
        ok = False
    for key, wanted in (("matches", True), ("not_matches", False)):
        examples = entry.get(key, [])
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            invalid(f"{pointer}/{key}", f"`{key}` must be a list of texts", "quote each example")
            ok = False
            continue
        for index, example in enumerate(examples):
            if search is not None and (search(example.encode()) is not None) != wanted:
                sink.error(
                    "fingerprint-example",
                    f"the pattern of `{provider}/{entry['id']}` "
                    + ("does not match" if wanted else "matches")
                    + f" its example `{example}`",
                    where(f"{pointer}/{key}/{index}"),
                    "fix the pattern or the example: examples are how a pattern's reach "
                    "is reviewed",
                )
                ok = False
    if not ok:
        return None
    line = (where(pointer).line) or 1
    return Fingerprint(
        provider, entry["id"], entry["kind"], entry["strength"], pattern, entry["why"], name, line
    )


@cache
def _compile(pattern: str, memory: int = 8 << 20):
    """A bytes search function for ``pattern`` (UTF-8), or ValueError saying why not."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = memory
    try:
        return re2.compile(pattern.encode("utf-8"), options).search
    except re2.error as error:
        reason = error.args[0] if error.args else str(error)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    except UnicodeEncodeError:
        raise ValueError("the pattern holds a lone surrogate") from None


class Matcher:
    """All patterns, compiled for scanning bytes: :meth:`candidates` finds, in one pass, where
    any pattern (or, for JSON data, an escape that may hide one) matches; :meth:`which`
    tells which patterns match one record's text.

    Built from (provider, pattern text) pairs only, so that it travels to worker processes (and Dask
    workers) as a tuple of strings and is compiled there once (:func:`matcher_for`).
    """

    def __init__(self, specs: tuple[tuple[str, str], ...]):
        import re2

        self.providers = [provider for provider, _ in specs]
        self.patterns = patterns = [pattern for _, pattern in specs]
        options = re2.Options()
        options.log_errors = False
        options.max_mem = SCAN_MEMORY
        joined = "|".join(f"(?:{p})" for p in patterns)
        self.search = re2.compile(joined.encode(), options).search
        self.search_json = re2.compile(f"{joined}|{JSON_ESCAPE}".encode(), options).search
        self._set = re2.Set.SearchSet(options)
        for pattern in patterns:
            self._set.Add(pattern.encode())
        self._set.Compile()
        self._each = [_compile(p, SCAN_MEMORY) for p in patterns]

    def which(self, text: bytes) -> list[int]:
        """The indices of the patterns that match ``text``, in order."""
        found = self._set.Match(text)
        return sorted(found) if found else []

    def span(self, index: int, text: bytes) -> tuple[int, int]:
        match = self._each[index](text)
        return (match.start(), match.end()) if match else (0, 0)


@cache
def matcher_for(patterns: tuple[tuple[str, str], ...]) -> Matcher:
    return Matcher(patterns)
