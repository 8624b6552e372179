"""console/core/runtime.py: the console's collector and switch interval while it runs, restored after;
the full collection only at a quiet moment; the simulated farm never touches the collector of a
process it shares with the console. Checked by outcome: gc's own callbacks say when a full collection
ran, sys and gc say what is set."""

from __future__ import annotations

import gc
import sys

import pytest

from console.core.runtime import (
    DUE_AFTER,
    FULL_COLLECTION_LATEST_SECONDS,
    FULL_COLLECTION_SECONDS,
    TYPING_SECONDS,
    UI_SWITCH_INTERVAL,
    ConsoleRuntime,
    collector_paused,
)


@pytest.fixture
def full_collections():
    seen: list[int] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    gc.callbacks.append(callback)
    yield seen
    gc.callbacks.remove(callback)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_apply_sets_the_console_s_settings_and_restore_gives_back_what_was_there():
    before = (gc.get_threshold(), sys.getswitchinterval())
    runtime = ConsoleRuntime()
    runtime.apply()
    try:
        assert sys.getswitchinterval() == pytest.approx(UI_SWITCH_INTERVAL)
        assert gc.get_threshold()[2] >= 1_000_000  # the oldest generation waits for a quiet moment
    finally:
        runtime.restore()
    assert (gc.get_threshold(), sys.getswitchinterval()) == before


def test_the_full_collection_runs_when_due_and_quiet_only(full_collections):
    clock = Clock()
    young = [DUE_AFTER]  # generation-1 collections since the last full one, as gc would count them
    runtime = ConsoleRuntime(clock=clock, pending=lambda: young[0])
    try:
        assert not runtime.collect_if_quiet(drawing=False, fetching=False)  # the first call starts the count
        clock.now += FULL_COLLECTION_SECONDS
        assert not runtime.collect_if_quiet(drawing=True, fetching=False) and full_collections == []  # a redraw
        runtime.key_pressed()
        assert not runtime.collect_if_quiet(drawing=False, fetching=False) and full_collections == []  # typing
        clock.now += TYPING_SECONDS
        assert not runtime.collect_if_quiet(drawing=False, fetching=True) and full_collections == []  # a fetch
        assert runtime.collect_if_quiet(drawing=False, fetching=False) and len(full_collections) == 1
        clock.now += FULL_COLLECTION_LATEST_SECONDS  # never quiet that long: collected between fetches
        assert runtime.collect_if_quiet(drawing=False, fetching=True) and len(full_collections) == 2
    finally:
        runtime.restore()


def test_an_idle_console_is_collected_only_when_python_would_have_done_it(full_collections):
    clock = Clock()
    young = [0]
    runtime = ConsoleRuntime(clock=clock, pending=lambda: young[0])
    try:
        runtime.collect_if_quiet(drawing=False, fetching=False)
        clock.now += 3 * FULL_COLLECTION_SECONDS
        assert not runtime.collect_if_quiet(drawing=False, fetching=False)  # quiet, but nothing is due
        young[0] = DUE_AFTER
        assert runtime.collect_if_quiet(drawing=False, fetching=False) and len(full_collections) == 1
        young[0] = 0
        clock.now += FULL_COLLECTION_LATEST_SECONDS  # however little is pending, at least this often
        assert runtime.collect_if_quiet(drawing=False, fetching=False) and len(full_collections) == 2
    finally:
        runtime.restore()


def test_what_lives_after_the_first_full_collection_is_frozen_until_restore():
    clock = Clock()
    runtime = ConsoleRuntime(clock=clock, pending=lambda: DUE_AFTER)
    before = gc.get_freeze_count()
    try:
        runtime.collect_if_quiet(drawing=False, fetching=False)
        clock.now += FULL_COLLECTION_SECONDS
        assert runtime.collect_if_quiet(drawing=False, fetching=False)
        assert gc.get_freeze_count() > before  # later full collections skip these objects
    finally:
        runtime.restore()
    assert gc.get_freeze_count() == 0


def test_the_collector_is_paused_only_in_the_farm_s_own_process():
    assert gc.isenabled()
    with collector_paused(False):
        assert gc.isenabled()  # `opsconsole demo`: the console's collector is the console's
    with collector_paused(True):
        assert not gc.isenabled()
    assert gc.isenabled()
