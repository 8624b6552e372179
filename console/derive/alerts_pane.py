"""What the Alerts pane shows: Icinga problems (hosts and services) and Graylog events, merged. No Textual."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text

from console.core.clusters import several
from console.core.hosts import short_name
from console.core.model import (
    CheckState,
    IcingaHostState,
    ServiceCheck,
)
from console.core.rows import NO_VALUE, Cell, Column, PaneView, Row
from console.core.state import Store
from console.derive.alerts import BOTH, Alert, merged_alerts

if TYPE_CHECKING:
    from console.core.config import AppConfig
from console.derive.cells import (
    SEVERITY,
    STATE_STYLE,
    STATE_SYMBOL,
    feed_detail,
    feed_note,
    first_line,
    humanize_age,
    state_label,
)

ALERT_COLUMNS = (
    # Read like a log line, "✖ CRITICAL ACK 11m mw152 PHP-FPM"; a narrow pane crops the output first,
    # never the flags: a handled problem must say so in words, not only by being dim.
    Column("state", "state"),
    Column("flags", "flags"),
    Column("age", "age"),
    Column("host", "host", identifier=True),
    Column("service", "service / event", identifier=True),
    Column("output", "output"),
)
CLUSTER_COLUMN = Column("cluster", "cluster", identifier=True)  # the source instance, shown when a kind has several


def alert_order(check: ServiceCheck) -> tuple:
    """Unhandled first, then the most severe, then the oldest (unknown age last)."""
    since = check.last_state_change
    return (check.handled, SEVERITY[check.state], since is None, since or datetime.min)


def alert_flags(check: ServiceCheck | IcingaHostState) -> str:
    flags = [flag for flag, on in (("ACK", check.acknowledged), ("DOWNTIME", check.in_downtime)) if on]
    if not check.hard:
        flags.append("soft")
    return " ".join(flags)


NO_HOST_OUTPUT = "(enter: the host check's output)"  # the refresh may leave a host's output out; the detail loads it


def folded_note(count: int) -> str:
    """What a host problem's row says of its service problems: "+4 service problems"."""
    return f"+{count} service problem{'s' if count != 1 else ''}"


def host_problem_cells(alert: Alert) -> tuple[Text, str, str]:
    """A host problem's state ("✖ DOWN", coloured as CRITICAL, which it ranks as), its name cell (its
    folded service problems counted, else "host check") and its output."""
    style = "dim" if alert.handled else STATE_STYLE[CheckState.CRITICAL]
    state = Text(f"{STATE_SYMBOL[CheckState.CRITICAL]} {alert.state_name}", style=style)
    name = folded_note(len(alert.folded)) if alert.folded else "host check"
    return state, name, first_line(alert.output) or NO_HOST_OUTPUT


def alerts_view(store: Store, config: AppConfig, now: datetime) -> PaneView:
    """Icinga problems and Graylog alert events merged (console.derive.alerts: severity, dedupe, order);
    handled rows dimmed; a cluster column when there are several Icinga or Graylog instances."""
    clustered = several(store, "icinga") or several(store, "graylog")
    # where an alert comes from matters less than what it is: "from" follows the service, before the output
    columns = (ALERT_COLUMNS[:3] + ((CLUSTER_COLUMN,) if clustered else ()) + ALERT_COLUMNS[3:5]
               + (Column("from", "from"),) + ALERT_COLUMNS[5:])
    rows = []
    handled = set()
    for alert in merged_alerts(store, config.farm.domains):
        age = now - alert.since if alert.since else None
        state, name = state_label(alert.state, dim=alert.handled), alert.name
        if alert.check is not None:
            flags = alert_flags(alert.check)
        elif alert.host_state is not None:  # a host DOWN: its service problems folded under it
            flags = alert_flags(alert.host_state)
        else:  # a Graylog event: how often it fired in the window
            flags = f"{len(alert.events)}×" if len(alert.events) > 1 else ""
        output = first_line(alert.check.output) if alert.check is not None else first_line(alert.output)
        if alert.host_state is not None:
            state, name, output = host_problem_cells(alert)
        if alert.origin == BOTH:
            output = f"{output} | graylog: {first_line(alert.events[0].message, 60)}"
        cells: tuple[Cell, ...] = (
            state,
            flags,
            humanize_age(age),
            *((alert.cluster,) if clustered else ()),
            short_name(alert.host, config.farm.domains) if alert.host else NO_VALUE,
            name,
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
