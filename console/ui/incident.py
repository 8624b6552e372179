"""Incident mode in the console: `i` starts an incident (title, optional task) or opens its timeline;
`:timeline` shows it. The desk observes the store after every refresh and the audit file(s) every few
seconds and after each action, and saves the incident to its state file (it survives a restart)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input

from console.core.display import safe_text
from console.core.model import IcingaSnapshot, LogSnapshot, PuppetInventory
from console.derive.commits_pane import merged_commits
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
    IncidentFile,
    TimelineEntry,
    TimelineObserver,
    export_markdown,
    impact_window,
    refresh_actions,
    with_note,
)  # fmt: skip
from console.ui.action_keys import FormInput
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp

KIND_STYLE = {ALERT: "bold red", RECOVERY: "green", HANDLED: "yellow", ACTION: "bold cyan", COMMIT: "magenta",
              PUPPET: "red", LOGS: "red", NOTE: "", START: "bold", END: "bold"}


class IncidentDesk:
    """The app's side of incident mode: the open incident, its observer and its state file."""

    def __init__(self, app: OpsConsoleApp) -> None:
        self.app = app
        self._file: IncidentFile | None = None
        self.incident: Incident | None = None
        self._observer: TimelineObserver | None = None

    @property
    def file(self) -> IncidentFile:
        """The state file named by the config (read once the app's config is validated)."""
        if self._file is None:
            self._file = IncidentFile(self.app.config.incident.state)
        return self._file

    @property
    def audit_paths(self) -> list[str]:
        config = self.app.config
        return [config.actions.audit.path, *config.incident.audit]

    def load(self) -> None:
        """At start: the incident left open by the last session, if any; a broken file is said, not fatal."""
        try:
            incident = self.file.load()
        except (ValueError, OSError) as exc:
            self.app.notify(f"incident state not loaded: {exc}", severity="error", timeout=10)
            return
        if incident is not None and incident.open:
            self._open(incident)
            self.app.notify(f"incident still open: {incident.title} (since {incident.started_at:%H:%M} UTC) - "
                            f"i shows its timeline", title="Incident", timeout=8)

    def _open(self, incident: Incident) -> None:
        self.incident = incident
        self._observer = TimelineObserver(incident)
        self.observe()
        self.refresh_actions()
        self._show()

    def start(self, title: str, task: str | None) -> Incident:
        """Start an incident now (ValueError for a bad title or task)."""
        incident = Incident.start(title, self.app.identity, self.app.clock(), task)
        self._save(incident)
        self._open(incident)
        return incident

    def end(self) -> Path | None:
        """End the open incident and archive it; return where it went."""
        incident = self.incident
        if incident is None:
            return None
        incident.end(self.app.identity, self.app.clock())
        try:
            archived = self.file.archive(incident)
        except OSError as exc:
            self.app.notify(f"incident not archived: {exc}", severity="error", timeout=10)
            archived = None
        self.incident, self._observer = None, None
        self._show()
        return archived

    def observe(self) -> None:
        """After a refresh: what changed since the last look goes into the timeline."""
        if self.incident is None or self._observer is None:
            return
        store = self.app.store
        icinga = store.data_of_kind("icinga")
        snapshot = IcingaSnapshot(tuple(h for s in icinga for h in s.hosts), tuple(c for s in icinga for c in s.services)) \
            if icinga else None
        puppet = store.data_of_kind("puppetdb")
        inventory = PuppetInventory(tuple(n for p in puppet for n in p.nodes)) if puppet else None
        graylog = store.data_of_kind("graylog")
        counts: dict[str, int] = {}
        for logs in graylog:
            for host, count in logs.error_counts:
                counts[host] = counts.get(host, 0) + count
        log_snapshot = LogSnapshot((), error_counts=tuple(sorted(counts.items()))) if graylog else None
        added = self._observer.observe(snapshot, inventory, merged_commits(store), log_snapshot, self.app.clock())
        if added:
            self._changed()

    def refresh_actions(self) -> None:
        """Every operator's actions recorded in the audit file(s) since the incident started."""
        if self.incident is not None and refresh_actions(self.incident, self.audit_paths):
            self._changed()

    def note(self, text: str) -> None:
        if self.incident is not None and text.strip():
            with_note(self.incident, text, self.app.identity, self.app.clock())
            self._changed()

    def export(self, path: Path | None = None) -> Path:
        """Write the Markdown report (default: ./incident-<date>-<id>.md); OSError when it cannot."""
        incident = self.incident
        assert incident is not None
        self.refresh_actions()
        target = path or Path.cwd() / f"incident-{incident.started_at:%Y%m%d}-{incident.id}.md"
        target.write_text(export_markdown(incident, self.app.clock()), encoding="utf-8")
        return target

    def _changed(self) -> None:
        if self.incident is not None:
            self._save(self.incident)
        self._show()

    def _save(self, incident: Incident) -> None:
        try:
            self.file.save(incident)
        except OSError as exc:
            self.app.notify(f"incident state not saved: {exc}", severity="error", timeout=10)

    def _show(self) -> None:
        self.app.header.set_incident(badge_text(self.incident, self.app.clock()))
        for screen in self.app.screen_stack:
            if isinstance(screen, TimelineScreen) and screen.is_mounted:
                screen.show(self.incident)


def badge_text(incident: Incident | None, now: datetime) -> str | None:
    if incident is None:
        return None
    minutes = max(0, int((now - incident.started_at).total_seconds() // 60))
    task = f"{incident.task} " if incident.task else ""
    title = incident.title if len(incident.title) <= 30 else incident.title[:29] + "…"
    return f" INCIDENT {task}{title} {minutes}m "


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


class NoteScreen(ModalScreen["str | None"]):
    """One line of the operator's own for the timeline."""

    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen > Vertical { width: 70; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Add a note to the timeline"
            yield FormInput(placeholder="called the DBA; failing over db151", id="note")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmEndScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmEndScreen { align: center middle; }
    ConfirmEndScreen > Static { width: 60; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No"),
                Binding("escape", "answer(False)", "No", show=False)]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        # the title is the operator's own words (or another session's): shown as data, never as markup
        yield Plain(Text.assemble("End the incident '", safe_text(self._title),
                                  "'? Its timeline is archived. [y/N]"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TimelineScreen(Screen[None]):
    """The incident's timeline, newest at the bottom, updated as it grows."""

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
            self.app.push_screen(NoteScreen(), self._add_note)

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
