"""What the action screen looks like with a purge's result: the per-cache verification table (SVG
snapshot under __snapshots__/; regenerate on purpose with
`--snapshot-update tests/ui/test_actions_snapshot.py` and look at it). The duration is pinned: the
caches answer in a few milliseconds, but not always the same few."""

from __future__ import annotations

import dataclasses

import pytest
from textual.widgets import Input
from ui_helpers import FIXED, IDENTITY, PANE_TABLES, every_pane_has_rows, every_source_answered, steady_sources, table, wait_until

from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionScreen

pytestmark = pytest.mark.sim


async def purged_main_page(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_pane_has_rows(app) and every_source_answered(app), what="every pane filled")
    for name in PANE_TABLES:  # the panes behind the screen: cursors on top, whichever source answered first
        table(app, name).move_cursor(row=0)
    await pilot.press("P")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
    screen = app.screen
    screen.query_one("#action-urls", Input).value = "https://meta.miraheze.org/wiki/Main_Page"
    screen.query_one("#action-reason", Input).value = "vandalism cleanup"
    screen.query_one("#action-task", Input).value = "T12345"
    screen.query_one("#action-reason", Input).focus()
    await pilot.press("enter", "y")
    await wait_until(pilot, lambda: screen.result is not None, what="the purge's result")
    screen.show_result(dataclasses.replace(screen.result, duration_s=0.04))
    app.clear_notifications()
    await pilot.pause()


def test_purge_result_120x40(config, snap_compare):
    app = OpsConsoleApp(config, sources=steady_sources(config), clock=FIXED, identity=IDENTITY, write=True)
    assert snap_compare(app, terminal_size=(120, 40), run_before=purged_main_page)
