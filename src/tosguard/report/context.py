"""What the renderers for tools know of a manifest beyond its report: its lines (for SARIF
snippets) and its sources' ids (to name a subject `source `x`` rather than ``/sources/1``, and
to fingerprint a finding by what it is about rather than by where it sits in the list).

>>> context = ManifestContext(source_ids=("gpt", "web"))
>>> context.subject_name("/sources/1"), context.subject_name("/model")
('source `web`', 'the trained model')
>>> context.subject_key("/sources/0"), context.subject_key("/organization")
('source:gpt', '/organization')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

SUBJECT_NAMES = {"/model": "the trained model", "/organization": "the organization"}


def policy_place(location: dict) -> str:
    """Where a clause is written: ``file:line``, and for a file of the shipped library the
    library's version (the tosguard release that ships it), since its path is relative to the
    library rather than to anything on the reader's disk.

    >>> policy_place({"file": "mine/terms.tos", "line": 3})
    'mine/terms.tos:3'
    """
    from .. import __version__
    from ..resources import is_shipped_policy

    place = f"{location['file']}:{location['line']}"
    if is_shipped_policy(location["file"]):
        place += f" (library of tosguard {__version__})"
    return place


@dataclass(frozen=True)
class ManifestContext:
    source_line: Callable[[int], str] | None = None
    source_ids: Sequence[str] = ()

    @classmethod
    def of(cls, loaded) -> ManifestContext:
        """The context of a :class:`~tosguard.manifest.model.LoadedManifest`."""
        return cls(loaded.source_line, tuple(s.id for s in loaded.manifest.sources))

    def source_id(self, subject: str) -> str | None:
        """The declared id of the source ``subject`` names (``/sources/N``), if known."""
        if subject.startswith("/sources/"):
            index = subject[len("/sources/") :]
            if index.isdigit() and int(index) < len(self.source_ids):
                return self.source_ids[int(index)]
        return None

    def subject_name(self, subject: str) -> str:
        source = self.source_id(subject)
        if source is not None:
            return f"source `{source}`"
        return SUBJECT_NAMES.get(subject, subject)

    def subject_key(self, subject: str) -> str:
        """What a finding is about, independent of the order of the sources."""
        source = self.source_id(subject)
        return subject if source is None else f"source:{source}"

    def line(self, number: int) -> str:
        """Line ``number`` of the manifest, without its line break ('' when unknown)."""
        if self.source_line is None or number < 1:
            return ""
        return self.source_line(number).rstrip("\r\n")


NO_CONTEXT = ManifestContext()
