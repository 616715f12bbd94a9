"""``tosguard import``: read each input, detect its format, build one draft, write it.

Inputs are read in the order given. Model cards are sorted out first: a card whose model
another card names as its ``base_model`` gives that base's licence; the first other one is the
trained model's. Dataset cards, Croissant descriptions and Data Provenance summaries fill the
dataset sources of the same name (``org/name`` or ``name``) or add their own. The text written
is checked to be a valid manifest before it is returned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import Diagnostic, Span, UsageError, source_window
from . import croissant, cyclonedx, dpi, hfcard, spdx3
from .document import FORMATS, Document, ImportInputError, load, read_bytes, read_card
from .draft import Draft, same_ref
from .writer import render

Canonical = Callable[[str], str | None]
HUB = "hf://"


@dataclass
class ImportResult:
    text: str
    draft: Draft
    files: list[str]  # the local files read (an output must not be one of them)


def import_sources(
    sources: Sequence[str], canonical: Canonical, fmt: str | None = None
) -> ImportResult:
    """Read ``sources`` (paths, or ``hf://org/name`` with the ``hub`` extra) into a manifest."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(
            Diagnostic(
                "usage-bad-option",
                f"unknown input format `{fmt}`",
                Span("<arguments>"),
                "use one of " + ", ".join(f"`{f}`" for f in FORMATS),
            )
        )
    documents: list[tuple[Document, str]] = []
    files: list[str] = []
    for given in sources:
        document, kind = _read(given, fmt)
        documents.append((document, kind))
        if not given.startswith(HUB):
            files.append(given)
    draft = Draft(inputs=list(sources))
    cards = [d for d, k in documents if k == "hf-model-card"]
    bases = {b for d in cards for b, _ in hfcard._strings(d, "base_model")}
    trained = next(
        (d for d in cards if not (d.ref and any(same_ref(d.ref, b) for b in bases))), None
    )
    if trained is not None:
        hfcard.read_trained_model(trained, draft, canonical)
    for document, kind in documents:
        if kind == "hf-model-card" and document is not trained:
            source = draft.find(document.ref) if document.ref else None
            if source is None:
                raise ImportInputError(
                    Diagnostic(
                        "import-ambiguous",
                        f"`{document.name}` is a second model card, of no base model named "
                        "by the first",
                        Span(document.name),
                        "import one trained model at a time; a base model's card is read when "
                        "the trained model's `base_model` names it (its folder `org/name/`)",
                    )
                )
            hfcard.read_base_card(document, source, canonical)
        elif kind == "hf-dataset-card":
            hfcard.read_dataset(document, draft, canonical)
        elif kind == "cyclonedx":
            cyclonedx.read(document, draft, canonical)
        elif kind == "spdx3":
            spdx3.read(document, draft, canonical)
        elif kind == "croissant":
            croissant.read(document, draft, canonical)
        elif kind == "dpi":
            dpi.read(document, draft, canonical)
    text = render(draft)
    _self_check(text)
    return ImportResult(text, draft, files)


def _self_check(text: str) -> None:
    from ..manifest.model import parse_manifest

    parse_manifest(text, "<import>", "yaml")  # a bug if it fails: the CLI reports it


def _card_ref(path: str) -> str | None:
    """The Hub id a card read from disk stands for: its folder, `org/name/README.md`."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    if len(parts) >= 3 and parts[-1].lower() == "readme.md":
        return f"{parts[-3]}/{parts[-2]}"
    return None


def _read(given: str, fmt: str | None) -> tuple[Document, str]:
    if given.startswith(HUB):
        from .hub import download_card

        path, ref = download_card(given)
        document, kind = _read_path(path, fmt, name=given)
        document.ref, document.ref_source = ref, "hub"
        return document, kind
    return _read_path(given, fmt, name=given)


def _read_path(path: str, fmt: str | None, name: str) -> tuple[Document, str]:
    data = read_bytes(path)
    from ..manifest.yamlload import DEFAULT_MAX_BYTES

    if len(data) > DEFAULT_MAX_BYTES:
        raise ImportInputError(
            Diagnostic(
                "import-too-large",
                f"`{name}` is larger than {DEFAULT_MAX_BYTES:,} bytes",
                Span(name),
                "import a smaller file",
            )
        )
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if fmt in ("hf-model-card", "hf-dataset-card") or (fmt is None and stripped[:3] == b"---"):
        document = read_card(data, name)
        document.ref = _card_ref(path)
        document.ref_source = "folder" if document.ref else ""
        kind = fmt or hfcard.kind_of(document.value)
        if kind is None:
            raise _undetected(document, "a card whose front matter has no model or dataset keys")
        return document, kind
    if fmt is None and stripped[:1] not in (b"{", b"["):
        raise ImportInputError(
            Diagnostic(
                "import-format",
                f"cannot tell the format of `{name}`: neither a card (front matter) nor JSON",
                Span(name, 1, 1),
                "give the format with `--from " + "|".join(FORMATS) + "`",
            )
        )
    value, positions, text = load(data, name, "json")
    document = Document(name, text, value, positions)
    detected = (
        "cyclonedx"
        if cyclonedx.is_cyclonedx(value)
        else "spdx3"
        if spdx3.is_spdx3(value)
        else "croissant"
        if croissant.is_croissant(value)
        else "dpi"
        if dpi.is_dpi(value)
        else None
    )
    kind = fmt or detected
    if kind is None or kind.startswith("hf-"):
        raise _undetected(
            document,
            "JSON that is no CycloneDX BOM, SPDX 3 document, Croissant "
            "description or Data Provenance summary",
        )
    if detected != kind and not isinstance(value, dict):
        raise ImportInputError(
            document.error("import-schema", f"a `{kind}` document is a JSON object", "", "")
        )
    return document, kind


def _undetected(document: Document, what: str) -> ImportInputError:
    return ImportInputError(
        Diagnostic(
            "import-format",
            f"cannot tell the format of `{document.name}`: {what}",
            Span(document.name, 1, 1),
            "give the format with `--from " + "|".join(FORMATS) + "`",
            **source_window(document.text, 1, 1),
        )
    )
