"""Guest power against the simulated Proxmox: the POST answers a UPID, the runner follows the task to
`stopped`, shows its exitstatus and log, and the guest's status changes as Proxmox reports it."""

from __future__ import annotations

import asyncio

import pytest

from console.actions import ActionEngine, Confirmation, Operator, ReadOnlySession, Session, challenge_for, power
from console.actions.power import GuestPower, locate_guest_power, parse_upid
from console.core.clock import fixed_clock
from console.core.config import parse_config
from console.core.state import Store
from console.sim import proxmox_tasks
from console.sources import ProxmoxSource
from tests.conftest import SIM_NOW

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")


@pytest.fixture(autouse=True)
def quick_tasks(monkeypatch):
    monkeypatch.setattr(power, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"start": 0.2, "shutdown": 0.2, "reboot": 0.3, "stop": 0.1})


def store_of(config) -> Store:
    """The store after one refresh of the proxmox source, as the console has it."""

    async def fetch():
        source = ProxmoxSource(config.sources.proxmox[0])
        try:
            return await source.fetch()
        finally:
            await source.aclose()

    store = Store()
    result = asyncio.run(fetch())
    assert result.error is None, result.error
    store.register(result.source, result.kind, 10.0)
    store.put(result)
    return store


def power_on(farm, host: str, command: str, writable: bool = True, events: list | None = None):
    config = parse_config(farm.config_yaml(), "<sim>")
    engine = ActionEngine(config, Session(ALICE), clock=fixed_clock(SIM_NOW))
    if writable:
        engine.session.enable_write(engine.audit, via="test")
    plan = engine.plan(locate_guest_power(store_of(config), config, host, command), "testing")

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected),
                                    on_event=events.append if events is not None else None)
        finally:
            await engine.aclose()

    return plan, asyncio.run(go())


def guest_status(farm, client, host: str) -> dict:
    guest = farm.model.guests[host]
    url = f"{farm.urls['proxmox']}/api2/json/nodes/{guest.spec.node}/qemu/{guest.spec.vmid}/status/current"
    token = farm.secret_path("proxmox").read_text().strip()
    answer = client.get(url, headers={"Authorization": f"PVEAPIToken=root@pam!opsconsole={token}"})
    assert answer.status_code == 200
    return answer.json()["data"]


def test_reboot_follows_its_task_to_stopped_ok_and_shows_the_log(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    client = sim_client_factory(farm)
    spec = farm.model.guests["mw152"].spec
    before = guest_status(farm, client, "mw152")["uptime"]
    events: list = []
    plan, result = power_on(farm, "mw152", "reboot", events=events)
    assert plan.steps[0].request.url.endswith(f"/nodes/{spec.node}/qemu/{spec.vmid}/status/reboot")
    assert result.outcome == "success", result.render()
    step = result.steps[0]
    assert step.status == "ok" and "qmreboot OK" in step.detail
    upid = parse_upid(step.detail.rsplit("(", 1)[1].rstrip(")"))
    assert (upid.node, upid.type, upid.id) == (spec.node, "qmreboot", str(spec.vmid))
    output = [e.message for e in events if e.kind == "output"]
    assert output[0] == f"requesting reboot of VM {spec.vmid} (ACPI)"
    assert output[-1] == "TASK OK"
    assert len(output) == len(set(output))  # each log line once, however many polls it took
    after = guest_status(farm, client, "mw152")
    assert after["status"] == "running" and after["uptime"] < before  # back up, freshly booted


def test_shutdown_then_start_changes_the_guest_status(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    client = sim_client_factory(farm)
    _, result = power_on(farm, "mw151", "shutdown")
    assert result.outcome == "success", result.render()
    assert guest_status(farm, client, "mw151")["status"] == "stopped"
    _, result = power_on(farm, "mw151", "start")
    assert result.outcome == "success", result.render()
    assert guest_status(farm, client, "mw151")["status"] == "running"


def test_a_task_error_is_the_failed_result_with_proxmox_words(sim_farm_factory):
    farm = sim_farm_factory()
    events: list = []
    _, result = power_on(farm, "mw151", "start", events=events)  # already running
    assert result.outcome == "failed"
    vmid = farm.model.guests["mw151"].spec.vmid
    assert f"VM {vmid} already running" in result.steps[0].detail
    assert [e.message for e in events if e.kind == "output"][-1] == f"TASK ERROR: VM {vmid} already running"


def test_task_timeout_names_the_upid(sim_farm_factory, monkeypatch):
    farm = sim_farm_factory()
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"reboot": 30.0})
    config = parse_config(farm.config_yaml(), "<sim>")
    proxmox = config.actions.proxmox.model_copy(update={"task_timeout": 0.3})
    config = config.model_copy(update={"actions": config.actions.model_copy(update={"proxmox": proxmox})})
    engine = ActionEngine(config, Session(ALICE), clock=fixed_clock(SIM_NOW))
    engine.session.enable_write(engine.audit, via="test")
    plan = engine.plan(locate_guest_power(store_of(config), config, "mw153", "reboot"), "testing")

    async def go():
        try:
            return await engine.run(plan, Confirmation("go"))
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    detail = result.steps[0].detail
    assert result.steps[0].status == "timeout" and result.outcome == "failed"
    assert detail.startswith("still running after 0.3 s; UPID UPID:")
    parse_upid(detail.split("UPID ", 1)[1])


def test_read_only_session_sends_nothing(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    with pytest.raises(ReadOnlySession):
        power_on(farm, "mw152", "stop", writable=False)
    assert farm.request_counts()["proxmox"] >= 1
    # no POST reached the simulated Proxmox
    routes = sim_client_factory(farm).get(f"{farm.urls['proxmox']}/__sim/stats").json()["by_route"]
    assert routes and not any(route.startswith("POST") for route in routes)


def test_an_unknown_guest_is_refused_before_anything_is_sent(sim_farm_factory):
    farm = sim_farm_factory()
    config = parse_config(farm.config_yaml(), "<sim>")
    action = locate_guest_power(store_of(config), config, "dns001", "reboot")  # Puppet knows it, Proxmox does not
    assert action.guest is None
    engine = ActionEngine(config, Session(ALICE), clock=fixed_clock(SIM_NOW))
    with pytest.raises(Exception, match="not a Proxmox guest"):
        engine.plan(GuestPower("dns001", "reboot"), "testing")



def test_task_answers_follow_the_schema(sim_farm_factory, sim_client_factory):
    from tests.integration.test_sim_proxmox_schema import check, schema_index

    farm = sim_farm_factory()
    client = sim_client_factory(farm)
    token = farm.secret_path("proxmox").read_text().strip()
    client.headers["Authorization"] = f"PVEAPIToken=root@pam!opsconsole={token}"
    spec = farm.model.guests["mw151"].spec
    base = f"{farm.urls['proxmox']}/api2/json/nodes/{spec.node}"
    posted = client.post(f"{base}/qemu/{spec.vmid}/status/reboot")
    assert posted.status_code == 200
    upid = posted.json()["data"]
    check_returns = schema_index()["/nodes/{node}/qemu/{vmid}/status/reboot"]["POST"]["returns"]
    assert check(upid, check_returns, "reboot", "reboot") == []
    for what in ("status", "log"):
        template = "/nodes/{node}/tasks/{upid}/" + what
        answer = client.get(f"{base}/tasks/{upid}/{what}")
        assert answer.status_code == 200
        assert check(answer.json()["data"], schema_index()[template]["GET"]["returns"], what, template) == []
    assert client.post(f"{base}/qemu/{spec.vmid}/status/hibernate").status_code == 501
    assert client.get(f"{base}/tasks/UPID:nope:0:0:0:x:y:z:/status").status_code == 500
