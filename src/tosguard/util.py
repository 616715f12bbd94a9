"""Small helpers shared by stages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date


@contextmanager
def gc_paused(active: bool = True) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many objects that hold no
    cycles (a large manifest, the outcomes of a large evaluation): each collection would scan
    everything built so far, making the work superlinear."""
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def jsonable(value):
    """A value as JSON can hold it: dates as ISO text, sequences as lists, the rest as text."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
