"""What the status bar shows: each source's health, latency and, once late, the age of its data; the
GitHub quota. No Textual."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from rich.text import Text

from console.core.model import (
    BackendSnapshot,
    CommitLog,
)
from console.core.state import SourceState, Store

if TYPE_CHECKING:
    pass
from console.derive.cells import humanize_age, short_error, source_problem


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source in the status bar: `text` in full, `short` when space is tight (errors stay whole)."""

    name: str
    kind: str
    ok: bool | None  # None: no answer yet
    text: Text
    short: Text


TLS_OFF = Text(" ⚠ TLS unverified", style="bold yellow")
LATE_INTERVALS = 2  # the panes' watchdog redraws a pane behind by as much (console/ui/app.py BEHIND_INTERVALS)


def source_health(state: SourceState, now: datetime, tls_off: bool = False) -> SourceHealth:
    """A source with `verify: false` carries a warning in every form, ok or not, however short."""
    warning = TLS_OFF if tls_off else Text()
    if state.last is None:
        text = Text(f"… {state.name}", style="dim") + warning
        return SourceHealth(state.name, state.kind, None, text, text)
    if not state.ok:
        text = source_problem(state, now) + warning
        return SourceHealth(state.name, state.kind, False, text, text)
    paused = " paused" if state.paused else ""
    name = Text(f"✔ {state.name}{paused}", style="green")
    partial = getattr(state.last.data, "partial_errors", ())  # a part failed, the rest is on screen
    warning = Text("".join(f" ▲ {partial_problem(problem)}" for problem in partial), style="bold yellow") + warning
    stream, stream_short = stream_note(state, now)
    text = name + stream + Text(f" {state.last.latency_ms:.0f}ms", style="dim") + late_note(state, now) + warning
    return SourceHealth(state.name, state.kind, True, text, name + stream_short + late_note(state, now) + warning)


def late_note(state: SourceState, now: datetime) -> Text:
    """` 2m old` once the data is older than LATE_INTERVALS of the source's interval (its polls are not
    arriving); nothing while fresh: an age counting seconds between two polls says nothing, and would
    repaint the line every second."""
    age = state.age(now)
    if age is None or age.total_seconds() <= LATE_INTERVALS * state.interval:
        return Text()
    return Text(f" {humanize_age(age)} old", style="bold yellow")


def stream_note(state: SourceState, now: datetime) -> tuple[Text, Text]:
    """(in full, short) what a source's event stream is doing: `⚡` live, `▲ stream down, retrying
    in 8s` (polling carries on meanwhile), nothing before its first attempt ends."""
    stream = state.stream
    if stream is None or (not stream.live and stream.error is None):
        return Text(), Text()
    if stream.live:
        live = Text(" ⚡", style="bold green")
        return live, live
    wait = max(0, round((stream.retry_at - now).total_seconds())) if stream.retry_at else 0
    retry = f", retrying in {wait}s" if wait else ", retrying"
    return Text(f" ▲ stream down{retry}", style="bold yellow"), Text(" ▲ stream down", style="bold yellow")


def partial_problem(problem: str) -> str:
    """"events: HTTP 500 …": which part failed, then why in a few words."""
    part, _, why = problem.partition(": ")
    return f"{part}: {short_error(why)}" if why else short_error(part)


def status_items(store: Store, now: datetime, unverified: frozenset[str] = frozenset()) -> list[SourceHealth]:
    """Per source, in registration order: name, health, latency, the age of its data, and a warning
    for the sources in `unverified` (TLS verification off). The caches' backend lists (`backends`)
    speak only when there is something to say: how many hosts are depooled, or that a cache (or every
    one) did not answer."""
    items = [source_health(state, now, state.name in unverified) for state in store.states() if not _quiet(state)]
    return items + depooled_items(store)


def _quiet(state: SourceState) -> bool:
    """The backends source answering in full (or not yet): nothing to say in the status bar."""
    if state.kind != "backends":
        return False
    return state.last is None or (state.ok and not getattr(state.last.data, "partial_errors", ()))


def depooled_items(store: Store) -> list[SourceHealth]:
    """"⊘ 2 depooled" (hosts an operator set sick on some cache) — only when there are any; it stays on
    screen however narrow (a forgotten depool is what it is for)."""
    hosts: set[str] = set()
    for snapshot in store.data_of_kind("backends"):
        if isinstance(snapshot, BackendSnapshot):
            hosts |= set(snapshot.depooled())
    if not hosts:
        return []
    text = Text(f"⊘ {len(hosts)} depooled", style="bold yellow")
    return [SourceHealth("depooled", "backends", False, text, text)]


QUOTA_LOW = 100  # GitHub requests left below which the quota is a warning


@dataclass(frozen=True, slots=True)
class Quota:
    """What the status bar says of the GitHub rate limit; `low` keeps it on screen before anything else."""

    text: Text
    low: bool


def github_quota(store: Store) -> Quota | None:
    """"GitHub 4870 left": the lowest remaining rate limit among the GitHub sources' last answers
    (a 304 answer costs none); a warning when it runs low. None without GitHub sources."""
    left = [
        log.rate_limit_remaining
        for log in store.data_of_kind("commits")
        if isinstance(log, CommitLog) and log.rate_limit_remaining is not None
    ]
    if not left:
        return None
    lowest = min(left)
    if lowest < QUOTA_LOW:
        return Quota(Text(f"▲ GitHub {lowest} left", style="bold yellow"), low=True)
    return Quota(Text(f"GitHub {lowest} left", style="dim"), low=False)


def status_line(items: Sequence[SourceHealth], width: int, quota: Quota | None = None) -> Text:
    """The status bar in `width` cells: everything if it fits, else healthy sources shortened to
    "✔ pve", else counted ("✔ 6 ok"). Failing sources always keep their message and come first.
    The GitHub quota ends the line while it fits beside the shortest form; a low quota stays before the
    healthy sources' details."""
    gap = Text("  ")
    troubled = [item for item in items if item.ok is False]
    ordered = troubled + [item for item in items if item.ok is not False]
    healthy = sum(item.ok is True for item in items)
    waiting = sum(item.ok is None for item in items)
    counts = [Text(f"✔ {healthy} ok", style="green")] if healthy else []
    counts += [Text(f"… {waiting} waiting", style="dim")] if waiting else []
    tiers = [
        [item.text for item in items],
        [item.short for item in ordered],
        [*(item.text for item in troubled), *counts],
    ]
    if quota is None:
        attempts = tiers
    elif quota.low:
        attempts = [*([*parts, quota.text] for parts in tiers), tiers[-1]]
    else:  # the quota before the latencies (healthy sources shortened first), the names before the quota
        full, short, counted = tiers
        attempts = [[*full, quota.text], [*short, quota.text], full, short, [*counted, quota.text], counted]
    for parts in attempts:
        line = gap.join(parts)
        if line.cell_len <= width:
            return line
    return gap.join(tiers[-1])
