"""Name patterns of the policy language: ``matches "glob"`` and ``matches regex "…"``, one
meaning for the evaluator, the checker and the linter.

A regular expression in a policy is run against values from manifests, so it must not be able
to take time exponential in their length: Python's backtracking ``re`` runs ``^(a+)+$``
against 26 ``a``\\ s and a ``b`` in seconds, doubling with every character, and holds the GIL
all the while. Regular expressions therefore run on RE2 (``google-re2``), whose matching time
is linear in the text; RE2 refuses what needs backtracking (backreferences, lookaround), and
the checker reports such a pattern where it is written. ``re2`` is imported on the first
regular expression compiled, so a check that meets none does not pay its import.

Globs follow :mod:`fnmatch` (``*``, ``?``, ``[seq]``, ``[!seq]``), case-sensitive, matched
against the whole value, with the regular expressions :func:`fnmatch.translate` writes, which
CPython makes linear (no nested quantifiers: runs of ``*`` use atomic groups).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from functools import lru_cache

from ..engine import budget as budgets

__all__ = ["PatternError", "matcher", "check_pattern"]

#: Results remembered per compiled pattern: a manifest repeats the same model names over
#: thousands of sources, and a dictionary look-up is cheaper than any regex engine.
_MEMO_SIZE = 4096
#: The longest regular expression accepted, and the memory RE2 may use to compile one and run
#: it: a pattern such as `\pL{1000}` took RE2 90 ms to compile with its default 8 MiB, and a
#: policy could hold hundreds (the shipped library's longest is 41 characters).
MAX_PATTERN = 1000
_RE2_MEMORY = 1 << 20  # ten milliseconds at most to compile (measured), refused past it
_FAILED: dict[str, str] = {}  # pattern -> why it does not compile (lru_cache keeps no errors)


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message says why, in RE2's words."""


def check_pattern(pattern: str, regex: bool) -> str:
    """Why ``pattern`` cannot be used, or ``""`` when it can."""
    budgets.checkpoint()
    try:
        _compiled(pattern, regex)
    except PatternError as error:
        return str(error)
    return ""


def matcher(pattern: str, regex: bool) -> Callable[[str], bool]:
    """A function telling whether a string matches ``pattern``: anywhere in it for a regular
    expression (``re.search`` semantics), the whole of it for a glob. Raises
    :class:`PatternError` for a pattern that does not compile."""
    test = _compiled(pattern, regex)
    memo: dict[str, bool] = {}

    def matches(value: str) -> bool:
        found = memo.get(value)
        if found is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            found = memo[value] = test(value) is not None
        return found

    return matches


@lru_cache(maxsize=1024)
def _compiled(pattern: str, regex: bool) -> Callable[[str], object]:
    if not regex:
        return re.compile(fnmatch.translate(pattern)).match
    if pattern in _FAILED:
        raise PatternError(_FAILED[pattern])
    reason = _refusal(pattern)
    if not reason:
        re2 = _re2()
        options = re2.Options()
        options.log_errors = False  # RE2 would print its own complaint to stderr
        options.max_mem = _RE2_MEMORY
        try:
            return re2.compile(pattern, options).search
        except re2.error as error:
            reason = error.args[0] if error.args else str(error)
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
    if len(_FAILED) < 1024:
        _FAILED[pattern] = str(reason)
    raise PatternError(str(reason))


def _refusal(pattern: str) -> str:
    """Why a pattern is refused before RE2 sees it, or ``""``."""
    if len(pattern) > MAX_PATTERN:
        return f"the pattern is {len(pattern):,} characters long, more than {MAX_PATTERN:,}"
    try:
        pattern.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"the pattern holds the lone surrogate U+{ord(pattern[error.start]):04X}"
    return ""


def _re2():
    import re2

    return re2
