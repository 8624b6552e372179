"""Incident mode: an incident (title, task), the timeline that collects itself while it is open, its
state file (an incident survives a restart of the console), and the Markdown report.

Plain data and pure functions, no Textual. The timeline is fed by `TimelineObserver.observe(store)`
after every refresh (alert state changes, Puppet failures, commits that landed, log error spikes)
and by the audit file(s) (`actions_from_audit`: every operator's actions that share it).
Entries carry a `ref` so that observing the same fact twice — after a restart, or from two
refreshes — adds it once.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from console.core import files
from console.core.display import markdown
from console.core.model import CheckState, Commit, IcingaSnapshot, LogSnapshot, PuppetInventory

ALERT, RECOVERY, HANDLED, ACTION, COMMIT, PUPPET, LOGS, NOTE, START, END = (
    "alert", "recovery", "handled", "action", "commit", "puppet", "logs", "note", "start", "end",
)  # fmt: skip
KIND_ORDER = {START: 0, COMMIT: 1, PUPPET: 2, ALERT: 3, LOGS: 4, HANDLED: 5, ACTION: 6, NOTE: 7, RECOVERY: 8, END: 9}
IMPACT_LOOKBACK = timedelta(hours=1)  # alerts this long before the start count towards the impact window
COMMIT_LOOKBACK = timedelta(hours=2)  # commits that landed this long before the start are part of the story
SPIKE_MIN = 20  # error-level messages per window for a host to count as a spike ...
SPIKE_FACTOR = 3  # ... and this many times what the host had before
MAX_ENTRIES = 5000  # a runaway incident still has a bounded state file


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat()


def _parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when, what kind, a line of text, who did it (actions), and a dedupe key."""

    at: datetime
    kind: str
    text: str
    who: str | None = None
    ref: str = ""
    detail: str | None = None  # actions: the reason; alerts: the plugin output

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = _iso(self.at)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimelineEntry:
        return cls(_parse_time(data["at"]), str(data["kind"]), str(data["text"]), data.get("who"),
                   str(data.get("ref") or ""), data.get("detail"))

    def sort_key(self) -> tuple[datetime, int, str]:
        return self.at, KIND_ORDER.get(self.kind, 99), self.ref


@dataclass
class Incident:
    """An open (or ended) incident and its timeline, kept sorted by time."""

    id: str
    title: str
    started_at: datetime
    started_by: str
    task: str | None = None
    ended_at: datetime | None = None
    entries: list[TimelineEntry] = field(default_factory=list)

    @classmethod
    def start(cls, title: str, started_by: str, now: datetime, task: str | None = None) -> Incident:
        cleaned = " ".join(title.split())
        if not cleaned:
            raise ValueError("an incident needs a title")
        if len(cleaned) > 200:
            raise ValueError("the title is too long (at most 200 characters)")
        incident = cls(secrets.token_hex(4), cleaned, now, started_by, _task(task))
        incident.add([TimelineEntry(now, START, f"incident started: {cleaned}", started_by, "start")])
        return incident

    @property
    def open(self) -> bool:
        return self.ended_at is None

    def end(self, who: str, now: datetime) -> None:
        self.ended_at = now
        self.add([TimelineEntry(now, END, "incident ended", who, "end")])

    def add(self, entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
        """Add the entries not yet in the timeline (by ref); return those added."""
        known = {e.ref for e in self.entries if e.ref}
        added = []
        for entry in entries:
            if entry.ref and entry.ref in known:
                continue
            known.add(entry.ref)
            added.append(entry)
        if added:
            self.entries = sorted([*self.entries, *added], key=TimelineEntry.sort_key)[-MAX_ENTRIES:]
        return added

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "task": self.task, "started_at": _iso(self.started_at),
                "started_by": self.started_by, "ended_at": _iso(self.ended_at) if self.ended_at else None,
                "entries": [e.to_dict() for e in self.entries]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        return cls(str(data["id"]), str(data["title"]), _parse_time(data["started_at"]), str(data["started_by"]),
                   data.get("task"), _parse_time(data["ended_at"]) if data.get("ended_at") else None,
                   [TimelineEntry.from_dict(e) for e in data.get("entries", [])])


def _task(task: str | None) -> str | None:
    if not task or not task.strip():
        return None
    text = task.strip().upper()
    text = text if text.startswith("T") else "T" + text
    if not text[1:].isdigit() or not 1 <= len(text[1:]) <= 9:
        raise ValueError(f"the task must look like T12345 (got {task.strip()[:20]!r})")
    return text


# --- the state file ------------------------------------------------------------------------------


def default_state_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(state).expanduser() / "opsconsole" / "incident.json"


class IncidentFile:
    """The current incident, written atomically (temp file + rename) after every change; an ended
    incident moves to `incidents/<started>-<id>.json` beside it so the next one starts clean."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_state_path()

    def load(self) -> Incident | None:
        """The open incident, or None. A broken file is an error the caller shows (ValueError); a path
        that is no regular file, or one larger than INCIDENT_MAX, is FileRefused (an OSError)."""
        return _read_incident(self.path, missing_ok=True)

    def save(self, incident: Incident) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temp = tempfile.mkstemp(prefix=".incident-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(incident.to_dict(), handle, indent=1, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def archive(self, incident: Incident) -> Path:
        """Move an ended incident out of the way; return where it went."""
        folder = self.path.parent / "incidents"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{incident.started_at.strftime('%Y%m%dT%H%M%SZ')}-{incident.id}.json"
        target.write_text(json.dumps(incident.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
        self.path.unlink(missing_ok=True)
        return target

    def latest_archived(self) -> Incident | None:
        folder = self.path.parent / "incidents"
        archived = sorted(folder.glob("*.json")) if folder.is_dir() else []
        return _read_incident(archived[-1]) if archived else None


def _read_incident(path: Path, missing_ok: bool = False) -> Incident | None:
    """An incident file: a regular file of at most INCIDENT_MAX bytes (console/core/files.py), as JSON."""
    try:
        text = files.read_text(path, files.INCIDENT_MAX)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    try:
        return Incident.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ValueError(f"{path}: not an incident state file ({type(exc).__name__}: {exc})") from None


# --- what the timeline observes -------------------------------------------------------------------


@dataclass
class TimelineObserver:
    """Turns successive snapshots into timeline entries. It remembers the last states it saw; the
    incident's refs make a restart (an observer that saw nothing yet) harmless."""

    incident: Incident
    _states: dict[str, tuple[CheckState, bool]] | None = None  # key -> (state, handled)
    _puppet: dict[str, str | None] | None = None
    _errors: dict[str, int] | None = None

    def observe(self, icinga: IcingaSnapshot | None = None, puppet: PuppetInventory | None = None,
                commits: Sequence[Commit] = (), logs: LogSnapshot | None = None,
                now: datetime | None = None) -> list[TimelineEntry]:
        """The new entries for these snapshots (already added to the incident)."""
        now = now or datetime.now(timezone.utc)
        entries: list[TimelineEntry] = []
        if icinga is not None:
            entries += self._alerts(icinga, now)
        if puppet is not None:
            entries += self._puppet_runs(puppet)
        entries += self._commits(commits)
        if logs is not None:
            entries += self._spikes(logs, now)
        return self.incident.add(entries)

    def _alerts(self, snapshot: IcingaSnapshot, now: datetime) -> list[TimelineEntry]:
        entries = []
        current = {c.key: c for c in snapshot.services}
        first = self._states is None
        previous = self._states or {}
        for key, check in current.items():
            state, handled = check.state, check.handled
            at = check.last_state_change or now
            stamp = _iso(at)
            if state != CheckState.OK:
                before = previous.get(key)
                if first and handled and at < self.incident.started_at:
                    continue  # acknowledged or in downtime before the incident: not part of it
                if first or before is None or before[0] != state:
                    word = "was already" if at < self.incident.started_at else "went"
                    entries.append(TimelineEntry(at, ALERT, f"{key} {word} {state.name}", None,
                                                 f"alert:{key}:{state.name}:{stamp}", check.output or None))
                if handled and (first or before is None or not before[1]):
                    how = "acknowledged" if check.acknowledged else "in downtime"
                    entries.append(TimelineEntry(now, HANDLED, f"{key} {how}", None, f"handled:{key}:{how}:{stamp}"))
            elif key in previous and previous[key][0] != CheckState.OK:
                entries.append(TimelineEntry(at, RECOVERY, f"{key} recovered (OK)", None, f"recovery:{key}:{stamp}",
                                             check.output or None))
        self._states = {key: (c.state, c.handled) for key, c in current.items()}
        return entries

    def _puppet_runs(self, inventory: PuppetInventory) -> list[TimelineEntry]:
        entries = []
        previous = self._puppet or {}
        for node in inventory.nodes:
            status = node.latest_report_status
            if status == "failed" and previous.get(node.certname) != "failed" and node.report_timestamp is not None:
                stamp = _iso(node.report_timestamp)
                entries.append(TimelineEntry(node.report_timestamp, PUPPET, f"Puppet run failed on {node.certname}",
                                             None, f"puppet:{node.certname}:{stamp}"))
        self._puppet = {node.certname: node.latest_report_status for node in inventory.nodes}
        return entries

    def _commits(self, commits: Sequence[Commit]) -> list[TimelineEntry]:
        since = self.incident.started_at - COMMIT_LOOKBACK
        return [TimelineEntry(c.date, COMMIT, f"{c.repo} {c.short_sha} {c.subject}", c.author, f"commit:{c.sha}", c.url)
                for c in commits if c.date >= since]

    def _spikes(self, logs: LogSnapshot, now: datetime) -> list[TimelineEntry]:
        entries = []
        counts = dict(logs.error_counts)
        previous = self._errors
        if previous is not None:
            for host, count in counts.items():
                before = previous.get(host, 0)
                if count >= SPIKE_MIN and count >= SPIKE_FACTOR * max(before, 1) and before < SPIKE_MIN:
                    entries.append(TimelineEntry(now, LOGS, f"log error spike on {host}: {count} errors in the window "
                                                 f"(was {before})", None, f"logs:{host}:{_iso(now)[:16]}"))
        self._errors = counts
        return entries


def actions_from_audit(records: Iterable[dict[str, Any]], since: datetime) -> list[TimelineEntry]:
    """Every action result (and every intent still without a result) recorded since `since`, with who and why."""
    results: dict[str, dict[str, Any]] = {}
    intents: dict[str, dict[str, Any]] = {}
    for record in records:
        if not isinstance(record, dict) or record.get("dry_run") or "id" not in record:
            continue
        event = record.get("event")
        if event == "result":
            results[str(record["id"])] = record
        elif event == "intent":
            intents[str(record["id"])] = record
    entries = []
    for plan_id, intent in intents.items():
        try:
            started = _parse_time(str(intent.get("time")))
        except ValueError:
            continue
        if started < since:
            continue
        who = f"{intent.get('user')}@{intent.get('host')}"
        result = results.get(plan_id)
        outcome = str(result.get("outcome")) if result else "unfinished"
        text = f"{intent.get('title', intent.get('action'))}: {outcome}"
        entries.append(TimelineEntry(started, ACTION, text, who, f"action:{plan_id}:{outcome}", intent.get("reason")))
    return entries


def read_audit(paths: Iterable[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """The records of every readable audit file (several operators may share theirs), each file's
    tail only (console.actions.audit.tail_records: bounded, damaged lines skipped)."""
    from console.actions.audit import tail_records  # not on the start-up path: only once an incident is open

    records = []
    for path in paths:
        try:
            records += tail_records(path)
        except OSError:
            continue  # another operator's file we may not read: their actions are missing, nothing breaks
    return records


def refresh_actions(incident: Incident, audit_paths: Iterable[str | os.PathLike[str]]) -> list[TimelineEntry]:
    """Add the actions recorded since the incident started; an action that finished since the last
    look replaces its `unfinished` entry."""
    found = actions_from_audit(read_audit(audit_paths), incident.started_at)
    finished = {e.ref.rsplit(":", 1)[0] for e in found if not e.ref.endswith(":unfinished")}
    incident.entries = [e for e in incident.entries
                        if not (e.ref.endswith(":unfinished") and e.ref.rsplit(":", 1)[0] in finished)]
    return incident.add(e for e in found if not (e.ref.endswith(":unfinished") and e.ref.rsplit(":", 1)[0] in finished))


# --- the report -------------------------------------------------------------------------------------


def impact_window(incident: Incident, now: datetime) -> tuple[datetime, datetime | None]:
    """From the first alert (or the start) to the last recovery when nothing is still failing (None: ongoing)."""
    # problems older than the lookback were there before this incident began (a disk warning since
    # yesterday): they stay in the timeline but do not stretch the impact window
    alerts = [e for e in incident.entries if e.kind == ALERT and e.at >= incident.started_at - IMPACT_LOOKBACK]
    begin = min((e.at for e in alerts), default=incident.started_at)
    open_keys = _still_failing(incident)
    if open_keys:
        return begin, None
    recoveries = [e.at for e in incident.entries if e.kind == RECOVERY]
    return begin, max(recoveries, default=incident.ended_at or now)


def _still_failing(incident: Incident) -> list[str]:
    """Alert keys whose last entry is an alert, not a recovery."""
    last: dict[str, str] = {}
    for entry in incident.entries:
        if entry.kind in (ALERT, RECOVERY):
            key = entry.ref.split(":")[1]
            last[key] = entry.kind
    return sorted(key for key, kind in last.items() if kind == ALERT)


def _fmt(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(text: str | None) -> str:
    return markdown(text or "")


def export_markdown(incident: Incident, now: datetime, follow_ups: Sequence[str] = ()) -> str:
    """The incident report: title, task, impact window, summary, timeline, actions, open follow-ups."""
    begin, end = impact_window(incident, now)
    alerts = [e for e in incident.entries if e.kind == ALERT]
    actions = [e for e in incident.entries if e.kind == ACTION]
    commits = [e for e in incident.entries if e.kind == COMMIT]
    hosts = sorted({e.ref.split(":")[1].split("!")[0] for e in alerts})
    failing = _still_failing(incident)
    lines = [f"# Incident: {markdown(incident.title)}", ""]
    lines.append(f"- **Task:** {markdown(incident.task) if incident.task else 'none'}")
    lines.append(f"- **Started:** {_fmt(incident.started_at)} by {markdown(incident.started_by)}")
    lines.append(f"- **Ended:** {_fmt(incident.ended_at) if incident.ended_at else 'ongoing'}")
    lines.append(f"- **Impact window:** {_fmt(begin)} – {_fmt(end) if end else 'ongoing'}"
                 + (f" ({_duration(end - begin)})" if end else ""))
    lines += ["", "## Summary", ""]
    lines.append(f"{len(alerts)} alert state change(s) on {len(hosts)} host(s)"
                 + (f" ({', '.join(markdown(host) for host in hosts)})" if hosts else "") + f"; {len(actions)} action(s); "
                 f"{len(commits)} commit(s) landed in the {_duration(COMMIT_LOOKBACK)} before or during the incident.")
    lines.append("Still failing at the time of this report: " + (", ".join(markdown(key) for key in failing) if failing
                                                                 else "nothing") + ".")
    lines += ["", "## Timeline", "", "| time (UTC) | what | who | detail |", "|---|---|---|---|"]
    for entry in incident.entries:
        lines.append(f"| {entry.at.astimezone(timezone.utc).strftime('%m-%d %H:%M:%S')} | {markdown(entry.kind)}: {_cell(entry.text)} "
                     f"| {_cell(entry.who)} | {_cell(entry.detail)} |")
    lines += ["", "## Actions", ""]
    if actions:
        lines += ["| time (UTC) | action | who | reason |", "|---|---|---|---|"]
        for entry in actions:
            lines.append(f"| {entry.at.astimezone(timezone.utc).strftime('%m-%d %H:%M:%S')} | {_cell(entry.text)} "
                         f"| {_cell(entry.who)} | {_cell(entry.detail)} |")
    else:
        lines.append("No action was taken through opsconsole.")
    lines += ["", "## Open follow-ups", ""]
    items = [f"{markdown(key)} is still failing" for key in failing] + [markdown(item) for item in follow_ups]
    lines += [f"- [ ] {item}" for item in items] or ["- none"]
    return "\n".join(lines) + "\n"


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def with_note(incident: Incident, text: str, who: str, now: datetime) -> TimelineEntry:
    """An operator's own line in the timeline."""
    entry = TimelineEntry(now, NOTE, " ".join(text.split())[:300], who, f"note:{_iso(now)}:{secrets.token_hex(2)}")
    incident.add([entry])
    return entry


__all__ = [
    "Incident", "IncidentFile", "TimelineEntry", "TimelineObserver", "actions_from_audit", "export_markdown",
    "impact_window", "read_audit", "refresh_actions", "with_note",
]
