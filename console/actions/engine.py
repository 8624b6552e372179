"""The action engine: action → Plan → guard → audit intent → execute step by step (progress events)
→ audit result, server admin log, GELF. The CLI and the TUI go through the same engine.

    engine = ActionEngine(config, Session(current_operator()))
    plan = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page",)), reason="vandalism", task="T123")
    print(plan.render())                                  # a dry run is just this: nothing is sent
    engine.session.enable_write(engine.audit)             # the explicit, logged switch (--write)
    result = await engine.run(plan, Confirmation("y"), on_event=print)
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator, Awaitable, Callable

from console.actions.audit import AuditError, AuditLog, GelfSender, SalRelay, sal_line
from console.actions.catalog import Action, PlanContext, build_plan, icinga_source
from console.actions.executors import (
    DOWN,
    FAILED,
    GOOD,
    OK,
    REFUSED,
    SKIPPED,
    UNVERIFIED,
    CacheCheck,
    CacheExecutor,
    Executor,
    IcingaExecutor,
    Sent,
)  # fmt: skip
from console.actions.guard import (
    AlreadyRunning,
    Challenge,
    Confirmation,
    InvalidAction,
    MissingReason,
    ReadOnlySession,
    Refused,
    Session,
    challenge_for,
    check,
)  # fmt: skip
from console.actions.locks import locks_for
from console.actions.plan import Plan, Reason, Step
from console.actions.remote import CommandExecutor, command_executor
from console.actions.specs import spec_named
from console.core.clock import Clock, utc_now
from console.core.config import AppConfig, secret_values
from console.core.display import safe
from console.sources.httpclient import redact

SUCCESS, PARTIAL, FAILURE, INTERRUPTED, CANCELLED = "success", "partial", "failed", "interrupted", "cancelled"


@dataclass(frozen=True)
class StepResult:
    """What happened to one step: ok | skipped | refused | down | failed | unverified."""

    index: int
    kind: str
    target: str
    subject: str
    status: str
    detail: str
    http_status: int | None = None
    verify: CacheCheck | None = None

    @property
    def good(self) -> bool:
        return self.status in GOOD

    def to_dict(self) -> dict[str, Any]:
        data = {"step": self.index, "kind": self.kind, "target": self.target, "subject": self.subject,
                "status": self.status, "detail": self.detail, "http_status": self.http_status}
        if self.verify is not None:
            data["verify"] = self.verify.to_dict()
        return data


@dataclass(frozen=True)
class ActionResult:
    """The outcome of a run: success (every step ok or skipped), partial, failed or interrupted."""

    plan: Plan
    outcome: str
    steps: tuple[StepResult, ...]
    started_at: datetime
    duration_s: float
    notices: tuple[str, ...] = ()

    @property
    def verified(self) -> int:
        return sum(1 for s in self.steps if s.verify is not None and s.status == OK and s.verify.hit is False)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.id, "action": self.plan.action, "title": self.plan.title, "outcome": self.outcome,
                "targets": list(self.plan.targets), "started_at": self.started_at.isoformat(),
                "duration_s": round(self.duration_s, 3), "steps": [s.to_dict() for s in self.steps],
                "notices": list(self.notices)}

    def render(self) -> str:
        """One line per step: target, status, detail, and the verify GET for purges. Display-safe
        (console.core.display): targets and URLs as identifiers, details and notices (a backend's or a
        command's words) as prose, each on its own line."""
        lines = [f"{safe(self.plan.title)}: {self.outcome.upper()} in {self.duration_s:.1f}s"]
        targets = [safe(s.target, identifier=True) for s in self.steps]
        width = max((len(target) for target in targets), default=0)
        for step, target in zip(self.steps, targets, strict=True):
            check = f"  verify: {safe(step.verify.label)}" if step.verify is not None else ""
            subject = f" {safe(step.subject, identifier=True)}" if step.subject != step.target and \
                spec_named(self.plan.action).report == "caches" and len(self.plan.targets) > 1 else ""
            lines.append(f"  {target:<{width}}  {safe(step.status):<10} {safe(step.detail)}{check}{subject}")
        lines += [f"  note: {safe(notice)}" for notice in self.notices]
        return "\n".join(lines)


@dataclass(frozen=True)
class ActionEvent:
    """Progress of a run, for a screen: started, step-started, step-finished, verified, notice, finished."""

    kind: str
    plan_id: str
    message: str
    step: int | None = None
    target: str | None = None
    status: str | None = None
    result: ActionResult | None = None


EventCallback = Callable[[ActionEvent], Any]
Emit = Callable[..., Awaitable[None]]  # emit(kind, message, step=None, status=None)


@dataclass
class RunContext:
    """What a registered runner (console.actions.registry) gets: the plan, the engine's executors,
    a way to report progress, and the operator's cancel request.

    Event kinds a runner may emit besides step-started/step-finished: `output` (one line a command
    printed), `batch` (a batch of a rolling action starts), `notice`. A runner checks `cancelled`
    only where stopping is safe (between batches) and then sets `stopped_by_cancel`."""

    engine: ActionEngine
    plan: Plan
    emit: Emit
    cancelled: asyncio.Event
    stopped_by_cancel: bool = False

    @property
    def config(self) -> AppConfig:
        return self.engine.config

    def commands(self) -> CommandExecutor:
        """The farm's command executor (SSH or Salt), shared by every run of this engine."""
        return self.engine.command_executor()

    def http(self, name: str, make: Callable[[], Executor]) -> Executor:
        """An HTTP executor by name, made once per engine (`make` builds it the first time)."""
        executor = self.engine._executors.get(name)
        if executor is None:
            executor = self.engine._executors[name] = make()
        return executor

    def result(self, step: Step, status: str, detail: str, http_status: int | None = None) -> StepResult:
        return StepResult(step.index, step.kind, step.target, step.subject, status, detail, http_status)


def outcome_of(steps: list[StepResult]) -> str:
    """success: every step ok/skipped; failed: none ok; partial: some of each."""
    if all(s.good for s in steps):
        return SUCCESS
    if any(s.status == OK for s in steps):
        return PARTIAL
    return FAILURE


def sal_message(result: ActionResult) -> str:
    """The SAL line's text after `[user@host]`: what was done, how it went, the reason, the task."""
    plan = result.plan
    steps = result.steps
    spec = spec_named(plan.action)
    if spec.report == "caches":
        caches = list(dict.fromkeys(s.target for s in steps))
        ok = [c for c in caches if all(s.status == OK for s in steps if s.target == c)]
        where = f"from {len(caches)} caches" if len(ok) == len(caches) else f"from {len(ok)} of {len(caches)} caches"
        problems = [f"{c} {next(s.status for s in steps if s.target == c and s.status != OK)}" for c in caches if c not in ok]
        inside = [f"{result.verified} verified"] if any(step.verify is not None for step in plan.steps) else []
        inside += problems
        text = f"{plan.log_summary} {where}" + (f" ({'; '.join(inside)})" if inside else "")
    else:
        text = plan.log_summary
        if result.outcome != SUCCESS:
            bad = dict.fromkeys(f"{s.target} {s.status}" for s in steps if not s.good)  # once per host and status
            text += f" ({'; '.join(bad)})"
    if result.outcome not in (SUCCESS,):
        text += f" - {result.outcome.upper()}"
    if plan.reason is not None:
        text += f" - {plan.reason.for_log()}"
    if spec.sal_start_end:  # the runner sent `START - ...`; this closes it, spicerack-style
        text = f"END ({'PASS' if result.outcome == SUCCESS else 'FAIL'}) - {text}"
    return text


class ActionEngine:
    """Plans, guards, audits and runs actions. One engine per session; reuse it for every action."""

    def __init__(self, config: AppConfig, session: Session, *, clock: Clock = utc_now,
                 audit: AuditLog | None = None, sal: SalRelay | None = None, gelf: GelfSender | None = None) -> None:
        self.config = config
        self.session = session
        self.clock = clock
        secrets = self._secrets = secret_values(config)
        self.audit = audit or AuditLog(config.actions.audit.path, secrets, clock)
        settings = config.actions
        self.sal = sal if sal is not None else (SalRelay(settings.sal.udp, secrets) if settings.sal else None)
        self.gelf = gelf if gelf is not None else (
            GelfSender(settings.gelf.url, settings.gelf.verify, settings.gelf.timeout, secrets) if settings.gelf else None
        )
        self._executors: dict[str, Executor] = {}
        self._commands: CommandExecutor | None = None
        self._running: dict[str, Plan] = {}
        self._cancel: dict[str, asyncio.Event] = {}  # plan id -> set when the operator asks to stop
        self._background: set[asyncio.Future[ActionResult]] = set()  # runs started by stream()
        self.locks = locks_for(config, clock)  # per-target locks shared with every operator (console/actions/locks.py)

    # --- planning ------------------------------------------------------------------------------

    def plan(self, action: Action, reason: str | Reason | None = None, task: str | None = None) -> Plan:
        """The plan of `action` (no network). A reason may be left out for a dry run; running needs one.
        Raise InvalidAction (bad arguments, bad reason) or NotConfigured (missing caches/icinga)."""
        if isinstance(reason, Reason) or reason is None:
            made = reason
        else:
            try:  # a secret pasted into a reason would reach Icinga comments and the logs: scrub it first
                made = Reason.make(redact(reason, self._secrets), self.session.operator, task)
            except ValueError as exc:
                error = MissingReason if not reason.strip() else InvalidAction
                raise error(f"refused: {exc}") from None
        context = PlanContext(self.config, self.session.operator, made, self.clock())
        return build_plan(action, context)

    def challenge(self, plan: Plan) -> Challenge:
        """What the operator must answer to run `plan` (y/N, `go`, or the target's name)."""
        return challenge_for(plan)

    def is_running(self, plan: Plan) -> bool:
        """True while an action with the same key (same action on the same targets) runs."""
        return plan.key in self._running

    def running(self) -> list[Plan]:
        return list(self._running.values())

    def cancel(self, plan_id: str) -> bool:
        """Ask a running action to stop where it safely can (a rolling restart: between batches).
        False when no such action runs. The request is recorded by the runner's result."""
        event = self._cancel.get(plan_id)
        if event is None:
            return False
        event.set()
        return True

    def command_executor(self) -> CommandExecutor:
        """The SSH or Salt executor (`actions.executor`); NotConfigured when there is none."""
        if self._commands is None:
            self._commands = command_executor(self.config, self.session)
        return self._commands

    def dry_run(self, plan: Plan) -> Plan:
        """Run nothing; record the dry run in the audit log when it can (best effort) and return the plan."""
        try:
            self.audit.append({**self._who(plan), "event": "dry-run", "dry_run": True,
                               "steps": [s.to_dict() for s in plan.steps]})
        except AuditError:
            pass  # a dry run sends nothing; not being able to record it stops nothing
        return plan

    # --- running -------------------------------------------------------------------------------

    async def run(self, plan: Plan, confirmation: Confirmation | None, on_event: EventCallback | None = None) -> ActionResult:
        """Guard, record the intent (fsynced before the first request), execute, record the result.

        Raise Refused (read-only, no reason, not confirmed, already running, audit unwritable) before
        anything is sent. Failures of the targets themselves are in the result, never raised."""
        if plan.key in self._running:
            raise AlreadyRunning(f"refused: {plan.title} is already running (plan {self._running[plan.key].id[:8]})")
        check(plan, self.session, confirmation)
        self._running[plan.key] = plan
        try:
            emit = _emitter(plan, on_event)
            intent = {**self._who(plan), "event": "intent", "dry_run": False, "tier": int(plan.risk),
                      "confirmed_via": confirmation.via if confirmation else None,
                      "steps": [s.to_dict() for s in plan.steps]}
            # the targets' shared locks, for the whole run: a held one refuses before the intent is recorded;
            # the intent is on disk (fsynced) before anything is sent, and a refusal there releases the locks
            async with self.locks.hold(plan, lambda text: emit("notice", text)) as held:
                await asyncio.to_thread(self._record_intent, intent)
                result = await self._run(plan, on_event)
            extra = tuple(n for n in held.notices if n not in result.notices)
            return dataclasses.replace(result, notices=result.notices + extra) if extra else result
        finally:
            self._running.pop(plan.key, None)

    async def stream(self, plan: Plan, confirmation: Confirmation | None) -> AsyncIterator[ActionEvent]:
        """The same run as an async iterator of events; the last one is `finished` with the result.
        A refusal is raised from the first `__anext__`, before anything was sent. A consumer that
        stops listening (a closed screen) does not stop the action: it finishes and is recorded."""
        queue: asyncio.Queue[ActionEvent | BaseException] = asyncio.Queue()
        task = asyncio.ensure_future(self.run(plan, confirmation, queue.put_nowait))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: _forward_failure(t, queue))
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.kind == "finished":
                return

    def _record_intent(self, intent: dict[str, Any]) -> None:
        """Blocking (a worker thread): the intent on disk, fsynced, or Refused: nothing may be sent."""
        try:
            self.audit.append(intent)
        except AuditError as exc:
            raise Refused(f"refused: {exc}; nothing was sent") from None

    async def _run(self, plan: Plan, on_event: EventCallback | None) -> ActionResult:
        """The run itself, its intent already on record and its locks held."""
        emit = _emitter(plan, on_event)
        started_at, started = self.clock(), time.monotonic()
        await emit("started", f"{plan.title}: started", status="running")
        results: list[StepResult] = []
        outcome = INTERRUPTED
        cancelled = self._cancel[plan.id] = asyncio.Event()
        try:
            context = RunContext(self, plan, emit, cancelled)
            results = await spec_named(plan.action).run_plan(context)
            outcome = CANCELLED if context.stopped_by_cancel else outcome_of(results)
        finally:
            self._cancel.pop(plan.id, None)
            result = ActionResult(plan, outcome, tuple(results), started_at, time.monotonic() - started)
            if outcome == INTERRUPTED:
                self._record_result(result)  # cancelled: still on record, nothing more
        notices = await self._announce(result)
        result = ActionResult(plan, outcome, tuple(results), started_at, result.duration_s, tuple(notices))
        self._record_result(result)
        await emit("finished", f"{plan.title}: {outcome}", status=outcome, result=result)
        return result

    async def run_caches(self, plan: Plan, emit: Any) -> list[StepResult]:
        """Every PURGE/BAN at once; then, for purges, a GET through each cache that answered."""

        async def send(step: Step) -> Sent:
            await emit("step-started", f"{step.kind} {step.subject} on {step.target}", step=step)
            sent = await self._cache(step).execute(step)
            await emit("step-finished", f"{step.target}: {sent.status} {sent.detail}", step=step, status=sent.status)
            return sent

        sent = await asyncio.gather(*(send(step) for step in plan.steps))

        async def verify(step: Step, answer: Sent) -> StepResult:
            check = None
            status = answer.status
            if step.verify is not None and answer.status != DOWN:
                check = await self._cache(step).verify(step)
                if status == OK and check.hit is not False:
                    status = UNVERIFIED  # the cache said 200 to the PURGE, yet still serves a hit (or cannot say)
                await emit("verified", f"{step.target}: {check.label}", step=step, status=status)
            return StepResult(step.index, step.kind, step.target, step.subject, status, answer.detail,
                              answer.http_status, check)

        return list(await asyncio.gather(*(verify(step, answer) for step, answer in zip(plan.steps, sent, strict=False))))

    async def run_icinga_step(self, step: Step, emit: Any) -> StepResult:
        executor = self._icinga()
        await emit("step-started", f"{step.kind} {step.target}", step=step)
        answer = await executor.precheck(step)
        if answer is None:
            answer = await executor.execute(step)
        await emit("step-finished", f"{step.target}: {answer.status} {answer.detail}", step=step, status=answer.status)
        return StepResult(step.index, step.kind, step.target, step.subject, answer.status, answer.detail, answer.http_status)

    # --- records -------------------------------------------------------------------------------

    def _who(self, plan: Plan) -> dict[str, Any]:
        return {"id": plan.id, "user": plan.operator.user, "host": plan.operator.host, "action": plan.action,
                "title": plan.title, "targets": list(plan.targets), "tier": int(plan.risk),
                "reason": str(plan.reason) if plan.reason else None,
                "task": plan.reason.task if plan.reason else None}

    def _record_result(self, result: ActionResult) -> None:
        try:
            self.audit.append({**self._who(result.plan), "event": "result", "dry_run": False, "outcome": result.outcome,
                               "duration_s": round(result.duration_s, 3), "results": [s.to_dict() for s in result.steps],
                               "notices": list(result.notices)})
        except AuditError:
            pass  # the intent is on record; the requests were sent; there is nothing left to stop

    async def _announce(self, result: ActionResult) -> list[str]:
        """SAL line and GELF message; a failure is a notice in the result, never an exception."""
        notices = []
        message = sal_message(result)
        if self.sal is not None:
            try:
                await self.sal.send(sal_line(str(result.plan.operator), message))
            except OSError as exc:
                notices.append(f"server admin log not written: {exc}")
        if self.gelf is not None:
            plan = result.plan
            fields = {"opsconsole_action": plan.action, "opsconsole_plan": plan.id, "outcome": result.outcome,
                      "user": safe(plan.operator.user), "operator_host": safe(plan.operator.host),
                      "targets": ", ".join(safe(target, identifier=True) for target in plan.targets),
                      "reason": safe(plan.reason.text) if plan.reason else None, "task": plan.reason.task if plan.reason else None,
                      "tier": int(plan.risk), "dry_run": "false", "duration_s": round(result.duration_s, 3)}
            try:
                await self.gelf.send(sal_line(str(plan.operator), message), plan.operator.host, fields, self.clock())
            except Exception as exc:  # noqa: BLE001 - a log sink failing never fails the action
                notices.append(f"GELF message not sent: {type(exc).__name__}: {exc}"[:200])
        return notices

    # --- executors -----------------------------------------------------------------------------

    def _cache(self, step: Step) -> CacheExecutor:
        executor = self._executors.get(step.executor)
        if executor is None:
            cache = next(c for c in self.config.actions.caches if f"cache:{c.name}" == step.executor)
            executor = self._executors[step.executor] = CacheExecutor(cache, self.session)
        assert isinstance(executor, CacheExecutor)
        return executor

    def _icinga(self) -> IcingaExecutor:
        source = icinga_source(self.config)
        name = f"icinga:{source.name}"
        executor = self._executors.get(name)
        if executor is None:
            executor = self._executors[name] = IcingaExecutor(source, self.session, self.config.actions.timeout)
        assert isinstance(executor, IcingaExecutor)
        return executor

    async def aclose(self) -> None:
        """Wait for the actions still running (they are never cut short), then close every connection."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            await executor.aclose()
        if self._commands is not None:
            commands, self._commands = self._commands, None
            await commands.aclose()


async def run_caches(run: RunContext) -> list[StepResult]:
    """The runner of purge and ban (console.actions.specs): every cache at once."""
    return await run.engine.run_caches(run.plan, run.emit)


async def run_icinga(run: RunContext) -> list[StepResult]:
    """The runner of the Icinga actions: each step in order, its state re-read first."""
    return [await run.engine.run_icinga_step(step, run.emit) for step in run.plan.steps]


def _forward_failure(task: asyncio.Future[Any], queue: asyncio.Queue[ActionEvent | BaseException]) -> None:
    """A run that raised hands its exception to the stream's reader."""
    if not task.cancelled() and (failure := task.exception()) is not None:
        queue.put_nowait(failure)


def _emitter(plan: Plan, on_event: EventCallback | None) -> Callable[..., Awaitable[None]]:
    async def emit(kind: str, message: str, step: Step | None = None, status: str | None = None,
                   result: ActionResult | None = None) -> None:
        if on_event is None:
            return
        event = ActionEvent(kind, plan.id, message, step.index if step else None, step.target if step else None,
                            status, result)
        answer = on_event(event)
        if asyncio.iscoroutine(answer):
            await answer

    return emit


__all__ = [
    "ActionEngine", "ActionEvent", "ActionResult", "CANCELLED", "FAILED", "RunContext", "FAILURE", "INTERRUPTED", "OK", "PARTIAL", "REFUSED",
    "ReadOnlySession", "SKIPPED", "SUCCESS", "StepResult", "UNVERIFIED", "outcome_of", "sal_message",
]
