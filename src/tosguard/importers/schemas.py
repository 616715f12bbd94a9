"""Validation of inputs against the schemas their formats publish, vendored in the package.

CycloneDX 1.6 and 1.7 are checked against their published JSON schemas (``schemas/cyclonedx/``,
Apache-2.0, see the README there) with ``jsonschema``; the schemas are read from the package,
never fetched. Each error becomes an ``import-schema`` diagnostic at the line and column of the
value at fault. ``jsonschema`` is imported here only, when a BOM is read.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from ..errors import Diagnostic, shorten
from .document import Document, ImportInputError

#: The most schema errors reported for one input (the rest are usually the same mistake).
MAX_SCHEMA_ERRORS = 20


#: The CycloneDX versions read, each with its schema file.
CYCLONEDX_SCHEMAS = {"1.6": "bom-1.6.schema.json", "1.7": "bom-1.7.schema.json"}
_REFERENCED = ("spdx.schema.json", "jsf-0.82.schema.json", "cryptography-defs.schema.json")


@functools.cache
def _cyclonedx_validator(version: str) -> Any:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource

    folder = resources.files("tosguard.importers").joinpath("schemas", "cyclonedx")
    main = CYCLONEDX_SCHEMAS[version]
    schemas = {
        name: json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
        for name in (main, *_REFERENCED)
    }
    registry: Registry = Registry()
    for name, schema in schemas.items():
        resource = Resource.from_contents(schema)
        registry = registry.with_resources([(name, resource), (schema["$id"], resource)])
    return Draft7Validator(schemas[main], registry=registry)


def check_cyclonedx(doc: Document, version: str) -> None:
    """Raise ``import-schema`` errors where the BOM does not follow CycloneDX ``version``."""
    from jsonschema.exceptions import best_match, relevance

    validator = _cyclonedx_validator(version)
    errors = sorted(validator.iter_errors(doc.value), key=relevance)
    if not errors:
        return
    diagnostics: list[Diagnostic] = []
    for error in errors[:MAX_SCHEMA_ERRORS]:
        if error.context:
            error = best_match(error.context) or error
        pointer = "".join(f"/{part}" for part in error.absolute_path)
        diagnostics.append(
            doc.error(
                "import-schema",
                f"not a valid CycloneDX {version} BOM at `{pointer or '/'}`: "
                f"{shorten(error.message, 200)}",
                pointer,
                f"see the CycloneDX {version} JSON schema (https://cyclonedx.org/docs/{version}/json/)",
            )
        )
    raise ImportInputError(diagnostics)
