"""The Alerts pane's rows: Icinga problems and Graylog alert events, merged. No Textual, no I/O.

Rules (README "Merged alerts"):
- Severity: a Graylog event's priority maps onto Icinga's states — 3 high and 4 critical are
  CRITICAL, 1 low and 2 normal are WARNING — so both sort on one scale: CRITICAL, UNKNOWN, WARNING.
- Repeats: an event definition fires again and again while its condition holds; its firings about
  one host (in one Graylog instance) are one row: the newest message, aged from the oldest firing.
- Dedupe: an event about host X joins the first unhandled Icinga problem of X that is at least as
  severe (the row then says `icinga+graylog`); it keeps a row of its own when X has no such problem,
  when X's problems come from more than one Icinga instance (which one is meant is not known), or
  when they are all handled (an acknowledgement never hides a new signal). Its state never changes
  the Icinga row's.
- Host problems: an Icinga host DOWN or UNREACHABLE is a row of its own, ranked as CRITICAL, with the
  host check's output; that host's service problems (in the same Icinga instance, handled or not)
  fold under it — no rows of their own, counted on the host's row ("+4 service problems"). It is
  handled (acknowledged, in downtime) like any problem, and Graylog events join it like any problem.
- Order: unhandled first, then the most severe, then the oldest (unknown age last).
- Keys: `HOST!SERVICE` with one Icinga instance (`HOST!SERVICE@INSTANCE` with several); `HOST!` for a
  host problem (`HOST!@INSTANCE`: Icinga refuses a `!` in a host's name, so it never meets a service's
  key); `graylog@INSTANCE:DEFINITION:HOST` for an event row. Stable across refreshes.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from console.actions import IcingaTarget
    from console.core.config import AppConfig

from console.core.clusters import several
from console.core.hosts import short_name
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, LogEvent, LogSnapshot, ServiceCheck
from console.core.state import Store

ICINGA = "icinga"
GRAYLOG = "graylog"
BOTH = "icinga+graylog"
# How bad a state is, worst first (the order of console.derive.cells.SEVERITY).
RANK = {CheckState.CRITICAL: 0, CheckState.UNKNOWN: 1, CheckState.WARNING: 2, CheckState.OK: 3}
GRAYLOG_REFUSAL = "refused: a Graylog event cannot be acknowledged in Icinga (nor downtimed or re-checked)"


def graylog_state(priority: int) -> CheckState:
    """Graylog priority → the Icinga state it sorts with: 3 high, 4 critical → CRITICAL; 1, 2 → WARNING."""
    return CheckState.CRITICAL if priority >= 3 else CheckState.WARNING


@dataclass(frozen=True, slots=True)
class Alert:
    """One row of the Alerts pane."""

    key: str
    origin: str  # icinga | graylog | icinga+graylog
    cluster: str  # the source instance that reported it (the Icinga one for a merged row)
    host: str  # the name the system uses (Icinga's host name, the event's source)
    name: str  # the Icinga service, or the event definition's title
    state: CheckState
    since: datetime | None
    output: str
    check: ServiceCheck | None = None  # the Icinga problem (None for a Graylog-only row and a host problem)
    events: tuple[LogEvent, ...] = ()  # the Graylog firings on this row, newest first
    handled: bool = False  # the Icinga problem is acknowledged or in downtime (an event never is)
    host_state: IcingaHostState | None = None  # a host problem: the host DOWN or UNREACHABLE
    folded: tuple[ServiceCheck, ...] = ()  # a host problem's service problems, in alert order (no rows of their own)

    @property
    def actionable(self) -> bool:
        """Icinga can act on it (acknowledge, downtime, re-check)."""
        return self.check is not None or self.host_state is not None

    @property
    def state_name(self) -> str:
        """The state in Icinga's word: DOWN or UNREACHABLE for a host problem (ranked as CRITICAL)."""
        return self.host_state.state_name if self.host_state is not None else self.state.name


def alert_order(alert: Alert) -> tuple:
    """Unhandled first, then the most severe, then the oldest (unknown age last); the key breaks ties."""
    since = alert.since
    return (alert.handled, RANK[alert.state], since is None, since or datetime.min, alert.key)


def _instances(store: Store, kind: str) -> list[tuple[str, object]]:
    return [(state.name, state.data) for state in store.of_kind(kind) if state.data is not None]


def host_key(host: str) -> str:
    """A host problem's key without the instance: `mw152!`."""
    return f"{host}!"


def check_order(check: ServiceCheck) -> tuple:
    """Alert order for service checks: unhandled first, then the most severe, then the oldest."""
    since = check.last_state_change
    return (check.handled, RANK[check.state], since is None, since or datetime.min, check.key)


def host_problems(store: Store) -> list[tuple[str, IcingaHostState]]:
    """(Icinga instance, host) for every host that an instance reports DOWN or UNREACHABLE."""
    found: list[tuple[str, IcingaHostState]] = []
    for name, snapshot in _instances(store, "icinga"):
        assert isinstance(snapshot, IcingaSnapshot)
        found.extend((name, host) for host in snapshot.hosts if not host.up)
    return found


def icinga_alerts(store: Store) -> list[Alert]:
    """Every host problem and every non-OK service of every Icinga instance, a DOWN host's service
    problems folded under it; one instance keeps the plain `HOST!SERVICE` / `HOST!` keys."""
    clustered = several(store, "icinga")
    alerts: dict[str, Alert] = {}
    for name, snapshot in _instances(store, "icinga"):
        assert isinstance(snapshot, IcingaSnapshot)
        down = {host.name: host for host in snapshot.hosts if not host.up}
        folded: dict[str, list[ServiceCheck]] = {}
        for check in snapshot.services:
            if check.state == CheckState.OK:
                continue
            if check.host in down:
                folded.setdefault(check.host, []).append(check)
                continue
            key = f"{check.key}@{name}" if clustered else check.key
            alerts.setdefault(key, Alert(key, ICINGA, name, check.host, check.service, check.state,
                                         check.last_state_change, check.output, check, handled=check.handled))
        for host in down.values():
            key = f"{host_key(host.name)}@{name}" if clustered else host_key(host.name)
            checks = tuple(sorted(folded.get(host.name, ()), key=check_order))
            alerts.setdefault(key, Alert(key, ICINGA, name, host.name, "", CheckState.CRITICAL, host.last_state_change,
                                         host.output, None, handled=host.handled, host_state=host, folded=checks))
    return list(alerts.values())


def graylog_alerts(store: Store) -> list[Alert]:
    """One row per (Graylog instance, event definition, host): the newest firing's message, the
    highest priority, aged from the oldest firing."""
    groups: dict[str, list[LogEvent]] = {}
    clusters: dict[str, str] = {}
    for name, snapshot in _instances(store, "graylog"):
        assert isinstance(snapshot, LogSnapshot)
        for event in snapshot.events:
            what = event.definition_id or event.title or event.message
            key = f"graylog@{name}:{what}:{event.source}"
            groups.setdefault(key, []).append(event)
            clusters[key] = name
    alerts = []
    for key, events in groups.items():
        events.sort(key=lambda e: e.timestamp, reverse=True)
        newest = events[0]
        state = graylog_state(max(e.priority for e in events))
        title = newest.title or "Graylog event"
        alerts.append(Alert(key, GRAYLOG, clusters[key], newest.source, title, state, events[-1].timestamp,
                            newest.message, None, tuple(events)))
    return alerts


def merged_alerts(store: Store, domains: Sequence[str] = ()) -> list[Alert]:
    """Icinga problems and Graylog events, deduplicated (see the module's rules), in alert order."""
    icinga = sorted(icinga_alerts(store), key=alert_order)
    by_host: dict[str, list[int]] = {}
    for index, alert in enumerate(icinga):
        by_host.setdefault(short_name(alert.host, domains), []).append(index)
    separate = []
    for event in sorted(graylog_alerts(store), key=alert_order):
        indexes = by_host.get(short_name(event.host, domains), [])
        if len({icinga[i].cluster for i in indexes}) > 1:  # the same name in two clusters: never guess
            separate.append(event)
            continue
        target = next((i for i in indexes if not icinga[i].handled and RANK[icinga[i].state] <= RANK[event.state]), None)
        if target is None:
            separate.append(event)
            continue
        row = icinga[target]
        icinga[target] = replace(row, origin=BOTH, events=tuple(sorted((*row.events, *event.events),
                                                                       key=lambda e: e.timestamp, reverse=True)))
    # both lists are in alert order already (joining an event changes no row's place): merge them
    return list(heapq.merge(icinga, separate, key=alert_order))


def alerts_by_key(store: Store, domains: Sequence[str] = ()) -> dict[str, Alert]:
    return {alert.key: alert for alert in merged_alerts(store, domains)}


def alert_targets(store: Store, config: AppConfig, keys: Sequence[str]) -> tuple[IcingaTarget, ...]:
    """The Icinga objects behind Alerts rows, for acknowledge / downtime / re-check (a host problem's
    row: the host, with no service). Raises Refused for a Graylog-only row (nothing in Icinga to act on) and for a problem of another Icinga
    instance than the one actions go through (`actions.icinga`)."""
    from console.actions import IcingaTarget, Refused  # the engine loads on the first action, not at start-up
    from console.actions.catalog import icinga_source

    alerts = alerts_by_key(store, config.farm.domains)
    acting = icinga_source(config).name if config.sources.icinga else None
    targets = []
    for key in keys:
        alert = alerts.get(key)
        if alert is None:  # gone since the screen was drawn: the key still names the object
            name = key.rsplit("@", 1)[0] if several(store, "icinga") else key
            targets.append(IcingaTarget.parse(name.removesuffix("!")))  # "mw152!": the host itself
            continue
        if alert.check is None and alert.host_state is None:
            raise Refused(f"{GRAYLOG_REFUSAL}: {alert.name} on {alert.host or 'no host'}")
        if acting is not None and alert.cluster != acting:
            what = alert.check.key if alert.check is not None else alert.host
            raise Refused(f"refused: {what} is in {alert.cluster}; actions go through {acting} (actions.icinga)")
        if alert.check is not None:
            targets.append(IcingaTarget(alert.check.host, alert.check.service))
        else:  # a host problem: the host itself (acknowledge, downtime, re-check the host check)
            targets.append(IcingaTarget(alert.host))
    return tuple(targets)
