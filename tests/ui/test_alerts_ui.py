"""The merged Alerts pane in the console: `h` hides the handled alerts (the cursor stays on its row),
Graylog rows refuse Icinga actions, and two clusters show a cluster column."""

from __future__ import annotations

import pytest
from ui_helpers import FIXED, cell_text, console_app, every_source_answered, table, wait_until

from console.core.config import parse_config
from console.derive.status_bar import status_items
from console.sim import SimFarm
from console.sim.clusters import cluster_scenario, clustered_config_yaml
from console.ui.screens.detail import HostDetailScreen

pytestmark = pytest.mark.sim


def alerts_loaded(app) -> bool:
    view = app.pane(2).view
    return every_source_answered(app) and view is not None and bool(view.handled) and table(app, "alerts-table").row_count > 0


async def test_h_hides_handled_alerts_and_the_cursor_stays_on_its_row(config):
    app = console_app(config)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: alerts_loaded(app), what="alerts with handled ones")
        await pilot.press("2")
        alerts, pane = table(app, "alerts-table"), app.pane(2)
        handled = pane.view.handled
        every = alerts.row_keys()
        unhandled = [key for key in every if key not in handled]
        assert handled and unhandled and set(handled) <= set(every)
        alerts.move_cursor(row=every.index(unhandled[-1]))
        await pilot.press("h")
        assert alerts.row_keys() == unhandled
        assert alerts.cursor_key == unhandled[-1]
        assert f"{len(unhandled)} alerts, {len(handled)} handled hidden" in str(pane.border_subtitle)
        await pilot.press("r")  # kept across refreshes
        await pilot.pause(0.5)
        assert not set(alerts.row_keys()) & handled and alerts.cursor_key == unhandled[-1]
        await pilot.press("h")
        assert alerts.row_keys() == every and alerts.cursor_key == unhandled[-1]
        assert "hidden" not in str(pane.border_subtitle)


async def test_handled_jump_toggles_like_h(config):
    app = console_app(config)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: alerts_loaded(app), what="alerts with handled ones")
        await pilot.press("colon", *"handled", "enter")
        assert app.hide_handled and "handled hidden" in str(app.pane(2).border_subtitle)


async def test_a_graylog_row_refuses_acknowledgement_without_crashing(farm, config):
    farm.model.add_event("Swift proxy 5xx above 1%", "swiftproxy171", title="Swift 5xx rate", priority=2)
    app = console_app(config)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: alerts_loaded(app), what="alerts")
        await pilot.press("2")
        alerts = table(app, "alerts-table")
        origin_at = [c.key for c in app.pane(2).view.columns].index("from")
        graylog_rows = [row.key for row in app.pane(2).view.rows if cell_text(row.cells[origin_at]) == "graylog"]
        assert graylog_rows, "the event about a host without an Icinga problem has a row of its own"
        alerts.move_cursor(row=alerts.row_keys().index(graylog_rows[0]))
        await pilot.press("A")
        await pilot.pause(0.2)
        assert app.screen is app.screen_stack[0]  # no action screen opened
        messages = [str(n.message) for n in app._notifications]
        assert any("a Graylog event cannot be acknowledged in Icinga" in m for m in messages), messages


async def test_two_clusters_show_a_cluster_column(tmp_path):
    farms = [SimFarm(tmp_path / f"farm{n}", scenario=cluster_scenario("php-fpm-down", n), seed=n, clock=FIXED).start()
             for n in (1, 2)]
    try:
        app = console_app(parse_config(clustered_config_yaml(farms), "<clusters>"))
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: every_source_answered(app) and table(app, "hosts-table").row_count > 0,
                             what="every source")
            hosts = table(app, "hosts-table")
            labels = [str(column.label) for column in hosts.columns.values()]
            assert labels[:2] == ["host", "cluster"]
            assert {"guest:mw152@pve", "guest:mw152@pve2"} <= set(hosts.row_keys())
            assert "cluster" in [str(column.label) for column in table(app, "alerts-table").columns.values()]
            # each instance has its own health (a transient failure under load is retried: wait, generously)
            await wait_until(pilot, lambda: all(item.ok for item in status_items(app.store, FIXED())
                                                if item.name in ("pve", "pve2", "icinga", "icinga2")), timeout=40,
                             what="both clusters healthy")
            # enter on a clustered row still opens the host
            hosts.move_cursor(row=hosts.row_keys().index("guest:mw152@pve2"))
            await pilot.press("1", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen), what="the detail")
            assert app.screen.host == "mw152"
    finally:
        for farm in farms:
            farm.stop()
