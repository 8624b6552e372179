"""The interpreter's tuning, in one place: the garbage collector and the GIL's switch interval. Each
setting has its reason; the console applies its own while it runs and restores what it found, and the
simulated farm changes nothing of the process it shares with the console (`opsconsole demo`).
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

# Views and answers are built in worker threads: the UI thread takes the GIL back after 1 ms of theirs,
# not Python's 5 (the bench's UI-stall row at 5,000 guests measures it).
UI_SWITCH_INTERVAL = 0.001
# `opsconsole sim` stands for many servers in one process: its loops take the GIL back from the thread
# building answers after 1 ms, as the servers it stands for would not wait for each other.
SIM_SWITCH_INTERVAL = 0.001
# A full (oldest-generation) collection walks every live object — a visible stop at 5,000 guests if it
# comes during a refresh or a keystroke. While the console runs, it is done at a quiet moment instead,
# when Python would have done it (as many younger collections as its own threshold), at most every
# FULL_COLLECTION_SECONDS. The objects alive after the first one (the modules, the app, its widgets:
# most of the heap, and they stay) are frozen out of later walks, which then cost a fraction: an idle
# console's CPU (the bench's idle row) was a fifth full collections.
FULL_COLLECTION_SECONDS = 10.0
FULL_COLLECTION_LATEST_SECONDS = 120.0  # a farm never quiet that long is collected between answers
TYPING_SECONDS = 2.0  # a key pressed this recently puts the collection off
DUE_AFTER = 10  # younger (generation 1) collections since the last full one: Python's own threshold


@dataclass
class ConsoleRuntime:
    """The console's settings while it runs (`apply`), undone by `restore`; `collect_if_quiet` runs the
    full collection at a quiet moment (the app calls it once a second)."""

    clock: Callable[[], float] = time.monotonic
    pending: Callable[[], int] = lambda: gc.get_count()[2]  # generation-1 collections since the last full one
    _saved: tuple[tuple[int, int, int], float] | None = None
    _last_collection: float | None = None
    _last_key: float = float("-inf")
    _frozen: bool = False

    def apply(self) -> None:
        self._saved = (gc.get_threshold(), sys.getswitchinterval())
        threshold = gc.get_threshold()
        gc.set_threshold(threshold[0], threshold[1], 1_000_000)  # the oldest generation: collect_if_quiet
        sys.setswitchinterval(UI_SWITCH_INTERVAL)

    def restore(self) -> None:
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self._saved is not None:
            thresholds, interval = self._saved
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(interval)
            self._saved = None

    def key_pressed(self) -> None:
        self._last_key = self.clock()

    def collect_if_quiet(self, *, drawing: bool, fetching: bool) -> bool:
        """Collect the oldest generation when it is due and nothing would wait for it; whether it ran."""
        now = self.clock()
        if self._last_collection is None:
            self._last_collection = now
        since = now - self._last_collection
        if since < FULL_COLLECTION_SECONDS or drawing or now - self._last_key < TYPING_SECONDS:
            return False
        overdue = since >= FULL_COLLECTION_LATEST_SECONDS
        if (fetching or self.pending() < DUE_AFTER) and not overdue:
            return False
        self._last_collection = now
        gc.collect()
        if not self._frozen:  # what lives now lives on: later full collections skip it
            gc.freeze()
            self._frozen = True
        return True


def tune_sim_process() -> None:
    """`opsconsole sim` in a process of its own (never the console's)."""
    sys.setswitchinterval(SIM_SWITCH_INTERVAL)


@contextmanager
def collector_paused(enabled: bool) -> Iterator[None]:
    """While one big answer is built (a million short-lived objects at 5,000 guests), no collection walks
    the farm's long-lived objects over and over; reference counting frees the answer's objects anyway.
    Only where the process is the simulated farm's own: `enabled` is False inside the console."""
    if not enabled or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
