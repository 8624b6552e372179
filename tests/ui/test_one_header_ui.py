"""One header for every screen (issue 26, item 7), over the simulated farm: a host's detail and the log
screen say what the panes' header says (READ-WRITE, PAUSED); `W` in a read-write session asks "back to
read-only? y/N" — `write` typed by habit after it goes nowhere, `y` switches."""

from __future__ import annotations

import json

import pytest
from textual.screen import ModalScreen
from textual.widgets import Static
from ui_helpers import FIXED, IDENTITY, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.ui.app import OpsConsoleApp
from console.ui.dialogs import WriteSwitchScreen
from console.ui.screens.detail import HostDetailScreen
from console.ui.screens.logs import LogScreen

pytestmark = pytest.mark.sim


def mode(screen) -> str:
    return text_of(screen.query_one("#read-only", Static)).strip()


def paused(screen) -> bool:
    return screen.query_one("#paused", Static).display


def asking(app) -> bool:
    """The question of W in a read-write session is on screen (a modal: the panes take no key)."""
    screen = app.screen
    return isinstance(screen, ModalScreen) and "back to read-only? y/N" in text_of(screen.query_one(Static))


def audit_events(config) -> list[tuple[str, str]]:
    try:
        with open(config.actions.audit.path, encoding="utf-8") as handle:
            return [(record["event"], record.get("via", "")) for record in map(json.loads, handle)]
    except FileNotFoundError:
        return []


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")


async def open_mw152(pilot) -> HostDetailScreen:
    app = pilot.app
    await pilot.press("1")
    hosts = table(app, "hosts-table")
    hosts.move_cursor(row=hosts.get_row_index("guest:mw152"))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen), what="mw152's detail")
    await pilot.pause()
    return app.screen


async def test_the_detail_and_the_log_screen_show_the_sessions_mode_and_pause(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert mode(app.screen) == "READ-WRITE"
        await pilot.press("p")  # refresh held, from the panes
        detail = await open_mw152(pilot)
        assert mode(detail) == "READ-WRITE" and detail.query_one("#read-only").has_class("-write")
        assert paused(detail)
        await pilot.press("p")  # resumed, from the detail: its header follows at once
        assert not paused(detail) and not paused(app.header)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HostDetailScreen), what="back on the panes")
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen), what="the log screen")
        await pilot.pause()
        assert mode(app.screen) == "READ-WRITE" and not paused(app.screen)


async def test_w_in_read_write_asks_first_and_write_typed_by_habit_goes_nowhere(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("W")
        await wait_until(pilot, lambda: asking(app), what="the question")
        question = app.screen
        await pilot.press(*"write")  # by habit: r (refresh), i (incident), t (tasks) would be pane keys
        await pilot.pause()
        assert app.screen is question and app.actions.writable
        assert app.incident.incident is None  # `i` started nothing
        await pilot.press("enter")  # the default: No
        await wait_until(pilot, lambda: not asking(app), what="the question closed")
        assert app.actions.writable and mode(app.screen) == "READ-WRITE"
        await pilot.press("W")
        await wait_until(pilot, lambda: asking(app), what="the question again")
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.actions.writable, what="read-only")
        assert mode(app.screen) == "READ-ONLY" and not app.screen.query_one("#read-only").has_class("-write")
        detail = await open_mw152(pilot)
        assert mode(detail) == "READ-ONLY"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HostDetailScreen), what="back on the panes")
        # and back to read-write the usual way, typed and audited
        await pilot.press("W")
        await wait_until(pilot, lambda: isinstance(app.screen, WriteSwitchScreen), what="the write switch")
        await pilot.press(*"write", "enter")
        await wait_until(pilot, lambda: app.actions.writable, what="read-write")
        detail = await open_mw152(pilot)
        assert mode(detail) == "READ-WRITE"
    assert audit_events(config) == [("write-enabled", "--write"), ("write-enabled", "tui")]


async def test_esc_and_n_keep_read_write(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        for key in ("escape", "n"):
            await pilot.press("W")
            await wait_until(pilot, lambda: asking(app), what="the question")
            await pilot.press(key)
            await wait_until(pilot, lambda: not asking(app), what="the question closed")
            assert app.actions.writable and mode(app.screen) == "READ-WRITE"
