"""Merged alerts (console.derive.alerts, views.alerts_view), handled rows, clusters, Graylog events parsing
and their partial failure. No Textual, no network."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rich.text import Text

from console.actions import Refused
from console.core.clusters import row_host
from console.core.config import GraylogConfig, Secret, parse_config
from console.core.model import (
    CheckState,
    Guest,
    HypervisorNode,
    IcingaSnapshot,
    LogEvent,
    LogSnapshot,
    ProxmoxInventory,
    ServiceCheck,
    SourceResult,
)
from console.core.state import Store
from console.derive.alerts import BOTH, GRAYLOG, ICINGA, alert_targets, graylog_state, merged_alerts
from console.derive.alerts_pane import alerts_view
from console.derive.hosts_pane import hosts_view
from console.derive.status_bar import status_items, status_line
from console.sources.base import SourceError
from console.sources.graylog import GraylogSource
from console.sources.graylog_events import events_body, parse_events

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
CONFIG = parse_config("farm: {name: wikitide, environment: demo, domains: [fsslc.wtnet]}\n")


def ago(**kwargs) -> datetime:
    return NOW - timedelta(**kwargs)


def check(host, service="PHP-FPM", state=CheckState.CRITICAL, *, since=None, ack=False, downtime=False):
    return ServiceCheck(host, service, state, True, ack, downtime, f"{state.name}: {service}", since or ago(hours=1))


def event(host, *, priority=3, at=None, definition="def-upstream", title="nginx upstream errors", ident=None):
    at = at or ago(minutes=5)
    return LogEvent(ident or f"{definition}-{host}-{at.timestamp()}", at, f"{title} on {host}", host, priority,
                    definition, host, title)


def store_of(*sources: tuple[str, str, object]) -> Store:
    """(name, kind, data) per source; data None = registered, never answered; an Exception = failing."""
    store = Store(clock=lambda: NOW)
    for name, kind, data in sources:
        store.register(name, kind, 30)
        if isinstance(data, Exception):
            store.put(SourceResult(name, kind, NOW, 5.0, error=str(data)))
        elif data is not None:
            store.put(SourceResult(name, kind, NOW, 5.0, data=data))
    return store


def icinga(*checks: ServiceCheck) -> IcingaSnapshot:
    return IcingaSnapshot((), checks)


def graylog(*events: LogEvent, partial=()) -> LogSnapshot:
    return LogSnapshot((), events=events, partial_errors=partial)


def plain(cells) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else cell for cell in cells]


# --- severity and order ----------------------------------------------------------------------------


@pytest.mark.parametrize(("priority", "state"), [(1, CheckState.WARNING), (2, CheckState.WARNING),
                                                 (3, CheckState.CRITICAL), (4, CheckState.CRITICAL)])
def test_graylog_priority_maps_onto_icinga_states(priority, state):
    assert graylog_state(priority) == state


def test_merged_order_is_unhandled_then_severity_then_age_across_both_systems():
    store = store_of(
        ("icinga", "icinga", icinga(check("mw151", state=CheckState.WARNING, since=ago(hours=3)),
                                    check("db171", "Disk Space", since=ago(minutes=10)),
                                    check("cp161", "HTTPS", since=ago(days=1), ack=True))),
        ("graylog", "graylog", graylog(event("cp171", at=ago(minutes=30)), event("swift151", priority=1, at=ago(hours=5)))),
    )
    alerts = merged_alerts(store)
    assert [(a.origin, a.host, a.state) for a in alerts] == [
        (GRAYLOG, "cp171", CheckState.CRITICAL),  # 30m old beats db171's 10m at the same severity
        (ICINGA, "db171", CheckState.CRITICAL),
        (GRAYLOG, "swift151", CheckState.WARNING),
        (ICINGA, "mw151", CheckState.WARNING),
        (ICINGA, "cp161", CheckState.CRITICAL),  # handled last, whatever its state
    ]


def test_repeated_firings_are_one_row_aged_from_the_first():
    events = [event("mw152", at=ago(minutes=m), ident=f"e{m}") for m in (2, 7, 12)]
    store = store_of(("graylog", "graylog", graylog(*events)))
    (alert,) = merged_alerts(store)
    assert alert.since == ago(minutes=12) and len(alert.events) == 3 and alert.events[0].timestamp == ago(minutes=2)
    row = alerts_view(store, CONFIG, NOW).rows[0]
    assert plain(row.cells)[:6] == ["✖ CRITICAL", "3×", "12m", "mw152", "nginx upstream errors", "graylog"]


# --- dedupe ----------------------------------------------------------------------------------------


def test_event_joins_the_hosts_icinga_problem_as_a_second_source():
    store = store_of(
        ("icinga", "icinga", icinga(check("mw152.fsslc.wtnet", since=ago(minutes=10)))),
        ("graylog", "graylog", graylog(event("mw152"))),
    )
    (alert,) = merged_alerts(store, ["fsslc.wtnet"])
    assert alert.origin == BOTH and alert.key == "mw152.fsslc.wtnet!PHP-FPM" and alert.state == CheckState.CRITICAL
    cells = plain(alerts_view(store, CONFIG, NOW).rows[0].cells)
    assert cells[5] == "icinga+graylog" and "graylog: nginx upstream errors on mw152" in cells[-1]


def test_event_worse_than_the_icinga_problem_keeps_its_own_row():
    store = store_of(
        ("icinga", "icinga", icinga(check("mw152", "Disk Space", state=CheckState.WARNING))),
        ("graylog", "graylog", graylog(event("mw152", priority=4))),
    )
    assert sorted(a.origin for a in merged_alerts(store)) == [GRAYLOG, ICINGA]


def test_event_on_a_host_whose_problems_are_all_handled_stays_visible():
    store = store_of(
        ("icinga", "icinga", icinga(check("mw152", ack=True), check("mw152", "HTTPS", downtime=True))),
        ("graylog", "graylog", graylog(event("mw152"))),
    )
    alerts = merged_alerts(store)
    graylog_rows = [a for a in alerts if a.origin == GRAYLOG]
    assert len(graylog_rows) == 1 and not graylog_rows[0].handled and alerts[0] is graylog_rows[0]


def test_event_matching_a_host_of_two_icinga_clusters_is_not_guessed():
    store = store_of(
        ("icinga-a", "icinga", icinga(check("mw1"))),
        ("icinga-b", "icinga", icinga(check("mw1"))),
        ("graylog", "graylog", graylog(event("mw1"))),
    )
    origins = sorted(a.origin for a in merged_alerts(store))
    assert origins == [GRAYLOG, ICINGA, ICINGA]


# --- dim and hide ----------------------------------------------------------------------------------


def test_handled_rows_are_dimmed_whole_and_listed_for_hiding():
    store = store_of(("icinga", "icinga", icinga(check("mw151", ack=True), check("mw152"), check("mw153", downtime=True))))
    view = alerts_view(store, CONFIG, NOW)
    assert view.handled == {"mw151!PHP-FPM", "mw153!PHP-FPM"}
    for row in view.rows:
        styles = {cell.style for cell in row.cells if isinstance(cell, Text)}
        assert (styles == {"dim"}) == (row.key in view.handled), row.key
    flags = {row.key: plain(row.cells)[1] for row in view.rows}
    assert flags["mw151!PHP-FPM"] == "ACK" and flags["mw153!PHP-FPM"] == "DOWNTIME"  # in words, not only dim


# --- clusters --------------------------------------------------------------------------------------


def inventory(*guests: str) -> ProxmoxInventory:
    return ProxmoxInventory((HypervisorNode("cloud1", "online"),), tuple(Guest(g, 100 + i, "cloud1", "qemu", "running")
                                                                          for i, g in enumerate(guests)))


def test_cluster_column_only_with_several_instances():
    one = store_of(("pve", "proxmox", inventory("mw1")), ("icinga", "icinga", icinga(check("mw1"))))
    assert "cluster" not in [c.key for c in hosts_view(one, CONFIG, NOW).columns]
    assert "cluster" not in [c.key for c in alerts_view(one, CONFIG, NOW).columns]
    two = store_of(("pve-a", "proxmox", inventory("mw1")), ("pve-b", "proxmox", inventory("mw1", "mw2")),
                   ("icinga-a", "icinga", icinga(check("mw1"))), ("icinga-b", "icinga", icinga(check("mw1"))))
    hosts = hosts_view(two, CONFIG, NOW)
    keys = [row.key for row in hosts.rows]
    assert [c.key for c in hosts.columns][:2] == ["host", "cluster"]
    assert keys == ["node:cloud1@pve-a", "node:cloud1@pve-b", "guest:mw1@pve-a", "guest:mw1@pve-b", "guest:mw2@pve-b"]
    assert len(set(keys)) == len(keys) and row_host("guest:mw1@pve-b") == "mw1"
    alerts = alerts_view(two, CONFIG, NOW)
    cluster_at = [c.key for c in alerts.columns].index("cluster")
    assert {row.key: plain(row.cells)[cluster_at] for row in alerts.rows} == {
        "mw1!PHP-FPM@icinga-a": "icinga-a", "mw1!PHP-FPM@icinga-b": "icinga-b"}


def test_each_instance_has_its_own_health_one_down_one_up():
    store = store_of(("pve-a", "proxmox", inventory("mw1")), ("pve-b", "proxmox", OSError("connection failed")),
                     ("icinga-a", "icinga", OSError("timed out after 10s")), ("icinga-b", "icinga", icinga()))
    health = {item.name: item.ok for item in status_items(store, NOW)}
    assert health == {"pve-a": True, "pve-b": False, "icinga-a": False, "icinga-b": True}
    line = status_line(status_items(store, NOW), 200).plain
    assert "✔ pve-a" in line and "✖ pve-b: connection failed" in line
    assert "✖ icinga-a: timed out after 10s" in line and "✔ icinga-b" in line


# --- actions on Alerts rows ------------------------------------------------------------------------


ACTION_CONFIG = parse_config("""
farm: {name: wikitide, environment: demo}
sources:
  icinga:
    - {name: icinga-a, url: "https://a.example:5665", username: u, password: {env: HOME}}
    - {name: icinga-b, url: "https://b.example:5665", username: u, password: {env: HOME}}
""")


def test_actions_refuse_graylog_rows_and_other_clusters_problems():
    store = store_of(("icinga-a", "icinga", icinga(check("mw1"))), ("icinga-b", "icinga", icinga(check("mw2"))),
                     ("graylog", "graylog", graylog(event("cp171"))))
    (target,) = alert_targets(store, ACTION_CONFIG, ["mw1!PHP-FPM@icinga-a"])
    assert (target.host, target.service) == ("mw1", "PHP-FPM")
    graylog_key = next(a.key for a in merged_alerts(store) if a.origin == GRAYLOG)
    with pytest.raises(Refused, match="a Graylog event cannot be acknowledged in Icinga"):
        alert_targets(store, ACTION_CONFIG, [graylog_key])
    with pytest.raises(Refused, match="icinga-b; actions go through icinga-a"):
        alert_targets(store, ACTION_CONFIG, ["mw2!PHP-FPM@icinga-b"])


# --- Graylog events: parsing and the partial failure ------------------------------------------------


def events_answer(*events: dict) -> dict:
    return {"events": [{"event": e, "index_name": "gl-events_4"} for e in events], "total_events": len(events),
            "context": {"event_definitions": {"d1": {"id": "d1", "title": "HTTP 5xx error rate above 5%"}}}}


def test_parse_events_takes_the_host_from_the_source_field_not_the_graylog_node():
    base = {"id": "01A", "event_definition_id": "d1", "timestamp": "2026-08-14T11:55:00.000Z", "message": "5xx on cp161",
            "source": "graylog161", "key": "cp161", "priority": 3, "alert": True, "fields": {"source": "cp161"}}
    parsed = parse_events(events_answer(
        base,
        {**base, "id": "01B", "timestamp": "2026-08-14T11:58:00.000Z", "fields": {}, "group_by_fields": {}, "key": "cp171"},
        {**base, "id": "01C", "alert": False},
    ))
    assert [(e.event_id, e.source, e.priority, e.title) for e in parsed] == [
        ("01B", "cp171", 3, "HTTP 5xx error rate above 5%"), ("01A", "cp161", 3, "HTTP 5xx error rate above 5%")]
    assert events_body(1800)["filter"] == {"alerts": "only"}


class EventsFailing(GraylogSource):
    """The events search fails (whatever else the refresh asked)."""

    async def _json(self, method, path, **kwargs):
        assert path == "/api/events/search"
        raise SourceError("HTTP 500 Internal Server Error")


async def test_a_failing_events_request_keeps_the_rest_and_says_so():
    config = GraylogConfig(name="graylog", url="https://graylog.example", token=Secret("t0k3n", "test"), timeout=2)
    source = EventsFailing(config, clock=lambda: NOW)
    snapshot = await source.with_events(LogSnapshot((), error_counts=(("mw152", 4),)))
    assert snapshot.error_counts == (("mw152", 4),) and snapshot.events == ()
    assert snapshot.partial_errors == ("events: HTTP 500 Internal Server Error",)
    store = store_of(("graylog", "graylog", snapshot))
    (item,) = status_items(store, NOW)
    assert item.ok and "▲ events: HTTP 500 Internal Server Error" in item.text.plain and "▲ events" in item.short.plain


async def test_events_off_sends_no_events_request():
    config = GraylogConfig(name="graylog", url="https://graylog.example", token=Secret("t0k3n", "test"), events=False)
    snapshot = LogSnapshot(())
    assert await EventsFailing(config).with_events(snapshot) is snapshot  # _json would fail the test
