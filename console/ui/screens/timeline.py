"""Incident mode's screens: starting an incident (title, optional task) and its timeline (i,
`:timeline`), newest at the bottom, growing as the desk (console/ui/incident.py) observes the farm."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input

from console.core.display import safe_text
from console.derive.incident import (
    ACTION,
    ALERT,
    COMMIT,
    END,
    HANDLED,
    LOGS,
    NOTE,
    PUPPET,
    RECOVERY,
    START,
    Incident,
    TimelineEntry,
    impact_window,
)  # fmt: skip
from console.ui.dialogs import ConfirmEndScreen, TextPrompt
from console.ui.screens.keys import BackToPanes, HelpKeys
from console.ui.widgets.forms import FormInput
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.ui.incident import IncidentDesk

KIND_STYLE = {ALERT: "bold red", RECOVERY: "green", HANDLED: "yellow", ACTION: "bold cyan", COMMIT: "magenta",
              PUPPET: "red", LOGS: "red", NOTE: "", START: "bold", END: "bold"}



class StartIncidentScreen(ModalScreen["tuple[str, str | None] | None"]):
    """Title and optional task of a new incident."""

    DEFAULT_CSS = """
    StartIncidentScreen { align: center middle; }
    StartIncidentScreen > Vertical { width: 70; height: auto; border: thick $error; background: $surface; padding: 1 2; }
    StartIncidentScreen Input { margin: 0 0 1 0; }
    StartIncidentScreen #incident-error { color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Start an incident"
            yield Plain("What is broken, in a few words (the report's title):")
            yield FormInput(placeholder="PHP-FPM down on mw152", id="incident-title")
            yield Plain("Task (optional), e.g. T12345:")
            yield FormInput(placeholder="T12345", id="incident-task")
            yield Plain("", id="incident-error")
            with Horizontal():
                yield Button("Start", variant="error", id="incident-start")

    def on_mount(self) -> None:
        self.query_one("#incident-title", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "incident-title" and not self.query_one("#incident-task", Input).value:
            self.query_one("#incident-task", Input).focus()
            return
        self._submit()

    def on_button_pressed(self, _: Button.Pressed) -> None:
        self._submit()

    def _submit(self) -> None:
        title = self.query_one("#incident-title", Input).value
        task = self.query_one("#incident-task", Input).value.strip() or None
        if not title.strip():
            self.query_one("#incident-error", Plain).update("a title is needed")
            self.query_one("#incident-title", Input).focus()
            return
        self.dismiss((title, task))

    def action_cancel(self) -> None:
        self.dismiss(None)



class TimelineScreen(HelpKeys, BackToPanes, Screen[None]):
    """The incident's timeline, newest at the bottom, updated as it grows."""

    HELP_TITLE = "Keys: the incident timeline"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("n", "note", "Note"),
        Binding("e", "export", "Export report"),
        Binding("E", "end", "End incident"),
    ]
    DEFAULT_CSS = """
    TimelineScreen #timeline-head { height: auto; padding: 0 1; background: $boost; }
    TimelineScreen DataTable { height: 1fr; }
    """

    def __init__(self, desk: IncidentDesk) -> None:
        super().__init__()
        self.desk = desk
        self.head = Plain("", id="timeline-head")
        self.table: DataTable = DataTable(id="timeline", cursor_type="row", zebra_stripes=False)
        self._shown: list[tuple[str, ...]] = []  # the rows on screen, as text

    def compose(self) -> ComposeResult:
        yield self.head
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns("UTC", "what", "", "who", "detail")
        self.show(self.desk.incident)
        self.table.focus()

    def show(self, incident: Incident | None) -> None:
        if incident is None:
            self.head.update(Text("No incident is open. i starts one.", style="bold"))
            self.table.clear()
            self._shown = []
            return
        now = self.desk.app.clock()
        begin, end = impact_window(incident, now)
        task = f"  task {incident.task}" if incident.task else ""
        impact = f"impact {begin:%H:%M}–{end:%H:%M}" if end else f"impact since {begin:%H:%M} (ongoing)"
        self.head.update(Text.assemble(("INCIDENT ", "bold"), safe_text(incident.title, style="bold"), task,
                                       f"  started {incident.started_at:%Y-%m-%d %H:%M} UTC by ",
                                       safe_text(incident.started_by, identifier=True),
                                       f"  {impact}  {len(incident.entries)} entries"))
        rows = [_row(e) for e in incident.entries]
        plain = [tuple(str(cell) for cell in row) for row in rows]
        # entries are inserted at their place in time: keep the unchanged head, redraw from the first change
        keep = next((i for i, (old, new) in enumerate(zip(self._shown, plain, strict=False)) if old != new),
                    min(len(self._shown), len(plain)))
        at_bottom = self.table.cursor_row >= len(self._shown) - 1
        for key in list(self.table.rows)[keep:]:
            self.table.remove_row(key)
        for row in rows[keep:]:
            self.table.add_row(*row)
        self._shown = plain
        if at_bottom and rows:
            self.table.move_cursor(row=len(rows) - 1)

    def action_back(self) -> None:
        self.dismiss()

    def action_note(self) -> None:
        if self.desk.incident is not None:
            self.app.push_screen(TextPrompt("Add a note to the timeline", "called the DBA; failing over db151", "note"),
                                 self._add_note)

    def _add_note(self, text: str | None) -> None:
        if text:
            self.desk.note(text)

    def action_export(self) -> None:
        if self.desk.incident is None:
            return
        try:
            path = self.desk.export()
        except OSError as exc:
            self.app.notify(f"report not written: {exc}", severity="error", timeout=10)
            return
        self.app.notify(f"incident report written to {path}", title="Export", timeout=10)

    def action_end(self) -> None:
        incident = self.desk.incident
        if incident is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                archived = self.desk.end()
                self.app.notify(f"incident ended{f'; archived in {archived}' if archived else ''}", timeout=10)

        self.app.push_screen(ConfirmEndScreen(incident.title), answered)


def _time(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%m-%d %H:%M:%S")


def _row(entry: TimelineEntry) -> tuple[Text, ...]:
    """A timeline row: Texts (a str cell would be markup), display-safe — titles, check names, plugin
    output and other operators' reasons (from their audit files) are data."""
    return (Text(_time(entry.at)), safe_text(entry.kind, style=KIND_STYLE.get(entry.kind, "")), safe_text(entry.text),
            safe_text(entry.who or "", identifier=True), safe_text((entry.detail or "")[:120]))
