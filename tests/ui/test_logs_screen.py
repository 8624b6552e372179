"""The log screen over the simulated farm: `L` on the broken host shows its 5xx lines, enter opens the
host, the query, range and pause keys, `:logs`, a dead Graylog said on screen, and the err/5m column."""

from __future__ import annotations

import pytest
from ui_helpers import cell_text, console_app, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.ui.screens.detail import HostDetailScreen
from console.ui.screens.logs import LogScreen

pytestmark = pytest.mark.sim


def settled(app) -> bool:
    return every_source_answered(app) and every_pane_has_rows(app)


def log_screen(app) -> LogScreen:
    assert isinstance(app.screen, LogScreen), f"on {app.screen!r}"
    return app.screen


def shown_lines(screen: LogScreen) -> list[list[str]]:
    lines = screen.query_one("#tail-lines")
    return [[cell_text(c) for c in lines.get_row_at(i)] for i in range(lines.row_count)]


async def open_logs_on(pilot, key: str) -> LogScreen:
    app = pilot.app
    await wait_until(pilot, lambda: settled(app), what="every pane filled")
    await pilot.press("1")
    hosts = table(app, "hosts-table")
    hosts.move_cursor(row=hosts.get_row_index(key))
    await pilot.press("L")
    await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.polls > 0, what="the first answer")
    await pilot.pause()
    return log_screen(app)


async def test_L_on_the_broken_host_tails_its_5xx_lines_and_enter_opens_it(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_logs_on(pilot, "guest:mw152")
        assert screen.search_query == 'source:mw152 OR source:"mw152.fsslc.wtnet"'
        lines = shown_lines(screen)
        assert lines and {line[1] for line in lines} == {"mw152"}
        refused = [line for line in lines if "connect() to unix:/run/php/fpm-www.sock failed" in line[4]]
        assert len(refused) > 20 and all(line[2] == "err" for line in refused)  # the level as a word
        status = text_of(screen.query_one("#tail-status"))
        assert "live" in status and f"{len(lines)}/5000 lines" in status
        # enter on a line: that host's detail; esc comes back to the tail
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen), what="the host detail")
        assert app.screen.identity.name == "mw152"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LogScreen) and app.focused.id == "hosts-table"


async def test_pause_query_and_range_keys(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_logs_on(pilot, "guest:mw152")
        await pilot.press("space")
        assert screen.paused and "PAUSED" in text_of(screen.query_one("#tail-status"))
        await pilot.press("p")
        assert not screen.paused
        await pilot.press("t")  # 15m → 1h: the tail starts over
        await wait_until(pilot, lambda: screen.polls > 0, what="the 1h answer")
        assert screen.range_name == "1h" and "last 1h" in text_of(screen.query_one("#tail-status"))
        await pilot.press("slash")
        editor = screen.query_one("#tail-query")
        assert app.focused is editor
        editor.value = "source:cp161 AND http_status:503"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.polls > 0 and screen.search_query.startswith("source:cp161"), what="the new query")
        await pilot.pause()
        lines = shown_lines(screen)
        assert lines and all(line[1] == "cp161" and "503" in line[4] for line in lines)


async def test_jump_logs_and_a_dead_graylog(config, farm):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app), what="every pane filled")
        farm.set_fault("graylog", "http503")
        await pilot.press(":", *"logs level:<=3", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.error is not None, what="the error")
        screen = log_screen(app)
        assert screen.search_query == "level:<=3"
        assert "✖ graylog: HTTP 503" in text_of(screen.query_one("#tail-error"))
        farm.set_fault("graylog", None)  # the tail retries by itself
        await wait_until(pilot, lambda: screen.error is None and screen.polls > 0, timeout=15, what="the retry")
        await pilot.pause()
        assert not screen.query_one("#tail-error").display and shown_lines(screen)


async def test_hosts_pane_counts_errors_per_host(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app), what="every pane filled")
        hosts = table(app, "hosts-table")
        at = [str(c.label) for c in hosts.columns.values()].index("err/5m")
        mw152 = hosts.get_row("guest:mw152")[at]
        assert int(cell_text(mw152)) > 20 and "red" in str(mw152.style)
        assert cell_text(hosts.get_row("guest:mw161")[at]) == "0"
