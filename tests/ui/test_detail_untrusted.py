"""Text from the farm is data in the host detail: markup in a Puppet message, an escape sequence in a
check's output or a log line, a `[` in a VM name never ends the console and never reaches the terminal
as bytes it acts on (stand-ins `⟨U+001B⟩`, `^G` are shown instead); `c` and `y` copy only a plain host
name and a well-formed http(s) link, and refuse anything else with a toast."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import yaml
from ui_helpers import console_app, every_pane_has_rows, every_source_answered, table, wait_until
from untrusted_helpers import assert_nothing_raw, screen_text, toasts

from console.core.config import parse_config
from console.sim.puppet import ResourceEvent
from console.ui.dialogs import Picker
from console.ui.screens.detail import HostDetailScreen

pytestmark = pytest.mark.sim

CLIPBOARD = "\x1b]52;c;UFdO\x07"  # OSC 52: would write "PWN" to the operator's clipboard
LOG_LINE = f"GET /w {CLIPBOARD} [bold]x[/ \u202eevil"
PUPPET_MESSAGE = "Could not [/] evaluate \x1b[31mred"
DISABLED = "[bold]alice[/] \x1b]0;title\x07"
HOST_DOWN = "\x1b]0;owned\x07PING [/] lost"  # OSC 0 would retitle the window
CHECK_OUTPUT = "DISK [/]\x1b[5m full"


async def open_detail(pilot, key: str) -> HostDetailScreen:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), what="every pane filled")
    await pilot.press("1")
    hosts = table(app, "hosts-table")
    hosts.move_cursor(row=hosts.get_row_index(key))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending, what="the detail loaded")
    await wait_until(pilot, lambda: app.screen.query_one("#logs-table").row_count > 0 or app.screen.query_one("#logs-note").display,
                     what="the logs")
    await pilot.pause()
    assert isinstance(app.screen, HostDetailScreen)
    return app.screen


async def test_hostile_text_from_every_backend_shows_as_stand_ins_in_the_detail(farm, config):
    model = farm.model
    model.set_puppet_status("mw153", "failed", events=(ResourceEvent("File", "/srv/[/]x", "failure", PUPPET_MESSAGE),),
                            since=timedelta(hours=1))
    model.set_puppet_disabled("mw153", reason=DISABLED, since=timedelta(minutes=5))
    model.set_host_state("mw153", "DOWN", output=HOST_DOWN)
    model.set_check("mw153", "Disk [/]\u200d", "CRITICAL", output=CHECK_OUTPUT)
    model.add_log("mw153", LOG_LINE, level=3, application_name="php[/]fpm")
    app = console_app(config)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_detail(pilot, "guest:mw153")
        await wait_until(pilot, lambda: "PING" in screen_text(app), what="the DOWN host's output")
        shown = screen_text(app)
        assert_nothing_raw(shown)
        assert "✖ HOST DOWN ⟨U+001B⟩]0;owned^GPING [/] lost" in shown  # the alerts section
        assert "Disk [/]⟨U+200D⟩  DISK [/]⟨U+001B⟩[5m full" in shown  # a check's name is an identifier
        assert "⏸ agent disabled: [bold]alice[/] ⟨U+001B⟩]0;title^G" in shown  # the Puppet section
        assert "✖ File[/srv/[/]x]: Could not [/] evaluate ⟨U+001B⟩[31mred" in shown
        assert "GET /w ⟨U+001B⟩]52;c;UFdO^G [bold]x[/ ⟨U+202E⟩evil" in shown  # the logs table
        assert "php[/]fpm" in shown
        # enter on the line: the whole message, in a toast
        await pilot.press("tab")
        logs = screen.query_one("#logs-table")
        assert app.focused is logs
        logs.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert any("mw153: GET /w ⟨U+001B⟩]52;c;UFdO^G [bold]x[/ ⟨U+202E⟩evil" in toast for toast in toasts(app))
        assert app.is_running and app.screen is screen
        assert_nothing_raw(screen_text(app))


async def test_a_vm_name_with_markup_and_an_escape_is_shown_and_c_refuses_to_copy_it(farm, config):
    hostile = "mw[/]9\x1b]0;x\x07"
    model = farm.model
    with model.lock:  # the VM mw161 renamed in Proxmox (Icinga and PuppetDB still know mw161)
        guest = model.guests.pop("mw161")
        guest.spec = replace(guest.spec, name=hostile)
        model.guests[hostile] = guest
    app = console_app(config)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_detail(pilot, f"guest:{hostile}")
        assert screen.identity.name == hostile  # the value stays exact; only what is shown changes
        shown = screen_text(app)
        assert_nothing_raw(shown)
        assert "mw[/]9⟨U+001B⟩]0;x^G  Proxmox mw[/]9⟨U+001B⟩]0;x^G" in shown  # the identity line
        assert "Logs of mw[/]9⟨U+001B⟩]0;x^G: the last" in shown  # a border title
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == ""
        assert "not copied: the name holds a control character (U+001B ESC)" in toasts(app)
        assert app.is_running and app.screen is screen
        assert_nothing_raw(screen_text(app))


async def test_y_refuses_a_link_that_is_not_a_plain_http_url_and_copies_a_good_one(farm):
    data = yaml.safe_load(farm.config_yaml())
    data["links"]["icinga"] = "javascript:alert('{host}')"
    data["links"]["grafana"] = "https://grafana.wikitide.net/d/x?h={host}\u202e"
    app = console_app(parse_config(yaml.safe_dump(data, sort_keys=False), "<sim farm>"))
    async with app.run_test(size=(300, 40)) as pilot:
        screen = await open_detail(pilot, "guest:mw152")
        links = screen_text(app)
        assert_nothing_raw(links)
        assert "grafana https://grafana.wikitide.net/d/x?h=mw152⟨U+202E⟩" in links
        assert "▲ the link holds an invisible or bidi character (U+202E RIGHT-TO-LEFT OVERRIDE)" in links
        assert "icinga  javascript:alert('mw152')  ▲ the link is not an http(s) URL" in links
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        assert "grafana https://grafana.wikitide.net/d/x?h=mw152⟨U+202E⟩" in screen_text(app)
        await pilot.press("down", "down", "down", "enter")  # grafana
        await pilot.pause()
        assert app.screen is screen and app.clipboard == ""
        assert "not copied: the link holds an invisible or bidi character (U+202E RIGHT-TO-LEFT OVERRIDE)" in toasts(app)
        await pilot.press("y", "down", "down", "enter")  # icinga: javascript:
        await pilot.pause()
        assert app.screen is screen and app.clipboard == ""
        assert "not copied: the link is not an http(s) URL" in toasts(app)
        await pilot.press("y", "down", "enter")  # graylog: a good link is copied
        await pilot.pause()
        assert app.clipboard.startswith("https://logging.wikitide.net/search?q=source%3Amw152")
        await pilot.press("c")
        assert app.clipboard == "mw152.fsslc.wtnet"
        assert_nothing_raw(screen_text(app))
