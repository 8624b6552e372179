"""k9s's triage grammar on the simulated farm: / ~ ! esc, : with completion and every jump, S,
space, p, the command palette and ui.keys."""

from __future__ import annotations

import pytest
from ui_helpers import cell_text, console_app, every_pane_has_rows, every_source_answered, table, wait_until

from console.core.config import parse_config
from console.derive.filtering import MARK
from console.ui.screens.detail import HostDetailScreen
from console.ui.widgets import FarmHeader

pytestmark = pytest.mark.sim


async def ready(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_pane_has_rows(app) and every_source_answered(app), what="every pane filled")


async def type_keys(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text])


async def test_slash_filters_the_focused_pane_as_you_type_and_enter_keeps_it(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        hosts = table(app, "hosts-table")
        await pilot.press("slash")
        assert app.prompt.is_open
        await type_keys(pilot, "MW152")
        assert hosts.row_keys() == ["guest:mw152"]
        await pilot.press("enter")
        assert not app.prompt.is_open and hosts.has_focus
        assert "/MW152" in str(app.pane(1).border_title)
        assert app.pane(1).border_subtitle.startswith("1/")
        # the match is highlighted where the row is drawn (line 0 is the header)
        assert [seg.text for seg in hosts.render_line(1) if seg.style and seg.style.reverse] == ["mw152"]
        # kept across refreshes
        await pilot.press("r")
        await pilot.pause(0.3)
        assert hosts.row_keys() == ["guest:mw152"]
        await pilot.press("enter")  # the filtered row opens as before
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen), what="the detail")


async def test_tilde_regex_bang_inverts_and_esc_clears(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        hosts = table(app, "hosts-table")
        every = hosts.row_keys()
        await pilot.press("slash")
        await type_keys(pilot, "~^mw15[12]$")
        await pilot.press("enter")
        assert hosts.row_keys() == ["guest:mw151", "guest:mw152"]
        await pilot.press("slash", "ctrl+u")
        await type_keys(pilot, "!~^mw")
        await pilot.press("enter")
        assert hosts.row_keys() and not any(k.startswith("guest:mw") for k in hosts.row_keys())
        await pilot.press("escape")
        assert hosts.row_keys() == every
        assert app.pane(1).border_title == "1 Hosts"


async def test_esc_in_the_prompt_cancels_the_filter(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        hosts = table(app, "hosts-table")
        every = hosts.row_keys()
        await pilot.press("slash", "d", "b")
        assert len(hosts.row_keys()) < len(every)
        await pilot.press("escape")
        assert hosts.row_keys() == every and not app.prompt.is_open and hosts.has_focus


async def test_the_cursor_stays_on_its_row_through_a_filter(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        hosts = table(app, "hosts-table")
        hosts.move_cursor(row=hosts.get_row_index("guest:mw152"))
        await pilot.press("slash", "m", "w", "enter")
        assert hosts.cursor_key == "guest:mw152"
        await pilot.press("escape")
        assert hosts.cursor_key == "guest:mw152"


@pytest.mark.parametrize(("command", "pane"), [("hosts", 1), ("alerts", 2), ("services", 3), ("commits", 4)])
async def test_colon_jumps_to_each_pane(config, command, pane):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        if pane == 1:
            await pilot.press("2")
        await pilot.press("colon")
        await type_keys(pilot, command)
        await pilot.press("enter")
        assert app.active_pane == pane
        assert app.focused is app.pane(pane).table


async def test_colon_completes_and_opens_a_host(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("colon")
        await type_keys(pilot, "host mw15")
        await pilot.pause(0.2)
        await pilot.press("tab")  # takes the suggestion (the first host mw15…)
        assert app.prompt.input.value.startswith("host mw15") and len(app.prompt.input.value) > len("host mw15")
        await pilot.press("ctrl+u")
        await type_keys(pilot, "se")
        await pilot.pause(0.2)
        await pilot.press("tab")
        assert app.prompt.input.value == "services"
        await pilot.press("ctrl+u")
        await type_keys(pilot, "host mw152")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen), what="the detail")
        assert app.screen.host == "mw152" if hasattr(app.screen, "host") else True


async def test_colon_theme_switches_and_unknown_says_so(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("colon")
        await type_keys(pilot, "theme light")
        await pilot.press("enter")
        assert app.theme == "light"
        await pilot.press("colon")
        await type_keys(pilot, "nodes")
        await pilot.press("enter")
        await pilot.pause()
        assert any("unknown command 'nodes'" in n.message for n in app._notifications)
        assert app.active_pane == 1 and app.is_running


async def test_colon_q_quits(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("colon", "q", "enter")
        await pilot.pause()
        assert not app.is_running


async def test_S_sorts_the_focused_pane_and_shows_the_arrow(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        hosts = table(app, "hosts-table")
        hosts.move_cursor(row=hosts.get_row_index("guest:mw152"))
        await pilot.press("S")
        labels = [str(c.label) for c in hosts.columns.values()]
        assert labels[0] == "host ▲"
        names = [cell_text(hosts.get_row(k)[0]) for k in hosts.row_keys()]
        assert names == sorted(names, key=lambda n: names.index(n)) and names[0] <= names[-1]
        assert hosts.cursor_key == "guest:mw152"  # kept by key
        await pilot.press("S")
        assert str(list(hosts.columns.values())[0].label) == "host ▼"
        names_desc = [cell_text(hosts.get_row(k)[0]) for k in hosts.row_keys()]
        assert names_desc == names[::-1]


async def test_space_marks_rows_by_key_across_filters_and_marked_keys(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        hosts = table(app, "hosts-table")
        pane = app.pane(1)
        hosts.move_cursor(row=hosts.get_row_index("guest:mw152"))
        await pilot.press("space")
        hosts.move_cursor(row=hosts.get_row_index("guest:mw151"))
        await pilot.press("space")
        assert cell_text(hosts.get_row("guest:mw152")[0]).startswith(MARK)
        assert set(pane.marked_keys()) == {"guest:mw151", "guest:mw152"}
        assert "2 marked" in pane.border_subtitle
        await pilot.press("slash", "d", "b", "enter")
        assert set(pane.marked_keys()) == {"guest:mw151", "guest:mw152"}  # hidden, still marked
        await pilot.press("escape")
        assert cell_text(hosts.get_row("guest:mw151")[0]).startswith(MARK)
        hosts.move_cursor(row=hosts.get_row_index("guest:mw151"))
        await pilot.press("space")
        assert pane.marked_keys() == ["guest:mw152"]
        assert all(hasattr(p, "marked_keys") for p in app.panes)


async def test_p_pauses_every_source_and_the_header_says_so(farm, config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        header = app.query_one(FarmHeader)
        await pilot.press("p")
        assert app.poller.paused and header._paused.display
        before = {s.name: id(s.last) for s in app.store.states()}  # each fetch stores a new result
        app.poller.refresh_now()
        await pilot.pause(0.3)
        assert {s.name: id(s.last) for s in app.store.states()} == before
        await pilot.press("p")
        assert not app.poller.paused and not header._paused.display
        await wait_until(pilot, lambda: id(app.store.get("pve").last) != before["pve"], what="refresh resumed")


async def test_colon_pause_holds_one_source_while_the_others_refresh(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("colon")
        await type_keys(pilot, "pause icinga")
        await pilot.press("enter")
        assert app.store.get("icinga").paused and not app.poller.paused
        held, other = id(app.store.get("icinga").last), id(app.store.get("pve").last)
        app.poller.refresh_now()
        await wait_until(pilot, lambda: id(app.store.get("pve").last) != other, what="pve refreshed")
        assert id(app.store.get("icinga").last) == held
        assert "icinga paused" in app.status_bar.render().plain
        await pilot.press("colon")
        await type_keys(pilot, "pause icinga")
        await pilot.press("enter")
        await wait_until(pilot, lambda: id(app.store.get("icinga").last) != held, what="icinga resumed")


async def test_the_command_palette_lists_every_view_and_action(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Show Hosts", "Show Alerts", "Show Services", "Show Commits", "Filter the pane", "Jump",
                      "Sort by the next column", "Pause / resume refresh", "Refresh every source now", "Theme: light"):  # fmt: skip
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert type(app.screen).__name__ == "CommandPalette"


async def test_no_ctrl_letter_binding_of_ours():
    from console.ui.app import OpsConsoleApp

    for binding in OpsConsoleApp.BINDINGS:
        assert not binding.key.startswith("ctrl+"), binding


async def test_keys_rebound_in_the_config(farm):
    text = farm.config_yaml() + "ui: {keys: {filter: f, jump: J}}\n"
    app = console_app(parse_config(text, "<sim>"))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("slash")
        assert not app.prompt.is_open
        await pilot.press("f")
        assert app.prompt.is_open and app.prompt.input.mode == "filter"
        await pilot.press("escape", "J")
        assert app.prompt.is_open and app.prompt.input.mode == "jump"
