"""What each pane shows, derived from the store: rows (a key and cells) and the columns. No Textual.

Every function takes `now` from the caller (the app's injected clock), so the same store always
gives the same rows. Meaning is carried by words and symbols; colour only repeats it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Iterable, Sequence

from rich.text import Text

from console.config import AppConfig
from console.hosts import DEFAULT_STALE_AFTER, proxmox_machines, puppet_nodes_by_host, short_name
from console.model import (
    CheckState,
    Commit,
    CommitLog,
    IcingaSnapshot,
    PuppetNodeStatus,
    ServiceCheck,
)
from console.state import SourceState, Store

Cell = str | Text
NO_VALUE = "—"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class PaneView:
    """Everything one pane shows: its columns, its rows, a note when its data is missing or failing
    (None when all is well), a short badge for the tab bar (e.g. the number of alerts) and the
    failing sources' messages in full (`detail`, for a tooltip)."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    note: Text | None = None
    badge: str = ""
    detail: str = ""
    legend: str = ""  # a word on what a mark in the rows means, after the row count


# --- small formatting helpers ------------------------------------------------------------------


def humanize_age(delta: timedelta | float | None) -> str:
    """The largest unit only: "12s", "3m", "2h", "4d"; "—" when unknown."""
    if delta is None:
        return NO_VALUE
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def humanize_uptime(seconds: int | None) -> str:
    """"41d", "5h", "12m" (a recent reboot is what matters); "—" when not running."""
    return humanize_age(seconds) if seconds else NO_VALUE


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders digits by value: mw2 < mw10 < mw151."""
    parts = re.split(r"(\d+)", name.lower())
    # re.split with a group alternates text and digits, so position i always holds the same type.
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))


def first_line(text: str, limit: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def percent(used: float | int | None, total: float | int | None = 1) -> str:
    if used is None or not total:
        return NO_VALUE
    return f"{round(100 * used / total)}%"


# --- check states ------------------------------------------------------------------------------

STATE_SYMBOL = {CheckState.OK: "✔", CheckState.WARNING: "▲", CheckState.CRITICAL: "✖", CheckState.UNKNOWN: "?"}
STATE_STYLE = {
    CheckState.OK: "green",
    CheckState.WARNING: "bold yellow",
    CheckState.CRITICAL: "bold red",
    CheckState.UNKNOWN: "bold magenta",
}
# How bad a state is, worst first: CRITICAL > UNKNOWN > WARNING > OK.
SEVERITY = {CheckState.CRITICAL: 0, CheckState.UNKNOWN: 1, CheckState.WARNING: 2, CheckState.OK: 3}


def state_label(state: CheckState, *, dim: bool = False) -> Text:
    """"✖ CRITICAL": the symbol and the word, coloured (dimmed when the problem is handled)."""
    style = "dim" if dim else STATE_STYLE[state]
    return Text(f"{STATE_SYMBOL[state]} {state.name}", style=style)


# --- feeds: which sources a pane reads, and what to say when they are missing or failing ---------


def source_problem(state: SourceState, now: datetime) -> Text:
    """"✖ icinga: connection failed … (data 2m old)" for a source whose last attempt failed."""
    age = state.age(now)
    data = f"data {humanize_age(age)} old" if age is not None else "no data"
    return Text(f"✖ {state.name}: {short_error(state.error or '')} ({data})", style="bold red")


ADDRESS = re.compile(r"\s*\b(?:to |at |from )?(?:https?://)?[\w.-]+:\d+(?:/\S*)?(?=[:\s,]|$)")


def short_error(message: str, limit: int = 40) -> str:
    """The failure in a few words: addresses dropped (the source's name says where), long messages
    cut at their first clause: "connection failed …"."""
    text = ADDRESS.sub("", message).strip()
    if len(text) <= limit:
        return text
    head = text.split(": ", 1)[0]
    return (head if len(head) <= limit else head[: limit - 1]) + " …"


def feed_detail(store: Store, kinds: Sequence[str]) -> str:
    """Every failing source's message in full, one a line."""
    return "\n".join(
        f"{s.name}: {s.error}" for kind in kinds for s in store.of_kind(kind) if s.last is not None and not s.ok
    )


def feed_note(store: Store, kinds: Sequence[str], now: datetime) -> Text | None:
    """The pane's note: failing sources, or "loading…" until its sources have answered."""
    states = [state for kind in kinds for state in store.of_kind(kind)]
    if not states:
        return Text(f"no {' or '.join(kinds)} source configured", style="dim")
    failing = [source_problem(s, now) for s in states if s.last is not None and not s.ok]
    if failing:
        return Text("  ").join(failing)
    waiting = [s.name for s in states if s.last is None]
    if len(waiting) == len(states):
        return Text("loading…", style="dim")
    if waiting:
        return Text(f"waiting for {', '.join(waiting)}…", style="dim")
    return None


# --- Hosts -------------------------------------------------------------------------------------

HOST_COLUMNS = (
    # Most telling first, so a narrow terminal crops the least useful columns.
    Column("host", "host"),
    Column("status", "status"),
    Column("puppet", "puppet"),
    Column("cpu", "cpu"),
    Column("mem", "mem"),
    Column("node", "node"),
    Column("uptime", "uptime"),
)

RUN_STATUS_STYLE = {"running": "", "online": "", "stopped": "yellow", "paused": "yellow", "offline": "bold red"}


def run_status(status: str) -> Text:
    return Text(status, style=RUN_STATUS_STYLE.get(status, "bold magenta"))


def puppet_status(node: PuppetNodeStatus | None, now: datetime, stale_after: float) -> Text:
    """"failed 12m", "unchanged 3m", "stale 2h" (no report for longer than stale_after), or "—"."""
    if node is None:
        return Text(NO_VALUE, style="dim")
    if node.deactivated or node.expired:
        return Text("deactivated", style="dim")
    if node.report_timestamp is None or node.latest_report_status is None:
        return Text("no report", style="yellow")
    age = now - node.report_timestamp
    when = humanize_age(age)
    if node.latest_report_status == "failed":
        return Text(f"failed {when}", style="bold red")
    if age.total_seconds() > stale_after:
        return Text(f"stale {when}", style="yellow")
    style = "dim" if node.latest_report_status == "unchanged" else ""
    return Text(f"{node.latest_report_status} {when}" + (" noop" if node.noop else ""), style=style)


def puppet_by_host(store: Store, config: AppConfig) -> dict[str, tuple[PuppetNodeStatus, float]]:
    """Every PuppetDB node by host short name, with the stale threshold of the source it came from.
    A short name two certnames share is left out: which one is meant is not known (console.hosts)."""
    return {key: found[0] for key, found in puppet_nodes_by_host(store, config).items() if len(found) == 1}


def hosts_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    """Proxmox nodes then guests (templates left out), natural order, joined with their Puppet status."""
    nodes, guests = proxmox_machines(store)
    puppet = puppet_nodes_by_host(store, config)
    domains = config.farm.domains

    def puppet_cell(name: str) -> Text:
        found = puppet.get(short_name(name, domains), [])
        if len(found) > 1:  # never pick one silently
            return Text(f"? {len(found)} certnames", style="bold yellow")
        node, stale_after = found[0] if found else (None, DEFAULT_STALE_AFTER)
        return puppet_status(node, now, stale_after)

    rows = [
        Row(
            f"node:{node.name}",
            (
                Text(node.name, style="bold"),
                run_status(node.status),
                puppet_cell(node.name),
                percent(node.cpu),
                percent(node.mem, node.maxmem),
                NO_VALUE,  # a hypervisor runs on no node; its bold name and "online" set it apart
                humanize_uptime(node.uptime),
            ),
        )
        for node in sorted(nodes.values(), key=lambda n: natural_key(n.name))
    ]
    for guest in sorted(guests.values(), key=lambda g: natural_key(g.name)):
        running = guest.status == "running"
        rows.append(
            Row(
                f"guest:{guest.name}",
                (
                    guest.name,
                    run_status(guest.status),
                    puppet_cell(guest.name),
                    percent(guest.cpu) if running else NO_VALUE,
                    percent(guest.mem, guest.maxmem) if running else NO_VALUE,
                    guest.node,
                    humanize_uptime(guest.uptime) if running else NO_VALUE,
                ),
            )
        )
    # Hosts only Puppet knows (off-site VPSes like dns001) still belong on the list, marked as such.
    known = {short_name(name, domains) for name in (*nodes, *guests)}
    for name in sorted(puppet.keys() - known, key=natural_key):
        rows.append(
            Row(
                f"host:{name}",
                (name, Text("no VM", style="dim"), puppet_cell(name), NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE),
            )
        )
    kinds = ("proxmox", "puppetdb")
    return PaneView(HOST_COLUMNS, tuple(rows), feed_note(store, kinds, now), str(len(rows)), feed_detail(store, kinds))


# --- Services ----------------------------------------------------------------------------------

SERVICE_COLUMNS = (
    Column("service", "service"),
    Column("hosts", "hosts"),
    Column("state", "state"),
    Column("problems", "problem hosts"),
)
MAX_PROBLEM_HOSTS = 4


def icinga_checks(store: Store) -> list[ServiceCheck]:
    checks: list[ServiceCheck] = []
    for snapshot in store.data_of_kind("icinga"):
        assert isinstance(snapshot, IcingaSnapshot)
        checks.extend(snapshot.services)
    return checks


def worst_state_by_host(
    checks: Iterable[ServiceCheck], hosts_glob: str, names: Sequence[str], domains: Sequence[str]
) -> dict[str, CheckState]:
    """host short name -> its worst state among the service's checks (all its checks when none are named)."""
    worst: dict[str, CheckState] = {}
    for check in checks:
        host = short_name(check.host, domains)
        if not fnmatchcase(host, hosts_glob) or (names and check.service not in names):
            continue
        if host not in worst or SEVERITY[check.state] < SEVERITY[worst[host]]:
            worst[host] = check.state
    return worst


def state_summary(worst: dict[str, CheckState]) -> Text:
    """"✖ CRITICAL 1  ✔ OK 12": host counts per state, worst state first."""
    counts: dict[CheckState, int] = {}
    for state in worst.values():
        counts[state] = counts.get(state, 0) + 1
    parts = [
        Text(f"{STATE_SYMBOL[state]} {state.name} {counts[state]}", style=STATE_STYLE[state])
        for state in sorted(counts, key=SEVERITY.__getitem__)
    ]
    return Text("  ").join(parts)


def problem_hosts(worst: dict[str, CheckState]) -> str:
    names = sorted(
        (host for host, state in worst.items() if state != CheckState.OK),
        key=lambda host: (SEVERITY[worst[host]], natural_key(host)),
    )
    shown = ", ".join(names[:MAX_PROBLEM_HOSTS])
    extra = len(names) - MAX_PROBLEM_HOSTS
    return shown + (f" +{extra}" if extra > 0 else "")


def service_hosts(store: Store, config: AppConfig, name: str) -> list[tuple[str, CheckState]]:
    """The hosts of one configured service with their worst check state, worst first (then by name)."""
    service = next((s for s in config.services if s.name == name), None)
    if service is None:
        return []
    worst = worst_state_by_host(icinga_checks(store), service.hosts, service.checks, config.farm.domains)
    return sorted(worst.items(), key=lambda item: (SEVERITY[item[1]], natural_key(item[0])))


def services_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    """One row per configured service, in config order: its hosts' worst check states, counted."""
    has_data = bool(store.data_of_kind("icinga"))
    checks = icinga_checks(store)
    rows = []
    troubled = 0
    for service in config.services:
        worst = worst_state_by_host(checks, service.hosts, service.checks, config.farm.domains)
        if not has_data:
            cells: tuple[Cell, ...] = (service.name, NO_VALUE, Text("no data", style="dim"), "")
        elif not worst:
            cells = (service.name, "0", Text("no matching checks", style="dim"), "")
        else:
            problems = problem_hosts(worst)
            troubled += bool(problems)
            cells = (service.name, str(len(worst)), state_summary(worst), problems)
        rows.append(Row(service.name, cells))
    badge = f"✖ {troubled}" if troubled else ""
    return PaneView(SERVICE_COLUMNS, tuple(rows), feed_note(store, ("icinga",), now), badge, feed_detail(store, ("icinga",)))


# --- Alerts ------------------------------------------------------------------------------------

ALERT_COLUMNS = (
    # Read like a log line, "✖ CRITICAL ACK 11m mw152 PHP-FPM"; a narrow pane crops the output first,
    # never the flags: a handled problem must say so in words, not only by being dim.
    Column("state", "state"),
    Column("flags", "flags"),
    Column("age", "age"),
    Column("host", "host"),
    Column("service", "service"),
    Column("output", "output"),
)


def alert_order(check: ServiceCheck) -> tuple:
    """Unhandled first, then the most severe, then the oldest (unknown age last)."""
    since = check.last_state_change
    return (check.handled, SEVERITY[check.state], since is None, since or datetime.min)


def alert_flags(check: ServiceCheck) -> str:
    flags = [flag for flag, on in (("ACK", check.acknowledged), ("DOWNTIME", check.in_downtime)) if on]
    if not check.hard:
        flags.append("soft")
    return " ".join(flags)


def alerts_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    problems = sorted((c for c in icinga_checks(store) if c.state != CheckState.OK), key=alert_order)
    seen: set[str] = set()
    rows = []
    for check in problems:
        if check.key in seen:  # the same check from two Icinga sources
            continue
        seen.add(check.key)
        age = now - check.last_state_change if check.last_state_change else None
        rows.append(
            Row(
                check.key,
                (
                    state_label(check.state, dim=check.handled),
                    alert_flags(check),
                    humanize_age(age),
                    short_name(check.host, config.farm.domains),
                    check.service,
                    first_line(check.output),
                ),
            )
        )
    note, detail = feed_note(store, ("icinga",), now), feed_detail(store, ("icinga",))
    return PaneView(ALERT_COLUMNS, tuple(rows), note, str(len(rows)) if rows else "", detail)


# --- Commits -----------------------------------------------------------------------------------

COMMIT_COLUMNS = (
    Column("repo", "repo"),
    Column("sha", "sha"),
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


# --- Status bar --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source in the status bar: `text` in full, `short` when space is tight (errors stay whole)."""

    name: str
    kind: str
    ok: bool | None  # None: no answer yet
    text: Text
    short: Text


TLS_OFF = Text(" ⚠ TLS unverified", style="bold yellow")


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
    text = name + Text(f" {state.last.latency_ms:.0f}ms {humanize_age(state.age(now))}", style="dim") + warning
    return SourceHealth(state.name, state.kind, True, text, name + warning)


def status_items(store: Store, now: datetime, unverified: frozenset[str] = frozenset()) -> list[SourceHealth]:
    """Per source, in registration order: name, health, latency, the age of its data, and a warning
    for the sources in `unverified` (TLS verification off)."""
    return [source_health(state, now, state.name in unverified) for state in store.states()]


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
    The GitHub quota ends the line when it fits; a low quota stays before the healthy sources' details."""
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
    else:
        attempts = [attempt for parts in tiers for attempt in ([*parts, quota.text], parts)]
    for parts in attempts:
        line = gap.join(parts)
        if line.cell_len <= width:
            return line
    return gap.join(tiers[-1])
