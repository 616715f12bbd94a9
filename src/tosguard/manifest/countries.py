"""ISO 3166-1 alpha-2 country codes, read from the data that ships with ``pycountry``.

The ``pycountry`` package itself is never imported: its import pulls in ``importlib.metadata``
and costs about 40 ms of CLI start-up. We only locate its directory and read
``databases/iso3166-1.json`` with :mod:`json`, once, on first use.

>>> is_country("NO"), is_country("no"), is_country("UK")
(True, False, False)
>>> country_name("NO")
'Norway'
>>> suggest_country("UK")
'did you mean `GB` (United Kingdom)?'
>>> suggest_country("Norway")
'did you mean `NO`?'
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from typing import NamedTuple

# Codes people write that ISO 3166-1 does not have, and what they mean.
_ALIASES = {
    "UK": "GB",  # the United Kingdom is `GB` in ISO 3166-1
    "EL": "GR",  # the EU writes Greece as `EL`
    "EN": "GB",
}
# Everyday names that are not among the ISO names.
_NAMES = {
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "britain": "GB",
    "great britain": "GB",
    "usa": "US",
    "america": "US",
    "united states": "US",
    "uae": "AE",
    "emirates": "AE",
    "russia": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "china": "CN",
    "iran": "IR",
    "syria": "SY",
    "vietnam": "VN",
    "taiwan": "TW",
    "czech republic": "CZ",
    "holland": "NL",
    "turkey": "TR",
}
_DEFAULT_HELP = "use an ISO 3166-1 alpha-2 code such as `US` or `DE`"


class _Table(NamedTuple):
    names: dict[str, str]  # alpha-2 -> short name
    alpha3: dict[str, str]  # alpha-3 -> alpha-2
    by_name: dict[str, str]  # casefolded name (short, common, official) -> alpha-2


def _database_path() -> str:
    spec = importlib.util.find_spec("pycountry")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `pycountry` package is not installed; reinstall tosguard")
    package_dir = next(iter(spec.submodule_search_locations))
    return os.path.join(package_dir, "databases", "iso3166-1.json")


@functools.cache
def _table() -> _Table:
    with open(_database_path(), encoding="utf-8") as f:
        entries = json.load(f)["3166-1"]
    names: dict[str, str] = {}
    alpha3: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for entry in entries:
        code = entry["alpha_2"]
        names[code] = entry.get("common_name") or entry["name"]
        alpha3[entry["alpha_3"]] = code
        for key in ("name", "common_name", "official_name"):
            if entry.get(key):
                by_name[entry[key].casefold()] = code
    for name, code in _NAMES.items():
        by_name.setdefault(name, code)
    return _Table(names, alpha3, by_name)


@functools.cache
def all_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code."""
    return frozenset(_table().names)


def is_country(code: object) -> bool:
    """True when ``code`` is exactly an uppercase ISO 3166-1 alpha-2 code."""
    return isinstance(code, str) and code in _table().names


def country_name(code: str) -> str | None:
    """The short English name of ``code`` (``NO`` → ``Norway``), or None when unknown."""
    return _table().names.get(code)


def _guess(text: str) -> tuple[str, bool] | None:
    """The code ``text`` most likely means, and whether to show the country's name."""
    table = _table()
    stripped = text.strip()
    upper = stripped.upper()
    if upper in _ALIASES:
        return _ALIASES[upper], True
    if upper in table.alpha3:
        return table.alpha3[upper], True
    folded = stripped.casefold()
    if folded in table.by_name:
        return table.by_name[folded], False
    if len(folded) > 3:
        import difflib  # only on the error path: it is slow to import

        close = difflib.get_close_matches(folded, list(table.by_name), n=1, cutoff=0.8)
        if close:
            return table.by_name[close[0]], True
    return None


def suggest_country(text: str) -> str:
    """A ``help:`` text for a string that is not a valid country code."""
    stripped = text.strip()
    if stripped != text and is_country(stripped):
        return f"remove the spaces around `{stripped}`"
    if stripped.upper() != stripped and is_country(stripped.upper()):
        return f"country codes are uppercase: `{stripped.upper()}`"
    guess = _guess(text)
    if guess is None:
        return _DEFAULT_HELP
    code, show_name = guess
    if show_name:
        return f"did you mean `{code}` ({country_name(code)})?"
    return f"did you mean `{code}`?"
