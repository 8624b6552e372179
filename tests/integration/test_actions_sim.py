"""The action engine against the simulated farm: purge + verify through its four caches, ban,
and the Icinga actions changing what the IcingaSource (and so the Alerts pane) sees next."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from console.actions import (
    Acknowledge,
    ActionEngine,
    BanPattern,
    Confirmation,
    IcingaTarget,
    Operator,
    PurgeUrls,
    ReadOnlySession,
    Recheck,
    RemoveAcknowledgement,
    RemoveDowntime,
    ScheduleDowntime,
    Session,
    challenge_for,
)  # fmt: skip
from console.core.clock import fixed_clock
from console.core.config import parse_config
from console.sources import IcingaSource
from tests.conftest import SIM_NOW

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")
MAIN_PAGE = "https://meta.miraheze.org/wiki/Main_Page"


def engine_on(farm, writable: bool = True) -> ActionEngine:
    engine = ActionEngine(parse_config(farm.config_yaml(), "<sim>"), Session(ALICE), clock=fixed_clock(SIM_NOW))
    if writable:
        engine.session.enable_write(engine.audit, via="test")
    return engine


def run(engine: ActionEngine, action, reason: str = "testing", task: str | None = None, events: list | None = None):
    plan = engine.plan(action, reason, task)

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected), on_event=events.append if events is not None else None)
        finally:
            await engine.aclose()

    return asyncio.run(go())


def icinga_view(farm):
    """What the console's own IcingaSource (the Alerts pane's source) reads next."""
    config = parse_config(farm.config_yaml(), "<sim>")

    async def fetch():
        source = IcingaSource(config.sources.icinga[0])
        try:
            return await source.fetch()
        finally:
            await source.aclose()

    result = asyncio.run(fetch())
    assert result.error is None, result.error
    return {(s.host, s.service): s for s in result.data.services}, {h.name: h for h in result.data.hosts}


# --- Varnish ---------------------------------------------------------------------------------------


def test_purge_then_verify_on_every_cache(sim_farm_factory):
    farm = sim_farm_factory()
    for state in farm.model.caches.values():
        assert state.has("meta.miraheze.org", "/wiki/Main_Page")  # cached when the farm started
    events: list = []
    result = run(engine_on(farm), PurgeUrls((MAIN_PAGE,)), "vandalism cleanup", "T12345", events)
    assert result.outcome == "success"
    table = {s.target: (s.status, s.http_status, s.verify.hit, s.verify.age, s.verify.status) for s in result.steps}
    assert table == {name: ("ok", 200, False, 0, 200) for name in ("cp161", "cp171", "cp191", "cp201")}
    assert result.verified == 4
    for state in farm.model.caches.values():
        assert [m for m, _, _ in state.requests] == ["PURGE", "GET"]
        assert state.requests[0][1:] == ("meta.miraheze.org", "/wiki/Main_Page")
    rendered = result.render()
    assert "SUCCESS" in rendered and rendered.count("verify: 200 MISS age 0") == 4
    assert farm.model.sal_log == [
        "!log [alice@bast161] purged https://meta.miraheze.org/wiki/Main_Page from 4 caches (4 verified)"
        " - vandalism cleanup - T12345"
    ]
    kinds = [e.kind for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("step-finished") == 4 and kinds.count("verified") == 4


def test_a_refusing_and_a_down_cache_make_it_partial(sim_farm_factory):
    farm = sim_farm_factory()
    farm.set_cache_refusing("cp171")
    farm.set_fault("cp191", "down")
    result = run(engine_on(farm), PurgeUrls((MAIN_PAGE,)), "vandalism cleanup")
    assert result.outcome == "partial"
    by_cache = {s.target: s for s in result.steps}
    assert by_cache["cp171"].status == "refused" and by_cache["cp171"].http_status == 405
    assert "PURGE not allowed" in by_cache["cp171"].detail
    assert by_cache["cp171"].verify.hit is True  # still served from the cache
    assert by_cache["cp191"].status == "down" and "connection refused" in by_cache["cp191"].detail
    assert by_cache["cp191"].verify is None
    assert {by_cache[c].status for c in ("cp161", "cp201")} == {"ok"}
    assert farm.model.sal_log == [
        "!log [alice@bast161] purged https://meta.miraheze.org/wiki/Main_Page from 2 of 4 caches"
        " (2 verified; cp171 refused; cp191 down) - PARTIAL - vandalism cleanup"
    ]


def test_ban_by_pattern(sim_farm_factory):
    farm = sim_farm_factory()
    result = run(engine_on(farm), BanPattern("meta.miraheze.org", "^/wiki/"), "bad deploy")
    assert result.outcome == "success" and len(result.steps) == 4
    for state in farm.model.caches.values():
        assert not state.has("meta.miraheze.org", "/wiki/Main_Page")
        assert not state.has("meta.miraheze.org", "/wiki/Special:RecentChanges")
        assert state.has("login.miraheze.org", "/wiki/Special:UserLogin")  # another site: untouched
    assert farm.model.sal_log == ["!log [alice@bast161] banned ^/wiki/ on meta.miraheze.org from 4 caches - bad deploy"]


def test_read_only_refuses_and_sends_nothing(sim_farm_factory):
    farm = sim_farm_factory()
    engine = engine_on(farm, writable=False)
    plan = engine.plan(PurgeUrls((MAIN_PAGE,)), "vandalism")
    with pytest.raises(ReadOnlySession):
        asyncio.run(engine.run(plan, Confirmation("y")))
    assert all(state.requests == [] for state in farm.model.caches.values())
    assert farm.model.sal_log == []


# --- Icinga ----------------------------------------------------------------------------------------


def test_acknowledge_then_remove(sim_farm_factory):
    farm = sim_farm_factory()
    services, _ = icinga_view(farm)
    assert not services[("mw152", "PHP-FPM")].acknowledged
    result = run(engine_on(farm), Acknowledge((IcingaTarget("mw152", "PHP-FPM"),), sticky=True,
                                              expire=timedelta(hours=2)), "OOM, restarting", "T15")
    assert result.outcome == "success", result.render()
    services, _ = icinga_view(farm)
    assert services[("mw152", "PHP-FPM")].acknowledged
    ack = farm.model.slot("mw152", "PHP-FPM").ack
    assert (ack.author, ack.comment, ack.sticky) == ("alice", "OOM, restarting - alice@bast161 - T15", True)
    assert ack.expiry == SIM_NOW + timedelta(hours=2)

    again = run(engine_on(farm), Acknowledge((IcingaTarget("mw152", "PHP-FPM"),)), "again")
    assert again.outcome == "success" and again.steps[0].status == "skipped"
    assert "already acknowledged" in again.steps[0].detail

    removed = run(engine_on(farm), RemoveAcknowledgement((IcingaTarget("mw152", "PHP-FPM"),)), "wrong one")
    assert removed.outcome == "success"
    services, _ = icinga_view(farm)
    assert not services[("mw152", "PHP-FPM")].acknowledged
    assert farm.model.sal_log[-1] == "!log [alice@bast161] removed the acknowledgement of mw152!PHP-FPM - wrong one"


def test_state_is_read_again_right_before_acting(sim_farm_factory):
    farm = sim_farm_factory()
    engine = engine_on(farm)
    plan = engine.plan(Acknowledge((IcingaTarget("mw152", "PHP-FPM"),)), "OOM")
    farm.model.clear_check("mw152", "PHP-FPM")  # it recovered while the operator read the plan

    async def go():
        try:
            return await engine.run(plan, Confirmation("y"))
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    assert result.steps[0].status == "skipped"
    assert "no longer a problem" in result.steps[0].detail
    assert farm.model.slot("mw152", "PHP-FPM").ack is None


def test_downtime_for_a_host_and_all_its_services_then_removed(sim_farm_factory):
    farm = sim_farm_factory()
    result = run(engine_on(farm), ScheduleDowntime((IcingaTarget("mw152"),), timedelta(hours=2), all_services=True),
                 "reboot for kernel", "T77")
    assert result.outcome == "success", result.render()
    services, hosts = icinga_view(farm)
    assert hosts["mw152"].in_downtime
    assert services[("mw152", "PHP-FPM")].in_downtime and services[("mw152", "SSH")].in_downtime
    assert not services[("mw151", "PHP-FPM")].in_downtime
    downtime = farm.model.slot("mw152").downtime
    assert downtime.end - downtime.start == timedelta(hours=2)
    assert downtime.comment == "reboot for kernel - alice@bast161 - T77"

    removed = run(engine_on(farm), RemoveDowntime((IcingaTarget("mw152"),)), "done")
    assert removed.outcome == "success", removed.render()
    services, hosts = icinga_view(farm)
    assert not hosts["mw152"].in_downtime
    assert not services[("mw152", "PHP-FPM")].in_downtime  # the children went with the host's downtime

    nothing = run(engine_on(farm), RemoveDowntime((IcingaTarget("mw152", "PHP-FPM"),)), "again")
    assert nothing.steps[0].status == "skipped" and nothing.steps[0].detail == "no downtime to remove"


def test_recheck_moves_the_last_check(sim_farm_factory):
    farm = sim_farm_factory()
    before, _ = icinga_view(farm)
    assert before[("mw152", "PHP-FPM")].last_check < SIM_NOW
    result = run(engine_on(farm), Recheck((IcingaTarget("mw152", "PHP-FPM"),)), "after the fix")
    assert result.outcome == "success"
    after, _ = icinga_view(farm)
    assert after[("mw152", "PHP-FPM")].last_check == SIM_NOW


def test_names_cannot_inject_into_filters(sim_farm_factory):
    farm = sim_farm_factory()
    acked_before = {key for key, slot in farm.model.slots.items() if slot.ack}
    sneaky = IcingaTarget("mw152", 'PHP-FPM" || service.name != "')
    result = run(engine_on(farm), Acknowledge((sneaky,)), "injection attempt")
    assert result.outcome == "failed"
    assert "does not exist in Icinga" in result.steps[0].detail
    assert {key for key, slot in farm.model.slots.items() if slot.ack} == acked_before


def test_unknown_object_fails(sim_farm_factory):
    farm = sim_farm_factory()
    result = run(engine_on(farm), Recheck((IcingaTarget("mw999", "PHP-FPM"), IcingaTarget("mw152", "PHP-FPM"))), "x")
    assert result.outcome == "partial"
    assert [s.status for s in result.steps] == ["failed", "ok"]


def test_icinga_down_is_reported_not_raised(sim_farm_factory):
    farm = sim_farm_factory()
    farm.set_fault("icinga", "down")
    result = run(engine_on(farm), Recheck((IcingaTarget("mw152"),)), "x")
    assert result.outcome == "failed"
    assert result.steps[0].status == "down" and "connection refused" in result.steps[0].detail
    records = engine_on(farm, writable=False).audit.records()
    assert [r["event"] for r in records][-2:] == ["intent", "result"]
    assert records[-1]["outcome"] == "failed"
