"""The Icinga source's split refresh against the simulated farm: every check from a slim query, the
problems (with their output) from a filtered one, host states without output, and a DOWN host's output
on demand — the same snapshot as the one full query gave, minus the output nothing shows."""

from __future__ import annotations

import dataclasses
import json
import ssl

import httpx
import pytest
import yaml

from console.core.config import parse_config
from console.core.model import CheckState
from console.sources import build_source
from console.sources.icinga import HOST_ATTRS, IcingaSource, parse_hosts, parse_services

pytestmark = pytest.mark.sim

FULL_SERVICE_ATTRS = ["name", "host_name", "state", "state_type", "acknowledgement", "downtime_depth",
                      "last_state_change", "last_check", "last_check_result"]  # fmt: skip


def icinga_source(farm) -> IcingaSource:
    config = parse_config(farm.config_yaml(), "<sim>")
    return build_source("icinga", config.sources.icinga[0])  # type: ignore[return-value]


def full_objects(farm, kind: str, attrs: list[str]) -> dict:
    """What the one full query (before the split) answered."""
    source = yaml.safe_load(farm.config_yaml())["sources"]["icinga"][0]
    password = farm.secret_path("icinga").read_text().strip()
    with httpx.Client(verify=ssl.create_default_context(cafile=str(farm.ca_path)), auth=(source["username"], password)) as client:
        answer = client.post(f"{farm.urls['icinga']}/v1/objects/{kind}", json={"attrs": attrs},
                             headers={"X-HTTP-Method-Override": "GET", "Accept": "application/json"})  # fmt: skip
        answer.raise_for_status()
        return answer.json()


async def test_split_refresh_equals_the_full_query_but_for_ok_outputs(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    farm.model.set_host_state("db171", "DOWN", output="PING CRITICAL - Packet loss = 100%")
    source = icinga_source(farm)
    try:
        result = await source.fetch()
        assert result.ok, result.error
        snapshot = result.data
        down_output = await source.host_output("db171")
        missing = await source.host_output("no-such-host")
    finally:
        await source.aclose()
    full = parse_services(full_objects(farm, "services", FULL_SERVICE_ATTRS))
    expected = tuple(c if c.state != CheckState.OK else dataclasses.replace(c, output="") for c in full)
    assert snapshot.services == expected
    problems = [c for c in snapshot.services if c.state != CheckState.OK]
    assert problems and all(c.output for c in problems)  # the problems query brought every output
    assert any(c.key == "mw152!PHP-FPM" and "php-fpm" in c.output for c in problems)
    hosts = parse_hosts(full_objects(farm, "hosts", HOST_ATTRS + ["name"]))
    assert snapshot.hosts == tuple(h if not h.up else dataclasses.replace(h, output="") for h in hosts)
    db171 = next(h for h in snapshot.hosts if h.name == "db171")
    assert not db171.up and db171.output == "PING CRITICAL - Packet loss = 100%" and db171.last_state_change
    assert down_output == "PING CRITICAL - Packet loss = 100%"
    assert missing == ""


async def test_three_requests_per_refresh(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    source = icinga_source(farm)
    seen: list[tuple[str, dict]] = []

    async def record(request: httpx.Request) -> None:
        seen.append((request.url.path, json.loads(request.content)))

    try:
        source._client().event_hooks["request"].append(record)
        assert (await source.fetch()).ok
    finally:
        await source.aclose()
    assert sorted(path for path, _ in seen) == ["/v1/objects/hosts", "/v1/objects/services", "/v1/objects/services"]
    filters = sorted(str(body.get("filter")) for path, body in seen if path.endswith("services"))
    assert filters == ["None", "service.state != ServiceOK"]


async def test_a_down_host_costs_one_request_until_its_state_changes(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    farm.model.set_host_state("db171", "DOWN", output="PING CRITICAL - Packet loss = 100%")
    source = icinga_source(farm)
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    try:
        source._client().event_hooks["request"].append(record)
        first = await source.fetch()
        assert len(seen) == 4  # the three, and the hosts not UP with their output
        second = await source.fetch()
        assert len(seen) == 7  # the output kept while the state holds
    finally:
        await source.aclose()
    for result in (first, second):
        assert next(h for h in result.data.hosts if h.name == "db171").output == "PING CRITICAL - Packet loss = 100%"
