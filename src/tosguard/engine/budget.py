"""Budgets: how much work one request may cause, and the checkpoints that enforce it.

Python cannot stop a thread from outside, and a check running on the service's event loop
cannot be pre-empted, so the work stops itself: the stages that loop over user input call
:meth:`Budget.check` every so often — the policy parser every 1,024 tokens and AST nodes, the
checker per predicate, policy and clause, the linter per condition, the compiler every 1,024
nodes, the evaluator per source (and every 256 sources inside a quantifier), the report every
256 findings, the manifest's validation between pieces — and it raises
:class:`LimitExceeded` once the budget is spent. A budget is made active for the code that runs
inside ``with active(budget):``; with none active (the CLI), checkpoints cost one context
variable read.

What a budget bounds:

* ``deadline``: a :func:`time.monotonic` instant; past it, :class:`TimeLimitExceeded`. The
  service sets it to the request's time limit, so work whose answer is no longer awaited stops
  (and frees its memory) instead of running on after the 503.
* ``slice_end``: an earlier instant at which the work gives way without failing
  (:class:`SliceSpent`): the service checks small manifests on its event loop, and one that
  turns out to be costly is moved to a thread rather than holding up every other request.
* ``max_findings``: the findings a report may hold (:class:`FindingsLimitExceeded`), which
  bounds the memory and the size of one answer.

The static limits on what a policy may ask for (nesting, expanded size) live with the checks
that enforce them: :data:`tosguard.language.parse.MAX_NESTING` and
:mod:`tosguard.language.validate`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "Budget",
    "FindingsLimitExceeded",
    "LimitExceeded",
    "SliceSpent",
    "TimeLimitExceeded",
    "active",
    "checkpoint",
    "current",
]

#: Iterations of a tight loop between two checks of the clock.
EVERY = 256


class LimitExceeded(Exception):
    """The active budget is spent; the work was abandoned."""


class TimeLimitExceeded(LimitExceeded):
    def __init__(self) -> None:
        super().__init__("the time limit passed before the work was done")


class SliceSpent(LimitExceeded):
    """The work outgrew the slice it was started with; it can be run again elsewhere."""

    def __init__(self) -> None:
        super().__init__("the work did not fit in its slice")


class FindingsLimitExceeded(LimitExceeded):
    def __init__(self, limit: int):
        super().__init__(f"the report would hold more than {limit:,} findings")
        self.limit = limit


class Budget:
    """Limits on one unit of work (see the module's docstring)."""

    __slots__ = ("deadline", "slice_end", "max_findings")

    def __init__(
        self,
        *,
        deadline: float | None = None,
        timeout: float | None = None,
        slice_seconds: float | None = None,
        max_findings: int | None = None,
    ):
        now = time.monotonic()
        if timeout is not None:
            deadline = now + timeout if deadline is None else min(deadline, now + timeout)
        self.deadline = deadline
        self.slice_end = None if slice_seconds is None else now + slice_seconds
        self.max_findings = max_findings

    def check(self) -> None:
        """Raise :class:`LimitExceeded` if the time or the slice is spent."""
        if self.deadline is None and self.slice_end is None:
            return
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            raise TimeLimitExceeded()
        if self.slice_end is not None and now > self.slice_end:
            raise SliceSpent()

    def check_findings(self, count: int) -> None:
        if self.max_findings is not None and count > self.max_findings:
            raise FindingsLimitExceeded(self.max_findings)


_CURRENT: ContextVar[Budget | None] = ContextVar("tosguard_budget", default=None)


def current() -> Budget | None:
    """The budget active in this context, if any."""
    return _CURRENT.get()


@contextmanager
def active(budget: Budget | None) -> Iterator[Budget | None]:
    """Make ``budget`` the one :func:`checkpoint` and the stages consult, for the block."""
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def checkpoint() -> None:
    """Raise :class:`LimitExceeded` if the active budget is spent (nothing without one)."""
    budget = _CURRENT.get()
    if budget is not None:
        budget.check()
