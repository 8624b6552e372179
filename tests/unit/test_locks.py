"""Per-target file locks (console/actions/locks.py) and the audit's unfinished-action reader. No Textual."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from console.actions.audit import AuditLog, acknowledge_unfinished, tail_records, unfinished_actions
from console.actions.locks import (
    FileLocks,
    LockError,
    LockHeld,
    RedisLocks,
    _this_host,
    lock_keys,
    lock_rows,
    pid_alive,
    process_start,
    running_plan_ids,
)  # fmt: skip
from console.actions.plan import Operator, Plan, Reason, Risk, Step
from console.core.clock import fixed_clock

NOW = datetime(2026, 8, 14, 10, 14, tzinfo=timezone.utc)
ALICE = Operator("alice", "bast161")
BOB = Operator("bob", "bast161")


def make_plan(targets: tuple[str, ...], action: str = "restart", operator: Operator = ALICE, plan_id: str = "p1",
              title: str = "restart php-fpm", reason: str = "php-fpm OOM", executor: str = "ssh") -> Plan:
    steps = tuple(Step(i, "x", executor, t, t) for i, t in enumerate(targets))
    return Plan(plan_id, action, title, targets, Risk.SEVERAL, steps, NOW, operator, Reason.make(reason, operator, "T7"))


FIXED = fixed_clock(NOW)


def locks_in(tmp_path: Path, clock=FIXED) -> FileLocks:
    return FileLocks(tmp_path / "locks", clock=clock, domains=("fsslc.wtnet",), fallback=tmp_path / "private")


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def hold_then(locks: FileLocks, plan: Plan, inside) -> None:
    async with locks.hold(plan) as held:
        await inside(held)


def test_keys_are_normalised_per_kind_of_target():
    assert lock_keys(make_plan(("mw152.fsslc.wtnet", "MW151")), ("fsslc.wtnet",)) == ["host:mw151", "host:mw152"]
    purge = make_plan(("https://meta.miraheze.org/wiki/Main_Page",), action="purge", executor="cache:cp161")
    assert lock_keys(purge) == ["url:https://meta.miraheze.org/wiki/Main_Page"]
    assert lock_keys(make_plan(("Meta.Miraheze.org",), action="ban", executor="cache:cp161")) == ["site:meta.miraheze.org"]
    ack = make_plan(("mw152!PHP-FPM", "mw151.fsslc.wtnet"), action="ack", executor="icinga:icinga")
    assert lock_keys(ack, ("fsslc.wtnet",)) == ["icinga:mw151", "icinga:mw152!PHP-FPM"]
    assert lock_keys(make_plan(("cache:cp161",))) == ["cache:cp161"]


def test_acquire_writes_who_and_why_and_release_removes_it(tmp_path):
    locks = locks_in(tmp_path)
    plan = make_plan(("mw152",))

    async def inside(held):
        path = tmp_path / "locks" / "host:mw152.lock"
        data = json.loads(path.read_text())
        assert (data["user"], data["pid"], data["plan"], data["title"]) == ("alice", os.getpid(), "p1", "restart php-fpm")
        assert data["reason"] == "php-fpm OOM - T7" and data["since"] == NOW.isoformat()
        assert held.keys == ["host:mw152"] and held.notices == []
        listed = await locks.list()
        assert [(info.key, info.stale) for info in listed] == [("host:mw152", False)]

    asyncio.run(hold_then(locks, plan, inside))
    assert list((tmp_path / "locks").iterdir()) == []


def test_created_directory_is_sticky_and_writable_by_all(tmp_path):
    locks = locks_in(tmp_path)
    directory, notice = locks.where()
    assert notice is None and directory == tmp_path / "locks"
    assert directory.stat().st_mode & 0o7777 == 0o1777


def test_a_held_lock_refuses_naming_holder_since_and_reason(tmp_path):
    later = fixed_clock(NOW + timedelta(minutes=12))
    first, second = locks_in(tmp_path), locks_in(tmp_path, later)

    async def inside(_held):
        with pytest.raises(LockHeld) as refused:
            async with second.hold(make_plan(("mw151", "mw152"), operator=BOB, plan_id="p2")):
                raise AssertionError("must not run")
        message = str(refused.value)
        assert message.startswith(f"refused: mw152 is locked by alice@{refused.value.held[0].host} (pid {os.getpid()}) "
                                  f"since 10:14 UTC (12 min ago): restart php-fpm — php-fpm OOM - T7")
        assert "STALE" not in message and message.endswith("nothing was sent")
        # all or nothing: mw151 was free, yet is not left locked by the refused run
        assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == ["host:mw152.lock"]

    asyncio.run(hold_then(first, make_plan(("mw152",)), inside))


def test_a_lock_whose_process_died_is_stale_and_still_refuses(tmp_path):
    locks = locks_in(tmp_path)
    directory, _ = locks.where()
    pid = dead_pid()
    record = {"key": "host:mw152", "user": "alice", "host": _this_host(), "pid": pid, "pid_start": None,
              "since": NOW.isoformat(), "reason": "r", "plan": "old", "title": "restart php-fpm", "token": "t"}
    (directory / "host:mw152.lock").write_text(json.dumps(record))
    listed = asyncio.run(locks.list())
    assert listed[0].stale is True and running_plan_ids(listed) == set()
    assert lock_rows(listed, NOW)[0][-1] == "STALE"
    with pytest.raises(LockHeld) as refused:
        asyncio.run(hold_then(locks, make_plan(("mw152",), operator=BOB), lambda held: asyncio.sleep(0)))
    assert f"STALE: pid {pid} no longer runs" in str(refused.value)
    assert "opsconsole --write locks break host:mw152" in str(refused.value)
    assert asyncio.run(locks.break_lock("host:mw152")).plan_id == "old"
    assert asyncio.run(locks.list()) == []


def test_a_lock_from_another_host_cannot_be_judged_stale(tmp_path):
    locks = locks_in(tmp_path)
    record = {"key": "host:mw152", "user": "alice", "host": "some-other-bastion", "pid": dead_pid(),
              "since": NOW.isoformat(), "reason": "", "plan": "p9", "title": "t", "token": "t"}
    (locks.where()[0] / "host:mw152.lock").write_text(json.dumps(record))
    listed = asyncio.run(locks.list())
    assert listed[0].stale is False and running_plan_ids(listed) == {"p9"}


def test_pid_reuse_is_detected_by_the_start_time():
    me = os.getpid()
    started = process_start(me)
    assert started is not None
    assert pid_alive(me, started) and not pid_alive(me, started + 1) and not pid_alive(dead_pid())


def test_a_damaged_lock_file_refuses_and_says_what_is_wrong(tmp_path):
    locks = locks_in(tmp_path)
    (locks.where()[0] / "host:mw152.lock").write_text("")  # e.g. a disk that filled up
    with pytest.raises(LockHeld, match="mw152 is locked .*unreadable"):
        asyncio.run(hold_then(locks, make_plan(("mw152",)), lambda held: asyncio.sleep(0)))


def test_an_unusable_directory_falls_back_with_a_notice(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    locks = FileLocks(blocker / "locks", fallback=tmp_path / "private", clock=fixed_clock(NOW))
    seen = []

    async def run():
        async with locks.hold(make_plan(("mw152",)), notify=seen.append) as held:
            assert (tmp_path / "private" / "host:mw152.lock").exists()
            return held

    held = asyncio.run(run())
    assert seen and seen[0].startswith(f"locks: cannot use {blocker / 'locks'}")
    assert "other operators do not see" in held.notices[0]


def test_a_lock_broken_meanwhile_is_a_notice_at_release(tmp_path):
    locks = locks_in(tmp_path)

    async def inside(_held):
        await locks.break_lock("host:mw152")

    async def run():
        async with locks.hold(make_plan(("mw152",))) as held:
            await inside(held)
        return held

    held = asyncio.run(run())
    assert held.notices == ["lock host:mw152 was broken by someone else while the action ran"]


def test_breaking_another_users_lock_in_a_sticky_directory_says_why(tmp_path, monkeypatch):
    locks = locks_in(tmp_path)
    path = locks.where()[0] / "host:mw152.lock"
    path.write_text(json.dumps({"key": "host:mw152", "user": "n", "host": "h", "pid": 1, "since": NOW.isoformat()}))

    def refuse(self, missing_ok=False):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "unlink", refuse)  # what the kernel answers a non-owner in a sticky directory
    with pytest.raises(LockError, match="belongs to another user .* is sticky: only its owner or root"):
        asyncio.run(locks.break_lock("host:mw152"))
    assert path.exists()


def test_file_names_are_safe_for_any_key():
    assert FileLocks.file_name("host:mw152") == "host:mw152.lock"
    name = FileLocks.file_name("url:https://meta.miraheze.org/wiki/Main_Page?a=b")
    assert "/" not in name and name.endswith(".lock") and name.startswith("url:https:__meta")
    assert FileLocks.file_name("url:https://a/x") != FileLocks.file_name("url:https://a_x")
    assert "/" not in FileLocks.file_name("../../etc/passwd") and not FileLocks.file_name("..").startswith(".")


def test_unreachable_redis_refuses_before_anything_is_sent():
    locks = RedisLocks("redis://:hunter2@127.0.0.1:1/0", timeout=2)

    async def go():
        async with locks.hold(make_plan(("mw152",))):
            raise AssertionError("must not run")

    with pytest.raises(LockError, match=r"refused: cannot take the locks: Redis at 127\.0\.0\.1:1/0 unreachable") as refused:
        asyncio.run(go())
    assert "hunter2" not in str(refused.value)


# --- unfinished actions: an intent without a result -------------------------------------------


def _intent(plan_id: str, title: str, when: str = "2026-08-14T10:02:00+00:00") -> dict:
    return {"event": "intent", "id": plan_id, "title": title, "action": "purge", "targets": ["https://x/"],
            "user": "alice", "host": "bast161", "time": when, "reason": "r - alice@bast161"}


def test_intents_without_result_are_unfinished(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append(_intent("a1", "purge one"))
    audit.append({"event": "result", "id": "a1", "outcome": "success"})
    audit.append(_intent("b2", "purge https://x/ from 4 caches"))
    audit.append(_intent("c3", "ack mw152"))
    found = unfinished_actions(audit.path, running={"c3"})
    assert [u.plan_id for u in found] == ["b2"]
    assert found[0].describe() == ("unfinished: purge https://x/ from 4 caches started 2026-08-14 10:02 UTC by "
                                   "alice@bast161 (plan b2) — its result is unknown; check the targets: https://x/")
    acknowledge_unfinished(audit, found, "alice", "bast161")
    assert [u.plan_id for u in unfinished_actions(audit.path)] == ["c3"]
    shown = unfinished_actions(audit.path, include_acknowledged=True)
    assert {(u.plan_id, u.acknowledged) for u in shown} == {("b2", True), ("c3", False)}


def test_only_the_tail_is_read_and_a_cut_line_is_skipped(tmp_path):
    path = tmp_path / "audit.jsonl"
    old = json.dumps(_intent("old", "long ago")) + "\n"
    filler = "".join(json.dumps({"event": "dry-run", "id": f"d{i}", "pad": "x" * 100}) + "\n" for i in range(200))
    new = json.dumps(_intent("new", "recent")) + "\n"
    path.write_text(old + filler + new + '{"event": "intent", "id": "cut')  # the crash cut the last line
    assert [u.plan_id for u in unfinished_actions(path, max_bytes=len(new) + 600)] == ["new"]
    assert [u.plan_id for u in unfinished_actions(path)] == ["old", "new"]
    assert tail_records(tmp_path / "missing.jsonl") == []


def test_a_failure_while_the_locks_are_held_releases_them(tmp_path):
    """The engine writes its audit intent inside the block: the locks are held while it runs; when it
    fails, the locks are gone again and its error is what the caller sees."""
    locks = locks_in(tmp_path)
    plan = make_plan(("mw151", "mw152"))
    seen: list[list[str]] = []

    def held_now() -> list[str]:
        return sorted(path.name.split("~")[0] for path in (tmp_path / "locks").glob("*.lock"))

    async def go() -> None:
        async with locks.hold(plan):
            seen.append(held_now())
        with pytest.raises(OSError, match="unwritable"):
            async with locks.hold(plan):
                raise OSError("audit log unwritable")
        assert await locks.list() == []
        async with locks.hold(plan):  # nothing left behind: taken again at once
            pass

    asyncio.run(go())
    assert seen == [["host:mw151.lock", "host:mw152.lock"]]
