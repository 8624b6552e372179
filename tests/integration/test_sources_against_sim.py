"""Every source against the simulated farm over real TLS (verified with the farm's CA): good answers,
wrong secrets, and each fault the farm can inject."""

from __future__ import annotations

import time
from typing import Any

import pytest

from console.core.config import AppConfig, Secret, parse_config, secret_values
from console.core.model import (
    BackendSnapshot,
    CheckState,
    CommitLog,
    IcingaSnapshot,
    LogSnapshot,
    ProbeSnapshot,
    ProxmoxInventory,
    PuppetInventory,
)
from console.sim import SimFarm
from console.sources import Source, build_source, build_sources

pytestmark = pytest.mark.sim

DATA_TYPES = {
    "proxmox": ProxmoxInventory,
    "puppetdb": PuppetInventory,
    "icinga": IcingaSnapshot,
    "graylog": LogSnapshot,
    "commits": CommitLog,
    "probes": ProbeSnapshot,
    "backends": BackendSnapshot,
}
SECRET_KEYS = {"proxmox": "token_secret", "icinga": "password", "graylog": "token", "commits": "token"}
SIM_API = {"proxmox": "proxmox", "puppetdb": "puppetdb", "icinga": "icinga", "graylog": "graylog", "commits": "github"}


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = SimFarm(tmp_path_factory.mktemp("farm"), scenario="php-fpm-down").start()
    yield farm
    farm.stop()


@pytest.fixture(scope="module")
def config(farm: SimFarm) -> AppConfig:
    return parse_config(farm.config_yaml(), "<sim>")


@pytest.fixture(autouse=True)
def no_faults(farm: SimFarm):
    yield
    for api in ("proxmox", "icinga", "puppetdb", "graylog", "github"):
        farm.set_fault(api, None)


async def fetch_once(source: Source[Any]) -> Any:
    """One fetch, then the source's connections are closed."""
    try:
        return await source.fetch()
    finally:
        await source.aclose()


def first_of(config: AppConfig, kind: str, **changes: Any) -> Source[Any]:
    """The source for the first configured item of `kind`, with config keys changed."""
    item = getattr(config.sources, kind)[0]
    return build_source(kind, item.model_copy(update=changes))


async def test_every_source_fetches_over_verified_tls(config: AppConfig):
    sources = build_sources(config)
    assert [s.kind for s in sources] == ["proxmox", "puppetdb", "icinga", "graylog", "commits", "commits", "commits", "probes",
                                           "backends"]
    for source in sources:
        result = await source.fetch()
        await source.aclose()
        assert result.ok, f"{source.name}: {result.error}"
        assert isinstance(result.data, DATA_TYPES[source.kind])


async def test_what_the_scenario_shows(config: AppConfig):
    """php-fpm-down: PHP-FPM is critical somewhere, and the logs say so."""
    icinga = (await fetch_once(first_of(config, "icinga"))).data
    critical = [c for c in icinga.services if c.service == "PHP-FPM" and c.state is CheckState.CRITICAL]
    assert critical and any(c.state is CheckState.OK for c in icinga.services)
    pve = (await fetch_once(first_of(config, "proxmox"))).data
    assert pve.nodes and {g.node for g in pve.guests} <= {n.name for n in pve.nodes}
    logs = (await fetch_once(first_of(config, "graylog"))).data
    counts = dict(logs.error_counts)
    assert counts.get("mw152", 0) > 20 and counts["mw152"] == max(counts.values())  # the broken host errs most


async def test_github_etag_against_the_sim(config: AppConfig):
    source = first_of(config, "commits")
    first, second = await source.fetch(), await source.fetch()
    await source.aclose()
    assert first.ok and second.ok
    assert not first.data.not_modified and second.data.not_modified
    assert second.data.commits == first.data.commits and len(first.data.commits) == 30


async def test_helpers_against_the_sim(config: AppConfig):
    pve = first_of(config, "proxmox")
    guest = next(g for g in (await pve.fetch()).data.guests if g.status == "running")
    points = await pve.guest_rrddata(guest.node, guest.vmid)
    status = await pve.node_status(guest.node)
    assert points and "cpu" in points[-1] and status["cpus"]
    puppetdb = first_of(config, "puppetdb")
    node = (await puppetdb.fetch()).data.nodes[0]
    reports = await puppetdb.reports(node.certname, limit=3)
    assert 1 <= len(reports) <= 3 and reports[0]["certname"] == node.certname
    assert isinstance(await puppetdb.events(reports[0]["hash"]), list)
    await puppetdb.aclose()
    await pve.aclose()


@pytest.mark.parametrize("kind", ["proxmox", "icinga", "graylog", "commits"])
async def test_wrong_secret_is_an_authentication_error(config: AppConfig, kind: str):
    wrong = "not-the-right-secret-123"
    source = first_of(config, kind, **{SECRET_KEYS[kind]: Secret(wrong, "test")})
    result = await source.fetch()
    await source.aclose()
    assert result.data is None
    assert result.error.startswith("authentication failed (HTTP 401)"), result.error
    for secret in [wrong, *secret_values(config)]:
        assert secret not in result.error


@pytest.mark.parametrize("kind", ["proxmox", "puppetdb", "icinga", "graylog", "commits"])
@pytest.mark.parametrize(
    "fault, expected",
    [
        ("http500", "HTTP 500 Internal Server Error"),
        ("http503", "HTTP 503 Service Unavailable"),
        ("malformed", "malformed answer"),
        ("down", "cannot connect to 127.0.0.1:"),
        ("hang", "timed out after 0.5s"),
    ],
)
async def test_faults_become_error_values(farm: SimFarm, config: AppConfig, kind: str, fault: str, expected: str):
    farm.set_fault(SIM_API[kind], fault)
    source = first_of(config, kind, timeout=0.5)
    started = time.monotonic()
    result = await source.fetch()
    await source.aclose()
    assert result.data is None
    assert result.error.startswith(expected), result.error
    assert time.monotonic() - started < 3.0


async def test_github_304_sends_if_none_match_and_costs_no_rate_limit(config: AppConfig):
    source = first_of(config, "commits")
    first, second = await source.fetch(), await source.fetch()
    await source.aclose()
    assert not first.data.not_modified and second.data.not_modified
    assert first.data.rate_limit_remaining is not None
    assert second.data.rate_limit_remaining == first.data.rate_limit_remaining  # the 304 was free


async def test_host_detail_helpers_against_the_sim(farm: SimFarm, config: AppConfig):
    """What the host detail loads: a host's log lines (any level, both its names), a fact, node rrddata."""
    graylog = first_of(config, "graylog")
    logs = await graylog.host_messages(["mw152", "mw152.fsslc.wtnet"], size=100)
    await graylog.aclose()
    assert len(logs.messages) == 100 and {m.source for m in logs.messages} == {"mw152"}
    assert any("connect() to unix:/run/php/fpm-www.sock failed" in m.message for m in logs.messages)
    assert any(m.application == "nginx" and m.level == 3 for m in logs.messages)
    farm.model.set_puppet_disabled("mw161", reason="kernel upgrade --bob")
    puppetdb = first_of(config, "puppetdb")
    disabled = await puppetdb.fact("mw161.fsslc.wtnet", "puppet_agent_disabled_message")
    enabled = await puppetdb.fact("mw151.fsslc.wtnet", "puppet_agent_disabled_message")
    await puppetdb.aclose()
    farm.model.enable_puppet("mw161")
    assert (disabled, enabled) == ("kernel upgrade --bob", None)
    assert config.sources.puppetdb[0].disabled_fact == "puppet_agent_disabled_message"
    pve = first_of(config, "proxmox")
    points = await pve.node_rrddata("cloud15")
    await pve.aclose()
    assert len(points) > 50 and "memused" in points[-1] and "cpu" in points[-1]
