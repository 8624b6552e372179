"""Host problems from a real Icinga2 (issue 26, item 1): a passive DOWN result for a host → the source's
snapshot → an Alerts row of its own with its service problems folded under it, and `status` lists it
(`kind: host`, `service: null`, its output); acknowledged in Icinga, the row is handled."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import jsonschema
import pytest

from console.cli.status import build_report, collect, load_schema
from console.core.config import parse_config
from console.derive.alerts import merged_alerts
from console.derive.alerts_pane import alerts_view
from console.derive.services_pane import services_view

pytestmark = pytest.mark.real

HOST = "hostdown151.fsslc.wtnet"  # its own hosts: the other real tests count the real Icinga's problems
PEER = "hostdown152.fsslc.wtnet"
OUTPUT = "CRITICAL - Host Unreachable (10.0.0.151)"
SERVICES = {"PHP-FPM": (2, "connect to address 10.0.0.151 and port 9000: No route to host"),
            "HTTPS": (2, "connect to address 10.0.0.151 and port 443: No route to host")}  # fmt: skip


def ok(answer):
    status, body = answer
    assert status == 200, body
    return body


@pytest.fixture(scope="module")
def down_icinga(real_icinga):
    try:
        for host in (HOST, PEER):
            ok(real_icinga.api("PUT", f"objects/hosts/{host}", {"attrs": {
                "check_command": "dummy", "enable_active_checks": False, "max_check_attempts": 1}}))  # fmt: skip
        for service, (state, output) in SERVICES.items():
            attrs = {"check_command": "passive", "enable_active_checks": False, "max_check_attempts": 1}
            ok(real_icinga.api("PUT", "objects/services/" + quote(f"{HOST}!{service}"), {"attrs": attrs}))
            ok(real_icinga.api("POST", "actions/process-check-result", {
                "type": "Service", "filter": "host.name == h && service.name == s",
                "filter_vars": {"h": HOST, "s": service}, "exit_status": state, "plugin_output": output,
            }))  # fmt: skip
        for host, state, output in ((HOST, 1, OUTPUT), (PEER, 0, "PING OK - Packet loss = 0%")):
            ok(real_icinga.api("POST", "actions/process-check-result", {
                "type": "Host", "filter": "host.name == name", "filter_vars": {"name": host},
                "exit_status": state, "plugin_output": output,
            }))  # fmt: skip
        yield real_icinga
    finally:
        for host in (HOST, PEER):
            real_icinga.api("DELETE", f"objects/hosts/{host}?cascade=1")


def config_for(icinga, tmp_path):
    secret = tmp_path / "icinga.secret"
    secret.write_text(icinga.password)
    secret.chmod(0o600)
    return parse_config(
        "farm: {name: wikitide, environment: test, domains: [fsslc.wtnet]}\nsources:\n"
        f"  icinga:\n    - {{name: icinga, url: '{icinga.url}', username: {icinga.username}, "
        f"password: {{file: '{secret}'}}, verify: '{icinga.ca_path}'}}\n"
        "services:\n  - {name: php-fpm, hosts: 'hostdown*', checks: [PHP-FPM]}\n",
        "<real>",
    )


def plain(cells) -> list[str]:
    return [getattr(cell, "plain", cell) for cell in cells]


async def test_a_passive_down_result_is_a_host_alert(down_icinga, tmp_path):
    config = config_for(down_icinga, tmp_path)
    store = await collect(config)
    assert store.get("icinga").ok, store.get("icinga").error
    mine = [a for a in merged_alerts(store, config.farm.domains) if a.host in (HOST, PEER)]
    assert [a.key for a in mine] == [f"{HOST}!"]  # its two service problems are folded under it; PEER is UP
    (alert,) = mine
    assert alert.state_name == "DOWN" and alert.host_state is not None and not alert.handled
    assert sorted(c.service for c in alert.folded) == ["HTTPS", "PHP-FPM"]
    now = datetime.now(timezone.utc)
    row = next(row for row in alerts_view(store, config, now).rows if row.key == f"{HOST}!")
    assert plain(row.cells)[0] == "✖ DOWN" and plain(row.cells)[3:5] == ["hostdown151", "+2 service problems"]
    php = next(row for row in services_view(store, config, now).rows if row.key == "php-fpm")
    assert plain(php.cells)[4] == "hostdown151"

    report = build_report(store, config, now)
    jsonschema.validate(report, load_schema())
    (entry,) = [a for a in report["alerts"] if a["kind"] == "host" and a["host"] == "hostdown151"]
    assert (entry["service"], entry["state"], entry["output"], entry["acknowledged"]) == (None, "DOWN", OUTPUT, False)
    assert not [a for a in report["alerts"] if a["host"] == "hostdown152"]


async def test_an_acknowledged_down_host_is_handled(down_icinga, tmp_path):
    ok(down_icinga.api("POST", "actions/acknowledge-problem", {
        "type": "Host", "filter": "host.name == name", "filter_vars": {"name": HOST},
        "author": "ops", "comment": "guest hung - T12345",
    }))  # fmt: skip
    try:
        config = config_for(down_icinga, tmp_path)
        store = await collect(config)
        view = alerts_view(store, config, datetime.now(timezone.utc))
        assert f"{HOST}!" in view.handled
        row = next(row for row in view.rows if row.key == f"{HOST}!")
        assert plain(row.cells)[1] == "ACK"
        report = build_report(store, config, datetime.now(timezone.utc))
        (entry,) = [a for a in report["alerts"] if a["kind"] == "host" and a["host"] == "hostdown151"]
        assert entry["acknowledged"] and not entry["in_downtime"]
    finally:
        down_icinga.api("POST", "actions/remove-acknowledgement", {
            "type": "Host", "filter": "host.name == name", "filter_vars": {"name": HOST}})  # fmt: skip
