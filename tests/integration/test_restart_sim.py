"""Rolling restarts and depool/repool against the simulated farm: the real Salt executor, the sim's
depool service (TOTP), Icinga downtime — the demo's story: PHP-FPM restarted over the mw hosts,
batch by batch, and mw152's alert recovers."""

from __future__ import annotations

import asyncio

import httpx
import pyotp
import pytest

from console.actions import ActionEngine, Confirmation, Depool, Operator, Repool, RestartService, Session
from console.actions.depool import read_backend_health
from console.cli.status import collect
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.sim.checks import OK, evaluate

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")
MW = ("mw151", "mw152", "mw153", "mw161")


def setup(farm, *, settle: float = 0):
    text = farm.config_yaml().replace("settle: 1", f"settle: {settle}")
    config = parse_config(text, "<sim>")
    store = asyncio.run(collect(config, farm.model.now))
    directory = HostDirectory.from_store(store, config)
    engine = ActionEngine(config, Session(ALICE), clock=farm.model.now)
    engine.session.enable_write(engine.audit, via="test")
    return config, engine, directory


def go(engine, plan, on_event=None):
    async def run():
        try:
            return await engine.run(plan, Confirmation(engine.challenge(plan).expected), on_event=on_event)
        finally:
            await engine.aclose()

    return asyncio.run(run())


def php_fpm_state(farm, host: str) -> int:
    return evaluate(farm.model, farm.model.slots[(host, "PHP-FPM")], farm.model.now()).state


def test_rolling_restart_of_php_fpm_depools_restarts_checks_repools_each_batch(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    assert php_fpm_state(farm, "mw152") != OK
    config, engine, directory = setup(farm)
    events = []
    plan = engine.plan(RestartService("php-fpm", MW, batch=2, directory=directory), reason="php-fpm died on mw152")
    result = go(engine, plan, events.append)
    assert result.outcome == "success", result.render()
    # every host: sick on every cache, then auto on every cache; batch 1 entirely before batch 2
    log = farm.model.depool_log
    caches = set(farm.cache_names)
    for host in MW:
        mine = [(cache, state) for cache, who, state in log if who == host]
        assert {c for c, s in mine if s == "sick"} == caches and {c for c, s in mine if s == "auto"} == caches
        assert [s for _, s in mine] == ["sick"] * len(caches) + ["auto"] * len(caches)
    last_of_batch_1 = max(i for i, (_, who, _) in enumerate(log) if who in MW[:2])
    first_of_batch_2 = min(i for i, (_, who, _) in enumerate(log) if who in MW[2:])
    assert last_of_batch_1 < first_of_batch_2
    assert [e.message for e in events if e.kind == "batch"] == ["batch 1/2: mw151, mw152", "batch 2/2: mw153, mw161"]
    assert php_fpm_state(farm, "mw152") == OK  # the broken host's alert recovered
    assert not any(farm.model.backend_admin.values())  # nothing left depooled
    # downtime scheduled and removed again for every host
    assert all(farm.model.slot(host).downtime is None for host in MW)
    assert any(line.startswith("!log [alice@bast161] START - rolling restart of php-fpm") for line in farm.model.sal_log)
    assert any("END (PASS) - rolling restart of php-fpm" in line for line in farm.model.sal_log)


def test_cancel_after_batch_1_skips_the_rest_and_leaves_nothing_depooled(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    config, engine, directory = setup(farm, settle=0.2)
    plan = engine.plan(RestartService("php-fpm", MW, batch=2, downtime=None, directory=directory), reason="cancel test")

    def cancel_when_batch_1_starts(event):
        if event.kind == "batch" and event.message.startswith("batch 1/"):
            engine.cancel(event.plan_id)

    result = go(engine, plan, cancel_when_batch_1_starts)
    assert result.outcome == "cancelled"
    touched = {who for _, who, _ in farm.model.depool_log}
    assert touched == {"mw151", "mw152"}
    assert not any(farm.model.backend_admin.values())  # the hosts in hand were repooled
    rest = [s for s in result.steps if s.target in MW[2:]]
    assert rest and all(s.status == "skipped" for s in rest)


def test_depool_and_repool_actions_and_the_backend_table(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    config, engine, directory = setup(farm)
    result = go(engine, engine.plan(Depool(("mw153",)), reason="disk check"))
    assert result.outcome == "success", result.render()
    assert all(farm.model.backend_admin[c].get("mw153") == "sick" for c in farm.cache_names)

    table = asyncio.run(read_backend_health(config, engine.session))
    assert not table.errors
    assert table.depooled() == {"mw153": list(farm.cache_names)}
    assert all(table.health(c, "mw152") == "sick" for c in farm.cache_names)  # its probe fails: php-fpm is down
    assert table.health("cp161", "mw151") == "healthy"

    _, engine, _ = setup(farm)
    result = go(engine, engine.plan(Repool(("mw153",)), reason="disk fine"))
    assert result.outcome == "success"
    assert not any(farm.model.backend_admin.values())


def test_the_depool_service_wants_a_valid_totp(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    url = farm.depool_urls["cp161"]
    secret = farm.secret_path("depool").read_text().strip()
    assert httpx.post(f"{url}/backend/mw151/sick").status_code == 401
    assert httpx.post(f"{url}/backend/mw151/sick", headers={"X-TOTP": "000000"}).status_code in (200, 401)
    good = {"X-TOTP": pyotp.TOTP(secret).now()}
    assert httpx.post(f"{url}/backend/mw999/sick", headers=good).status_code == 404
    assert httpx.post(f"{url}/backend/mw151/sick", headers=good).status_code == 200
    assert farm.model.backend_admin["cp161"] == {"mw151": "sick"}
    assert httpx.post(f"{url}/backend/mw151/auto", headers=good).status_code == 200


def test_a_wrong_totp_secret_refuses_the_depool_and_says_why(sim_farm_factory, tmp_path):
    farm = sim_farm_factory("healthy")
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("JBSWY3DPEHPK3PXP\n")
    wrong.chmod(0o600)
    text = farm.config_yaml().replace(str(farm.secret_path("depool")), str(wrong))
    config = parse_config(text, "<sim>")
    engine = ActionEngine(config, Session(ALICE), clock=farm.model.now)
    engine.session.enable_write(engine.audit, via="test")
    result = go(engine, engine.plan(Depool(("mw151",)), reason="x"))
    assert result.outcome == "failed"
    assert all(s.status == "refused" and "totp_secret" in s.detail for s in result.steps)
    assert "JBSWY3DPEHPK3PXP" not in result.render()
