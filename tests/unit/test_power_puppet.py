"""Guest power and Puppet plans: requests, tiers, the Puppet exit-code mapping and UPID parsing — no network."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.actions import (
    ActionEngine,
    GuestPower,
    InvalidAction,
    NotConfigured,
    Operator,
    PuppetDisable,
    PuppetEnable,
    PuppetRun,
    Risk,
    Session,
    challenge_for,
)  # fmt: skip
from console.actions.power import GuestLocation, parse_upid, proxmox_action_source
from console.actions.puppet import run_status
from console.actions.remote import CommandResult
from console.core.clock import fixed_clock
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.core.model import Guest, ProxmoxInventory, PuppetInventory, PuppetNodeStatus

NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)
ALICE = Operator("alice", "bast161")
CONFIG = """\
farm: {name: wikitide, environment: test, domains: [fsslc.wtnet]}
sources:
  proxmox:
    - {name: pve, url: "https://cloud15.fsslc.wtnet:8006", token_id: "root@pam!opsconsole", token_secret: {env: TEST_PVE}}
actions:
  audit: {path: AUDIT}
  executor: ssh
EXTRA"""
MW152 = GuestLocation("cloud16", 152, "qemu", "pve")


@pytest.fixture
def make_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_PVE", "pve-secret-token")
    monkeypatch.setenv("TEST_PVE_ACTION", "pve-action-secret")

    def make(extra: str = "") -> ActionEngine:
        config = parse_config(CONFIG.replace("AUDIT", str(tmp_path / "audit.jsonl")).replace("EXTRA", extra))
        return ActionEngine(config, Session(ALICE), clock=fixed_clock(NOW))

    return make


def directory() -> HostDirectory:
    found = HostDirectory(["fsslc.wtnet"])
    found.add_proxmox("pve", ProxmoxInventory((), (Guest("mw151", 151, "cloud15", "qemu", "running"),
                                                  Guest("mw152", 152, "cloud16", "qemu", "running"))))
    found.add_puppet("puppetdb", PuppetInventory(tuple(
        PuppetNodeStatus(f"{name}.fsslc.wtnet", "unchanged", NOW) for name in ("mw151", "mw152", "dns001"))))
    return found


# --- guest power -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command, risk", [("start", Risk.REVERSIBLE), ("shutdown", Risk.SEVERAL),
                                           ("reboot", Risk.SEVERAL), ("stop", Risk.IRREVERSIBLE)])
def test_guest_power_plan_names_node_and_vmid_and_its_tier(make_engine, command, risk):
    plan = make_engine().plan(GuestPower("mw152", command, MW152), "kernel update")
    step = plan.steps[0]
    assert step.request.method == "POST"
    assert step.request.url == f"https://cloud15.fsslc.wtnet:8006/api2/json/nodes/cloud16/qemu/152/status/{command}"
    assert plan.risk is risk and plan.targets == ("mw152",)
    assert "cloud16" in plan.title and "152" in plan.title
    assert "pve-secret-token" not in plan.render()
    if risk is Risk.IRREVERSIBLE:
        assert challenge_for(plan).expected == "mw152"  # stop: type the host's name


def test_lxc_guests_post_under_lxc(make_engine):
    plan = make_engine().plan(GuestPower("ct200", "reboot", GuestLocation("cloud15", 200, "lxc")), "testing")
    assert plan.steps[0].request.url.endswith("/nodes/cloud15/lxc/200/status/reboot")


def test_guest_power_refuses_unknown_guests_and_commands(make_engine):
    engine = make_engine()
    with pytest.raises(InvalidAction, match="not a Proxmox guest"):
        engine.plan(GuestPower("dns001", "reboot"), "testing")
    with pytest.raises(InvalidAction, match="start, shutdown, reboot, stop"):
        engine.plan(GuestPower("mw152", "hibernate", MW152), "testing")
    with pytest.raises(InvalidAction, match="bad guest location"):
        engine.plan(GuestPower("mw152", "start", GuestLocation("../etc", 152)), "testing")


def test_the_action_token_replaces_the_sources_own(make_engine):
    engine = make_engine("  proxmox: {token_id: 'ops@pve!power', token_secret: {env: TEST_PVE_ACTION}}\n")
    source = proxmox_action_source(engine.config)
    assert source.token_id == "ops@pve!power" and source.token_secret.reveal() == "pve-action-secret"
    assert proxmox_action_source(make_engine().config).token_id == "root@pam!opsconsole"


def test_no_proxmox_source_is_not_configured(tmp_path):
    config = parse_config(f"farm: {{name: x, environment: test}}\nactions: {{audit: {{path: {tmp_path}/a}}}}\n")
    with pytest.raises(NotConfigured, match="sources.proxmox"):
        ActionEngine(config, Session(ALICE)).plan(GuestPower("mw152", "start", MW152), "testing")


def test_upid_parses_the_documented_example():
    upid = parse_upid("UPID:iaclab-01-01:000029DD:1599528B:6108F068:srvreload:networking:root@pam:")
    assert (upid.node, upid.pid, upid.pstart, upid.starttime) == ("iaclab-01-01", 0x29DD, 0x1599528B, 0x6108F068)
    assert (upid.type, upid.id, upid.user) == ("srvreload", "networking", "root@pam")
    token_user = parse_upid("UPID:cloud16:00003A10:1599528B:68A85BC0:qmreboot:152:root@pam!opsconsole:")
    assert token_user.user == "root@pam!opsconsole" and token_user.id == "152"


@pytest.mark.parametrize("text", [
    "UPID:cloud16:00003A10:1599528B:68A85BC0:qmreboot:152:root@pam",  # no trailing colon
    "UPID:cloud16:XYZ:1599528B:68A85BC0:qmreboot:152:root@pam:",  # pid not hex
    "TASK:cloud16:00003A10:1599528B:68A85BC0:qmreboot:152:root@pam:",
    "UPID::00003A10:1599528B:68A85BC0:qmreboot:152:root@pam:",  # no node
    "", None, 42,
])
def test_upid_rejects_malformed_ids(text):
    with pytest.raises(ValueError, match="not a UPID"):
        parse_upid(text)


@given(st.text(max_size=80))
def test_upid_parsing_never_raises_anything_but_value_error(text):
    try:
        parse_upid(text)
    except ValueError:
        pass


# --- Puppet ----------------------------------------------------------------------------------------


def test_puppet_run_plan_runs_the_configured_command_on_each_host(make_engine):
    engine = make_engine()
    one = engine.plan(PuppetRun(("mw152",), directory()), "deploy check")
    assert one.risk is Risk.REVERSIBLE and one.action == "puppet-run"
    assert one.steps[0].command.line == "sudo puppet agent -tv"
    assert one.steps[0].command.address == "mw152.fsslc.wtnet"
    two = engine.plan(PuppetRun(("mw151", "mw152", "mw151"), directory()), "deploy check")
    assert two.risk is Risk.SEVERAL and two.targets == ("mw151", "mw152")


def test_puppet_disable_carries_the_reason_as_one_quoted_argument(make_engine):
    plan = make_engine().plan(PuppetDisable(("mw152",), directory()), "upgrading php; don't run", task="T123")
    line = plan.steps[0].command.line
    assert line == "sudo puppet agent --disable 'upgrading php; don'\"'\"'t run - alice@bast161 - T123'"
    enable = make_engine().plan(PuppetEnable(("mw152",), directory()), "done")
    assert enable.steps[0].command.line == "sudo puppet agent --enable" and enable.action == "puppet-enable"


def test_puppet_refuses_unknown_hosts_and_no_inventory(make_engine):
    engine = make_engine()
    with pytest.raises(InvalidAction, match="unknown host"):
        engine.plan(PuppetRun(("nosuch1",), directory()), "testing")
    with pytest.raises(NotConfigured, match="inventory"):
        engine.plan(PuppetRun(("mw152",)), "testing")
    with pytest.raises(InvalidAction, match="at least one host"):
        engine.plan(PuppetRun((" ",), directory()), "testing")


def _result(status: str, exit_status: int | None) -> CommandResult:
    return CommandResult("mw152", status, exit_status, "", "", f"{status} detail", 1.0)


@pytest.mark.parametrize("exit_status, status, words", [
    (0, "ok", "no changes"), (2, "ok", "changes applied"), (4, "failed", "failures"),
    (6, "failed", "changes applied, with failures"), (1, "failed", "did not happen"), (3, "failed", "unexpected"),
])
def test_puppet_detailed_exit_codes(exit_status, status, words):
    executor_status = "ok" if exit_status == 0 else "failed"
    got_status, detail = run_status(_result(executor_status, exit_status))
    assert got_status == status and words in detail and detail.startswith(f"exit {exit_status}")


def test_puppet_keeps_the_executors_own_failures():
    assert run_status(_result("down", None)) == ("down", "down detail")
    assert run_status(_result("timeout", None)) == ("timeout", "timeout detail")
