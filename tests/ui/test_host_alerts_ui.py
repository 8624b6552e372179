"""Host problems in the console, over the simulated farm (issue 26, item 1): a guest Proxmox says is
running while Icinga says DOWN is an Alerts row from the first frame, its service problems folded under
it, the Hosts row says `running · DOWN`, enter opens the host, `A` acknowledges the host itself."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.core.model import CheckState, IcingaSnapshot
from console.sources import build_sources
from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionScreen
from console.ui.screens.detail import HostDetailScreen

pytestmark = pytest.mark.sim

OUTPUT = "CRITICAL - Host Unreachable (10.0.0.52)"


def settled(app) -> bool:
    return every_source_answered(app) and every_pane_has_rows(app)


def row_of(app, table_id: str, key: str) -> list[str]:
    return [cell_text(cell) for cell in table(app, table_id).get_row(key)]


def column(app, pane: int, key: str) -> int:
    return [c.key for c in app.pane(pane).view.columns].index(key)


def service_problems(app, host: str) -> int:
    (snapshot,) = app.store.data_of_kind("icinga")
    assert isinstance(snapshot, IcingaSnapshot)
    return sum(1 for c in snapshot.services if c.host == host and c.state != CheckState.OK)


async def test_a_down_host_is_an_alert_from_the_first_frame_and_enter_opens_it(farm, config):
    farm.model.set_host_state("mw152", "DOWN", OUTPUT)
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app), what="every pane filled")
        alerts = table(app, "alerts-table")
        keys = alerts.row_keys()
        folded = service_problems(app, "mw152")
        assert folded >= 3  # PHP-FPM, MediaWiki Rendering, HTTPS in this scenario
        assert "mw152!" in keys and not [key for key in keys if key.startswith("mw152!") and key != "mw152!"]
        row = row_of(app, "alerts-table", "mw152!")
        assert row[:2] == ["✖ DOWN", ""] and row[3:6] == ["mw152", f"+{folded} service problems", "icinga+graylog"]
        assert row[-1].startswith(f"{OUTPUT} | graylog: ")
        assert row[2] != "—"  # aged from the host's last state change
        # the panes are repainted one per frame: the Hosts row may come a frame after the Alerts row
        await wait_until(pilot, lambda: row_of(app, "hosts-table", "guest:mw152")[column(app, 1, "status")]
                         == "running · DOWN", what="the Hosts row")
        assert row_of(app, "hosts-table", "guest:mw151")[column(app, 1, "status")] == "running"
        php = row_of(app, "services-table", "php-fpm")
        assert "mw152" in php[column(app, 3, "problems")]

        await pilot.press("2")
        alerts.move_cursor(row=alerts.get_row_index("mw152!"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending,
                         what="the detail loaded")
        assert app.screen.host == "mw152"
        await wait_until(pilot, lambda: OUTPUT in text_of(app.screen.query_one("#sec-alerts")), what="the host's output")
        assert "HOST DOWN" in text_of(app.screen.query_one("#sec-alerts"))


async def test_a_host_that_goes_down_arrives_with_its_output_through_the_stream(farm, config):
    sources = build_sources(config, FIXED)
    for source in sources:
        if source.kind == "icinga":
            source.interval = 300.0  # only the event stream can bring it
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, sources=sources)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app) and bool(app.store.get("icinga").stream)
                         and app.store.get("icinga").stream.live, what="the first answers and a live stream")
        assert "mw151!" not in table(app, "alerts-table").row_keys()
        farm.model.set_host_state("mw151", "DOWN", OUTPUT)
        await wait_until(pilot, lambda: "mw151!" in table(app, "alerts-table").row_keys(), what="the host in Alerts")
        row = row_of(app, "alerts-table", "mw151!")
        assert row[0] == "✖ DOWN" and row[4] == "host check" and row[-1] == OUTPUT
        await wait_until(pilot, lambda: row_of(app, "hosts-table", "guest:mw151")[column(app, 1, "status")]
                         == "running · DOWN", what="the Hosts row")
        farm.model.set_host_state("mw151", "UP")
        await wait_until(pilot, lambda: "mw151!" not in table(app, "alerts-table").row_keys(), what="the recovery")


async def test_acknowledging_a_down_host_acknowledges_the_host_and_h_hides_it(farm, config):
    farm.model.set_host_state("mw152", "DOWN", OUTPUT)
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app), what="every pane filled")
        await pilot.press("2")
        alerts = table(app, "alerts-table")
        alerts.move_cursor(row=alerts.get_row_index("mw152!"))
        await pilot.pause()
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
        screen = app.screen
        screen.query_one("#action-reason", Input).value = "guest hung, looking"
        await pilot.pause()
        screen.query_one("#action-reason", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.plan is not None and list(screen.plan.targets) == ["mw152"]  # the host, no service
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.result is not None, what="the ack's result")
        assert screen.result.outcome == "success"
        assert farm.model.slot("mw152").ack is not None  # the host's own acknowledgement
        await pilot.press("escape")
        await wait_until(pilot, lambda: row_of(app, "alerts-table", "mw152!")[1] == "ACK", what="the ACK flag")
        await pilot.press("h")
        await wait_until(pilot, lambda: "mw152!" not in alerts.row_keys(), what="hidden by h")
