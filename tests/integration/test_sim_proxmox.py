"""The simulated Proxmox VE API, read with the real proxmoxer client (and httpx for raw answers)."""

from __future__ import annotations

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import AuthenticationError, ResourceException

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    return sim_farm_factory("php-fpm-down")


def _api(farm, secret: str | None = None) -> ProxmoxAPI:
    value = secret if secret is not None else farm.secret_path("proxmox").read_text().strip()
    return ProxmoxAPI("127.0.0.1", port=farm.ports["proxmox"], user="root@pam", token_name="opsconsole",
                      token_value=value, verify_ssl=str(farm.ca_path), service="PVE")


def test_cluster_resources_has_guests_nodes_and_storage(farm):
    items = _api(farm).cluster.resources.get()
    kinds = {i["type"] for i in items}
    assert kinds == {"qemu", "node", "storage"}
    mw152 = next(i for i in items if i.get("name") == "mw152")
    assert mw152["id"] == "qemu/1502" and mw152["vmid"] == 1502 and mw152["node"] == "cloud15"
    assert mw152["status"] == "running" and mw152["template"] == 0
    for key in ("cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "diskread", "diskwrite", "netin", "netout", "uptime"):
        assert isinstance(mw152[key], (int, float)), key
    nodes = sorted(i["node"] for i in items if i["type"] == "node")
    assert nodes == [f"cloud{n}" for n in range(15, 22)]
    assert all(i["id"] == f"node/{i['node']}" and i["status"] == "online" for i in items if i["type"] == "node")
    storage = [i for i in items if i["type"] == "storage"]
    assert {i["storage"] for i in storage} == {"local", "local-lvm"}
    templates = [i for i in items if i["type"] == "qemu" and i["template"] == 1]
    assert len(templates) == 1 and templates[0]["status"] == "stopped"  # a template: not a stopped guest


@pytest.mark.parametrize("kind, types", [("vm", {"qemu"}), ("node", {"node"}), ("storage", {"storage"})])
def test_cluster_resources_type_filter(farm, kind, types):
    assert {i["type"] for i in _api(farm).cluster.resources.get(type=kind)} == types


def test_every_inventory_guest_is_there_with_its_vmid(farm):
    guests = {i["name"]: i for i in _api(farm).cluster.resources.get(type="vm") if i["template"] == 0}
    assert len(guests) == 67
    assert guests["db171"]["vmid"] == 1705 and guests["db171"]["node"] == "cloud17"
    assert guests["swiftobject211"]["node"] == "cloud21"
    assert "dns001" not in guests  # off-site, not on Proxmox


def test_node_status_and_rrddata(farm):
    api = _api(farm)
    status = api.nodes("cloud17").status.get()
    assert {"cpu", "memory", "loadavg", "uptime", "rootfs", "cpuinfo", "pveversion"} <= status.keys()
    assert len(status["loadavg"]) == 3 and all(isinstance(x, str) for x in status["loadavg"])
    points = api.nodes("cloud17").rrddata.get(timeframe="hour", cf="AVERAGE")
    assert len(points) == 70
    assert points[-1]["time"] - points[-2]["time"] == 60
    assert {"time", "cpu", "iowait", "loadavg", "maxcpu", "memtotal", "memused", "netin", "netout",
            "roottotal", "rootused", "swaptotal", "swapused"} <= points[-1].keys()


def test_guest_status_and_rrddata(farm):
    api = _api(farm)
    current = api.nodes("cloud15").qemu(1502).status.current.get()
    assert current["status"] == "running" and current["name"] == "mw152" and current["vmid"] == 1502
    points = api.nodes("cloud15").qemu(1502).rrddata.get(timeframe="hour", cf="AVERAGE")
    assert len(points) == 70
    assert {"time", "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "diskread", "diskwrite", "netin", "netout"} <= points[-1].keys()
    # PHP-FPM died ~10 minutes ago: mw152's CPU dropped then
    assert points[-1]["cpu"] < 0.05 < max(p["cpu"] for p in points[:40])


def test_wrong_token_secret_is_401_with_proxmox_reason(farm):
    with pytest.raises((ResourceException, AuthenticationError)) as caught:
        _api(farm, secret="00000000-0000-4000-8000-000000000000").cluster.resources.get()
    assert caught.value.status_code == 401
    assert "invalid token value!" in str(caught.value)


def test_no_auth_and_unknown_token_are_401(farm, sim_client_factory):
    client = sim_client_factory(farm)
    base = farm.urls["proxmox"] + "/api2/json/version"
    answer = client.get(base)
    assert answer.status_code == 401 and answer.reason_phrase == "No ticket" and answer.json() == {"data": None}
    assert "x-sim-reason" not in answer.headers  # the sim's plumbing for reason phrases stays inside
    secret = farm.secret_path("proxmox").read_text().strip()
    answer = client.get(base, headers={"Authorization": f"PVEAPIToken=root@pam!other={secret}"})
    assert answer.status_code == 401 and answer.reason_phrase == "no such token 'other' for user 'root@pam'"


def test_unknown_vm_node_and_bad_parameters(farm):
    api = _api(farm)
    with pytest.raises(ResourceException) as caught:
        api.nodes("cloud15").qemu(4242).status.current.get()
    assert caught.value.status_code == 500 and "qemu-server/4242.conf' does not exist" in str(caught.value)
    with pytest.raises(ResourceException) as caught:
        api.nodes("cloud99").status.get()
    assert caught.value.status_code == 500 and "hostname lookup 'cloud99' failed" in str(caught.value)
    with pytest.raises(ResourceException) as caught:
        api.cluster.resources.get(type="vms")
    assert caught.value.status_code == 400 and "type" in caught.value.errors
    with pytest.raises(ResourceException) as caught:
        api.nodes("cloud15").rrddata.get()
    assert caught.value.status_code == 400 and "timeframe" in caught.value.errors


def test_version_wrapped_in_data(farm, sim_client_factory):
    secret = farm.secret_path("proxmox").read_text().strip()
    answer = sim_client_factory(farm).get(farm.urls["proxmox"] + "/api2/json/version",
                                         headers={"Authorization": f"PVEAPIToken=root@pam!opsconsole={secret}"})
    assert answer.status_code == 200
    assert answer.json()["data"]["release"] == "9.1"


def test_mutators_show_up(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    api = _api(farm)
    farm.model.set_guest_status("mw161", "stopped")
    farm.model.set_guest_usage("mw162", cpu=0.97, mem=0.5)
    farm.model.remove_guest("mw163")
    guests = {i["name"]: i for i in api.cluster.resources.get(type="vm")}
    assert guests["mw161"]["status"] == "stopped" and guests["mw161"]["uptime"] == 0
    assert guests["mw162"]["cpu"] == 0.97 and guests["mw162"]["mem"] == guests["mw162"]["maxmem"] // 2
    assert "mw163" not in guests
    assert api.nodes("cloud16").qemu(1601).status.current.get()["status"] == "stopped"
    farm.model.set_guest_status("mw161", "running")
    assert api.nodes("cloud16").qemu(1601).status.current.get()["uptime"] == 0  # booted just now
