"""Depooled state in the console over the simulated farm (#26 items 2-4): a host an operator depooled
shows `depooled 4/4` in the Hosts pane, the Services pane counts it, the status bar says how many;
depool/repool are offered only for the caches' backends; a repool of a failing host opens at tier 2."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList
from ui_helpers import FIXED, IDENTITY, cell_text, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.ui.app import OpsConsoleApp
from console.ui.screens.action import ActionMenu, ActionScreen
from console.ui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.sim


def rendered(widget) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(widget.content)
    return console.export_text()


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")


def depool_in_the_farm(farm, host: str, caches=None) -> None:
    for cache in caches or farm.cache_names:
        farm.model.backend_admin.setdefault(cache, {})[host] = "sick"


async def menu_ids(pilot, key: str) -> list[str]:
    app = pilot.app
    await pilot.press("1")
    rows = table(app, "hosts-table")
    rows.move_cursor(row=rows.get_row_index(key))
    await pilot.pause()
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionMenu), what="the action menu")
    menu = app.screen.query_one(OptionList)
    return [menu.get_option_at_index(i).id for i in range(menu.option_count)]


async def test_a_depooled_host_shows_depooled_4_of_4_and_is_counted(farm, config):
    depool_in_the_farm(farm, "mw153")
    depool_in_the_farm(farm, "mw161", ["cp161"])
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        hosts = table(app, "hosts-table")
        await wait_until(pilot, lambda: "depooled" in cell_text(hosts.get_row("guest:mw153")[1]), what="depooled")
        assert cell_text(hosts.get_row("guest:mw153")[1]) == "running · depooled 4/4"
        assert cell_text(hosts.get_row("guest:mw161")[1]) == "running · depooled 1/4"
        assert cell_text(hosts.get_row("guest:mw152")[1]) == "running"  # sick by its probe, not depooled
        services = table(app, "services-table")
        assert cell_text(services.get_row("php-fpm")[2]).endswith(" · depooled 2")
        assert "depooled" not in cell_text(services.get_row("varnish")[2])
        assert "⊘ 2 depooled" in text_of(app.query_one(StatusBar))

        # repooled behind the console's back: the next read of the lists clears the marks
        farm.model.backend_admin.clear()
        app.poller.refresh_now("backends")
        await wait_until(pilot, lambda: "depooled" not in cell_text(hosts.get_row("guest:mw153")[1]), what="cleared")
        await wait_until(pilot, lambda: "depooled" not in text_of(app.query_one(StatusBar)), what="count gone")


async def test_depool_and_repool_are_offered_only_for_the_caches_backends(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        offered = await menu_ids(pilot, "guest:mwtask171")  # a job runner
        assert "depool" not in offered and "repool" not in offered
        assert "puppet:run" in offered  # its other actions stay
        await pilot.press("escape")
        offered = await menu_ids(pilot, "node:cloud15")  # a hypervisor
        assert "depool" not in offered and "repool" not in offered
        await pilot.press("escape")
        offered = await menu_ids(pilot, "guest:mw151")
        assert "depool" in offered and "repool" in offered


async def test_a_repool_of_a_host_with_a_critical_check_opens_at_tier_2_saying_why(farm, config):
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, write=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        offered = await menu_ids(pilot, "guest:mw152")
        menu = app.screen.query_one(OptionList)
        menu.highlighted = offered.index("repool")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ActionScreen), what="the action screen")
        text = rendered(app.screen.query_one("#action-plan-text"))
        assert "tier 2" in text and "(still failing: mw152)" in text
        assert "mw152 IS STILL FAILING" in text and "PHP-FPM CRITICAL" in text
        assert "mw152 probes: cp161 0/5 sick" in text
        assert farm.model.depool_log == []
