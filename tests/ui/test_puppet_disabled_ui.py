"""Puppet disabled: when and by whom (issue 26, item 8), over the simulated farm. A host's detail says
since when the agent is disabled (its last run: a disabled agent reports no more) and who disabled it
when the message names someone as the console's own reasons do (`- user@host`); the leftovers board
shows how long ago before the message and cuts a long message with `…`, so at 80×24 it is on screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rich.text import Text
from textual.widgets import Input, OptionList
from ui_helpers import FIXED, FIXED_AT, IDENTITY, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.derive.cells import humanize_age
from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionMenu, ActionScreen
from console.ui.screens.detail import HostDetailScreen
from console.ui.screens.leftovers import LeftoversScreen

pytestmark = pytest.mark.sim

LONG = ("upgrading the kernel and reloading the whole php-fpm pool on every app server of the farm, "
        "see the task for the plan - alice@bast161 - T12345")


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), timeout=20,
                     what="every pane filled")


def host_key(app, name: str) -> str:
    return next(key for key in table(app, "hosts-table").row_keys() if key.split(":", 1)[-1] == name)


async def open_detail(pilot, name: str) -> HostDetailScreen:
    app = pilot.app
    await pilot.press("1")
    hosts = table(app, "hosts-table")
    hosts.move_cursor(row=hosts.get_row_index(host_key(app, name)))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending,
                     timeout=20, what=f"{name}'s detail loaded")
    await pilot.pause()
    return app.screen


def puppet_lines(screen: HostDetailScreen) -> list[str]:
    return text_of(screen.query_one("#sec-puppet")).splitlines()


def last_report(app, name: str):
    """The node's last report time, as the store has it (PuppetDB's report_timestamp)."""
    for inventory in app.store.data_of_kind("puppetdb"):
        for node in inventory.nodes:
            if node.certname.split(".")[0] == name:
                return node.report_timestamp
    raise AssertionError(f"{name} not in PuppetDB")


async def test_the_detail_says_since_when_and_by_whom(farm, config):
    farm.model.set_puppet_disabled("mw153", LONG, since=timedelta(hours=3))
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        last = last_report(app, "mw153")
        assert FIXED_AT - timedelta(hours=3, minutes=31) < last <= FIXED_AT - timedelta(hours=3)  # runs every 30 min
        lines = puppet_lines(await open_detail(pilot, "mw153"))
        at = lines.index(f"⏸ agent disabled: {LONG}")
        assert lines[at + 1] == (f"  since its last run, {humanize_age(FIXED_AT - last)} ago ({last:%H:%M} UTC)"
                                 " · by alice@bast161")


async def test_a_disable_from_the_console_names_its_operator_in_the_detail(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        last = last_report(app, "mw151")
        await pilot.press("1")
        hosts = table(app, "hosts-table")
        hosts.move_cursor(row=hosts.get_row_index(host_key(app, "mw151")))
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
        menu = app.screen.query_one(OptionList)
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        menu.highlighted = ids.index("puppet:disable")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
        screen = app.screen
        screen.query_one("#action-reason", Input).value = "kernel upgrade"
        screen.query_one("#action-task", Input).value = "T77"
        screen.query_one("#action-reason", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, timeout=20, what="the disable's result")
        assert screen.result.outcome == "success", screen.result.render()
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ActionScreen), what="back on the panes")
        lines = puppet_lines(await open_detail(pilot, "mw151"))
        at = lines.index("⏸ agent disabled: kernel upgrade - ops@bast161 - T77")
        assert lines[at + 1] == f"  since its last run, {humanize_age(FIXED_AT - last)} ago ({last:%H:%M} UTC) · by ops@bast161"


async def test_the_leftovers_board_shows_how_long_ago_first_at_80x24(farm, config):
    farm.model.set_puppet_disabled("mw153", LONG, since=timedelta(hours=6))
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot)
        await pilot.press(":", *"leftovers", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LeftoversScreen), what="the leftovers board")
        board = app.screen
        await wait_until(pilot, lambda: board.loads >= 1 and "puppet-disabled:mw153" in board.table.row_keys(),
                         timeout=20, what="the board's first load")
        await pilot.pause()
        row = board.table.get_row("puppet-disabled:mw153")
        what = row[2].plain if isinstance(row[2], Text) else str(row[2])
        assert what.startswith("6h") and " ago · agent disabled: u" in what, what  # how long ago, then the message
        assert what.endswith("…") and "T12345" not in what  # cut to the room the screen leaves it
        header = board.table.render_line(0).text
        line = board.table.render_line(board.table.get_row_index("puppet-disabled:mw153") + 1).text
        assert "since · what" in header, header
        assert "puppet off" in line and "mw153" in line and " ago · agent disabled" in line, line  # on screen
