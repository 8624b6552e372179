"""What each pane shows, derived from the store: rows (a key and cells) and the columns. No Textual.

Every function takes `now` from the caller (the app's injected clock), so the same store always
gives the same rows. Meaning is carried by words and symbols; colour only repeats it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import translate
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from rich.text import Text

from console.alerts import BOTH, merged_alerts
from console.clusters import clustered_key, proxmox_by_instance, several
from console.hosts import DEFAULT_STALE_AFTER, proxmox_machines, puppet_nodes_by_host, short_name
from console.model import (
    CheckState,
    Commit,
    CommitLog,
    Guest,
    HypervisorNode,
    IcingaSnapshot,
    LogSnapshot,
    ProbeResult,
    ProbeSnapshot,
    PuppetNodeStatus,
    ServiceCheck,
)
from console.rows import NO_VALUE, Cell, Column, PaneView, Row, natural_key
from console.state import SourceState, Store

if TYPE_CHECKING:
    from console.config import AppConfig


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
    """Proxmox nodes then guests (templates left out), natural order, joined with their Puppet status.
    With several Proxmox instances, a cluster column and one row per (instance, machine)."""
    clustered = several(store, "proxmox")
    if clustered:
        node_list, guest_list = proxmox_by_instance(store)
    else:
        merged_nodes, merged_guests = proxmox_machines(store)
        node_list, guest_list = [("", n) for n in merged_nodes.values()], [("", g) for g in merged_guests.values()]
    puppet = puppet_nodes_by_host(store, config)
    domains = config.farm.domains

    def puppet_cell(name: str) -> Text:
        found = puppet.get(short_name(name, domains), [])
        if len(found) > 1:  # never pick one silently
            return Text(f"? {len(found)} certnames", style="bold yellow")
        node, stale_after = found[0] if found else (None, DEFAULT_STALE_AFTER)
        return puppet_status(node, now, stale_after)

    def by_name(item: tuple[str, HypervisorNode | Guest]) -> tuple:
        return natural_key(item[1].name), item[0]

    cluster_cell: Callable[[str], tuple[Cell, ...]] = (lambda c: (c,)) if clustered else (lambda c: ())
    rows = [
        Row(
            clustered_key(f"node:{node.name}", cluster, clustered),
            (
                Text(node.name, style="bold"),
                *cluster_cell(cluster),
                run_status(node.status),
                puppet_cell(node.name),
                percent(node.cpu),
                percent(node.mem, node.maxmem),
                NO_VALUE,  # a hypervisor runs on no node; its bold name and "online" set it apart
                humanize_uptime(node.uptime),
            ),
        )
        for cluster, node in sorted(node_list, key=by_name)
    ]
    for cluster, guest in sorted(guest_list, key=by_name):
        running = guest.status == "running"
        rows.append(
            Row(
                clustered_key(f"guest:{guest.name}", cluster, clustered),
                (
                    guest.name,
                    *cluster_cell(cluster),
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
    known = {short_name(machine.name, domains) for _, machine in (*node_list, *guest_list)}
    for name in sorted(puppet.keys() - known, key=natural_key):
        rows.append(
            Row(
                f"host:{name}",
                (name, *cluster_cell(NO_VALUE), Text("no VM", style="dim"), puppet_cell(name),
                 NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE),
            )
        )
    kinds = ("proxmox", "puppetdb")
    columns = (HOST_COLUMNS[0], CLUSTER_COLUMN, *HOST_COLUMNS[1:]) if clustered else HOST_COLUMNS
    columns, rows = with_error_counts(store, domains, columns, rows)
    return PaneView(columns, tuple(rows), feed_note(store, kinds, now), str(len(rows)), feed_detail(store, kinds))


ERRORS_COLUMN = Column("errors", "err/5m")


def error_counts_by_host(store: Store, domains: Sequence[str]) -> dict[str, int] | None:
    """Error-level log messages per host short name over the Graylog sources' window (one aggregate
    query each), summed across them; None when no Graylog source has answered (or none is configured)."""
    snapshots = [s for s in store.data_of_kind("graylog") if isinstance(s, LogSnapshot)]
    if not snapshots:
        return None
    counts: dict[str, int] = {}
    for snapshot in snapshots:
        for source, count in snapshot.error_counts:
            name = short_name(source, domains)
            counts[name] = counts.get(name, 0) + count
    return counts


def with_error_counts(store: Store, domains: Sequence[str], columns: Sequence[Column], rows: Sequence[Row]) -> tuple[tuple[Column, ...], list[Row]]:
    """The Hosts rows with an `err/5m` cell after `puppet`: blank without Graylog data, else the
    count, in bold red when above 0."""
    counts = error_counts_by_host(store, domains)
    at = next((i + 1 for i, column in enumerate(columns) if column.key == "puppet"), len(columns))

    def cell(row: Row) -> Cell:
        if counts is None:
            return ""
        name = row.cells[0].plain if isinstance(row.cells[0], Text) else str(row.cells[0])
        count = counts.get(short_name(name, domains), 0)
        return Text(str(count), style="bold red") if count else Text("0", style="dim")

    with_cells = [Row(row.key, (*row.cells[:at], cell(row), *row.cells[at:])) for row in rows]
    return (*columns[:at], ERRORS_COLUMN, *columns[at:]), with_cells


# --- Services ----------------------------------------------------------------------------------

SERVICE_COLUMNS = (
    Column("service", "service"),
    Column("hosts", "hosts"),
    Column("state", "state"),
    Column("probe", "probe"),  # the console's own probes: still meaningful when Icinga is down
    Column("problems", "problem hosts"),
)
MAX_PROBLEM_HOSTS = 4


def icinga_checks(store: Store) -> list[ServiceCheck]:
    checks: list[ServiceCheck] = []
    for snapshot in store.data_of_kind("icinga"):
        assert isinstance(snapshot, IcingaSnapshot)
        checks.extend(snapshot.services)
    return checks


def checks_by_host(checks: Iterable[ServiceCheck], domains: Sequence[str]) -> dict[str, list[ServiceCheck]]:
    """host short name -> its checks (grouped once, then matched against every service's host glob)."""
    by_host: dict[str, list[ServiceCheck]] = {}
    short: dict[str, str] = {}
    for check in checks:
        host = short.get(check.host)
        if host is None:
            host = short[check.host] = short_name(check.host, domains)
        by_host.setdefault(host, []).append(check)
    return by_host


def worst_state_by_host(
    by_host: dict[str, list[ServiceCheck]], hosts_glob: str, names: Sequence[str]
) -> dict[str, CheckState]:
    """host short name -> its worst state among the service's checks (all its checks when none are named)."""
    matches = re.compile(translate(hosts_glob)).match
    worst: dict[str, CheckState] = {}
    for host, checks in by_host.items():
        if not matches(host):
            continue
        for check in checks:
            if names and check.service not in names:
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
    worst = worst_state_by_host(checks_by_host(icinga_checks(store), config.farm.domains), service.hosts, service.checks)
    return sorted(worst.items(), key=lambda item: (SEVERITY[item[1]], natural_key(item[0])))


def services_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    """One row per configured service, in config order: its hosts' worst check states, counted."""
    has_data = bool(store.data_of_kind("icinga"))
    by_host = checks_by_host(icinga_checks(store), config.farm.domains)
    probes = probe_results(store)
    rows = []
    troubled = 0
    for service in config.services:
        worst = worst_state_by_host(by_host, service.hosts, service.checks)
        results = probes.get(service.name)
        probe = probe_summary(results) if service.probes else Text(NO_VALUE, style="dim")
        failing_probe = any(not r.ok for r in results or ())
        if not has_data:
            cells: tuple[Cell, ...] = (service.name, NO_VALUE, Text("no data", style="dim"), probe, "")
            troubled += failing_probe
        elif not worst:
            cells = (service.name, "0", Text("no matching checks", style="dim"), probe, "")
            troubled += failing_probe
        else:
            problems = problem_hosts(worst)
            troubled += bool(problems) or failing_probe
            cells = (service.name, str(len(worst)), state_summary(worst), probe, problems)
        rows.append(Row(service.name, cells))
    badge = f"✖ {troubled}" if troubled else ""
    kinds = ("icinga", "probes") if store.of_kind("probes") else ("icinga",)
    return PaneView(SERVICE_COLUMNS, tuple(rows), feed_note(store, kinds, now), badge, feed_detail(store, kinds))


def probe_results(store: Store) -> dict[str, list[ProbeResult]]:
    """service name -> its probes' last results, failing first (then in config order)."""
    by_service: dict[str, list[ProbeResult]] = {}
    for snapshot in store.data_of_kind("probes"):
        assert isinstance(snapshot, ProbeSnapshot)
        for result in snapshot.results:
            by_service.setdefault(result.service, []).append(result)
    return {name: sorted(results, key=lambda r: r.ok) for name, results in by_service.items()}


def probe_summary(results: Sequence[ProbeResult] | None) -> Text:
    """"✔ 3/3 12ms" (the slowest probe's latency), or the first failing one: "✖ mw152 api.php: HTTP 502 +1"."""
    if results is None:
        return Text("loading…", style="dim")
    if not results:
        return Text(NO_VALUE, style="dim")
    failing = [r for r in results if not r.ok]
    if failing:
        more = f" +{len(failing) - 1}" if len(failing) > 1 else ""
        return Text(f"✖ {failing[0].label}: {short_error(failing[0].detail)}{more}", style="bold red")
    slowest = max((r.latency_ms or 0.0) for r in results)
    return Text(f"✔ {len(results)}/{len(results)} {slowest:.0f}ms", style="green")


# --- Alerts ------------------------------------------------------------------------------------

ALERT_COLUMNS = (
    # Read like a log line, "✖ CRITICAL ACK 11m mw152 PHP-FPM"; a narrow pane crops the output first,
    # never the flags: a handled problem must say so in words, not only by being dim.
    Column("state", "state"),
    Column("flags", "flags"),
    Column("age", "age"),
    Column("host", "host"),
    Column("service", "service / event"),
    Column("output", "output"),
)
CLUSTER_COLUMN = Column("cluster", "cluster")  # the source instance, shown when a kind has several


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
    """Icinga problems and Graylog alert events merged (console.alerts: severity, dedupe, order);
    handled rows dimmed; a cluster column when there are several Icinga or Graylog instances."""
    clustered = several(store, "icinga") or several(store, "graylog")
    # where an alert comes from matters less than what it is: "from" follows the service, before the output
    columns = (ALERT_COLUMNS[:3] + ((CLUSTER_COLUMN,) if clustered else ()) + ALERT_COLUMNS[3:5]
               + (Column("from", "from"),) + ALERT_COLUMNS[5:])
    rows = []
    handled = set()
    for alert in merged_alerts(store, config.farm.domains):
        age = now - alert.since if alert.since else None
        if alert.check is not None:
            flags = alert_flags(alert.check)
        else:  # a Graylog event: how often it fired in the window
            flags = f"{len(alert.events)}×" if len(alert.events) > 1 else ""
        output = first_line(alert.check.output) if alert.check is not None else first_line(alert.output)
        if alert.origin == BOTH:
            output = f"{output} | graylog: {first_line(alert.events[0].message, 60)}"
        cells: tuple[Cell, ...] = (
            state_label(alert.state, dim=alert.handled),
            flags,
            humanize_age(age),
            *((alert.cluster,) if clustered else ()),
            short_name(alert.host, config.farm.domains) if alert.host else NO_VALUE,
            alert.name,
            alert.origin,
            output,
        )
        if alert.handled:  # the whole row recedes; the flags still say why in words
            handled.add(alert.key)
            cells = (cells[0], *(Text(cell, style="dim") if isinstance(cell, str) else cell for cell in cells[1:]))
        rows.append(Row(alert.key, cells))
    kinds = ("icinga", "graylog")
    note, detail = feed_note(store, kinds, now), feed_detail(store, kinds)
    return PaneView(columns, tuple(rows), note, str(len(rows)) if rows else "", detail, handled=frozenset(handled))


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
    partial = getattr(state.last.data, "partial_errors", ())  # a part failed, the rest is on screen
    warning = Text("".join(f" ▲ {partial_problem(problem)}" for problem in partial), style="bold yellow") + warning
    stream, stream_short = stream_note(state, now)
    text = name + stream + Text(f" {state.last.latency_ms:.0f}ms {humanize_age(state.age(now))}", style="dim") + warning
    return SourceHealth(state.name, state.kind, True, text, name + stream_short + warning)


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
