"""Puppet on hosts: run the agent, disable it with a reason, enable it — through the farm's command
executor (SSH or Salt), with the command lines of `actions.puppet` (console/actions/commands.py).

    directory = HostDirectory.from_store(store, config)
    plan = engine.plan(PuppetRun(("mw151", "mw152"), directory), reason="deploy check")

The agent's output is streamed as `output` events (`mw151: Notice: ...`). `puppet agent -t` implies
--detailed-exitcodes: 0 no changes and 2 changes are good; 4 failures and 6 changes+failures are not;
1 is a run that did not happen (disabled, already running). No Textual here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from console.actions.catalog import PlanContext, new_plan
from console.actions.engine import RunContext, StepResult
from console.actions.executors import FAILED, OK
from console.actions.guard import InvalidAction, NotConfigured
from console.actions.plan import Plan, Risk, Step
from console.actions.remote import CommandResult
from console.actions.specs import MakeContext, Offer, Selection, Use, words

if TYPE_CHECKING:
    from console.core.hosts import HostDirectory

MAX_HOSTS = 200
CONCURRENCY = 5  # agents run at once; more would load the puppetserver like a thundering herd
# puppet agent --detailed-exitcodes
RUN_EXIT_CODES = {
    0: (OK, "no changes"),
    1: (FAILED, "the run did not happen (agent disabled, another run in progress, or an error before the run)"),
    2: (OK, "changes applied"),
    4: (FAILED, "failures in the run"),
    6: (FAILED, "changes applied, with failures"),
}
VERBS = {"run": ("run Puppet on", "ran Puppet on"), "disable": ("disable Puppet on", "disabled Puppet on"),
         "enable": ("enable Puppet on", "enabled Puppet on")}
NOTES = {
    "run": "puppet agent -t: applies the catalog now (exit 0 no changes and 2 changes are good; 4 and 6 are failures)",
    "disable": "the agent stops applying catalogs until enabled; the reason is the disable message every run prints",
    "enable": "the next scheduled run (within 30 minutes) applies the catalog again",
}


@dataclass(frozen=True)
class _PuppetAction:
    hosts: tuple[str, ...]
    directory: HostDirectory | None = field(default=None, compare=False, repr=False)  # from the store: names -> addresses


@dataclass(frozen=True)
class PuppetRun(_PuppetAction):
    """`puppet agent -tv` on each host (actions.puppet.run)."""

    spec: ClassVar[str] = "puppet-run"


@dataclass(frozen=True)
class PuppetDisable(_PuppetAction):
    """`puppet agent --disable "<reason>"`: the plan's reason (with who and the task) is the message."""

    spec: ClassVar[str] = "puppet-disable"


@dataclass(frozen=True)
class PuppetEnable(_PuppetAction):
    """`puppet agent --enable`."""

    spec: ClassVar[str] = "puppet-enable"


WHICH: dict[type, str] = {PuppetRun: "run", PuppetDisable: "disable", PuppetEnable: "enable"}


def run_status(result: CommandResult) -> tuple[str, str]:
    """(status, detail) of a `puppet agent -t` run from its exit code; other failures (down, timeout,
    refused, no return) keep the executor's own status and detail."""
    if result.exit_status is not None and result.status in (OK, FAILED):
        status, meaning = RUN_EXIT_CODES.get(result.exit_status, (FAILED, "unexpected exit status"))
        return status, f"exit {result.exit_status}: {meaning}"
    return result.status, result.detail


def make_run(values: Mapping[str, Any], context: MakeContext) -> PuppetRun:
    return PuppetRun(words(values.get("hosts")), context.directory())


def make_disable(values: Mapping[str, Any], context: MakeContext) -> PuppetDisable:
    return PuppetDisable(words(values.get("hosts")), context.directory())


def make_enable(values: Mapping[str, Any], context: MakeContext) -> PuppetEnable:
    return PuppetEnable(words(values.get("hosts")), context.directory())


def offer_puppet(spec: Any, use: Use, selection: Selection) -> list[Offer]:
    """Puppet on the Hosts rows, when there is a command executor (actions.executor)."""
    if not selection.config.actions.executor or not selection.hosts:
        return []
    return [Offer(use.id, spec.label, spec, {"hosts": selection.hosts})]


def plan_puppet(action: _PuppetAction, context: PlanContext) -> Plan:
    from console.actions.commands import puppet_command

    which = WHICH[type(action)]
    hosts = list(dict.fromkeys(h.strip() for h in action.hosts if h and h.strip()))
    if not hosts:
        raise InvalidAction("refused: give at least one host")
    if len(hosts) > MAX_HOSTS:
        raise InvalidAction(f"refused: at most {MAX_HOSTS} hosts at once (got {len(hosts)})")
    if action.directory is None:
        raise NotConfigured("refused: no host inventory to resolve the hosts (the sources have not answered yet)")
    # the preview (no reason yet) shows where the message goes; running always has the real one
    reason = str(context.reason) if context.reason is not None else "<reason>"
    steps: list[Step] = []
    for host in hosts:
        command = puppet_command(context.config, which, host, action.directory,
                                 reason=reason if which == "disable" else None)
        steps.append(Step(index=len(steps), kind=f"puppet-{which}", executor=f"command:{context.config.actions.executor}",
                          target=command.host, subject=command.line, command=command))
    targets = tuple(step.target for step in steps)
    what = targets[0] if len(targets) == 1 else f"{len(targets)} hosts ({', '.join(targets[:5])}{' ...' if len(targets) > 5 else ''})"
    verb, past = VERBS[which]
    return new_plan(
        context, action=f"puppet-{which}", title=f"{verb} {what}", targets=targets,
        risk=Risk.REVERSIBLE if len(targets) == 1 else Risk.SEVERAL, steps=tuple(steps),
        key=f"puppet:{which}:" + "\n".join(sorted(targets)), log_summary=f"{past} {what}", notes=(NOTES[which],),
    )  # fmt: skip


async def run_agent(run: RunContext) -> list[StepResult]:
    """puppet agent -tv on each host: its exit code says how the run went (RUN_EXIT_CODES)."""
    return await _run_puppet(run, run_status)


async def run_switch(run: RunContext) -> list[StepResult]:
    """puppet agent --disable/--enable on each host: the command's own status."""
    return await _run_puppet(run, lambda result: (result.status, result.detail))


async def _run_puppet(run: RunContext, status_of: Callable[[CommandResult], tuple[str, str]]) -> list[StepResult]:
    """Each host's command through the executor, a few at a time; a cancel starts no new host."""
    executor = run.commands()
    gate = asyncio.Semaphore(CONCURRENCY)
    results: dict[int, StepResult] = {}

    async def one(step: Step) -> None:
        async with gate:
            if run.cancelled.is_set():
                run.stopped_by_cancel = True
                results[step.index] = run.result(step, "skipped", "not started: cancelled by the operator")
                return
            await run.emit("step-started", f"{step.target}: {step.subject}", step=step)

            async def output(line: str) -> None:
                await run.emit("output", f"{step.target}: {line}", step=step)

            result = await executor.run(step.host_command, on_output=output)
            status, detail = status_of(result)
            await run.emit("step-finished", f"{step.target}: {status} {detail}", step=step, status=status)
            results[step.index] = run.result(step, status, detail)

    await asyncio.gather(*(one(step) for step in run.plan.steps))
    return [results[step.index] for step in run.plan.steps]

