"""Icinga checks: what each plugin prints when things are fine, and the state a check is in right now."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from console.sim.inventory import HostSpec
from console.sim.puppet import HISTORY_RUNS
from console.sim.seeded import rng, unit, wave

if TYPE_CHECKING:
    from console.sim.farm import Farm

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {"OK": OK, "WARNING": WARNING, "CRITICAL": CRITICAL, "UNKNOWN": UNKNOWN}
CHECK_SOURCE = "mon181.fsslc.wtnet"
MAX_ATTEMPTS = 3
RETRY_INTERVAL = 30.0


def parse_state(state: int | str) -> int:
    if isinstance(state, str):
        try:
            return STATE_NAMES[state.upper()]
        except KeyError:
            raise ValueError(f"unknown check state {state!r}; use OK, WARNING, CRITICAL or UNKNOWN") from None
    if state not in (0, 1, 2, 3):
        raise ValueError(f"check state must be 0..3, not {state!r}")
    return int(state)


@dataclass
class Override:
    """A state forced by a scenario or a test; it holds until cleared."""

    state: int
    output: str
    since: datetime
    hard: bool = True
    perf: tuple[str, ...] = ()


@dataclass
class Ack:
    author: str
    comment: str
    at: datetime
    sticky: bool = False
    expiry: datetime | None = None  # the acknowledgement goes away by itself then


@dataclass
class Downtime:
    name: str
    author: str
    comment: str
    entry: datetime
    start: datetime
    end: datetime
    fixed: bool = True
    parent: str = ""  # a host downtime's name, for the service downtimes `all_services` made with it


@dataclass
class Slot:
    """One Icinga object: a host check (service == "") or a service on a host."""

    host: str
    service: str
    interval: float
    phase: float
    calm_since: datetime  # when it last changed state in the natural course of things
    override: Override | None = None
    ack: Ack | None = None
    downtime: Downtime | None = None
    rechecked_at: datetime | None = None  # a forced check (reschedule-check) ran then


@dataclass(frozen=True)
class Status:
    state: int
    hard: bool
    output: str | None  # None: left out (evaluate(output=False))
    perf: tuple[str, ...]
    last_state_change: datetime
    last_hard_state_change: datetime
    last_check: datetime
    next_check: datetime
    check_attempt: int
    command: str
    ack: Ack | None
    in_downtime: bool

    @property
    def problem(self) -> bool:
        return self.state != OK


def _last_check(slot: Slot, now: datetime) -> datetime:
    ts = now.timestamp()
    return datetime.fromtimestamp(ts - ((ts - slot.phase) % slot.interval), now.tzinfo)


def evaluate(farm: Farm, slot: Slot, now: datetime, output: bool = True) -> Status:
    """The check's state at `now`. output=False: a naturally OK service's plugin output is left out
    (None, perfdata empty; ok_output() makes them), the rest is the same: making the output is the
    costly part, and many queries do not ask for it."""
    spec = farm.hosts[slot.host]
    last_check = _last_check(slot, now)
    if slot.rechecked_at is not None and last_check < slot.rechecked_at <= now:
        last_check = slot.rechecked_at
    command = COMMANDS.get(slot.service, "nrpe") if slot.service else "hostalive"
    text: str | None
    if slot.override is not None:
        state, text, perf, since, hard = (slot.override.state, slot.override.output, slot.override.perf,
                                         slot.override.since, slot.override.hard)
    elif not slot.service:
        state, text, perf, since, hard = _host_state(farm, spec, slot, now)
    elif slot.service == "Puppet":
        state, text, perf, since, hard = _puppet_state(farm, spec, slot, now)
    else:
        text, perf = ok_output(farm, slot, now) if output else (None, ())
        state, since, hard = OK, slot.calm_since, True
    since = min(since, now)
    hard_since = min(since + timedelta(seconds=2 * RETRY_INTERVAL), now) if state != OK else since
    in_downtime = slot.downtime is not None and slot.downtime.start <= now < slot.downtime.end
    ack = slot.ack if state != OK or (slot.ack and slot.ack.sticky) else None
    if ack is not None and ack.expiry is not None and ack.expiry <= now:
        ack = None
    return Status(
        state=state,
        hard=hard,
        output=text,
        perf=perf,
        last_state_change=since,
        last_hard_state_change=hard_since if hard else slot.calm_since,
        last_check=last_check,
        next_check=last_check + timedelta(seconds=slot.interval if hard or state == OK else RETRY_INTERVAL),
        check_attempt=1 if hard or state == OK else 2,
        command=command,
        ack=ack,
        in_downtime=in_downtime,
    )


def ok_output(farm: Farm, slot: Slot, now: datetime) -> tuple[str, tuple[str, ...]]:
    """What a service's plugin prints (output, perfdata) when all is well."""
    maker = OK_OUTPUT.get(slot.service, _plain_ok)
    return maker(farm, farm.hosts[slot.host], now)


def _host_state(farm: Farm, spec: HostSpec, slot: Slot, now: datetime):
    guest = farm.guests.get(spec.name)
    if guest is not None and guest.status_at(now) != "running":
        since = guest.status_since or now
        return 1, "PING CRITICAL - Packet loss = 100%", ("rta=0.000000ms;3000.000000;5000.000000;0.000000", "pl=100%;80;100;0"), since, True
    rta = 0.2 + 0.3 * unit(farm.seed, spec.name, "rta") + 0.05 * wave(now.timestamp(), farm.seed, spec.name, "rta")
    perf = (f"rta={rta:.6f}ms;3000.000000;5000.000000;0.000000", "pl=0%;80;100;0")
    return 0, f"PING OK - Packet loss = 0%, RTA = {rta:.2f} ms", perf, slot.calm_since, True


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} minutes ago"
    return f"{minutes // 60} hours ago"


def _puppet_state(farm: Farm, spec: HostSpec, slot: Slot, now: datetime):
    agent = farm.agents.get(spec.name)
    # with no failed run possible only the latest report tells anything: skip the history
    runs = agent.runs(farm.seed, now, history=HISTORY_RUNS if agent.may_fail() else 1) if agent else []
    if agent is None or not runs:  # no agent: no runs
        return UNKNOWN, "UNKNOWN: Puppet has never run on this host", (), slot.calm_since, True
    latest = runs[0]
    ago = _ago((now - latest.end).total_seconds())
    failures = latest.failures
    if agent.disabled_since is not None and agent.disabled_since <= now:
        output = (f"WARNING: Puppet is currently disabled, message: {agent.disabled_reason}, "
                  f"last run {ago} with {len(failures)} failures")
        return WARNING, output, (), agent.disabled_since, True
    if latest.status == "failed":
        since = latest.receive_time
        for run in runs[1:]:
            if run.status != "failed":
                break
            since = run.receive_time
        shown = ",".join(e.resource for e in failures[:3])
        output = (f"CRITICAL: Puppet has {len(failures)} failures. Last run {ago} with {len(failures)} failures. "
                  f"Failed resources (up to 3 shown): {shown}")
        return CRITICAL, output, (), since, True
    since = slot.calm_since
    for newer, older in zip(runs, runs[1:], strict=False):  # recovered lately: the state changed at the first good run
        if older.status == "failed" and newer.status != "failed":
            since = max(since, newer.receive_time)
            break
    return OK, f"OK: Puppet is currently enabled, last run {ago} with 0 failures", (), since, True


# --- what the plugins print when all is well ------------------------------------------------------

Maker = Callable[["Farm", HostSpec, datetime], tuple[str, tuple[str, ...]]]


def _plain_ok(farm: Farm, spec: HostSpec, now: datetime):
    return "OK", ()


def _ssh(farm: Farm, spec: HostSpec, now: datetime):
    t = 0.004 + 0.01 * unit(farm.seed, spec.name, "ssh", int(now.timestamp() // 60))
    return "SSH OK - OpenSSH_9.2p1 Debian-2+deb12u6 (protocol 2.0)", (f"time={t:.6f}s;;;0.000000;10.000000",)


def _disk(farm: Farm, spec: HostSpec, now: datetime):
    usage = farm.usage(spec.name, now)
    if usage is None:
        total_mb, used_mb = 100 * 1024, 18 * 1024 + int(2048 * unit(farm.seed, spec.name, "rootfs"))
    else:
        total_mb, used_mb = usage.maxdisk // 2**20, usage.disk // 2**20
    free_mb = total_mb - used_mb
    pct = round(100 * free_mb / total_mb) if total_mb else 0
    inode = 85 + int(13 * unit(farm.seed, spec.name, "inode"))
    perf = (f"/={used_mb}MB;{int(total_mb * 0.9)};{int(total_mb * 0.95)};0;{total_mb}",)
    return f"DISK OK - free space: / {free_mb} MB ({pct}% inode={inode}%)", perf


def load_average(farm: Farm, spec: HostSpec, now: datetime) -> tuple[float, float, float]:
    loads = []
    for minutes in (1, 5, 15):
        samples = [farm.cpu(spec.name, now - timedelta(minutes=m)) for m in range(0, minutes, max(1, minutes // 3))]
        cpus = [cpu for cpu in samples if cpu is not None] or [0.02]
        loads.append(round(spec.cores * sum(cpus) / len(cpus) * 1.1, 2))
    return loads[0], loads[1], loads[2]


def _load(farm: Farm, spec: HostSpec, now: datetime):
    l1, l5, l15 = load_average(farm, spec, now)
    w, c = spec.cores * 2, spec.cores * 4
    perf = (f"load1={l1:.3f};{w}.000;{c}.000;0;", f"load5={l5:.3f};{w}.000;{c}.000;0;", f"load15={l15:.3f};{w}.000;{c}.000;0;")
    return f"OK - load average: {l1:.2f}, {l5:.2f}, {l15:.2f}", perf


def _procs(name: str, low: int, high: int) -> Maker:
    def make(farm: Farm, spec: HostSpec, now: datetime):
        span = high - low
        count = low + int(span * (0.5 + 0.5 * wave(now.timestamp(), farm.seed, spec.name, name)))
        noun = "process" if count == 1 else "processes"
        return f"PROCS OK: {count} {noun} with command name '{name}'", (f"procs={count};;;0;",)
    return make


def _args(arg: str) -> Maker:
    def make(farm: Farm, spec: HostSpec, now: datetime):
        return f"PROCS OK: 1 process with args '{arg}'", ("procs=1;;;0;",)
    return make


def _http(version: str, size: int) -> Maker:
    def make(farm: Farm, spec: HostSpec, now: datetime):
        r = rng(farm.seed, spec.name, version, int(now.timestamp() // 60))
        took = r.uniform(0.02, 0.3)
        body = size + r.randint(-40, 40)
        status = "200 OK" if version == "HTTP/1.1" else "200"
        return (f"HTTP OK: {version} {status} - {body} bytes in {took:.3f} second response time",
                (f"time={took:.6f}s;;;0.000000;10.000000", f"size={body}B;;;0"))
    return make


def _tcp(port: int) -> Maker:
    def make(farm: Farm, spec: HostSpec, now: datetime):
        took = 0.001 * unit(farm.seed, spec.name, port, int(now.timestamp() // 60))
        return (f"TCP OK - {took:.3f} second response time on {spec.address} port {port}",
                (f"time={took:.6f}s;;;0.000000;10.000000",))
    return make


def _mariadb(farm: Farm, spec: HostSpec, now: datetime):
    guest = farm.guests.get(spec.name)
    uptime = int((now - guest.boot_at).total_seconds()) if guest else 864000
    r = rng(farm.seed, spec.name, "mariadb")
    qps = r.uniform(120, 480)
    threads = r.randint(8, 60)
    return (f"Uptime: {uptime}  Threads: {threads}  Questions: {int(uptime * qps)}  Slow queries: {r.randint(20, 900)}  "
            f"Opens: {r.randint(2000, 9000)}  Open tables: 2000  Queries per second avg: {qps:.3f}", ())


def _mariadb_connections(farm: Farm, spec: HostSpec, now: datetime):
    used = 2 + 6 * (0.5 + 0.5 * wave(now.timestamp(), farm.seed, spec.name, "conns"))
    return f"OK connection usage: {used:.1f}%", (f"connection_usage={used:.1f}%;80;90",)


def _error_rate(farm: Farm, spec: HostSpec, now: datetime):
    rate = 1 + int(3 * (0.5 + 0.5 * wave(now.timestamp(), farm.seed, spec.name, "5xx")))
    return f"OK - NGINX Error Rate is {rate}%", (f"error_rate={rate}%;40;60",)


def _backends(farm: Farm, spec: HostSpec, now: datetime):
    count = sum(1 for h in farm.hosts.values() if h.role == "mediawiki")
    return f"All {count} backends are healthy", ()


def _dns(farm: Farm, spec: HostSpec, now: datetime):
    took = 0.002 + 0.01 * unit(farm.seed, spec.name, "dns", int(now.timestamp() // 60))
    return f"DNS OK: {took:.3f} seconds response time. wikitide.net returns 198.51.100.20", (f"time={took:.6f}s;;;0.000000",)


def _ldap(farm: Farm, spec: HostSpec, now: datetime):
    took = 0.002 + 0.01 * unit(farm.seed, spec.name, "ldap", int(now.timestamp() // 60))
    return f"LDAP OK - {took:.3f} seconds response time", (f"time={took:.6f}s;;;0.000000",)


OK_OUTPUT: dict[str, Maker] = {
    "SSH": _ssh,
    "Disk Space": _disk,
    "Current Load": _load,
    "PHP-FPM": _procs("php-fpm8.4", 18, 42),
    "MediaWiki Rendering": _http("HTTP/1.1", 8191),
    "HTTPS": _http("HTTP/2", 2345),
    "JobRunner Service": _args("redisJobRunnerService"),
    "JobChron Service": _args("redisJobChronService"),
    "MariaDB": _mariadb,
    "MariaDB Connections": _mariadb_connections,
    "Varnish Backends": _backends,
    "HTTP 4xx/5xx ERROR Rate": _error_rate,
    "varnish-depool service": _tcp(5001),
    "memcached": _tcp(11211),
    "Swift Proxy": _http("HTTP/1.1", 246),
    "Swift Object Service": _tcp(6000),
    "Auth DNS": _dns,
    "GDNSD Datacenters": lambda farm, spec, now: ("OK - all datacenters are online", ()),
    "LDAP": _ldap,
    "IRCEcho": _args("ircecho"),
    "IRC Log Bot": _args("logbot.py"),
}

COMMANDS = {
    "SSH": "ssh",
    "Disk Space": "nrpe",
    "Current Load": "nrpe",
    "Puppet": "nrpe",
    "PHP-FPM": "nrpe",
    "MediaWiki Rendering": "check_mediawiki",
    "HTTPS": "check_curl",
    "Varnish Backends": "nrpe",
    "HTTP 4xx/5xx ERROR Rate": "check_prometheus_metric",
    "varnish-depool service": "tcp",
    "MariaDB": "mysql",
    "MariaDB Connections": "nrpe",
    "memcached": "tcp",
    "Swift Proxy": "http",
    "Swift Object Service": "tcp",
    "Auth DNS": "dns",
    "GDNSD Datacenters": "nrpe",
    "LDAP": "ldap",
}


def natural_interval(service: str) -> float:
    return 300.0 if service == "Puppet" else 60.0


def calm_since(seed: int, anchor: datetime, host: str, service: str) -> datetime:
    """When an untouched check last changed state: days ago, fixed by the seed."""
    days = 2 + 40 * unit(seed, "calm", host, service)
    return anchor - timedelta(days=math.floor(days * 24 * 60) / (24 * 60))
