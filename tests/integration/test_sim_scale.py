"""The sim's scale knobs (console/sim/scale.py), latency and request counter: what goes over the wire."""

from __future__ import annotations

import time

import pytest

from console.core.clock import fixed_clock
from console.sim import SimFarm
from console.sim.inventory import load_inventory
from console.sim.scale import Scale
from tests.conftest import SIM_NOW

pytestmark = pytest.mark.sim

SCALE = Scale(guests=300, nodes=10, alerts=500, log_lines=2000, commits=250)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    farm = SimFarm(tmp_path_factory.mktemp("scaled") / "state", scenario="healthy", seed=3,
                   clock=fixed_clock(SIM_NOW), scale=SCALE)
    with farm:
        yield farm


def test_default_scale_is_the_reference_farm():
    assert Scale().is_default
    farm = SimFarm("/nonexistent-not-started", scale=Scale())
    assert farm.model.inventory is load_inventory()
    assert len(farm.model.guests) == 67 and len(farm.model.nodes) == 7
    with pytest.raises(ValueError):
        Scale(guests=-1)


def test_counts_over_the_wire(big, sim_client_factory):
    client = sim_client_factory(big, timeout=30)
    token = big.secret_path("proxmox").read_text().strip()
    resources = client.get(big.urls["proxmox"] + "/api2/json/cluster/resources",
                           headers={"Authorization": f"PVEAPIToken=root@pam!opsconsole={token}"}).json()["data"]
    guests = [r for r in resources if r["type"] == "qemu" and not r.get("template")]
    nodes = [r for r in resources if r["type"] == "node"]
    assert len(guests) == 300
    assert sorted(n["node"] for n in nodes) == sorted(f"cloud{n}" for n in range(15, 25))
    assert {g["node"] for g in guests} == {n["node"] for n in nodes}  # spread over every node, new ones too
    assert {"mw1001", "mwtask1011", "db1013"} <= {g["name"] for g in guests}
    assert len({g["vmid"] for g in guests}) == 300

    icinga = client.get(big.urls["icinga"] + "/v1/objects/services?filter=service.state%20!=%20ServiceOK&attrs=state",
                        auth=("opsconsole", big.secret_path("icinga").read_text().strip()),
                        headers={"Accept": "application/json"}).json()["results"]
    assert len(icinga) == 500
    assert len({r["name"].split("!")[0] for r in icinga}) > 250  # spread over the hosts

    logs = client.get(big.urls["graylog"] + "/api/search/universal/relative",
                      params={"query": "application_name:bench", "range": 86400, "limit": 1},
                      auth=(big.secret_path("graylog").read_text().strip(), "token")).json()
    assert logs["total_results"] == 2000

    github = client.get(big.urls["github"] + "/repos/miraheze/puppet/commits", params={"per_page": 100, "page": 3},
                        headers={"Authorization": f"Bearer {big.secret_path('github').read_text().strip()}"}).json()
    assert len(github) == 50  # 250 in all


def test_scaled_farm_is_deterministic_for_a_seed():
    def picture(seed: int):
        farm = SimFarm("/nonexistent-not-started", scenario="php-fpm-down", seed=seed, clock=fixed_clock(SIM_NOW),
                       scale=Scale(guests=150, nodes=9, alerts=80, log_lines=50, commits=210))
        model = farm.model
        alerts = sorted((k, s.override.state) for k, s in model.slots.items() if s.override is not None)
        return sorted(model.guests), alerts, [line.id for line in model.logbook.extra], model.repos["miraheze/dns"][-1].sha

    assert picture(5) == picture(5)
    assert picture(5)[1] != picture(6)[1]


def test_latency_and_request_counter(tmp_path, sim_client_factory):
    with SimFarm(tmp_path / "state", scenario="healthy", clock=fixed_clock(SIM_NOW), latency_ms=150) as farm:
        client = sim_client_factory(farm)
        client.get(farm.urls["puppetdb"] + "/pdb/meta/v1/version")  # opens the connection
        started = time.perf_counter()
        assert client.get(farm.urls["puppetdb"] + "/pdb/meta/v1/version").status_code == 200
        assert time.perf_counter() - started >= 0.15
        started = time.perf_counter()
        stats = client.get(farm.urls["puppetdb"] + "/__sim/stats").json()  # neither delayed nor counted
        assert time.perf_counter() - started < 0.15
        assert stats["api"] == "puppetdb" and stats["requests"] == 2
        assert stats["by_route"] == {"GET /pdb/meta/v1/version": 2}
        assert farm.request_counts()["puppetdb"] == 2 and farm.request_counts()["icinga"] == 0
        farm.set_latency("puppetdb", 0)
        started = time.perf_counter()
        client.get(farm.urls["puppetdb"] + "/pdb/meta/v1/version")
        assert time.perf_counter() - started < 0.15
        cache = farm.cache_names[0]
        assert client.get(farm.cache_urls[cache] + "/__sim/stats").json()["api"] == cache
