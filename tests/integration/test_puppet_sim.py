"""Puppet through the simulated Salt API: a run streams the agent's output and stores a new report in
the simulated PuppetDB; disable puts the reason where the host detail reads it; enable clears it."""

from __future__ import annotations

import asyncio

import pytest

from console.actions import ActionEngine, Confirmation, Operator, PuppetDisable, PuppetEnable, PuppetRun, Session, challenge_for
from console.core.clock import fixed_clock
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.core.state import Store
from console.derive.detail import load_puppet
from console.sources import ProxmoxSource, PuppetDBSource
from tests.conftest import SIM_NOW

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")


def store_of(config) -> Store:
    """The store after one refresh of the proxmox and puppetdb sources."""

    async def fetch():
        sources = [ProxmoxSource(config.sources.proxmox[0]), PuppetDBSource(config.sources.puppetdb[0])]
        try:
            return await asyncio.gather(*(source.fetch() for source in sources))
        finally:
            for source in sources:
                await source.aclose()

    store = Store()
    for result in asyncio.run(fetch()):
        assert result.error is None, result.error
        store.register(result.source, result.kind, 10.0)
        store.put(result)
    return store


def act(farm, make_action, reason: str = "testing", events: list | None = None):
    config = parse_config(farm.config_yaml(), "<sim>")
    directory = HostDirectory.from_store(store_of(config), config)
    engine = ActionEngine(config, Session(ALICE), clock=fixed_clock(SIM_NOW))
    engine.session.enable_write(engine.audit, via="test")
    plan = engine.plan(make_action(directory), reason, "T123")

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected),
                                    on_event=events.append if events is not None else None)
        finally:
            await engine.aclose()

    return plan, asyncio.run(go())


def puppet_detail(farm, host: str):
    """What the host detail's Puppet section loads: the latest report and the disabled message."""
    config = parse_config(farm.config_yaml(), "<sim>")
    settings = config.sources.puppetdb[0]

    async def fetch():
        source = PuppetDBSource(settings)
        try:
            return await load_puppet(source, f"{host}.fsslc.wtnet", settings.disabled_fact)
        finally:
            await source.aclose()

    loaded = asyncio.run(fetch())
    assert loaded.error is None, loaded.error
    return loaded.data


def test_a_puppet_run_streams_output_and_stores_a_new_report(sim_farm_factory):
    farm = sim_farm_factory()
    before = puppet_detail(farm, "mw151").report
    events: list = []
    plan, result = act(farm, lambda d: PuppetRun(("mw151",), d), events=events)
    assert plan.steps[0].command.line == "sudo puppet agent -tv"
    assert result.outcome == "success", result.render()
    assert result.steps[0].detail.startswith(("exit 0", "exit 2"))
    output = [e.message for e in events if e.kind == "output"]
    assert any(line.startswith("mw151: Info: Caching catalog for mw151.fsslc.wtnet") for line in output), output
    assert any("Notice: Applied catalog in" in line for line in output)
    after = puppet_detail(farm, "mw151").report
    assert after["hash"] != before["hash"]
    assert after["end_time"] > before["end_time"]  # the run by hand is the latest report now


def test_a_failing_run_maps_exit_4_to_failed(sim_farm_factory):
    farm = sim_farm_factory()
    farm.model.set_puppet_status("mw151", "failed", since=SIM_NOW.replace(hour=0))
    _, result = act(farm, lambda d: PuppetRun(("mw151",), d))
    assert result.outcome == "failed"
    assert result.steps[0].detail.startswith("exit 4: failures")


def test_disable_shows_the_reason_in_the_host_detail_and_enable_clears_it(sim_farm_factory):
    farm = sim_farm_factory()
    assert not puppet_detail(farm, "mw153").disabled
    _, result = act(farm, lambda d: PuppetDisable(("mw153",), d), reason="php upgrade in progress")
    assert result.outcome == "success", result.render()
    disabled = puppet_detail(farm, "mw153").disabled
    assert "php upgrade in progress - alice@bast161 - T123" in str(disabled)
    # a run while disabled does not happen: exit 1, said as such
    _, result = act(farm, lambda d: PuppetRun(("mw153",), d))
    assert result.outcome == "failed" and "did not happen" in result.steps[0].detail
    _, result = act(farm, lambda d: PuppetEnable(("mw153",), d), reason="upgrade done")
    assert result.outcome == "success", result.render()
    assert not puppet_detail(farm, "mw153").disabled
