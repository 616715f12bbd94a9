"""Configuration files: ``.tosguard.toml``, ``tosguard.toml`` or ``pyproject.toml``
(``[tool.tosguard]``), found by walking up from the working directory, as ruff finds its own.

In each directory from the working directory up to the filesystem root, the first of
:data:`CONFIG_NAMES` that exists is the configuration (a ``pyproject.toml`` only when it has
a ``[tool.tosguard]`` table), and the search stops there: files are not merged. In
``tosguard.toml`` the keys are at the top level; in ``pyproject.toml`` under
``[tool.tosguard]``. Paths in it are relative to the directory of the file that holds them.
Command-line options override its values; ``--config PATH`` names the file, ``--isolated``
reads none.

>>> text = 'title = "x"\\n[tool.tosguard]\\nfail-on = "warning"\\n'
>>> key_positions(text)[("tool", "tosguard", "fail-on")]
(3, 1, 11)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Diagnostic, Span, TosguardError, did_you_mean
from .language.vocab import FAIL_ON

#: Names looked for in each directory, first found first (as ruff: `.ruff.toml`, `ruff.toml`,
#: `pyproject.toml`).
CONFIG_NAMES = (".tosguard.toml", "tosguard.toml", "pyproject.toml")
FORMATS = ("text", "json", "markdown", "sarif", "junit", "github")
#: key → (what it holds, allowed words or None); paths are resolved against the file's directory
KEYS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "policies": ("paths", None),
    "extra-policies": ("paths", None),
    "fail-on": ("word", FAIL_ON),
    "format": ("word", FORMATS),
    "output": ("path", None),
    "baseline": ("path", None),
}


class ConfigError(TosguardError):
    """A configuration file that cannot be read or holds what tosguard does not take."""

    code_prefix = "config"


@dataclass(frozen=True)
class Config:
    """The settings of one configuration file (``path`` None: no file, every default)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def find_config(start: Path | None = None) -> Path | None:
    """The configuration file that applies in ``start`` (default: the working directory)."""
    try:
        directory = (start or Path.cwd()).resolve()
    except OSError:  # the working directory is gone: there is nothing to walk up from
        return None
    for folder in (directory, *directory.parents):
        for name in CONFIG_NAMES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            if name != "pyproject.toml" or _has_tool_table(candidate):
                return candidate
    return None


def load_config(path: str | os.PathLike[str] | None = None, *, isolated: bool = False) -> Config:
    """The configuration: of ``path`` when given, else of the file :func:`find_config`
    finds, else none (also with ``isolated``)."""
    if isolated:
        return Config()
    found = Path(path) if path is not None else find_config()
    if found is None:
        return Config()
    return read_config(found)


def read_config(path: Path) -> Config:
    """Read and check one configuration file; raise :class:`ConfigError` with every problem."""
    import tomllib  # here, not at the top: a run without a configuration never needs it

    name = os.fspath(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            Diagnostic(
                "config-io",
                f"cannot read the configuration `{name}`: {reason}",
                Span(name),
                "check the path given to `--config`, or use `--isolated` to read no configuration",
            )
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column, message = _decode_error(exc, text)
        raise ConfigError(
            Diagnostic(
                "config-syntax",
                f"the configuration is not valid TOML: {message}",
                Span(name, line, column),
                "see https://toml.io for the syntax",
                source_line=_line(text, line),
            )
        ) from None
    prefix: tuple[str, ...] = ()
    table: Any = document
    if path.name == "pyproject.toml":
        prefix = ("tool", "tosguard")
        table = document.get("tool", {}).get("tosguard", {})
    positions = key_positions(text)
    where = _Locator(name, text, positions, prefix)
    if not isinstance(table, dict):
        raise ConfigError(
            where.diagnostic(
                (),
                "`[tool.tosguard]` must be a table",
                'write the settings under a `[tool.tosguard]` header, e.g. `fail-on = "warning"`',
            )
        )
    problems, values = [], {}
    base = path.resolve().parent
    for key, value in table.items():
        if key not in KEYS:
            problems.append(
                where.diagnostic(
                    (key,),
                    f"unknown configuration key `{key}`",
                    did_you_mean(key, KEYS) or f"the keys are {', '.join(f'`{k}`' for k in KEYS)}",
                    code="config-unknown-key",
                )
            )
            continue
        checked = _check_value(key, value, base)
        if isinstance(checked, str):
            problems.append(where.diagnostic((key,), checked, _help(key), value=True))
        else:
            values[key] = checked[0]
    if problems:
        raise ConfigError(problems)
    return Config(path, values)


def _check_value(key: str, value: Any, base: Path) -> tuple[Any] | str:
    """``(value,)`` as the option takes it, or the message saying what is wrong."""
    kind, words = KEYS[key]
    if kind == "paths":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            return f"`{key}` must be a path or a list of paths"
        return (tuple(os.fspath(base / i) for i in items),)
    if not isinstance(value, str) or not value:
        return f"`{key}` must be a {'path' if kind == 'path' else 'string'}"
    if kind == "path":
        return (os.fspath(base / value),)
    if words is not None and value not in words:
        return f"`{key}` cannot be `{value}`"
    return (value,)


def _help(key: str) -> str:
    kind, words = KEYS[key]
    if words:
        return "expected one of " + ", ".join(f'"{w}"' for w in words)
    if kind == "paths":
        return 'e.g. `["policies/"]`; paths are relative to the configuration file'
    return "a path relative to the configuration file"


def _has_tool_table(path: Path) -> bool:
    """Whether a ``pyproject.toml`` configures tosguard (without parsing unrelated ones: a
    project's broken ``pyproject.toml`` is not tosguard's to report unless it names it)."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return False
    if "tosguard" not in text:
        return False
    import tomllib

    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError:
        return True  # it mentions tosguard: read it, and report the error
    return isinstance(tool, dict) and "tosguard" in tool


_AT = re.compile(r"\(at line (\d+), column (\d+)\)$")


def _decode_error(exc: Exception, text: str) -> tuple[int, int, str]:
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    message = getattr(exc, "msg", None) or str(exc)
    found = _AT.search(message)
    if found:
        message = message[: found.start()].rstrip()
        line, column = line or int(found[1]), column or int(found[2])
    elif message.endswith("(at end of document)"):
        message = message.removesuffix("(at end of document)").rstrip() + " at the end of the file"
        lines = text.splitlines() or [""]
        line, column = line or len(lines), column or len(lines[-1]) + 1
    return line or 1, column or 1, message[:1].lower() + message[1:]


def _line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


class _Locator:
    """Diagnostics at a key of the configuration (at its value with ``value``)."""

    def __init__(
        self,
        name: str,
        text: str,
        positions: dict[tuple[str, ...], tuple[int, int, int]],
        prefix: tuple[str, ...],
    ):
        self.name, self.text, self.positions, self.prefix = name, text, positions, prefix

    def diagnostic(
        self,
        key: tuple[str, ...],
        message: str,
        help: str,
        *,
        value: bool = False,
        code: str = "config-bad-value",
    ) -> Diagnostic:
        found = self.positions.get(self.prefix + key)
        if found is None:  # e.g. an inline table: point at the innermost table named
            path = self.prefix + key
            while path and path not in self.positions:
                path = path[:-1]
            found = self.positions.get(path, (1, 1, 1))
        line, key_column, value_column = found
        return Diagnostic(
            code,
            message,
            Span(self.name, line, value_column if value else key_column),
            help,
            source_line=_line(self.text, line),
        )


# ---- where each key is: tomllib keeps no positions ------------------------------------------
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\n]*'")
_SPACE = re.compile(r"[ \t]*")


def key_positions(text: str) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """Full key path → ``(line, key column, value column)`` of every key and table header of
    a TOML document that :mod:`tomllib` accepts; 1-based. Values are skipped whole (strings
    of every kind, multi-line arrays and inline tables), so text inside them is never read as
    a key."""
    positions: dict[tuple[str, ...], tuple[int, int, int]] = {}
    table: tuple[str, ...] = ()
    index, line, line_start = 0, 1, 0
    length = len(text)
    while index < length:
        index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        char = text[index] if index < length else "\n"
        if char == "#":
            index = _end_of_line(text, index)
        elif char in "\r\n":
            index += 2 if text.startswith("\r\n", index) else 1
            line, line_start = line + 1, index
        elif char == "[":
            array = text.startswith("[[", index)
            column = index - line_start + 1
            keys, index = _read_key(text, index + (2 if array else 1))
            table = tuple(keys)
            positions.setdefault(table, (line, column, column))
            index = text.index("]", index) + (2 if array else 1)
        else:
            column = index - line_start + 1
            keys, index = _read_key(text, index)
            index = _SPACE.match(text, index + 1).end()  # type: ignore[union-attr]  # past `=`
            positions.setdefault(table + tuple(keys), (line, column, index - line_start + 1))
            index, lines, line_start = _skip_value(text, index, line_start)
            line += lines
    return positions


def _read_key(text: str, index: int) -> tuple[list[str], int]:
    """A dotted key at ``index``: its parts (unquoted) and the index after it."""
    parts = []
    while True:
        index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        for pattern in (_BASIC, _LITERAL, _BARE):
            found = pattern.match(text, index)
            if found:
                token = found.group()
                if pattern is _BASIC:
                    token = _basic_string(token)
                elif pattern is _LITERAL:
                    token = token[1:-1]
                parts.append(token)
                index = found.end()
                break
        else:
            return parts, index
        index = _SPACE.match(text, index).end()  # type: ignore[union-attr]
        if not text.startswith(".", index):
            return parts, index
        index += 1


def _basic_string(token: str) -> str:
    """The value of a TOML basic string: JSON's escapes, and TOML's own (``\\UXXXXXXXX``)."""
    try:
        return json.loads(token)
    except ValueError:
        import tomllib

        return tomllib.loads(f"k = {token}")["k"]


def _end_of_line(text: str, index: int) -> int:
    found = re.compile(r"[\r\n]").search(text, index)
    return found.start() if found else len(text)


def _skip_value(text: str, index: int, line_start: int) -> tuple[int, int, int]:
    """Past the value at ``index`` (to the end of its last line): the index, the number of
    line breaks crossed inside it, and the start of the line it ends on."""
    depth, lines = 0, 0
    length = len(text)
    while index < length:
        char = text[index]
        if text.startswith(('"""', "'''"), index):
            end = text.index(text[index : index + 3], index + 3)
            while text.startswith(text[index], end + 3):  # up to two quotes may close it
                end += 1
            crossed = text[index : end + 3]
            breaks = crossed.count("\n")
            if breaks:
                lines += breaks
                line_start = index + crossed.rfind("\n") + 1
            index = end + 3
        elif char == '"':
            index = _BASIC.match(text, index).end()  # type: ignore[union-attr]
        elif char == "'":
            index = _LITERAL.match(text, index).end()  # type: ignore[union-attr]
        elif char in "[{":
            depth += 1
            index += 1
        elif char in "]}":
            depth -= 1
            index += 1
        elif char == "#":
            index = _end_of_line(text, index)
        elif char in "\r\n":
            if depth == 0:
                return index, lines, line_start
            index += 2 if text.startswith("\r\n", index) else 1
            lines, line_start = lines + 1, index
        else:
            index += 1
    return index, lines, line_start
