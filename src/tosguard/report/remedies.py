"""Remedies filled in with the manifest's own values (:mod:`tosguard.language.template`):
``Llama-{model.name}`` becomes ``Llama-acme-chat-7b`` for the manifest that names its model so.

>>> from tosguard.manifest.model import parse_manifest
>>> loaded = parse_manifest(
...     "tosguard: 1\\nmodel: {name: tiny}\\nsources: [{id: a, use: [rlhf, evaluation]}]\\n", "m"
... )
>>> fill("name it `Llama-{model.name}`", loaded.manifest, "/model")
'name it `Llama-tiny`'
>>> fill("{source.id} is used for {source.use}; {organization.name}", loaded.manifest, "/sources/0")
'a is used for rlhf, evaluation; <organization.name>'
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ..language.template import Placeholder, parse_template

_parts = lru_cache(maxsize=1024)(parse_template)


def fill(remedy: str, manifest: Any, subject: str) -> str:
    """``remedy`` with its placeholders replaced by the values of ``manifest`` for
    ``subject`` (``source.`` paths read the source the finding is about)."""
    if "{" not in remedy and "}" not in remedy:
        return remedy
    out = []
    for part in _parts(remedy):
        if isinstance(part, Placeholder):
            value = _value(manifest, part.path, subject)
            out.append(f"<{part.path}>" if value is None else _inert(_shown(value)))
        else:
            out.append(part)
    return "".join(out)


def _value(manifest: Any, path: str, subject: str) -> Any:
    root, *names = path.split(".")
    if root == "source":
        index = subject.removeprefix("/sources/")
        if not index.isdigit() or int(index) >= len(manifest.sources):
            return None
        node: Any = manifest.sources[int(index)]
    elif root == "facts":
        node = manifest.facts
    else:
        node = getattr(manifest, root, None)
    for name in names:
        if node is None:
            return None
        if isinstance(node, BaseModel):
            node = getattr(node, _attribute(type(node), name), None)
        elif isinstance(node, dict):
            node = node.get(name)
        else:
            return None
    return node


@lru_cache(maxsize=256)
def _attribute(model: type[BaseModel], name: str) -> str:
    """The attribute of the field written ``name`` in manifests (``from`` is ``from_``)."""
    for attribute, info in model.model_fields.items():
        if (info.alias or attribute) == name:
            return attribute
    return name


def _inert(text: str) -> str:
    """A manifest value as it may stand inside a policy's words: on one line, with no
    backtick (a remedy often puts the value in a code span, which a backtick would close, and
    what follows would be read as Markdown or HTML in a pull-request comment).

    >>> _inert("evil`</details>\\nmore")
    "evil'</details> more"
    """
    return " ".join(text.replace("`", "'").split())


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(item) for item in value)
    return str(value)
