"""The formatter: policy files printed in one canonical layout, comments kept.

The layout depends on the AST alone, except for comments and for single blank lines between
definitions, which are kept where the author put them. The canonical style (documented in
``docs/authoring.md``):

* two spaces of indentation per block; lines of at most 100 characters where possible;
* a policy's header fields first, in the order ``provider document service version effective
  ends url license applies from governs``, values aligned in one column (keyword padded to 9);
  then its sets, predicates, clauses and exceptions in the order written, each clause after a
  blank line;
* a clause's fields in the order ``topic kind scope severity when require lifts waived by
  message remedy cite``, values aligned (keyword padded to 8); an exception's ``kind
  permission`` is implied and left out;
* ``cite { … }`` always as a block, its values aligned to its longest keyword;
* long text is wrapped at spaces into adjacent strings (``"part one " "part two"``, joined
  when parsed), continuation strings aligned under the first;
* a long condition is broken before its top-level ``and`` / ``or``, each operand on its own line
  aligned under the first; ``and`` inside ``or`` is parenthesised; a long set literal breaks
  between its items;
* country sets list 16 codes per line (on one line when there are 16 or fewer and it fits);
* a comment on a line of its own stays above the construct that follows it; a comment at the
  end of a line stays at the end of that construct's first line (or, for a block, after its
  closing brace); a comment at the end of a line inside a construct that is re-wrapped moves
  above that construct.

The output is checked before it is returned: it must parse to the same AST and hold the same
comments, or :class:`~tosguard.errors.PolicyError` (``fmt-internal``) is raised and nothing is
written.

>>> print(format_text('set eu=countries{DE,FR}   # EU members\\ndefine x=model.commercial'), end="")
set eu = countries { DE, FR }  # EU members
define x = model.commercial
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import Diagnostic, PolicyError, Span
from . import ast
from .conditions import (
    flat,
    flat_bare,
    literal,
    needs_parens,
    quantifier_head,
    quote,
    set_text,
)
from .parse import Comment, parse_policy_text

WIDTH = 100
INDENT = "  "
HEADER_PAD = 9  # len("effective")
CLAUSE_PAD = 8  # len("severity")
COUNTRIES_PER_LINE = 16

HEADER_FIELDS = (
    "provider",
    "document",
    "services",
    "version",
    "effective",
    "ends",
    "url",
    "licenses",
    "applies_from",
    "governs",
)
CLAUSE_FIELDS = (
    "topic",
    "kind",
    "scope",
    "severity",
    "when",
    "require",
    "lifts",
    "waivers",
    "message",
    "remedy",
    "citation",
)
CITE_FIELDS = ("document", "section", "url", "effective", "quote", "unverified")
KEYWORDS = {
    "services": "service",
    "waivers": "waived by",
    "citation": "cite",
    "licenses": "license",
    "applies_from": "applies from",
}
BLOCKS = ("file", "policy", "clause", "cite")


# ---- public API -------------------------------------------------------------------------------
def format_text(text: str, path: str = "<policy>") -> str:
    """The canonical layout of a policy file's text; raises :class:`PolicyError` when the text
    does not parse."""
    comments: list[Comment] = []
    tree = parse_policy_text(text, path, comments=comments)
    formatted = _Printer(text, comments).print_file(tree)
    _verify(tree, comments, formatted, path)
    return formatted


def format_tree(tree: ast.PolicyFile) -> str:
    """Print an AST (without comments) in the canonical layout."""
    return _Printer("", []).print_file(tree)


def _verify(tree: ast.PolicyFile, comments: list[Comment], formatted: str, path: str) -> None:
    again: list[Comment] = []
    problem = ""
    try:
        reparsed = parse_policy_text(formatted, path, comments=again)
    except PolicyError as error:
        problem = f"the output does not parse ({error.diagnostics[0].message})"
    else:
        if ast.without_spans(reparsed) != ast.without_spans(tree):
            problem = "the output parses to a different policy"
        elif Counter(c.text for c in again) != Counter(c.text for c in comments):
            problem = "the output lost or changed a comment"
    if problem:
        raise PolicyError(
            Diagnostic(
                "fmt-internal",
                f"cannot format `{path}`: {problem}",
                Span(path),
                "this is a bug in tosguard fmt; the file was left unchanged; please report it",
            )
        )


def _layout(node, column: int, context: str) -> list[str]:
    """The lines of a condition whose first line starts at ``column``: the first line without
    indentation, the others with it."""
    one_line = flat(node, context)
    if column + len(one_line) <= WIDTH:
        return [one_line]
    if needs_parens(node, context):
        lines = _layout(node, column + 1, "top")
        lines[0] = "(" + lines[0]
        lines[-1] += ")"
        return lines
    if isinstance(node, (ast.And, ast.Or)):
        word = "and" if isinstance(node, ast.And) else "or"
        lines = []
        for index, item in enumerate(node.items):
            prefix = f"{word} " if index else ""
            sub = _layout(item, column + len(prefix), word)
            lines.append((" " * column if index else "") + prefix + sub[0])
            lines += sub[1:]
        return lines
    if isinstance(node, (ast.Not, ast.Quantifier)):
        head = "not " if isinstance(node, ast.Not) else quantifier_head(node)
        body = node.item if isinstance(node, ast.Not) else node.body
        sub = _layout(body, column + len(head), "not" if isinstance(node, ast.Not) else "unary")
        return [head + sub[0], *sub[1:]]
    values = getattr(node, "values", None)
    if isinstance(node, (ast.InSet, ast.Contains)) and isinstance(values, ast.SetLiteral):
        head = flat_bare(node)[: -len(set_text(values))]
        items = [literal(item.value) for item in values.items]
        return _fill_braces(head, items, column)
    return [one_line]


def _overflow(lines: list[str]) -> int:
    return sum(max(0, len(line) - WIDTH) for line in lines)


def _cost(lines: list[str]) -> tuple[int, int, int]:
    """Of two layouts, the one with less overflow, then fewer lines, then less indentation."""
    deepest = max(len(line) - len(line.lstrip(" ")) for line in lines)
    return (_overflow(lines), len(lines), deepest)


def _indented(lines: list[str], column: int) -> list[str]:
    return [" " * column + lines[0], *lines[1:]]


def _fill_braces(head: str, items: list[str], column: int) -> list[str]:
    """``head{a, b,`` / ``c}``: items filled up to the width, aligned after the brace."""
    start = column + len(head) + 1
    lines: list[str] = []
    current = head + "{"
    position = column + len(current)
    for index, item in enumerate(items):
        piece = item + ("," if index < len(items) - 1 else "}")
        if position > start and position + 1 + len(piece) > WIDTH:
            lines.append(current.rstrip())
            current = " " * start
            position = start
        elif position > start:
            current += " "
            position += 1
        current += piece
        position += len(piece)
    if not items:
        current += "}"
    lines.append(current)
    return lines


def _text(value: str, column: int) -> list[str]:
    """A text value: one string if it fits, else adjacent strings split after spaces, each
    continuation aligned at ``column``."""
    whole = quote(value)
    if column + len(whole) <= WIDTH:
        return [whole]
    pieces: list[str] = []
    current = ""
    for token in re.findall(r"\S+\s*|\s+", value):
        if current and column + len(quote(current + token)) > WIDTH:
            pieces.append(current)
            current = token
        else:
            current += token
    pieces.append(current)
    return [quote(pieces[0])] + [" " * column + quote(p) for p in pieces[1:]]


# ---- units: what is printed, with the comments that belong to it ------------------------------
@dataclass
class _Note:
    text: str
    blank: bool = False  # a blank line before it in the source


@dataclass(eq=False)
class _Unit:
    kind: str  # file | policy | clause | cite | set | define | field
    node: Any
    span: Span
    name: str = ""  # the field's name, for fields
    children: list[_Unit] = field(default_factory=list)
    leading: list[_Note] = field(default_factory=list)
    trailing: str = ""
    closing: str = ""
    dangling: list[_Note] = field(default_factory=list)
    blank: bool = False
    pad: int = 0  # fields: the width their keyword is padded to

    @property
    def start(self) -> tuple[int, int]:
        return (self.span.line, self.span.column)

    @property
    def end(self) -> tuple[int, int]:
        return (self.span.end_line, self.span.end_column)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def _by_position(items):
    return sorted(items, key=lambda item: (item.span.line, item.span.column))


def _units(tree: ast.PolicyFile) -> _Unit:
    file = _Unit("file", tree, Span(tree.path, 1, 1, 10**9, 1))
    for item in _by_position([*tree.policies, *tree.sets, *tree.defines]):
        file.children.append(_item_unit(item))
    return file


def _item_unit(item) -> _Unit:
    if isinstance(item, ast.Policy):
        return _policy_unit(item)
    if isinstance(item, ast.SetDef):
        return _Unit("set", item, item.span)
    if isinstance(item, ast.Define):
        return _Unit("define", item, item.span)
    return _clause_unit(item)


def _policy_unit(policy: ast.Policy) -> _Unit:
    unit = _Unit("policy", policy, policy.span)
    for name in HEADER_FIELDS:
        value = getattr(policy, name)
        if value is not None and value != ():
            unit.children.append(
                _Unit("field", value, policy.fields.get(name, Span("")), name, pad=HEADER_PAD)
            )
    for item in _by_position([*policy.sets, *policy.defines, *policy.clauses]):
        unit.children.append(_item_unit(item))
    return unit


def _clause_unit(clause: ast.Clause) -> _Unit:
    unit = _Unit("clause", clause, clause.span)
    for name in CLAUSE_FIELDS:
        value = getattr(clause, name)
        if value is None or value == ():
            continue
        if clause.exception and (name == "lifts" or (name == "kind" and value == "permission")):
            continue
        span = clause.fields.get(name, Span(""))
        if name == "citation":
            cite = _Unit("cite", value, span)
            present = [n for n in CITE_FIELDS if getattr(value, n) is not None]
            pad = max((len(n) for n in present), default=0)
            for cite_name in present:
                cite.children.append(
                    _Unit(
                        "field",
                        getattr(value, cite_name),
                        value.fields.get(cite_name, Span("")),
                        cite_name,
                        pad=pad,
                    )
                )
            unit.children.append(cite)
        else:
            unit.children.append(_Unit("field", value, span, name, pad=CLAUSE_PAD))
    return unit


def _attach_comments(root: _Unit, comments: list[Comment], text: str) -> None:
    lines = text.split("\n")

    def blank_before(line: int) -> bool:
        return 2 <= line <= len(lines) + 1 and not lines[line - 2].strip()

    units = [u for u in root.walk() if u.span.line and u is not root]
    for unit in units:
        unit.blank = blank_before(unit.span.line)
    for comment in comments:
        position = (comment.line, comment.column)
        before = lines[comment.line - 1][: comment.column - 1] if comment.line <= len(lines) else ""
        if before.strip():
            closed = [
                u
                for u in units
                if u.kind in BLOCKS and u.span.end_line == comment.line and u.end <= position
            ]
            if closed:  # after a closing brace: it stays after that brace
                holder = min(closed, key=lambda u: u.start)
                holder.closing = _join(holder.closing, comment.text)
                continue
            holders = [
                u
                for u in units
                if u.span.line <= comment.line <= u.span.end_line and u.start < position
            ]
            if holders:
                holder = max(holders, key=lambda u: u.start)
                if comment.line == holder.span.line:
                    holder.trailing = _join(holder.trailing, comment.text)
                elif holder.kind in BLOCKS and comment.line == holder.span.end_line:
                    holder.closing = _join(holder.closing, comment.text)
                else:
                    holder.leading.append(_Note(comment.text))
                continue
        note = _Note(comment.text, blank_before(comment.line))
        block = root
        while True:
            inner = [
                c
                for c in block.children
                if c.kind in BLOCKS and c.span.line and c.start < position < c.end
            ]
            if not inner:
                break
            block = inner[0]
        following = [c for c in block.children if c.span.line and c.start > position]
        around = [c for c in block.children if c.span.line and c.start < position < c.end]
        if around:  # inside a construct that is not a block: above that construct
            around[0].leading.append(note)
        elif following:
            min(following, key=lambda u: u.start).leading.append(note)
        else:
            block.dangling.append(note)


def _join(existing: str, text: str) -> str:
    return f"{existing}  {text}" if existing else text


# ---- printing ---------------------------------------------------------------------------------
class _Printer:
    def __init__(self, text: str, comments: list[Comment]):
        self.text = text
        self.comments = comments
        self.out: list[str] = []

    def print_file(self, tree: ast.PolicyFile) -> str:
        root = _units(tree)
        if self.comments:
            _attach_comments(root, self.comments, self.text)
        self.out = []
        self._children(root, "")
        return "\n".join(self.out) + "\n" if self.out else ""

    # -- structure
    def _children(self, block: _Unit, indent: str) -> None:
        previous: _Unit | None = None
        for child in block.children:
            self._unit(child, indent, self._blank(block, child, previous))
            previous = child
        for index, note in enumerate(block.dangling):
            allowed = block.kind in ("file", "policy") and (previous is not None or index > 0)
            self._line(indent + note.text, blank=note.blank and allowed)

    def _blank(self, block: _Unit, child: _Unit, previous: _Unit | None) -> bool:
        """Whether a blank line goes before ``child`` (and its leading comments)."""
        if previous is None or block.kind in ("clause", "cite"):
            return False
        header = child.kind == "field"
        if block.kind == "policy" and header:
            return False
        if child.kind in ("policy", "clause"):
            return True
        if block.kind == "policy" and previous.kind == "field":
            return True
        first = child.leading[0].blank if child.leading else child.blank
        return first

    def _unit(self, unit: _Unit, indent: str, blank: bool) -> None:
        keep_blanks = unit.kind in ("policy", "clause", "set", "define")
        for index, note in enumerate(unit.leading):
            self._line(
                indent + note.text, blank=blank if index == 0 else (note.blank and keep_blanks)
            )
        if unit.leading:
            blank = unit.blank and keep_blanks
        start = len(self.out)
        getattr(self, "_print_" + unit.kind)(unit, indent, blank)
        if unit.trailing and len(self.out) > start:
            first = start + (1 if blank and start and self.out[start] == "" else 0)
            self.out[first] += "  " + unit.trailing

    def _line(self, text: str, blank: bool = False) -> None:
        if blank and self.out and self.out[-1] != "":
            self.out.append("")
        self.out.append(text.rstrip())

    def _lines(self, lines: list[str], blank: bool) -> None:
        self._line(lines[0], blank)
        for line in lines[1:]:
            self._line(line)

    def _open_block(self, unit: _Unit, indent: str, head: str, blank: bool) -> None:
        if not unit.children and not unit.dangling:
            self._line(f"{indent}{head} {{}}", blank)
            if unit.closing:
                self.out[-1] += "  " + unit.closing
            return
        self._line(f"{indent}{head} {{", blank)
        self._children(unit, indent + INDENT)
        self._line(indent + "}" + (f"  {unit.closing}" if unit.closing else ""))

    # -- constructs
    def _print_policy(self, unit: _Unit, indent: str, blank: bool) -> None:
        self._open_block(unit, indent, f"policy {unit.node.id}", blank)

    def _print_clause(self, unit: _Unit, indent: str, blank: bool) -> None:
        clause: ast.Clause = unit.node
        if clause.exception:
            lifts = ", ".join(str(ref) for ref in clause.lifts)
            head = f"exception {clause.id} lifts {lifts}"
        else:
            head = f"clause {clause.id}"
        self._open_block(unit, indent, head, blank)

    def _print_cite(self, unit: _Unit, indent: str, blank: bool) -> None:
        self._open_block(unit, indent, "cite", blank)

    def _print_set(self, unit: _Unit, indent: str, blank: bool) -> None:
        node: ast.SetDef = unit.node
        if node.countries:
            head = f"{indent}set {node.name} = countries "
            codes = [str(item.value) for item in node.items]
            one_line = head + "{ " + ", ".join(codes) + " }" if codes else head + "{}"
            if len(codes) <= COUNTRIES_PER_LINE and len(one_line) <= WIDTH:
                self._line(one_line, blank)
                return
            rows = [
                codes[i : i + COUNTRIES_PER_LINE] for i in range(0, len(codes), COUNTRIES_PER_LINE)
            ]
            lines = [head + "{"]
            lines += [
                indent + INDENT + ", ".join(row) + ("," if i < len(rows) - 1 else "")
                for i, row in enumerate(rows)
            ]
            self._lines([*lines, indent + "}"], blank)
            return
        head = f"{indent}set {node.name} = "
        items = [literal(item.value) for item in node.items]
        one_line = head + "{" + ", ".join(items) + "}"
        if len(one_line) <= WIDTH:
            self._line(one_line, blank)
            return
        lines = _fill_braces("", items, len(indent + INDENT))
        lines[0] = lines[0][1:]  # the items start on their own line, after `{`
        body = [indent + INDENT + lines[0].lstrip(), *lines[1:]]
        body[-1] = body[-1][:-1]  # the closing brace goes on its own line
        body = [re.sub(r"^ +", indent + INDENT, line) for line in body]
        self._lines([head + "{", *body, indent + "}"], blank)

    def _print_define(self, unit: _Unit, indent: str, blank: bool) -> None:
        node: ast.Define = unit.node
        head = f"{indent}define {node.name} = "
        lines = _layout(node.condition, len(head), "top")
        inline = [head + lines[0], *lines[1:]]
        if len(inline) > 1:  # try the condition on the next line, indented
            column = len(indent) + 2 * len(INDENT)
            below = [head.rstrip(), *_indented(_layout(node.condition, column, "top"), column)]
            if _cost(below) < _cost(inline):
                inline = below
        self._lines(inline, blank)

    def _print_field(self, unit: _Unit, indent: str, blank: bool) -> None:
        keyword = KEYWORDS.get(unit.name, unit.name)
        prefix = f"{indent}{keyword.ljust(unit.pad)} "
        self._lines(self._value(unit.name, unit.node, len(prefix), prefix), blank)

    def _value(self, name: str, value, column: int, prefix: str) -> list[str]:
        if name in ("when", "require", "governs"):
            lines = _layout(value, column, "top")
        elif name == "services":
            lines = [", ".join(value)]
        elif name == "lifts":
            lines = [", ".join(str(ref) for ref in value)]
        elif name in ("waivers", "licenses"):
            lines = [", ".join(quote(v) for v in value)]
        elif isinstance(value, date):
            lines = [value.isoformat()]
        elif name in ("topic", "kind", "scope", "severity", "provider"):
            lines = [str(value)]
        else:
            lines = _text(str(value), column)
        return [prefix + lines[0], *lines[1:]]


# ---- files ------------------------------------------------------------------------------------
BOM = b"\xef\xbb\xbf"


@dataclass
class FileResult:
    display: str
    path: Any  # pathlib.Path as found, or None for standard input
    original: str = ""
    formatted: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    bom: bool = False  # the input began with a UTF-8 byte-order mark, which the output keeps
    target: Any = None  # the file written: ``path``, or the file a symlink at ``path`` names

    @property
    def changed(self) -> bool:
        return not self.diagnostics and self.formatted != self.original

    @property
    def shown(self) -> str:
        """The name to report: the path given, and where it leads when it is a symlink."""
        if self.target is None or self.path is None or not self.path.is_symlink():
            return self.display
        return f"{self.display} (symlink to `{self.target}`)"

    def encoded(self) -> bytes:
        """The formatted text as it is written: UTF-8, after the input's BOM if it had one."""
        return (BOM if self.bom else b"") + self.formatted.encode("utf-8")

    def unified_diff(self) -> str:
        import difflib

        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.formatted.splitlines(keepends=True),
                f"{self.display} (original)",
                f"{self.display} (formatted)",
            )
        )


def format_data(data: bytes, display: str, path=None) -> FileResult:
    """Decode (:func:`~tosguard.language.parse.decode_policy`, the rule for files and standard input
    alike) and format the bytes of one policy file; problems land in ``diagnostics``."""
    from .parse import decode_policy

    result = FileResult(display, path, bom=data.startswith(BOM))
    try:
        result.original = decode_policy(data, display)
        result.formatted = format_text(result.original, display)
    except PolicyError as error:
        result.diagnostics = error.diagnostics
    return result


def format_paths(paths, *, write: bool) -> list[FileResult]:
    """Format every ``.tos`` file named or found under ``paths``; with ``write``, rewrite the
    files that change. Problems (unreadable files, syntax errors) are collected per file.

    A file is only written when it parsed and its formatted text checked out; it keeps its
    mode, owner, hard links and BOM (see :func:`tosguard.files.rewrite`). A symlink stays a
    link and the file it names is formatted, wherever it is (the loader reads it through the
    link too). A file reached twice (two links, or named twice) is formatted once."""
    from ..engine.library import policy_files

    results: list[FileResult] = []
    seen: set[object] = set()
    for given in paths:
        try:
            found = policy_files([given])
        except PolicyError as error:
            results.append(FileResult(str(given), None, diagnostics=error.diagnostics))
            continue
        for path, display in found:
            try:
                target, data, status = _read_policy(path)
            except OSError as error:
                results.append(
                    FileResult(
                        display,
                        path,
                        diagnostics=[
                            Diagnostic(
                                "policy-io",
                                f"cannot read `{display}`: {error.strerror or error}",
                                Span(display),
                                "check the path and its permissions",
                            )
                        ],
                    )
                )
                continue
            if (status.st_dev, status.st_ino) in seen or target in seen:
                continue  # by inode for hard links, by path for a file already replaced
            seen.update([(status.st_dev, status.st_ino), target])
            result = format_data(data, display, path)
            result.target = target
            if write and result.changed:
                from ..files import rewrite, write_failure

                try:
                    rewrite(target, result.encoded(), data, expect=status)
                except OSError as error:
                    result.diagnostics = [write_failure(display, error, "policy-io")]
            results.append(result)
    return results


def _read_policy(path):
    """The file a policy path leads to (through symlinks), its bytes and its status, read from
    one open file. Anything but a regular file (a pipe, a device) is refused unread."""
    import errno
    import os
    import stat
    from pathlib import Path

    from ..files import resolve

    resolved = resolve(path)
    if resolved is None:
        raise OSError(errno.EINVAL, "not a regular file")
    target = Path(resolved)
    handle = os.open(
        target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    with os.fdopen(handle, "rb") as stream:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return target, stream.read(), status
