"""The console on the simulated farm, over real sockets: panes, refresh by key, failures, keys, layouts."""

from __future__ import annotations

import pytest
from ui_helpers import (
    cell_text,
    console_app,
    every_pane_has_rows,
    every_source_answered,
    table,
    text_of,
    wait_until,
)

from console.core.config import parse_config
from console.ui.screens.help import HelpScreen
from console.ui.widgets import FarmHeader, StatusBar, TabBar


def settled(app) -> bool:
    """Every source has answered once and every pane shows rows."""
    return every_source_answered(app) and every_pane_has_rows(app)


pytestmark = pytest.mark.sim


async def test_every_pane_fills_from_the_farm(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app), what="every pane to have rows")
        hosts = table(app, "hosts-table")
        assert hosts.row_keys()[0] == "node:cloud15"
        assert "guest:mw152" in hosts.row_keys()
        alerts = table(app, "alerts-table")
        assert "mw152!PHP-FPM" in alerts.row_keys()
        assert cell_text(alerts.get_row("mw152!PHP-FPM")[0]) == "✖ CRITICAL"
        services = table(app, "services-table")
        php = [cell_text(c) for c in services.get_row("php-fpm")]
        assert "✖ CRITICAL 1" in php[2] and "mw152" in php[4]  # php[3]: the probes
        assert table(app, "commits-table").row_count > 10
        status = text_of(app.query_one(StatusBar))
        assert "✖" not in status
        # every source healthy; the caches' backend lists are said only when one fails (or hosts are depooled)
        assert all(f"✔ {name}" in status for name in app.poller.sources if name != "backends")
        assert "backends" not in status and app.store.get("backends").ok


async def test_cursor_stays_on_its_host_when_a_row_above_disappears(farm, config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        hosts = table(app, "hosts-table")
        await wait_until(pilot, lambda: settled(app))
        hosts.move_cursor(row=hosts.get_row_index("guest:mw161"))
        await pilot.pause()
        scroll_y = hosts.scroll_y
        farm.model.remove_guest("mw151")
        await pilot.press("r")
        await wait_until(pilot, lambda: "guest:mw151" not in hosts.row_keys(), what="mw151 to vanish")
        await pilot.pause()
        assert hosts.cursor_key == "guest:mw161"
        assert hosts.scroll_y == scroll_y


async def test_a_refresh_that_changes_one_value_repaints_only_that_row(farm, config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        hosts = table(app, "hosts-table")
        await wait_until(pilot, lambda: settled(app))
        before = {key: [cell_text(c) for c in hosts.get_row(key)] for key in hosts.row_keys()}
        assert before["guest:mw153"][2].startswith(("unchanged", "changed"))
        hosts.move_cursor(row=hosts.get_row_index("guest:mw153"))  # its row on screen
        # Lines cached while the first answers came in (another layout, err/5m blank before Graylog
        # answered) would be found stale later and drawn again: the cache starts from what is shown now.
        hosts.clear_caches()
        await pilot.pause(0.3)  # every line on screen rendered
        rendered: list[str] = []  # the host cell of every line rendered from now on
        original = hosts._render_cells
        hosts._render_cells = lambda cells, *args, **kw: (rendered.append(cell_text(cells[0])), original(cells, *args, **kw))[1]
        # Only mw153's Puppet runs start failing (a guest's CPU would also move its node's total).
        farm.model.set_puppet_status("mw153", "failed")
        await pilot.press("r")
        await wait_until(pilot, lambda: cell_text(hosts.get_row("guest:mw153")[2]).startswith("failed"))
        await pilot.pause(0.3)  # let every source's answer land
        assert set(rendered) == {"mw153"}  # a new line for the changed row only
        after = {key: [cell_text(c) for c in hosts.get_row(key)] for key in hosts.row_keys()}
        assert [key for key in before if before[key] != after[key]] == ["guest:mw153"], {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        assert after.keys() == before.keys()


async def test_a_failing_source_shows_in_the_status_bar_while_the_others_keep_updating(farm, config):
    app = console_app(config)
    async with app.run_test(size=(160, 40)) as pilot:  # wide enough to name every source (with probes)
        await wait_until(pilot, lambda: settled(app))
        alerts_before = table(app, "alerts-table").row_keys()
        farm.set_fault("icinga", "down")
        farm.model.set_guest_usage("mw161", mem=0.5)
        await pilot.press("r")
        hosts = table(app, "hosts-table")
        mem = [str(c.label) for c in hosts.columns.values()].index("mem")
        await wait_until(pilot, lambda: cell_text(hosts.get_row("guest:mw161")[mem]) == "50%", what="mem 50%")
        await wait_until(pilot, lambda: "✖ icinga" in text_of(app.query_one(StatusBar)), what="icinga failing")
        status = text_of(app.query_one(StatusBar))
        assert "(data 0s old)" in status and "✔ pve" in status and "✔ puppetdb" in status
        # The last good Icinga answer stays on screen, with the failure named above it.
        assert table(app, "alerts-table").row_keys() == alerts_before
        note = app.query_one("#alerts .pane-note")
        assert note.display and text_of(note).startswith("✖ icinga:")


async def test_keys_show_panes_cycle_open_help_and_quit(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.focused.id == "hosts-table"
        for key, pane in (("2", "alerts"), ("4", "commits"), ("3", "services"), ("1", "hosts")):
            await pilot.press(key)
            assert app.focused.id == f"{pane}-table"
        await pilot.press("tab")
        assert app.focused.id == "alerts-table"
        await pilot.press("tab", "tab", "tab")
        assert app.focused.id == "hosts-table"
        await pilot.press("shift+tab")
        assert app.focused.id == "commits-table"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "refresh" in app.export_screenshot()
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen) and app.focused.id == "commits-table"
        await pilot.press("q")
    assert app.return_code == 0


async def test_j_and_k_move_the_cursor(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        hosts = table(app, "hosts-table")
        await wait_until(pilot, lambda: hosts.row_count > 3)
        await pilot.press("j", "j", "j", "k")
        assert hosts.cursor_row == 2


async def test_80x24_shows_one_pane_at_a_time_with_a_tab_bar(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: settled(app))
        await pilot.pause()
        tab_bar = app.query_one(TabBar)
        assert tab_bar.display
        hosts_count = table(app, "hosts-table").row_count
        alerts_count = table(app, "alerts-table").row_count
        assert text_of(tab_bar).startswith(f" 1 Hosts {hosts_count} │ 2 Alerts {alerts_count} │ 3 Services")
        shown = [pane.id for pane in app.panes if pane.display]
        assert shown == ["hosts"]
        await pilot.press("2")
        assert [pane.id for pane in app.panes if pane.display] == ["alerts"]
        assert app.query_one("#alerts").region.width == 80


async def test_wide_terminals_show_all_four_panes_and_no_tab_bar(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert not app.query_one(TabBar).display
        assert all(pane.display and pane.region.height > 5 for pane in app.panes)


async def test_header_names_farm_environment_identity_and_read_only(farm):
    config = parse_config(farm.config_yaml().replace("environment: demo", "environment: production"))
    app = console_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        header = app.query_one(FarmHeader)
        texts = [text_of(w) for w in header.children]
        assert texts[:4] == ["wikitide", " PRODUCTION ", "ops@bast161", " READ-ONLY "]
        assert texts[4] == "2026-08-14 09:30:00 UTC"
        assert header.query_one("#environment").has_class("-production")


async def test_a_source_without_tls_verification_is_flagged_in_the_status_bar(farm):
    # The first source of the sim's config is Proxmox: turn its verification off, leave the rest.
    text = farm.config_yaml().replace(f"verify: {farm.ca_path}", "verify: false", 1)
    app = console_app(parse_config(text))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app), what="every source answered")
        await pilot.pause()
        bar = text_of(app.query_one(StatusBar))
        assert "pve ⚠ TLS unverified" in bar
        assert bar.count("TLS unverified") == 1
