"""The session's actions: running and finished (key `t`), and a toast when one ends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable

from console.actions import CANCELLED, FAILURE, INTERRUPTED, PARTIAL, SUCCESS, ActionEvent, ActionResult
from console.actions.plan import Plan
from console.core.display import safe_text
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

RUNNING = "running"
OUTCOME_STYLE = {RUNNING: "bold cyan", SUCCESS: "bold green", PARTIAL: "bold yellow", FAILURE: "bold red",
                 INTERRUPTED: "bold red", CANCELLED: "bold yellow", "refused": "bold red"}
TOAST_SEVERITY: dict[str, SeverityLevel] = {SUCCESS: "information", PARTIAL: "warning", FAILURE: "error",
                                             INTERRUPTED: "error", CANCELLED: "warning"}


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


class TasksScreen(ModalScreen[None]):
    """The task list; redrawn every second while an action runs. `c` cancels the running action under
    the cursor (after a confirmation; it stops where it safely can, between batches)."""

    DEFAULT_CSS = """
    TasksScreen { align: center middle; }
    #tasks { width: 96%; max-width: 120; height: auto; max-height: 90%; border: round $accent;
             background: $surface; padding: 0 1; }
    #tasks DataTable { height: auto; max-height: 20; }
    #tasks-note { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("t", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        Binding("c", "cancel_task", "Cancel the action", show=False),
    ]

    def __init__(self, tasks: TaskList, cancel: Callable[[str], bool] | None = None) -> None:
        super().__init__()
        self.task_list = tasks
        self.cancel = cancel  # engine.cancel(plan_id)
        self.table: DataTable[str | Text] = DataTable(id="tasks-table", cursor_type="row")

    def compose(self) -> ComposeResult:
        with Vertical(id="tasks"):
            yield self.table
            yield Plain("", id="tasks-note")

    def on_mount(self) -> None:
        box = self.query_one("#tasks")
        box.border_title = "Actions this session"
        box.border_subtitle = "c cancels a running action · esc closes"
        self.table.add_columns("what", "who", "outcome", "progress", "took", "reason")
        self.show_tasks()
        self.set_interval(1.0, self.show_tasks)
        self.table.focus()

    def show_tasks(self) -> None:
        table = self.table
        cursor = table.cursor_row
        table.clear()
        for task in reversed(self.task_list.tasks):
            plan = task.plan
            outcome = Text(task.outcome.upper(), style=OUTCOME_STYLE.get(task.outcome, ""))
            reason = plan.reason.text if plan.reason else ""
            # a str cell would be markup: the title names hosts and URLs, the progress a batch's hosts
            table.add_row(safe_text(plan.title), safe_text(str(plan.operator), identifier=True), outcome,
                          safe_text(task.progress), Text(f"{task.elapsed():.1f}s"), safe_text(reason), key=plan.id)
        if self.task_list.tasks:
            table.move_cursor(row=min(cursor, len(self.task_list.tasks) - 1))  # the redraw keeps the cursor
        note = self.query_one("#tasks-note", Plain)
        note.update("no action yet in this session" if not self.task_list.tasks else
                    f"{len(self.task_list.running())} running, {len(self.task_list.tasks)} in all")

    def selected(self) -> Task | None:
        """The task under the cursor (newest first, as the table shows them)."""
        tasks = list(reversed(self.task_list.tasks))
        row = self.table.cursor_row
        return tasks[row] if 0 <= row < len(tasks) else None

    def action_cancel_task(self) -> None:
        task = self.selected()
        if task is None or not task.running or self.cancel is None:
            self.notify("no running action under the cursor", severity="warning")
            return
        from console.ui.farm_actions import ConfirmCancelScreen

        def answered(confirmed: bool | None) -> None:
            if confirmed and self.cancel is not None and self.cancel(task.plan.id):
                task.cancel_requested = True
                self.notify(f"cancel requested: {task.plan.title} will stop after the current batch", timeout=6)
                self.show_tasks()

        self.app.push_screen(ConfirmCancelScreen(task.plan.title), answered)
