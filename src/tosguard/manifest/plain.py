"""What a plain (unquoted) YAML scalar means: the one resolution both YAML readers use.

Only what YAML 1.2 (core schema) and YAML 1.1 agree on is resolved (see
:mod:`tosguard.manifest.yamlload`): ``true``/``false`` (also ``True``, ``TRUE`` …) are booleans;
``null``/``~``/empty are None; ``[-+]?(0|[1-9][0-9]*)`` is an int; ``1.5``, ``2.``, ``.5``,
``1.5e+3``, ``.inf`` and ``.nan`` are floats; everything else is a string.

>>> [resolve_plain(text) for text in ("NO", "true", "~", "-12", "1.5e+3", "010", "1e5")]
['NO', True, None, -12, 1500.0, '010', '1e5']
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["resolve_plain", "resolve_plain_json"]

_PLAIN_CONSTANTS: dict[str, Any] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    ".inf": float("inf"),
    ".Inf": float("inf"),
    ".INF": float("inf"),
    "+.inf": float("inf"),
    "+.Inf": float("inf"),
    "+.INF": float("inf"),
    "-.inf": float("-inf"),
    "-.Inf": float("-inf"),
    "-.INF": float("-inf"),
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
}
_NUMBER_START = frozenset("-+.0123456789")
# Plain scalars that YAML 1.1 (as PyYAML reads it) and YAML 1.2 core both read as numbers.
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9]+(?:[eE][-+][0-9]+)?")
# JSON's numbers, used when the YAML reader is run over a JSON text for its positions.
_JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_JSON_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_MISSING = object()


def _resolver(int_match: Any, float_match: Any) -> Any:
    constants, number_start, missing = _PLAIN_CONSTANTS, _NUMBER_START, _MISSING

    def resolve(text: str) -> Any:
        resolved = constants.get(text, missing)
        if resolved is not missing:
            return resolved
        if text[0] in number_start:
            if int_match(text):
                return int(text)  # ValueError past Python's limit on digits
            if float_match(text):
                return float(text)
        return text

    return resolve


#: The value of a plain scalar's text; raises ValueError for an int with too many digits.
resolve_plain = _resolver(_INT.fullmatch, _FLOAT.fullmatch)
#: The same with JSON's numbers, for the YAML reader run over a JSON text.
resolve_plain_json = _resolver(_JSON_INT.fullmatch, _JSON_FLOAT.fullmatch)
