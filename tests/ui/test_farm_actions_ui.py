"""The #7 actions in the console, over the simulated farm: the Hosts menu's Puppet run and guest reboot
(confirmation → streamed output → result), the Services pane's rolling restart cancelled with `c`
between batches, the task list's progress, and the backends view."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, table, wait_until

from console.actions import power
from console.sim import proxmox_tasks
from console.ui.app import OpsConsoleApp
from console.ui.dialogs import ConfirmCancelScreen
from console.ui.screens.action import ActionMenu, ActionScreen
from console.ui.screens.backends import BackendsScreen
from console.ui.screens.tasks import TasksScreen

pytestmark = pytest.mark.sim


@pytest.fixture(autouse=True)
def quick_tasks(monkeypatch):
    monkeypatch.setattr(power, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"start": 0.2, "shutdown": 0.2, "reboot": 0.3, "stop": 0.1})


def rendered(widget) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


def body(app) -> str:
    return rendered(app.screen.query_one("#action-plan-text"))


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")


async def pick(pilot, pane: str, table_id: str, key: str, entry: str) -> ActionScreen:
    """Cursor on `key` in the pane, `a`, then the menu entry whose id is `entry`."""
    app = pilot.app
    await pilot.press(pane)
    rows = table(app, table_id)
    rows.move_cursor(row=rows.get_row_index(key))
    await pilot.pause()
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
    menu = app.screen.query_one(OptionList)
    ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
    assert entry in ids, ids
    menu.highlighted = ids.index(entry)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
    return app.screen


async def confirm(pilot, screen: ActionScreen, reason: str, answer: str | None = None) -> None:
    screen.query_one("#action-reason", Input).value = reason
    screen.query_one("#action-reason", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    assert screen.stage == "confirm", rendered(screen.query_one("#action-message"))
    if answer is None:
        await pilot.press("y")
    else:
        word = screen.query_one("#action-confirm-word", Input)
        word.value = answer
        word.focus()
        await pilot.press("enter")


def host_key(app, name: str) -> str:
    return next(key for key in table(app, "hosts-table").row_keys() if key.split(":", 1)[-1] == name)


async def test_puppet_run_from_the_hosts_menu_streams_output_and_shows_the_result(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        screen = await pick(pilot, "1", "hosts-table", host_key(app, "mw151"), "puppet:run")
        assert "sudo puppet agent -tv" in body(app)
        await confirm(pilot, screen, "deploy check")
        await wait_until(pilot, lambda: screen.result is not None, what="the puppet run's result")
        await pilot.pause()
        text = body(app)
        assert "run Puppet on mw151: SUCCESS" in text
        assert "mw151: Info: Caching catalog for mw151.fsslc.wtnet" in text  # the output, kept under the result
        assert "exit 0" in text or "exit 2" in text


async def test_guest_reboot_shows_its_task_to_ok(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    vmid = farm.model.guests["mw152"].spec.vmid
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        screen = await pick(pilot, "1", "hosts-table", host_key(app, "mw152"), "guest:reboot")
        assert f"/qemu/{vmid}/status/reboot" in body(app) and "tier 2" in body(app)
        await confirm(pilot, screen, "kernel update", answer="go")
        await wait_until(pilot, lambda: screen.result is not None, what="the reboot's result")
        await pilot.pause()
        text = body(app)
        assert "SUCCESS" in text and "qmreboot OK" in text and "TASK OK" in text
        assert f"requesting reboot of VM {vmid} (ACPI)" in text


async def test_c_cancels_a_rolling_restart_between_batches(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        screen = await pick(pilot, "3", "services-table", "php-fpm", "rolling:php-fpm")
        assert screen.query_one("#action-batch", Input).value == "2"  # prefilled from actions.rolling
        assert screen.query_one("#action-budget", Input).value == "1"
        screen.query_one("#action-downtime", Input).value = "0"
        await pilot.pause()
        assert "in " in body(app) and "batches of 2" in body(app)
        plan_text = body(app)
        fleet_word = "php-fpm" if "IRREVERSIBLE" in plan_text or "tier 3" in plan_text else "go"
        await confirm(pilot, screen, "php-fpm leak", answer=fleet_word)
        await wait_until(pilot, lambda: any(line.plain.startswith("▶ batch 1") for line in screen.progress),
                         timeout=20, what="the first batch")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmCancelScreen), what="the cancel question")
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, timeout=60, what="the cancelled restart's result")
        assert screen.result.outcome == "cancelled"
        assert not any(line.plain.startswith("▶ batch 3") for line in screen.progress)
        assert any(s.status == "skipped" for s in screen.result.steps)
        await pilot.press("escape")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen))
        row = [cell_text(c) for c in app.screen.table.get_row_at(0)]
        assert row[2] == "CANCELLED" and "steps" in row[3]


async def test_backends_view_reads_every_cache(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        app.panes_screen.run_jump("backends")
        await wait_until(pilot, lambda: isinstance(app.screen, BackendsScreen), what="the backends view")
        view = app.screen
        await wait_until(pilot, lambda: view.table.row_count > 0, what="the backend rows")
        columns = [str(column.label) for column in view.table.columns.values()]
        assert columns == ["backend", "cp161", "cp171", "cp191", "cp201"]
        names = [cell_text(view.table.get_row_at(i)[0]) for i in range(view.table.row_count)]
        assert "mw151" in names
        await pilot.press("r")
        await wait_until(pilot, lambda: not view.loading and view.table.row_count > 0, what="the refresh")
