"""Widget behaviour with in-process sources (no sockets): reconcile, cursor by key, narrow layout."""

from __future__ import annotations

import asyncio
import time

from console.ui.app import OpsConsoleApp
from console.ui.widgets import KeyedTable

from fakes import NOW, FakeFarm, fake_config


async def wait_until(pilot, predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def make_app(farm: FakeFarm) -> OpsConsoleApp:
    return OpsConsoleApp(fake_config(), sources=farm.sources(), clock=lambda: NOW, identity="ops@bast161")


async def test_cursor_stays_on_its_host_when_a_row_above_vanishes():
    farm = FakeFarm()
    app = make_app(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one("#hosts-table", KeyedTable)
        await wait_until(pilot, lambda: table.row_count == 10)
        table.move_cursor(row=table.get_row_index("guest:mw152"))
        assert table.cursor_key == "guest:mw152"
        farm.guests = [g for g in farm.guests if g.name != "mw2"]
        await pilot.press("r")
        await wait_until(pilot, lambda: table.row_count == 9)
        assert table.cursor_key == "guest:mw152"


async def test_a_failing_source_shows_in_the_status_bar_and_its_panes_keep_their_rows():
    farm = FakeFarm()
    app = make_app(farm)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.query_one("#alerts-table", KeyedTable).row_count == 2)
        icinga = app.poller.sources["icinga"]
        icinga.failure = "connection failed: [Errno 111] Connection refused"
        farm.guests = farm.guests[:-1]
        await pilot.press("r")
        await wait_until(pilot, lambda: app.query_one("#hosts-table", KeyedTable).row_count == 9)
        await wait_until(pilot, lambda: "✖ icinga" in str(app.query_one("#status-bar").render()))
        assert "✖ icinga: connection failed … (data 0s old)" in str(app.query_one("#status-bar").render())
        assert app.query_one("#alerts-table", KeyedTable).row_count == 2


async def test_keys_switch_panes_and_open_help():
    app = make_app(FakeFarm())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused.id == "hosts-table"
        await pilot.press("3")
        assert app.focused.id == "services-table" and app.active_pane == 3
        await pilot.press("tab")
        assert app.focused.id == "commits-table"
        await pilot.press("tab")
        assert app.focused.id == "hosts-table"
        await pilot.press("shift+tab")
        assert app.focused.id == "commits-table"
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        assert app.screen.__class__.__name__ != "HelpScreen"
        await pilot.press("q")
    assert app.return_code == 0
