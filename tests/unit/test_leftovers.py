"""The leftovers board without a network: the selectors, the rows and their clean-ups, the Icinga and
PuppetDB parsers, the BreakLock action (plan and run on file locks), and the `:leftovers` jump. No Textual."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from console.actions import (
    ActionEngine,
    BreakLock,
    Confirmation,
    IcingaTarget,
    InvalidAction,
    Operator,
    PuppetEnable,
    RemoveAcknowledgement,
    RemoveDowntime,
    Repool,
    Risk,
    Session,
)  # fmt: skip
from console.actions.locks import _this_host, lock_keys
from console.core.clock import fixed_clock
from console.core.config import parse_config
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck, SourceResult
from console.core.state import Store
from console.derive.jump import completions, parse_jump
from console.derive.leftovers import (
    Acknowledgement,
    Downtime,
    ack_leftovers,
    downtime_leftovers,
    lock_leftovers,
    puppet_leftovers,
    since_text,
)  # fmt: skip
from console.derive.leftovers_fetch import (
    ack_rows,
    depooled_rows,
    disabled_reason,
    downtime_rows,
    failing_objects,
    lock_rows,
    ordered,
    puppet_rows,
)  # fmt: skip
from console.sources.base import MalformedAnswer
from console.sources.icinga import parse_acknowledgements, parse_downtimes
from console.sources.puppetdb import parse_fact_values

NOW = datetime(2026, 8, 14, 10, 0, tzinfo=timezone.utc)
ALICE = Operator("alice", "bast161")


def downtime(host: str, service: str | None, ends_in: timedelta, name: str = "") -> Downtime:
    return Downtime(name or f"{host}!{service or ''}!x", host, service, "alice", "maintenance", NOW - timedelta(hours=2),
                    NOW + ends_in)


def lock(key: str, age: timedelta, stale: bool = False, problem: str = "") -> SimpleNamespace:
    return SimpleNamespace(key=key, since=NOW - age, stale=stale, problem=problem, holder="alice@bast161 (pid 42)",
                           title="restart php-fpm on mw152", reason="php-fpm OOM - alice@bast161")


# --- selectors -------------------------------------------------------------------------------------


def test_downtimes_ending_soon_or_expired_on_a_failing_object_are_leftovers():
    soon, later = downtime("mw151", "HTTPS", timedelta(minutes=12)), downtime("mw153", None, timedelta(hours=3))
    expired_failing = downtime("mw152", "PHP-FPM", -timedelta(minutes=5))
    expired_fine = downtime("db151", "MariaDB", -timedelta(minutes=5))
    found = dict(downtime_leftovers([soon, later, expired_failing, expired_fine], NOW, {"mw152!PHP-FPM", "mw151!HTTPS"},
                                    soon=timedelta(minutes=30)))
    assert set(found) == {soon, expired_failing}
    assert found[soon] == "expires in 12m; mw151!HTTPS still fails"
    assert found[expired_failing] == "expired 5m ago and mw152!PHP-FPM still fails"


def test_only_acknowledgements_without_expiry_are_leftovers():
    forever = Acknowledgement("mw152", "PHP-FPM", "alice", "on it", NOW, None)
    bounded = Acknowledgement("mw151", None, "bob", "reboot", NOW, NOW + timedelta(hours=1))
    assert ack_leftovers([forever, bounded]) == [forever]


def test_puppet_disabled_longer_than_the_threshold_or_never_reported():
    disabled = [("mw151.x", "old", NOW - timedelta(hours=5)), ("mw152.x", "new", NOW - timedelta(minutes=20)),
                ("mw153.x", "unknown", None)]
    found = puppet_leftovers(disabled, NOW, timedelta(hours=4))
    assert [name for name, _, _ in found] == ["mw151.x", "mw153.x"]


def test_locks_older_than_the_threshold():
    old, young = lock("host:mw152", timedelta(minutes=45)), lock("host:mw151", timedelta(minutes=5))
    assert lock_leftovers([old, young], NOW, timedelta(minutes=30)) == [old]


def test_since_says_when_and_how_long_ago():
    assert since_text(NOW, NOW - timedelta(hours=2, minutes=5)) == "07:55 UTC, 2h05m ago"
    assert since_text(NOW, None) == "?"


# --- rows and their clean-ups -----------------------------------------------------------------------


def test_downtime_rows_one_per_object_with_remove_downtime():
    first = downtime("mw151", "HTTPS", timedelta(minutes=10), name="a")
    second = downtime("mw151", "HTTPS", timedelta(minutes=20), name="b")
    host = downtime("mw153", None, timedelta(minutes=15))
    rows = downtime_rows([first, second, host], NOW, set(), timedelta(minutes=30))
    assert [row.key for row in rows] == ["downtime:mw151!HTTPS", "downtime:mw153"]
    assert rows[0].text.startswith("expires in 10m") and "alice: maintenance" in rows[0].text
    assert rows[0].cleanup == RemoveDowntime((IcingaTarget("mw151", "HTTPS"),))
    assert rows[1].cleanup == RemoveDowntime((IcingaTarget("mw153"),))  # the host's own downtime, not its services'


def test_ack_rows_remove_the_acknowledgement():
    rows = ack_rows([Acknowledgement("mw152", "PHP-FPM", "alice", "on it", NOW, None),
                     Acknowledgement("mw151", None, "bob", "x", NOW, NOW + timedelta(hours=1))])
    assert [row.key for row in rows] == ["ack:mw152!PHP-FPM"]
    assert "alice without expiry: on it" in rows[0].text
    assert rows[0].cleanup == RemoveAcknowledgement((IcingaTarget("mw152", "PHP-FPM"),))


def test_puppet_rows_read_the_disabled_fact_and_enable_the_agent():
    facts = {"mw151.fsslc.wtnet": "php upgrade - alice", "mw152.fsslc.wtnet": True, "mw153.fsslc.wtnet": False,
             "mw161.fsslc.wtnet": "", "db151.fsslc.wtnet": "recent"}
    last = {"mw151.fsslc.wtnet": NOW - timedelta(hours=6), "mw152.fsslc.wtnet": NOW - timedelta(hours=5),
            "db151.fsslc.wtnet": NOW - timedelta(hours=1)}
    rows = puppet_rows(facts, last, NOW, timedelta(hours=4), directory=None, domains=("fsslc.wtnet",))
    assert [row.target for row in rows] == ["mw151", "mw152"]
    assert rows[0].text == "agent disabled: php upgrade - alice"
    assert rows[1].text == "agent disabled (no message)"
    assert rows[0].cleanup == PuppetEnable(("mw151",))
    assert disabled_reason(None) is None and disabled_reason(False) is None and disabled_reason(" ") is None


def test_depooled_and_lock_rows():
    assert depooled_rows({"mw153": ["cp171", "cp161"]})[0].cleanup == Repool(("mw153",))
    assert "cp161, cp171" in depooled_rows({"mw153": ["cp171", "cp161"]})[0].text
    locks = [lock("host:mw152", timedelta(minutes=45)), lock("host:mw151", timedelta(minutes=2), stale=True),
             lock("host:mw153", timedelta(minutes=2))]
    rows = lock_rows(locks, NOW, timedelta(minutes=30))
    assert [row.target for row in rows] == ["host:mw152", "host:mw151"]  # old, or STALE whatever its age
    assert rows[1].text.startswith("STALE") and rows[0].cleanup == BreakLock("host:mw152")


def test_rows_are_ordered_by_kind_then_target_one_per_key():
    rows = [*lock_rows([lock("host:a", timedelta(hours=1))], NOW, timedelta(minutes=30)),
            *depooled_rows({"mw153": ["cp161"]}),
            *downtime_rows([downtime("mw151", None, timedelta(minutes=5))], NOW, set(), timedelta(minutes=30)),
            *depooled_rows({"mw153": ["cp161"]})]
    assert [row.kind for row in ordered(rows)] == ["downtime", "depooled", "lock"]


def test_failing_objects_come_from_the_stores_icinga_data():
    store = Store(fixed_clock(NOW))
    store.register("icinga", "icinga", 10)
    services = (ServiceCheck("mw152", "PHP-FPM", CheckState.CRITICAL, True, False, False, "down", None),
                ServiceCheck("mw151", "HTTPS", CheckState.OK, True, False, False, "ok", None))
    hosts = (IcingaHostState("db151", up=False), IcingaHostState("mw151", up=True))
    store.put(SourceResult("icinga", "icinga", NOW, 1.0, IcingaSnapshot(hosts, services)))
    assert failing_objects(store) == {"mw152!PHP-FPM", "db151"}


# --- parsers -----------------------------------------------------------------------------------------


def test_parse_downtimes_and_acknowledgements():
    downtimes = parse_downtimes({"results": [
        {"name": "mw151!HTTPS!u1", "attrs": {"host_name": "mw151", "service_name": "HTTPS", "author": "alice",
                                             "comment": "cert swap", "start_time": NOW.timestamp(),
                                             "end_time": NOW.timestamp() + 600.0, "fixed": True}},
        {"name": "mw153!u2", "attrs": {"host_name": "mw153", "service_name": "", "author": "bob", "comment": "x",
                                       "start_time": 0, "end_time": NOW.timestamp() + 60}},
    ]})  # fmt: skip
    assert [(d.host, d.service, d.name) for d in downtimes] == [("mw153", None, "mw153!u2"),
                                                                 ("mw151", "HTTPS", "mw151!HTTPS!u1")]
    assert downtimes[1].end == NOW + timedelta(minutes=10) and downtimes[0].start is None
    acks = parse_acknowledgements({"results": [
        {"attrs": {"host_name": "mw152", "service_name": "PHP-FPM", "author": "alice", "text": "on it", "entry_type": 4,
                   "entry_time": NOW.timestamp(), "expire_time": 0}},
        {"attrs": {"host_name": "mw151", "service_name": "", "author": "bob", "text": "note", "entry_type": 1}},
    ]})  # fmt: skip
    assert acks == [Acknowledgement("mw152", "PHP-FPM", "alice", "on it", NOW, None)]
    with pytest.raises(MalformedAnswer):
        parse_acknowledgements({"results": [{"attrs": {"entry_type": 4}}]})


def test_parse_fact_values_maps_certnames_to_values():
    payload = [{"certname": "mw151.x", "name": "f", "value": "why"}, {"certname": "mw152.x", "name": "f", "value": None}]
    assert parse_fact_values(payload) == {"mw151.x": "why", "mw152.x": None}
    with pytest.raises(MalformedAnswer, match="PuppetDB: boom"):
        parse_fact_values({"error": "boom"})


# --- BreakLock ---------------------------------------------------------------------------------------


def engine_on(tmp_path) -> ActionEngine:
    config = parse_config(f"farm: {{name: x, environment: test}}\n"
                          f"actions: {{audit: {{path: {tmp_path}/audit.jsonl}}, locks: {{dir: {tmp_path}/locks}}}}\n")
    return ActionEngine(config, Session(ALICE), clock=fixed_clock(NOW))


def test_break_lock_plans_a_tier_2_action_on_its_own_lock_key(tmp_path):
    engine = engine_on(tmp_path)
    plan = engine.plan(BreakLock(" host:mw152 "), reason="its restart died")
    assert plan.action == "break-lock" and plan.risk is Risk.SEVERAL
    assert plan.targets == ("lock:host:mw152",) and plan.steps[0].subject == "host:mw152"
    assert lock_keys(plan) == ["lock:host:mw152"]  # never the lock it breaks
    for bad in ("", "mw152", "host:mw\n152", "x:" + "a" * 400):
        with pytest.raises(InvalidAction):
            engine.plan(BreakLock(bad))


def test_break_lock_removes_the_lock_and_is_audited(tmp_path):
    engine = engine_on(tmp_path)
    engine.session.enable_write(engine.audit, via="test")
    directory, _ = engine.locks.where()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    record = {"key": "host:mw152", "user": "bob", "host": _this_host(), "pid": child.pid, "pid_start": None,
              "since": (NOW - timedelta(hours=1)).isoformat(), "reason": "r", "plan": "old", "title": "restart php-fpm",
              "token": "t"}
    (directory / "host:mw152.lock").write_text(json.dumps(record))
    plan = engine.plan(BreakLock("host:mw152"), reason="its restart died")

    async def run():
        try:
            return await engine.run(plan, Confirmation(engine.challenge(plan).expected))
        finally:
            await engine.aclose()

    result = asyncio.run(run())
    assert result.outcome == "success", result.render()
    assert "was bob@" in result.steps[0].detail and "restart php-fpm" in result.steps[0].detail
    assert asyncio.run(engine.locks.list()) == []
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    mine = [r for r in audit if r.get("id") == plan.id]
    assert [r["event"] for r in mine] == ["intent", "result"]
    assert mine[0]["targets"] == ["lock:host:mw152"] and mine[0]["reason"].startswith("its restart died")
    assert mine[1]["outcome"] == "success" and "was bob@" in mine[1]["results"][0]["detail"]
    # again: already released, nothing to break — still good
    engine = engine_on(tmp_path)
    engine.session.enable_write(engine.audit, via="test")
    plan = engine.plan(BreakLock("host:mw152"), reason="again")
    result = asyncio.run(engine.run(plan, Confirmation("go")))
    assert result.outcome == "success" and result.steps[0].status == "skipped"


# --- the jump ----------------------------------------------------------------------------------------


def test_leftovers_is_a_jump_and_a_completion():
    assert parse_jump("leftovers").what == "leftovers"
    assert parse_jump(":leftovers").what == "leftovers"
    assert parse_jump("leftovers now").what == "error"
    assert "leftovers" in completions([], [])
