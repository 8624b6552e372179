"""Safe actions in the console, over the simulated farm: the write switch, purge with its per-cache
verification, acknowledging an alert, refusals (read-only, no reason, a wrong word, already running),
the audit records and the task list."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input, Static
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, table, wait_until

from console.ui.app import OpsConsoleApp
from console.ui.dialogs import WriteSwitchScreen
from console.ui.screens.action import ActionScreen
from console.ui.screens.tasks import TasksScreen

pytestmark = pytest.mark.sim

MAIN_PAGE = "https://meta.miraheze.org/wiki/Main_Page"
CACHES = ("cp161", "cp171", "cp191", "cp201")


def app_on(config, write: bool = False) -> OpsConsoleApp:
    return OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=write)


def audit_records(config) -> list[dict]:
    path = config.actions.audit.path
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]
    except FileNotFoundError:
        return []


def purges(farm) -> int:
    return sum(1 for state in farm.model.caches.values() for method, _, _ in state.requests if method == "PURGE")


def rendered(widget: Static) -> str:
    """The plain text of what a Static shows (a Text, a Table or a Group)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


def message(app) -> str:
    return rendered(app.screen.query_one("#action-message", Static))


def body(app) -> str:
    return rendered(app.screen.query_one("#action-plan-text", Static))


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")


async def fill(pilot, **fields: str) -> None:
    for name, value in fields.items():
        pilot.app.screen.query_one(f"#action-{name}", Input).value = value
    await pilot.pause()


async def open_purge(pilot, urls: str = MAIN_PAGE, reason: str = "vandalism cleanup", task: str = "") -> ActionScreen:
    await pilot.press("P")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ActionScreen), what="the action screen")
    await fill(pilot, urls=urls, reason=reason, task=task)
    pilot.app.screen.query_one("#action-reason", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    return pilot.app.screen


async def select_alert(pilot, key: str = "mw152!PHP-FPM") -> None:
    await pilot.press("2")
    alerts = table(pilot.app, "alerts-table")
    alerts.move_cursor(row=alerts.get_row_index(key))
    await pilot.pause()


def done(screen: ActionScreen) -> bool:
    return screen.result is not None


async def test_purge_shows_the_verification_of_every_cache_and_is_audited(farm, config):
    app = app_on(config, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert "READ-WRITE" in rendered(app.header.query_one("#read-only", Static))
        assert app.header.query_one("#read-only").has_class("-write")
        screen = await open_purge(pilot, task="T12345")
        assert screen.stage == "confirm"
        assert screen.focused is screen.query_one("#action-no")  # No is the default of tier 1
        await pilot.press("y")
        await wait_until(pilot, lambda: done(screen), what="the purge's result")
        await pilot.pause()
        text = body(app)
        assert "SUCCESS" in text
        for cache in CACHES:
            line = next(line for line in text.splitlines() if line.strip().startswith(cache))
            assert "ok 200" in line and "MISS" in line and " 0 " in line and MAIN_PAGE in line
        assert purges(farm) == 4
        await pilot.press("escape")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen))
        tasks = app.screen.table
        assert tasks.row_count == 1
        row = [cell_text(c) for c in tasks.get_row_at(0)]
        assert row[0] == f"purge {MAIN_PAGE} from 4 caches" and row[1] == IDENTITY and row[2] == "SUCCESS"
    events = [(r["event"], r.get("via")) for r in audit_records(config)]
    assert events == [("write-enabled", "--write"), ("intent", None), ("result", None)]
    intent, result = audit_records(config)[1:]
    assert intent["reason"] == f"vandalism cleanup - {IDENTITY} - T12345" and intent["confirmed_via"] == "tui"
    assert result["outcome"] == "success" and len(result["results"]) == 4


async def test_acknowledging_the_php_fpm_alert_dims_its_row_with_ack(farm, config):
    app = app_on(config, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await select_alert(pilot)
        alerts = table(app, "alerts-table")
        assert "ACK" not in cell_text(alerts.get_row("mw152!PHP-FPM")[1])
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen))
        screen = app.screen
        await fill(pilot, reason="php-fpm restarts, looking")
        await pilot.press("enter")
        await pilot.press("y")
        await wait_until(pilot, lambda: done(screen), what="the ack's result")
        assert screen.result.outcome == "success"
        await pilot.press("escape")
        await wait_until(pilot, lambda: "ACK" in cell_text(alerts.get_row("mw152!PHP-FPM")[1]), what="the ACK flag")
        state = alerts.get_row("mw152!PHP-FPM")[0]
        assert "dim" in str(state.style) or any("dim" in str(span.style) for span in state.spans)


async def test_read_only_refuses_purge_and_ack_and_sends_nothing(farm, config):
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert "READ-ONLY" in rendered(app.header.query_one("#read-only", Static))
        screen = await open_purge(pilot)
        assert screen.stage == "form" and "read-only" in message(app)
        await pilot.press("escape")
        await select_alert(pilot)
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen))
        await fill(pilot, reason="looking")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.stage == "form" and "read-only" in message(app)
        await pilot.press("escape")
        await pilot.press("r")
        await pilot.pause(0.5)
        assert "ACK" not in cell_text(table(app, "alerts-table").get_row("mw152!PHP-FPM")[1])
    assert purges(farm) == 0
    assert farm.model.sal_log == []
    assert [r["event"] for r in audit_records(config)] == ["dry-run", "dry-run"]  # no intent: nothing was sent


async def test_the_reason_is_required(farm, config):
    app = app_on(config, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        screen = await open_purge(pilot, reason="  ")
        assert screen.stage == "form" and "reason" in message(app)
    assert purges(farm) == 0


async def test_a_wrong_word_does_not_run_tier_2(farm, config):
    app = app_on(config, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        screen = await open_purge(pilot, urls=f"{MAIN_PAGE} https://meta.miraheze.org/wiki/Special:RecentChanges")
        assert screen.stage == "confirm" and "go" in rendered(screen.query_one("#action-challenge", Static))
        word = screen.query_one("#action-confirm-word", Input)
        assert screen.focused is word
        word.value = "yes"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.stage == "confirm" and "not confirmed" in message(app)
        assert purges(farm) == 0
        word.value = "go"
        await pilot.press("enter")
        await wait_until(pilot, lambda: done(screen), what="the purge's result")
        assert purges(farm) == 8


async def test_write_switch_needs_the_typed_word_and_is_audited(farm, config):
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("W")
        await wait_until(pilot, lambda: isinstance(app.screen, WriteSwitchScreen))
        app.screen.query_one(Input).value = "yes"
        await pilot.press("enter")
        assert isinstance(app.screen, WriteSwitchScreen) and not app.actions.writable
        app.screen.query_one(Input).value = "write"
        await pilot.press("enter")
        await pilot.pause()
        assert app.actions.writable
        assert "READ-WRITE" in rendered(app.header.query_one("#read-only", Static))
    assert [(r["event"], r["via"], r["user"]) for r in audit_records(config)] == [("write-enabled", "tui", "ops")]


async def test_a_second_start_while_running_is_refused(farm, config):
    app = app_on(config, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        farm.set_fault("cp161", "hang")
        first = await open_purge(pilot)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.actions.engine.running(), what="the purge to be running")
        await pilot.press("escape")  # the screen closes, the purge goes on
        second = await open_purge(pilot)
        assert second is not first and second.stage == "form"
        assert "already running" in message(app)
        farm.set_fault("cp161", None)
        await wait_until(pilot, lambda: not app.actions.engine.running(), what="the purge to end")
        await pilot.pause()
        assert [t.outcome for t in app.actions.tasks.tasks] == ["success"]
    assert purges(farm) == 4
    assert [r["event"] for r in audit_records(config)].count("intent") == 1


async def test_marked_alerts_are_acknowledged_together_at_tier_2(farm, config):
    app = app_on(config, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await pilot.press("2")
        alerts = table(app, "alerts-table")
        keys = [k for k in alerts.row_keys() if k.startswith("mw152!")][:2]
        assert len(keys) == 2
        for key in keys:
            alerts.move_cursor(row=alerts.get_row_index(key))
            await pilot.pause()
            await pilot.press("space")
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen))
        screen = app.screen
        await fill(pilot, reason="mw152 is being looked at")
        await pilot.press("enter")
        assert screen.stage == "confirm" and screen.plan.risk == 2 and set(screen.plan.targets) == set(keys)
        screen.query_one("#action-confirm-word", Input).value = "go"
        await pilot.press("enter")
        await wait_until(pilot, lambda: done(screen), what="the ack's result")
        assert screen.result.outcome == "success" and len(screen.result.steps) == 2
