"""Plain data shared by the sources, the store and the UI. No I/O, no Textual."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SourceResult(Generic[T]):
    """One fetch attempt of one source. `error` is set when the attempt failed; `data` is then None."""

    source: str  # instance name from the config, e.g. "pve"
    kind: str  # "proxmox" | "puppetdb" | "icinga" | "graylog" | "commits"
    fetched_at: datetime  # UTC, when the attempt finished
    latency_ms: float
    data: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --- Proxmox -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HypervisorNode:
    name: str  # "cloud15"
    status: str  # "online" | "offline" | "unknown"
    cpu: float | None = None  # fraction 0..1 of maxcpu
    maxcpu: int | None = None
    mem: int | None = None  # bytes
    maxmem: int | None = None
    uptime: int | None = None  # seconds


@dataclass(frozen=True, slots=True)
class Guest:
    name: str  # VM name == host name, "mw151"
    vmid: int
    node: str
    kind: str  # "qemu" | "lxc"
    status: str  # "running" | "stopped" | "paused" | ...
    cpu: float | None = None
    maxcpu: int | None = None
    mem: int | None = None
    maxmem: int | None = None
    uptime: int | None = None
    template: bool = False


@dataclass(frozen=True, slots=True)
class ProxmoxInventory:
    nodes: tuple[HypervisorNode, ...]
    guests: tuple[Guest, ...]


# --- PuppetDB ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PuppetNodeStatus:
    certname: str  # FQDN, "mw151.fsslc.wtnet"
    latest_report_status: str | None  # "changed" | "unchanged" | "failed" | None (never reported)
    report_timestamp: datetime | None
    noop: bool = False
    deactivated: bool = False
    expired: bool = False
    cached_catalog_status: str | None = None


@dataclass(frozen=True, slots=True)
class PuppetInventory:
    nodes: tuple[PuppetNodeStatus, ...]


# --- Icinga2 -----------------------------------------------------------------------------------


class CheckState(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class ServiceCheck:
    host: str  # Icinga host name
    service: str  # check name, "PHP-FPM"
    state: CheckState
    hard: bool  # state_type == 1
    acknowledged: bool
    in_downtime: bool
    output: str
    last_state_change: datetime | None
    last_check: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.host}!{self.service}"

    @property
    def handled(self) -> bool:
        return self.acknowledged or self.in_downtime


@dataclass(frozen=True, slots=True)
class IcingaHostState:
    name: str
    up: bool
    acknowledged: bool = False
    in_downtime: bool = False
    output: str = ""
    last_state_change: datetime | None = None  # None: the answer did not say (the Alerts row's age is then unknown)
    hard: bool = True  # state_type == 1
    reachable: bool = True  # Icinga's last_reachable: False when a parent is down (UNREACHABLE rather than DOWN)

    @property
    def handled(self) -> bool:
        return self.acknowledged or self.in_downtime

    @property
    def state_name(self) -> str:
        """Icinga's word for the host's state: UP, DOWN, or UNREACHABLE (down behind a down parent)."""
        if self.up:
            return "UP"
        return "DOWN" if self.reachable else "UNREACHABLE"


@dataclass(frozen=True, slots=True)
class IcingaSnapshot:
    hosts: tuple[IcingaHostState, ...]
    services: tuple[ServiceCheck, ...]


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A source's event stream (Icinga /v1/events): live, or down and when it tries again."""

    live: bool
    error: str | None = None  # why it is down (redacted), None while live or before the first attempt
    retry_at: datetime | None = None  # when the next connection attempt starts


# --- Graylog -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogMessage:
    timestamp: datetime
    source: str  # the host that sent it
    message: str
    level: int | None = None  # syslog level 0..7
    message_id: str | None = None
    application: str | None = None  # application_name: "nginx", "php-fpm", "kernel" ...


@dataclass(frozen=True, slots=True)
class LogEvent:
    """A Graylog event (alerts only: `/api/events/search` with filter alerts=only)."""

    event_id: str
    timestamp: datetime
    message: str
    source: str  # the host the event is about (its `source` field, else the event's key)
    priority: int  # Graylog: 1 low, 2 normal, 3 high (4 critical in newer versions)
    definition_id: str | None = None
    key: str | None = None
    title: str | None = None  # the event definition's title, from the answer's context


@dataclass(frozen=True, slots=True)
class LogSnapshot:
    messages: tuple[LogMessage, ...]
    total: int | None = None
    error_counts: tuple[tuple[str, int], ...] = ()  # (source host, error-level messages in the window), one aggregate query
    events: tuple[LogEvent, ...] = ()  # open Graylog alerts
    partial_errors: tuple[str, ...] = ()  # parts of the refresh that failed (the rest is good), e.g. "events: HTTP 500"


# --- Commits -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Commit:
    repo: str  # "miraheze/mw-config" or the local repository's name
    sha: str
    author: str
    date: datetime  # UTC
    subject: str  # first line of the message
    url: str | None = None

    @property
    def short_sha(self) -> str:
        return self.sha[:8]


@dataclass(frozen=True, slots=True)
class CommitLog:
    commits: tuple[Commit, ...]
    rate_limit_remaining: int | None = None  # GitHub only
    not_modified: bool = False  # the answer was a 304 (GitHub ETag)


# --- Service probes ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of one configured service, run by the console itself (console/sources/probes.py)."""

    service: str  # the configured service's name, "php-fpm"
    label: str  # the probe's name, "mw152 api.php"
    kind: str  # "http" | "tcp" | "redis" | "memcached" | "dns"
    ok: bool
    latency_ms: float | None  # None when it failed before any answer
    detail: str  # "HTTP 200 12 ms", "PONG 1 ms", "SOA 2026112501", or the error in words

    @property
    def key(self) -> str:
        return f"{self.service}!{self.label}"


@dataclass(frozen=True, slots=True)
class ProbeSnapshot:
    results: tuple[ProbeResult, ...]  # in config order

    def of_service(self, service: str) -> tuple[ProbeResult, ...]:
        return tuple(r for r in self.results if r.service == service)


# --- Cache backends (the depool service or varnishadm) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheBackend:
    """One app server as one cache sees it (console/sources/backends.py)."""

    cache: str  # the cache's name in actions.caches, "cp161"
    name: str  # the backend's short name, "mw152"
    admin: str  # what was set: "probe" (auto: the health probe decides), "sick" (depooled) or "healthy" (forced in)
    health: str  # what the cache does now: "healthy" | "sick" | "?"
    probe: str = ""  # the health probe's window, "5/5" (good/total), when the cache says

    @property
    def depooled(self) -> bool:
        """Set sick by an operator: the cache sends it nothing, whatever its probe says."""
        return self.admin == "sick"


@dataclass(frozen=True, slots=True)
class BackendSnapshot:
    """Every cache's backend list. A cache that did not answer is in `partial_errors` ("cp171: HTTP 500")
    and `unanswered`; the others' backends are here."""

    caches: tuple[str, ...]  # every configured cache, in config order
    backends: tuple[CacheBackend, ...]
    partial_errors: tuple[str, ...] = ()  # the status bar's "a part failed, the rest is on screen"
    unanswered: tuple[str, ...] = ()  # the caches of partial_errors, by name

    @property
    def answered(self) -> tuple[str, ...]:
        return tuple(cache for cache in self.caches if cache not in self.unanswered)

    def names(self) -> frozenset[str]:
        """Every backend some cache lists."""
        return frozenset(backend.name for backend in self.backends)

    def depooled(self) -> dict[str, tuple[str, ...]]:
        """{backend: the caches where it is set sick}, for the backends depooled on at least one cache."""
        found: dict[str, list[str]] = {}
        for backend in self.backends:
            if backend.depooled:
                found.setdefault(backend.name, []).append(backend.cache)
        return {name: tuple(caches) for name, caches in found.items()}
