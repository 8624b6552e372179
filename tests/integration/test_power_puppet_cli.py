"""`opsconsole guest ...` and `opsconsole puppet ...` against the simulated farm: plans, tiers,
refusals and exit codes like purge/ack (0 ok, 1 failed, 2 refused)."""

from __future__ import annotations

import json

import pytest

from console.actions import power
from console.sim import proxmox_tasks
from tests.integration.cli_helpers import invoke

pytestmark = pytest.mark.sim


@pytest.fixture
def farm_config(cli_farm, monkeypatch):
    monkeypatch.setattr(power, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"start": 0.2, "shutdown": 0.2, "reboot": 0.3, "stop": 0.1})
    return cli_farm()


def test_guest_reboot_dry_run_names_node_and_vmid(farm_config):
    farm, config = farm_config
    spec = farm.model.guests["mw152"].spec
    result = invoke(config, "guest", "reboot", "mw152", "--reason", "kernel", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["risk"]["tier"] == 2
    assert plan["steps"][0]["request"]["url"].endswith(f"/nodes/{spec.node}/qemu/{spec.vmid}/status/reboot")


def test_guest_stop_needs_the_host_name_and_reboot_runs_to_ok(farm_config):
    farm, config = farm_config
    refused = invoke(config, "--write", "guest", "stop", "mw152", "--reason", "stuck", "--yes")
    assert refused.exit_code == 2 and "--confirm mw152" in refused.stderr
    result = invoke(config, "--write", "guest", "reboot", "mw152", "--reason", "kernel", "--yes")
    assert result.exit_code == 0, result.output
    assert "TASK OK" in result.stderr and "qmreboot OK" in result.stdout


def test_guest_of_a_host_proxmox_does_not_know_is_refused(farm_config):
    _, config = farm_config
    result = invoke(config, "--write", "guest", "start", "dns001", "--reason", "x", "--yes")
    assert result.exit_code == 2 and "not a Proxmox guest" in result.stderr


def test_puppet_run_streams_output_and_exits_by_the_agents_code(farm_config):
    farm, config = farm_config
    result = invoke(config, "--write", "puppet", "run", "mw151", "--reason", "deploy check", "--yes")
    assert result.exit_code == 0, result.output
    assert "mw151: Notice: Applied catalog in" in result.stderr
    farm.model.set_puppet_disabled("mw151", "hands off")
    result = invoke(config, "--write", "puppet", "run", "mw151", "--reason", "deploy check", "--yes")
    assert result.exit_code == 1 and "administratively disabled" in result.stderr
