"""The visitor every pass over conditions derives from, so a new node cannot be missed.

A subclass of :class:`ConditionVisitor` must handle every class of
:data:`tosguard.language.ast.Condition` with a ``visit_<node>`` method (``visit_in_set`` for
``InSet``). One that misses a class fails when its module is imported, naming the methods it
lacks, before any policy is read: add a node to ``ast.Condition`` and the static checks, the
compiler and the printer each say what they need. (``tests/test_node_coverage.py`` then
checks that what they do with it works end to end.)

>>> class Names(ConditionVisitor):
...     pass
Traceback (most recent call last):
...
TypeError: Names has no handler for visit_and, visit_compare, visit_const, visit_contains, \
visit_declared, visit_in_set, visit_matches, visit_name_ref, visit_not, visit_or, visit_quantifier
"""

from __future__ import annotations

import re
import typing
from typing import Any

from . import ast

CONDITION_CLASSES: tuple[type, ...] = typing.get_args(ast.Condition)


def handler_name(node_class: type) -> str:
    """``visit_`` and the class's name in snake case: ``InSet`` → ``visit_in_set``."""
    return "visit_" + re.sub(r"(?<!^)(?=[A-Z])", "_", node_class.__name__).lower()


class ConditionVisitor:
    """Dispatch on the condition node's class; extra arguments are passed to the handler."""

    _handlers: dict[type, str] = {c: handler_name(c) for c in CONDITION_CLASSES}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = sorted(
            name for name in cls._handlers.values() if not callable(getattr(cls, name, None))
        )
        if missing:
            raise TypeError(f"{cls.__qualname__} has no handler for {', '.join(missing)}")

    def visit(self, node, *args: Any) -> Any:
        return getattr(self, self._handlers[type(node)])(node, *args)
