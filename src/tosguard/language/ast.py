"""The policy AST: pydantic models produced by :mod:`tosguard.language.parse`, each with its source
span.

Conditions are a small tree of boolean nodes over *operands* (manifest paths and literals).
Nothing here is resolved yet: names of sets and predicates, manifest paths and vocabulary
values are checked by :mod:`tosguard.language.validate`.
"""

from __future__ import annotations

from datetime import date
from typing import Literal as L

from pydantic import BaseModel, ConfigDict, Field

from ..errors import Span

Scalar = bool | int | float | date | str


class Node(BaseModel):
    model_config = ConfigDict(frozen=True)

    span: Span = Field(default=Span("<unknown>"), repr=False)


# ---- operands ---------------------------------------------------------------------------------
class Path(Node):
    """A manifest path such as ``source.access.from_country`` or ``facts.eu_entity``."""

    parts: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


class Literal(Node):
    value: Scalar


Operand = Path | Literal


class SetLiteral(Node):
    items: tuple[Literal, ...] = ()


class SetName(Node):
    """A named set; with ``library``, written ``library.name``: the library's set of that name,
    whatever the user's policies define (see :mod:`tosguard.language.validate`, *namespaces*)."""

    name: str
    library: bool = False

    @property
    def written(self) -> str:
        return f"library.{self.name}" if self.library else self.name


SetRef = SetName | SetLiteral


# ---- conditions -------------------------------------------------------------------------------
class Compare(Node):
    op: L["==", "!=", "<", "<=", ">", ">="]
    left: Operand
    right: Operand


class InSet(Node):
    operand: Operand
    values: SetRef
    negated: bool = False


class Contains(Node):
    """``list contains value``; with ``mode`` any/all, ``list contains any {…}``."""

    operand: Operand
    value: Operand | None = None
    values: SetRef | None = None
    mode: L["one", "any", "all"] = "one"


class Matches(Node):
    """A glob (``Llama*``) or, with ``regex``, an RE2 regular expression, on a string."""

    operand: Operand
    pattern: str
    regex: bool = False


class Declared(Node):
    operand: Operand
    negated: bool = False


class NameRef(Node):
    """A named predicate (``define``) or the built-in ``governed``; with ``library``, written
    ``library.name``: the library's predicate of that name."""

    name: str
    library: bool = False

    @property
    def written(self) -> str:
        return f"library.{self.name}" if self.library else self.name


class Const(Node):
    value: bool


class Quantifier(Node):
    """``any|all|no [other] source where <body>``: ``source`` in the body is rebound.

    With ``origins``, the quantifier ranges over the sources the current source was derived
    from (``derived_from``, followed transitively): ``any origin where (…)``."""

    quantifier: L["any", "all", "no"]
    other: bool = False
    origins: bool = False
    body: Condition


class Not(Node):
    item: Condition


class And(Node):
    items: tuple[Condition, ...]


class Or(Node):
    items: tuple[Condition, ...]


Condition = (
    And | Or | Not | Compare | InSet | Contains | Matches | Declared | Quantifier | NameRef | Const
)

Quantifier.model_rebuild()
Not.model_rebuild()
And.model_rebuild()
Or.model_rebuild()


# ---- definitions ------------------------------------------------------------------------------
class SetDef(Node):
    name: str
    countries: bool = False
    items: tuple[Literal, ...] = ()


class Define(Node):
    name: str
    condition: Condition


# ---- clauses and policies ---------------------------------------------------------------------
class ClauseRef(Node):
    """A clause named by an exception: ``clause-id`` (same policy) or ``policy-id/clause-id``."""

    policy: str | None = None
    clause: str

    def __str__(self) -> str:
        return f"{self.policy}/{self.clause}" if self.policy else self.clause


class Citation(Node):
    document: str | None = None
    section: str | None = None
    effective: date | None = None
    url: str | None = None
    quote: str | None = None
    unverified: str | None = None
    fields: dict[str, Span] = Field(default_factory=dict, repr=False)


class Clause(Node):
    id: str
    exception: bool = False
    topic: str | None = None
    kind: str | None = None
    scope: str | None = None
    severity: str | None = None
    when: Condition | None = None
    require: Condition | None = None
    lifts: tuple[ClauseRef, ...] = ()
    waivers: tuple[str, ...] = ()
    message: str | None = None
    remedy: str | None = None
    citation: Citation | None = None
    fields: dict[str, Span] = Field(default_factory=dict, repr=False)


class Policy(Node):
    id: str
    provider: str | None = None
    document: str | None = None
    services: tuple[str, ...] = ()
    version: str | None = None
    effective: date | None = None
    ends: date | None = None
    url: str | None = None
    licenses: tuple[str, ...] = ()  # the licence ids it answers to, canonical first
    applies_from: date | None = None  # its text applies before `effective` (from this date)
    governs: Condition | None = None
    sets: tuple[SetDef, ...] = ()
    defines: tuple[Define, ...] = ()
    clauses: tuple[Clause, ...] = ()
    fields: dict[str, Span] = Field(default_factory=dict, repr=False)


class PolicyFile(Node):
    """One parsed ``.tos`` file: its policies and its file-level definitions. ``user`` files
    (``--extra-policies``) have a namespace of their own over the library's: see
    :mod:`tosguard.language.validate`."""

    path: str
    user: bool = False
    text: str = Field(default="", repr=False)
    policies: tuple[Policy, ...] = ()
    sets: tuple[SetDef, ...] = ()
    defines: tuple[Define, ...] = ()


def definitions(node: Policy | PolicyFile) -> list[SetDef | Define]:
    """The named sets and predicates of a policy or a file, sets first."""
    found: list[SetDef | Define] = list(node.sets)
    found.extend(node.defines)
    return found


def without_spans(node):
    """The structure of an AST with its source positions left out, for comparing two ASTs:
    ``without_spans(parse(format(p))) == without_spans(p)``. Scalars keep their type, so that
    ``true`` and ``1`` stay different.

    >>> a = Literal(value=1, span=Span("a.tos", 1, 1))
    >>> without_spans(a) == without_spans(Literal(value=1))
    True
    >>> without_spans(Literal(value=True)) == without_spans(Literal(value=1))
    False
    """
    if isinstance(node, Node):
        skip = (
            {"span", "fields", "path", "text", "user"}
            if isinstance(node, PolicyFile)
            else {"span", "fields"}
        )
        return (
            type(node).__name__,
            tuple(
                (name, without_spans(getattr(node, name)))
                for name in type(node).model_fields
                if name not in skip
            ),
        )
    if isinstance(node, (tuple, list)):
        return tuple(without_spans(item) for item in node)
    if isinstance(node, (bool, int, float)):
        return (type(node).__name__, node)
    return node
