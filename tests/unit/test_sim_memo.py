"""What the simulated farm memoizes to answer fast gives the very values it would compute afresh, and
its caches stay bounded (console/sim: seeded.wave, puppet natural runs, metrics, Icinga's lazy objects,
Graylog's stream lines)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from console.core.clock import fixed_clock
from console.sim import icinga_api, seeded
from console.sim.checks import evaluate, ok_output
from console.sim.farm import Farm
from console.sim.icinga_api import HOST_KEYS, SERVICE_KEYS, Checkable, IcingaApi, _floats
from console.sim.metrics import natural_cpu, natural_usage
from console.sim.puppet import RUNS_KEPT, Agent, Window

NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)


def _wave_drawn_afresh(t: float, *parts: object) -> float:
    """wave() as it was first written: a new Random per value."""
    r = seeded.rng("wave", *parts)
    day = math.sin(2 * math.pi * t / 86400 + r.uniform(0, 2 * math.pi))
    swell = math.sin(2 * math.pi * t / r.uniform(1500, 2700) + r.uniform(0, 2 * math.pi))
    jitter = math.sin(2 * math.pi * t / r.uniform(110, 190) + r.uniform(0, 2 * math.pi))
    return 0.5 * day + 0.35 * swell + 0.15 * jitter


@pytest.fixture(scope="module")
def farm() -> Farm:
    return Farm(scenario="php-fpm-down", seed=7, clock=fixed_clock(NOW))  # with noise: ack, downtime, disabled Puppet


def test_wave_is_the_same_number_as_drawn_afresh():
    for t in (0.0, 1787400000.25, 1787403333.5):
        for parts in ((1, "mw151", "cpu"), (7, "db171", "conns"), (3, "x")):
            assert seeded.wave(t, *parts) == _wave_drawn_afresh(t, *parts)
    assert seeded.wave_shape.cache_info().maxsize == seeded.WAVE_SHAPES_KEPT


def test_cpu_alone_is_the_usage_cpu(farm):
    for spec in list(farm.hosts.values())[:20]:
        for minutes in (0, 3, 10):
            t = NOW - timedelta(minutes=minutes)
            assert natural_cpu(farm.seed, spec, t) == natural_usage(farm.seed, spec, t).cpu
            usage = farm.usage(spec.name, t)
            assert farm.cpu(spec.name, t) == (usage.cpu if usage else None)
    busy = next(name for name in farm.guests)
    farm.set_guest_usage(busy, cpu=0.5, since=NOW - timedelta(minutes=5))
    try:
        assert farm.cpu(busy, NOW) == farm.usage(busy, NOW).cpu == 0.5
        assert farm.cpu(busy, NOW - timedelta(minutes=10)) == farm.usage(busy, NOW - timedelta(minutes=10)).cpu != 0.5
    finally:
        farm.clear_guest_usage(busy)


def test_puppet_runs_come_from_a_bounded_memo_and_windows_still_apply(farm):
    host = next(iter(farm.hosts.values()))
    agent = Agent(host, phase=farm.agents[host.name].phase)
    fresh = Agent(host, phase=agent.phase)
    first = agent.run(farm.seed, 1000)
    assert agent.run(farm.seed, 1000) is first  # memoized
    for k in range(1000, 1000 + 3 * RUNS_KEPT):
        assert agent.run(farm.seed, k) == Agent(host, phase=agent.phase).run(farm.seed, k)
    assert len(agent._natural) <= RUNS_KEPT  # a long demo's clock does not grow it
    # a window opened later changes the runs after it, though their natural form was kept
    run = agent.run(farm.seed, 1005)
    agent.windows.append(Window(run.start - timedelta(seconds=1), "failed"))
    failed = agent.run(farm.seed, 1005)
    assert failed.status == "failed" and failed.failures and failed.hash == run.hash
    assert agent.may_fail() and not fresh.may_fail()
    agent.phase += 60  # a scenario may move the phase: the memo must not answer for the old one
    assert agent.run(farm.seed, 1005).start == run.start + timedelta(seconds=60)


def test_the_puppet_check_reads_the_same_without_history_when_nothing_can_fail(farm):
    for (host, service), _slot in farm.slots.items():
        if service == "Puppet":
            agent = farm.agents[host]
            full = agent.runs(farm.seed, NOW)
            latest = agent.runs(farm.seed, NOW, history=1)
            assert latest == full[:1]
            if not agent.may_fail():
                assert all(run.status != "failed" for run in full)


def test_a_checkable_reads_the_values_the_whole_object_has(farm):
    api = IcingaApi(farm, "pw")
    for type_name, keys in (("Host", HOST_KEYS), ("Service", SERVICE_KEYS)):
        for record in api.records(type_name, NOW):
            lazy, full = record["attrs"], Checkable(farm, record["attrs"].slot, NOW, record["attrs"].host).full()
            assert set(full) == keys
            for name in sorted(keys):
                assert lazy[name] == full[name], (full["__name"], name)
            few = ["state", "last_check", "acknowledgement"]
            assert Checkable(farm, lazy.slot, NOW, lazy.host).pick(few) == {name: full[name] for name in few}


def test_the_output_left_out_is_the_output_made_later(farm):
    for slot in farm.slots.values():
        with_output = evaluate(farm, slot, NOW)
        without = evaluate(farm, slot, NOW, output=False)
        if without.output is None:
            assert (with_output.output, with_output.perf) == ok_output(farm, slot, NOW)
            assert without.perf == ()
        else:
            assert without == with_output


def test_objects_need_no_float_conversion(farm):
    """The answers skip the _floats pass: every number is a float already, so it would change nothing."""
    api = IcingaApi(farm, "pw")
    for plural in ("hosts", "services", "comments", "downtimes"):
        body = json.loads(api.objects(["v1", "objects", plural], plural, {}).body)
        assert body["results"], plural

        def ints(value: object) -> list[object]:
            if isinstance(value, dict):
                return [i for v in value.values() for i in ints(v)]
            if isinstance(value, list):
                return [i for v in value for i in ints(v)]
            return [value] if type(value) is int else []

        assert ints(body) == [] and _floats(body) == body
    assert icinga_api._slot_static.cache_info().maxsize == icinga_api._STATIC_KEPT

