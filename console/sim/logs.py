"""What the farm's hosts send to Graylog: routine syslog lines, incident lines, and alert events."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from console.sim.inventory import HostSpec
from console.sim.seeded import rng, stable_int, stable_uuid

SLOT = 10.0  # seconds; routine lines are drawn per slot so any time range is cheap to regenerate
MAX_SPAN = timedelta(hours=24)  # the oldest a search reaches back (the sim keeps one day of logs)
STREAM_ALL = "000000000000000000000001"  # Graylog's "All messages" stream id
INPUT_ID = "64b7e1f2a3c4d5e6f7a8b9c0"
WIKIS = ("metawiki", "loginwiki", "testwiki", "communitywiki", "allthetropeswiki", "nonciclopediawiki",
         "sesupportwiki", "rainversewiki", "gratisdatawiki", "dcmultiversewiki")
USERS = ("alice", "bob", "carol", "dmitri", "eve", "farah", "lena", "priya")
SYSLOG_LEVELS = {0: "emerg", 1: "alert", 2: "crit", 3: "err", 4: "warning", 5: "notice", 6: "info", 7: "debug"}


@dataclass(frozen=True)
class LogLine:
    id: str
    timestamp: datetime
    source: str
    message: str
    level: int
    application_name: str
    facility: str
    extra: tuple[tuple[str, object], ...] = ()

    def fields(self) -> dict[str, object]:
        """The message as Graylog stores it (field name -> value)."""
        out: dict[str, object] = {
            "_id": self.id,
            "timestamp": iso_ms(self.timestamp),
            "source": self.source,
            "message": self.message,
            "level": self.level,
            "facility": self.facility,
            "application_name": self.application_name,
            "gl2_message_id": self.id.replace("-", "").upper()[:26],
            "gl2_source_input": INPUT_ID,
            "streams": [STREAM_ALL],
        }
        out.update(self.extra)
        return out


# A line maker: (random, host, time) -> (message, level, application_name, facility, extra fields)
Line = tuple[str, int, str, str, dict]
Maker = Callable[[random.Random, HostSpec, datetime], Line]


@dataclass(frozen=True)
class LogStream:
    """Lines a set of hosts emit every `every` seconds (with jitter) between `since` and `until`."""

    key: str
    hosts: tuple[str, ...]
    since: datetime
    every: float
    make: Maker
    until: datetime | None = None
    spread: float = 0.9  # jitter as a fraction of `every`

    def lines(self, seed: int, hosts: dict[str, HostSpec], a: datetime, b: datetime) -> Iterable[LogLine]:
        start = max(a, self.since)
        end = min(b, self.until) if self.until else b
        if start > end:
            return
        first = max(0, math.floor((start - self.since).total_seconds() / self.every) - 1)
        last = math.floor((end - self.since).total_seconds() / self.every)
        for name in self.hosts:
            spec = hosts.get(name)
            if spec is None:
                continue
            for n in range(first, last + 1):
                r = rng(seed, "stream", self.key, name, n)
                ts = self.since + timedelta(seconds=n * self.every + r.uniform(0, self.every * self.spread))
                if start <= ts <= end:
                    yield make_line(seed, ("stream", self.key, name, n), spec, ts, self.make(r, spec, ts))


def make_line(seed: int, key: tuple, spec: HostSpec, ts: datetime, line: Line) -> LogLine:
    message, level, app, facility, extra = line
    return LogLine(stable_uuid(seed, "log", *key), ts, spec.name, message, level, app, facility, tuple(extra.items()))


def iso_ms(ts: datetime) -> str:
    ts = ts.astimezone(timezone.utc)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


# --- routine lines -----------------------------------------------------------------------------


def _ip(r: random.Random) -> str:
    return f"10.0.{r.choice((15, 16, 17, 18, 19, 20))}.{r.randint(101, 130)}"


def request_id(r: random.Random) -> str:
    return "".join(r.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(24))


def _sshd(r, spec, ts) -> Line:
    user = r.choice(USERS)
    key = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(43))
    return (f"Accepted publickey for {user} from 10.0.16.{r.choice((10, 11))} port {r.randint(32768, 60999)} ssh2: ED25519 SHA256:{key}",
            6, "sshd", "auth", {"process_id": r.randint(1000, 99999)})


def _cron(r, spec, ts) -> Line:
    return ("pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", 6, "CRON", "authpriv",
            {"process_id": r.randint(1000, 99999)})


def _session(r, spec, ts) -> Line:
    n = r.randint(1000, 99999)
    return (f"Started session-{n}.scope - Session {n} of User {r.choice(USERS)}.", 6, "systemd", "daemon", {"process_id": 1})


def _puppet_applied(r, spec, ts) -> Line:
    return (f"Applied catalog in {r.uniform(6, 40):.2f} seconds", 5, "puppet-agent", "daemon", {"process_id": r.randint(1000, 99999)})


def _mw_warning(r, spec, ts) -> Line:
    wiki = r.choice(WIKIS)
    return (f"[{request_id(r)}] /w/index.php?title=Special:RecentChanges   PHP Warning: Undefined array key \"title\"",
            4, "mediawiki", "local0", {"mediawiki_level": "WARNING", "wiki": wiki, "channel": "error"})


def _mw_db_error(r, spec, ts) -> Line:
    wiki = r.choice(WIKIS)
    return (f"[{request_id(r)}] /w/api.php   Wikimedia\\Rdbms\\DBQueryError: Error 1205: Lock wait timeout exceeded; try restarting transaction",
            3, "mediawiki", "local0", {"mediawiki_level": "ERROR", "wiki": wiki, "channel": "exception"})


def _fpm_busy(r, spec, ts) -> Line:
    total = r.randint(30, 48)
    return (f"[pool www] seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), "
            f"spawning 8 children, there are 0 idle, and {total} total children", 4, "php-fpm", "daemon", {})


def _fpm_child(r, spec, ts) -> Line:
    return (f"[pool www] child {r.randint(10000, 99999)} exited with code 0 after {r.uniform(3000, 3700):.6f} seconds from start",
            5, "php-fpm", "daemon", {})


def _nginx_timeout(r, spec, ts) -> Line:
    wiki = r.choice(WIKIS).removesuffix("wiki")
    return (f"{ts:%Y/%m/%d %H:%M:%S} [error] {r.randint(1000, 9999)}#{r.randint(1000, 9999)}: *{r.randint(10**5, 10**7)} "
            f"upstream timed out (110: Connection timed out) while reading response header from upstream, client: {_ip(r)}, "
            f"server: *.wikitide.org, request: \"POST /w/api.php HTTP/2.0\", upstream: \"fastcgi://unix:/run/php/fpm-www.sock\", "
            f"host: \"{wiki}.wikitide.org\"", 3, "nginx", "local7", {})


def _job(r, spec, ts) -> Line:
    job = r.choice(("refreshLinks", "htmlCacheUpdate", "cirrusSearchLinksUpdate", "ThumbnailRender", "recentChangesUpdate"))
    return (f"{job} Special:Badtitle/{job} requestId={request_id(r)} (id={r.randint(10**6, 10**7)},timestamp={ts:%Y%m%d%H%M%S}) t={r.randint(3, 900)} good",
            6, "mediawiki", "local0", {"mediawiki_level": "INFO", "wiki": r.choice(WIKIS), "channel": "runJobs"})


def _aborted(r, spec, ts) -> Line:
    return (f"[Warning] Aborted connection {r.randint(10**6, 10**8)} to db: '{r.choice(WIKIS)}' user: 'wikiuser' "
            f"host: '{_ip(r)}' (Got timeout reading communication packets)", 4, "mariadbd", "daemon", {})


def _haproxy(r, spec, ts) -> Line:
    wiki = r.choice(WIKIS).removesuffix("wiki")
    status = r.choice((200, 200, 200, 200, 304, 301, 404))
    return (f"{_ip(r)}:{r.randint(32768, 60999)} [{ts:%d/%b/%Y:%H:%M:%S}.{ts.microsecond // 1000:03d}] https~ varnish/{spec.name} "
            f"0/0/0/{r.randint(1, 90)}/{r.randint(1, 95)} {status} {r.randint(300, 90000)} - - ---- "
            f"{r.randint(200, 400)}/{r.randint(180, 390)}/{r.randint(0, 9)}/{r.randint(0, 9)}/0 0/0 \"GET https://{wiki}.wikitide.org/wiki/Main_Page HTTP/2.0\"",
            6, "haproxy", "local0", {"http_status": status})


def _redis(r, spec, ts) -> Line:
    return ("Background saving terminated with success", 5, "redis-server", "daemon", {})


def _opensearch(r, spec, ts) -> Line:
    return (f"[{spec.name}] [o.o.i.i.ManagedIndexCoordinator] [{spec.name}] Sweeping managed indices", 6, "opensearch", "daemon", {})


def _swift(r, spec, ts) -> Line:
    wiki = r.choice(WIKIS)
    return (f"{_ip(r)} {_ip(r)} {ts:%d/%b/%Y/%H/%M/%S} GET /v1/AUTH_mw/miraheze-{wiki}-local-public/{r.randint(0, 9)}/{r.randint(10, 99)}/Logo.png "
            f"HTTP/1.0 200 - - - - {r.randint(2000, 900000)} - tx{request_id(r)[:21]} - {r.uniform(0.002, 0.09):.4f} - - ",
            6, "proxy-server", "local0", {})


ROUTINE: dict[str, tuple[tuple[int, Maker], ...]] = {
    "*": ((5, _sshd), (6, _cron), (4, _session), (3, _puppet_applied)),
    "mediawiki": ((8, _mw_warning), (1, _mw_db_error), (4, _fpm_child), (2, _fpm_busy), (1, _nginx_timeout)),
    "jobrunner": ((10, _job), (2, _fpm_child)),
    "database": ((6, _aborted),),
    "cache": ((14, _haproxy),),
    "redis": ((3, _redis),),
    "opensearch": ((2, _opensearch),),
    "swift-proxy": ((6, _swift),),
}
ROLE_WEIGHT = {"mediawiki": 3, "jobrunner": 3, "cache": 4, "database": 2}


def routine_lines(seed: int, hosts: dict[str, HostSpec], a: datetime, b: datetime) -> Iterable[LogLine]:
    names = sorted(hosts)
    weights = [ROLE_WEIGHT.get(hosts[n].role, 1) for n in names]
    if not names:
        return
    for slot in range(math.floor(a.timestamp() / SLOT), math.floor(b.timestamp() / SLOT) + 1):
        r = rng(seed, "routine", slot)
        count = r.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]
        for i in range(count):
            spec = hosts[r.choices(names, weights=weights)[0]]
            makers = ROUTINE["*"] + ROUTINE.get(spec.role, ())
            make = r.choices([m for _, m in makers], weights=[w for w, _ in makers])[0]
            ts = datetime.fromtimestamp(slot * SLOT + r.uniform(0, SLOT), timezone.utc)
            if a <= ts <= b:
                yield make_line(seed, ("routine", slot, i), spec, ts, make(r, spec, ts))


# --- alert events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventDefinition:
    id: str
    title: str
    description: str
    priority: int  # 1 low, 2 normal, 3 high
    alert: bool


@dataclass(frozen=True)
class AlertEvent:
    id: str
    timestamp: datetime
    definition: EventDefinition
    message: str
    key: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EventStream:
    """An event definition firing every `every` seconds per key while its condition holds."""

    definition: EventDefinition
    keys: tuple[str, ...]
    since: datetime
    every: float
    message: Callable[[str], str]
    until: datetime | None = None

    def events(self, seed: int, a: datetime, b: datetime) -> Iterable[AlertEvent]:
        start = max(a, self.since)
        end = min(b, self.until) if self.until else b
        if start > end:
            return
        first = max(0, math.floor((start - self.since).total_seconds() / self.every))
        last = math.floor((end - self.since).total_seconds() / self.every)
        for key in self.keys:
            for n in range(first, last + 1):
                ts = self.since + timedelta(seconds=n * self.every + 3 + stable_int(seed, key, n) % 20)
                if start <= ts <= end:
                    yield AlertEvent(ulid(ts, seed, self.definition.id, key, n), ts, self.definition, self.message(key),
                                     key, (("source", key),))


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ts: datetime, *parts: object) -> str:
    """A ULID (Graylog's event ids): 48 bits of milliseconds, 80 bits fixed by `parts`."""
    value = (int(ts.timestamp() * 1000) << 80) | (stable_int("ulid", *parts) << 16) | (stable_int("ulid2", *parts) & 0xFFFF)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


# A Graylog stream: (id, title, description, the field its rule reads, the values it matches)
StreamSpec = tuple[str, str, str, str, tuple[str, ...]]


@dataclass
class LogBook:
    """Everything Graylog would hold: routine lines plus what scenarios and tests added."""

    seed: int
    streams: list[LogStream] = field(default_factory=list)
    extra: list[LogLine] = field(default_factory=list)
    event_streams: list[EventStream] = field(default_factory=list)
    extra_events: list[AlertEvent] = field(default_factory=list)
    # senders that log to Graylog without being farm hosts (a switch, a relay), by source; streams may name them
    senders: dict[str, HostSpec] = field(default_factory=dict)
    graylog_streams: list[StreamSpec] = field(default_factory=list)  # streams besides the farm's own (graylog_api.STREAMS)

    def lines(self, hosts: dict[str, HostSpec], a: datetime, b: datetime) -> list[LogLine]:
        a = max(a, b - MAX_SPAN)
        found = list(routine_lines(self.seed, hosts, a, b))
        known = {**self.senders, **hosts} if self.senders else hosts
        for stream in self.streams:
            found.extend(stream.lines(self.seed, known, a, b))
        found.extend(line for line in self.extra if a <= line.timestamp <= b and line.source in known)
        return found

    def events(self, a: datetime, b: datetime) -> list[AlertEvent]:
        a = max(a, b - timedelta(days=7))
        found: list[AlertEvent] = []
        for stream in self.event_streams:
            found.extend(stream.events(self.seed, a, b))
        found.extend(e for e in self.extra_events if a <= e.timestamp <= b)
        return found

    def definitions(self) -> dict[str, EventDefinition]:
        out = {s.definition.id: s.definition for s in self.event_streams}
        out.update({e.definition.id: e.definition for e in self.extra_events})
        return out
