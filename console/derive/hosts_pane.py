"""What the Hosts pane shows: one row per Proxmox guest, node or Puppet-only host. No Textual."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Callable, Sequence

from rich.text import Text

from console.core.clusters import clustered_key, proxmox_by_instance, several
from console.core.hosts import DEFAULT_STALE_AFTER, proxmox_machines, puppet_nodes_by_host, short_name
from console.core.model import (
    BackendSnapshot,
    Guest,
    HypervisorNode,
    LogSnapshot,
    PuppetNodeStatus,
)
from console.core.rows import NO_VALUE, Cell, Column, PaneView, Row, natural_key
from console.core.state import Store

if TYPE_CHECKING:
    from console.core.config import AppConfig
from console.derive.alerts import host_problems
from console.derive.alerts_pane import CLUSTER_COLUMN
from console.derive.cells import feed_detail, feed_note, humanize_age, humanize_uptime, percent

HOST_COLUMNS = (
    # Most telling first, so a narrow terminal crops the least useful columns.
    Column("host", "host", identifier=True),
    Column("status", "status"),
    Column("puppet", "puppet"),
    Column("cpu", "cpu"),
    Column("mem", "mem"),
    Column("node", "node", identifier=True),
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
    A short name two certnames share is left out: which one is meant is not known (console.core.hosts)."""
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
    known = {short_name(node.name, domains) for _, node in node_list} | {short_name(guest.name, domains) for _, guest in guest_list}
    for name in sorted(puppet.keys() - known, key=natural_key):
        rows.append(
            Row(
                f"host:{name}",
                (name, *cluster_cell(NO_VALUE), Text("no VM", style="dim"), puppet_cell(name),
                 NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE),
            )
        )
    kinds = ("proxmox", "puppetdb")
    columns: tuple[Column, ...] = (HOST_COLUMNS[0], CLUSTER_COLUMN, *HOST_COLUMNS[1:]) if clustered else HOST_COLUMNS
    columns, rows = with_error_counts(store, domains, columns, rows)
    rows = with_icinga_down(store, domains, columns, rows)
    rows = with_depooled(store, domains, columns, rows)
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


SAYS_UP = ("running", "online", "no VM")  # Proxmox says it runs (or knows nothing of it): Icinga's DOWN is news


def with_icinga_down(store: Store, domains: Sequence[str], columns: Sequence[Column], rows: Sequence[Row]) -> list[Row]:
    """The Hosts rows with Icinga's disagreement in words after the status: `running · DOWN` when
    Proxmox says running (online, or no VM) and Icinga reports the host DOWN or UNREACHABLE; with
    several Icinga instances, the one that says so: `running · DOWN (icinga2)`."""
    problems = host_problems(store)
    at = next((i for i, column in enumerate(columns) if column.key == "status"), None)
    if not problems or at is None:
        return list(rows)
    named = several(store, "icinga")
    words: dict[str, list[str]] = {}
    for instance, host in problems:
        words.setdefault(short_name(host.name, domains), []).append(
            f"{host.state_name} ({instance})" if named else host.state_name)

    def marked(row: Row) -> Row:
        name = row.cells[0].plain if isinstance(row.cells[0], Text) else str(row.cells[0])
        said = words.get(short_name(name, domains))
        status = row.cells[at]
        if not said or not (status.plain if isinstance(status, Text) else str(status)).startswith(SAYS_UP):
            return row
        cell = Text.assemble(status if isinstance(status, Text) else Text(status),
                             (f" · {', '.join(said)}", "bold red"))
        return Row(row.key, (*row.cells[:at], cell, *row.cells[at + 1:]))

    return [marked(row) for row in rows]


def depooled_hosts(store: Store, domains: Sequence[str]) -> dict[str, tuple[int, int]]:
    """host short name -> (caches where an operator set it sick, caches), from the `backends` source's
    last good answer; only the hosts depooled on at least one cache."""
    found: dict[str, tuple[int, int]] = {}
    for snapshot in store.data_of_kind("backends"):
        if not isinstance(snapshot, BackendSnapshot):
            continue
        for name, caches in snapshot.depooled().items():
            found[short_name(name, domains)] = (len(caches), len(snapshot.caches))
    return found


def with_depooled(store: Store, domains: Sequence[str], columns: Sequence[Column], rows: Sequence[Row]) -> list[Row]:
    """The Hosts rows with `· depooled 4/4` after the status (set sick on 4 of the 4 caches) for a host
    an operator took out of the caches; every other row as it was."""
    depooled = depooled_hosts(store, domains)
    at = next((i for i, column in enumerate(columns) if column.key == "status"), None)
    if not depooled or at is None:
        return list(rows)

    def marked(row: Row) -> Row:
        name = row.cells[0].plain if isinstance(row.cells[0], Text) else str(row.cells[0])
        found = depooled.get(short_name(name, domains))
        if found is None:
            return row
        status = row.cells[at]
        cell = Text.assemble(status if isinstance(status, Text) else Text(status),
                             (f" · depooled {found[0]}/{found[1]}", "bold yellow"))
        return Row(row.key, (*row.cells[:at], cell, *row.cells[at + 1:]))

    return [marked(row) for row in rows]
