"""The farm's configuration repositories: recorded commits, moved in time to end just before now."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from console.sim.inventory import Inventory
from console.sim.seeded import hexid, unit

PR_SUFFIX = re.compile(r"\(#\d+\)$")


@dataclass(frozen=True)
class Commit:
    repo: str
    sha: str
    author: str  # GitHub login (pseudonym)
    date: datetime  # UTC
    message: str
    files: tuple[str, ...]
    parents: tuple[str, ...] = ()
    name: str | None = None  # the git author name when it is not the login (the `hostile` scenario)

    @property
    def merged_on_github(self) -> bool:
        """Squash-merged pull requests are committed by GitHub itself (web-flow)."""
        return bool(PR_SUFFIX.search(self.message.splitlines()[0]))


@dataclass(frozen=True)
class Trigger:
    """A recorded commit a scenario moves to `at` (e.g. the change that broke Puppet)."""

    repo: str
    sha: str
    at: datetime


def _clean(subject: str, files: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    # The recording split a few subjects across the file list (" (#6495)"): glue them back.
    stray = [f.strip() for f in files if f[:1].isspace()]
    paths = tuple(f for f in files if not f[:1].isspace())
    return " ".join([subject, *stray]).strip(), paths


def build_repos(inventory: Inventory, seed: int, anchor: datetime, trigger: Trigger | None = None) -> dict[str, list[Commit]]:
    """Every repository's commits, newest first, the newest a few minutes before `anchor`."""
    parsed: dict[str, list[Commit]] = {}
    moved: Commit | None = None
    for repo, specs in inventory.commits.items():
        items = []
        for spec in specs:
            message, files = _clean(spec.subject, spec.files)
            date = datetime.fromisoformat(spec.date).astimezone(timezone.utc)
            commit = Commit(repo, spec.sha, spec.author, date, message, files)
            if trigger and trigger.repo == repo and trigger.sha == spec.sha:
                moved = commit
                continue
            items.append(commit)
        parsed[repo] = items
    newest = max(c.date for items in parsed.values() for c in items)
    if trigger is not None:
        target = trigger.at - timedelta(minutes=25 + 35 * unit(seed, "commits", "before-trigger"))
    else:
        target = anchor - timedelta(minutes=6 + 50 * unit(seed, "commits", "newest"))
    shift = target.replace(microsecond=0) - newest
    repos: dict[str, list[Commit]] = {}
    for repo, items in parsed.items():
        shifted = [replace(c, date=c.date + shift) for c in items]
        if moved is not None and trigger is not None and moved.repo == repo:  # moved: only with a trigger
            shifted.append(replace(moved, date=trigger.at.replace(microsecond=0)))
        shifted.sort(key=lambda c: c.date, reverse=True)
        repos[repo] = _chain(repo, shifted)
    return repos


def _chain(repo: str, newest_first: list[Commit]) -> list[Commit]:
    out = []
    for i, commit in enumerate(newest_first):
        parent = newest_first[i + 1].sha if i + 1 < len(newest_first) else hexid(repo, "older history")
        out.append(replace(commit, parents=(parent,)))
    return out


def new_commit(repo: str, head: Commit | None, author: str, message: str, files: tuple[str, ...], at: datetime,
               name: str | None = None) -> Commit:
    parent = head.sha if head else hexid(repo, "older history")
    sha = hexid(repo, parent, author, message, at.isoformat()) if name is None else \
        hexid(repo, parent, author, name, message, at.isoformat())
    return Commit(repo, sha, author, at.astimezone(timezone.utc).replace(microsecond=0), message, files, (parent,), name)
