"""The table of typical mistakes in policy files, and the message each must produce.

The table does two jobs, as Lark's own table of examples does:

* the parser maps a syntax error to a friendly message by finding the row whose example fails
  in the same parser state, on the same kind of token (:meth:`lark.UnexpectedInput.
  match_examples`); only rows with ``by_state=True`` take part in this;
* ``tests/test_mistakes.py`` parses and checks every row's example and asserts that it gives
  exactly the row's code, message, help and position. Rows with ``by_state=False`` document
  messages that other means produce (lexical heuristics, the transformer, the checker).

Rows that share a ``name`` share their message and help: they are several examples of one
mistake, reached in different parser states (``document OpenAI`` and ``quote Customer will``
both forget the quotation marks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    name: str
    text: str  # a whole policy file showing the mistake
    code: str
    message: str
    help: str
    line: int = 0  # where the diagnostic must point (0: not asserted)
    column: int = 0
    by_state: bool = True  # used by the parser's error mapping (else: a test row only)


HEADER = (
    "policy p {\n"
    "  provider  acme\n"
    '  document  "Acme Terms"\n'
    "  service   api\n"
    "  effective 2024-01-01\n"
    '  url       "https://example.org/terms"\n'
)


def _clause(*lines: str, cite: str = '    cite { section "1" quote "q" }') -> str:
    """A policy whose one clause holds ``lines`` (each indented by four spaces)."""
    body = "".join(f"    {line}\n" for line in lines)
    return HEADER + "  clause c {\n" + body + cite + "\n  }\n}\n"


_PROHIBITION = ("topic distillation", "kind prohibition")

UNQUOTED_HELP = (
    'write text in double quotes: `"…"`; a long text may be split into several '
    "strings one after the other"
)
DATE_HELP = "write dates as YYYY-MM-DD, e.g. `2025-05-31`"

MISTAKES: tuple[Mistake, ...] = (
    # ---- quotation marks -----------------------------------------------------------------------
    Mistake(
        "unterminated-string",
        _clause(*_PROHIBITION, "when true", cite='    cite { section "1" quote "abc }'),
        "policy-syntax",
        "unterminated string",
        'close the string with `"` on the same line; join long quotes by writing several '
        "strings one after the other",
        11,
        30,
        by_state=False,
    ),
    Mistake(
        "unquoted-text",
        HEADER.replace('"Acme Terms"', "Acme Terms") + "}\n",
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        3,
        13,
    ),
    Mistake(
        "unquoted-text",
        HEADER.replace('"https://example.org/terms"', "https://example.org/terms") + "}\n",
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        6,
        13,
    ),
    Mistake(
        "unquoted-text",
        _clause(*_PROHIBITION, "when true", cite='    cite { section 3.3 quote "q" }'),
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        11,
        20,
    ),
    Mistake(
        "unquoted-text",
        _clause(
            *_PROHIBITION, "when true", cite='    cite { section "1" quote Customer will not }'
        ),
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        11,
        30,
    ),
    Mistake(
        "unquoted-text",
        _clause(*_PROHIBITION, "when true", "message Output is used"),
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        11,
        13,
    ),
    Mistake(
        "unquoted-text",
        _clause(*_PROHIBITION, "when true", "remedy Stop"),
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        11,
        12,
    ),
    Mistake(
        "unquoted-text",
        _clause(*_PROHIBITION, "when model.name matches Llama"),
        "policy-syntax",
        "text must be in double quotes",
        UNQUOTED_HELP,
        10,
        29,
    ),
    Mistake(
        "single-quotes",
        _clause(*_PROHIBITION, "when model.name == 'x'"),
        "policy-syntax",
        "strings are written in double quotes, not `'`",
        'write `"x"`; a `\'` may appear inside a string',
        10,
        24,
        by_state=False,
    ),
    Mistake(
        "typographic-quote",
        _clause(*_PROHIBITION, "when model.name == “x”"),
        "policy-syntax",
        "typographic quote `“` outside a string",
        'strings are written in straight quotes: "…"; typographic quotes may appear inside them',
        10,
        24,
        by_state=False,
    ),
    Mistake(
        "missing-citation-quote",
        _clause(*_PROHIBITION, "when true", cite='    cite { section "1" }'),
        "policy-missing-citation",
        "the citation of clause `c` has no `quote`",
        'add `quote "…"` inside `cite { … }`',
        11,
        5,
        by_state=False,
    ),
    # ---- blocks ------------------------------------------------------------------------------
    Mistake(
        "unclosed-block",
        HEADER + "  clause c {\n    topic distillation\n",
        "policy-unclosed",
        "`{` opened here is never closed",
        "add the matching `}`; the file ended at line 9",
        7,
        12,
        by_state=False,
    ),
    Mistake(
        "unclosed-block",
        HEADER + "  clause c {\n    when (model.commercial\n  }\n}\n",
        "policy-syntax",
        "unexpected `}`",
        "expected `)`",
        9,
        3,
        by_state=False,
    ),
    Mistake(
        "missing-brace",
        HEADER + "  clause c\n    topic distillation\n  }\n}\n",
        "policy-syntax",
        "expected `{` after the clause id",
        "a clause id is one word (hyphens allowed), followed by `{`: `clause competing-models {`",
        8,
        5,
    ),
    Mistake(
        "missing-brace",
        HEADER + "  clause competing models {\n  }\n}\n",
        "policy-syntax",
        "expected `{` after the clause id",
        "a clause id is one word (hyphens allowed), followed by `{`: `clause competing-models {`",
        7,
        20,
    ),
    Mistake(
        "cite-without-braces",
        _clause(*_PROHIBITION, "when true", cite='    cite section "1" quote "q"'),
        "policy-syntax",
        "`cite` takes a block",
        'write `cite { section "…" quote "…" }`',
        11,
        10,
    ),
    Mistake(
        "exception-without-lifts",
        HEADER + "  exception e {\n    when true\n  }\n}\n",
        "policy-syntax",
        "an exception must name the clauses it lifts",
        "write `exception e lifts clause-id {`, or `lifts policy-id/clause-id` for a clause "
        "of another policy",
        7,
        15,
    ),
    # ---- keywords ----------------------------------------------------------------------------
    Mistake(
        "misspelt-keyword",
        HEADER.replace("effective 2024", "efective 2024") + "}\n",
        "policy-syntax",
        "unknown keyword `efective`",
        "did you mean `effective`?",
        5,
        3,
        by_state=False,
    ),
    Mistake(
        "misspelt-keyword",
        _clause("topic distillation", "knd prohibition", "when true"),
        "policy-syntax",
        "unknown keyword `knd`",
        "did you mean `kind`?",
        9,
        5,
        by_state=False,
    ),
    Mistake(
        "misspelt-keyword",
        _clause(*_PROHIBITION, "wen true"),
        "policy-syntax",
        "unknown keyword `wen`",
        "did you mean `when`?",
        10,
        5,
        by_state=False,
    ),
    Mistake(
        "waived-without-by",
        _clause(*_PROHIBITION, "when true", 'waived "x"'),
        "policy-syntax",
        "write `waived by` before the agreement ids",
        'e.g. `waived by "meta-llama-license"`',
        11,
        12,
    ),
    # ---- dates -------------------------------------------------------------------------------
    Mistake(
        "bad-date",
        HEADER.replace("2024-01-01", "2024-02-30") + "}\n",
        "policy-bad-date",
        "invalid date `2024-02-30`: day is out of range for month",
        "write dates as YYYY-MM-DD with a real month and day",
        5,
        13,
        by_state=False,
    ),
    Mistake(
        "date-format",
        HEADER.replace("2024-01-01", "2024-1-1") + "}\n",
        "policy-syntax",
        "a date must be written YYYY-MM-DD",
        DATE_HELP,
        5,
        13,
    ),
    Mistake(
        "date-format",
        HEADER.replace("2024-01-01", "January 1, 2024") + "}\n",
        "policy-syntax",
        "a date must be written YYYY-MM-DD",
        DATE_HELP,
        5,
        13,
    ),
    Mistake(
        "date-format",
        HEADER + "  ends 31/12/2024\n}\n",
        "policy-syntax",
        "a date must be written YYYY-MM-DD",
        DATE_HELP,
        7,
        8,
    ),
    Mistake(
        "date-format",
        _clause(
            *_PROHIBITION, "when true", cite='    cite { section "1" effective 2024-1-1 quote "q" }'
        ),
        "policy-syntax",
        "a date must be written YYYY-MM-DD",
        DATE_HELP,
        11,
        34,
    ),
    Mistake(
        "quoted-date",
        HEADER.replace("2024-01-01", '"2024-01-01"') + "}\n",
        "policy-syntax",
        "dates are written without quotes",
        'write `2024-01-01`, not `"2024-01-01"`',
        5,
        13,
    ),
    Mistake(
        "quoted-date",
        HEADER + '  ends "2024-12-31"\n}\n',
        "policy-syntax",
        "dates are written without quotes",
        'write `2024-01-01`, not `"2024-01-01"`',
        7,
        8,
    ),
    # ---- conditions --------------------------------------------------------------------------
    Mistake(
        "single-equals",
        _clause(*_PROHIBITION, 'when source.provider = "acme"'),
        "policy-syntax",
        "unexpected `=` in a condition",
        "use `==` to compare values",
        10,
        26,
        by_state=False,
    ),
    Mistake(
        "c-operator",
        _clause(*_PROHIBITION, 'when model.commercial && model.name == "x"'),
        "policy-syntax",
        "unexpected `&&` in a condition",
        "write `and`",
        10,
        27,
        by_state=False,
    ),
    Mistake(
        "c-operator",
        _clause(*_PROHIBITION, 'when model.commercial || model.name == "x"'),
        "policy-syntax",
        "unexpected `||` in a condition",
        "write `or`",
        10,
        27,
        by_state=False,
    ),
    Mistake(
        "c-operator",
        _clause(*_PROHIBITION, "when !model.commercial"),
        "policy-syntax",
        "unexpected `!` in a condition",
        "write `not`, or `!=` to compare",
        10,
        10,
        by_state=False,
    ),
    Mistake(
        "brackets-for-set",
        _clause(*_PROHIBITION, 'when source.use contains any ["rlhf"]'),
        "policy-syntax",
        "sets are written in braces",
        'write `{"a", "b"}`',
        10,
        34,
        by_state=False,
    ),
    Mistake(
        "parentheses-for-set",
        _clause(*_PROHIBITION, 'when source.kind in ("human")'),
        "policy-syntax",
        "sets are written in braces",
        'write `{"a", "b"}`',
        10,
        25,
    ),
    Mistake(
        "contains-set",
        _clause(*_PROHIBITION, 'when source.use contains {"rlhf"}'),
        "policy-syntax",
        "`contains` takes one value; for a set say `any` or `all`",
        "write `contains any {…}` (at least one) or `contains all {…}` (every one)",
        10,
        30,
    ),
    Mistake(
        "incomplete-condition",
        _clause(*_PROHIBITION, "when model.commercial and"),
        "policy-syntax",
        "the condition ends after `and`",
        "add the other half of the condition, or remove `and`",
        10,
        27,
        by_state=False,
    ),
    Mistake(
        "incomplete-condition",
        _clause(*_PROHIBITION, "when model.commercial or", 'message "m"'),
        "policy-syntax",
        "the condition ends after `or`",
        "add the other half of the condition, or remove `or`",
        10,
        27,
        by_state=False,
    ),
    Mistake(
        "incomplete-condition",
        _clause(*_PROHIBITION, "when model.commercial and not"),
        "policy-syntax",
        "a condition is missing after `not`",
        'write the condition after `not`, e.g. `not source.kind == "model-output"`',
        10,
        31,
        by_state=False,
    ),
    Mistake(
        "missing-condition",
        _clause(*_PROHIBITION, "when"),
        "policy-syntax",
        "a condition is missing after `when`",
        'write the condition after `when`, e.g. `when source.kind == "model-output"`',
        10,
        5,
        by_state=False,
    ),
    Mistake(
        "missing-condition",
        _clause(*_PROHIBITION, "when", 'remedy "r"'),
        "policy-syntax",
        "a condition is missing after `when`",
        'write the condition after `when`, e.g. `when source.kind == "model-output"`',
        10,
        5,
        by_state=False,
    ),
    Mistake(
        "bare-word-value",
        _clause(*_PROHIBITION, "when model.purpose == chat"),
        "policy-unknown-path",
        "unknown manifest path `chat`",
        'to compare with the text `chat`, write it in double quotes: `"chat"`',
        10,
        27,
        by_state=False,
    ),
    Mistake(
        "set-without-equals",
        'set uses {"rlhf"}\n',
        "policy-syntax",
        "expected `=` after the set name",
        "write `set name = {…}`",
        1,
        10,
    ),
    Mistake(
        "country-code-case",
        "set eu = countries { de, FR }\n",
        "policy-syntax",
        "country codes are two capital letters",
        "write ISO 3166-1 alpha-2 codes such as `DE`, without quotes",
        1,
        22,
    ),
    Mistake(
        "country-code-case",
        'set eu = countries { "DE" }\n',
        "policy-syntax",
        "country codes are two capital letters",
        "write ISO 3166-1 alpha-2 codes such as `DE`, without quotes",
        1,
        22,
    ),
    Mistake(
        "bad-country",
        "set eu = countries { DE, UK }\n",
        "policy-bad-country",
        "`UK` is not an ISO 3166-1 alpha-2 country code",
        "did you mean `GB` (United Kingdom)?",
        1,
        26,
        by_state=False,
    ),
)


def state_examples() -> dict[str, list[str]]:
    """The examples the parser matches error states against, by mistake name."""
    table: dict[str, list[str]] = {}
    for mistake in MISTAKES:
        if mistake.by_state:
            table.setdefault(mistake.name, []).append(mistake.text)
    return table


def state_messages() -> dict[str, tuple[str, str]]:
    """``name → (message, help)`` for the rows the parser maps by state."""
    return {m.name: (m.message, m.help) for m in MISTAKES if m.by_state}
