"""The app's side of the action engine: one engine per session (built on first use), the write
switch, the session's task list, and what an ended action changed. It tells the app what happened by
messages (ActionFinished), never by calling into it; the app refreshes, toasts and updates the incident.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from textual.message import Message

from console.actions import (
    CANCELLED,
    FAILURE,
    INTERRUPTED,
    PARTIAL,
    SUCCESS,
    ActionEngine,
    ActionEvent,
    ActionResult,
    AuditError,
    Confirmation,
    Refused,
    Session,
    current_operator,
)  # fmt: skip
from console.actions.plan import Operator, Plan, Step

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from console.ui.app import OpsConsoleApp


class ActionFinished(Message):
    """An action of this session ended: its result, or the error that ended it (a bug, said)."""

    def __init__(self, plan: Plan, result: ActionResult | None, error: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.result = result
        self.error = error


RUNNING = "running"
OUTCOME_STYLE = {RUNNING: "bold cyan", SUCCESS: "bold green", PARTIAL: "bold yellow", FAILURE: "bold red",
                 INTERRUPTED: "bold red", CANCELLED: "bold yellow", "refused": "bold red"}
TOAST_SEVERITY: dict[str, SeverityLevel] = {SUCCESS: "information", PARTIAL: "warning", FAILURE: "error",
                                             INTERRUPTED: "error", CANCELLED: "warning"}


# --- the task list (t) -------------------------------------------------------------------------------


@dataclass
class Task:
    """One action this session: what, who, the outcome (running until it ends) and how long it took."""

    plan: Plan
    started: float = field(default_factory=time.monotonic)
    outcome: str = RUNNING
    duration_s: float | None = None
    result: ActionResult | None = None
    steps_done: int = 0
    batch: str = ""  # the message of the latest `batch` event ("batch 2/5: mw153, mw154")
    cancel_requested: bool = False

    @property
    def running(self) -> bool:
        return self.outcome == RUNNING

    @property
    def progress(self) -> str:
        """`batch 2/5 · 3/10 steps` while it runs; the steps done when it has ended."""
        parts = [self.batch.split(":", 1)[0]] if self.batch and self.running else []
        parts.append(f"{self.steps_done}/{len(self.plan.steps)} steps")
        if self.cancel_requested and self.running:
            parts.append("cancelling")
        return " · ".join(parts)

    def elapsed(self) -> float:
        return self.duration_s if self.duration_s is not None else time.monotonic() - self.started


class TaskList:
    """Every action started in this session, newest last."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []

    def started(self, plan: Plan) -> Task:
        task = Task(plan)
        self.tasks.append(task)
        return task

    def event(self, task: Task, event: ActionEvent) -> None:
        """Follow a running action: its batch and how many steps have ended."""
        if event.kind == "batch":
            task.batch = event.message
        elif event.kind == "step-finished":
            task.steps_done += 1

    def finished(self, task: Task, result: ActionResult) -> None:
        task.outcome, task.duration_s, task.result = result.outcome, result.duration_s, result

    def failed(self, task: Task, outcome: str) -> None:
        task.outcome, task.duration_s = outcome, time.monotonic() - task.started

    def running(self) -> list[Task]:
        return [t for t in self.tasks if t.running]


def toast_text(result: ActionResult) -> str:
    return f"{result.plan.title}: {result.outcome.upper()} in {result.duration_s:.1f}s"



# --- what an ended action changed -------------------------------------------------------------------

# What an action changed, by the source that shows it, refreshed when it ends (changed_sources): a step
# sent through an Icinga or a Proxmox source names it (`icinga:<name>`, `proxmox:<name>`); a depool or
# repool step changes the caches' backend lists (sources of kind `backends`); a Puppet step what PuppetDB
# says of the agent (its report, its disabled fact).
SOURCE_EXECUTORS = ("icinga", "proxmox")
STEP_CHANGES = {"depool": "backends", "repool": "backends",
                "puppet-run": "puppetdb", "puppet-disable": "puppetdb", "puppet-enable": "puppetdb"}


def changed_sources(steps: Iterable[Step], sources: Mapping[str, str]) -> list[str]:
    """The polled sources (`sources`: name -> kind) that show what `steps` change: the source a step was
    sent through, or every source of the kind a step changes (or of the kind of a source not polled)."""
    named: set[str] = set()
    kinds: set[str] = set()
    for step in steps:
        prefix, _, name = step.executor.partition(":")
        if prefix in SOURCE_EXECUTORS:
            if sources.get(name) == prefix:
                named.add(name)
            else:
                kinds.add(prefix)
        if step.kind in STEP_CHANGES:
            kinds.add(STEP_CHANGES[step.kind])
    return [name for name, kind in sources.items() if name in named or kind in kinds]



class ActionDesk:
    """The app's side of the engine: built on first use (a read-only session that never acts writes nothing)."""

    def __init__(self, app: OpsConsoleApp, write: bool = False) -> None:
        self.app = app
        self.write_at_start = write
        self.tasks = TaskList()
        self._engine: ActionEngine | None = None

    @property
    def engine(self) -> ActionEngine:
        if self._engine is None:
            user, _, host = self.app.identity.partition("@")
            operator = Operator(user, host) if host else current_operator()
            self._engine = ActionEngine(self.app.config, Session(operator), clock=self.app.clock)
        return self._engine

    @property
    def writable(self) -> bool:
        return self._engine is not None and self._engine.session.writable

    def start(self) -> str | None:
        """At mount: `--write` switches now (audited); the header shows the mode either way. The reason
        it stayed read-only, or None."""
        problem = self.enable_write("--write") if self.write_at_start else None
        self.show_mode()
        return problem

    def enable_write(self, via: str) -> str | None:
        """Switch to read-write (audited); the reason it stayed read-only, or None."""
        engine = self.engine
        try:
            engine.session.enable_write(engine.audit, via=via)
        except AuditError as exc:
            return f"still read-only: the switch could not be recorded ({exc})"
        self.show_mode()
        return None

    def disable_write(self) -> None:
        if self._engine is not None:
            self._engine.session.disable_write()
        self.show_mode()

    def show_mode(self) -> None:
        """The mode on every screen's header (the app's, and the detail's and log screen's that follow it)."""
        self.app.header.set_writable(self.writable)

    async def run(self, plan: Plan, confirmation: Confirmation, screen: Any) -> ActionResult | None:
        """Run `plan`; events go to the task list and to `screen` (an ActionScreen) while it is open, and
        ActionFinished to the app when it ends. Refusals go to the screen."""
        task = None

        def on_event(event: ActionEvent) -> None:
            nonlocal task
            if event.kind == "started":
                task = self.tasks.started(plan)
            elif task is not None:
                self.tasks.event(task, event)
            if event.kind == "notice" and event.step is not None:  # a step's request was taken (Proxmox's task id)
                self.refresh_changed(plan.steps[event.step : event.step + 1])
            if screen.is_attached:
                screen.show_event(event)

        try:
            result = await self.engine.run(plan, confirmation, on_event=on_event)
        except Refused as exc:
            if screen.is_attached:
                screen.show_refusal(str(exc))
            else:
                self.app.notify(str(exc), severity="error", timeout=10)
            return None
        except Exception as exc:  # noqa: BLE001 - a bug must not take the console down with it
            if task is not None:
                self.tasks.failed(task, "failed")
            self.app.post_message(ActionFinished(plan, None, f"{plan.title}: failed: {type(exc).__name__}: {exc}"))
            return None
        if task is not None:
            self.tasks.finished(task, result)
        self.app.post_message(ActionFinished(plan, result))
        if screen.is_attached:
            screen.show_result(result)
        return result

    def refresh_changed(self, steps: Sequence[Step]) -> None:
        """Fetch now the sources that show what `steps` changed (changed_sources), not at their next poll."""
        poller = self.app.poller
        for name in changed_sources(steps, {name: source.kind for name, source in poller.sources.items()}):
            poller.refresh_now(name)

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()
