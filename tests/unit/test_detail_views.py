"""console.derive.detail and the views it shares with the panes: sparklines, the Puppet section, log rows,
commits marked before the incident, the GitHub quota in the status bar. No Textual, no sockets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.text import Text

from console.core.config import parse_config
from console.core.hosts import HostIdentity
from console.core.model import (
    CheckState,
    Commit,
    CommitLog,
    IcingaSnapshot,
    LogMessage,
    LogSnapshot,
    PuppetNodeStatus,
    ServiceCheck,
    SourceResult,
)
from console.core.state import Store
from console.derive.commits_pane import commits_view, incident_start
from console.derive.detail import (
    Loaded,
    PuppetRun,
    disabled_from_fact,
    log_rows,
    puppet_text,
    sparkline,
    usage_history,
    usage_line,
)
from console.derive.status_bar import github_quota, status_items, status_line
from console.sources.graylog import host_query

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
CONFIG = parse_config("farm: {name: wikitide, domains: [fsslc.wtnet]}\n")


def ago(**kwargs) -> datetime:
    return NOW - timedelta(**kwargs)


def store_with(**by_name) -> Store:
    """One source per keyword: name -> (kind, data)."""
    store = Store(clock=lambda: NOW)
    for name, (kind, data) in by_name.items():
        store.register(name, kind, 30)
        store.put(SourceResult(name, kind, NOW, 1.0, data=data))
    return store


# --- sparklines ----------------------------------------------------------------------------------


def test_sparklines_use_a_fixed_scale_so_a_steady_value_stays_flat_and_low():
    assert sparkline([21.0] * 60, 10) == "▂" * 10
    assert sparkline([0, 50, 100], 3) == "▁▅█"
    assert sparkline([10, 95], 40) == "▁█"  # never stretched past the points
    assert sparkline([], 10) == "" and sparkline([5], 0) == ""


def test_usage_history_reads_guest_and_node_points():
    guest = usage_history([{"time": 1, "cpu": 0.02, "mem": 2.0, "maxmem": 8.0}, {"time": 2}])
    node = usage_history([{"time": 1, "cpu": 0.5, "memused": 3.0, "memtotal": 4.0}])
    assert (guest.cpu, guest.mem) == ((2.0,), (25.0,))
    assert (node.cpu, node.mem) == ((50.0,), (75.0,))


def test_usage_line_fits_its_width_and_says_the_numbers():
    line = usage_line("cpu", [40.0] * 30 + [2.0] * 10, 60)
    assert line.plain.startswith("cpu ▄") and line.plain.endswith(" 2% now, max 40% (1h)")
    assert line.cell_len <= 60


# --- Puppet ----------------------------------------------------------------------------------------


TWELVE_MINUTES_AGO = ago(minutes=12)


def identity(status: str | None = "failed", when: datetime | None = TWELVE_MINUTES_AGO, noop: bool = False) -> HostIdentity:
    node = PuppetNodeStatus("mw153.fsslc.wtnet", status, when, noop=noop)
    return HostIdentity("mw153", fqdn=node.certname, puppet=node, puppet_source="puppetdb", stale_after=1800)


FAILED_RUN = PuppetRun(
    {"hash": "abc", "noop": False},
    (
        {"status": "failure", "resource_type": "File", "resource_title": "/srv/mediawiki/robots.php",
         "message": "Could not evaluate: Could not retrieve information from environment production"},
        {"status": "skipped", "resource_type": "Service", "resource_title": "nginx", "message": None},
    ),
    disabled="testing new nginx config --alice",
)  # fmt: skip


def test_puppet_says_status_age_disabled_reason_and_failed_resources():
    text = puppet_text(identity(), Loaded(FAILED_RUN), NOW, configured=True).plain.splitlines()
    assert text == [
        "✖ failed 12m ago (11:48 UTC)",
        "⏸ agent disabled: testing new nginx config --alice",
        "✖ File[/srv/mediawiki/robots.php]: Could not evaluate: Could not retrieve information from environment production",
        "↷ Service[nginx]: skipped",
    ]


def test_puppet_stale_and_noop_are_words():
    first = puppet_text(identity("unchanged", ago(hours=2), noop=True), None, NOW, True).plain.splitlines()
    assert first == ["✔ unchanged 2h ago (10:00 UTC)  ◌ noop  ▲ stale: no report for 2h", "loading…"]


def test_puppet_report_failures_are_shown_in_place_of_the_details():
    text = puppet_text(identity(), Loaded(error="timed out after 5s"), NOW, True).plain
    assert text.splitlines()[1] == "✖ last report: timed out after 5s"
    assert puppet_text(HostIdentity("mw999"), None, NOW, True).plain == "not in PuppetDB"
    assert puppet_text(HostIdentity("mw999"), None, NOW, False).plain == "no puppetdb source configured"


def test_the_disabled_fact_may_be_a_message_or_a_flag():
    assert disabled_from_fact("testing --bob") == "testing --bob"
    assert disabled_from_fact(True) is True
    assert disabled_from_fact("") is False and disabled_from_fact(None) is False and disabled_from_fact(False) is False


# --- logs --------------------------------------------------------------------------------------------


def test_log_rows_say_the_level_in_words_and_drop_a_repeated_timestamp():
    snapshot = LogSnapshot(
        (
            LogMessage(ago(seconds=3), "mw152", "2026/08/14 11:59:57 [error] 12#12: connect() failed (111)", 3, "id1", "nginx"),
            LogMessage(ago(seconds=9), "mw152", "Started session.\nsecond line", 6, None, None),
        )
    )
    rows = log_rows(snapshot)
    assert rows[0].key == "id1"
    assert [c.plain if isinstance(c, Text) else c for c in rows[0].cells] == ["11:59:57", "err", "nginx", "[error] 12#12: connect() failed (111)"]
    assert rows[0].cells[1].style == "red"
    assert [c.plain if isinstance(c, Text) else c for c in rows[1].cells] == ["11:59:51", "info", "—", "Started session. ⏎ second line"]


def test_the_host_log_query_names_both_names_and_only_plain_names():
    assert host_query(["mw152", "mw152.fsslc.wtnet"]) == 'source:mw152 OR source:"mw152.fsslc.wtnet"'
    try:
        host_query(['mw152" OR *'])
    except Exception as exc:  # noqa: BLE001
        assert "not a plain host name" in str(exc)
    else:
        raise AssertionError("an odd name went into the query")


# --- commits before the incident ------------------------------------------------------------------


def problem(host: str, state: CheckState, since: datetime, handled: bool = False) -> ServiceCheck:
    return ServiceCheck(host, "svc", state, True, handled, False, "out", since)


def test_commits_that_landed_shortly_before_the_top_alert_are_marked_with_a_symbol_and_a_style():
    checks = (
        problem("mw152", CheckState.CRITICAL, ago(minutes=10)),
        problem("db151", CheckState.WARNING, ago(hours=9)),  # older, but not the worst: not the incident
        problem("cp161", CheckState.CRITICAL, ago(hours=20), handled=True),  # acknowledged: not it either
    )
    commits = CommitLog(
        (
            Commit("miraheze/puppet", "a" * 40, "alice", ago(minutes=5), "after the alert"),
            Commit("miraheze/puppet", "b" * 40, "bob", ago(minutes=30), "just before"),
            Commit("miraheze/puppet", "c" * 40, "carol", ago(hours=3), "long before"),
        )
    )
    store = store_with(icinga=("icinga", IcingaSnapshot((), checks)), puppet=("commits", commits))
    assert incident_start(store) == ago(minutes=10)
    view = commits_view(store, CONFIG, NOW)
    repo_cells = {row.key.split("@")[1][0]: row.cells[0] for row in view.rows}
    assert repo_cells["b"] == Text("◆ puppet") and repo_cells["b"].style == "bold yellow"
    assert repo_cells["a"] == "puppet" and repo_cells["c"] == "puppet"
    assert view.legend == "◆ 1 in the 2h before mw152 svc"


def test_no_alert_no_mark():
    commits = CommitLog((Commit("miraheze/puppet", "b" * 40, "bob", ago(minutes=30), "x"),))
    view = commits_view(store_with(puppet=("commits", commits)), CONFIG, NOW)
    assert view.rows[0].cells[0] == "puppet" and view.legend == ""


# --- the GitHub quota in the status bar -----------------------------------------------------------


def test_the_status_bar_ends_with_the_github_quota_and_keeps_a_low_one():
    store = store_with(
        pve=("proxmox", 1),
        mw=("commits", CommitLog((), rate_limit_remaining=4870)),
        dns=("commits", CommitLog((), rate_limit_remaining=4871)),
    )
    quota = github_quota(store)
    assert quota.text.plain == "GitHub 4870 left" and not quota.low
    items = status_items(store, NOW)
    assert status_line(items, 200, quota).plain == "✔ pve 1ms  ✔ mw 1ms  ✔ dns 1ms  GitHub 4870 left"
    assert status_line(items, 40, quota).plain == "✔ pve  ✔ mw  ✔ dns  GitHub 4870 left"  # the quota before latencies
    assert status_line(items, 30, quota).plain == "✔ pve 1ms  ✔ mw 1ms  ✔ dns 1ms"
    low = github_quota(store_with(mw=("commits", CommitLog((), rate_limit_remaining=12))))
    assert low.low and low.text.plain == "▲ GitHub 12 left"
    assert status_line(items, 40, low).plain == "✔ pve  ✔ mw  ✔ dns  ▲ GitHub 12 left"
    assert github_quota(store_with(pve=("proxmox", 1))) is None
