"""An action refreshes what it changed (issue 26, item 5), over the simulated farm: a guest start asks
Proxmox again when its task starts and when it ends, so the Hosts row says `running` at once; a
Puppet run asks PuppetDB, a depool the `backends` source. Every source is polled only every 10
minutes here: what shows up came from the action's own refresh, not from a poll."""

from __future__ import annotations

import pytest
from textual.widgets import Input, OptionList
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, table, wait_until

from console.actions import power
from console.sim import proxmox_tasks
from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionMenu, ActionScreen

pytestmark = pytest.mark.sim

SLOW = 600.0  # seconds between two polls of every source: within a test, only a refresh asks again


@pytest.fixture(autouse=True)
def quick_tasks(monkeypatch):
    monkeypatch.setattr(power, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"start": 1.0, "shutdown": 1.0, "reboot": 1.0, "stop": 0.5})


def polled_slowly(config):
    """The config with every source (and the backend lists) polled every SLOW seconds."""
    sources = config.sources
    slow = {kind: [item.model_copy(update={"interval": SLOW}) for item in getattr(sources, kind)]
            for kind in ("proxmox", "puppetdb", "icinga", "graylog", "commits")}
    depool = config.actions.depool.model_copy(update={"list_interval": SLOW})
    return config.model_copy(update={"sources": sources.model_copy(update=slow),
                                     "actions": config.actions.model_copy(update={"depool": depool})})


def app_on(config) -> OpsConsoleApp:
    return OpsConsoleApp(polled_slowly(config), clock=FIXED, identity=IDENTITY, write=True)


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), timeout=20,
                     what="every pane filled")


def host_key(app, name: str) -> str:
    return next(key for key in table(app, "hosts-table").row_keys() if key.split(":", 1)[-1] == name)


def hosts_cell(app, name: str, column: int) -> str:
    return cell_text(table(app, "hosts-table").get_row(host_key(app, name))[column])


def record_refreshes(app, screen_of) -> list[tuple[str, bool]]:
    """Every source the app asks the poller to fetch now, with whether the action's step had finished."""
    asked: list[tuple[str, bool]] = []
    refresh_now = app.poller.refresh_now

    def recording(name=None):
        screen = screen_of()
        finished = screen is not None and any(line.plain.startswith("step-finished") for line in screen.progress)
        asked.append((name, finished))
        refresh_now(name)

    app.poller.refresh_now = recording
    return asked


async def pick(pilot, key: str, entry: str) -> ActionScreen:
    """Hosts pane, cursor on `key`, `a`, then the menu entry `entry`: its action screen."""
    app = pilot.app
    await pilot.press("1")
    rows = table(app, "hosts-table")
    rows.move_cursor(row=rows.get_row_index(key))
    await pilot.pause()
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
    menu = app.screen.query_one(OptionList)
    ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
    assert entry in ids, ids
    menu.highlighted = ids.index(entry)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), timeout=20, what="the action screen")
    return app.screen


async def run_it(pilot, screen: ActionScreen, reason: str) -> None:
    screen.query_one("#action-reason", Input).value = reason
    screen.query_one("#action-reason", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    assert screen.stage == "confirm"
    await pilot.press("y")  # tier 1: one target, reversible
    await wait_until(pilot, lambda: screen.result is not None, timeout=30, what="the action's result")
    assert screen.result.outcome == "success", screen.result.render()


async def test_a_guest_start_refreshes_proxmox_when_its_task_starts_and_when_it_ends(farm, config):
    farm.model.set_guest_status("mw151", "stopped")
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert "stopped" in hosts_cell(app, "mw151", 1)
        screen = await pick(pilot, host_key(app, "mw151"), "guest:start")
        asked = record_refreshes(app, lambda: screen)
        await run_it(pilot, screen, "back after maintenance")
        await wait_until(pilot, lambda: "running" in hosts_cell(app, "mw151", 1), timeout=5,
                         what="the Hosts row to say running")
        assert ("pve", False) in asked  # at once: Proxmox took the request, its task is running
        assert ("pve", True) in asked  # again when the task ended
        assert {name for name, _ in asked} == {"pve"}  # nothing else changed


async def test_a_puppet_run_refreshes_puppetdb(farm, config):
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        before = hosts_cell(app, "mw151", 2)
        screen = await pick(pilot, host_key(app, "mw151"), "puppet:run")
        asked = record_refreshes(app, lambda: screen)
        await run_it(pilot, screen, "deploy check")
        assert [name for name, _ in asked] == ["puppetdb"]
        # the run's report (made now, by the fixed clock) is in the Hosts row without waiting for a poll
        await wait_until(pilot, lambda: hosts_cell(app, "mw151", 2) != before, timeout=5,
                         what="the Hosts row's Puppet cell to change")


async def test_a_depool_refreshes_the_backend_lists(farm, config):
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        kinds = {name: source.kind for name, source in app.poller.sources.items()}
        backends = [name for name, kind in kinds.items() if kind == "backends"]
        assert backends, kinds  # the caches' backend lists are polled (actions.depool.method: service)
        screen = await pick(pilot, host_key(app, "mw151"), "depool")
        asked = record_refreshes(app, lambda: screen)
        answers = []
        app.store.subscribe(lambda name: answers.append(name) if name in backends else None)
        await run_it(pilot, screen, "mw151 misbehaves")
        assert {name for name, _ in asked} == set(backends)
        await wait_until(pilot, lambda: bool(answers), timeout=10, what="the backend lists fetched again")


def test_what_each_action_changes_comes_from_its_steps():
    from console.actions.plan import Step
    from console.ui.desk import changed_sources

    sources = {"pve": "proxmox", "pve-b": "proxmox", "icinga": "icinga", "puppetdb": "puppetdb",
               "backends": "backends", "graylog": "graylog"}

    def step(kind: str, executor: str) -> Step:
        return Step(index=0, kind=kind, executor=executor, target="mw151", subject="mw151")

    assert changed_sources([step("guest-start", "proxmox:pve-b")], sources) == ["pve-b"]  # the source it went through
    assert changed_sources([step("guest-start", "proxmox:elsewhere")], sources) == ["pve", "pve-b"]  # not polled: every one
    assert changed_sources([step("acknowledge-problem", "icinga:icinga")], sources) == ["icinga"]
    assert changed_sources([step("depool", "depool:cp161"), step("repool", "command:ssh")], sources) == ["backends"]
    assert changed_sources([step("puppet-disable", "command:ssh")], sources) == ["puppetdb"]
    restart = [step("schedule-downtime", "icinga:icinga"), step("depool", "depool:cp161"), step("restart", "command:ssh")]
    assert changed_sources(restart, sources) == ["icinga", "backends"]
    assert changed_sources([step("purge", "cache:cp161")], sources) == []
    assert changed_sources([step("depool", "depool:cp161")], {"pve": "proxmox"}) == []  # no backends source: nothing
