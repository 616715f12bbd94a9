"""Reading an input of ``tosguard import``: the file, its format, its values with positions.

Every input is read through the strict loader of :mod:`tosguard.manifest.yamlload` (size
limit, encoding checks, duplicate keys refused, no YAML aliases or tags, a position for every
value), and every problem becomes an ``import-*`` diagnostic at its file, line and column.
A Hugging Face card's YAML front matter is read in place: the lines before it are kept as
blank lines, so that positions are those of the card file.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, DiagnosticSink, ManifestError, Span, TosguardError, source_window
from ..manifest.yamlload import DEFAULT_MAX_BYTES, load_document_text

#: Formats ``tosguard import`` reads (``--from``).
FORMATS = ("hf-model-card", "hf-dataset-card", "cyclonedx", "spdx3", "croissant", "dpi")


class ImportInputError(TosguardError):
    """An input of ``tosguard import`` could not be read or is not of its format."""

    code_prefix = "import"


# The strict loader's codes, as this command reports them.
_RECODE = {
    "manifest-encoding": "import-encoding",
    "manifest-too-large": "import-too-large",
    "manifest-too-deep": "import-too-large",
}

# The front matter of a card: `---` on the first line, up to the next `---` line (as
# huggingface_hub's REGEX_YAML_BLOCK reads it).
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class Document:
    """One input: its name, text, parsed value and the positions of its values."""

    name: str
    text: str
    value: Any = None
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: for a card, the Markdown after the front matter, and the line it starts on
    body: str = ""
    body_line: int = 1
    #: the Hugging Face id of what the document describes (`org/name`), when known
    ref: str | None = None
    #: where ``ref`` comes from: `hub` (the id it was downloaded by) or `folder` (`org/name/`)
    ref_source: str = ""

    def where(self, pointer: str) -> str:
        """``file:line`` of the value at JSON pointer ``pointer`` (or of its nearest parent)."""
        position = _nearest(self.positions, pointer)
        return f"{self.name}:{position[0]}" if position else self.name

    def span(self, pointer: str) -> Span:
        position = _nearest(self.positions, pointer)
        return Span(self.name, *position) if position else Span(self.name)

    def error(self, code: str, message: str, pointer: str, help: str = "") -> Diagnostic:
        span = self.span(pointer)
        return Diagnostic(
            code,
            message,
            span,
            help,
            pointer=pointer,
            **(source_window(self.text, span.line, span.column) if span.line else {}),
        )


def _nearest(positions: Mapping[str, tuple[int, int]], pointer: str) -> tuple[int, int] | None:
    nearest = getattr(positions, "nearest", None)
    if nearest is not None:
        found: tuple[int, int] | None = nearest(pointer)
        return found
    while True:
        if pointer in positions:
            return positions[pointer]
        if not pointer:
            return None
        pointer = pointer[: max(pointer.rfind("/"), 0)]


def read_bytes(path: str) -> bytes:
    """The bytes of ``path`` (at most the size limit and one byte more)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(DEFAULT_MAX_BYTES + 1)
    except OSError as exc:
        raise ImportInputError(
            Diagnostic(
                "import-io",
                f"cannot read `{path}`: {exc.strerror or exc}",
                Span(path),
                "check the path",
            )
        ) from None


def load(data: bytes | str, name: str, fmt: str) -> tuple[Any, Mapping[str, tuple[int, int]], str]:
    """Parse ``data`` as ``fmt`` (``json`` or ``yaml``) with positions; ``import-*`` errors."""
    try:
        return load_document_text(data, name, fmt)
    except ManifestError as error:
        raise ImportInputError([_recode(d) for d in error.diagnostics]) from None


def _recode(diagnostic: Diagnostic) -> Diagnostic:
    code = _RECODE.get(diagnostic.code, "import-syntax")
    if diagnostic.code.endswith("too-many-errors"):
        code = "import-too-many-errors"
    return dataclasses.replace(diagnostic, code=code)


def decode(data: bytes, name: str) -> str:
    """``data`` as text, by the strict loader's rules (UTF-8; a BOM removed)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ImportInputError(
            Diagnostic(
                "import-encoding",
                f"`{os.path.basename(name)}` is not UTF-8 text: invalid byte at offset {exc.start}",
                Span(name, line, column),
                "save the file as UTF-8",
            )
        ) from None
    return text


def front_matter(text: str) -> tuple[str, int, int] | None:
    """The YAML front matter of a card, the line it starts on and the line its body starts on;
    None when the text has none."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None
    yaml_text = match.group(1) or ""
    body_line = text.count("\n", 0, match.end()) + 1
    return yaml_text, 2, body_line


def read_card(data: bytes, name: str) -> Document:
    """A Hugging Face card: front matter parsed with positions as in the file, the body kept."""
    text = decode(data[: DEFAULT_MAX_BYTES + 1], name)
    found = front_matter(text)
    if found is None:
        raise ImportInputError(
            Diagnostic(
                "import-no-metadata",
                "the card has no YAML front matter (a block between `---` lines at the top)",
                Span(name, 1, 1),
                "a Hugging Face card starts with its metadata between `---` lines; "
                "see https://huggingface.co/docs/hub/model-cards",
                **source_window(text, 1, 1),
            )
        )
    yaml_text, first, body_line = found
    padded = "\n" * (first - 1) + yaml_text
    if not yaml_text.strip():
        value: Any = {}
        positions: Mapping[str, tuple[int, int]] = {}
    else:
        value, positions, _ = load(padded, name, "yaml")
    if not isinstance(value, dict):
        raise ImportInputError(
            Diagnostic(
                "import-schema",
                "the card's front matter is not a mapping of keys to values",
                Span(name, first, 1),
                "write the metadata as `key: value` lines",
                **source_window(text, first, 1),
            )
        )
    body = "\n".join(text.split("\n")[body_line - 1 :])
    return Document(name, text, value, positions, body=body, body_line=body_line)


def collect(sink: DiagnosticSink) -> None:
    """Raise the sink's errors as one :class:`ImportInputError`."""
    sink.raise_if_any(ImportInputError)
