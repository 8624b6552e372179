"""Pausing Python's cyclic garbage collector while one answer is built.

An answer of a 5,000-guest farm allocates a million short-lived objects; meanwhile the collector would
walk the farm's millions of long-lived objects several times over (as long again as building the
answer). Reference counting frees the answer's objects anyway; the collector runs again right after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
