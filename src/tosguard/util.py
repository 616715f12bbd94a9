"""Small helpers shared by stages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date


@contextmanager
def gc_paused(active: bool = True, *, kept: bool = False) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many objects that hold no
    cycles (a large manifest, the outcomes of a large evaluation): each collection would scan
    everything built so far, making the work superlinear. ``kept``: what was built lives on
    (until the process exits), so it is frozen out of later collections, the one at exit
    included, instead of being scanned by the first collection after the pause."""
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if kept:
            gc.freeze()
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
