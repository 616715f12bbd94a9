"""Hypothesis strategies for policy ASTs, in the shape the parser produces them.

``hypothesis.extra.lark.from_lark`` puts no white space between tokens, so we generate ASTs and
print them with the formatter instead. The ASTs follow the parser's own normal form: ``and``
and ``or`` are flattened (never directly nested in themselves) and have at least two items,
an exception always has a kind (``permission`` unless written) and lifts something, and names
are never keywords.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tosguard.language import ast
from tosguard.language.parse import _keywords

KEYWORDS = set(_keywords()) | {"true", "false", "governed"}

names = st.from_regex(r"[a-z][a-z0-9_]{0,5}(-[a-z0-9_]{1,3}){0,2}", fullmatch=True).filter(
    lambda name: name not in KEYWORDS
)
words = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True).filter(
    lambda name: name not in KEYWORDS
)
texts = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.sampled_from(list('ab “”‘’…"\\\t\n é中文عربي')), max_size=40),
    st.lists(
        st.sampled_from(
            [
                "Customer",
                "will",
                "not",
                "use",
                "Output",
                "to",
                "develop",
                "models",
                "that",
                "compete",
                "—",
                "(e)",
                "“Llama”",
            ]
        ),
        min_size=20,
        max_size=80,
    ).map(" ".join),
)
dates = st.dates()
countries = st.from_regex(r"[A-Z]{2}", fullmatch=True)

ROOTS = ["source", "model", "organization", "facts"]
paths = st.one_of(
    st.builds(
        lambda root, rest: ast.Path(parts=(root, *rest)),
        st.sampled_from(ROOTS),
        st.lists(words, min_size=1, max_size=3),
    ),
    st.builds(lambda name: ast.Path(parts=(name,)), names),
)
literals = st.builds(
    ast.Literal,
    value=st.one_of(
        texts,
        st.integers(-(10**12), 10**12),
        st.booleans(),
        dates,
        st.floats(allow_nan=False, allow_infinity=False),
    ),
)
operands = st.one_of(paths, literals)
set_refs = st.one_of(
    st.builds(ast.SetName, name=names),
    st.builds(ast.SetLiteral, items=st.lists(literals, max_size=4).map(tuple)),
)

leaves = st.one_of(
    st.builds(
        ast.Compare,
        op=st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        left=operands,
        right=operands,
    ),
    st.builds(ast.InSet, operand=operands, values=set_refs, negated=st.booleans()),
    st.builds(ast.Contains, operand=operands, value=operands),
    st.builds(
        ast.Contains, operand=operands, values=set_refs, mode=st.sampled_from(["any", "all"])
    ),
    st.builds(ast.Matches, operand=operands, pattern=texts, regex=st.booleans()),
    st.builds(ast.Declared, operand=operands, negated=st.booleans()),
    st.builds(ast.NameRef, name=st.one_of(names, st.just("governed"))),
    st.builds(ast.Const, value=st.booleans()),
)


def _flat(kind, items):
    flat = []
    for item in items:
        flat += list(item.items) if isinstance(item, kind) else [item]
    return kind(items=tuple(flat))


def _extend(children):
    return st.one_of(
        st.lists(children, min_size=2, max_size=4).map(lambda items: _flat(ast.And, items)),
        st.lists(children, min_size=2, max_size=4).map(lambda items: _flat(ast.Or, items)),
        st.builds(ast.Not, item=children),
        st.builds(
            ast.Quantifier,
            quantifier=st.sampled_from(["any", "all", "no"]),
            other=st.booleans(),
            body=children,
        ),
        st.builds(
            ast.Quantifier,
            quantifier=st.sampled_from(["any", "all", "no"]),
            origins=st.just(True),
            body=children,
        ),
    )


conditions = st.recursive(leaves, _extend, max_leaves=10)


def optional(strategy):
    return st.one_of(st.none(), strategy)


citations = st.builds(
    ast.Citation,
    document=optional(texts),
    section=optional(texts),
    effective=optional(dates),
    url=optional(texts),
    quote=optional(texts),
    unverified=optional(texts),
)
clause_refs = st.builds(ast.ClauseRef, policy=optional(names), clause=names)


@st.composite
def clauses(draw):
    exception = draw(st.booleans())
    lifts = tuple(draw(st.lists(clause_refs, min_size=1 if exception else 0, max_size=3)))
    kind = draw(
        st.sampled_from(["permission", "prohibition"])
        if exception
        else optional(st.sampled_from(["prohibition", "obligation", "permission"]) | names)
    )
    return ast.Clause(
        id=draw(names),
        exception=exception,
        lifts=lifts,
        kind=kind,
        topic=draw(optional(names)),
        scope=draw(optional(names)),
        severity=draw(optional(names)),
        when=draw(optional(conditions)),
        require=draw(optional(conditions)),
        waivers=tuple(draw(st.lists(texts, max_size=2))),
        message=draw(optional(texts)),
        remedy=draw(optional(texts)),
        citation=draw(optional(citations)),
    )


@st.composite
def set_defs(draw):
    if draw(st.booleans()):
        items = draw(st.lists(countries, max_size=40))
        return ast.SetDef(
            name=draw(names), countries=True, items=tuple(ast.Literal(value=c) for c in items)
        )
    return ast.SetDef(name=draw(names), items=tuple(draw(st.lists(literals, max_size=6))))


defines = st.builds(ast.Define, name=names, condition=conditions)


@st.composite
def policies(draw):
    return ast.Policy(
        id=draw(names),
        provider=draw(optional(names)),
        document=draw(optional(texts)),
        services=tuple(draw(st.lists(names, max_size=3))),
        version=draw(optional(texts)),
        effective=draw(optional(dates)),
        ends=draw(optional(dates)),
        url=draw(optional(texts)),
        governs=draw(optional(conditions)),
        sets=tuple(draw(st.lists(set_defs(), max_size=2))),
        defines=tuple(draw(st.lists(defines, max_size=2))),
        clauses=tuple(draw(st.lists(clauses(), max_size=3))),
    )


policy_files = st.builds(
    ast.PolicyFile,
    path=st.just("generated.tos"),
    policies=st.lists(policies(), max_size=2).map(tuple),
    sets=st.lists(set_defs(), max_size=2).map(tuple),
    defines=st.lists(defines, max_size=2).map(tuple),
)
