"""The session's actions, running and finished (t): what, who, the outcome, the progress; c cancels."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable

from console.core.display import safe_text
from console.ui.desk import OUTCOME_STYLE, Task, TaskList
from console.ui.dialogs import ConfirmCancelScreen
from console.ui.screens.keys import HelpKeys
from console.ui.widgets.plain import Plain


class TasksScreen(HelpKeys, ModalScreen[None]):
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
        Binding("c", "cancel_task", "Cancel the running action under the cursor", show=False),
        Binding("question_mark", "help", "Help", show=False),
    ]
    HELP_TITLE = "Keys: the actions of this session"
    HELP_NOTES = ("A cancel stops a rolling action between batches: the hosts in hand finish, the rest is skipped.",)

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
        def answered(confirmed: bool | None) -> None:
            if confirmed and self.cancel is not None and self.cancel(task.plan.id):
                task.cancel_requested = True
                self.notify(f"cancel requested: {task.plan.title} will stop after the current batch", timeout=6)
                self.show_tasks()

        self.app.push_screen(ConfirmCancelScreen(task.plan.title), answered)
