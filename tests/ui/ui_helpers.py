"""Shared by the UI tests: the fixed clock, the app on the simulated farm, and waiting on the app."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

from rich.text import Text

from console.core.clock import fixed_clock
from console.core.config import AppConfig
from console.ui.app import OpsConsoleApp
from console.ui.widgets import KeyedTable

FIXED_AT = datetime(2026, 8, 14, 9, 30, tzinfo=timezone.utc)
FIXED = fixed_clock(FIXED_AT)
IDENTITY = "ops@bast161"
PANE_TABLES = ("hosts-table", "alerts-table", "services-table", "commits-table")


def console_app(config: AppConfig, *, steady_latency: bool = False) -> OpsConsoleApp:
    """The app as an operator starts it (sources built from the config), on the fixed clock."""
    if steady_latency:  # snapshots: no event stream racing the picture (it is tested on its own)
        icinga = [item.model_copy(update={"stream": False}) for item in config.sources.icinga]
        config = config.model_copy(update={"sources": config.sources.model_copy(update={"icinga": icinga})})
    if not steady_latency:  # the app builds its sources itself, after its first paint
        return OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    return OpsConsoleApp(config, sources=steady_sources(config), clock=FIXED, identity=IDENTITY)


def steady_sources(config: AppConfig) -> list:
    """The sources the app would build, their latency always shown as 0ms (snapshots)."""
    from console.sources import build_sources

    sources = build_sources(config, FIXED)
    for source in sources:
        source.timer = lambda: 0.0
    return sources


def table(app: OpsConsoleApp, table_id: str) -> KeyedTable:
    """A pane's table, by id, whichever screen is on top (the panes' screen may still be composing)."""
    return next(pane.table for pane in app.panes if pane.table.id == table_id)


def every_pane_has_rows(app: OpsConsoleApp) -> bool:
    return all(table(app, name).row_count > 0 for name in PANE_TABLES)


def every_source_answered(app: OpsConsoleApp) -> bool:
    return all(state.last is not None for state in app.store.states()) and not app.redraw_pending


def text_of(widget) -> str:
    rendered = widget.render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def cell_text(value) -> str:
    return value.plain if isinstance(value, Text) else str(value)


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until `predicate()` holds (polls and redraws happen meanwhile)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)
