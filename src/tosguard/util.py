"""Small helpers shared by stages."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
