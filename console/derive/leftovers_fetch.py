"""Gathering the leftovers board (console/leftovers.py): each backend asked ONCE, concurrently, when
the board opens and on `r` — never in the periodic refresh. No Textual here.

    board = await gather(config, store, session)   # LeftoverBoard: rows, problems, notes

- Icinga (the actions' source): `/v1/objects/downtimes` and the acknowledgement comments; "still
  failing" is the store's Icinga problems.
- PuppetDB: the `disabled_fact` of every node in one facts query; the last report from the store.
- Caches: `read_backend_health`, backends an operator set sick (DEPOOLED).
- Locks: `locks_for(config).list()`, older than `incident.lock_minutes`, and every STALE one.

A failing backend is one line in `problems` ("icinga: timed out after 10s"); the other kinds still
show. Every row carries its clean-up as an action for the safe-action engine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Sequence

from console.actions import (
    BreakLock,
    IcingaTarget,
    NotConfigured,
    PuppetEnable,
    Refused,
    RemoveAcknowledgement,
    RemoveDowntime,
    Repool,
    Session,
)  # fmt: skip
from console.core.clock import Clock, utc_now
from console.core.config import AppConfig, secret_values
from console.core.model import CheckState, IcingaSnapshot, PuppetInventory
from console.core.state import Store
from console.derive.leftovers import (
    ACK_NO_EXPIRY,
    DEPOOLED,
    DOWNTIME,
    LOCK,
    PUPPET_DISABLED,
    Acknowledgement,
    Downtime,
    Leftover,
    ack_leftovers,
    downtime_leftovers,
    lock_leftovers,
    puppet_leftovers,
)  # fmt: skip
from console.sources.base import SourceError
from console.sources.httpclient import redact

KIND_ORDER = (DOWNTIME, ACK_NO_EXPIRY, PUPPET_DISABLED, DEPOOLED, LOCK)


@dataclass(frozen=True)
class LeftoverBoard:
    """What the board shows: the rows, a line per backend that failed, and what was not checked."""

    rows: tuple[Leftover, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    checked_at: datetime | None = None

    def by_key(self) -> dict[str, Leftover]:
        return {row.key: row for row in self.rows}


@dataclass
class _Part:
    rows: list[Leftover] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- rows (pure) -------------------------------------------------------------------------------------


def failing_objects(store: Store) -> set[str]:
    """`host!service` of every non-OK service and `host` of every host not UP, from the store's Icinga data."""
    failing: set[str] = set()
    for snapshot in store.data_of_kind("icinga"):
        if not isinstance(snapshot, IcingaSnapshot):
            continue
        failing |= {check.key for check in snapshot.services if check.state != CheckState.OK}
        failing |= {host.name for host in snapshot.hosts if not host.up}
    return failing


def _object(host: str, service: str | None) -> str:
    return host if service is None else f"{host}!{service}"


def downtime_rows(downtimes: Sequence[Downtime], now: datetime, failing: set[str], soon: timedelta) -> list[Leftover]:
    """One row per object whose downtime ends within `soon` (or ended while it still fails); the
    clean-up removes the object's downtimes (several on one object: one row, the soonest)."""
    rows: dict[str, Leftover] = {}
    for downtime, why in downtime_leftovers(downtimes, now, failing, soon):
        target = _object(downtime.host, downtime.service)
        if target in rows:
            continue  # sorted by end: the first is the soonest
        who = f" — {downtime.author}: {downtime.comment}" if downtime.author or downtime.comment else ""
        rows[target] = Leftover(DOWNTIME, target, f"{why}{who}", downtime.start, "remove downtime",
                                RemoveDowntime((IcingaTarget(downtime.host, downtime.service),)))
    return list(rows.values())


def ack_rows(acks: Sequence[Acknowledgement]) -> list[Leftover]:
    rows: dict[str, Leftover] = {}
    for ack in ack_leftovers(acks):
        target = _object(ack.host, ack.service)
        text = f"acknowledged by {ack.author or '?'} without expiry" + (f": {ack.comment}" if ack.comment else "")
        rows.setdefault(target, Leftover(ACK_NO_EXPIRY, target, text, ack.set_at, "remove ack",
                                         RemoveAcknowledgement((IcingaTarget(ack.host, ack.service),))))
    return list(rows.values())


def disabled_reason(value: Any) -> str | None:
    """The disabled fact's value → the reason (a disabled agent without a message: ""), or None when enabled."""
    if isinstance(value, str):
        return value.strip() or None
    return "" if value is True else None


def puppet_rows(facts: dict[str, Any], last_reports: dict[str, datetime | None], now: datetime,
                older_than: timedelta, directory: Any, domains: Sequence[str]) -> list[Leftover]:
    """Agents whose disabled fact is set and whose last report is older than `older_than` (a
    disabled agent stops reporting); the clean-up enables the agent."""
    from console.core.hosts import short_name

    disabled = []
    for certname, value in sorted(facts.items()):
        reason = disabled_reason(value)
        if reason is not None:
            disabled.append((certname, reason, last_reports.get(certname)))
    rows = []
    for certname, reason, last in puppet_leftovers(disabled, now, older_than):
        host = short_name(certname, domains)
        text = f"agent disabled: {reason}" if reason else "agent disabled (no message)"
        rows.append(Leftover(PUPPET_DISABLED, host, text + ("" if last else "; no report known"), last,
                             "enable Puppet", PuppetEnable((host,), directory)))
    return rows


def depooled_rows(depooled: dict[str, list[str]]) -> list[Leftover]:
    return [Leftover(DEPOOLED, backend, f"depooled (set sick) on {', '.join(sorted(caches))}", None, "repool",
                     Repool((backend,)))
            for backend, caches in sorted(depooled.items())]


def lock_rows(locks: Sequence[Any], now: datetime, older_than: timedelta) -> list[Leftover]:
    """Locks held longer than `older_than`, and every STALE one (its process is gone) whatever its age."""
    old = {id(lock) for lock in lock_leftovers(locks, now, older_than)}
    rows = []
    for lock in locks:
        if id(lock) not in old and not lock.stale:
            continue
        if lock.problem:
            text = f"unreadable lock: {lock.problem}"
        else:
            text = f"held by {lock.holder}: {lock.title or 'no action'}" + (f" — {lock.reason}" if lock.reason else "")
        if lock.stale:
            text = "STALE (its process is gone) · " + text
        rows.append(Leftover(LOCK, lock.key, text, lock.since, "break lock", BreakLock(lock.key)))
    return rows


def ordered(rows: Sequence[Leftover]) -> tuple[Leftover, ...]:
    """By kind (downtimes first: they page soonest), then by target; one row per key."""
    unique = {row.key: row for row in rows}
    return tuple(sorted(unique.values(), key=lambda r: (KIND_ORDER.index(r.kind), r.target)))


# --- gathering ----------------------------------------------------------------------------------------


async def _icinga(config: AppConfig, store: Store, now: datetime, clock: Clock) -> _Part:
    from console.actions.catalog import icinga_source
    from console.sources.icinga import IcingaSource

    part = _Part()
    try:
        settings = icinga_source(config)
    except NotConfigured:
        part.notes.append("downtimes and acknowledgements: no icinga source is configured")
        return part
    source = IcingaSource(settings, clock)
    try:
        downtimes, acks = await asyncio.gather(_answer(source.downtimes()), _answer(source.acknowledgements()))
    finally:
        await source.aclose()
    soon = timedelta(minutes=config.incident.downtime_soon_minutes)
    if isinstance(downtimes, str):
        part.problems.append(f"{settings.name} (downtimes): {downtimes}")
    else:
        part.rows += downtime_rows(downtimes, now, failing_objects(store), soon)
    if isinstance(acks, str):
        part.problems.append(f"{settings.name} (acknowledgements): {acks}")
    else:
        part.rows += ack_rows(acks)
    return part


async def _puppet(config: AppConfig, store: Store, now: datetime, clock: Clock) -> _Part:
    from console.core.hosts import HostDirectory
    from console.sources.puppetdb import PuppetDBSource

    part = _Part()
    sources = [item for item in config.sources.puppetdb if item.disabled_fact]
    if not sources:
        part.notes.append("Puppet disabled: no puppetdb source names its disabled_fact")
        return part
    directory = HostDirectory.from_store(store, config)
    older_than = timedelta(hours=config.incident.puppet_disabled_hours)

    async def one(settings: Any) -> None:
        source = PuppetDBSource(settings, clock)
        try:
            facts = await _answer(source.fact_everywhere(settings.disabled_fact))
            if isinstance(facts, str):
                part.problems.append(f"{settings.name} (Puppet disabled): {facts}")
                return
            inventory = store.get(settings.name).data if settings.name in _names(store) else None
            if not isinstance(inventory, PuppetInventory) and any(disabled_reason(v) is not None for v in facts.values()):
                fetched = await source.fetch()  # the store has no nodes yet (the board opened early): ask once
                inventory = fetched.data
            last = {node.certname: node.report_timestamp for node in inventory.nodes} if inventory else {}
            part.rows.extend(puppet_rows(facts, last, now, older_than, directory, config.farm.domains))
        finally:
            await source.aclose()

    await asyncio.gather(*(one(settings) for settings in sources))
    return part


async def _depooled(config: AppConfig, session: Session, commands: Any) -> _Part:
    from console.actions.depool import read_backend_health

    part = _Part()
    if not config.actions.caches:
        part.notes.append("depooled backends: no caches are configured (actions.caches)")
        return part
    try:
        table = await read_backend_health(config, session, commands)
    except Refused as exc:
        part.problems.append(f"caches: {str(exc).removeprefix('refused: ')}")
        return part
    part.problems += [f"{cache} (backends): {error}" for cache, error in table.errors.items()]
    part.rows += depooled_rows(table.depooled())
    return part


async def _locks(config: AppConfig, now: datetime, clock: Clock) -> _Part:
    from console.actions.locks import locks_for

    part = _Part()
    try:
        found = await locks_for(config, clock).list()
    except Refused as exc:
        part.problems.append(f"locks: {str(exc).removeprefix('refused: ')}")
        return part
    part.rows += lock_rows(found, now, timedelta(minutes=config.incident.lock_minutes))
    return part


def _names(store: Store) -> set[str]:
    return {state.name for state in store.states()}


async def _answer(call: Awaitable[Any]) -> Any:
    """The call's value, or its failure as one line (SourceError is already redacted)."""
    try:
        return await call
    except SourceError as exc:
        return str(exc)


async def gather(config: AppConfig, store: Store, session: Session, *, clock: Clock = utc_now,
                 commands: Any = None) -> LeftoverBoard:
    """Ask every backend once, concurrently. Never raises for a backend's failure: it is a line in
    `problems`, and the other kinds still show."""
    now = clock()
    labels = ("icinga", "puppetdb", "caches", "locks")
    calls: list[Callable[[], Awaitable[_Part]]] = [
        lambda: _icinga(config, store, now, clock),
        lambda: _puppet(config, store, now, clock),
        lambda: _depooled(config, session, commands),
        lambda: _locks(config, now, clock),
    ]
    answers = await asyncio.gather(*(call() for call in calls), return_exceptions=True)
    rows: list[Leftover] = []
    problems: list[str] = []
    notes: list[str] = []
    for label, answer in zip(labels, answers, strict=False):
        if isinstance(answer, asyncio.CancelledError):
            raise answer
        if isinstance(answer, BaseException):  # a bug in one part must not hide the others
            problems.append(redact(f"{label}: {type(answer).__name__}: {str(answer)[:160]}", secret_values(config)))
            continue
        rows += answer.rows
        problems += answer.problems
        notes += answer.notes
    return LeftoverBoard(ordered(rows), tuple(problems), tuple(notes), now)


__all__ = ["LeftoverBoard", "ack_rows", "depooled_rows", "downtime_rows", "failing_objects", "gather",
           "lock_rows", "ordered", "puppet_rows"]
