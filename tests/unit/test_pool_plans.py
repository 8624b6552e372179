"""Depool and repool plans look first (#26 items 3 and 4), with the facts given by hand (no network):
only a backend of the caches is accepted — anything else is refused at plan time naming the caches
checked; a repool shows the host's open problems and probe results, and a CRITICAL check of a service
it serves, Icinga DOWN or a failing probe makes it tier 2 and says why."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from console.actions import ActionEngine, AuditLog, Depool, Repool, Risk, Session
from console.actions.depool import (
    Backend,
    BackendTable,
    HostHealth,
    PoolFacts,
    cache_probe_failing,
    host_health,
    host_probes,
)  # fmt: skip
from console.actions.guard import InvalidAction
from console.actions.plan import Operator
from console.core.config import parse_config
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ProbeResult, ServiceCheck

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
CACHES = ("cp161", "cp171", "cp191")


def make_config(tmp_path):
    return parse_config(
        "farm: {name: wikitide, domains: [fsslc.wtnet]}\n"
        "services:\n"
        "  - {name: php-fpm, hosts: 'mw*', checks: [PHP-FPM],\n"
        "     probes: [{name: mw152 api.php, kind: http, url: 'http://10.0.0.152/w/api.php'},\n"
        "              {name: mw151 api.php, kind: http, url: 'http://10.0.0.151/w/api.php'}]}\n"
        "  - {name: mediawiki, hosts: 'mw*', checks: [HTTPS],\n"
        "     probes: [{kind: tcp, host: mw152.fsslc.wtnet, port: 443}]}\n"
        "  - {name: mariadb, hosts: 'db*', checks: [MariaDB]}\n"
        "actions:\n"
        f"  audit: {{path: '{tmp_path}/audit.jsonl'}}\n"
        "  caches: [{name: cp161, url: 'http://127.0.0.1:1'}, {name: cp171, url: 'http://127.0.0.1:2'},\n"
        "           {name: cp191, url: 'http://127.0.0.1:3'}]\n"
    )


@pytest.fixture
def engine(tmp_path):
    config = make_config(tmp_path)
    return ActionEngine(config, Session(Operator("alice", "bast161")), clock=lambda: NOW,
                        audit=AuditLog(config.actions.audit.path))


def table(*, hosts=("mw151", "mw152", "mw153"), admin="probe", health="healthy", probe="5/5", errors=None,
          only=None) -> BackendTable:
    """Every host on every cache (or on `only`), all alike; `errors`: caches that did not answer."""
    errors = errors or {}
    cells = {(cache, host): Backend(host, admin, health, probe)
             for cache in (only or CACHES) if cache not in errors for host in hosts}
    return BackendTable(CACHES, tuple(hosts), cells, dict(errors))


def check(service, state, host="mw152.fsslc.wtnet", output="x"):
    return ServiceCheck(host, service, state, True, False, False, output, NOW)


# --- only where it means something --------------------------------------------------------------------


@pytest.mark.parametrize("kind", [Depool, Repool])
def test_a_host_that_is_no_backend_is_refused_naming_the_caches_checked(engine, kind, tmp_path):
    with pytest.raises(InvalidAction) as refused:
        engine.plan(kind(("mwtask171",), PoolFacts(table())), reason="x")
    message = str(refused.value)
    assert message.startswith("refused: mwtask171 is not a backend of the caches")
    assert "checked the backend lists of cp161, cp171, cp191" in message
    assert not (tmp_path / "audit.jsonl").exists()  # refused before anything is recorded


def test_several_strangers_are_named_and_an_unread_cache_is_said(engine):
    facts = PoolFacts(table(errors={"cp191": "timed out after 10s"}))
    with pytest.raises(InvalidAction, match=r"cloud15, mwtask171 are not backends of the caches .*cp161, cp171; not read: "
                                            r"cp191: timed out after 10s"):
        engine.plan(Depool(("mw151", "cloud15", "mwtask171"), facts))


def test_a_backend_is_accepted_and_a_cache_that_does_not_list_it_is_noted(engine):
    plan = engine.plan(Depool(("mw152",), PoolFacts(table(only=("cp161", "cp171")))), reason="disk")
    assert plan.risk is Risk.REVERSIBLE and plan.targets == ("mw152",)
    assert len(plan.steps) == 3
    assert any("mw152 is not a backend of cp191" in note for note in plan.notes)


def test_when_no_cache_answers_the_plan_says_it_did_not_check(engine):
    facts = PoolFacts(table(errors={c: "connection refused" for c in CACHES}))
    plan = engine.plan(Depool(("mwtask171",), facts), reason="x")
    assert plan.notes[0].startswith("NOT CHECKED that mwtask171 is a backend of the caches")
    assert "cp161: connection refused" in plan.notes[0]


def test_facts_do_not_change_what_an_action_is():
    assert Repool(("mw153",), PoolFacts(table())) == Repool(("mw153",))
    assert hash(Depool(("mw153",), PoolFacts(table()))) == hash(Depool(("mw153",)))


# --- a repool looks before it leaps -------------------------------------------------------------------


def test_a_healthy_host_repools_at_tier_1_and_the_plan_shows_its_problems_and_probes(engine):
    health = HostHealth("mw151", ("php-fpm", "mediawiki"), (),
                        probes=(ProbeResult("php-fpm", "mw151 api.php", "http", True, 9.0, "HTTP 200 9 ms"),))
    plan = engine.plan(Repool(("mw151",), PoolFacts(table(), {"mw151": health})), reason="fixed")
    assert plan.risk is Risk.REVERSIBLE and "still failing" not in plan.title
    text = plan.render()
    assert "mw151 open problems of its services (php-fpm, mediawiki): none" in text
    assert "mw151 probes: cp161 5/5 healthy; cp171 5/5 healthy; cp191 5/5 healthy; mw151 api.php: HTTP 200 9 ms" in text


def test_a_critical_php_fpm_check_makes_the_repool_tier_2_and_says_why(engine):
    problems = (check("PHP-FPM", CheckState.CRITICAL, output="PROCS CRITICAL: 0 processes\nmore"),)
    health = HostHealth("mw152", ("php-fpm", "mediawiki"), problems)
    plan = engine.plan(Repool(("mw152",), PoolFacts(table(), {"mw152": health})), reason="fixed?")
    assert plan.risk is Risk.SEVERAL
    assert engine.challenge(plan).expected == "go"
    assert plan.title.endswith("(still failing: mw152)")
    assert plan.notes[0].startswith("mw152 IS STILL FAILING: PHP-FPM CRITICAL")
    assert "PHP-FPM CRITICAL (PROCS CRITICAL: 0 processes)" in plan.render()


def test_a_warning_is_shown_but_keeps_tier_1(engine):
    health = HostHealth("mw152", ("php-fpm",), (check("PHP-FPM", CheckState.WARNING),))
    plan = engine.plan(Repool(("mw152",), PoolFacts(table(), {"mw152": health})), reason="x")
    assert plan.risk is Risk.REVERSIBLE
    assert "PHP-FPM WARNING (x)" in plan.render()


@pytest.mark.parametrize(("facts", "why"), [
    (PoolFacts(table(admin="sick", health="sick", probe="0/5")), "the caches' probe fails (cp161, cp171, cp191)"),
    (PoolFacts(table(health="sick", probe="1/5")), "the caches' probe fails"),
    (PoolFacts(table(), {"mw152": HostHealth("mw152", ("php-fpm",),
                                             probes=(ProbeResult("php-fpm", "mw152 api.php", "http", False, None,
                                                                 "HTTP 500"),))}), "probe mw152 api.php fails"),
    (PoolFacts(table(), {"mw152": HostHealth("mw152", ("php-fpm",),
                                             state=IcingaHostState("mw152.fsslc.wtnet", up=False))}),
     "Icinga says the host is DOWN"),
])
def test_a_failing_probe_or_a_down_host_makes_the_repool_tier_2(engine, facts, why):
    plan = engine.plan(Repool(("mw152",), facts), reason="x")
    assert plan.risk is Risk.SEVERAL
    assert why in plan.notes[0]


def test_what_could_not_be_read_is_said(engine):
    plan = engine.plan(Repool(("mw152",), PoolFacts(table(), unread=("Icinga (icinga): timed out after 10s",))),
                       reason="x")
    assert "not read: Icinga (icinga): timed out after 10s" in plan.notes


def test_cache_probe_failing():
    assert cache_probe_failing(Backend("mw1", "probe", "sick", "0/5"))
    assert not cache_probe_failing(Backend("mw1", "probe", "healthy", "4/5"))  # the cache says healthy
    assert cache_probe_failing(Backend("mw1", "sick", "sick", "2/5"))  # depooled: its window decides
    assert not cache_probe_failing(Backend("mw1", "sick", "sick", "5/5"))
    assert not cache_probe_failing(Backend("mw1", "sick", "sick", ""))  # no probe said: not known to fail
    assert not cache_probe_failing(Backend("mw1", "sick", "sick", "0/0"))  # no probe configured


def test_host_health_takes_the_checks_of_the_services_it_serves(tmp_path):
    config = make_config(tmp_path)
    snapshot = IcingaSnapshot(
        hosts=(IcingaHostState("mw152.fsslc.wtnet", up=True),),
        services=(check("PHP-FPM", CheckState.CRITICAL), check("HTTPS", CheckState.WARNING),
                  check("Disk Space", CheckState.CRITICAL),  # no service of mw152 names it
                  check("PHP-FPM", CheckState.CRITICAL, host="mw153.fsslc.wtnet"),
                  check("MariaDB", CheckState.CRITICAL, host="db161.fsslc.wtnet")))
    health = host_health(config, "mw152", snapshot, ())
    assert health.services == ("php-fpm", "mediawiki")
    assert [(c.service, c.state) for c in health.problems] == [("PHP-FPM", CheckState.CRITICAL),
                                                              ("HTTPS", CheckState.WARNING)]
    assert health.state is not None and health.state.up
    assert host_health(config, "mw152", None, ()).problems == ()


def test_host_probes_are_the_probes_named_after_or_aimed_at_the_host(tmp_path):
    config = make_config(tmp_path)
    found = [(service, probe.kind) for service, probe in host_probes(config, "mw152")]
    assert found == [("php-fpm", "http"), ("mediawiki", "tcp")]
    assert [p.name for _, p in host_probes(config, "mw151")] == ["mw151 api.php"]
    assert host_probes(config, "db161") == []
