"""What the Services pane shows: each configured service's checks and probes. No Textual."""

from __future__ import annotations

import re
from datetime import datetime
from fnmatch import translate
from typing import TYPE_CHECKING, Collection, Iterable, Sequence

from rich.text import Text

from console.core.hosts import short_name
from console.core.model import (
    CheckState,
    IcingaSnapshot,
    ProbeResult,
    ProbeSnapshot,
    ServiceCheck,
)
from console.core.rows import NO_VALUE, Cell, Column, PaneView, Row, natural_key
from console.core.state import Store

if TYPE_CHECKING:
    from console.core.config import AppConfig
from console.derive.alerts import host_problems
from console.derive.cells import SEVERITY, STATE_STYLE, STATE_SYMBOL, feed_detail, feed_note, short_error
from console.derive.hosts_pane import depooled_hosts

SERVICE_COLUMNS = (
    Column("service", "service", identifier=True),
    Column("hosts", "hosts"),
    Column("state", "state"),
    Column("probe", "probe"),  # the console's own probes: still meaningful when Icinga is down
    Column("problems", "problem hosts", identifier=True),
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


def down_hosts(store: Store, domains: Sequence[str]) -> set[str]:
    """The short names of the hosts an Icinga instance reports DOWN or UNREACHABLE."""
    return {short_name(host.name, domains) for _, host in host_problems(store)}


def worst_state_by_host(
    by_host: dict[str, list[ServiceCheck]], hosts_glob: str, names: Sequence[str], down: Collection[str] = ()
) -> dict[str, CheckState]:
    """host short name -> its worst state among the service's checks (all its checks when none are named);
    a host in `down` (Icinga: DOWN or UNREACHABLE) that runs the service is CRITICAL, whatever its checks say."""
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
        if host in worst and host in down:
            worst[host] = CheckState.CRITICAL
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
    domains = config.farm.domains
    worst = worst_state_by_host(checks_by_host(icinga_checks(store), domains), service.hosts, service.checks,
                                down_hosts(store, domains))
    return sorted(worst.items(), key=lambda item: (SEVERITY[item[1]], natural_key(item[0])))


def services_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    """One row per configured service, in config order: its hosts' worst check states, counted (a host
    Icinga reports DOWN is a CRITICAL one for every service it runs)."""
    has_data = bool(store.data_of_kind("icinga"))
    by_host = checks_by_host(icinga_checks(store), config.farm.domains)
    down = down_hosts(store, config.farm.domains)
    probes = probe_results(store)
    rows = []
    troubled = 0
    for service in config.services:
        worst = worst_state_by_host(by_host, service.hosts, service.checks, down)
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
    rows = with_depooled_counts(store, config, rows)
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


def with_depooled_counts(store: Store, config: AppConfig, rows: Sequence[Row]) -> list[Row]:
    """The Services rows with `· depooled 1` after the state: the hosts of the service (its `hosts`
    glob) an operator took out of the caches (the `backends` source); every other row as it was."""
    depooled = depooled_hosts(store, config.farm.domains)
    if not depooled:
        return list(rows)
    globs = {service.name: re.compile(translate(service.hosts)).match for service in config.services}
    at = next(i for i, column in enumerate(SERVICE_COLUMNS) if column.key == "state")

    def counted(row: Row) -> Row:
        matches = globs.get(row.key)
        count = sum(1 for host in depooled if matches is not None and matches(host))
        if not count:
            return row
        state = row.cells[at]
        cell = Text.assemble(state if isinstance(state, Text) else Text(state), (f" · depooled {count}", "bold yellow"))
        return Row(row.key, (*row.cells[:at], cell, *row.cells[at + 1:]))

    return [counted(row) for row in rows]
