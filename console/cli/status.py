"""`opsconsole status`: one refresh of every source, as a table or as JSON for scripts and bots.

The JSON follows console/cli/status.schema.json (schema_version 1). No secret ever appears in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import replace
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Sequence

import click

from console.cli.options import global_options, global_value, load_or_exit, say
from console.core.clock import Clock, utc_now
from console.core.config import AppConfig
from console.core.hosts import proxmox_machines, short_name
from console.core.model import CheckState, Guest, HypervisorNode, IcingaSnapshot, PuppetNodeStatus
from console.core.rows import natural_key
from console.core.state import Poller, Store
from console.derive.alerts import host_problems
from console.derive.alerts_pane import alert_order, folded_note
from console.derive.cells import SEVERITY
from console.derive.hosts_pane import puppet_by_host
from console.derive.services_pane import checks_by_host, down_hosts, icinga_checks, worst_state_by_host

SCHEMA_VERSION = 1
MAX_HOST_OUTPUTS = 50  # DOWN hosts whose output one status run asks for, per Icinga source


def load_schema() -> dict[str, Any]:
    return json.loads(resources.files("console.cli").joinpath("status.schema.json").read_text())


async def collect(config: AppConfig, clock: Clock = utc_now) -> Store:
    """Fetch every configured source once, concurrently, each bounded by its own timeout."""
    from console.sources import build_sources

    store = Store(clock)
    sources = build_sources(config, clock)
    poller = Poller(sources, store)
    try:
        await poller.refresh_all_once()
        await add_host_outputs(store, sources)
    finally:
        await poller.stop()
    return store


async def add_host_outputs(store: Store, sources: Sequence[object]) -> None:
    """The check output of every DOWN host (the Icinga refresh asks for host states only), asked of its
    source concurrently, within that source's timeout; a host whose output cannot be had keeps none."""
    from console.sources.base import SourceError
    from console.sources.icinga import IcingaSource

    async def output(source: IcingaSource, host: str) -> str:
        try:
            return await source.host_output(host)
        except SourceError:
            return ""

    for source in sources:
        if not isinstance(source, IcingaSource) or not store.get(source.name).ok:
            continue
        snapshot = store.get(source.name).data
        if not isinstance(snapshot, IcingaSnapshot):
            continue
        wanted = [h.name for h in snapshot.hosts if not h.up and not h.output][:MAX_HOST_OUTPUTS]
        if not wanted:
            continue
        found: dict[str, str] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(source.timeout):
                found = dict(zip(wanted, await asyncio.gather(*(output(source, h) for h in wanted)), strict=True))
        hosts = tuple(replace(h, output=found.get(h.name) or h.output) for h in snapshot.hosts)
        store.patch(source.name, replace(snapshot, hosts=hosts))


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def build_report(store: Store, config: AppConfig, now: datetime) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(now),
        "farm": {"name": config.farm.name, "environment": config.farm.environment},
        "hosts": host_entries(store, config, now),
        "alerts": alert_entries(store, config),
        "services": service_entries(store, config),
        "commits": commit_entries(store),
        "sources": {
            state.name: {
                "kind": state.kind,
                "ok": state.ok,
                "error": state.error,
                "latency_ms": round(state.last.latency_ms, 1) if state.last else None,
                "fetched_at": iso(state.last.fetched_at) if state.last else None,
            }
            for state in store.states()
        },
    }


def _puppet_entry(found: tuple[PuppetNodeStatus, float] | None, now: datetime) -> dict[str, Any]:
    if found is None:
        return {"status": None, "last_report": None, "stale": False}
    node, stale_after = found
    stale = node.report_timestamp is None or (now - node.report_timestamp).total_seconds() > stale_after
    return {"status": node.latest_report_status, "last_report": iso(node.report_timestamp), "stale": stale}


def host_entries(store: Store, config: AppConfig, now: datetime) -> list[dict[str, Any]]:
    """Proxmox nodes and guests, plus Puppet nodes that Proxmox does not know (off-site hosts)."""
    puppet = puppet_by_host(store, config)
    nodes, guests = proxmox_machines(store)
    machines: dict[str, HypervisorNode | Guest] = {**nodes, **guests}
    entries = []
    for name, machine in machines.items():
        guest = machine if isinstance(machine, Guest) else None
        entries.append(
            {
                "name": name,
                "kind": guest.kind if guest else "node",
                "status": machine.status,
                "node": guest.node if guest else name,
                "vmid": guest.vmid if guest else None,
                "puppet": _puppet_entry(puppet.get(name), now),
            }
        )
    for name in puppet.keys() - machines.keys():
        entries.append(
            {"name": name, "kind": None, "status": None, "node": None, "vmid": None, "puppet": _puppet_entry(puppet[name], now)}
        )
    return sorted(entries, key=lambda entry: natural_key(entry["name"]))


def alert_entries(store: Store, config: AppConfig) -> list[dict[str, Any]]:
    """Every Icinga problem: hosts DOWN or UNREACHABLE (`kind: host`, `service: null`, ranked as CRITICAL)
    and services (`kind: service`; a DOWN host's are listed too), unhandled first, then the most
    severe, then the oldest; a host before its services when they tie."""
    domains = config.farm.domains
    ranked: list[tuple[tuple, dict[str, Any]]] = []
    for _, host in host_problems(store):
        since = host.last_state_change
        order = (host.handled, SEVERITY[CheckState.CRITICAL], since is None, since or datetime.min, 0)
        ranked.append((order, {
            "host": short_name(host.name, domains), "kind": "host", "service": None, "state": host.state_name,
            "hard": host.hard, "output": host.output, "acknowledged": host.acknowledged,
            "in_downtime": host.in_downtime, "since": iso(since),
        }))  # fmt: skip
    for check in icinga_checks(store):
        if check.state == CheckState.OK:
            continue
        ranked.append(((*alert_order(check), 1), {
            "host": short_name(check.host, domains), "kind": "service", "service": check.service,
            "state": check.state.name, "hard": check.hard, "output": check.output,
            "acknowledged": check.acknowledged, "in_downtime": check.in_downtime,
            "since": iso(check.last_state_change),
        }))  # fmt: skip
    ranked.sort(key=lambda item: item[0])
    return [entry for _, entry in ranked]


def service_entries(store: Store, config: AppConfig) -> list[dict[str, Any]]:
    by_host = checks_by_host(icinga_checks(store), config.farm.domains)
    down = down_hosts(store, config.farm.domains)  # a DOWN host is a CRITICAL one for every service it runs
    entries: list[dict[str, Any]] = []
    for service in config.services:
        worst = worst_state_by_host(by_host, service.hosts, service.checks, down)
        counts = {state.name: 0 for state in CheckState}
        for state in worst.values():
            counts[state.name] += 1
        entries.append(
            {
                "name": service.name,
                "hosts": sorted(worst.keys(), key=natural_key),
                "states": counts,
                "problems": [
                    {"host": host, "state": state.name}
                    for host, state in sorted(worst.items(), key=lambda item: natural_key(item[0]))
                    if state != CheckState.OK
                ],
            }
        )
    return entries


def commit_entries(store: Store) -> list[dict[str, Any]]:
    commits = [commit for log in store.data_of_kind("commits") for commit in log.commits]
    commits.sort(key=lambda commit: commit.date, reverse=True)
    return [
        {
            "repo": c.repo,
            "sha": c.sha,
            "author": c.author,
            "date": iso(c.date),
            "subject": c.subject,
            "url": c.url,
        }
        for c in commits
    ]


def unfinished_entries(config: AppConfig, clock: Clock = utc_now) -> list[dict[str, Any]]:
    """Actions whose audit intent has no result (the console died while they ran), shown or not yet."""
    from console.actions.locks import find_unfinished

    try:
        found = asyncio.run(find_unfinished(config, clock, include_acknowledged=True))
    except OSError:
        return []  # an unreadable audit file is not the farm's state
    return [{**u.to_dict(), "message": u.describe()} for u in found]


def render_table(report: dict[str, Any]) -> str:
    """A plain-text summary for humans at a shell prompt."""
    lines = [f"{report['farm']['name']} ({report['farm']['environment']}) at {report['generated_at']}", ""]
    lines.append("SOURCE          KIND       STATE   LATENCY  ERROR")
    for name, source in report["sources"].items():
        latency = f"{source['latency_ms']:.0f}ms" if source["latency_ms"] is not None else "-"
        state = "ok" if source["ok"] else "FAILED"
        lines.append(f"{name:<15} {source['kind']:<10} {state:<7} {latency:>7}  {source['error'] or ''}".rstrip())
    lines.append("")
    # as in the Alerts pane: a DOWN host's service problems fold under it ("+4 service problems")
    down = {alert["host"] for alert in report["alerts"] if alert["kind"] == "host"}
    alerts = [alert for alert in report["alerts"] if alert["kind"] == "host" or alert["host"] not in down]
    folded = {host: sum(1 for a in report["alerts"] if a["kind"] == "service" and a["host"] == host) for host in down}
    lines.append(f"ALERTS ({len(alerts)})")
    for alert in alerts:
        flags = " ".join(f for f, on in (("ACK", alert["acknowledged"]), ("DOWNTIME", alert["in_downtime"])) if on)
        output = alert["output"].splitlines()[0] if alert["output"] else ""
        what = alert["service"] if alert["kind"] == "service" else \
            (folded_note(folded[alert["host"]]) if folded[alert["host"]] else "host check")
        lines.append(f"  {alert['state']:<8} {alert['host']:<14} {what:<28} {flags:<12} {output}".rstrip())
    failed = [h["name"] for h in report["hosts"] if h["puppet"]["status"] == "failed"]
    stale = [h["name"] for h in report["hosts"] if h["puppet"]["stale"] and h["puppet"]["status"] != "failed"]
    lines.append("")
    lines.append(f"HOSTS {len(report['hosts'])}; Puppet failed on {len(failed)}: {', '.join(failed) or '-'}")
    if stale:
        lines.append(f"Puppet stale on {len(stale)}: {', '.join(stale)}")
    for unfinished in report.get("unfinished_actions", []):
        lines.append(unfinished["message"] + (" (already shown)" if unfinished["acknowledged"] else ""))
    if report["commits"]:
        newest = report["commits"][0]
        lines.append(f"Newest commit: {newest['repo']} {newest['sha'][:8]} {newest['date']} {newest['subject']}")
    return "\n".join(lines) + "\n"


def run_status(config: AppConfig, clock: Clock = utc_now) -> tuple[dict[str, Any], int]:
    """The report and the exit code: 0 when every source answered, 1 otherwise."""
    store = asyncio.run(collect(config, clock))
    report = build_report(store, config, clock())
    report["unfinished_actions"] = unfinished_entries(config, clock)
    return report, 0 if all(s["ok"] for s in report["sources"].values()) else 1


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (console/cli/status.schema.json) instead of a table.")
@global_options
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Refresh every configured source once and print the farm's state.

    Exit 0 when every source answered, 1 when one failed (the output is printed either way),
    2 for a broken config.
    """
    report, code = run_status(load_or_exit(global_value(ctx, "config")))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        say(render_table(report).rstrip("\n"))
    sys.exit(code)
