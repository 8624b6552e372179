"""The parsers on the recorded shapes of docs/reference/APIS.md, and on malformed answers.

No network, no Textual: every parser is a pure function of a decoded JSON payload."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import httpx
import pytest

from console.core.model import CheckState
from console.sources.base import MalformedAnswer, SourceError, describe_error
from console.sources.commits import parse_git_log, parse_github_commits, rate_limit_message, rate_limit_remaining
from console.sources.graylog import parse_messages, syslog_level
from console.sources.httpclient import answer_json, redact, tls_reason, transport_failure
from console.sources.icinga import parse_hosts, parse_services
from console.sources.parsing import epoch_time, flag, iso_time, opt_int
from console.sources.proxmox import parse_cluster_resources, parse_node_status, parse_rrddata
from console.sources.puppetdb import parse_events, parse_nodes, parse_reports

UTC = timezone.utc

# --- Proxmox -----------------------------------------------------------------------------------

QEMU_100 = {
    "id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve", "name": "pxe.home.arpa", "status": "running",
    "template": 0, "cpu": 0.174, "maxcpu": 1, "mem": 35304543, "maxmem": 4294967296, "disk": 0,
    "maxdisk": 34359738368, "diskread": 6656, "diskwrite": 0, "netin": 416956, "netout": 17330, "uptime": 669,
}  # fmt: skip
LXC_103 = {"id": "lxc/103", "type": "lxc", "vmid": 103, "node": "pve2", "pool": "pool1", "status": "stopped",
           "maxmem": 536870912, "uptime": 0}  # fmt: skip
NODE_PVE1 = {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online", "level": "", "cpu": 0.05,
             "maxcpu": 40, "mem": 1024, "maxmem": 4096, "uptime": 1234}  # fmt: skip
STORAGE = {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1", "status": "available"}
SDN = {"id": "sdn/pve1/localnetwork", "type": "sdn", "sdn": "localnetwork", "node": "pve1", "status": "ok"}


def test_cluster_resources_recorded_shapes():
    inventory = parse_cluster_resources([QEMU_100, LXC_103, NODE_PVE1, STORAGE, SDN])
    assert [n.name for n in inventory.nodes] == ["pve1"]
    node = inventory.nodes[0]
    assert (node.status, node.cpu, node.maxcpu, node.maxmem, node.uptime) == ("online", 0.05, 40, 4096, 1234)
    qemu, lxc = inventory.guests
    assert (qemu.name, qemu.vmid, qemu.node, qemu.kind, qemu.status) == ("pxe.home.arpa", 100, "pve", "qemu", "running")
    assert (qemu.cpu, qemu.maxcpu, qemu.mem, qemu.maxmem, qemu.uptime, qemu.template) == (
        0.174, 1, 35304543, 4294967296, 669, False,
    )  # fmt: skip
    # fields may be absent: cpu, mem, maxcpu, name, template
    assert (lxc.kind, lxc.status, lxc.cpu, lxc.mem, lxc.maxmem, lxc.uptime) == ("lxc", "stopped", None, None, 536870912, 0)
    assert lxc.name == "CT 103" and lxc.template is False


def test_cluster_resources_wrapped_body_floats_and_templates():
    templ = {**QEMU_100, "vmid": 9000.0, "template": 1, "maxcpu": 2.0, "id": "qemu/9000"}
    bare = {"id": "qemu/101", "type": "qemu", "node": "pve"}  # vmid only in the id
    node_from_id = {"id": "node/pve3", "type": "node"}
    inventory = parse_cluster_resources({"data": [templ, bare, node_from_id]})
    assert [(g.vmid, g.template, g.maxcpu) for g in inventory.guests] == [(101, False, None), (9000, True, 2)]
    assert inventory.guests[0].name == "VM 101" and inventory.guests[0].status == "unknown"
    assert inventory.nodes[0].name == "pve3" and inventory.nodes[0].status == "unknown"
    assert parse_cluster_resources([{**QEMU_100, "template": True}]).guests[0].template is True


def test_cluster_resources_empty():
    assert parse_cluster_resources([]).guests == ()


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"data": None},
        {"errors": b"<html>oops</html>"},  # proxmoxer's way of returning a body that is not JSON
        "resources",
        [None],
        ["qemu/100"],
        [{"id": "qemu/100", "vmid": 100}],  # no type
        [{**QEMU_100, "vmid": "one hundred"}],
        [{**QEMU_100, "cpu": [1]}],
        [{**QEMU_100, "template": 7}],
        [{**QEMU_100, "node": None}],
        [{"id": "qemu/", "type": "qemu", "node": "pve"}],
    ],
)
def test_cluster_resources_malformed(payload):
    with pytest.raises(MalformedAnswer):
        parse_cluster_resources(payload)


def test_malformed_message_names_the_spot_not_the_value():
    with pytest.raises(MalformedAnswer) as caught:
        parse_cluster_resources([NODE_PVE1, {**QEMU_100, "vmid": "s3cr3t-looking"}])
    assert "cluster/resources[1].vmid" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


def test_rrddata_points_sorted_and_numeric_only():
    points = parse_rrddata([{"time": 120, "cpu": 0.5, "maxcpu": 2}, {"time": 60.0, "cpu": None, "note": "x"}])
    assert points == [{"time": 60.0}, {"time": 120.0, "cpu": 0.5, "maxcpu": 2.0}]
    for bad in (None, {"time": 1}, [{"cpu": 1}], [[1, 2]]):
        with pytest.raises(MalformedAnswer):
            parse_rrddata(bad)


def test_node_status():
    status = parse_node_status(
        {
            "cpu": 0.02, "wait": 0.001, "uptime": 86400, "loadavg": ["0.12", "0.30", "0.25"],
            "cpuinfo": {"cpus": 40, "model": "AMD EPYC"}, "memory": {"total": 100, "used": 40, "free": 60},
            "rootfs": {"total": 10, "used": 5, "avail": 5, "free": 5}, "pveversion": "pve-manager/9.1.3",
            "current-kernel": {"release": "6.14.8-2-pve"}, "boot-info": {"mode": "efi"},
        }
    )  # fmt: skip
    assert status["loadavg"] == (0.12, 0.30, 0.25)
    assert (status["cpus"], status["memory_used"], status["rootfs_avail"], status["swap_total"]) == (40, 40, 5, None)
    assert status["kernel"] == "6.14.8-2-pve"
    for bad in (None, [], {"memory": "lots"}, {"loadavg": "1 2 3"}):
        with pytest.raises(MalformedAnswer):
            parse_node_status(bad)


# --- PuppetDB ----------------------------------------------------------------------------------

PUPPET_NODE = {
    "certname": "mw151.fsslc.wtnet",
    "deactivated": None,
    "expired": None,
    "catalog_timestamp": "2026-08-20T12:00:03.123Z",
    "facts_timestamp": "2026-08-20T11:59:58.001Z",
    "report_timestamp": "2026-08-20T12:00:10.456Z",
    "catalog_environment": "production",
    "facts_environment": "production",
    "report_environment": "production",
    "latest_report_status": "failed",
    "latest_report_noop": False,
    "latest_report_noop_pending": False,
    "latest_report_hash": "32c821673e647b0650717db467abc51d9949fd9a",
    "latest_report_job_id": None,
    "latest_report_corrective_change": None,
    "cached_catalog_status": "on_failure",
}


def test_puppetdb_nodes_all_fields():
    other = {
        **PUPPET_NODE, "certname": "db151.fsslc.wtnet", "latest_report_status": "unchanged",
        "report_timestamp": "2026-08-20T13:00:10+01:00", "latest_report_noop": True,
        "deactivated": "2026-08-19T10:00:00.000Z", "expired": None, "cached_catalog_status": None,
    }  # fmt: skip
    never = {"certname": "new1.fsslc.wtnet", "report_timestamp": None, "latest_report_status": None}
    inventory = parse_nodes([PUPPET_NODE, other, never])
    db, mw, new = inventory.nodes  # sorted by certname
    assert mw.latest_report_status == "failed" and mw.cached_catalog_status == "on_failure"
    assert mw.report_timestamp == datetime(2026, 8, 20, 12, 0, 10, 456000, tzinfo=UTC)
    assert (mw.noop, mw.deactivated, mw.expired) == (False, False, False)
    assert db.report_timestamp == datetime(2026, 8, 20, 12, 0, 10, tzinfo=UTC)  # +01:00 → UTC
    assert (db.noop, db.deactivated, db.cached_catalog_status) == (True, True, None)
    assert new.latest_report_status is None and new.report_timestamp is None


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"nodes": []},
        [None],
        [{"latest_report_status": "failed"}],  # no certname
        [{**PUPPET_NODE, "report_timestamp": 1724155210}],
        [{**PUPPET_NODE, "report_timestamp": "yesterday"}],
        [{**PUPPET_NODE, "latest_report_status": 2}],
        [{**PUPPET_NODE, "latest_report_noop": "maybe"}],
    ],
)
def test_puppetdb_nodes_malformed(payload):
    with pytest.raises(MalformedAnswer):
        parse_nodes(payload)


def test_puppetdb_error_body():
    with pytest.raises(SourceError, match="No information is known about x"):
        parse_nodes({"error": "No information is known about x"})


def test_puppetdb_reports_and_events():
    reports = parse_reports(
        [
            {"hash": "a", "certname": "mw151", "status": "unchanged", "noop": False,
             "end_time": "2026-08-20T11:30:10.000Z", "receive_time": "2026-08-20T11:30:11.000Z"},
            {"hash": "b", "certname": "mw151", "status": "failed", "noop": False, "corrective_change": None,
             "end_time": "2026-08-20T12:00:10.000Z", "environment": "production"},
        ]
    )  # fmt: skip
    assert [r["hash"] for r in reports] == ["b", "a"]
    assert reports[0]["end_time"] == datetime(2026, 8, 20, 12, 0, 10, tzinfo=UTC)
    events = parse_events(
        [
            {"certname": "mw151", "report": "b", "status": "success", "timestamp": "2026-08-20T12:00:01Z",
             "resource_type": "File", "resource_title": "/etc/x", "property": "content", "message": "changed"},
            {"certname": "mw151", "report": "b", "status": "failure", "timestamp": "2026-08-20T12:00:05Z",
             "resource_type": "Service", "resource_title": "php8.4-fpm", "property": "ensure",
             "message": "Could not start", "containing_class": "Php::Fpm", "old_value": "stopped",
             "new_value": "running"},
        ]
    )  # fmt: skip
    assert [e["status"] for e in events] == ["failure", "success"]
    assert events[0]["containing_class"] == "Php::Fpm" and events[1]["containing_class"] is None
    for bad in (None, [1], [{"hash": None, "certname": "x"}]):
        with pytest.raises(MalformedAnswer):
            parse_reports(bad)
    with pytest.raises(MalformedAnswer):
        parse_events([{"status": 3}])


# --- Icinga ------------------------------------------------------------------------------------


def icinga_service(host="mw152", name="PHP-FPM", **attrs):
    base = {
        "name": name, "host_name": host, "state": 2.0, "state_type": 1.0, "acknowledgement": 0.0,
        "downtime_depth": 0.0, "last_state_change": 1724155200.5, "last_check": 1724155260.25,
        "last_check_result": {"exit_status": 2.0, "output": "CRITICAL: php-fpm is not running\n", "performance_data": []},
    }  # fmt: skip
    return {"name": f"{host}!{name}", "type": "Service", "attrs": {**base, **attrs}, "joins": {}, "meta": {}}


def test_icinga_services_with_floats():
    payload = {
        "results": [
            icinga_service(),
            icinga_service(host="mw151", name="HTTPS", state=0.0, last_check_result={"output": "HTTP OK"}),
            icinga_service(host="db151", name="Disk Space", state=1.0, state_type=0.0, acknowledgement=2.0),
            icinga_service(host="cp161", name="Varnish Backends", state=3.0, downtime_depth=1.0),
        ]
    }
    cp, db, mw151, mw152 = parse_services(payload)
    assert mw152.key == "mw152!PHP-FPM"
    assert (mw152.state, mw152.hard, mw152.acknowledged, mw152.in_downtime) == (CheckState.CRITICAL, True, False, False)
    assert mw152.output == "CRITICAL: php-fpm is not running"
    assert mw152.last_state_change == datetime(2024, 8, 20, 12, 0, 0, 500000, tzinfo=UTC)
    assert mw152.last_check == datetime(2024, 8, 20, 12, 1, 0, 250000, tzinfo=UTC)
    assert mw151.state is CheckState.OK and mw151.output == "HTTP OK"
    assert (db.state, db.hard, db.acknowledged, db.handled) == (CheckState.WARNING, False, True, True)
    assert (cp.state, cp.in_downtime, cp.handled) == (CheckState.UNKNOWN, True, True)


def test_icinga_host_name_from_joins_or_full_name():
    joined = icinga_service(host_name=None)
    joined["joins"] = {"host": {"name": "mw153"}}
    joined["name"] = "ignored!PHP-FPM"
    bare = icinga_service(host_name=None, name=None)
    bare["name"] = "mw161!SSH"
    pending = icinga_service(host="mw171", last_check_result=None, last_state_change=0.0, last_check=0)
    checks = {c.key: c for c in parse_services({"results": [joined, bare, pending]})}
    assert set(checks) == {"mw153!PHP-FPM", "mw161!SSH", "mw171!PHP-FPM"}
    assert checks["mw171!PHP-FPM"].output == "" and checks["mw171!PHP-FPM"].last_state_change is None


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"results": None},
        {"results": [None]},
        {"results": [{"name": "x!y"}]},  # no attrs
        {"results": [icinga_service(state=4.0)]},
        {"results": [icinga_service(state=1.5)]},
        {"results": [icinga_service(state="CRITICAL")]},
        {"results": [icinga_service(state=None)]},
        {"results": [icinga_service(last_check_result="CRITICAL")]},
        {"results": [icinga_service(last_state_change="today")]},
        {"results": [{**icinga_service(host_name=None, name=None), "name": "noservice"}]},
    ],
)
def test_icinga_services_malformed(payload):
    with pytest.raises(MalformedAnswer):
        parse_services(payload)


def test_icinga_hosts():
    payload = {
        "results": [
            {"name": "mw152", "type": "Host", "attrs": {"name": "mw152", "state": 1.0, "acknowledgement": 1.0,
             "downtime_depth": 0.0, "last_check_result": {"output": "PING CRITICAL - Packet loss = 100%"}}},
            {"name": "mw151", "type": "Host", "attrs": {"state": 0.0}},
        ]
    }  # fmt: skip
    mw151, mw152 = parse_hosts(payload)
    assert (mw151.name, mw151.up, mw151.output) == ("mw151", True, "")
    assert (mw152.up, mw152.acknowledged, mw152.in_downtime) == (False, True, False)
    for bad in ({"results": [{"name": "x", "attrs": {}}]}, {"results": [{"attrs": {"state": 0}}]}, "hosts"):
        with pytest.raises(MalformedAnswer):
            parse_hosts(bad)


# --- Graylog -----------------------------------------------------------------------------------


def graylog_schema(*fields):
    return [{"column_type": "field", "type": "string", "field": f, "name": f"field: {f}"} for f in fields]


def test_graylog_tabular_maps_columns_by_name():
    payload = {
        "schema": graylog_schema("source", "message", "timestamp", "level"),  # not in the order asked
        "datarows": [
            ["mw151", "PHP Fatal error", "2026-08-20T12:00:00.000Z", 3],
            ["db151", "disk full", "2026-08-20T12:00:05.000Z", "2"],
            ["cp161", "no level", "2026-08-20T11:59:00.000Z", None],
        ],
        "metadata": {"effective_timerange": {"type": "absolute", "from": "x", "to": "y"}},
    }
    snapshot = parse_messages(payload)
    assert [m.source for m in snapshot.messages] == ["db151", "mw151", "cp161"]  # newest first
    db, mw, cp = snapshot.messages
    assert (db.level, mw.level, cp.level) == (2, 3, None)
    assert mw.timestamp == datetime(2026, 8, 20, 12, 0, tzinfo=UTC) and mw.message == "PHP Fatal error"
    assert snapshot.total is None


def test_graylog_missing_level_column_and_name_only_schema():
    schema = [{"column_type": "field", "type": "string", "name": "field: timestamp"},
              {"column_type": "field", "type": "string", "name": "field: message"}]  # fmt: skip
    snapshot = parse_messages({"schema": schema, "datarows": [["2026-08-20T12:00:00+02:00", "hello"]]})
    (message,) = snapshot.messages
    assert (message.source, message.level, message.message) == ("", None, "hello")
    assert message.timestamp == datetime(2026, 8, 20, 10, 0, tzinfo=UTC)


def test_graylog_legacy_shape():
    payload = {
        "messages": [{"message": {"_id": "abc", "timestamp": "2026-08-20T12:00:00.000Z", "source": "mw151",
                                  "message": "oops", "level": 4.0}, "index": "graylog_0"}],
        "total_results": 1.0,
    }  # fmt: skip
    snapshot = parse_messages(payload)
    assert snapshot.total == 1
    assert snapshot.messages[0].message_id == "abc" and snapshot.messages[0].level == 4


@pytest.mark.parametrize("value, level", [(3, 3), (3.0, 3), ("5", 5), ("ERROR", 3), ("warning", 4), ("x", None),
                                          (9, None), (None, None), (2.5, None), (True, None)])  # fmt: skip
def test_syslog_level(value, level):
    assert syslog_level(value) == level


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"schema": "x", "datarows": []},
        {"schema": graylog_schema("source"), "datarows": []},  # no timestamp column
        {"schema": graylog_schema("timestamp"), "datarows": None},
        {"schema": graylog_schema("timestamp"), "datarows": ["2026-08-20T12:00:00Z"]},
        {"schema": graylog_schema("timestamp"), "datarows": [[None]]},
        {"schema": graylog_schema("timestamp"), "datarows": [["not a time"]]},
        {"schema": [None], "datarows": []},
        {"messages": [{"index": "x"}]},
        {"total_results": 3},
    ],
)
def test_graylog_malformed(payload):
    with pytest.raises(MalformedAnswer):
        parse_messages(payload)


# --- GitHub and git ----------------------------------------------------------------------------


def github_commit(sha, date, message, login="alice", name="Alice Example", committer_date=None):
    return {
        "sha": sha,
        "html_url": f"https://github.com/miraheze/mw-config/commit/{sha}",
        "commit": {
            "author": {"name": name, "email": "a@example.org", "date": date},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": committer_date or date},
            "message": message,
        },
        "author": {"login": login} if login else None,
        "parents": [{"sha": "0" * 40}],
    }


def test_github_commits():
    payload = [
        github_commit("8b394f29" + "0" * 32, "2026-08-20T12:57:48+01:00", "add thumb.wm.org to CSP (#6502)\n\nbody"),
        github_commit("d15b32a9" + "0" * 32, "2026-08-20T07:56:18-04:00", "T15148: move CSP entries (#6496)",
                      login=None, name=""),
    ]  # fmt: skip
    first, second = parse_github_commits(list(reversed(payload)), "miraheze/mw-config")  # sorted, whatever came
    assert first.subject == "add thumb.wm.org to CSP (#6502)"  # 11:57:48 UTC, newer than 11:56:18 UTC
    assert first.date == datetime(2026, 8, 20, 11, 57, 48, tzinfo=UTC) and first.author == "Alice Example"
    assert first.url.endswith(first.sha) and first.short_sha == "8b394f29" and first.repo == "miraheze/mw-config"
    assert second.subject == "T15148: move CSP entries (#6496)" and second.author == "unknown"
    assert second.date == datetime(2026, 8, 20, 11, 56, 18, tzinfo=UTC)


def test_github_commit_author_login_fallback_and_committer_date():
    (commit,) = parse_github_commits(
        [github_commit("a" * 40, "2026-01-01T00:00:00Z", "x", name=None, committer_date="2026-01-02T00:00:00Z")], "o/r"
    )
    assert commit.author == "alice" and commit.date == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"message": "Not Found"},
        [None],
        [{"sha": "abc"}],  # no commit
        [{**github_commit("a" * 40, "2026-01-01T00:00:00Z", "x"), "sha": None}],
        [github_commit("a" * 40, "January", "x")],
        [github_commit("a" * 40, None, "x")],
        [{**github_commit("a" * 40, "2026-01-01T00:00:00Z", "x"), "commit": {"message": 5}}],
    ],
)
def test_github_commits_malformed(payload):
    with pytest.raises(MalformedAnswer):
        parse_github_commits(payload, "o/r")


def test_rate_limit_headers():
    now = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
    reset = int(datetime(2026, 8, 20, 12, 12, tzinfo=UTC).timestamp())
    message = rate_limit_message({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, now)
    assert message == "GitHub rate limit exhausted; resets at 12:12:00 UTC (in 12 min)"
    assert "12:01:00" in rate_limit_message({"retry-after": "60"}, now)
    assert "unknown" in rate_limit_message({"x-ratelimit-reset": "soon"}, now)
    assert rate_limit_remaining({"x-ratelimit-remaining": "4999"}) == 4999
    assert rate_limit_remaining({"x-ratelimit-remaining": "lots"}) is None
    assert rate_limit_remaining({}) is None


def test_git_log():
    text = (
        "a" * 40 + "\x1fAlice\x1f2026-08-20T12:57:48+01:00\x1fFix the thing\x1e\n"
        + "b" * 40 + "\x1fBob\x1f2026-08-19T10:00:00Z\x1fsubject with \x1f inside\x1e\n"
    )
    first, second = parse_git_log(text, "puppet")
    assert (first.sha, first.author, first.subject, first.repo) == ("a" * 40, "Alice", "Fix the thing", "puppet")
    assert first.date == datetime(2026, 8, 20, 11, 57, 48, tzinfo=UTC)
    assert second.subject == "subject with \x1f inside"
    assert parse_git_log("", "x") == ()
    for bad in ("garbage\x1e", "abc\x1fA\x1fnot-a-date\x1fs\x1e", "\x1fA\x1f2026-01-01T00:00:00Z\x1fs\x1e"):
        with pytest.raises(MalformedAnswer):
            parse_git_log(bad, "x")


# --- shared helpers ----------------------------------------------------------------------------


def test_time_helpers():
    assert iso_time("2026-08-20T12:00:00Z", "t") == datetime(2026, 8, 20, 12, tzinfo=UTC)
    assert iso_time("2026-08-20T14:00:00+02:00", "t") == datetime(2026, 8, 20, 12, tzinfo=UTC)
    assert iso_time("2026-08-20T12:00:00", "t").tzinfo is UTC  # naive means UTC
    assert iso_time(None, "t") is None
    assert epoch_time(1724155200.0, "t") == datetime(2024, 8, 20, 12, tzinfo=UTC)
    assert epoch_time(0, "t") is None and epoch_time(None, "t") is None
    with pytest.raises(MalformedAnswer):
        epoch_time(1e300, "t")
    assert opt_int(2.0, "n") == 2 and opt_int("7", "n") == 7
    with pytest.raises(MalformedAnswer):
        opt_int(True, "n")
    with pytest.raises(MalformedAnswer):
        opt_int(float("nan"), "n")
    assert flag(1.0, "f") is True and flag("0", "f") is False and flag(None, "f") is False


def test_iso_time_nanoseconds():
    # Some servers send nanoseconds; Python keeps microseconds. A failure here must be MalformedAnswer.
    try:
        value = iso_time("2026-08-20T12:00:00.123456789Z", "t")
    except MalformedAnswer:
        return
    assert value is not None and value.tzinfo is UTC


# --- error descriptions ------------------------------------------------------------------------


def response(status, body=b"", headers=None):
    request = httpx.Request("GET", "https://example.test/x")
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers or {}, request=request)


def test_answer_json_statuses():
    assert answer_json(response(200, {"a": 1})) == {"a": 1}
    with pytest.raises(SourceError, match=r"^authentication failed \(HTTP 401\): check the token$"):
        answer_json(response(401, {"message": "no"}), auth_hint="check the token")
    with pytest.raises(SourceError, match="HTTP 403 Forbidden"):
        answer_json(response(403))
    with pytest.raises(SourceError, match=r"^HTTP 500 Internal Server Error: database is down$"):
        answer_json(response(500, {"message": "database is down\nstack..."}))
    with pytest.raises(SourceError, match=r"^HTTP 503 Service Unavailable$"):
        answer_json(response(503, b"<html>busy</html>"))
    with pytest.raises(SourceError, match="HTTP 302"):
        answer_json(response(302, headers={"location": "https://elsewhere"}))
    with pytest.raises(MalformedAnswer, match="not JSON"):
        answer_json(response(200, b"<html>"))


def test_describe_error_messages():
    assert describe_error(asyncio.TimeoutError(), 2.5) == "timed out after 2.5s"
    assert describe_error(httpx.ReadTimeout("x"), 5) == "timed out after 5s"
    assert describe_error(SourceError("authentication failed (HTTP 401): x"), 5).startswith("authentication failed")
    assert describe_error(MalformedAnswer("malformed answer: nodes should be a list, got null"), 5) == (
        "malformed answer: nodes should be a list, got null"
    )


def test_transport_failure_messages():
    url = "https://127.0.0.1:8006"
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    assert transport_failure(url, refused) == "cannot connect to 127.0.0.1:8006: connection refused"
    tls = httpx.ConnectError(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain "
        "(_ssl.c:1006)"
    )
    assert transport_failure(url, tls) == (
        "TLS error talking to 127.0.0.1:8006: certificate verify failed: self-signed certificate in certificate chain"
    )
    assert transport_failure("http://h", httpx.RemoteProtocolError("Server disconnected")).startswith("h:80 closed")
    assert tls_reason("hostname mismatch, certificate is not valid for 'x'") == (
        "the certificate does not match the host name"
    )


def test_redact():
    assert redact("token abc123 and abc", ["abc", "abc123", ""]) == "token [redacted] and [redacted]"
