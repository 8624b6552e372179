"""#26 items 2-4 over the simulated farm (its caches run the depool service, console/sim/depool.py):
the `backends` source, depool/repool refused for a host that is no backend (a job runner, a
hypervisor) before anything is audited or sent, a repool of a host with a CRITICAL PHP-FPM check at
tier 2 saying why, and a repool of a server still failing its probe reported as such."""

from __future__ import annotations

import asyncio
import json

import pytest

from console.actions import ActionEngine, Confirmation, Depool, Operator, Repool, Risk, Session
from console.actions.depool import gather_pool_facts
from console.actions.guard import NotConfirmed
from console.actions.restart import STILL_SICK
from console.cli.status import collect
from console.core.config import parse_config
from console.sources import build_sources
from console.sources.backends import BackendsSource
from tests.integration.cli_helpers import invoke

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")


def engine_for(config) -> ActionEngine:
    engine = ActionEngine(config, Session(ALICE))
    engine.session.enable_write(engine.audit, via="test")
    return engine


def go(engine, plan):
    async def run():
        try:
            return await engine.run(plan, Confirmation(engine.challenge(plan).expected))
        finally:
            await engine.aclose()

    return asyncio.run(run())


def audit_events(farm) -> list[dict]:
    path = farm.state_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- the backends source ---------------------------------------------------------------------------


def test_the_backends_source_reads_every_cache_and_sees_a_depooled_host(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    config = parse_config(farm.config_yaml(), "<sim>")
    source = next(s for s in build_sources(config) if s.kind == "backends")
    for cache in farm.cache_names:
        farm.model.backend_admin.setdefault(cache, {})["mw153"] = "sick"
    before = farm.request_counts()
    result = asyncio.run(source.fetch())
    after = farm.request_counts()
    assert result.ok, result.error
    snapshot = result.data
    assert snapshot.caches == tuple(farm.cache_names) and snapshot.answered == snapshot.caches
    assert snapshot.depooled() == {"mw153": tuple(farm.cache_names)}
    assert "mw152" not in snapshot.depooled()  # its probe fails (php-fpm down): sick, not depooled
    assert {c.health for c in snapshot.backends if c.name == "mw152"} == {"sick"}
    # one GET /backend/list per cache, on the depool services only
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == \
        {f"depool-{cache}": 1 for cache in farm.cache_names}


def test_a_cache_that_does_not_answer_is_a_partial_error_and_none_answering_an_error(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    text = farm.config_yaml().replace(farm.depool_urls["cp171"], "http://127.0.0.1:9")
    result = asyncio.run(BackendsSource(parse_config(text, "<sim>")).fetch())
    assert result.ok and result.data.unanswered == ("cp171",)
    assert result.data.partial_errors[0].startswith("cp171: ")
    for url in farm.depool_urls.values():
        text = text.replace(url, "http://127.0.0.1:9")
    result = asyncio.run(BackendsSource(parse_config(text, "<sim>")).fetch())
    assert not result.ok and result.error.startswith("no cache answered its backend list: cp161: ")


def test_status_collects_the_backends_source_too(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    config = parse_config(farm.config_yaml(), "<sim>")
    store = asyncio.run(collect(config))
    assert store.get("backends").ok and store.get("backends").data.names() >= {"mw151", "mw152"}


# --- only where it means something -----------------------------------------------------------------


@pytest.mark.parametrize("host", ["mwtask171", "cloud15"])  # a job runner, a hypervisor
@pytest.mark.parametrize("verb", ["depool", "repool"])
def test_the_cli_refuses_a_host_that_is_no_backend_before_anything_is_audited_or_sent(farm_config, verb, host):
    farm, config = farm_config
    result = invoke(config, "--write", verb, host, "--reason", "disk check", "--yes")
    assert result.exit_code == 2, result.output
    assert f"refused: {host} is not a backend of the caches" in result.stderr
    assert f"checked the backend lists of {', '.join(farm.cache_names)}" in result.stderr
    assert farm.model.depool_log == []
    assert audit_events(farm) == []  # not even the write switch: refused at plan time


def test_the_refusal_is_the_same_in_a_dry_run_and_as_json(farm_config):
    farm, config = farm_config
    result = invoke(config, "depool", "mwtask171", "--dry-run", "--json")
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "refused" and "cp161, cp171, cp191, cp201" in answer["message"]
    assert audit_events(farm) == []


def test_a_backend_is_still_accepted(farm_config):
    farm, config = farm_config
    result = invoke(config, "--write", "depool", "mw153", "--reason", "disk check", "--yes")
    assert result.exit_code == 0, result.output
    assert all(farm.model.backend_admin[c].get("mw153") == "sick" for c in farm.cache_names)
    assert [e["event"] for e in audit_events(farm)] == ["write-enabled", "intent", "result"]  # where they would be


# --- a repool looks before it leaps ----------------------------------------------------------------


def test_a_repool_of_a_host_with_a_critical_php_fpm_check_is_tier_2_and_says_why(farm_config):
    farm, config = farm_config  # php-fpm-down: mw152's PHP-FPM is CRITICAL and its probe fails
    result = invoke(config, "repool", "mw152", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["risk"]["tier"] == 2
    assert plan["title"].endswith("(still failing: mw152)")
    assert plan["notes"][0].startswith("mw152 IS STILL FAILING: ")
    assert "PHP-FPM CRITICAL" in plan["notes"][0] and "the caches' probe fails" in plan["notes"][0]
    shown = "\n".join(plan["notes"])
    assert "PHP-FPM CRITICAL (PROCS CRITICAL: 0 processes" in shown
    assert "mw152 probes: cp161 0/5 sick" in shown and "mw152 api.php: HTTP 502" in shown

    healthy = json.loads(invoke(config, "repool", "mw151", "--dry-run", "--json").stdout)["plan"]
    assert healthy["risk"]["tier"] == 1 and "still failing" not in healthy["title"]


def test_a_tier_2_repool_is_not_run_on_a_y(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    engine = engine_for(parse_config(farm.config_yaml(), "<sim>"))
    plan = engine.plan(Repool(("mw152",)), reason="php fixed?")
    assert engine.challenge(plan).expected == "go"
    with pytest.raises(NotConfirmed):
        asyncio.run(engine.run(plan, Confirmation("y")))
    assert farm.model.depool_log == []


def test_a_repool_of_a_server_still_failing_says_so_and_is_not_a_success(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    config = parse_config(farm.config_yaml(), "<sim>")
    engine = engine_for(config)
    plan = engine.plan(Repool(("mw152",)), reason="php fixed?")
    assert plan.risk is Risk.SEVERAL
    result = go(engine, plan)
    assert all(farm.model.backend_admin.get(c, {}).get("mw152") is None for c in farm.cache_names)  # auto
    assert result.outcome == "partial"
    after = result.steps[-1]
    assert (after.kind, after.target, after.status) == ("after-repool", "mw152", STILL_SICK)
    assert "STILL FAILING" in after.detail and "cp161 0/5" in after.detail and "mw152 api.php" in after.detail
    assert "STILL FAILING" in result.render()


def test_a_repool_of_a_healthy_server_checks_it_and_succeeds(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    config = parse_config(farm.config_yaml(), "<sim>")
    engine = engine_for(config)
    assert go(engine, engine.plan(Depool(("mw153",)), reason="disk")).outcome == "success"
    engine = engine_for(config)
    result = go(engine, engine.plan(Repool(("mw153",)), reason="disk fine"))
    assert result.outcome == "success", result.render()
    after = result.steps[-1]
    assert after.kind == "after-repool" and after.status == "ok"
    assert after.detail.startswith(f"healthy on {len(farm.cache_names)}/{len(farm.cache_names)} caches")


def test_the_console_reads_the_facts_with_its_store(sim_farm_factory):
    """What the TUI does when depool/repool is chosen: the lists fresh, checks and probes from the store."""
    farm = sim_farm_factory("php-fpm-down")
    config = parse_config(farm.config_yaml(), "<sim>")
    store = asyncio.run(collect(config))
    before = farm.request_counts()
    facts = asyncio.run(gather_pool_facts(config, ("mw152",), session=Session(ALICE), repool=True, store=store))
    after = farm.request_counts()
    assert [k for k in after if after[k] != before.get(k, 0)] == [f"depool-{c}" for c in farm.cache_names]
    health = facts.health["mw152"]
    assert [c.service for c in health.critical] == ["HTTPS", "MediaWiki Rendering", "PHP-FPM"]
    assert [p.label for p in health.failing_probes] == ["mw152 api.php"]
    assert not facts.unread and not facts.backends.errors
