"""The leftovers board against the simulated farm: each kind appears — a downtime ending soon, an ack
without expiry, Puppet disabled through the sim's Salt hours ago, a depooled host, an old lock — and
its clean-up, run through the engine like any action, clears it. A failing backend is a line on the
board and the other kinds still show."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from console.actions import (
    Acknowledge,
    ActionEngine,
    Depool,
    IcingaTarget,
    Operator,
    PuppetDisable,
    ScheduleDowntime,
    Session,
)  # fmt: skip
from console.actions.guard import Confirmation
from console.actions.locks import FileLocks
from console.cli.status import collect
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.derive.leftovers_fetch import gather
from tests.conftest import SIM_NOW

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")
MADE = {"downtime:mw151!HTTPS", "ack:mw152!PHP-FPM", "puppet-disabled:mw153", "depooled:mw161", "lock:host:db151"}


class MovableClock:
    """The farm's and the console's clock: fixed, moved forward by the test (Puppet disabled hours ago)."""

    def __init__(self) -> None:
        self.now = SIM_NOW

    def __call__(self):
        return self.now


def engine_for(config, clock) -> ActionEngine:
    engine = ActionEngine(config, Session(ALICE), clock=clock)
    engine.session.enable_write(engine.audit, via="test")
    return engine


def run(engine: ActionEngine, action, reason: str):
    plan = engine.plan(action, reason, "T123")

    async def go():
        try:
            return await engine.run(plan, Confirmation(engine.challenge(plan).expected))
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    assert result.outcome == "success", result.render()
    return result


def board_of(config, clock):
    store = asyncio.run(collect(config, clock))
    engine = engine_for(config, clock)
    return asyncio.run(gather(config, store, engine.session, clock=clock)), store


def leave_everything_behind(farm, config, clock) -> None:
    store = asyncio.run(collect(config, clock))
    run(engine_for(config, clock), PuppetDisable(("mw153",), HostDirectory.from_store(store, config)),
        "php upgrade in progress")
    clock.now += timedelta(hours=5)  # the incident is long over; the agent is still off
    run(engine_for(config, clock), ScheduleDowntime((IcingaTarget("mw151", "HTTPS"),), timedelta(minutes=20)), "cert swap")
    run(engine_for(config, clock), Acknowledge((IcingaTarget("mw152", "PHP-FPM"),)), "looking into it")
    run(engine_for(config, clock), Depool(("mw161",)), "disk check")
    # a lock from another bastion, taken two hours ago and never released
    locks = FileLocks(config.actions.locks.dir, clock=clock)
    record = {"key": "host:db151", "user": "bob", "host": "bast999", "pid": 4242, "pid_start": None,
              "since": (clock() - timedelta(hours=2)).isoformat(), "reason": "restart mariadb - bob@bast999",
              "plan": "p-old", "title": "restart mariadb on db151", "token": "t"}
    (locks.where()[0] / locks.file_name("host:db151")).write_text(json.dumps(record))


def test_each_kind_appears_and_its_cleanup_clears_it(sim_farm_factory):
    clock = MovableClock()
    farm = sim_farm_factory("php-fpm-down", clock=clock)
    config = parse_config(farm.config_yaml(), "<sim>")
    before, _ = board_of(config, clock)
    assert not MADE & set(before.by_key()), before.rows

    leave_everything_behind(farm, config, clock)
    board, _ = board_of(config, clock)
    assert not board.problems, board.problems
    rows = board.by_key()
    assert MADE <= set(rows), sorted(rows)
    assert rows["downtime:mw151!HTTPS"].text.startswith("expires in 20m")
    assert "alice without expiry" in rows["ack:mw152!PHP-FPM"].text
    assert "php upgrade in progress - alice@bast161 - T123" in rows["puppet-disabled:mw153"].text
    assert rows["puppet-disabled:mw153"].since <= clock() - timedelta(hours=4)
    assert "cp161" in rows["depooled:mw161"].text
    assert "bob@bast999" in rows["lock:host:db151"].text and "restart mariadb on db151" in rows["lock:host:db151"].text

    for key in sorted(MADE):
        run(engine_for(config, clock), rows[key].cleanup, "leftover from the incident")

    after, _ = board_of(config, clock)
    assert not MADE & set(after.by_key()), [row.key for row in after.rows]
    assert not any(farm.model.backend_admin.values())
    assert farm.model.slot("mw151", "HTTPS").downtime is None and farm.model.slot("mw152", "PHP-FPM").ack is None


def test_a_failing_backend_is_a_line_and_the_others_still_show(sim_farm_factory):
    clock = MovableClock()
    farm = sim_farm_factory("php-fpm-down", clock=clock)
    config = parse_config(farm.config_yaml(), "<sim>")
    leave_everything_behind(farm, config, clock)
    farm.set_fault("icinga", "down")
    board, _ = board_of(config, clock)
    assert any(line.startswith("icinga (downtimes): ") for line in board.problems), board.problems
    assert any(line.startswith("icinga (acknowledgements): ") for line in board.problems)
    keys = set(board.by_key())
    assert {"puppet-disabled:mw153", "depooled:mw161", "lock:host:db151"} <= keys
    assert not any(key.startswith(("downtime:", "ack:")) for key in keys)
    secret = farm.secret_path("icinga").read_text().strip()
    assert not any(secret in line for line in board.problems)
