"""The host detail: one host across every system. Loaders fetch what the store does not hold (usage
history, the last Puppet run, the host's log lines) and never raise — a failure is a value shown in
its own section. Render functions turn data into Rich Text and table rows. No Textual.

Every string from outside (a backend's names, outputs and messages, an error) passes the display-safe
function (console.core.display) on its way into a Text: never markup, never a control character. Names
(hosts, services, certnames, resources, URLs) as identifiers; a whole message keeps its line breaks.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Generic, Sequence, TypeVar

from rich.table import Table
from rich.text import Text

from console.core.display import safe, safe_text
from console.core.hosts import HostIdentity, HostLink, short_name, url_copy_problem
from console.core.model import (
    CheckState,
    Commit,
    HypervisorNode,
    IcingaHostState,
    IcingaSnapshot,
    LogMessage,
    LogSnapshot,
    ProxmoxInventory,
    ServiceCheck,
)
from console.core.rows import NO_VALUE, Column, Row
from console.core.state import Store
from console.derive.alerts_pane import alert_flags, alert_order
from console.derive.cells import first_line, humanize_age, humanize_uptime, percent, state_label
from console.derive.commits_pane import SUSPECT_MARK, SUSPECT_STYLE, is_suspect, merged_commits
from console.derive.hosts_pane import run_status
from console.derive.services_pane import icinga_checks
from console.sources.base import describe_error
from console.sources.graylog import GraylogSource
from console.sources.icinga import IcingaSource
from console.sources.proxmox import ProxmoxSource
from console.sources.puppetdb import PuppetDBSource

T = TypeVar("T")
LOADING = Text("loading…", style="dim")
LOG_LINES = 100
COMMIT_HOURS = 24
MAX_COMMITS = 10
MAX_EVENTS = 8
GIB = 1 << 30


@dataclass(frozen=True, slots=True)
class Loaded(Generic[T]):
    """What a loader brought: `data`, or `error` (both when only part of it failed)."""

    data: T | None = None
    error: str | None = None


async def guarded(call: Awaitable[T], timeout: float) -> Loaded[T]:
    """Await `call`; any failure (cancellation aside) becomes Loaded(error=...)."""
    try:
        return Loaded(await call)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a section shows its own failure
        return Loaded(error=describe_error(exc, timeout))


# --- usage history (Proxmox rrddata) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageHistory:
    """Percentages over the last hour, oldest first (points without data are left out)."""

    cpu: tuple[float, ...]
    mem: tuple[float, ...]


def usage_history(points: Sequence[dict[str, float]]) -> UsageHistory:
    """Guest points (cpu 0..1, mem/maxmem) or node points (cpu, memused/memtotal) → percentages."""
    cpu, mem = [], []
    for point in points:
        if "cpu" in point:
            cpu.append(100 * point["cpu"])
        used, total = point.get("mem", point.get("memused")), point.get("maxmem", point.get("memtotal"))
        if used is not None and total:
            mem.append(100 * used / total)
    return UsageHistory(tuple(cpu), tuple(mem))


async def load_usage(source: ProxmoxSource, identity: HostIdentity) -> Loaded[UsageHistory]:
    """The last hour of the guest's (or the hypervisor's) CPU and memory."""
    if identity.guest is not None:
        guest = identity.guest
        call = source.guest_rrddata(guest.node, guest.vmid, "hour", kind=guest.kind)
    elif identity.hypervisor is not None:
        call = source.node_rrddata(identity.hypervisor.name, "hour")
    else:
        return Loaded(error="not in Proxmox")
    loaded = await guarded(call, source.timeout)
    return Loaded(usage_history(loaded.data)) if loaded.data is not None else Loaded(error=loaded.error)


BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int, top: float = 100.0) -> str:
    """Bars on a FIXED scale 0..top (a steady 21 % stays low; Textual's Sparkline scales min..max),
    one bar per bucket of points (the bucket's maximum), at most `width` bars."""
    if width <= 0 or not values:
        return ""
    count = min(width, len(values))
    bars = []
    for index in range(count):
        bucket = values[index * len(values) // count : (index + 1) * len(values) // count] or values[-1:]
        level = max(0.0, min(max(bucket) / top, 1.0))
        bars.append(BARS[min(len(BARS) - 1, int(level * len(BARS)))])
    return "".join(bars)


def usage_line(label: str, values: Sequence[float], width: int) -> Text:
    """"cpu ▁▁▃▅▂▁ 2% now, max 45% (1h)" in `width` cells."""
    if not values:
        return Text(f"{label} no data in the last hour", style="dim")
    tail = f" {values[-1]:.0f}% now, max {max(values):.0f}% (1h)"
    head = f"{label:<4}"
    bars = sparkline(values, width - len(head) - len(tail))
    style = "bold red" if values[-1] >= 90 else ("yellow" if values[-1] >= 75 else "cyan")
    return Text.assemble(head, (bars, style), tail)


# --- Puppet --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PuppetRun:
    """The node's latest report, its resource events, and whether the agent is disabled (from the
    configured fact: None when not configured, False when enabled, else the message or True)."""

    report: dict[str, Any] | None
    events: tuple[dict[str, Any], ...]
    disabled: str | bool | None = None


# `<reason> - <user>@<host> - T123`: how the console's own reasons name who gave them (actions/plan.py Reason)
DISABLED_BY = re.compile(r"(?:^|\s)-\s+([A-Za-z0-9_][\w.+-]*@[A-Za-z0-9][\w.-]*)(?=\s+-\s|\s*$)")


def disabled_by(message: str) -> str | None:
    """Who disabled the agent, when its message names someone as the console's reasons do
    (`php upgrade - alice@bast161 - T123` -> `alice@bast161`); the last such name. Raw: show it safe."""
    found = DISABLED_BY.findall(message)
    return found[-1] if found else None


def report_time(report: dict[str, Any] | None) -> datetime | None:
    """When a report was made (producer_timestamp, else its end, its receipt or its start)."""
    if report is None:
        return None
    return next((report[key] for key in ("producer_timestamp", "end_time", "receive_time", "start_time")
                 if isinstance(report.get(key), datetime)), None)


def disabled_from_fact(value: Any) -> str | bool:
    """The fact's value → False (enabled), True (disabled, no message) or the message."""
    if isinstance(value, str):
        return value.strip() or False
    return value is True


async def load_puppet(source: PuppetDBSource, certname: str, disabled_fact: str | None) -> Loaded[PuppetRun]:
    """The latest report of `certname`, its events, and the disabled fact when one is configured."""

    async def fetch() -> PuppetRun:
        reports = await source.reports(certname, limit=1)
        report = reports[0] if reports else None
        events = await source.events(report["hash"]) if report else []
        disabled = disabled_from_fact(await source.fact(certname, disabled_fact)) if disabled_fact else None
        return PuppetRun(report, tuple(events), disabled)

    return await guarded(fetch(), source.timeout * 3)


STATUS_LOOK = {"failed": ("✖", "bold red"), "changed": ("●", "cyan"), "unchanged": ("✔", "green")}
EVENT_LOOK = {"failure": ("✖", "bold red"), "skipped": ("↷", "yellow"), "noop": ("◌", "yellow"), "success": ("✔", "green")}


def puppet_text(identity: HostIdentity, run: Loaded[PuppetRun] | None, now: datetime, configured: bool) -> Text:
    """Last run (status, age, time), noop, stale, disabled and why, then the run's events."""
    node = identity.puppet
    if node is None:
        why = "no puppetdb source configured" if not configured else "not in PuppetDB"
        return Text(why, style="dim")
    lines = [_run_line(identity, now)]
    if run is None:
        lines.append(LOADING)
    elif run.error:
        lines.append(Text(f"✖ last report: {safe(run.error)}", style="bold red"))
    if run is not None and run.data is not None:
        lines.extend(_run_details(run.data, now))
    return Text("\n").join(lines)


def _run_line(identity: HostIdentity, now: datetime) -> Text:
    node = identity.puppet
    assert node is not None
    if node.deactivated or node.expired:
        return Text("deactivated in PuppetDB", style="dim")
    if node.latest_report_status is None or node.report_timestamp is None:
        return Text("no report yet", style="yellow")
    symbol, style = STATUS_LOOK.get(node.latest_report_status, ("?", "bold magenta"))
    age = now - node.report_timestamp
    line = Text.assemble(
        (f"{symbol} {safe(node.latest_report_status)}", style),
        f" {humanize_age(age)} ago ({node.report_timestamp:%H:%M} UTC)",
    )
    if node.noop:
        line.append("  ◌ noop", style="yellow")
    if age.total_seconds() > identity.stale_after:
        line.append(f"  ▲ stale: no report for {humanize_age(age)}", style="bold yellow")
    if node.cached_catalog_status not in (None, "not_used"):
        line.append(f"  cached catalog: {safe(node.cached_catalog_status)}", style="yellow")
    return line


def _run_details(run: PuppetRun, now: datetime) -> list[Text]:
    lines = []
    if run.disabled:
        reason = run.disabled if isinstance(run.disabled, str) else "no message given"
        lines.append(Text(f"⏸ agent disabled: {safe(reason)}", style="bold yellow"))
        when = disabled_when(run, now)
        who = disabled_by(run.disabled) if isinstance(run.disabled, str) else None
        if when or who:
            by = Text.assemble(("by ", ""), (safe(who, identifier=True), "bold")) if who else Text("")
            lines.append(Text.assemble("  ", when, " · " if when and who else "", by, style="yellow"))
    if run.report is None:
        return [*lines, Text("no report in PuppetDB", style="dim")]
    if run.report.get("noop") and not lines:
        lines.append(Text("◌ the last run was a noop run", style="yellow"))
    events = run.events
    if not events:
        lines.append(Text("no resource events in the last run", style="dim"))
    for event in events[:MAX_EVENTS]:
        lines.append(event_line(event))
    if len(events) > MAX_EVENTS:
        lines.append(Text(f"+{len(events) - MAX_EVENTS} more events", style="dim"))
    return lines


def disabled_when(run: PuppetRun, now: datetime) -> str:
    """Since when the agent is disabled, as PuppetDB can tell: its facts carry no time of their own
    (PuppetDB v4 keeps one `facts_timestamp` per node, moved by every upload), and a disabled agent
    stops reporting, so its last report is the last run before the disabling ("" when unknown)."""
    at = report_time(run.report)
    if at is None:
        return ""
    return f"since its last run, {humanize_age(now - at)} ago ({at:%H:%M} UTC)"


def event_line(event: dict[str, Any]) -> Text:
    """"✖ File[/srv/mediawiki/robots.php]: Could not evaluate: ..." (the status in a symbol and in the message)."""
    status = str(event.get("status") or "?")
    symbol, style = EVENT_LOOK.get(status, ("?", "bold magenta"))
    resource = safe(f"{event.get('resource_type')}[{event.get('resource_title')}]", identifier=True)
    # a failure's message is the diagnosis: in full; a routine change's (content checksums) in short
    message = safe(first_line(str(event.get("message") or status), 300 if status == "failure" else 60))
    return Text.assemble((f"{symbol} ", style), (resource, "bold" if status == "failure" else ""), f": {message}")


# --- the host's open alerts ----------------------------------------------------------------------


def host_checks(store: Store, identity: HostIdentity, domains: Sequence[str]) -> list[ServiceCheck]:
    """The host's Icinga problems in the Alerts pane's order (by its Icinga name, or by short name
    when Icinga's name for it is ambiguous — each line then names the Icinga host)."""
    wanted = {identity.icinga_name} if identity.icinga_name else set()
    seen: set[str] = set()
    found = []
    for check in sorted(icinga_checks(store), key=alert_order):
        if check.state == CheckState.OK or check.key in seen:
            continue
        if check.host in wanted or (not wanted and short_name(check.host, domains) == identity.name):
            seen.add(check.key)
            found.append(check)
    return found


def host_state(store: Store, identity: HostIdentity) -> IcingaHostState | None:
    for snapshot in store.data_of_kind("icinga"):
        assert isinstance(snapshot, IcingaSnapshot)
        for host in snapshot.hosts:
            if host.name == identity.icinga_name:
                return host
    return None


def alerts_text(
    store: Store, identity: HostIdentity, now: datetime, domains: Sequence[str], host_output: str | None = None
) -> Text:
    """`host_output`: a DOWN host's plugin output when the snapshot has none (the refresh leaves it out,
    the detail loads it: load_host_output)."""
    if not store.of_kind("icinga"):
        return Text("no icinga source configured", style="dim")
    if not store.data_of_kind("icinga"):
        return LOADING
    lines = []
    state = host_state(store, identity)
    if state is not None and not state.up:
        flags = " ".join(f for f, on in (("ACK", state.acknowledged), ("DOWNTIME", state.in_downtime)) if on)
        # the first line of the whole output (load_host_output): its line breaks are kept up to here
        output = safe(first_line(state.output or host_output or "", 80), multiline=True)
        lines.append(Text(f"✖ HOST DOWN {flags} {output}".replace("  ", " "), style="bold red"))
    for check in host_checks(store, identity, domains):
        age = humanize_age(now - check.last_state_change) if check.last_state_change else NO_VALUE
        who = f"{safe(check.host, identifier=True)} " if check.host != identity.icinga_name else ""
        flags = alert_flags(check)
        lines.append(
            Text.assemble(
                state_label(check.state, dim=check.handled),
                f" {flags + ' ' if flags else ''}{age:>3} {who}",
                (safe(check.service, identifier=True), "bold"),
                f"  {safe(first_line(check.output, 120))}",
            )
        )
    if not lines:
        if identity.icinga_name is None:
            return Text("not in Icinga", style="dim")
        return Text("✔ no open alerts", style="green")
    return one_line_each(lines)


def needs_host_output(store: Store, identity: HostIdentity) -> bool:
    """The host is DOWN and the snapshot carries no output for it (see IcingaSource.host_output)."""
    state = host_state(store, identity)
    return state is not None and not state.up and not state.output


async def load_host_output(sources: Sequence[IcingaSource], name: str) -> Loaded[str]:
    """One host's last check output from the first Icinga source that knows it (one request each)."""
    errors = []
    for source in sources:
        loaded = await guarded(source.host_output(name), source.timeout)
        if loaded.data:
            return loaded
        if loaded.error:
            errors.append(loaded.error)
    return Loaded(error="; ".join(errors)) if errors else Loaded("")


def one_line_each(lines: Sequence[Text]) -> Text:
    """Lines meant not to wrap (the screen crops them with "…"; the panes show the rest)."""
    text = Text("\n").join(safe_text(line, multiline=True) for line in lines)
    text.no_wrap, text.overflow = True, "ellipsis"
    return text


# --- the machine (Proxmox) -----------------------------------------------------------------------


def hypervisor_of(store: Store, identity: HostIdentity) -> HypervisorNode | None:
    """The Proxmox node the guest runs on (from the same source)."""
    if identity.hypervisor is not None:
        return identity.hypervisor
    for state in store.of_kind("proxmox"):
        if state.name == identity.proxmox_source and isinstance(state.data, ProxmoxInventory):
            return next((n for n in state.data.nodes if n.name == identity.node), None)
    return None


def machine_text(store: Store, identity: HostIdentity) -> Text:
    """The guest's and its node's status, usage and uptime."""
    if not store.of_kind("proxmox"):
        return Text("no proxmox source configured", style="dim")
    guest = identity.guest
    lines = []
    if guest is not None:
        kind = "VM" if guest.kind == "qemu" else "CT"
        line = Text.assemble(f"{kind} {guest.vmid} on {safe(guest.node, identifier=True)}  ", run_status(safe(guest.status)))
        if guest.status == "running":
            line.append(f"  up {humanize_uptime(guest.uptime)}")
        line.append(f"  {guest.maxcpu or '?'} vCPU  {_gib(guest.maxmem)}", style="dim")
        lines.append(line)
    elif identity.hypervisor is None:
        return Text("not in Proxmox" if store.data_of_kind("proxmox") else "loading…", style="dim")
    node = hypervisor_of(store, identity)
    if node is not None:
        line = Text.assemble(f"node {safe(node.name, identifier=True)}  ", run_status(safe(node.status)))
        line.append(f"  up {humanize_uptime(node.uptime)}  cpu {percent(node.cpu)}  mem {percent(node.mem, node.maxmem)}")
        line.append(f" of {_gib(node.maxmem)}", style="dim")
        lines.append(line)
    return Text("\n").join(lines)


def _gib(size: int | None) -> str:
    return f"{size / GIB:.0f} GiB" if size else "?"


# --- logs (Graylog) ------------------------------------------------------------------------------

LOG_COLUMNS = (Column("time", "time"), Column("level", "level"), Column("app", "app"), Column("message", "message"))
LEVEL_NAMES = {0: "emerg", 1: "alert", 2: "crit", 3: "err", 4: "warn", 5: "notice", 6: "info", 7: "debug"}
LEVEL_STYLES = {0: "bold red", 1: "bold red", 2: "bold red", 3: "red", 4: "yellow", 5: "", 6: "", 7: "dim"}
MAX_MESSAGE = 400
# "2026/08/14 09:27:58 " at the start of a message (nginx writes one): the time column says it already
LEADING_TIME = re.compile(r"^\d{4}[/-]\d\d[/-]\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+")


async def load_logs(sources: Sequence[GraylogSource], identity: HostIdentity, size: int = LOG_LINES) -> Loaded[LogSnapshot]:
    """The host's latest `size` lines from every Graylog source, newest first; a failing source's
    error comes with the others' lines."""
    if not sources:
        return Loaded(error="no graylog source configured")
    results = await asyncio.gather(*(guarded(s.host_messages(identity.log_sources, size), s.timeout) for s in sources))
    messages = sorted((m for r in results if r.data for m in r.data.messages), key=lambda m: m.timestamp, reverse=True)
    errors = [f"{s.name}: {r.error}" if len(sources) > 1 else r.error for s, r in zip(sources, results, strict=False) if r.error]
    if len(errors) == len(sources):
        return Loaded(error="; ".join(e for e in errors if e))
    return Loaded(LogSnapshot(tuple(messages[:size])), "; ".join(e for e in errors if e) or None)


def level_text(level: int | None) -> Text:
    """"err" in red: the level's word, coloured (never colour alone)."""
    if level is None:
        return Text("?", style="dim")
    return Text(LEVEL_NAMES.get(level, str(level)), style=LEVEL_STYLES.get(level, ""))


def log_rows(snapshot: LogSnapshot) -> tuple[Row, ...]:
    """One row per line: time (UTC), level, application, message (on one line)."""
    rows = []
    for index, message in enumerate(snapshot.messages):
        key = message.message_id or f"{message.timestamp.isoformat()}#{index}"
        style = LEVEL_STYLES.get(message.level, "") if message.level is not None and message.level <= 3 else ""
        rows.append(
            Row(
                key,
                (
                    f"{message.timestamp:%H:%M:%S}",
                    level_text(message.level),
                    safe_text(message.application or NO_VALUE),
                    safe_text(one_line(message.message), style=style),
                ),
            )
        )
    return tuple(rows)


def one_line(message: str) -> str:
    """A log message on one line (" ⏎ " between its lines), its leading timestamp left out, cut at
    MAX_MESSAGE characters: still raw, for safe_text."""
    text = LEADING_TIME.sub("", " ⏎ ".join(message.strip().splitlines()))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def full_message(message: LogMessage) -> str:
    """The whole line (enter on it), display-safe with its line breaks."""
    level = LEVEL_NAMES.get(message.level if message.level is not None else -1, "?")
    source = safe(message.source, identifier=True)
    return f"{message.timestamp:%Y-%m-%d %H:%M:%S} UTC {level} {source}: {safe(message.message, multiline=True)}"


# --- commits -------------------------------------------------------------------------------------


def recent_commits(store: Store, now: datetime, hours: int = COMMIT_HOURS) -> list[Commit]:
    """Every repository's commits of the last `hours`, newest first."""
    since = now - timedelta(hours=hours)
    return [commit for commit in merged_commits(store) if commit.date >= since]


def commits_text(store: Store, now: datetime, start: datetime | None) -> Text:
    """The last day's commits, newest first; those that landed just before the top alert are marked."""
    if not store.of_kind("commits"):
        return Text("no commits source configured", style="dim")
    if not store.data_of_kind("commits"):
        return LOADING
    commits = recent_commits(store, now)
    if not commits:
        return Text(f"no commits in the last {COMMIT_HOURS}h", style="dim")
    lines = []
    for commit in commits[:MAX_COMMITS]:
        suspect = is_suspect(commit, start)
        mark = f"{SUSPECT_MARK} " if suspect else "  "
        line = Text.assemble(
            (mark, SUSPECT_STYLE),
            (f"{humanize_age(now - commit.date):>3} ", "dim"),
            (f"{safe(commit.repo.rsplit('/', 1)[-1], identifier=True)} {safe(commit.short_sha, identifier=True)} ", ""),
            (safe(first_line(commit.subject, 90)), SUSPECT_STYLE if suspect else ""),
            (f"  {safe(commit.author)}", "dim"),
        )
        lines.append(line)
    if len(commits) > MAX_COMMITS:
        lines.append(Text(f"  +{len(commits) - MAX_COMMITS} more in the Commits pane (4)", style="dim"))
    return one_line_each(lines)


# --- identity and links --------------------------------------------------------------------------


def identity_text(identity: HostIdentity, ssh: list[str] | None) -> Text:
    """"mw152  Proxmox mw152 · PuppetDB mw152.fsslc.wtnet · Icinga mw152 · ssh mw152.fsslc.wtnet":
    what each system calls the host ("—": it does not know it), then any naming problem."""
    machine = identity.guest or identity.hypervisor
    names = (
        ("Proxmox", machine.name if machine else None),
        ("PuppetDB", identity.certname),
        ("Icinga", identity.icinga_name),
        ("ssh", ssh[-1] if ssh else None),
    )
    line = safe_text(identity.name, identifier=True, style="bold")
    for system, name in names:
        line.append(f"  {system} ", style="dim")
        line.append_text(safe_text(name, identifier=True) if name else Text(NO_VALUE, style="dim"))
    lines = [line]
    # a note names hosts (it quotes the names it was given): shown as identifiers are
    if not identity.known:
        lines.append(safe_text(f"▲ {identity.notes[0] if identity.notes else 'unknown host'}", identifier=True, style="bold yellow"))
    else:
        lines.extend(safe_text(f"▲ {note}", identifier=True, style="bold yellow") for note in identity.notes)
    return Text("\n").join(lines)


def links_table(links: Sequence[HostLink]) -> Table | Text:
    """Each link in full, folded when long (a terminal may make it clickable; `y` copies it), or why
    it cannot be made."""
    if not links:
        return Text("no links configured (links: in the config)", style="dim")
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for link in links:
        name = safe_text(link.name, identifier=True)
        problem = url_copy_problem(link.url) if link.url else None
        if link.url and problem is None:
            table.add_row(name, Text(link.url, style=f"link {link.url}"))
        elif link.url:  # shown, never made a link the terminal would follow, and `y` refuses it
            table.add_row(name, Text.assemble(safe_text(link.url, identifier=True), (f"  ▲ {problem}", "bold yellow")))
        else:
            table.add_row(name, safe_text(f"— {link.missing}", style="dim"))
    return table
