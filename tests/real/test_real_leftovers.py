"""The leftovers board's lock kind against a real redis-server (the locks several bastions share): a
lock another bastion took two hours ago appears on the board, and BreakLock — through the engine,
confirmed and audited — deletes it from Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import yaml

from console.actions import ActionEngine, BreakLock, Confirmation, Operator, Session
from console.actions.locks import REDIS_PREFIX
from console.core.config import parse_config
from console.core.state import Store
from console.derive.leftovers_fetch import gather

pytestmark = pytest.mark.real

KEY = "host:db151"


def test_an_old_redis_lock_is_a_leftover_and_break_lock_deletes_it(real_redis, sim_farm_factory):
    farm = sim_farm_factory()
    settings = yaml.safe_load(farm.config_yaml())
    settings["actions"]["locks"] = {"redis": real_redis.url, "ttl": 3600}
    config = parse_config(yaml.safe_dump(settings), "<sim+redis>")
    clock = farm.model.now
    record = {"key": KEY, "user": "bob", "host": "bast999", "pid": 4242, "pid_start": None,
              "since": (clock() - timedelta(hours=2)).isoformat(), "reason": "restart mariadb - bob@bast999",
              "plan": "p-old", "title": "restart mariadb on db151", "token": "t"}
    assert real_redis.command("SET", REDIS_PREFIX + KEY, json.dumps(record), "EX", "600") == b"+OK"

    engine = ActionEngine(config, Session(Operator("alice", "bast161")), clock=clock)
    engine.session.enable_write(engine.audit, via="test")

    board = asyncio.run(gather(config, Store(clock), engine.session, clock=clock))
    row = board.by_key().get(f"lock:{KEY}")
    assert row is not None, [r.key for r in board.rows]
    assert "bob@bast999" in row.text and row.cleanup == BreakLock(KEY)

    plan = engine.plan(row.cleanup, reason="mariadb restart finished long ago")

    async def run():
        try:
            return await engine.run(plan, Confirmation(engine.challenge(plan).expected))
        finally:
            await engine.aclose()

    result = asyncio.run(run())
    assert result.outcome == "success", result.render()
    assert real_redis.command("EXISTS", REDIS_PREFIX + KEY) == b":0"
    board = asyncio.run(gather(config, Store(clock), engine.session, clock=clock))
    assert f"lock:{KEY}" not in board.by_key()
