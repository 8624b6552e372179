"""A new action is one ActionSpec (console/actions/specs.py): a test-only no-op spec added to the list —
and nothing else changed — is a CLI command, an entry of its scope's `a` menu and of the palette, and
it is planned, audited and run by the same engine as every other action."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from textual.widgets import Input, OptionList
from ui_helpers import IDENTITY, every_pane_has_rows, every_source_answered, table, wait_until

from console.actions import specs
from console.actions.catalog import new_plan
from console.actions.plan import Risk, Step
from console.actions.specs import HOSTS, ActionSpec, Use, words
from console.cli.main import main
from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionMenu, ActionScreen

pytestmark = pytest.mark.sim

RAN: list[str] = []  # the hosts the no-op "ran" on, in this process


@dataclass(frozen=True)
class NoOp:
    spec: ClassVar[str] = "noop"
    hosts: tuple[str, ...]


def make_noop(values: Any, context: Any) -> NoOp:
    return NoOp(words(values.get("hosts")))


def plan_noop(action: NoOp, context: Any) -> Any:
    steps = tuple(Step(index=i, kind="noop", executor="none", target=host, subject=host, note="nothing at all")
                  for i, host in enumerate(action.hosts))
    return new_plan(context, action="noop", title=f"do nothing on {', '.join(action.hosts)}", targets=action.hosts,
                    risk=Risk.REVERSIBLE, steps=steps, key="noop:" + ",".join(action.hosts),
                    log_summary=f"did nothing on {', '.join(action.hosts)}")


async def run_noop(run: Any) -> list[Any]:
    results = []
    for step in run.plan.steps:
        await run.emit("step-started", f"nothing on {step.target}", step=step)
        RAN.append(step.target)
        results.append(run.result(step, "ok", "did nothing"))
        await run.emit("step-finished", f"{step.target}: ok", step=step, status="ok")
    return results


NOOP = ActionSpec("noop", "no-op (a test's)", "Do nothing on HOSTs: a test-only action.", (HOSTS,),
                  make_noop, plan_noop, run_noop, (1, 2), command=("noop",), uses=(Use("hosts", "hosts"),))


@pytest.fixture
def with_noop(monkeypatch):
    monkeypatch.setattr(specs, "SPECS", (*specs.SPECS, NOOP))
    RAN.clear()


def audit_records(farm) -> list[dict[str, Any]]:
    path = farm.state_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_spec_is_a_cli_command_planned_audited_and_run(with_noop, farm, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = tmp_path / "farm.yaml"
    config.write_text(farm.config_yaml())
    runner = CliRunner()
    listed = runner.invoke(main, ["--help"]).output
    assert "noop" in listed and "Do nothing on HOSTs" in listed
    dry = runner.invoke(main, ["--config", str(config), "noop", "mw151", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["plan"]["action"] == "noop" and RAN == []
    done = runner.invoke(main, ["--config", str(config), "--write", "noop", "mw151", "mw152", "--reason", "a test",
                                "--yes", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["result"]["outcome"] == "success"
    assert RAN == ["mw151", "mw152"]
    events = [(r["event"], r.get("action")) for r in audit_records(farm)]
    assert ("intent", "noop") in events and ("result", "noop") in events


async def test_the_spec_is_in_its_scopes_menu_and_the_palette_and_runs(with_noop, farm, config):
    app = OpsConsoleApp(config, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane")
        await pilot.press("1")
        hosts = table(app, "hosts-table")
        hosts.move_cursor(row=hosts.get_row_index("guest:mw151"))
        await pilot.pause()
        # the palette lists it ...
        palette = [command.title for command in app.panes_screen.palette()]
        assert "Action: no-op (a test's)" in palette
        # ... and the Hosts pane's `a` offers it, for the host under the cursor
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
        menu = app.screen.query_one(OptionList)
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        assert "noop" in ids
        menu.highlighted = ids.index("noop")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="its action screen")
        screen = app.screen
        screen.query_one("#action-reason", Input).value = "a test"
        screen.query_one("#action-reason", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.stage == "confirm"
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, what="the result")
        assert screen.result.outcome == "success" and RAN == ["mw151"]
    assert ("result", "noop") in [(r["event"], r.get("action")) for r in audit_records(farm)]
