"""The manifest text of a draft: YAML with a comment on every value saying where it came from.

A stated fact is written as a value with its origin. A hint or an open fact is written as a
``# declare:`` line: removing ``# declare: `` (and filling in or confirming the value) makes it a
line of the manifest. Such a line is a comment, so ``tosguard check`` reads the manifest without
it and reports what it would decide as undetermined: nothing suggested passes unconfirmed.

>>> from tosguard.importers.draft import Draft, Fact
>>> draft = Draft(inputs=["card.md"])
>>> draft.model["name"] = Fact.stated("demo-7b", "card.md:3 model_name")
>>> print(render(draft).split("model:")[1].splitlines()[1])
  name: demo-7b                         # from card.md:3 model_name
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..safetext import printable
from .draft import HINT, MODEL_KEYS, OPEN, ORGANIZATION_KEYS, SOURCE_KEYS, STATED, Draft, Fact

COMMENT_COLUMN = 40
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._/+()-]*[A-Za-z0-9._)+]|[A-Za-z]")
_RESERVED = re.compile(r"(?i)(true|false|null|yes|no|on|off|y|n|~|nan|inf)")

#: What to declare for the facts no card carries, by key.
ORGANIZATION_NOTES = {
    "name": "your organization's name",
    "country": "ISO 3166-1 alpha-2 code of the country where it is established (e.g. US)",
    "owned_from": "country of majority ownership, when not the same",
    "verified_with": "providers whose identity verification you completed, e.g. [openai]",
    "agreements": "ids of signed agreements or written permissions (`tosguard policies --ids`)",
}
MODEL_NOTES = {
    "name": "the name of the model this pipeline trains",
    "purpose": "general-assistant, chat, reasoning, code, classification, embedding, …",
    "distribution": "internal, api, product or open-weights",
    "commercial": "true or false",
    "attributions": 'notices the release displays, e.g. ["Built with Llama"]',
    "downstream_licenses": "licences the release ships with",
}
SOURCE_NOTES = {
    "kind": "model-output, model-weights, dataset, web-crawl or human",
    "provider": "the provider id (`tosguard policies --ids`)",
    "model": "the model's name",
    "service": "api, consumer-app, enterprise, fine-tuning, open-weights or third-party",
    "access": "how it was obtained: route direct, proxy, reseller, …; from_country: ISO code",
    "collected": "when it was collected (YYYY-MM-DD)",
    "records": "how many records",
    "reasoning_traces": "none, summarized or raw",
    "use": "pretraining, fine-tuning, distillation, rlhf, evaluation, filtering, rewriting",
    "license": "the licence id (`tosguard policies --ids`)",
    "derived_from": "ids of the sources this one was produced from",
}
# The shape written for an open nested value, so that removing `# declare: ` gives YAML.
_OPEN_SHAPES: dict[str, Any] = {
    "access": "{route: , from_country: }",
    "collected": "{from: , to: }",
}


# Keys no declaration is asked for on a source of a stated kind (written when an input has them).
_NOT_FOR = {
    "dataset": ("model", "access", "reasoning_traces"),
    "model-weights": ("access", "collected", "reasoning_traces", "records", "derived_from"),
}


def render(draft: Draft) -> str:
    """The manifest text of ``draft``."""
    lines = [
        "# Written by `tosguard import` from: " + ", ".join(_comment(i) for i in draft.inputs),
        "# A value's comment says where it was read. A `# declare:` line is a fact no input",
        "# states (or only suggests): delete `# declare: `, then write or confirm the value.",
        "# Until then `tosguard check` reads the fact as unknown (undetermined), never as a pass.",
    ]
    lines += [f"# note: {_comment(note)}" for note in draft.notes]
    lines.append("tosguard: 1")
    lines += _section("organization", {}, ORGANIZATION_KEYS, ORGANIZATION_NOTES, "  ")
    lines += _section("model", draft.model, MODEL_KEYS, MODEL_NOTES, "  ", draft.model_origin)
    if not draft.sources:
        lines.append(_with_comment("sources: []", "declare the data this pipeline trains on"))
    else:
        lines.append("sources:")
        for source in draft.sources:
            lines.append(_with_comment(f"  - id: {_scalar(source.id)}", _from(source.origin)))
            kind = source.facts.get("kind")
            skipped = _NOT_FOR.get(kind.value, ()) if kind and kind.status == STATED else ()
            for key in SOURCE_KEYS:
                if key in skipped and key not in source.facts:
                    continue
                fact = source.facts.get(key) or Fact.open(SOURCE_NOTES[key])
                lines.append(_line(key, fact, "    ", SOURCE_NOTES[key]))
    return "\n".join(lines) + "\n"


def _section(
    name: str,
    facts: dict[str, Fact],
    keys: tuple[str, ...],
    notes: dict[str, str],
    indent: str,
    origin: str = "",
) -> list[str]:
    lines = [_with_comment(f"{name}:", _from(origin) if origin else "")]
    for key in keys:
        fact = facts.get(key) or Fact.open(notes[key])
        lines.append(_line(key, fact, indent, notes[key]))
    return lines


def _line(key: str, fact: Fact, indent: str, default_note: str) -> str:
    if fact.status == STATED:
        comment = "; ".join(p for p in (_from(fact.origin), fact.note) if p)
        return _with_comment(f"{indent}{key}: {_value(fact.value)}", comment)
    if fact.status == HINT:
        shown = _value(fact.value)
        why = f"hint from {fact.origin}" if fact.origin else "hint"
        comment = f"{why}{f': {fact.note}' if fact.note else ''}; confirm"
        return _with_comment(f"{indent}# declare: {key}: {shown}", comment)
    assert fact.status == OPEN
    shown = _value(fact.value) if fact.value is not None else _OPEN_SHAPES.get(key, "")
    text = f"{indent}# declare: {key}: {shown}".rstrip()
    if not shown:
        text += " "
    return _with_comment(text, fact.note or default_note)


def _from(origin: str) -> str:
    return f"from {origin}" if origin else ""


def _with_comment(text: str, comment: str) -> str:
    if not comment:
        return text
    pad = max(COMMENT_COLUMN - len(text), 1) if len(text) < COMMENT_COLUMN else 2
    return f"{text}{' ' * pad}# {_comment(comment)}"


def _comment(text: str) -> str:
    """Input text made fit for a one-line YAML comment."""
    text = " ".join(str(text).split())
    if len(text) > 240:
        text = text[:239] + "…"
    return printable(text)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    return _scalar(value)


def _scalar(value: Any) -> str:
    """A YAML scalar that every YAML reader reads back as ``value``.

    >>> _scalar("Apache-2.0"), _scalar("NO"), _scalar("2025-01-02"), _scalar(True), _scalar(3)
    ('Apache-2.0', '"NO"', '"2025-01-02"', 'true', '3')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and not _RESERVED.fullmatch(text) and ": " not in text:
        return text
    return json.dumps(text, ensure_ascii=True)
