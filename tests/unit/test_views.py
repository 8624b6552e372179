"""console.derive (the panes' views): rows, keys, order and wording of every pane, from a store filled by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.text import Text

from console.core.config import parse_config
from console.core.model import (
    CheckState,
    Commit,
    CommitLog,
    Guest,
    HypervisorNode,
    IcingaSnapshot,
    ProxmoxInventory,
    PuppetInventory,
    PuppetNodeStatus,
    ServiceCheck,
    SourceResult,
)
from console.core.rows import natural_key
from console.core.state import Store
from console.derive.alerts_pane import alerts_view
from console.derive.cells import humanize_age, humanize_uptime, short_error
from console.derive.commits_pane import commits_view
from console.derive.hosts_pane import hosts_view
from console.derive.services_pane import services_view
from console.derive.status_bar import status_items, status_line

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
CONFIG = parse_config(
    """
farm: {name: wikitide, environment: production, domains: [fsslc.wtnet, wikitide.net]}
sources:
  puppetdb: [{name: puppetdb, url: "https://puppetdb.example", stale_after: 1800}]
services:
  - {name: php-fpm, hosts: "mw*", checks: [PHP-FPM]}
  - {name: mariadb, hosts: "db*", checks: [MariaDB, MariaDB Connections]}
  - {name: swift, hosts: "swift*", checks: [Swift Proxy]}
"""
)


def ago(**kwargs) -> datetime:
    return NOW - timedelta(**kwargs)


def store_with(**data) -> Store:
    """A store with one source per keyword (name = kind), each holding the given data."""
    store = Store(clock=lambda: NOW)
    for kind, value in data.items():
        store.register(kind, kind, 30)
        store.put(SourceResult(kind, kind, NOW, 12.4, data=value))
    return store


def plain(cells) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else cell for cell in cells]


def guest(name: str, node: str = "cloud15", status: str = "running", **kw) -> Guest:
    defaults = dict(cpu=0.125, maxcpu=4, mem=4 << 30, maxmem=16 << 30, uptime=3 * 86400 + 4 * 3600)
    defaults.update(kw)
    return Guest(name, 100, node, "qemu", status, **defaults)


def check(host, service="PHP-FPM", state=CheckState.OK, *, since=None, ack=False, downtime=False, hard=True, output="x"):
    return ServiceCheck(host, service, state, hard, ack, downtime, output, since or ago(hours=1))


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (7200, "2h"), (86400 * 3, "3d"), (-5, "0s"), (None, "—")],
)
def test_humanize_age(seconds, text):
    assert humanize_age(seconds) == text


def test_humanize_age_takes_timedeltas():
    assert humanize_age(timedelta(minutes=12, seconds=30)) == "12m"


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "—"), (0, "—"), (30, "30s"), (720, "12m"), (5 * 3600 + 60, "5h"), (41 * 86400 + 3 * 3600, "41d")]
)
def test_humanize_uptime(seconds, text):
    assert humanize_uptime(seconds) == text


def test_natural_sort_orders_numbers_by_value():
    assert sorted(["mw10", "mw2", "db151", "mw151", "mwtask151"], key=natural_key) == [
        "db151",
        "mw2",
        "mw10",
        "mw151",
        "mwtask151",
    ]


@pytest.mark.parametrize(
    ("message", "short"),
    [
        ("connection failed: [Errno 111] Connection refused", "connection failed …"),
        ("HTTP 503 Service Unavailable", "HTTP 503 Service Unavailable"),
        ("cannot connect to 127.0.0.1:37791: connection refused", "cannot connect: connection refused"),
        ("TLS error: https://mon181.fsslc.wtnet:5665/v1 certificate verify failed", "TLS error: certificate verify failed"),
        ("timed out after 5s", "timed out after 5s"),
    ],
)
def test_short_error_drops_addresses_and_cuts_long_messages_at_the_first_clause(message, short):
    assert short_error(message) == short


# --- hosts ---------------------------------------------------------------------------------------


def test_hosts_lists_nodes_first_then_guests_in_natural_order():
    inventory = ProxmoxInventory(
        nodes=(HypervisorNode("cloud16", "online"), HypervisorNode("cloud15", "online")),
        guests=(guest("mw10"), guest("mw2"), guest("db151"), guest("tmpl", template=True)),
    )
    view = hosts_view(store_with(proxmox=inventory), CONFIG, NOW)
    assert [row.key for row in view.rows] == [
        "node:cloud15",
        "node:cloud16",
        "guest:db151",
        "guest:mw2",
        "guest:mw10",
    ]
    assert [c.key for c in view.columns] == ["host", "status", "puppet", "errors", "cpu", "mem", "node", "uptime"]
    assert view.badge == "5"


def test_hosts_cells_show_percentages_uptime_and_node():
    inventory = ProxmoxInventory(
        nodes=(HypervisorNode("cloud15", "online", cpu=0.5, mem=64 << 30, maxmem=256 << 30, uptime=90 * 86400),),
        guests=(guest("mw151"), guest("mw152", status="stopped", uptime=0)),
    )
    rows = {row.key: plain(row.cells) for row in hosts_view(store_with(proxmox=inventory), CONFIG, NOW).rows}
    # err/5m ("") is blank: no Graylog source in this store
    assert rows["node:cloud15"] == ["cloud15", "online", "—", "", "50%", "25%", "—", "90d"]
    assert rows["guest:mw151"] == ["mw151", "running", "—", "", "12%", "25%", "cloud15", "3d"]
    assert rows["guest:mw152"] == ["mw152", "stopped", "—", "", "—", "—", "cloud15", "—"]


def test_hosts_join_puppet_by_short_name_with_status_and_age():
    inventory = ProxmoxInventory(
        nodes=(),
        guests=(guest("mw151"), guest("mw152"), guest("mw153"), guest("mw161"), guest("db151"), guest("new1")),
    )
    reports = PuppetInventory(
        (
            PuppetNodeStatus("mw151.fsslc.wtnet", "failed", ago(minutes=12)),
            PuppetNodeStatus("mw152.fsslc.wtnet", "unchanged", ago(minutes=3)),
            PuppetNodeStatus("mw153.wikitide.net", "changed", ago(seconds=40)),
            PuppetNodeStatus("mw161.fsslc.wtnet", "unchanged", ago(hours=2)),  # stale_after is 1800 s
            PuppetNodeStatus("db151.fsslc.wtnet", None, None),
        )
    )
    view = hosts_view(store_with(proxmox=inventory, puppetdb=reports), CONFIG, NOW)
    puppet = {row.key: plain(row.cells)[2] for row in view.rows}
    assert puppet == {
        "guest:db151": "no report",
        "guest:mw151": "failed 12m",
        "guest:mw152": "unchanged 3m",
        "guest:mw153": "changed 40s",
        "guest:mw161": "stale 2h",
        "guest:new1": "—",
    }


def test_hosts_only_puppet_knows_are_listed_and_marked():
    inventory = ProxmoxInventory(nodes=(), guests=(guest("mw151"),))
    reports = PuppetInventory(
        (
            PuppetNodeStatus("mw151.fsslc.wtnet", "unchanged", ago(minutes=3)),
            PuppetNodeStatus("dns001.vps.wtnet", "failed", ago(minutes=5)),
        )
    )
    rows = hosts_view(store_with(proxmox=inventory, puppetdb=reports), CONFIG, NOW).rows
    assert [row.key for row in rows] == ["guest:mw151", "host:dns001"]
    assert plain(rows[1].cells)[:3] == ["dns001", "no VM", "failed 5m"]


def test_hosts_pane_says_loading_until_proxmox_answers():
    store = Store(clock=lambda: NOW)
    store.register("pve", "proxmox", 10)
    view = hosts_view(store, CONFIG, NOW)
    assert view.rows == ()
    assert view.note is not None and view.note.plain == "loading…"


def test_hosts_keep_last_data_and_name_the_failing_source():
    store = store_with(proxmox=ProxmoxInventory((), (guest("mw151"),)))
    store.put(SourceResult("proxmox", "proxmox", NOW + timedelta(minutes=2), 5000, error="timed out after 5s"))
    view = hosts_view(store, CONFIG, NOW + timedelta(minutes=2))
    assert [row.key for row in view.rows] == ["guest:mw151"]
    assert view.note is not None and view.note.plain == "✖ proxmox: timed out after 5s (data 2m old)"
    assert view.detail == "proxmox: timed out after 5s"


# --- services ------------------------------------------------------------------------------------


def test_services_count_hosts_by_worst_state_worst_first():
    checks = [check(f"mw{n}.fsslc.wtnet") for n in range(151, 163)]
    checks.append(check("mw152.fsslc.wtnet", "PHP-FPM", CheckState.CRITICAL))
    checks.append(check("mw153.fsslc.wtnet", "HTTPS", CheckState.CRITICAL))  # not a php-fpm check
    checks += [check("db151", "MariaDB"), check("db151", "MariaDB Connections", CheckState.WARNING), check("db161", "MariaDB")]
    checks = [c for c in checks if not (c.host == "mw152.fsslc.wtnet" and c.state == CheckState.OK)]
    view = services_view(store_with(icinga=IcingaSnapshot((), tuple(checks))), CONFIG, NOW)
    rows = {row.key: plain(row.cells) for row in view.rows}
    assert [row.key for row in view.rows] == ["php-fpm", "mariadb", "swift"]  # config order
    assert rows["php-fpm"] == ["php-fpm", "12", "✖ CRITICAL 1  ✔ OK 11", "—", "mw152"]
    assert rows["mariadb"] == ["mariadb", "2", "▲ WARNING 1  ✔ OK 1", "—", "db151"]
    assert rows["swift"] == ["swift", "0", "no matching checks", "—", ""]
    assert view.badge == "✖ 2"


def test_services_list_problem_hosts_worst_first_and_cut():
    states = [CheckState.WARNING, CheckState.CRITICAL, CheckState.UNKNOWN, CheckState.CRITICAL, CheckState.WARNING, CheckState.WARNING]
    checks = [check(f"mw{151 + i}", state=state) for i, state in enumerate(states)]
    view = services_view(store_with(icinga=IcingaSnapshot((), tuple(checks))), CONFIG, NOW)
    cells = plain(view.rows[0].cells)
    assert cells[2] == "✖ CRITICAL 2  ? UNKNOWN 1  ▲ WARNING 3"
    assert cells[4] == "mw152, mw154, mw153, mw151 +2"


def test_services_without_icinga_data_say_so():
    store = Store(clock=lambda: NOW)
    store.register("icinga", "icinga", 15)
    view = services_view(store, CONFIG, NOW)
    assert plain(view.rows[0].cells) == ["php-fpm", "—", "no data", "—", ""]


# --- alerts --------------------------------------------------------------------------------------


def test_alerts_unhandled_first_then_severity_then_oldest():
    checks = (
        check("mw151", "PHP-FPM", CheckState.OK),
        check("mw152", "PHP-FPM", CheckState.WARNING, since=ago(hours=3)),
        check("mw153", "PHP-FPM", CheckState.CRITICAL, since=ago(minutes=5)),
        check("mw154", "PHP-FPM", CheckState.CRITICAL, since=ago(minutes=50)),
        check("db151", "MariaDB", CheckState.UNKNOWN, since=ago(minutes=1)),
        check("cp161", "HTTPS", CheckState.CRITICAL, since=ago(days=2), ack=True),
        check("cp171", "HTTPS", CheckState.CRITICAL, since=ago(days=3), downtime=True, hard=False),
    )
    view = alerts_view(store_with(icinga=IcingaSnapshot((), checks)), CONFIG, NOW)
    assert [row.key for row in view.rows] == [
        "mw154!PHP-FPM",
        "mw153!PHP-FPM",
        "db151!MariaDB",
        "mw152!PHP-FPM",
        "cp171!HTTPS",
        "cp161!HTTPS",
    ]
    assert view.badge == "6"


def test_alert_cells_carry_word_symbol_age_flags_and_first_output_line():
    checks = (
        check("mw152.fsslc.wtnet", "PHP-FPM", CheckState.CRITICAL, since=ago(minutes=12), output="CRITICAL: down\nmore"),
        check("cp161", "HTTPS", CheckState.WARNING, since=ago(hours=2), ack=True, downtime=True, hard=False),
    )
    rows = alerts_view(store_with(icinga=IcingaSnapshot((), checks)), CONFIG, NOW).rows
    assert rows[0].key == "mw152.fsslc.wtnet!PHP-FPM"
    assert plain(rows[0].cells) == ["✖ CRITICAL", "", "12m", "mw152", "PHP-FPM", "icinga", "CRITICAL: down"]
    assert plain(rows[1].cells) == ["▲ WARNING", "ACK DOWNTIME soft", "2h", "cp161", "HTTPS", "icinga", "x"]
    assert rows[1].cells[0].style == "dim"  # handled problems recede; the word stays


# --- commits -------------------------------------------------------------------------------------


def test_commits_merge_every_repository_newest_first():
    mw = CommitLog((Commit("miraheze/mw-config", "a" * 40, "alice", ago(minutes=5), "T1: first\n\nbody"),))
    puppet = CommitLog(
        (
            Commit("miraheze/puppet", "b" * 40, "bob", ago(minutes=1), "mediawiki: bump"),
            Commit("miraheze/puppet", "c" * 40, "carol", ago(days=1), "old"),
        )
    )
    store = store_with(commits=mw)
    store.register("puppet", "commits", 60)
    store.put(SourceResult("puppet", "commits", NOW, 3.0, data=puppet))
    rows = commits_view(store, CONFIG, NOW).rows
    assert [row.key for row in rows] == [f"miraheze/puppet@{'b' * 40}", f"miraheze/mw-config@{'a' * 40}", f"miraheze/puppet@{'c' * 40}"]
    assert plain(rows[1].cells) == ["mw-config", "aaaaaaaa", "alice", "5m", "T1: first"]


# --- status bar ----------------------------------------------------------------------------------


def test_status_items_show_health_latency_and_data_age():
    store = store_with(proxmox=ProxmoxInventory((), ()))
    store.register("icinga", "icinga", 15)
    store.put(SourceResult("icinga", "icinga", ago(minutes=2), 30.0, data=IcingaSnapshot((), ())))
    store.put(SourceResult("icinga", "icinga", NOW, 2.0, error="connection failed: [Errno 111] Connection refused"))
    store.register("graylog", "graylog", 30)
    items = {item.name: item for item in status_items(store, NOW + timedelta(seconds=12))}
    assert items["proxmox"].text.plain == "✔ proxmox 12ms"  # fresh (its interval is 30 s): no age
    assert items["proxmox"].short.plain == "✔ proxmox"
    late = {item.name: item for item in status_items(store, NOW + timedelta(seconds=61))}
    assert late["proxmox"].text.plain == "✔ proxmox 12ms 1m old"  # two intervals and no new answer
    assert late["proxmox"].short.plain == "✔ proxmox 1m old"
    assert items["icinga"].ok is False
    assert items["icinga"].text.plain == "✖ icinga: connection failed … (data 2m old)"
    assert items["icinga"].short == items["icinga"].text
    assert items["graylog"].ok is None and items["graylog"].text.plain == "… graylog"


def test_pane_views_never_read_the_wall_clock():
    from pathlib import Path

    import console.derive

    folder = Path(console.derive.__file__).parent
    for path in [folder / "cells.py", folder / "status_bar.py", *folder.glob("*_pane.py")]:
        source = path.read_text(encoding="utf-8")
        assert "datetime.now" not in source and "utc_now" not in source, path.name


def test_status_line_shortens_healthy_sources_before_failing_ones():
    store = Store(clock=lambda: NOW)
    for name in ("pve", "puppetdb", "icinga", "graylog", "mw-config", "puppet", "dns"):
        store.register(name, "x", 120)  # polled every 2 minutes: their data is not late yet
        store.put(SourceResult(name, "x", NOW, 12.0, data=1))
    store.put(SourceResult("icinga", "x", NOW, 2.0, error="HTTP 503 Service Unavailable"))
    items = status_items(store, NOW + timedelta(minutes=2))
    full = status_line(items, 200).plain
    assert full.startswith("✔ pve 12ms  ✔ puppetdb 12ms  ✖ icinga: HTTP 503 Service Unavailable (data 2m old)")
    assert status_line(items, 120).plain == (
        "✖ icinga: HTTP 503 Service Unavailable (data 2m old)  ✔ pve  ✔ puppetdb  ✔ graylog  ✔ mw-config  ✔ puppet  ✔ dns"
    )
    assert status_line(items, 78).plain == "✖ icinga: HTTP 503 Service Unavailable (data 2m old)  ✔ 6 ok"


def test_a_source_without_tls_verification_is_flagged_in_every_form():
    store = store_with(proxmox=ProxmoxInventory((), ()))
    flagged = status_items(store, NOW, frozenset({"proxmox"}))[0]
    assert "⚠ TLS unverified" in flagged.text.plain and "⚠ TLS unverified" in flagged.short.plain
    assert "TLS" not in status_items(store, NOW)[0].text.plain
