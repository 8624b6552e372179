"""What the Commits pane shows: every repository newest first, the suspects marked. No Textual."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Sequence

from rich.text import Text

from console.core.hosts import short_name
from console.core.model import (
    CheckState,
    Commit,
    CommitLog,
    ServiceCheck,
)
from console.core.rows import Cell, Column, PaneView, Row
from console.core.state import Store

if TYPE_CHECKING:
    from console.core.config import AppConfig
from console.derive.alerts_pane import alert_order
from console.derive.cells import feed_detail, feed_note, first_line, humanize_age
from console.derive.services_pane import icinga_checks

COMMIT_COLUMNS = (
    Column("repo", "repo", identifier=True),
    Column("sha", "sha", identifier=True),
    Column("author", "author"),
    Column("age", "age"),
    Column("subject", "subject"),
)


# A commit that landed in the SUSPECT_WINDOW before the top alert began is marked: the usual suspect.
SUSPECT_WINDOW = timedelta(hours=2)
SUSPECT_MARK = "◆"
SUSPECT_STYLE = "bold yellow"


def top_alert(store: Store) -> ServiceCheck | None:
    """The Alerts pane's first row among unhandled problems: the worst state, then the oldest."""
    problems = [c for c in icinga_checks(store) if c.state != CheckState.OK and not c.handled]
    return min(problems, key=alert_order) if problems else None


def incident_start(store: Store) -> datetime | None:
    """When the top alert's problem began (its last state change); None without one."""
    alert = top_alert(store)
    return alert.last_state_change if alert else None


def is_suspect(commit: Commit, start: datetime | None) -> bool:
    """Landed in the SUSPECT_WINDOW before `start` (the incident's start)."""
    return start is not None and start - SUSPECT_WINDOW <= commit.date <= start


def merged_commits(store: Store) -> list[Commit]:
    """Commits of every repository (each once), newest first."""
    commits: dict[str, Commit] = {}
    for log in store.data_of_kind("commits"):
        assert isinstance(log, CommitLog)
        for commit in log.commits:
            commits.setdefault(commit_key(commit), commit)
    return sorted(commits.values(), key=lambda commit: commit.date, reverse=True)


def commit_key(commit: Commit) -> str:
    return f"{commit.repo}@{commit.sha}"


def commit_repo_cell(commit: Commit, suspect: bool) -> Cell:
    """The repository's short name; a suspect commit carries the mark and the style (never colour alone)."""
    repo = commit.repo.rsplit("/", 1)[-1]
    return Text(f"{SUSPECT_MARK} {repo}", style=SUSPECT_STYLE) if suspect else repo


def suspect_legend(store: Store, count: int, domains: Sequence[str]) -> str:
    """"◆ 2 in the 2h before mw152 PHP-FPM", for the pane's border."""
    alert = top_alert(store)
    if not count or alert is None:
        return ""
    hours = round(SUSPECT_WINDOW.total_seconds() / 3600)
    return f"{SUSPECT_MARK} {count} in the {hours}h before {short_name(alert.host, domains)} {alert.service}"


def commits_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    """Commits of every repository merged, newest first; those that landed shortly before the top
    alert began are marked."""
    start = incident_start(store)
    rows = []
    suspects = 0
    for commit in merged_commits(store):
        suspect = is_suspect(commit, start)
        suspects += suspect
        subject = first_line(commit.subject, 72)
        cells = (
            commit_repo_cell(commit, suspect),
            commit.short_sha,
            commit.author,
            humanize_age(now - commit.date),
            Text(subject, style=SUSPECT_STYLE) if suspect else subject,
        )
        rows.append(Row(commit_key(commit), cells))
    note, detail = feed_note(store, ("commits",), now), feed_detail(store, ("commits",))
    return PaneView(COMMIT_COLUMNS, tuple(rows), note, "", detail, suspect_legend(store, suspects, config.farm.domains))
