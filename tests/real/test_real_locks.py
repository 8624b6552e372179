"""Redis locks (several bastions) against a real redis-server: a lock held by another console
process refuses the action and names its holder; it is renewed while the action runs; once its
holder is killed, the TTL frees it; release is compare-and-delete."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import datetime, timezone

import pytest
import yaml

from console.actions.locks import REDIS_PREFIX, LockHeld, RedisLocks
from console.actions.plan import Operator, Plan, Reason, Risk, Step
from tests.harness.hanging_action import MAIN_PAGE, cli, patient_config, records, start, wait_for_intent

pytestmark = pytest.mark.real

KEY = f"url:{MAIN_PAGE}"


def redis_config(farm, real_redis, path, ttl: float):
    patient_config(farm, path)
    config = yaml.safe_load(path.read_text())
    config["actions"]["locks"] = {"redis": real_redis.url, "ttl": ttl}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def listed(config) -> list[dict]:
    done = cli(config, "locks", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["locks"]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_held_elsewhere_refuses_naming_the_holder_then_expires_after_its_holder_is_killed(
        real_redis, sim_farm_factory, tmp_path):
    real_redis.command("DEL", REDIS_PREFIX + KEY)
    farm = sim_farm_factory()
    ttl = 1.5
    config = redis_config(farm, real_redis, tmp_path / "farm.yaml", ttl)
    audit = farm.state_dir / "audit.jsonl"
    farm.set_fault("cp161", "hang")
    holder = start(config, "--write", "purge", MAIN_PAGE, "--reason", "vandalism cleanup", "--yes",
                   env={"SUDO_USER": "alice"})
    try:
        intent = wait_for_intent(audit, holder)
        taken_at = time.monotonic()
        wait_for(lambda: time.monotonic() > taken_at + 3 * ttl, 30, "three TTLs")  # it must have been renewed
        [lock] = listed(config)
        assert (lock["key"], lock["pid"], lock["plan"], lock["user"]) == (KEY, holder.pid, intent["id"], "alice")
        assert 0 < lock["expires_in_s"] <= ttl

        refused = cli(config, "--write", "purge", MAIN_PAGE, "--reason", "me too", "--yes", env={"SUDO_USER": "bob"})
        assert refused.returncode == 2, refused.stderr
        assert f"{MAIN_PAGE} is locked by alice@" in refused.stderr and f"(pid {holder.pid})" in refused.stderr
        assert "vandalism cleanup; nothing was sent" in refused.stderr
        assert [r["id"] for r in records(audit) if r["event"] == "intent"] == [intent["id"]]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    farm.set_fault("cp161", None)

    wait_for(lambda: listed(config) == [], 30, "the TTL to free the killed holder's lock")
    done = cli(config, "--write", "purge", MAIN_PAGE, "--reason", "me too", "--yes", env={"SUDO_USER": "bob"})
    assert done.returncode == 0, done.stderr
    assert real_redis.command("EXISTS", REDIS_PREFIX + KEY) == b":0"  # released at the end


def _plan(operator: Operator, plan_id: str) -> Plan:
    now = datetime.now(timezone.utc)
    return Plan(plan_id, "restart", "restart php-fpm", ("mw152",), Risk.SEVERAL, (Step(0, "x", "ssh", "mw152", "mw152"),),
                now, operator, Reason.make("OOM", operator))


def test_release_is_compare_and_delete(real_redis):
    real_redis.command("DEL", REDIS_PREFIX + "host:mw152")
    locks, other = RedisLocks(real_redis.url, ttl=30), RedisLocks(real_redis.url, ttl=30)

    async def go():
        first = locks.hold(_plan(Operator("alice", "bast161"), "p1"))
        held = await first.__aenter__()
        with pytest.raises(LockHeld, match=r"mw152 is locked by alice@\S+ \(pid \d+\) .*: restart php-fpm — OOM"):
            async with other.hold(_plan(Operator("bob", "bast171"), "p2")):
                raise AssertionError("must not run")
        assert (await other.break_lock("host:mw152")).plan_id == "p1"  # broken, then taken by bob
        async with other.hold(_plan(Operator("bob", "bast171"), "p2")):
            await first.__aexit__(None, None, None)  # alice's release must not delete bob's lock
            assert held.notices == ["lock host:mw152 had expired or was broken before the action ended"]
            assert [info.plan_id for info in await other.list()] == ["p2"]
        assert await other.list() == []

    asyncio.run(go())


def test_a_failure_once_the_locks_are_held_releases_them(real_redis):
    real_redis.command("DEL", REDIS_PREFIX + "host:mw152")
    locks = RedisLocks(real_redis.url, ttl=30)

    async def go():
        with pytest.raises(OSError, match="unwritable"):
            async with locks.hold(_plan(Operator("alice", "bast161"), "p1")):
                raise OSError("audit log unwritable")
        assert await locks.list() == []

    asyncio.run(go())
