"""Remedy templates: a clause's ``remedy`` may name manifest values in braces, which the report
fills in for each finding — ``"Rename the model so that its name begins with “Llama” (for
example `Llama-{model.name}`)"``.

A placeholder is a manifest path as conditions write it (``model.name``, ``organization.name``,
``source.id``, ``source.provider``, ``facts.team``); ``source.`` paths only in clauses whose
scope is ``source``. ``{{`` and ``}}`` are literal braces. A value the manifest does not declare
is written as the path in angle brackets (``<model.name>``), a list as its items joined by
commas. The policy checker (:mod:`tosguard.language.validate`) refuses unknown paths and
stray braces at load and lint time, so a remedy never fails when a report is written.

>>> parse_template("use `Llama-{model.name}` ({{sic}})")
('use `Llama-', Placeholder(path='model.name'), '` ({sic})')
>>> parse_template("a { b")
Traceback (most recent call last):
...
tosguard.language.template.TemplateError: a `{` that opens no placeholder
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_PATH = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_-]*)+")


class Placeholder(NamedTuple):
    path: str


class TemplateError(ValueError):
    """A malformed template; the message says what is wrong."""


Part = str | Placeholder


def parse_template(text: str) -> tuple[Part, ...]:
    """The parts of ``text``: literal text and placeholders, in order."""
    if "{" not in text and "}" not in text:
        return (text,)
    parts: list[Part] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif token == "{":
            raise TemplateError("a `{` that opens no placeholder")
        elif token == "}":
            raise TemplateError("a `}` that closes no placeholder")
        else:
            path = match.group(1).strip()
            if not _PATH.fullmatch(path):
                raise TemplateError(f"`{{{match.group(1)}}}` is not a manifest path")
            if "".join(literal):
                parts.append("".join(literal))
            literal = []
            parts.append(Placeholder(path))
    literal.append(text[position:])
    if "".join(literal):
        parts.append("".join(literal))
    return tuple(parts)


def placeholders(text: str) -> list[str]:
    """The paths ``text`` names (raises :class:`TemplateError` when it is malformed)."""
    return [part.path for part in parse_template(text) if isinstance(part, Placeholder)]
