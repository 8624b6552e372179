"""`?` shows the keys of the screen it is pressed on, made from that screen's bindings: every active
binding with a description is listed with its key, and nothing that is not one (so the help can
never go stale). Checked on the panes, a host's detail, the logs, the timeline, the task list, the
leftovers board and the backends view."""

from __future__ import annotations

import pytest
from textual.screen import Screen
from ui_helpers import IDENTITY, every_pane_has_rows, every_source_answered, wait_until

from console.ui.app import OpsConsoleApp
from console.ui.screens.backends import BackendsScreen
from console.ui.screens.detail import HostDetailScreen
from console.ui.screens.help import HelpScreen
from console.ui.screens.leftovers import LeftoversScreen
from console.ui.screens.logs import LogScreen
from console.ui.screens.panes import PanesScreen
from console.ui.screens.tasks import TasksScreen
from console.ui.screens.timeline import TimelineScreen

pytestmark = pytest.mark.sim


def rendered(widget) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


def bindings_of(screen: Screen) -> dict[str, set[str]]:
    """description -> the keys bound to it, as the screen's active bindings say (enabled ones)."""
    found: dict[str, set[str]] = {}
    for key, active in screen.active_bindings.items():
        if active.binding.description and active.enabled:
            found.setdefault(active.binding.description, set()).add(key)
    return found


def help_rows(help_screen: HelpScreen) -> dict[str, set[str]]:
    """description -> the keys the help lists for it."""
    rows: dict[str, set[str]] = {}
    for keys, description in help_screen.entries:
        rows.setdefault(description, set()).update(keys.split("  "))
    return rows


async def check_help(pilot, screen: Screen) -> None:
    app = pilot.app
    await pilot.pause()  # the screen mounted and focused
    expected = bindings_of(screen)
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what=f"the help of {type(screen).__name__}")
    shown = app.screen
    listed = help_rows(shown)
    assert set(listed) == set(expected), type(screen).__name__
    for description, keys in expected.items():  # each key once, however it is displayed (esc, ?, ⏎)
        assert len(listed[description]) == len(keys), (description, listed[description], keys)
    for description in expected:
        assert description in rendered(shown.query_one("#help-keys"))
    await pilot.press("escape")
    await wait_until(pilot, lambda: app.screen is screen, what="the help closed")


async def test_every_screens_help_is_its_bindings(config):
    app = OpsConsoleApp(config, identity=IDENTITY)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane")
        panes = app.screen
        assert isinstance(panes, PanesScreen)
        await check_help(pilot, panes)
        help_text = bindings_of(panes)
        assert "Actions on the selected / marked rows" in help_text and "Quit" in help_text  # the action and app keys too

        await pilot.press("1")
        openers = [  # how an operator gets there (a key, or the `:` command's method) and what opens
            (lambda: pilot.press("enter"), HostDetailScreen),
            (lambda: panes.open_logs("*"), LogScreen),
            (panes.open_timeline, TimelineScreen),
            (lambda: pilot.press("t"), TasksScreen),
            (panes.open_leftovers, LeftoversScreen),
            (panes.open_backends, BackendsScreen),
        ]
        for open_it, kind in openers:
            opened = open_it()
            if opened is not None:
                await opened
            await wait_until(pilot, lambda kind=kind: isinstance(app.screen, kind), what=kind.__name__)
            await check_help(pilot, app.screen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is panes, what="back on the panes")


async def test_from_a_screen_over_the_panes_1_to_4_go_back_to_that_pane(config):
    app = OpsConsoleApp(config, identity=IDENTITY)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane")
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen), what="a host's detail")
        await pilot.press("3")
        await wait_until(pilot, lambda: isinstance(app.screen, PanesScreen), what="back on the panes")
        assert app.active_pane == 3 and app.focused is app.pane(3).table
