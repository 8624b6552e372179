"""The host detail over the simulated farm: opened from each pane, its sections, per-section errors,
esc back to the same cursor, copying links, and `s` running the SSH command with the right target."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from ui_helpers import FIXED_AT, cell_text, console_app, every_pane_has_rows, every_source_answered, table, text_of, wait_until

from console.core.config import parse_config
from console.sim.puppet import ResourceEvent
from console.ui.dialogs import Picker
from console.ui.screens.detail import HostDetailScreen

pytestmark = pytest.mark.sim


def settled(app) -> bool:
    return every_source_answered(app) and every_pane_has_rows(app)


def detail(app) -> HostDetailScreen:
    assert isinstance(app.screen, HostDetailScreen), f"on {app.screen!r}"
    return app.screen


def section(app, name: str) -> str:
    return shown(app.screen.query_one(f"#{name}"))


def shown(widget) -> str:
    """The text a widget shows, also when it renders a Rich table (the links)."""
    rendered = widget.render()
    renderable = getattr(rendered, "_renderable", None)
    if renderable is None:
        return text_of(widget)
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def open_detail(pilot, pane: str, key: str) -> HostDetailScreen:
    """Put the cursor of `pane` on the row `key`, press enter, wait until every section loaded."""
    app = pilot.app
    await wait_until(pilot, lambda: settled(app), what="every pane filled")
    await pilot.press({"hosts": "1", "alerts": "2", "services": "3", "commits": "4"}[pane])
    rows = table(app, f"{pane}-table")
    rows.move_cursor(row=rows.get_row_index(key))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending, what="the detail loaded")
    await pilot.pause()
    return detail(app)


async def test_enter_on_an_alert_opens_its_host_with_logs_puppet_and_commits(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, "alerts", "mw152!PHP-FPM")
        assert screen.identity.name == "mw152" and screen.identity.fqdn == "mw152.fsslc.wtnet"
        identity = section(app, "detail-identity")
        assert "Proxmox mw152" in identity and "PuppetDB mw152.fsslc.wtnet" in identity and "Icinga mw152" in identity
        assert "ssh mw152.fsslc.wtnet" in identity
        assert "✖ CRITICAL" in section(app, "sec-alerts") and "PHP-FPM" in section(app, "sec-alerts")
        assert "VM 1502 on cloud15  running" in section(app, "machine-text")
        assert "node cloud15  online" in section(app, "machine-text")
        cpu, mem = (text_of(line) for line in screen.query("UsageLine"))
        assert cpu.startswith("cpu ") and "% now, max" in cpu and mem.startswith("mem ")
        assert section(app, "sec-puppet").startswith(("✔ unchanged", "● changed"))
        assert "◆" in section(app, "sec-commits")  # landed in the 2 h before the incident
        logs = app.screen.query_one("#logs-table")
        assert logs.row_count == 100
        messages = [cell_text(logs.get_row(key)[3]) for key in logs.row_keys()]
        assert sum("connect() to unix:/run/php/fpm-www.sock failed (111: Connection refused)" in m for m in messages) > 50
        first = logs.get_row(logs.row_keys()[0])
        assert cell_text(first[1]) in ("err", "info", "notice", "warn") and cell_text(first[0]).count(":") == 2


async def test_esc_goes_back_with_the_cursor_where_it_was(config):
    app = console_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(pilot, "hosts", "guest:mw161")
        assert detail(app).identity.name == "mw161"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HostDetailScreen)
        assert app.focused.id == "hosts-table" and table(app, "hosts-table").cursor_key == "guest:mw161"
        await pilot.press("enter")
        await pilot.pause()
        assert detail(app).identity.name == "mw161"
        await pilot.press("3")  # a pane's number also leaves the detail, for that pane
        await pilot.pause()
        assert not isinstance(app.screen, HostDetailScreen) and app.focused.id == "services-table"


async def test_a_hypervisor_row_opens_the_node(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, "hosts", "node:cloud16")
        assert screen.identity.hypervisor is not None and screen.identity.certname == "cloud16.fsslc.wtnet"
        assert "node cloud16  online" in section(app, "machine-text")
        assert "% now" in text_of(screen.query("UsageLine").first())  # the node's own rrddata
        assert "no vmid (not a Proxmox guest)" in section(app, "sec-links")


async def test_a_service_with_one_problem_host_opens_it_and_with_several_offers_a_picker(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(pilot, "services", "php-fpm")
        assert screen.identity.name == "mw152"
        await pilot.press("escape")
        table(app, "services-table").move_cursor(row=table(app, "services-table").get_row_index("varnish"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        options = app.screen.query_one("OptionList")
        picked = options.get_option_at_index(options.highlighted).id
        assert picked.startswith("cp")  # the worst host first
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending)
        assert detail(app).identity.name == picked


async def test_enter_on_a_commit_does_nothing(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: settled(app))
        await pilot.press("4", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, HostDetailScreen) and app.focused.id == "commits-table"


async def test_a_failing_graylog_shows_in_its_section_and_the_rest_still_loads(farm, config):
    farm.set_fault("graylog", "down")
    farm.model.set_puppet_status(
        "mw153",
        "failed",
        events=(ResourceEvent("File", "/srv/mediawiki/robots.php", "failure", "Could not evaluate: source gone"),),
        since=timedelta(hours=1),
    )
    farm.model.set_puppet_disabled("mw153", reason="testing new nginx config --alice", since=timedelta(minutes=5))
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, "hosts", "guest:mw153")
        assert section(app, "logs-note").startswith("✖ graylog: cannot connect to 127.0.0.1")
        assert app.screen.query_one("#logs-table").row_count == 0
        puppet = section(app, "sec-puppet")
        assert puppet.startswith("✖ failed")
        assert "⏸ agent disabled: testing new nginx config --alice" in puppet
        assert "✖ File[/srv/mediawiki/robots.php]: Could not evaluate: source gone" in puppet
        assert "% now" in text_of(detail(app).query("UsageLine").first())


async def test_y_copies_a_link_and_c_the_host_name(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, "alerts", "mw152!PHP-FPM")
        await pilot.press("c")
        assert app.clipboard == "mw152.fsslc.wtnet"
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, Picker)
        await pilot.press("down", "enter")  # the second link: graylog
        await pilot.pause()
        assert isinstance(app.screen, HostDetailScreen)
        assert app.clipboard.startswith("https://logging.wikitide.net/search?q=source%3Amw152")


RECORDER = """\
import json, sys
with open(sys.argv[1], "w") as out:
    json.dump(sys.argv[2:], out)
"""


async def test_s_suspends_runs_ssh_to_the_host_and_resumes_where_it_was(farm, tmp_path: Path, monkeypatch):
    record = tmp_path / "argv.json"
    script = tmp_path / "record-argv.py"
    script.write_text(RECORDER)
    command = json.dumps([sys.executable, str(script), str(record), "-o", "BatchMode=yes"])
    config = parse_config(farm.config_yaml() + f"ssh:\n  command: {command}\n  target: '{{fqdn}}'\n")
    app = console_app(config)
    suspended: list[bool] = []

    @contextlib.contextmanager
    def suspend():  # the headless test driver cannot hand over a terminal; a real one does
        suspended.append(True)
        yield

    monkeypatch.setattr(app, "suspend", suspend)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, "alerts", "mw152!PHP-FPM")
        await pilot.press("s")
        await pilot.pause()
        assert suspended == [True]
        assert json.loads(record.read_text()) == ["-o", "BatchMode=yes", "mw152.fsslc.wtnet"]
        assert isinstance(app.screen, HostDetailScreen) and detail(app).identity.name == "mw152"
        await pilot.press("escape")
        assert table(app, "alerts-table").cursor_key == "mw152!PHP-FPM"


async def test_s_without_a_terminal_to_hand_over_says_so(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, "alerts", "mw152!PHP-FPM")
        await pilot.press("s")
        await pilot.pause()
        assert any("cannot be handed over" in str(n.message) for n in app._notifications)
        assert isinstance(app.screen, HostDetailScreen)


async def test_a_local_git_commit_before_the_alert_is_marked_in_both_places(farm, tmp_path: Path):
    repo = tmp_path / "deploy-tools"
    when = (FIXED_AT - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%S+00:00")  # the alert began ~10 min ago
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_NAME": "alice", "GIT_AUTHOR_EMAIL": "a@x",
           "GIT_COMMITTER_NAME": "alice", "GIT_COMMITTER_EMAIL": "a@x", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "php: lower pm.max_children"], check=True, env=env)
    text = farm.config_yaml().replace("  commits:\n", f"  commits:\n  - name: deploy-tools\n    git: {repo}\n", 1)
    app = console_app(parse_config(text))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_detail(pilot, "alerts", "mw152!PHP-FPM")
        assert "◆ 25m deploy-tools" in section(app, "sec-commits")
        await pilot.press("escape", "4")
        commits = table(app, "commits-table")
        marked = [key for key in commits.row_keys() if cell_text(commits.get_row(key)[0]).startswith("◆")]
        assert any(key.startswith("deploy-tools@") for key in marked)
        assert "◆" in str(app.pane(4).border_subtitle)


async def test_sources_that_cannot_load_the_extras_say_so_section_by_section():
    """In-process fake sources (no rrddata, no reports) and no Graylog: every section still answers."""
    from ui_fakes import NOW, FakeFarm, fake_config

    from console.ui.app import OpsConsoleApp

    app = OpsConsoleApp(fake_config(), sources=FakeFarm().sources(), clock=lambda: NOW, identity="ops@bast161")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app) and table(app, "alerts-table").row_count > 0)
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending)
        assert detail(app).identity.name == "mw152"
        assert text_of(detail(app).query("UsageLine").first()) == "cpu ✖ source pve cannot fetch usage history"
        assert section(app, "sec-puppet").splitlines() == ["✔ unchanged 3m ago (11:57 UTC)", "✖ last report: source puppetdb cannot fetch reports"]
        assert section(app, "logs-note") == "✖ graylog: no graylog source configured"
        assert "✖ CRITICAL" in section(app, "sec-alerts")
