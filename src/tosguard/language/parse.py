"""Text to AST: the Lark LALR parser, friendly syntax errors, and the tree transformer.

Lark's exceptions never leave this module: every syntax error becomes a
:class:`~tosguard.errors.Diagnostic` with the file, line, column, source line and a help line.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path as FsPath

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from ..engine import budget as budgets
from ..engine.library import MAX_POLICY_BYTES
from ..errors import (
    Diagnostic,
    DiagnosticSink,
    PolicyError,
    Span,
    did_you_mean,
    line_column,
    source_at,
    source_window,
)
from ..resources import cache_dir, grammar_file
from ..safetext import wide_encoding
from . import ast

# Readable names for the grammar's terminals, used in "expected …" help lines.
TERMINAL_NAMES = {
    "ID": "a name",
    "STRING": "a quoted string",
    "DATE": "a date such as `2025-05-31`",
    "NUMBER": "a number",
    "COUNTRY": "a country code such as `US`",
    "COMPARE": "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "EQUAL": "`=`",
    "SLASH": "`/`",
    "$END": "the end of the file",
}


@dataclass(frozen=True)
class Comment:
    """A ``# …`` comment: the grammar ignores comments, the formatter keeps them."""

    line: int
    column: int
    text: str  # from `#` to the end of the line, trailing whitespace removed


# The comments of the parse running in this context, when its caller asked for them.
_COMMENTS: ContextVar[list | None] = ContextVar("tosguard_comments", default=None)


def _collect_comment(token: Token) -> Token:
    collected = _COMMENTS.get()
    if collected is not None:
        collected.append(token)
    return token


class _MindTheBudget:
    """A Lark post-lexer that passes every token on, with a budget checkpoint
    (:mod:`tosguard.engine.budget`) every 1,024 tokens of any kind: parsing a large text posted to
    the service stops when its time is up."""

    always_accept: tuple[str, ...] = ()

    def process(self, stream):
        for count, token in enumerate(stream):
            if not count & 1023:
                budgets.checkpoint()
            yield token


@cache
def parser() -> Lark:
    """The LALR parser; its tables are cached on disk so a CLI run does not rebuild them."""
    from ..files import private_dir, private_file

    text = grammar_file().read_text(encoding="utf-8")
    # Lark unpickles its cache: only from a directory that is the user's alone (never Lark's
    # own fallback, a predictable name in the shared temporary directory); without one, the
    # tables are built on every run
    cache_file: str | bool = False
    directory = private_dir(cache_dir())
    if directory is not None and private_file(directory / "grammar.lark.cache"):
        cache_file = str(directory / "grammar.lark.cache")
    return Lark(
        text,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=cache_file,
        lexer_callbacks={"COMMENT": _collect_comment},
        postlex=_MindTheBudget(),
    )


# ---- public entry points ----------------------------------------------------------------------
def parse_policy_text(
    text: str, path: str = "<policy>", *, comments: list[Comment] | None = None
) -> ast.PolicyFile:
    """Parse the text of one policy file, raising :class:`PolicyError` on any problem.

    When ``comments`` is a list, the file's comments are appended to it, in order.
    """
    sink = DiagnosticSink()
    if comments is None:
        tree = _parse_tree(text, path, sink)
    else:
        tokens: list[Token] = []
        reset = _COMMENTS.set(tokens)
        try:
            tree = _parse_tree(text, path, sink)
        finally:
            _COMMENTS.reset(reset)
        comments.extend(Comment(t.line or 0, t.column or 0, str(t).rstrip()) for t in tokens)
    sink.raise_if_any(PolicyError)
    builder = _AstBuilder(path, text, sink)
    try:
        result = builder.transform(tree)
    except VisitError as error:  # an error raised inside a transformer method
        raise error.orig_exc from None
    sink.raise_if_any(PolicyError)
    return result


def parse_policy_file(path: str | FsPath, display: str | None = None) -> ast.PolicyFile:
    """Read and parse a policy file; I/O and encoding problems are PolicyErrors too."""
    name = display or str(path)
    try:
        data = FsPath(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise PolicyError(
            Diagnostic("policy-io", f"cannot read `{name}`: {reason}", Span(name), "check the path")
        ) from None
    return parse_policy_text(decode_policy(data, name), name)


def decode_policy(data: bytes, name: str) -> str:
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(
            Diagnostic(
                "policy-too-large",
                f"policy file is {len(data)} bytes, over the limit of {MAX_POLICY_BYTES}",
                Span(name),
                "split the library into one file per document version",
            )
        )
    wide = wide_encoding(data)
    if wide is not None:
        raise PolicyError(
            Diagnostic("policy-encoding", wide.message(), Span(name, 1, 1), wide.help)
        )
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise PolicyError(
            Diagnostic(
                "policy-encoding",
                f"invalid UTF-8 byte `0x{data[error.start]:02x}`",
                Span(name, line, column),
                "save the file as UTF-8",
            )
        ) from None


# ---- syntax errors ----------------------------------------------------------------------------
def _parse_tree(text: str, path: str, sink: DiagnosticSink):
    if "\x00" in text:
        index = text.index("\x00")
        line, column = line_column(text, index)
        sink.error(
            "policy-syntax",
            "NUL character in policy text",
            Span(path, line, column),
            "policy files are plain UTF-8 text",
            **source_window(text, line, column),
        )
        return None
    try:
        tree = parser().parse(text)
    except UnexpectedInput as error:
        sink.add(_syntax_diagnostic(error, text, path))
        return None
    _flatten_chains(tree)
    too_deep = _too_deep(tree, path, text)
    if too_deep is not None:
        sink.add(too_deep)
        return None
    return tree


def _syntax_diagnostic(error: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(error, "line", 0) or 0
    column = getattr(error, "column", 0) or 0
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        return _unclosed_block(text, path)
    if line < 1:
        line, column = 1, 1
    span = Span(path, line, column, line, column + 1)
    if isinstance(error, UnexpectedCharacters):
        message, help = _unexpected_character(text, error)
    else:
        assert isinstance(error, UnexpectedToken)
        at = error.token
        incomplete = _incomplete_condition(error)
        if incomplete is not None:
            message, help, at = incomplete
        else:
            message, help = _unexpected_token(error)
        line, column = at.line or line, at.column or column
        width = len(str(at)) or 1
        span = Span(path, line, column, line, column + width)
    return Diagnostic("policy-syntax", message, span, help, **source_at(text, span))


# Tokens after which a condition must follow.
_CONDITION_OPENERS = {
    "AND": "and",
    "OR": "or",
    "NOT": "not",
    "WHEN": "when",
    "REQUIRE": "require",
    "GOVERNS": "governs",
    "WHERE": "where",
}


def _incomplete_condition(error: UnexpectedToken) -> tuple[str, str, Token] | None:
    """A condition cut short (``when … and`` then the next field): the keyword of the next
    field was read as a predicate name, so point at the operator left dangling instead."""
    interactive = getattr(error, "interactive_parser", None)
    stack = list(interactive.parser_state.value_stack) if interactive is not None else []
    if (
        stack
        and isinstance(stack[-1], Token)
        and stack[-1].type == "ID"
        and _is_keyword(str(stack[-1]))
        and error.token.type != "COMPARE"
    ):
        stack.pop()
    if not stack or not isinstance(stack[-1], Token) or stack[-1].type not in _CONDITION_OPENERS:
        return None
    opener = stack[-1]
    word = _CONDITION_OPENERS[opener.type]
    if opener.type in ("AND", "OR"):
        return (
            f"the condition ends after `{word}`",
            f"add the other half of the condition, or remove `{word}`",
            opener,
        )
    return (
        f"a condition is missing after `{word}`",
        f'write the condition after `{word}`, e.g. `{word} source.kind == "model-output"`',
        opener,
    )


@cache
def _keywords() -> frozenset[str]:
    return frozenset(
        str(t.pattern.value)
        for t in parser().terminals
        if t.pattern.type == "str" and str(t.pattern.value).isalpha()
    )


def _is_keyword(word: str) -> bool:
    return word in _keywords()


# Operators of other languages, and what this one writes instead.
_FOREIGN_OPERATORS = {
    "&&": "write `and`",
    "&": "write `and`",
    "||": "write `or`",
    "|": "write `or`",
    "!": "write `not`, or `!=` to compare",
}


def _unexpected_character(text: str, error: UnexpectedCharacters) -> tuple[str, str]:
    position = error.pos_in_stream or 0
    char = text[position] if position < len(text) else ""
    following = text[position : position + 2]
    if char == '"':
        return (
            "unterminated string",
            'close the string with `"` on the same line; join long '
            "quotes by writing several strings one after the other",
        )
    if char == "=" and following != "==":
        return "unexpected `=` in a condition", "use `==` to compare values"
    if char in "“”":
        return (
            f"typographic quote `{char}` outside a string",
            'strings are written in straight quotes: "…"; typographic quotes may appear '
            "inside them",
        )
    if char == "'":
        return (
            "strings are written in double quotes, not `'`",
            'write `"x"`; a `\'` may appear inside a string',
        )
    if char in "&|!":
        operator = following if following in _FOREIGN_OPERATORS else char
        return f"unexpected `{operator}` in a condition", _FOREIGN_OPERATORS[operator]
    if char == "[":
        return "sets are written in braces", 'write `{"a", "b"}`'
    expected = _expected_names(error.allowed or ())
    shown = char if char.isprintable() else repr(char)
    return f"unexpected character `{shown}`", f"expected {expected}" if expected else ""


def _unexpected_token(error: UnexpectedToken) -> tuple[str, str]:
    token: Token = error.token
    expected = set(error.expected or ())
    keywords = sorted(_keyword(name) for name in expected if _keyword(name))
    if token.type == "ID" and keywords:
        suggestion = did_you_mean(str(token), keywords)
        if suggestion.startswith("did you mean"):
            return f"unknown keyword `{token}`", suggestion
    if str(token) == "=":
        return "unexpected `=` in a condition", "use `==` to compare values"
    mistake = _known_mistake(error)
    if mistake is not None:
        return mistake
    described = _describe_token(token)
    return f"unexpected {described}", f"expected {_expected_names(expected)}"


def _known_mistake(error: UnexpectedToken) -> tuple[str, str] | None:
    """The (message, help) of the row of :mod:`tosguard.language.mistakes` whose example fails in
    the
    same parser state on the same kind of token, if any."""
    from .mistakes import state_examples, state_messages

    if error.state is None:
        return None
    reset = _COMMENTS.set(None)  # the examples' comments are not the file's
    try:
        label = error.match_examples(
            parser().parse, state_examples(), token_type_match_fallback=True, use_accepts=True
        )
    except budgets.LimitExceeded:
        raise
    except Exception:  # pragma: no cover - a broken table must not hide the real error
        label = None
    finally:
        _COMMENTS.reset(reset)
    if label is None or error.token.type not in _example_token_types().get(label, ()):
        return None
    return state_messages()[label]


@cache
def _example_token_types() -> dict[str, frozenset[str]]:
    """For each mistake, the kinds of token its examples fail on: a state match on another
    kind of token is a different mistake."""
    from .mistakes import state_examples

    types: dict[str, set[str]] = {}
    for label, examples in state_examples().items():
        for example in examples:
            try:
                parser().parse(example)
            except UnexpectedToken as error:
                types.setdefault(label, set()).add(error.token.type)
            except UnexpectedInput:
                pass
    return {label: frozenset(found) for label, found in types.items()}


def _keyword(terminal: str) -> str:
    """``WHEN`` → ``when``; non-keyword terminals give ``""``."""
    if terminal in TERMINAL_NAMES or not terminal.isupper() or terminal.startswith("_"):
        return ""
    if terminal in {"ANY", "ALL", "NO", "OTHER"}:
        return terminal.lower()
    return terminal.lower() if re.fullmatch(r"[A-Z]+", terminal) else ""


def _describe_token(token: Token) -> str:
    if token.type == "STRING":
        return f"string {token}"
    if token.type == "ID":
        return f"name `{token}`"
    return f"`{token}`"


def _expected_names(names) -> str:
    readable = sorted({TERMINAL_NAMES.get(n) or f"`{_keyword(n) or n.lower()}`" for n in names})
    if len(readable) > 8:
        readable = readable[:8] + ["…"]
    return ", ".join(readable) if readable else "nothing more"


def _unclosed_block(text: str, path: str) -> Diagnostic:
    """Point at the innermost `{` (or `(`) that the end of the file left open."""
    stack: list[tuple[int, str]] = []
    in_string = in_comment = False
    escaped = False
    for index, char in enumerate(text):
        if in_comment:
            in_comment = char != "\n"
        elif in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char in '"\n':
                in_string = False
        elif char == "#":
            in_comment = True
        elif char == '"':
            in_string = True
        elif char in "{(":
            stack.append((index, char))
        elif char in "})" and stack:
            stack.pop()
    end_line = text.count("\n") + 1
    if not stack:
        return Diagnostic(
            "policy-syntax",
            "unexpected end of file",
            Span(path, end_line, 1),
            "the last definition is incomplete",
        )
    index, char = stack[-1]
    line, column = line_column(text, index)
    closer = "}" if char == "{" else ")"
    return Diagnostic(
        "policy-unclosed",
        f"`{char}` opened here is never closed",
        Span(path, line, column, line, column + 1),
        f"add the matching `{closer}`; the file ended at line {end_line}",
        **source_window(text, line, column),
    )


#: The qualifier of the library's names: ``library.competing_model``.
LIBRARY = "library"


# ---- tree → AST -------------------------------------------------------------------------------
def _span(path: str, meta) -> Span:
    if getattr(meta, "empty", True):
        return Span(path)
    return Span(path, meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(path: str, token: Token) -> Span:
    return Span(
        path, token.line or 0, token.column or 0, token.end_line or 0, token.end_column or 0
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def _unquote(token: Token) -> str:
    # STRING follows JSON escaping rules closely enough to reuse its decoder.
    try:
        return json.loads(str(token))
    except ValueError:
        return str(token)[1:-1]


@v_args(meta=True)
class _AstBuilder(Transformer):
    """One method per grammar rule; collects value errors (bad dates) instead of raising."""

    def __init__(self, path: str, text: str, sink: DiagnosticSink):
        super().__init__()
        self.file_name = path
        self.source = text
        self.sink = sink
        self.nodes = 0  # nodes built, for the budget checkpoints

    def _s(self, meta) -> Span:
        self.nodes += 1
        if not self.nodes & 1023:
            budgets.checkpoint()
        return _span(self.file_name, meta)

    # -- values
    def text(self, meta, strings):
        parts = []
        for token in strings:
            value = _unquote(token)
            if not value.isprintable() and _SURROGATE.search(value):
                char = _SURROGATE.search(value).group()  # type: ignore[union-attr]
                self.sink.error(
                    "policy-encoding",
                    f"the string holds the lone surrogate "
                    f"U+{ord(char):04X}, which is not a character",
                    _token_span(self.file_name, token),
                    "write the character itself (a `\\u` escape of a surrogate "
                    "must be one of a pair)",
                    **source_at(self.source, _token_span(self.file_name, token)),
                )
            parts.append(value)
        return ("text", "".join(parts), self._s(meta))

    def _date(self, token: Token) -> date | None:
        try:
            return date.fromisoformat(str(token))
        except ValueError as error:
            span = _token_span(self.file_name, token)
            self.sink.error(
                "policy-bad-date",
                f"invalid date `{token}`: {error}",
                span,
                "write dates as YYYY-MM-DD with a real month and day",
                **source_at(self.source, span),
            )
            return None

    def string_lit(self, meta, children):
        return ast.Literal(value=children[0][1], span=self._s(meta))

    def number_lit(self, meta, children):
        raw = str(children[0])
        value = float(raw) if "." in raw else int(raw)
        return ast.Literal(value=value, span=self._s(meta))

    def date_lit(self, meta, children):
        value = self._date(children[0])
        return ast.Literal(value=value or date.min, span=self._s(meta))

    def true_lit(self, meta, _):
        return ast.Literal(value=True, span=self._s(meta))

    def false_lit(self, meta, _):
        return ast.Literal(value=False, span=self._s(meta))

    def truthy(self, meta, children):
        """A boolean manifest field used as a condition: ``model.commercial``; or the
        library's predicate ``library.name``."""
        path = children[0]
        if path.parts[0] == LIBRARY and len(path.parts) == 2:
            return ast.NameRef(name=path.parts[1], library=True, span=self._s(meta))
        literal = ast.Literal(value=True, span=self._s(meta))
        return ast.Compare(op="==", left=children[0], right=literal, span=self._s(meta))

    def dotted_path(self, meta, parts):
        return ast.Path(parts=tuple(str(p) for p in parts), span=self._s(meta))

    def bare_path(self, meta, parts):
        return ast.Path(parts=(str(parts[0]),), span=self._s(meta))

    def named_set(self, meta, children):
        return ast.SetName(name=str(children[0]), span=self._s(meta))

    def library_set(self, meta, children):
        qualifier, name = children
        span = self._s(meta)
        if str(qualifier) != LIBRARY:
            at = _token_span(self.file_name, qualifier)
            self.sink.error(
                "policy-unknown-name",
                f"unknown set `{qualifier}.{name}`",
                at,
                f"a set of the library is written `library.{name}`; a set of your own, `{name}`",
                **source_at(self.source, at),
            )
        return ast.SetName(name=str(name), library=True, span=span)

    def set_literal(self, meta, items):
        return ast.SetLiteral(items=tuple(i for i in items if i is not None), span=self._s(meta))

    # -- conditions
    def or_(self, meta, children):
        return ast.Or(items=_flatten(ast.Or, children), span=self._s(meta))

    def and_(self, meta, children):
        return ast.And(items=_flatten(ast.And, children), span=self._s(meta))

    def not_(self, meta, children):
        return ast.Not(item=children[0], span=self._s(meta))

    def true(self, meta, _):
        return ast.Const(value=True, span=self._s(meta))

    def false(self, meta, _):
        return ast.Const(value=False, span=self._s(meta))

    def name_ref(self, meta, children):
        return ast.NameRef(name=str(children[0]), span=self._s(meta))

    def compare(self, meta, c):
        return ast.Compare(op=str(c[1]), left=c[0], right=c[2], span=self._s(meta))

    def in_set(self, meta, c):
        return ast.InSet(operand=c[0], values=c[1], span=self._s(meta))

    def not_in_set(self, meta, c):
        return ast.InSet(operand=c[0], values=c[1], negated=True, span=self._s(meta))

    def contains(self, meta, c):
        return ast.Contains(operand=c[0], value=c[1], span=self._s(meta))

    def contains_any(self, meta, c):
        return ast.Contains(operand=c[0], values=c[1], mode="any", span=self._s(meta))

    def contains_all(self, meta, c):
        return ast.Contains(operand=c[0], values=c[1], mode="all", span=self._s(meta))

    def matches_glob(self, meta, c):
        return ast.Matches(operand=c[0], pattern=c[1][1], span=self._s(meta))

    def matches_regex(self, meta, c):
        return ast.Matches(operand=c[0], pattern=c[1][1], regex=True, span=self._s(meta))

    def declared(self, meta, c):
        return ast.Declared(operand=c[0], span=self._s(meta))

    def not_declared(self, meta, c):
        return ast.Declared(operand=c[0], negated=True, span=self._s(meta))

    def quantifier(self, meta, c):
        return ast.Quantifier(
            quantifier=str(c[0]), other=c[1] is not None, body=c[2], span=self._s(meta)
        )

    def origin_quantifier(self, meta, c):
        return ast.Quantifier(quantifier=str(c[0]), origins=True, body=c[1], span=self._s(meta))

    # -- definitions
    def set_def(self, meta, c):
        body = c[1]
        if isinstance(body, ast.SetDef):
            return body.model_copy(update={"name": str(c[0]), "span": self._s(meta)})
        return ast.SetDef(name=str(c[0]), items=body.items, span=self._s(meta))

    def country_set(self, meta, c):
        codes = c[0] or []
        items = tuple(ast.Literal(value=str(t), span=_token_span(self.file_name, t)) for t in codes)
        return ast.SetDef(name="", countries=True, items=items, span=self._s(meta))

    def country_list(self, meta, tokens):
        return list(tokens)

    def define(self, meta, c):
        return ast.Define(name=str(c[0]), condition=c[1], span=self._s(meta))

    # -- fields: each returns (name, value, span)
    def _field(self, name, meta, value):
        return ("field", name, value, self._s(meta))

    def provider(self, meta, c):
        return self._field("provider", meta, str(c[0]))

    def document(self, meta, c):
        return self._field("document", meta, c[0][1])

    def service(self, meta, c):
        return self._field("services", meta, c[0])

    def version(self, meta, c):
        value = c[0]
        return self._field("version", meta, value[1] if isinstance(value, tuple) else str(value))

    def effective(self, meta, c):
        return self._field("effective", meta, self._date(c[0]))

    def ends(self, meta, c):
        return self._field("ends", meta, self._date(c[0]))

    def url(self, meta, c):
        return self._field("url", meta, c[0][1])

    def license(self, meta, c):
        return self._field("licenses", meta, c[0])

    def applies_from(self, meta, c):
        return self._field("applies_from", meta, self._date(c[0]))

    def governs(self, meta, c):
        return self._field("governs", meta, c[0])

    def id_list(self, meta, c):
        return tuple(str(t) for t in c)

    def text_list(self, meta, c):
        return tuple(t[1] for t in c)

    def clause_ref(self, meta, c):
        if c[1] is None:
            return ast.ClauseRef(clause=str(c[0]), span=self._s(meta))
        return ast.ClauseRef(policy=str(c[0]), clause=str(c[1]), span=self._s(meta))

    def ref_list(self, meta, c):
        return tuple(c)

    def topic(self, meta, c):
        return self._field("topic", meta, str(c[0]))

    def kind(self, meta, c):
        return self._field("kind", meta, str(c[0]))

    def scope(self, meta, c):
        return self._field("scope", meta, str(c[0]))

    def severity(self, meta, c):
        return self._field("severity", meta, str(c[0]))

    def when(self, meta, c):
        return self._field("when", meta, c[0])

    def require(self, meta, c):
        return self._field("require", meta, c[0])

    def lifts(self, meta, c):
        return self._field("lifts", meta, c[0])

    def waiver(self, meta, c):
        return self._field("waivers", meta, c[0])

    def message(self, meta, c):
        return self._field("message", meta, c[0][1])

    def remedy(self, meta, c):
        return self._field("remedy", meta, c[0][1])

    def cite_document(self, meta, c):
        return self._field("document", meta, c[0][1])

    def cite_section(self, meta, c):
        return self._field("section", meta, c[0][1])

    def cite_effective(self, meta, c):
        return self._field("effective", meta, self._date(c[0]))

    def cite_url(self, meta, c):
        return self._field("url", meta, c[0][1])

    def cite_quote(self, meta, c):
        return self._field("quote", meta, c[0][1])

    def cite_unverified(self, meta, c):
        return self._field("unverified", meta, c[0][1])

    def cite(self, meta, items):
        values, spans = self._collect_fields(items, "cite")
        return self._field(
            "citation", meta, ast.Citation(**values, fields=spans, span=self._s(meta))
        )

    # -- blocks
    def _collect_fields(self, items, block: str) -> tuple[dict, dict]:
        values: dict = {}
        spans: dict[str, Span] = {}
        for item in items:
            _, name, value, span = item
            if name in values:
                self.sink.error(
                    "policy-duplicate-field",
                    f"`{_display(name)}` given twice in this {block}",
                    span,
                    f"first given at line {spans[name].line}; keep one",
                    **source_at(self.source, span),
                )
                continue
            values[name] = value
            spans[name] = span
        return values, spans

    def clause(self, meta, c):
        values, spans = self._collect_fields(c[1:], "clause")
        return ast.Clause(id=str(c[0]), fields=spans, span=self._s(meta), **values)

    def exception(self, meta, c):
        values, spans = self._collect_fields(c[2:], "exception")
        if "lifts" in values:
            self.sink.error(
                "policy-duplicate-field",
                "`lifts` given twice in this exception",
                spans["lifts"],
                "name the lifted clauses once, after the exception id",
                **source_at(self.source, spans["lifts"]),
            )
        values["lifts"] = c[1]
        values.setdefault("kind", "permission")
        spans.setdefault("kind", self._s(meta))
        return ast.Clause(id=str(c[0]), exception=True, fields=spans, span=self._s(meta), **values)

    def policy(self, meta, c):
        fields = [x for x in c[1:] if isinstance(x, tuple)]
        values, spans = self._collect_fields(fields, "policy")
        sets = tuple(x for x in c[1:] if isinstance(x, ast.SetDef))
        defines = tuple(x for x in c[1:] if isinstance(x, ast.Define))
        clauses = tuple(x for x in c[1:] if isinstance(x, ast.Clause))
        return ast.Policy(
            id=str(c[0]),
            sets=sets,
            defines=defines,
            clauses=clauses,
            fields=spans,
            span=self._s(meta),
            **values,
        )

    def start(self, meta, items):
        return ast.PolicyFile(
            path=self.file_name,
            text=self.source,
            policies=tuple(x for x in items if isinstance(x, ast.Policy)),
            sets=tuple(x for x in items if isinstance(x, ast.SetDef)),
            defines=tuple(x for x in items if isinstance(x, ast.Define)),
            span=Span(self.file_name, 1, 1),
        )


def _flatten(kind, children) -> tuple:
    items: list = []
    for child in children:
        if isinstance(child, kind):
            items.extend(child.items)
        else:
            items.append(child)
    return tuple(items)


def _display(field: str) -> str:
    return {
        "services": "service",
        "waivers": "waived by",
        "citation": "cite",
        "licenses": "license",
        "applies_from": "applies from",
    }.get(field, field)


# ---- nesting ----------------------------------------------------------------------------------
#: Levels of `and`, `or`, `not` and quantifiers one condition may nest, as written. Every pass
#: after parsing may then recurse over a condition without meeting Python's recursion limit.
MAX_NESTING = 64
_CONNECTIVES = ("and_", "or_")
_NESTING_NODES = frozenset({"and_", "or_", "not_", "quantifier", "origin_quantifier"})


def _flatten_chains(tree: Tree) -> None:
    """``a and b and c`` parses as ``and_(and_(a, b), c)``, one level per operator: collapse
    each chain of one connective into one node, top-down and without recursion, so that a
    chain of 20,000 terms is one level, built in linear time."""
    for node in tree.iter_subtrees_topdown():
        if node.data not in _CONNECTIVES:
            continue
        inner = node.children[0]
        if not (isinstance(inner, Tree) and inner.data == node.data):
            continue
        rights = []
        while isinstance(inner, Tree) and inner.data == node.data:
            rights.append(inner.children[1:])
            inner = inner.children[0]
        children = [inner]
        for right in reversed(rights):
            children.extend(right)
        children.extend(node.children[1:])
        node.children = children


def _too_deep(tree: Tree, path: str, text: str) -> Diagnostic | None:
    """The first condition (in the order of the text) that nests deeper than
    :data:`MAX_NESTING`, found without recursion."""
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in _NESTING_NODES:
            depth += 1
            if depth > MAX_NESTING:
                span = _span(path, node.meta)
                return Diagnostic(
                    "policy-too-deep",
                    f"the condition nests more than {MAX_NESTING} levels of "
                    "`and`, `or`, `not` and quantifiers",
                    span,
                    "name parts of it with `define name = <condition>` and use the names",
                    **source_at(text, span),
                )
        stack.extend((child, depth) for child in reversed(node.children) if isinstance(child, Tree))
    return None
