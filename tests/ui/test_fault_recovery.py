"""The console over the simulated farm while one source is faulted: it stays up, the affected pane
says why with the data's age, the other sources keep refreshing, and the faulted one recovers by
itself (no restart, no key pressed) once the fault is cleared."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from ui_helpers import FIXED_AT, IDENTITY, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.sources import build_source
from console.ui.app import OpsConsoleApp
from console.ui.widgets import StatusBar

pytestmark = pytest.mark.sim

INTERVAL = 0.4  # seconds between polls of every source (backoff after failures: at most 8x)
TIMEOUT = 0.5
WAIT = 20.0  # seconds a condition may take to hold on a loaded machine (returns as soon as it holds)


def ticking_clock():
    """The fixed test time, advancing with the real one: data ages and fetched_at move."""
    started = time.monotonic()
    return lambda: FIXED_AT + timedelta(seconds=time.monotonic() - started)


def fast_app(config) -> OpsConsoleApp:
    clock = ticking_clock()
    sources = [
        build_source(kind, item.model_copy(update={"interval": INTERVAL, "timeout": TIMEOUT}), clock)
        for kind, item in config.sources.all()
    ]
    return OpsConsoleApp(config, sources=sources, clock=clock, identity=IDENTITY)


def fetched_at(app: OpsConsoleApp) -> dict:
    return {state.name: state.last.fetched_at for state in app.store.states() if state.last is not None}


async def test_one_faulted_source_fails_alone_and_recovers_without_a_restart(farm, config):
    app = fast_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        # a 0.5 s timeout may miss once on a loaded machine: wait for every source to be good at the same time
        await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app)
                         and all(state.ok for state in app.store.states()), timeout=WAIT, what="settled")
        alerts_before = table(app, "alerts-table").row_keys()
        icinga = app.store.get("icinga")

        farm.set_fault("icinga", "http502")
        await wait_until(pilot, lambda: icinga.error is not None, timeout=WAIT, what="icinga to fail")
        failed_at = fetched_at(app)
        others = [name for name in failed_at if name != "icinga"]

        # the other sources keep refreshing while icinga fails
        await wait_until(
            pilot,
            lambda: all(fetched_at(app)[name] > failed_at[name] for name in others),
            timeout=WAIT,
            what="the other sources to refresh again",
        )
        assert all(app.store.get(name).ok for name in others)
        assert icinga.error == "HTTP 502 Bad Gateway"

        # the affected pane keeps its last data and names the failure; the status bar gives the age
        assert table(app, "alerts-table").row_keys() == alerts_before
        note = app.query_one("#alerts .pane-note")
        await wait_until(pilot, lambda: note.display and "HTTP 502" in text_of(note), timeout=WAIT, what="the alerts note")
        assert text_of(note).startswith("✖ icinga:")
        await wait_until(pilot, lambda: "✖ icinga" in text_of(app.query_one(StatusBar)), timeout=WAIT, what="icinga ✖")
        status = text_of(app.query_one(StatusBar))
        assert "HTTP 502 Bad Gateway" in status and "old)" in status, status
        assert "✔ pve" in status and "✔ puppetdb" in status
        assert app.is_running

        # cleared: icinga comes back on its own (polling with backoff), the note goes away
        farm.set_fault("icinga", None)
        await wait_until(pilot, lambda: icinga.ok, timeout=WAIT, what="icinga to recover")
        await wait_until(pilot, lambda: not note.display, timeout=WAIT, what="the note to go")
        await wait_until(pilot, lambda: "✔ icinga" in text_of(app.query_one(StatusBar)), timeout=WAIT, what="icinga ✔")
        assert table(app, "alerts-table").row_keys() == alerts_before
        await pilot.press("q")
