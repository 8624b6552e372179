"""Incident mode's desk: the open incident, its observer and its state file. It observes the store
after every refresh and the audit file(s) every few seconds and after each action, saves the incident
(it survives a restart), and says it changed by a message (IncidentChanged): the app shows the header's
badge and the timeline screens (console/ui/screens/timeline.py) redraw."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from console.core.model import IcingaSnapshot, LogSnapshot, PuppetInventory
from console.derive.commits_pane import merged_commits
from console.derive.incident import (
    Incident,
    IncidentFile,
    TimelineObserver,
    export_markdown,
    refresh_actions,
    with_note,
)  # fmt: skip

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp

class IncidentChanged(Message):
    """The open incident changed (an entry, a note, started, ended: then None)."""

    def __init__(self, incident: Incident | None) -> None:
        super().__init__()
        self.incident = incident


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
        self.app.post_message(IncidentChanged(self.incident))


def badge_text(incident: Incident | None, now: datetime) -> str | None:
    if incident is None:
        return None
    minutes = max(0, int((now - incident.started_at).total_seconds() // 60))
    task = f"{incident.task} " if incident.task else ""
    title = incident.title if len(incident.title) <= 30 else incident.title[:29] + "…"
    return f" INCIDENT {task}{title} {minutes}m "
