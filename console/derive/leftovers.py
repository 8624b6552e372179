"""The leftovers board: what an incident tends to leave behind, each with its one-key clean-up.

Downtimes about to expire (or just expired while the object still fails), Puppet agents disabled for
longer than N hours, backends still depooled, acknowledgements without an expiry, locks held for
longer than N minutes. Pure functions over plain data; `gather` (console/leftovers_fetch.py) asks
the backends once when the board opens. Every clean-up is an action for the safe-action engine — never a direct call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

DOWNTIME, PUPPET_DISABLED, DEPOOLED, ACK_NO_EXPIRY, LOCK = "downtime", "puppet-disabled", "depooled", "ack", "lock"
KIND_LABELS = {DOWNTIME: "downtime", PUPPET_DISABLED: "puppet off", DEPOOLED: "depooled", ACK_NO_EXPIRY: "ack",
               LOCK: "lock"}


@dataclass(frozen=True)
class Downtime:
    """An Icinga downtime (`/v1/objects/downtimes`)."""

    name: str  # Icinga's full name: host!service!uuid
    host: str
    service: str | None
    author: str
    comment: str
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Acknowledgement:
    """An acknowledged problem and its expiry (None: until it recovers — the kind that is forgotten)."""

    host: str
    service: str | None
    author: str
    comment: str
    set_at: datetime | None
    expiry: datetime | None


@dataclass(frozen=True)
class Leftover:
    """One row of the board: what, since when, why it matters, and the clean-up action (or None)."""

    kind: str
    target: str
    text: str
    since: datetime | None
    cleanup_label: str
    cleanup: Any = None  # an action of console.actions (RemoveDowntime, PuppetEnable, Repool, ...) or None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target}"


def _ago(now: datetime, at: datetime | None) -> str:
    if at is None:
        return "?"
    seconds = int((now - at).total_seconds())
    return _span(abs(seconds)) + (" ago" if seconds >= 0 else " from now")


def _span(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d"


def downtime_leftovers(downtimes: Sequence[Downtime], now: datetime, failing: set[str],
                       soon: timedelta = timedelta(minutes=30)) -> list[tuple[Downtime, str]]:
    """(downtime, why) for each downtime ending within `soon`, or already ended while its object
    (`host` or `host!service`) still fails — the alert comes back and pages someone."""
    found = []
    for downtime in downtimes:
        if downtime.end is None:
            continue
        target = downtime.host if downtime.service is None else f"{downtime.host}!{downtime.service}"
        if downtime.end <= now:
            if target in failing:
                found.append((downtime, f"expired {_ago(now, downtime.end)} and {target} still fails"))
        elif downtime.end - now <= soon:
            still = f"; {target} still fails" if target in failing else ""
            found.append((downtime, f"expires in {_span(int((downtime.end - now).total_seconds()))}{still}"))
    return found


def ack_leftovers(acks: Sequence[Acknowledgement]) -> list[Acknowledgement]:
    """Acknowledgements that never expire: they silence the next incident too."""
    return [ack for ack in acks if ack.expiry is None]


def puppet_leftovers(disabled: Sequence[tuple[str, str, datetime | None]], now: datetime,
                     older_than: timedelta) -> list[tuple[str, str, datetime | None]]:
    """(certname, reason, last run) of agents disabled for longer than `older_than`; a disabled agent
    stops reporting, so its last report is when it was (at the latest) disabled."""
    return [(name, reason, last) for name, reason, last in disabled if last is None or now - last >= older_than]


def lock_leftovers(locks: Sequence[Any], now: datetime, older_than: timedelta) -> list[Any]:
    """Locks (anything with `.since`) held for longer than `older_than`."""
    return [lock for lock in locks if getattr(lock, "since", None) is None or now - lock.since >= older_than]


def fmt_time(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%H:%M UTC") if at else "?"


def since_text(now: datetime, at: datetime | None) -> str:
    """`10:02 UTC, 2h05m ago` for the board's since column (`?` when unknown)."""
    return f"{fmt_time(at)}, {_ago(now, at)}" if at else "?"


def since_and_what(now: datetime, item: Leftover) -> str:
    """The board's `since · what` cell: how long ago first, then the row's text (`2h05m ago · agent
    disabled: php upgrade - alice@bast161`), so the age stays on screen when the text is cut."""
    return f"{_ago(now, item.since)} · {item.text}" if item.since else item.text
