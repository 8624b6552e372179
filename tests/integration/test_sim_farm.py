"""The simulated farm as a whole: files and secrets, the config it prints, faults, isolation, determinism."""

from __future__ import annotations

import json
import ssl
import stat
import threading
import time
from urllib.parse import quote, urlencode

import httpx
import pytest

from console.core.clock import utc_now
from console.core.config import parse_config
from console.sim import APIS, SimFarm

pytestmark = pytest.mark.sim


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_secrets_and_ca_files(sim_farm_factory):
    farm = sim_farm_factory()
    assert _mode(farm.state_dir) == 0o700
    for api in ("proxmox", "icinga", "graylog", "github"):
        path = farm.secret_path(api)
        assert _mode(path) == 0o600, api
        assert len(path.read_text().strip()) >= 32
    assert _mode(farm.state_dir / "server.pem") == 0o600
    assert _mode(farm.ca_path) in (0o600, 0o644)
    assert "BEGIN CERTIFICATE" in farm.ca_path.read_text()


def test_secrets_are_fresh_each_start(sim_farm_factory):
    farm = sim_farm_factory()
    first = farm.secret_path("icinga").read_text()
    farm.stop()
    farm.start()
    assert farm.secret_path("icinga").read_text() != first
    farm.stop()


def test_config_yaml_is_a_valid_opsconsole_config(sim_farm_factory):
    farm = sim_farm_factory()
    config = parse_config(farm.config_yaml(), "<sim>")
    assert config.farm.name == "wikitide" and config.farm.environment == "demo"
    assert config.farm.domains == ["fsslc.wtnet", "wikitide.net"]
    sources = config.sources
    assert sources.proxmox[0].url == farm.urls["proxmox"] and sources.proxmox[0].token_id == "root@pam!opsconsole"
    assert sources.proxmox[0].token_secret.reveal() == farm.secret_path("proxmox").read_text().strip()
    assert sources.icinga[0].username == "opsconsole" and sources.icinga[0].verify == str(farm.ca_path)
    assert sources.puppetdb[0].url == farm.urls["puppetdb"]
    assert sources.graylog[0].token.reveal() == farm.secret_path("graylog").read_text().strip()
    assert sorted(c.github for c in sources.commits) == ["miraheze/dns", "miraheze/mw-config", "miraheze/puppet"]
    assert all(c.api_url == farm.urls["github"] for c in sources.commits)
    services = {s.name: s for s in config.services}
    assert services["php-fpm"].hosts == "mw*" and services["php-fpm"].checks == ["PHP-FPM"]
    assert services["mariadb"].checks == ["MariaDB", "MariaDB Connections"]
    assert "{vmid}" in config.links.proxmox and "{host}" in config.links.graylog


def test_curl_examples_read_secrets_from_files(sim_farm_factory):
    farm = sim_farm_factory()
    examples = farm.curl_examples()
    assert len(examples) == len(APIS)
    secrets = [farm.secret_path(a).read_text().strip() for a in ("proxmox", "icinga", "graylog", "github")]
    for api, command in zip(APIS, examples, strict=False):
        assert command.startswith("curl ") and f"--cacert {farm.ca_path}" in command, api
        assert farm.urls[api] in command
        assert not any(secret in command for secret in secrets), api
    assert "$(cat " in examples[0]


def test_two_farms_at_once(sim_farm_factory, sim_client_factory):
    one, two = sim_farm_factory(seed=1), sim_farm_factory(seed=2)
    assert not set(one.ports.values()) & set(two.ports.values())
    for farm in (one, two):
        answer = sim_client_factory(farm).get(farm.urls["graylog"] + "/api/system/lbstatus")
        assert answer.text == "ALIVE"
    # each farm's CA is its own
    with pytest.raises(httpx.ConnectError):
        sim_client_factory(one).get(two.urls["graylog"] + "/api/system/lbstatus")


def _snapshot(farm, client) -> dict[str, bytes]:
    secret = {a: farm.secret_path(a).read_text().strip() for a in ("proxmox", "icinga", "graylog", "github")}
    pve = {"Authorization": f"PVEAPIToken=root@pam!opsconsole={secret['proxmox']}"}
    graylog = {"auth": (secret["graylog"], "token"), "headers": {"X-Requested-By": "t"}}
    calls = {
        "proxmox": client.get(farm.urls["proxmox"] + "/api2/json/cluster/resources", headers=pve),
        "proxmox-rrd": client.get(farm.urls["proxmox"] + "/api2/json/nodes/cloud15/qemu/1502/rrddata",
                                  params={"timeframe": "hour"}, headers=pve),
        "icinga": client.get(farm.urls["icinga"] + "/v1/objects/services", auth=("opsconsole", secret["icinga"])),
        "puppetdb": client.get(farm.urls["puppetdb"] + "/pdb/query/v4/reports"),
        "graylog": client.post(farm.urls["graylog"] + "/api/search/messages", json={"query": "*", "size": 500}, **graylog),
        "events": client.post(farm.urls["graylog"] + "/api/events/search", json={}, **graylog),
        "github": client.get(farm.urls["github"] + "/repos/miraheze/puppet/commits", params={"per_page": 100},
                             headers={"Authorization": f"token {secret['github']}"}),
    }
    assert all(r.status_code == 200 for r in calls.values()), {k: r.status_code for k, r in calls.items()}
    return {name: answer.content for name, answer in calls.items()}


def test_fixed_clock_and_seed_give_identical_answers(sim_farm_factory, sim_client_factory):
    one, two, other = sim_farm_factory(seed=7), sim_farm_factory(seed=7), sim_farm_factory(seed=8)
    first, second = _snapshot(one, sim_client_factory(one)), _snapshot(two, sim_client_factory(two))
    assert first == second
    third = _snapshot(other, sim_client_factory(other))
    assert third["proxmox"] != first["proxmox"] and third["graylog"] != first["graylog"]


def test_real_clock_moves(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory(clock=utc_now)
    client = sim_client_factory(farm)
    url = farm.urls["icinga"] + "/v1/objects/services"
    params = {"filter": 'service.name == "PHP-FPM" && host.name == "mw152"', "attrs": ["last_state_change"]}
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())
    query = urlencode(params, doseq=True, quote_via=quote)  # spaces as %20: Icinga keeps a '+' a '+'
    changed = client.get(f"{url}?{query}", auth=auth).json()["results"][0]["attrs"]["last_state_change"]
    assert 8 * 60 < time.time() - changed < 13 * 60


def test_fault_down_refuses_then_comes_back_on_the_same_port(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    client = sim_client_factory(farm)
    url = farm.urls["graylog"] + "/api/system/lbstatus"
    assert client.get(url).status_code == 200  # a kept-alive connection exists now
    farm.set_fault("graylog", "down")
    with pytest.raises(httpx.ConnectError):
        client.get(url)
    farm.set_fault("graylog", None)
    assert client.get(url).text == "ALIVE"
    assert farm.urls["graylog"] == url.removesuffix("/api/system/lbstatus")


@pytest.mark.parametrize("fault, status", [("http500", 500), ("http503", 503)])
def test_fault_http_errors(sim_farm_factory, sim_client_factory, fault, status):
    farm = sim_farm_factory()
    farm.set_fault("puppetdb", fault)
    answer = sim_client_factory(farm).get(farm.urls["puppetdb"] + "/pdb/query/v4/nodes")
    assert answer.status_code == status


def test_fault_malformed(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    farm.set_fault("puppetdb", "malformed")
    answer = sim_client_factory(farm).get(farm.urls["puppetdb"] + "/pdb/query/v4/nodes")
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        answer.json()


def test_fault_hang_and_slow(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    url = farm.urls["puppetdb"] + "/pdb/meta/v1/version"
    farm.set_fault("puppetdb", "hang")
    with pytest.raises(httpx.ReadTimeout):
        sim_client_factory(farm, timeout=0.5).get(url)
    farm.set_fault("puppetdb", "slow")
    started = time.monotonic()
    assert sim_client_factory(farm).get(url).status_code == 200
    assert time.monotonic() - started >= 1.9
    farm.set_fault("puppetdb", None)
    assert sim_client_factory(farm).get(url).json()["version"]


def test_fault_set_before_start_applies(sim_farm_factory):
    farm = sim_farm_factory(start=False)
    farm.set_fault("icinga", "down")
    farm.start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(farm.urls["icinga"] + "/v1/objects/hosts", verify=False)
    farm.stop()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        SimFarm(tmp_path / "a", scenario="meteor-strike")
    farm = SimFarm(tmp_path / "b")
    with pytest.raises(ValueError):
        farm.set_fault("icinga", "on-fire")
    with pytest.raises(ValueError):
        farm.set_fault("nagios", None)
    with pytest.raises(RuntimeError):
        farm.config_yaml()


def test_stop_is_quick_even_with_a_hung_request(sim_farm_factory):
    farm = sim_farm_factory()
    farm.set_fault("github", "hang")
    name = f"opsconsole-sim-{farm.ports['proxmox']}"
    hung = threading.Thread(target=lambda: _ignore(lambda: httpx.get(farm.urls["github"] + "/rate_limit", verify=False, timeout=3)))
    hung.start()
    time.sleep(0.2)
    started = time.monotonic()
    farm.stop()
    assert time.monotonic() - started < 2
    assert name not in [t.name for t in threading.enumerate()]
    hung.join(5)


def _ignore(call) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass


def test_context_manager(tmp_path):
    with SimFarm(tmp_path / "state", scenario="healthy") as farm:
        url = farm.urls["graylog"]
        context = ssl.create_default_context(cafile=str(farm.ca_path))
        assert httpx.get(url + "/api/system/lbstatus", verify=context).text == "ALIVE"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/system/lbstatus", verify=False)


def test_db_disk_full(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory("db-disk-full")
    client = sim_client_factory(farm)
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())
    query = urlencode({"filter": 'host.name == "db171"', "attrs": ["name", "state", "last_check_result"]}, doseq=True,
                      quote_via=quote)  # spaces as %20: Icinga keeps a '+' a '+'
    problems = client.get(farm.urls["icinga"] + "/v1/objects/services?" + query, auth=auth).json()
    states = {r["attrs"]["name"]: (r["attrs"]["state"], r["attrs"]["last_check_result"]["output"]) for r in problems["results"]}
    assert states["Disk Space"] == (2.0, "DISK CRITICAL - free space: /srv 512 MB (1% inode=97%)")
    assert states["MariaDB"][0] == 1.0
    rows = client.post(farm.urls["graylog"] + "/api/search/messages", headers={"X-Requested-By": "t"},
                       auth=(farm.secret_path("graylog").read_text().strip(), "token"),
                       json={"query": "source:db171 AND level:<=3", "fields": ["message"]}).json()["datarows"]
    assert rows and all("No space left on device" in row[0] for row in rows)
