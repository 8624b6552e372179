"""The leftovers board in the console, over the simulated farm: `:leftovers` opens it, `x` on a row opens
the usual action screen for its clean-up, the confirmation runs it, and the board reloads without the row."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, wait_until

from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionScreen
from console.ui.screens.leftovers import CleanupScreen, LeftoversScreen

pytestmark = pytest.mark.sim

ACK = "ack:mw152!PHP-FPM"


def rendered(widget) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


async def open_board(pilot) -> LeftoversScreen:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")
    await pilot.press(":")
    await pilot.press(*"leftovers")
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, LeftoversScreen), what="the leftovers board")
    board = app.screen
    await wait_until(pilot, lambda: board.loads >= 1, timeout=20, what="the board's first load")
    return board


async def test_an_ack_without_expiry_is_cleaned_up_with_confirmation_and_its_row_disappears(farm, config):
    farm.model.acknowledge("mw152", "PHP-FPM", author="bob", comment="on it")  # no expiry: silences the next one too
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(140, 40)) as pilot:
        board = await open_board(pilot)
        keys = board.table.row_keys()
        assert ACK in keys, keys
        row = [cell_text(cell) for cell in board.table.get_row(ACK)]
        assert row[0] == "ack" and row[1] == "mw152!PHP-FPM" and "bob without expiry: on it" in row[2]
        assert row[4] == "remove ack"
        board.table.move_cursor(row=board.table.get_row_index(ACK))
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, CleanupScreen), what="the clean-up's action screen")
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        assert "remove-acknowledgement" in rendered(screen.query_one("#action-plan-text"))
        screen.query_one("#action-reason", Input).value = "incident over"
        screen.query_one("#action-reason", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.stage == "confirm", rendered(screen.query_one("#action-message"))
        assert farm.model.slot("mw152", "PHP-FPM").ack is not None  # nothing sent before the confirmation
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, timeout=20, what="the clean-up's result")
        assert screen.result.outcome == "success", screen.result.render()
        assert farm.model.slot("mw152", "PHP-FPM").ack is None
        await wait_until(pilot, lambda: ACK not in board.table.row_keys(), timeout=20, what="the row to disappear")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is board, what="back on the board")
        await wait_until(pilot, lambda: not board.loading, timeout=20, what="the reload after closing")
        assert ACK not in board.table.row_keys()


async def test_the_board_is_in_the_command_palette_and_r_reloads(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert any(title.startswith("Leftovers") for title in titles), titles
        board = await open_board(pilot)
        first = board.table.row_keys()
        farm.model.acknowledge("mw151", "HTTPS", author="carol", comment="cert")
        await pilot.press("r")
        await wait_until(pilot, lambda: board.loads >= 2, timeout=20, what="the reload")
        assert "ack:mw151!HTTPS" in board.table.row_keys() and "ack:mw151!HTTPS" not in first
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, LeftoversScreen), what="the board closed")
