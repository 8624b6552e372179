"""Untrusted text is data (issue 20), pressed through the console's keys over the simulated farm: names,
plugin output, command output, other operators' reasons, backend names and the operator's own input
holding Textual/Rich markup and terminal escapes never crash the console, never format what is shown,
and never reach the screen as a raw control byte — the stand-ins (console.core.display) and the literal
brackets are shown instead. The farm is made hostile here, by mutating its model."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from textual.events import Paste
from textual.widgets import Input, OptionList
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, table, wait_until

from console.sim import depool
from console.ui.app import OpsConsoleApp
from console.ui.dialogs import ConfirmEndScreen
from console.ui.screens.action import ActionMenu, ActionScreen
from console.ui.screens.backends import BackendsScreen
from console.ui.screens.leftovers import CleanupScreen, LeftoversScreen
from console.ui.screens.tasks import TasksScreen
from console.ui.screens.timeline import StartIncidentScreen, TimelineScreen

pytestmark = pytest.mark.sim

ESCAPE = "\x1b]0;PWN\x07"  # OSC 0: would retitle the operator's terminal window
SHOWN_ESCAPE = "⟨U+001B⟩]0;PWN^G"  # its stand-in
MARKUP = "[/][b]x[/b]"  # `[/]` alone is a MarkupError; `[b]` would make a bold x
HOSTILE_CHECK = f"{MARKUP} {ESCAPE}"
ALERT_KEY = f"mw152!{HOSTILE_CHECK}"


def app_on(config, write: bool = True) -> OpsConsoleApp:
    return OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=write)


def shown(app) -> str:
    """Every line of the screen on top (a modal with what is behind it), as the terminal gets it."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def rendered(widget) -> str:
    """A Static's content rendered to plain text (a Text, a Table, a Group)."""
    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


def title_of(widget) -> str:
    return widget._border_title.plain if widget._border_title is not None else ""


def assert_safe(app, *expected: str) -> str:
    """The app is alive, the screen holds no raw control byte, and shows each `expected` literally."""
    assert app.is_running and app._exception is None
    text = shown(app)
    assert "\x1b" not in text and "\x07" not in text, text
    for part in expected:
        assert part in text, f"{part!r} not on the screen:\n{text}"
    return text


async def settled(pilot, *alert_keys: str) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app)
                     and all(key in table(app, "alerts-table").row_keys() for key in alert_keys),
                     timeout=20, what="every pane filled")


async def reason_and_enter(pilot, screen: ActionScreen, reason: str) -> None:
    screen.query_one("#action-reason", Input).value = reason
    screen.query_one("#action-reason", Input).focus()
    await pilot.press("enter")
    await pilot.pause()


async def test_a_hostile_check_name_through_the_menu_the_confirmation_the_result_and_the_task_list(farm, config):
    farm.model.set_check("mw152", HOSTILE_CHECK, "CRITICAL", output=f"CRITICAL {MARKUP} {ESCAPE}")
    app = app_on(config)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot, ALERT_KEY)
        await pilot.press("2")
        alerts = table(app, "alerts-table")
        alerts.move_cursor(row=alerts.get_row_index(ALERT_KEY))
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
        await pilot.pause()
        menu = app.screen.query_one(OptionList)
        assert title_of(menu) == f"Actions: mw152!{MARKUP} {SHOWN_ESCAPE}"
        assert_safe(app, f"{MARKUP} {SHOWN_ESCAPE}")
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        menu.highlighted = ids.index("ack")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
        screen = app.screen
        await pilot.pause()
        assert f"{MARKUP} {SHOWN_ESCAPE}" in rendered(screen.query_one("#action-plan-text"))
        assert_safe(app, SHOWN_ESCAPE)
        await reason_and_enter(pilot, screen, "look [/][i]x[/i]")
        assert screen.stage == "confirm", rendered(screen.query_one("#action-message"))
        question = rendered(screen.query_one("#action-challenge"))
        assert f"acknowledge mw152!{MARKUP} {SHOWN_ESCAPE}? [y/N]" in question
        assert_safe(app, "[y/N]", MARKUP)
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, what="the ack's result")
        await pilot.pause()
        assert screen.result.outcome == "success", screen.result.render()
        body = rendered(screen.query_one("#action-plan-text"))
        assert f"mw152!{MARKUP} {SHOWN_ESCAPE}" in body and "SUCCESS" in body
        assert_safe(app, "SUCCESS")
        await pilot.press("escape")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TasksScreen), what="the task list")
        await pilot.pause()
        row = [cell_text(cell) for cell in app.screen.table.get_row_at(0)]
        assert row[0] == f"acknowledge mw152!{MARKUP} {SHOWN_ESCAPE}" and row[5] == "look [/][i]x[/i]"
        assert_safe(app, "look [/][i]x[/i]")
    assert farm.model.slot("mw152", HOSTILE_CHECK).ack is not None  # the exact name reached Icinga


async def test_command_output_with_markup_and_escapes_is_shown_as_data(farm, config, monkeypatch):
    from console.actions import power
    from console.sim import proxmox_tasks

    monkeypatch.setattr(power, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"start": 0.2, "shutdown": 0.2, "reboot": 0.3, "stop": 0.1})
    farm.model.set_puppet_disabled("mw151", f"testing {MARKUP} {ESCAPE}")  # the agent prints the message
    app = app_on(config)
    async with app.run_test(size=(160, 40)) as pilot:
        await settled(pilot)
        await pilot.press("1")
        hosts = table(app, "hosts-table")
        key = next(key for key in hosts.row_keys() if key.split(":", 1)[-1] == "mw151")
        hosts.move_cursor(row=hosts.get_row_index(key))
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
        menu = app.screen.query_one(OptionList)
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        menu.highlighted = ids.index("puppet:run")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
        screen = app.screen
        await reason_and_enter(pilot, screen, "deploy check")
        assert screen.stage == "confirm", rendered(screen.query_one("#action-message"))
        await pilot.press("y")
        await wait_until(pilot, lambda: any("administratively disabled" in line.plain for line in screen.output),
                         timeout=20, what="the agent's output")
        said = next(line.plain for line in screen.output if "administratively disabled" in line.plain)
        assert f"(Reason: 'testing {MARKUP} {SHOWN_ESCAPE}')" in said
        assert all("\x1b" not in line.plain for line in [*screen.progress, *screen.output])
        await wait_until(pilot, lambda: screen.result is not None, timeout=20, what="the puppet run's result")
        await pilot.pause()
        body = rendered(screen.query_one("#action-plan-text"))
        assert f"testing {MARKUP} {SHOWN_ESCAPE}" in body
        assert_safe(app, f"{MARKUP} {SHOWN_ESCAPE}")


async def test_the_leftovers_board_and_its_clean_up_show_another_operators_words_as_data(farm, config):
    farm.model.set_check("mw152", HOSTILE_CHECK, "CRITICAL", output="CRITICAL")
    farm.model.acknowledge("mw152", HOSTILE_CHECK, author="eve", comment=f"on it {MARKUP} {ESCAPE}")
    farm.model.set_puppet_disabled("mw151", f"testing {MARKUP} {ESCAPE}", since=timedelta(hours=6))
    ack = f"ack:{ALERT_KEY}"
    app = app_on(config)
    async with app.run_test(size=(200, 50)) as pilot:
        await settled(pilot)
        await pilot.press(":")
        await pilot.press(*"leftovers")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LeftoversScreen), what="the leftovers board")
        board = app.screen
        await wait_until(pilot, lambda: board.loads >= 1 and ack in board.table.row_keys(), timeout=20,
                         what="the board's first load")
        await pilot.pause()
        assert_safe(app, f"mw152!{MARKUP} {SHOWN_ESCAPE}", f"on it {MARKUP} {SHOWN_ESCAPE}",
                    f"testing {MARKUP} {SHOWN_ESCAPE}")
        board.table.move_cursor(row=board.table.get_row_index(ack))
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, CleanupScreen), what="the clean-up's action screen")
        screen = app.screen
        await pilot.pause()
        assert title_of(screen.query_one("#action-box")) == f"remove ack: mw152!{MARKUP} {SHOWN_ESCAPE}"
        assert_safe(app, f"remove ack: mw152!{MARKUP} {SHOWN_ESCAPE}")
        await reason_and_enter(pilot, screen, "incident [/] over")
        assert screen.stage == "confirm", rendered(screen.query_one("#action-message"))
        assert_safe(app, f"mw152!{MARKUP} {SHOWN_ESCAPE}? [y/N]")
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, timeout=20, what="the clean-up's result")
        assert screen.result.outcome == "success", screen.result.render()
        await wait_until(pilot, lambda: ack not in board.table.row_keys(), timeout=20, what="the row to disappear")
        assert_safe(app, "SUCCESS")
    assert farm.model.slot("mw152", HOSTILE_CHECK).ack is None


HOSTILE_BACKEND = f"mw[/][b]9[/b]{ESCAPE}"


async def test_backends_named_with_markup_and_escapes_are_listed_as_data(farm, config, monkeypatch):
    servers = depool.app_servers
    monkeypatch.setattr(depool, "app_servers", lambda model: [*servers(model), HOSTILE_BACKEND])
    with farm.model.lock:
        farm.model.backend_admin["cp161"][HOSTILE_BACKEND] = "sick"  # depooled: named in the note too
    app = app_on(config, write=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await settled(pilot)
        app.panes_screen.run_jump("backends")
        await wait_until(pilot, lambda: isinstance(app.screen, BackendsScreen), what="the backends view")
        view = app.screen
        await wait_until(pilot, lambda: view.table.row_count > 0, timeout=20, what="the backend rows")
        await pilot.pause()
        names = [cell_text(view.table.get_row_at(i)[0]) for i in range(view.table.row_count)]
        assert f"mw[/][b]9[/b]{SHOWN_ESCAPE}" in names and "mw151" in names
        assert view.table.get_row(HOSTILE_BACKEND)  # the key stays the exact name
        note = rendered(view.query_one("#backends-note"))
        assert f"depooled: mw[/][b]9[/b]{SHOWN_ESCAPE} (1)" in note
        assert_safe(app, f"mw[/][b]9[/b]{SHOWN_ESCAPE}")
        await pilot.press("r")
        await wait_until(pilot, lambda: not view.loading and view.table.row_count > 0, what="the refresh")
        assert_safe(app)


INCIDENT_TITLE = "db [/] down [b]x[/b]"
OTHER_PLAN = "e" * 32


def other_operators_audit(path) -> None:
    """An action another operator ran, in their audit file (incident.audit): its title and reason hostile."""
    at = FIXED().isoformat()
    records = [
        {"event": "intent", "id": OTHER_PLAN, "time": at, "user": "eve", "host": "bast181", "action": "purge",
         "title": f"purge [/]{ESCAPE} from 4 caches", "targets": [f"https://meta.miraheze.org/[/]{ESCAPE}"],
         "reason": f"vandal [/][b]x[/b] {ESCAPE} - eve@bast181", "dry_run": False},
        {"event": "result", "id": OTHER_PLAN, "time": at, "outcome": "success", "dry_run": False},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


async def test_an_incident_typed_with_brackets_its_timeline_note_and_end_question_are_data(farm, config, tmp_path):
    farm.model.set_check("mw152", HOSTILE_CHECK, "CRITICAL", output=f"CRITICAL {MARKUP} {ESCAPE}")
    other = tmp_path / "eve-audit.jsonl"
    other_operators_audit(other)
    config = config.model_copy(update={"incident": config.incident.model_copy(update={"audit": [str(other)]})})
    app = app_on(config)
    async with app.run_test(size=(200, 50)) as pilot:
        await settled(pilot, ALERT_KEY)
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, StartIncidentScreen), what="the start screen")
        await pilot.press(*INCIDENT_TITLE)  # typed, key by key
        await pilot.press("enter", "enter")  # on to the (empty) task, then start
        await wait_until(pilot, lambda: app.incident.incident is not None, what="the incident to start")
        assert app.incident.incident.title == INCIDENT_TITLE  # the exact words in the model
        await pilot.pause()
        assert_safe(app, f"INCIDENT {INCIDENT_TITLE}")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), what="the timeline")
        timeline = app.screen.table
        await wait_until(pilot, lambda: any(e.ref.startswith(f"action:{OTHER_PLAN}") for e in app.incident.incident.entries)
                         and timeline.row_count == len(app.incident.incident.entries), what="eve's action in the timeline")
        await pilot.pause()
        rows = [[cell_text(cell) for cell in timeline.get_row_at(i)] for i in range(timeline.row_count)]
        assert [f"purge [/]{SHOWN_ESCAPE} from 4 caches: success", "eve@bast181",
                f"vandal [/][b]x[/b] {SHOWN_ESCAPE} - eve@bast181"] in [row[2:] for row in rows]
        assert any(row[2] == f"mw152!{MARKUP} {SHOWN_ESCAPE} went CRITICAL" for row in rows), rows
        assert rendered(app.screen.query_one("#timeline-head")).startswith(f"INCIDENT {INCIDENT_TITLE}")
        assert_safe(app, f"incident started: {INCIDENT_TITLE}", "vandal [/][b]x[/b]")
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"called [/] the [b]DBA[/b]")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(e.kind == "note" for e in app.incident.incident.entries), what="the note")
        await wait_until(pilot, lambda: timeline.row_count == len(app.incident.incident.entries), what="the note's row")
        await pilot.pause()
        assert_safe(app, "called [/] the [b]DBA[/b]")
        await pilot.press("E")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmEndScreen), what="the end question")
        await pilot.pause()
        assert_safe(app, f"End the incident '{INCIDENT_TITLE}'? Its timeline", "[y/N]")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.incident.incident is None, what="the incident to end")
        assert_safe(app)


async def test_an_unfinished_action_titled_with_a_line_break_is_one_line_of_the_warning(farm, config):
    intent = {"event": "intent", "id": "f" * 32, "time": FIXED().isoformat(), "user": "eve", "host": "bast181",
              "action": "purge", "title": f"purge x\nunfinished: forged [/] {ESCAPE}", "targets": ["[b]cp161[/b]"],
              "reason": "r - eve@bast181", "dry_run": False}
    path = Path(config.actions.audit.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(intent) + "\n", encoding="utf-8")
    app = app_on(config, write=False)
    async with app.run_test(size=(160, 40)) as pilot:
        def warnings() -> list[str]:
            return [n.message for n in app._notifications if "unfinished:" in n.message]

        await wait_until(pilot, lambda: bool(warnings()), what="the unfinished-action warning")
        await pilot.pause()
        message = warnings()[0]
        assert message.count("unfinished:") == 2 and "\n" not in message  # the forged line stays inside the first
        assert f"purge x^Junfinished: forged [/] {SHOWN_ESCAPE} started" in message and "[b]cp161[/b]" in message
        assert_safe(app)


# --- the operator's own input: whatever is typed or pasted into the form ------------------------------


@pytest.fixture
def form_app(farm, config):
    """ONE app for every example (a Runner keeps its loop and context between them)."""
    runner = asyncio.Runner()
    app = app_on(config)
    running = app.run_test(size=(160, 40))
    pilot = runner.run(running.__aenter__())
    try:
        yield pilot, runner
    finally:
        runner.run(running.__aexit__(None, None, None))
        runner.close()


async def type_into_purge(pilot, urls: str, reason: str) -> None:
    app = pilot.app
    while len(app.screen_stack) > 1:
        app.pop_screen()
        await pilot.pause()
    await pilot.press("P")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the purge screen")
    screen = app.screen
    for name, text in (("urls", urls), ("reason", reason)):
        field = screen.query_one(f"#action-{name}", Input)
        field.focus()
        field.post_message(Paste(text))  # as a paste arrives: its first line
        await pilot.pause()
    await pilot.press("enter")  # Next: the plan, then the question (or the refusal)
    await pilot.pause()
    assert_safe(app)
    assert screen.stage in ("form", "confirm")  # nothing is ever answered here: nothing is sent


URL_TEXT = st.one_of(st.text(), st.text().map(lambda path: f"https://meta.miraheze.org/wiki/{path}"))


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(urls=URL_TEXT, reason=st.text())
@example(urls="https://meta.miraheze.org/wiki/[/][b]x[/b]", reason="[/] why")
@example(urls=f"https://meta.miraheze.org/wiki/{ESCAPE}", reason=f"why {ESCAPE}")
@example(urls="[/]", reason="[")
def test_whatever_is_typed_into_the_purge_form_never_crashes_it(form_app, urls, reason):
    pilot, runner = form_app
    runner.run(type_into_purge(pilot, urls, reason))
