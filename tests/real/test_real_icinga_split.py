"""The Icinga source's split refresh against a real Icinga2: the slim query for every check, the
problems filter (`service.state != ServiceOK`) with the output, host states without output, and one
DOWN host's output on demand (IcingaSource.host_output, with filter_vars)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from console.core.config import parse_config
from console.core.model import CheckState
from console.sources import build_source

pytestmark = pytest.mark.real

HOST = "split151.fsslc.wtnet"  # its own host: the other real tests count the real Icinga's problems
DOWN = "split152.fsslc.wtnet"
CHECKS = {"PHP-FPM": (2, "PROCS CRITICAL: 0 processes"), "SSH": (0, "SSH OK - OpenSSH_9.2p1"),
          "Disk Space": (1, "DISK WARNING - free space: / 12%")}  # fmt: skip


@pytest.fixture(scope="module")
def split_icinga(real_icinga):
    def ok(answer):
        status, body = answer
        assert status == 200, body
        return body

    try:
        for host in (HOST, DOWN):
            ok(real_icinga.api("PUT", f"objects/hosts/{host}", {"attrs": {"check_command": "dummy", "enable_active_checks": False}}))
        for host, state, output in ((HOST, 0, "PING OK - Packet loss = 0%"), (DOWN, 1, "PING CRITICAL - Packet loss = 100%")):
            ok(real_icinga.api("POST", "actions/process-check-result", {
                "type": "Host", "filter": "host.name == name", "filter_vars": {"name": host},
                "exit_status": state, "plugin_output": output,
            }))  # fmt: skip
        for service, (state, output) in CHECKS.items():
            attrs = {"check_command": "passive", "enable_active_checks": False, "max_check_attempts": 1}
            ok(real_icinga.api("PUT", "objects/services/" + quote(f"{HOST}!{service}"), {"attrs": attrs}))
            ok(real_icinga.api("POST", "actions/process-check-result", {
                "type": "Service", "filter": f'host.name=="{HOST}" && service.name=="{service}"',
                "exit_status": state, "plugin_output": output,
            }))  # fmt: skip
        yield real_icinga
    finally:
        for host in (HOST, DOWN):
            real_icinga.api("DELETE", f"objects/hosts/{host}?cascade=1")


def icinga_source(icinga, tmp_path):
    secret = tmp_path / "icinga.secret"
    secret.write_text(icinga.password)
    secret.chmod(0o600)
    text = (
        "farm: {name: wikitide, environment: test, domains: [fsslc.wtnet]}\nsources:\n"
        f"  icinga:\n    - {{name: icinga, url: '{icinga.url}', username: {icinga.username}, "
        f"password: {{file: '{secret}'}}, verify: '{icinga.ca_path}'}}\n"
    )
    return build_source("icinga", parse_config(text, "<real>").sources.icinga[0])


async def test_split_refresh_against_a_real_icinga(split_icinga, tmp_path):
    source = icinga_source(split_icinga, tmp_path)
    try:
        result = await source.fetch()
        down_output = await source.host_output(DOWN)
        up_output = await source.host_output(HOST)
    finally:
        await source.aclose()
    assert result.ok, result.error
    mine = {c.service: c for c in result.data.services if c.host == HOST}
    assert {name: (c.state, c.output) for name, c in mine.items()} == {
        "PHP-FPM": (CheckState.CRITICAL, "PROCS CRITICAL: 0 processes"),  # problems carry their output
        "Disk Space": (CheckState.WARNING, "DISK WARNING - free space: / 12%"),
        "SSH": (CheckState.OK, ""),  # an OK check comes from the slim query, without output
    }
    assert all(c.last_check is not None and c.hard for c in mine.values())
    hosts = {h.name: h for h in result.data.hosts}
    assert hosts[HOST].up and not hosts[DOWN].up and hosts[DOWN].output == "PING CRITICAL - Packet loss = 100%"
    assert down_output == "PING CRITICAL - Packet loss = 100%"
    assert up_output == "PING OK - Packet loss = 0%"
