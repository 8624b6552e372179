"""console.actions.restart: the plan of a (rolling) restart and of depool/repool, and the runner's
rules — batches in order, the failure budget, cancel between batches, a broken host stays depooled.
Commands go to a small fake executor (varnishadm method, so every step is a command)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from console.actions import (
    CANCELLED,
    PARTIAL,
    SUCCESS,
    ActionEngine,
    AuditLog,
    CommandExecutor,
    CommandResult,
    Confirmation,
    Depool,
    Repool,
    RestartService,
    Risk,
    Session,
)  # fmt: skip
from console.actions.guard import InvalidAction, NotConfigured
from console.actions.plan import Operator
from console.actions.restart import HELD, left_depooled
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.core.model import PuppetInventory, PuppetNodeStatus

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
OPERATOR = Operator("alice", "bast161")
HOSTS = ("mw151", "mw152", "mw153", "mw161", "mw162")
CACHES = ("cp161", "cp171")


def make_config(tmp_path, *, budget: int = 1, downtime: int = 0, icinga: bool = False, method: str = "varnishadm"):
    icinga_source = ("sources: {icinga: [{name: icinga, url: 'https://icinga.example:5665', username: u, "
                     "password: {env: HOME}}]}\n") if icinga else ""
    return parse_config(
        "farm: {name: wikitide, domains: [fsslc.wtnet]}\n" + icinga_source +
        "actions:\n"
        f"  audit: {{path: '{tmp_path}/audit.jsonl'}}\n"
        "  executor: ssh\n"
        "  caches: [{name: cp161, url: 'http://127.0.0.1:1'}, {name: cp171, url: 'http://127.0.0.1:2'}]\n"
        f"  depool: {{method: {method}, varnishadm: [sudo, varnishadm]}}\n"
        f"  rolling: {{batch: 2, failure_budget: {budget}, downtime: {downtime}, settle: 0}}\n"
        "  services:\n"
        "    php-fpm:\n"
        "      hosts: 'mw*'\n"
        "      restart: 'sudo systemctl restart php8.4-fpm'\n"
        "      depool: true\n"
        "      check: {command: 'systemctl is-active php8.4-fpm', attempts: 2, interval: 0}\n"
        "    nginx: {hosts: 'mw*', restart: 'sudo systemctl restart nginx'}\n"
    )


def directory(*names: str) -> HostDirectory:
    found = HostDirectory(["fsslc.wtnet"])
    found.add_puppet("puppetdb", PuppetInventory(tuple(PuppetNodeStatus(f"{n}.fsslc.wtnet", "unchanged", NOW)
                                                       for n in names)))
    return found


FARM = directory(*HOSTS, *CACHES)


class FakeCommands(CommandExecutor):
    """Records every command; `broken` hosts fail their restart (or their check: `unhealthy`)."""

    def __init__(self, config, session, broken=(), unhealthy=()) -> None:
        super().__init__(config, session)
        self.broken, self.unhealthy = set(broken), set(unhealthy)
        self.log: list[tuple[str, str]] = []

    async def run(self, command, on_output=None) -> CommandResult:
        self.session.require_writable()
        self.log.append((command.host, command.line))
        await asyncio.sleep(0)
        failed = ("restart" in command.line and command.host in self.broken) or \
                 ("is-active" in command.line and command.host in self.unhealthy)
        if on_output is not None and "restart" in command.line:
            answer = on_output("restarting")
            if asyncio.iscoroutine(answer):
                await answer
        if failed:
            return CommandResult(command.host, "failed", 1, "", "Job failed", "exit status 1: Job failed", 0.01)
        return CommandResult(command.host, "ok", 0, "active\n", "", "exit status 0", 0.01)


def engine_for(config, **fake) -> tuple[ActionEngine, FakeCommands]:
    session = Session(OPERATOR)
    engine = ActionEngine(config, session, clock=lambda: NOW, audit=AuditLog(config.actions.audit.path))
    session.enable_write(None)
    commands = FakeCommands(config, session, **fake)
    engine._commands = commands  # the fake in place of SSH/Salt
    return engine, commands


def run(engine, plan, events=None):
    def listen(event):
        if events is not None:
            events.append(event)

    answer = engine.challenge(plan).expected
    return asyncio.run(engine.run(plan, Confirmation(answer), on_event=listen))


# --- plans ---------------------------------------------------------------------------------------


def test_rolling_plan_per_batch_and_host_in_the_farms_order(tmp_path):
    config = make_config(tmp_path, downtime=900, icinga=True)
    engine, _ = engine_for(config)
    plan = engine.plan(RestartService("php-fpm", ("mw151", "mw152", "mw153"), directory=FARM), reason="leak")
    assert plan.action == "restart" and plan.targets == ("mw151", "mw152", "mw153")
    assert [s.batch for s in plan.steps if s.kind == "restart"] == [0, 0, 1]
    kinds = [s.kind for s in plan.steps if s.target == "mw152"]
    assert kinds == ["schedule-downtime", "depool", "depool", "restart", "health-check", "repool", "repool",
                     "remove-downtime"]
    depools = [s for s in plan.steps if s.target == "mw152" and s.kind == "depool"]
    assert [s.subject for s in depools] == list(CACHES)  # from EVERY cache
    assert depools[0].command.line == "sudo varnishadm backend.set_health mw152 sick"
    assert depools[0].command.address == "cp161.fsslc.wtnet"
    repool = next(s for s in plan.steps if s.target == "mw152" and s.kind == "repool")
    assert repool.command.line.endswith("backend.set_health mw152 auto")
    assert [s.index for s in plan.steps] == list(range(len(plan.steps)))
    assert plan.risk is Risk.SEVERAL and "in 2 batches of 2" in plan.title
    assert "batch 1" in plan.render() and "[batch 2]" in plan.render()


def test_one_host_is_tier_2_and_the_whole_fleet_tier_3(tmp_path):
    engine, _ = engine_for(make_config(tmp_path))
    one = engine.plan(RestartService("php-fpm", ("mw152",), directory=FARM))
    assert one.risk is Risk.SEVERAL  # a restart is never a y/N
    fleet = engine.plan(RestartService("php-fpm", HOSTS, directory=FARM))
    assert fleet.risk is Risk.IRREVERSIBLE and engine.challenge(fleet).expected == "php-fpm"


def test_a_service_without_depool_restarts_without_touching_the_caches(tmp_path):
    engine, _ = engine_for(make_config(tmp_path))
    plan = engine.plan(RestartService("nginx", ("mw151",), directory=FARM))
    assert [s.kind for s in plan.steps] == ["restart"]


def test_refusals(tmp_path):
    engine, _ = engine_for(make_config(tmp_path))
    with pytest.raises(InvalidAction, match="allow-list"):
        engine.plan(RestartService("mysql", ("mw151",), directory=FARM))
    with pytest.raises(InvalidAction, match="hosts matching"):
        engine.plan(RestartService("php-fpm", ("cp161",), directory=FARM))
    with pytest.raises(NotConfigured, match="inventory"):
        engine.plan(RestartService("php-fpm", ("mw151",)))
    with pytest.raises(InvalidAction, match="short host name"):
        engine.plan(Depool(("mw151;reboot",)))
    with pytest.raises(InvalidAction, match="batch"):
        engine.plan(RestartService("php-fpm", ("mw151",), batch=0, directory=FARM))


def test_depool_and_repool_plans(tmp_path):
    engine, _ = engine_for(make_config(tmp_path, method="service"))
    depool = engine.plan(Depool(("mw152",)), reason="disk")
    assert depool.risk is Risk.REVERSIBLE
    assert [(s.request.method, s.request.url) for s in depool.steps] == [
        ("POST", "http://127.0.0.1:5001/backend/mw152/sick"), ("POST", "http://127.0.0.1:5001/backend/mw152/sick")]
    repool = engine.plan(Repool(("mw152", "mw153")), reason="disk")
    assert repool.risk is Risk.SEVERAL and {s.request.url.rsplit("/", 1)[1] for s in repool.steps} == {"auto"}


# --- runs ----------------------------------------------------------------------------------------


def test_a_rolling_restart_goes_batch_by_batch_depool_restart_check_repool(tmp_path):
    engine, commands = engine_for(make_config(tmp_path))
    events = []
    plan = engine.plan(RestartService("php-fpm", HOSTS[:4], directory=FARM), reason="leak")
    result = run(engine, plan, events)
    assert result.outcome == SUCCESS
    assert [e.message for e in events if e.kind == "batch"] == ["batch 1/2: mw151, mw152", "batch 2/2: mw153, mw161"]
    for host in HOSTS[:4]:
        mine = [line for who, line in commands.log if host in (who,) or line.split()[-2:-1] == [host]]
        order = [("sick" if line.endswith("sick") else "auto" if line.endswith("auto") else
                  "restart" if "restart" in line else "check") for line in mine]
        assert order == ["sick", "sick", "restart", "check", "auto", "auto"], host
    first_of_batch_2 = min(i for i, (who, line) in enumerate(commands.log) if "mw153" in (who, line.split()[-2]))
    last_of_batch_1 = max(i for i, (who, line) in enumerate(commands.log) if "mw152" in (who, line.split()[-2]))
    assert last_of_batch_1 < first_of_batch_2  # batches never overlap
    assert any(e.kind == "output" and e.message == "mw151: restarting" for e in events)
    started = [e for e in events if e.kind == "step-started"]
    assert len(started) == len(plan.steps)


def test_a_broken_host_stays_depooled_and_the_result_says_so(tmp_path):
    engine, commands = engine_for(make_config(tmp_path), broken={"mw152"})
    events = []
    result = run(engine, engine.plan(RestartService("php-fpm", ("mw151", "mw152"), directory=FARM), reason="x"), events)
    assert result.outcome == PARTIAL
    assert not any(line.endswith("mw152 auto") for _, line in commands.log)  # never repooled broken
    assert any(line.endswith("mw151 auto") for _, line in commands.log)
    held = [s for s in result.steps if s.status == HELD]
    assert {s.target for s in held} == {"mw152"} and "LEFT DEPOOLED" in held[0].detail
    assert left_depooled(result.steps) == ["mw152"]
    assert any(e.kind == "notice" and "LEFT DEPOOLED" in e.message for e in events)
    check = next(s for s in result.steps if s.target == "mw152" and s.kind == "health-check")
    assert check.status == "skipped"


def test_a_failed_health_check_also_keeps_the_host_out(tmp_path):
    engine, commands = engine_for(make_config(tmp_path), unhealthy={"mw151"})
    result = run(engine, engine.plan(RestartService("php-fpm", ("mw151",), directory=FARM), reason="x"))
    assert result.outcome == PARTIAL
    assert sum(1 for _, line in commands.log if "is-active" in line) == 2  # attempts: 2
    assert left_depooled(result.steps) == ["mw151"]


def test_the_failure_budget_stops_the_run_and_skips_the_rest(tmp_path):
    engine, commands = engine_for(make_config(tmp_path, budget=1), broken={"mw151", "mw152"})
    plan = engine.plan(RestartService("php-fpm", HOSTS[:4], directory=FARM), reason="x")
    result = run(engine, plan)
    assert result.outcome == PARTIAL  # the depools of the broken hosts did work
    later = [s for s in result.steps if s.target in ("mw153", "mw161")]
    assert later and all(s.status == "skipped" and "failure budget" in s.detail for s in later)
    assert not any("mw153" in line for _, line in commands.log)


def test_within_the_budget_the_run_goes_on(tmp_path):
    engine, commands = engine_for(make_config(tmp_path, budget=1), broken={"mw151"})
    result = run(engine, engine.plan(RestartService("php-fpm", HOSTS[:4], directory=FARM), reason="x"))
    assert result.outcome == PARTIAL
    assert any(line.endswith("mw161 auto") for _, line in commands.log)


def test_cancel_between_batches_finishes_the_batch_in_hand_and_skips_the_rest(tmp_path):
    engine, commands = engine_for(make_config(tmp_path))
    plan = engine.plan(RestartService("php-fpm", HOSTS[:4], directory=FARM), reason="x")

    def cancel_on_first_batch(event):
        if event.kind == "batch":
            assert engine.cancel(event.plan_id)

    result = asyncio.run(engine.run(plan, Confirmation("go"), on_event=cancel_on_first_batch))
    assert result.outcome == CANCELLED
    for host in ("mw151", "mw152"):  # in hand: finished and repooled
        assert any(line.endswith(f"{host} auto") for _, line in commands.log)
    assert not any("mw153" in line or who == "mw153" for who, line in commands.log)
    skipped = [s for s in result.steps if s.target in ("mw153", "mw161")]
    assert skipped and all(s.status == "skipped" and "cancelled" in s.detail for s in skipped)


def test_depool_action_sets_sick_on_every_cache(tmp_path):
    engine, commands = engine_for(make_config(tmp_path))
    result = run(engine, engine.plan(Depool(("mw152",)), reason="disk"))
    assert result.outcome == SUCCESS
    assert sorted(commands.log) == [("cp161", "sudo varnishadm backend.set_health mw152 sick"),
                                    ("cp171", "sudo varnishadm backend.set_health mw152 sick")]


def test_sal_start_and_end_lines(tmp_path):
    class Relay:
        def __init__(self):
            self.lines = []

        async def send(self, line):
            self.lines.append(line)

    config = make_config(tmp_path)
    session = Session(OPERATOR)
    relay = Relay()
    engine = ActionEngine(config, session, clock=lambda: NOW, audit=AuditLog(config.actions.audit.path), sal=relay)
    session.enable_write(None)
    engine._commands = FakeCommands(config, session)
    run(engine, engine.plan(RestartService("php-fpm", HOSTS[:3], directory=FARM), reason="leak", task="T42"))
    assert len(relay.lines) == 2
    assert relay.lines[0].startswith("!log [alice@bast161] START - rolling restart of php-fpm on 3 hosts")
    assert relay.lines[0].endswith("leak - T42")
    assert relay.lines[1].startswith("!log [alice@bast161] END (PASS) - rolling restart of php-fpm")


def test_downtime_is_optional_and_timedelta_zero_means_none(tmp_path):
    engine, _ = engine_for(make_config(tmp_path, downtime=900, icinga=True))
    plan = engine.plan(RestartService("php-fpm", ("mw151",), downtime=timedelta(0), directory=FARM))
    assert "schedule-downtime" not in [s.kind for s in plan.steps]
    plan = engine.plan(RestartService("php-fpm", ("mw151",), directory=FARM), reason="x")
    body = plan.steps[0].request.body
    assert plan.steps[0].kind == "schedule-downtime" and body["end_time"] - body["start_time"] == 900
    assert body["all_services"] is True and body["filter_vars"] == {"opsconsole_host": "mw151"}
