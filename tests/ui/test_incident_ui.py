"""Incident mode, scripted on the demo farm's PHP-FPM incident: `i` starts it, the alert is
acknowledged through the action screen, PHP-FPM is restarted on mw152 (out of band), and the timeline
holds every step in order; the exported report equals the golden file; the incident survives a restart.

Regenerate the golden file deliberately with UPDATE_GOLDEN=1 and read the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Input
from ui_helpers import FIXED, IDENTITY, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.derive.incident import IncidentFile
from console.sim.hostcmds import restart
from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionScreen
from console.ui.screens.timeline import StartIncidentScreen, TimelineScreen

pytestmark = pytest.mark.sim
GOLDEN = Path(__file__).parent / "golden" / "incident_report.md"


def app_on(config) -> OpsConsoleApp:
    return OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app)
                     and "mw152!PHP-FPM" in table(app, "alerts-table").row_keys(), what="every pane filled")


async def start_incident(pilot, title: str, task: str) -> None:
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StartIncidentScreen), what="the start screen")
    screen = pilot.app.screen
    screen.query_one("#incident-title", Input).value = title
    screen.query_one("#incident-task", Input).value = task
    screen.query_one("#incident-title", Input).focus()
    await pilot.press("enter")
    if not task:
        await pilot.press("enter")  # enter in the title goes on to the (empty) task; enter there starts
    await wait_until(pilot, lambda: pilot.app.incident.incident is not None, what="the incident to start")


async def acknowledge_php_fpm(pilot) -> None:
    app = pilot.app
    await pilot.press("2")
    alerts = table(app, "alerts-table")
    alerts.move_cursor(row=alerts.get_row_index("mw152!PHP-FPM"))
    await pilot.pause()
    await pilot.press("A")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
    screen = app.screen
    screen.query_one("#action-reason", Input).value = "php-fpm hung on mw152, restarting"
    screen.query_one("#action-reason", Input).focus()
    await pilot.press("enter")
    await pilot.press("y")
    await wait_until(pilot, lambda: screen.result is not None, what="the ack's result")
    assert screen.result.outcome == "success"
    await pilot.press("escape")


async def test_a_scripted_incident_makes_a_timeline_and_the_golden_report(farm, config, tmp_path):
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await start_incident(pilot, "PHP-FPM down on mw152", "T12345")
        assert "INCIDENT T12345 PHP-FPM down on mw152" in text_of(app.header.query_one("#incident"))
        await acknowledge_php_fpm(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: any(e.kind == "handled" for e in app.incident.incident.entries),
                         what="the acknowledgement in the timeline")
        restart(farm.model, "mw152", "php8.4-fpm")  # the fix, done on the host
        await pilot.press("r")
        await wait_until(pilot, lambda: any(e.kind == "recovery" and e.text.startswith("mw152!PHP-FPM")
                                            for e in app.incident.incident.entries), what="the recovery")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), what="the timeline")
        timeline = app.screen.table
        await wait_until(pilot, lambda: timeline.row_count == len(app.incident.incident.entries))
        shown = [(str(timeline.get_row_at(i)[1]), str(timeline.get_row_at(i)[2])) for i in range(timeline.row_count)]

        mine = [(kind, text) for kind, text in shown if "mw152!PHP-FPM" in text or kind in ("start", "action", "commit")]
        assert mine == [
            ("commit", "miraheze/puppet 7942c950 Add speedscope211"),  # 31 min before, the ◆ suspect
            ("alert", "mw152!PHP-FPM was already CRITICAL"),
            ("start", "incident started: PHP-FPM down on mw152"),
            ("handled", "mw152!PHP-FPM acknowledged"),
            ("action", "acknowledge mw152!PHP-FPM: success"),
            ("recovery", "mw152!PHP-FPM recovered (OK)"),
        ]
        times = [str(timeline.get_row_at(i)[0]) for i in range(timeline.row_count)]
        assert times == sorted(times)
        report = app.incident.export(tmp_path / "report.md").read_text()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(report)
    assert report == GOLDEN.read_text()


async def test_the_incident_survives_a_restart_and_ends_archived(farm, config):
    async with app_on(config).run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        await start_incident(pilot, "PHP-FPM down on mw152", "")
        first = pilot.app.incident.incident
        assert first.task is None
    app = app_on(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert app.incident.incident is not None and app.incident.incident.id == first.id
        await pilot.press("colon")
        for key in "timeline":
            await pilot.press(key)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen), what="the timeline")
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#note", Input).value = "called the DBA"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any(e.kind == "note" for e in app.incident.incident.entries))
        await pilot.press("E")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.incident.incident is None, what="the incident to end")
    store = IncidentFile(config.incident.state)
    assert store.load() is None
    archived = store.latest_archived()
    assert archived.id == first.id and archived.ended_at is not None
    assert [e.text for e in archived.entries if e.kind == "note"] == ["called the DBA"]
