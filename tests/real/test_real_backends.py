"""The console's own clients and `status` against a real PuppetDB 7 and a real Icinga2."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import jsonschema
import pytest

from console.cli.status import build_report, collect, load_schema
from console.core.config import parse_config

pytestmark = pytest.mark.real

NOW = datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def report_body(certname: str, status: str, at: datetime) -> dict:
    """A store_report v8 body as PuppetDB 7 accepts it."""
    return {
        "certname": certname, "environment": "production", "puppet_version": "7.23.0", "report_format": 12,
        "configuration_version": "1", "start_time": stamp(at), "end_time": stamp(at), "producer_timestamp": stamp(at),
        "producer": "puppet181.fsslc.wtnet", "resources": [], "metrics": [], "logs": [],
        "transaction_uuid": str(uuid.uuid4()), "catalog_uuid": str(uuid.uuid4()), "code_id": None, "job_id": None,
        "cached_catalog_status": "not_used", "status": status, "noop": False, "corrective_change": None,
        "noop_pending": False, "type": "agent",
    }  # fmt: skip


@pytest.fixture(scope="module")
def filled_puppetdb(real_puppetdb):
    """mw151 failed 5 min ago, mw152 changed 10 min ago, db171 unchanged 3 h ago (stale at 1 h)."""
    runs = {
        "mw151.fsslc.wtnet": ("failed", NOW - timedelta(minutes=5)),
        "mw152.fsslc.wtnet": ("changed", NOW - timedelta(minutes=10)),
        "db171.fsslc.wtnet": ("unchanged", NOW - timedelta(hours=3)),
    }
    for certname, (status, at) in runs.items():
        facts = {
            "certname": certname, "environment": "production", "producer_timestamp": stamp(at),
            "producer": "puppet181.fsslc.wtnet", "values": {"fqdn": certname, "role": certname[:2]},
        }  # fmt: skip
        real_puppetdb.command("replace_facts", 5, certname, facts)
        real_puppetdb.command("store_report", 8, certname, report_body(certname, status, at))
    return real_puppetdb


@pytest.fixture(scope="module")
def filled_icinga(real_icinga):
    """mw152: PHP-FPM CRITICAL (unhandled), Disk Space WARNING (acknowledged); db171: MariaDB CRITICAL in downtime."""
    def ok(answer):
        status, body = answer
        assert status == 200, body
        return body

    for host in ("mw152.fsslc.wtnet", "db171.fsslc.wtnet"):
        ok(real_icinga.api("PUT", f"objects/hosts/{host}", {"attrs": {"check_command": "dummy", "enable_active_checks": False}}))
        ok(real_icinga.api("POST", "actions/process-check-result", {  # both hosts UP: only services fail here
            "type": "Host", "filter": "host.name == name", "filter_vars": {"name": host},
            "exit_status": 0, "plugin_output": "PING OK - Packet loss = 0%",
        }))  # fmt: skip
    checks = {
        ("mw152.fsslc.wtnet", "PHP-FPM"): (2, "PROCS CRITICAL: 0 processes with command name 'php-fpm8.4'"),
        ("mw152.fsslc.wtnet", "Disk Space"): (1, "DISK WARNING - free space: / 2048 MB (12%)"),
        ("mw152.fsslc.wtnet", "SSH"): (0, "SSH OK - OpenSSH_9.2p1"),
        ("db171.fsslc.wtnet", "MariaDB"): (2, "Can't connect to MySQL server on 'db171' (111)"),
    }
    for (host, service), (state, output) in checks.items():
        attrs = {"check_command": "passive", "enable_active_checks": False, "max_check_attempts": 1}
        ok(real_icinga.api("PUT", "objects/services/" + quote(f"{host}!{service}"), {"attrs": attrs}))
        ok(real_icinga.api("POST", "actions/process-check-result", {
            "type": "Service", "filter": f'host.name=="{host}" && service.name=="{service}"',
            "exit_status": state, "plugin_output": output,
        }))  # fmt: skip
    ok(real_icinga.api("POST", "actions/acknowledge-problem", {
        "type": "Service", "filter": 'host.name=="mw152.fsslc.wtnet" && service.name=="Disk Space"',
        "author": "ops", "comment": "cleaning /var/log - T12345",
    }))  # fmt: skip
    start = NOW.timestamp()
    ok(real_icinga.api("POST", "actions/schedule-downtime", {
        "type": "Service", "filter": 'host.name=="db171.fsslc.wtnet" && service.name=="MariaDB"',
        "author": "ops", "comment": "maintenance", "start_time": start - 60, "end_time": start + 3600,
    }))  # fmt: skip
    return real_icinga


def config_for(puppetdb=None, icinga=None, secret_file=None) -> str:
    text = "farm: {name: wikitide, environment: test, domains: [fsslc.wtnet]}\nsources:\n"
    if puppetdb:
        text += f"  puppetdb:\n    - {{name: puppetdb, url: '{puppetdb.url}', stale_after: 3600}}\n"
    if icinga:
        text += (
            f"  icinga:\n    - {{name: icinga, url: '{icinga.url}', username: {icinga.username}, "
            f"password: {{file: '{secret_file}'}}, verify: '{icinga.ca_path}'}}\n"
        )
    text += "services:\n  - {name: php-fpm, hosts: 'mw*', checks: [PHP-FPM]}\n"
    return text


def icinga_secret(tmp_path, icinga, value=None):
    path = tmp_path / "icinga.secret"
    path.write_text(value or icinga.password)
    path.chmod(0o600)
    return path


async def test_puppet_runs_from_a_real_puppetdb(filled_puppetdb):
    config = parse_config(config_for(puppetdb=filled_puppetdb))
    store = await collect(config)
    report = build_report(store, config, datetime.now(timezone.utc))
    puppet = {host["name"]: host["puppet"] for host in report["hosts"]}
    assert report["sources"]["puppetdb"]["ok"], report["sources"]
    assert puppet["mw151"]["status"] == "failed" and not puppet["mw151"]["stale"]
    assert puppet["mw152"]["status"] == "changed" and not puppet["mw152"]["stale"]
    assert puppet["db171"]["status"] == "unchanged" and puppet["db171"]["stale"]
    jsonschema.validate(report, load_schema())


async def test_alerts_from_a_real_icinga(filled_icinga, tmp_path):
    config = parse_config(config_for(icinga=filled_icinga, secret_file=icinga_secret(tmp_path, filled_icinga)))
    store = await collect(config)
    report = build_report(store, config, datetime.now(timezone.utc))
    assert report["sources"]["icinga"]["ok"], report["sources"]
    alerts = [(a["host"], a["service"], a["state"], a["acknowledged"], a["in_downtime"]) for a in report["alerts"]]
    assert alerts == [
        ("mw152", "PHP-FPM", "CRITICAL", False, False),  # unhandled first
        ("db171", "MariaDB", "CRITICAL", False, True),
        ("mw152", "Disk Space", "WARNING", True, False),
    ]
    assert report["services"][0]["problems"] == [{"host": "mw152", "state": "CRITICAL"}]
    jsonschema.validate(report, load_schema())


async def test_wrong_icinga_password_is_an_error_value(filled_icinga, tmp_path):
    config = parse_config(
        config_for(icinga=filled_icinga, secret_file=icinga_secret(tmp_path, filled_icinga, "not-the-password"))
    )
    store = await collect(config)
    state = store.get("icinga")
    assert not state.ok
    assert "401" in state.error
    assert "not-the-password" not in state.error


async def test_hosts_pane_shows_puppet_runs_from_a_real_puppetdb(filled_puppetdb):
    from console.ui.app import OpsConsoleApp
    from console.ui.widgets import KeyedTable

    config = parse_config(config_for(puppetdb=filled_puppetdb))
    app = OpsConsoleApp(config, identity="ops@bast161")
    async with app.run_test(size=(120, 40)) as pilot:
        hosts = app.query_one("#hosts-table", KeyedTable)
        for _ in range(200):
            if hosts.row_count >= 3:
                break
            await pilot.pause(0.05)

        def puppet(name: str) -> str:
            cell = hosts.get_row(f"host:{name}")[2]
            return getattr(cell, "plain", str(cell))

        assert puppet("mw151").startswith("failed")
        assert puppet("mw152").startswith("changed")
        assert puppet("db171").startswith("stale")
