"""Text from the farm is data on the log screen: log lines carry end users' input (markup, OSC 52,
bidi controls), stream titles and host names may hold anything; the tail shows stand-ins, never markup
or raw control bytes, enter on a hostile line opens a detail that stays, and the operator's query is
text: one holding control characters is refused on screen, one Graylog cannot parse says so."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.events import Paste
from ui_helpers import console_app, every_pane_has_rows, every_source_answered, wait_until
from untrusted_helpers import assert_nothing_raw, screen_text, toasts

from console.sources.graylog import GraylogSource, GraylogStream
from console.ui.dialogs import Picker
from console.ui.screens.detail import HostDetailScreen
from console.ui.screens.logs import LogScreen

pytestmark = pytest.mark.sim

LOG_LINE = "GET /w \x1b]52;c;UFdO\x07 [bold]x[/ \u202eevil"
SOURCE = "mw[/]7\x1b]0;t\x07"
WEB_TIER = "65a1b2c3d4e5f60718293a01"  # a stream of the simulated Graylog


def add_log_from(farm, source: str, message: str, **fields) -> str:
    """A log line from a sender named `source` (Graylog takes any name): a host only Graylog knows."""
    model = farm.model
    with model.lock:
        model.hosts[source] = replace(model.hosts["mw152"], name=source, fqdn=source, role="relay", services=(),
                                      node=None, vmid=None)
        return model.add_log(source, message, **fields)


async def open_tail(pilot, query: str) -> LogScreen:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")
    await pilot.press(":", *f"logs {query}", "enter")
    await wait_until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen.polls > 0, what="the first answer")
    await pilot.pause()
    assert isinstance(app.screen, LogScreen)
    return app.screen


async def test_hostile_lines_in_the_tail_show_stand_ins_and_enter_opens_their_host(farm, config):
    line_id = farm.model.add_log("mw152", LOG_LINE, level=3, application_name="php[/]fpm")
    hostile_id = add_log_from(farm, SOURCE, "from an odd host [/]", level=3, application_name="cron")
    app = console_app(config)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_tail(pilot, "level:<=3")
        lines = screen.query_one("#tail-lines")
        await wait_until(pilot, lambda: {line_id, hostile_id} <= set(screen._messages), what="the hostile lines")
        lines.move_cursor(row=lines.get_row_index(line_id), animate=False)
        await wait_until(pilot, lambda: "php[/]fpm" in screen_text(app), what="the line on screen")
        shown = screen_text(app)
        assert_nothing_raw(shown)
        assert "GET /w ⟨U+001B⟩]52;c;UFdO^G [bold]x[/ ⟨U+202E⟩evil" in shown
        lines.move_cursor(row=lines.get_row_index(hostile_id), animate=False)
        await wait_until(pilot, lambda: "from an odd host [/]" in screen_text(app), what="the odd host's line on screen")
        shown = screen_text(app)
        assert_nothing_raw(shown)
        assert "mw[/]7⟨U+001B⟩]0;t^G" in shown
        # enter on the odd host's line: its detail, which stays, and back
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending, what="the detail")
        await pilot.pause()
        assert app.screen.identity.name == SOURCE
        detail = screen_text(app)
        assert_nothing_raw(detail)
        assert "unknown host: no source knows 'mw[/]7\\x1b]0;t\\x07'" in detail
        assert "Logs of mw[/]7⟨U+001B⟩]0;t^G: the last" in detail
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and app.is_running


async def test_stream_titles_are_shown_as_text(config, monkeypatch):
    async def streams(self):
        return (GraylogStream(WEB_TIER, "Web [/]tier \x1b]0;s\x07"),)

    monkeypatch.setattr(GraylogSource, "streams", streams)
    app = console_app(config)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_tail(pilot, "*")
        await wait_until(pilot, lambda: screen.streams is not None, what="the streams")
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        assert "Web [/]tier ⟨U+001B⟩]0;s^G" in screen_text(app)
        assert_nothing_raw(screen_text(app))
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.screen is screen and screen.stream is not None and screen.polls > 0,
                         what="the stream's lines")
        status = screen_text(app)
        assert "· Web [/]tier ⟨U+001B⟩]0;s^G ·" in status
        assert_nothing_raw(status)


async def test_a_typed_query_is_text_a_query_with_controls_is_refused_and_a_bad_one_says_so(config):
    app = console_app(config)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_tail(pilot, "level:<=3")
        editor = screen.query_one("#tail-query")
        # pasted with an escape sequence: not taken, said; the editor never holds it
        await pilot.press("slash")
        editor.value = ""
        editor.post_message(Paste("source:mw152 \x1b]0;t\x07"))
        await pilot.pause()
        assert editor.value == "" and app.focused is editor
        assert "not typed: the text holds control characters (U+001B ESC, U+0007 BEL); type it without them" in toasts(app)
        assert_nothing_raw(screen_text(app))
        # a query holding one all the same (set, not typed): not searched, said, the tail goes on
        editor.value = "source:mw152 \x1b]0;t\x07"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.search_query == "level:<=3" and app.focused is editor
        assert ("not searched: the query holds control characters (U+001B ESC, U+0007 BEL); type it without them"
                in toasts(app))
        await pilot.press("escape")  # the editor closes, back to the query searched
        assert editor.value == "level:<=3" and app.screen is screen
        assert_nothing_raw(screen_text(app))
        # one Graylog cannot parse: said on the error line, not tried again, the screen stays
        await pilot.press("slash")
        editor.value = "x:[/]"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.bad_query is not None, what="the refusal")
        await pilot.pause()
        shown = screen_text(app)
        assert "Logs x:[/]  · last 15m" in shown
        assert "✖ graylog cannot use this query: HTTP 400 Bad Request: Cannot parse 'x:[/]': a range needs 'TO'" in shown
        assert "press / to change the query" in shown and app.screen is screen and screen.polls == 0
        # markup is a query like any other: sent as typed, shown as typed
        await pilot.press("slash")
        editor.value = "[bold]x[/"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.polls > 0, what="the answer")
        await pilot.pause()
        assert screen.search_query == "[bold]x[/" and screen.bad_query is None
        shown = screen_text(app)
        assert "Logs [bold]x[/  · last 15m" in shown and "no lines match in the last 15m" in shown
        assert_nothing_raw(shown)
