"""Host problems are alerts (issue 26, item 1): an Icinga host DOWN or UNREACHABLE is an Alerts row with
its service problems folded under it, handled like any alert, ranked as CRITICAL; the Hosts pane says
`running · DOWN`; the Services pane counts a DOWN host; `status` lists it. From a store filled by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from rich.text import Text

from console.actions import IcingaTarget, Refused
from console.cli.status import build_report, load_schema, render_table
from console.core.config import parse_config
from console.core.model import (
    CheckState,
    Guest,
    HypervisorNode,
    IcingaHostState,
    IcingaSnapshot,
    LogEvent,
    LogSnapshot,
    ProxmoxInventory,
    PuppetInventory,
    PuppetNodeStatus,
    ServiceCheck,
    SourceResult,
)
from console.core.state import Store
from console.derive.alerts import BOTH, ICINGA, alert_targets, merged_alerts
from console.derive.alerts_pane import NO_HOST_OUTPUT, alerts_view
from console.derive.hosts_pane import hosts_view
from console.derive.services_pane import service_hosts, services_view

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
CONFIG = parse_config("""
farm: {name: wikitide, environment: demo, domains: [fsslc.wtnet]}
services:
  - {name: php-fpm, hosts: "mw*", checks: [PHP-FPM]}
  - {name: mariadb, hosts: "db*", checks: [MariaDB]}
""")
UNREACHABLE_OUTPUT = "CRITICAL - Host Unreachable (10.0.0.52)"


def ago(**kwargs) -> datetime:
    return NOW - timedelta(**kwargs)


def check(host, service="PHP-FPM", state=CheckState.CRITICAL, *, since=None, ack=False, downtime=False):
    return ServiceCheck(host, service, state, True, ack, downtime, f"{state.name}: {service}", since or ago(hours=1))


def down(name, *, since=None, ack=False, downtime=False, output=UNREACHABLE_OUTPUT, hard=True, reachable=True):
    return IcingaHostState(name, False, ack, downtime, output, since, hard, reachable)


def up(name):
    return IcingaHostState(name, True)


def icinga(hosts=(), checks=()) -> IcingaSnapshot:
    return IcingaSnapshot(tuple(hosts), tuple(checks))


def store_of(*sources: tuple[str, str, object]) -> Store:
    store = Store(clock=lambda: NOW)
    for name, kind, data in sources:
        store.register(name, kind, 30)
        store.put(SourceResult(name, kind, NOW, 5.0, data=data))
    return store


def plain(cells) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else cell for cell in cells]


MW152_PROBLEMS = (check("mw152", "PHP-FPM"), check("mw152", "HTTPS"), check("mw152", "Disk Space", CheckState.WARNING),
                  check("mw152", "SSH", CheckState.UNKNOWN))


# --- the Alerts row --------------------------------------------------------------------------------


def test_a_down_host_is_one_row_with_its_service_problems_folded_under_it():
    store = store_of(("icinga", "icinga", icinga(
        (down("mw152", since=ago(minutes=20)), up("mw151")),
        (*MW152_PROBLEMS, check("mw151", "HTTPS", CheckState.WARNING), check("mw152", "Ping", CheckState.OK)))))
    alerts = merged_alerts(store)
    assert [a.key for a in alerts] == ["mw152!", "mw151!HTTPS"]  # four service problems: no rows of their own
    host = alerts[0]
    assert (host.origin, host.state, host.state_name, host.since) == (ICINGA, CheckState.CRITICAL, "DOWN", ago(minutes=20))
    assert host.actionable and host.check is None
    assert [c.service for c in host.folded] == ["HTTPS", "PHP-FPM", "SSH", "Disk Space"]  # in alert order
    view = alerts_view(store, CONFIG, NOW)
    assert plain(view.rows[0].cells) == ["✖ DOWN", "", "20m", "mw152", "+4 service problems", "icinga", UNREACHABLE_OUTPUT]
    assert view.rows[0].cells[0].style == "bold red"  # coloured as the CRITICAL it ranks as
    assert view.badge == "2"


@pytest.mark.parametrize(("problems", "said"), [((), "host check"), (MW152_PROBLEMS[:1], "+1 service problem")])
def test_the_fold_note_counts_in_words(problems, said):
    store = store_of(("icinga", "icinga", icinga((down("mw152"),), problems)))
    assert plain(alerts_view(store, CONFIG, NOW).rows[0].cells)[4] == said


def test_unreachable_soft_and_without_output():
    store = store_of(("icinga", "icinga", icinga((down("mw152", reachable=False, hard=False, output=""),))))
    (row,) = alerts_view(store, CONFIG, NOW).rows
    cells = plain(row.cells)
    assert cells[0] == "✖ UNREACHABLE" and cells[1] == "soft" and cells[2] == "—"  # the refresh gave no age
    assert cells[-1] == NO_HOST_OUTPUT  # the detail (enter) loads the output


def test_fqdn_host_names_shorten_and_keep_their_key():
    store = store_of(("icinga", "icinga", icinga((down("mw152.fsslc.wtnet"),), (check("mw152.fsslc.wtnet"),))))
    (row,) = alerts_view(store, CONFIG, NOW).rows
    assert row.key == "mw152.fsslc.wtnet!" and plain(row.cells)[3] == "mw152"


# --- handled: dimmed, flagged, hidden by h ---------------------------------------------------------


@pytest.mark.parametrize(("handled", "flag"), [({"ack": True}, "ACK"), ({"downtime": True}, "DOWNTIME")])
def test_a_handled_host_problem_is_dimmed_flagged_and_listed_for_hiding(handled, flag):
    store = store_of(("icinga", "icinga", icinga((down("mw152", **handled), up("mw151")),
                                                 (*MW152_PROBLEMS, check("mw151", state=CheckState.WARNING)))))
    view = alerts_view(store, CONFIG, NOW)
    assert [row.key for row in view.rows] == ["mw151!PHP-FPM", "mw152!"]  # handled last, whatever its rank
    assert view.handled == {"mw152!"}  # `h` hides it, and with it its folded service problems
    row = view.rows[1]
    assert {cell.style for cell in row.cells if isinstance(cell, Text)} == {"dim"}
    assert plain(row.cells)[1] == flag  # in words, not only dim


# --- order -----------------------------------------------------------------------------------------


def test_a_down_host_ranks_as_critical_oldest_first():
    store = store_of(("icinga", "icinga", icinga(
        (down("mw152", since=ago(minutes=30)), down("cp161", since=None), down("db171", since=ago(minutes=5), ack=True)),
        (check("mw151", since=ago(hours=2)),  # CRITICAL and older: above the DOWN host
         check("mw153", since=ago(minutes=10)),  # CRITICAL and newer: below it
         check("swift151", "Swift Proxy", CheckState.WARNING, since=ago(days=2)),  # older, less severe: below
         check("cp171", "Varnish", CheckState.UNKNOWN, since=ago(minutes=1))))))
    assert [a.key for a in merged_alerts(store)] == [
        "mw151!PHP-FPM", "mw152!", "mw153!PHP-FPM",
        "cp161!",  # no age: last of the CRITICALs
        "cp171!Varnish", "swift151!Swift Proxy",
        "db171!",  # handled: last
    ]


# --- Graylog still merges ----------------------------------------------------------------------------


def test_a_graylog_event_about_a_down_host_joins_its_row():
    event = LogEvent("e1", ago(minutes=3), "nginx upstream errors on mw152", "mw152", 3, "def-upstream", "mw152",
                     "nginx upstream errors")
    store = store_of(("icinga", "icinga", icinga((down("mw152.fsslc.wtnet"),), (check("mw152.fsslc.wtnet"),))),
                     ("graylog", "graylog", LogSnapshot((), events=(event,))))
    (alert,) = merged_alerts(store, ["fsslc.wtnet"])
    assert alert.origin == BOTH and alert.key == "mw152.fsslc.wtnet!"
    cells = plain(alerts_view(store, CONFIG, NOW).rows[0].cells)
    assert cells[5] == "icinga+graylog" and cells[-1] == f"{UNREACHABLE_OUTPUT} | graylog: nginx upstream errors on mw152"


# --- actions: the host itself ------------------------------------------------------------------------


ACTION_CONFIG = parse_config("""
farm: {name: wikitide, environment: demo}
sources:
  icinga:
    - {name: icinga-a, url: "https://a.example:5665", username: u, password: {env: HOME}}
    - {name: icinga-b, url: "https://b.example:5665", username: u, password: {env: HOME}}
""")


def test_a_host_row_targets_the_host_and_its_key_names_it_when_gone():
    one = store_of(("icinga", "icinga", icinga((down("mw152"),), MW152_PROBLEMS)))
    assert alert_targets(one, CONFIG, ["mw152!"]) == (IcingaTarget("mw152", None),)
    assert alert_targets(store_of(("icinga", "icinga", icinga())), CONFIG, ["mw152!"]) == (IcingaTarget("mw152"),)
    two = store_of(("icinga-a", "icinga", icinga((down("mw1"),))), ("icinga-b", "icinga", icinga((down("mw1"),))))
    assert [a.key for a in merged_alerts(two)] == ["mw1!@icinga-a", "mw1!@icinga-b"]
    assert alert_targets(two, ACTION_CONFIG, ["mw1!@icinga-a"]) == (IcingaTarget("mw1"),)
    with pytest.raises(Refused, match="mw1 is in icinga-b; actions go through icinga-a"):
        alert_targets(two, ACTION_CONFIG, ["mw1!@icinga-b"])


# --- the Hosts pane: the disagreement in words ----------------------------------------------------


def inventory() -> ProxmoxInventory:
    guests = (Guest("mw151", 101, "cloud15", "qemu", "running"), Guest("mw152", 102, "cloud15", "qemu", "running"),
              Guest("db171", 103, "cloud15", "qemu", "stopped"))
    return ProxmoxInventory((HypervisorNode("cloud15", "online"),), guests)


def statuses(store: Store) -> dict[str, str]:
    view = hosts_view(store, CONFIG, NOW)
    at = [c.key for c in view.columns].index("status")
    return {row.key: plain(row.cells)[at] for row in view.rows}


def test_hosts_pane_says_running_and_down():
    puppet = PuppetInventory((PuppetNodeStatus("dns001.fsslc.wtnet", "unchanged", ago(minutes=5)),))
    store = store_of(("pve", "proxmox", inventory()), ("puppetdb", "puppetdb", puppet),
                     ("icinga", "icinga", icinga((down("mw152.fsslc.wtnet"), up("mw151.fsslc.wtnet"),
                                                  down("db171.fsslc.wtnet"), down("dns001", reachable=False),
                                                  down("cloud15")))))
    assert statuses(store) == {
        "node:cloud15": "online · DOWN",
        "guest:db171": "stopped",  # Proxmox and Icinga agree: nothing to add
        "guest:mw151": "running",
        "guest:mw152": "running · DOWN",
        "host:dns001": "no VM · UNREACHABLE",
    }
    view = hosts_view(store, CONFIG, NOW)
    cell = next(row for row in view.rows if row.key == "guest:mw152").cells[1]
    assert isinstance(cell, Text) and any(span.style == "bold red" for span in cell.spans)


def test_hosts_pane_names_the_icinga_instance_when_there_are_several():
    store = store_of(("pve", "proxmox", inventory()), ("icinga-a", "icinga", icinga((up("mw152"),))),
                     ("icinga-b", "icinga", icinga((down("mw152"),))))
    assert statuses(store)["guest:mw152"] == "running · DOWN (icinga-b)"


def test_hosts_pane_unchanged_without_a_host_problem():
    plain_store = store_of(("pve", "proxmox", inventory()))
    with_icinga = store_of(("pve", "proxmox", inventory()), ("icinga", "icinga", icinga((up("mw152"),))))
    assert hosts_view(plain_store, CONFIG, NOW).rows == hosts_view(with_icinga, CONFIG, NOW).rows


# --- the Services pane: a DOWN host is a problem of every service it runs ----------------------------------


def test_services_count_a_down_host_as_critical():
    store = store_of(("icinga", "icinga", icinga(
        (down("mw152.fsslc.wtnet"), down("db171.fsslc.wtnet")),
        (check("mw151.fsslc.wtnet", state=CheckState.OK), check("mw152.fsslc.wtnet", state=CheckState.OK),
         check("db171.fsslc.wtnet", "MariaDB", CheckState.WARNING), check("db172.fsslc.wtnet", "MariaDB", CheckState.OK)))))
    view = services_view(store, CONFIG, NOW)
    rows = {row.key: plain(row.cells) for row in view.rows}
    assert rows["php-fpm"][1:] == ["2", "✖ CRITICAL 1  ✔ OK 1", "—", "mw152"]
    assert rows["mariadb"][1:] == ["2", "✖ CRITICAL 1  ✔ OK 1", "—", "db171"]
    assert view.badge == "✖ 2"
    assert service_hosts(store, CONFIG, "php-fpm") == [("mw152", CheckState.CRITICAL), ("mw151", CheckState.OK)]


def test_a_down_host_that_does_not_run_the_service_is_not_counted():
    store = store_of(("icinga", "icinga", icinga((down("mw152"),), (check("mw151", state=CheckState.OK),
                                                                    check("mw152", "SSH", CheckState.OK)))))
    rows = {row.key: plain(row.cells) for row in services_view(store, CONFIG, NOW).rows}
    assert rows["php-fpm"][1:3] == ["1", "✔ OK 1"]  # mw152 has no PHP-FPM check: it does not run php-fpm


# --- `opsconsole status` -------------------------------------------------------------------------------


def test_status_lists_host_problems_with_kind_host_and_no_service():
    store = store_of(("icinga", "icinga", icinga((down("mw152.fsslc.wtnet", since=ago(minutes=20), ack=True),
                                                  up("mw151.fsslc.wtnet")),
                                                 (*MW152_PROBLEMS, check("mw151", "HTTPS", CheckState.WARNING)))))
    report = build_report(store, CONFIG, NOW)
    jsonschema.validate(report, load_schema())
    host = [a for a in report["alerts"] if a["kind"] == "host"]
    assert host == [{"host": "mw152", "kind": "host", "service": None, "state": "DOWN", "hard": True,
                     "output": UNREACHABLE_OUTPUT, "acknowledged": True, "in_downtime": False,
                     "since": "2026-08-14T11:40:00Z"}]
    # every problem is listed for scripts (a DOWN host's services too), unhandled first
    assert {(a["host"], a["service"]) for a in report["alerts"][:2]} == {("mw152", "HTTPS"), ("mw152", "PHP-FPM")}
    assert report["alerts"][-1]["kind"] == "host"  # acknowledged: after every unhandled problem
    assert all(a["kind"] == "service" for a in report["alerts"] if a["service"] is not None)
    php = next(s for s in report["services"] if s["name"] == "php-fpm")
    assert {"host": "mw152", "state": "CRITICAL"} in php["problems"]
    # the table folds them as the Alerts pane does
    table = render_table(report)
    assert "ALERTS (2)" in table
    assert "DOWN     mw152          +4 service problems          ACK          " + UNREACHABLE_OUTPUT in table
    assert "PHP-FPM" not in table and "WARNING  mw151          HTTPS" in table


def test_the_schema_refuses_a_host_problem_with_a_service_state():
    store = store_of(("icinga", "icinga", icinga((down("mw152"),))))
    report = build_report(store, CONFIG, NOW)
    jsonschema.validate(report, load_schema())
    report["alerts"][0]["state"] = "CRITICAL"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, load_schema())
