"""Incidents the simulated farm can be in, plus a little background noise so the panes show variety."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from console.sim.checks import CRITICAL, WARNING
from console.sim.commits import Trigger, build_repos
from console.sim.hostile_scenario import HOSTILE_BUSY, hostile_inventory, hostile_scenario
from console.sim.inventory import Inventory
from console.sim.logs import USERS, WIKIS, EventDefinition, EventStream, LogStream, make_line, request_id
from console.sim.puppet import RUN_INTERVAL, Window, failure_after_file_move
from console.sim.seeded import rng, unit

if TYPE_CHECKING:
    from console.sim.farm import Farm

DEFAULT_SCENARIO = "php-fpm-down"
DESCRIPTIONS = {
    "healthy": "everything green: no problems, no noise",
    "php-fpm-down": "PHP-FPM died on mw152 ~10 min ago: CRITICAL checks, 502s in the logs, caches see errors",
    "puppet-after-commit": "a puppet commit (modules/mediawiki) landed 20 min ago; Puppet fails on every mw* host since",
    "db-disk-full": "/srv on db171 is full: Disk Space CRITICAL, MariaDB WARNING, disk-full errors in the logs",
    "hostile": "escape sequences, bidi and zero-width characters, markup and 20,000-character lines in every string "
               "field (extra hosts, checks, logs, a commit ...; console/sim/hostile.py)",
}


def check_scenario(name: str) -> None:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")


def scenario_inventory(inventory: Inventory, name: str) -> Inventory:
    """The inventory a scenario starts from: the hosts it adds (`hostile`), else `inventory` itself."""
    extend = INVENTORIES.get(name)
    return extend(inventory) if extend is not None else inventory


def apply_scenario(farm: Farm, name: str) -> None:
    SCENARIOS[name](farm)
    if name != "healthy":
        add_noise(farm, busy=INCIDENT_HOSTS.get(name, ()))


def _caches(farm: Farm) -> list[str]:
    return sorted(h.name for h in farm.hosts.values() if h.role == "cache")


def _mw_glob(farm: Farm) -> list[str]:
    return sorted(h for h in farm.hosts if h.startswith("mw"))


def _once(farm: Farm, host: str, at: datetime, key: str, message: str, level: int, app: str, facility: str = "daemon",
          **extra: object) -> None:
    spec = farm.hosts[host]
    farm.logbook.extra.append(make_line(farm.seed, ("once", key), spec, at, (message, level, app, facility, extra)))


# --- healthy -----------------------------------------------------------------------------------


def healthy(farm: Farm) -> None:
    """Nothing to do: the natural state of the model is all OK."""


# --- php-fpm-down ------------------------------------------------------------------------------


def php_fpm_down(farm: Farm) -> None:
    t0 = (farm.anchor - timedelta(minutes=10, seconds=int(90 * unit(farm.seed, "fpm-t0")))).replace(microsecond=0)
    host = "mw152"
    farm.set_guest_usage(host, cpu=0.02, mem=0.21, since=t0)
    farm.set_check(host, "PHP-FPM", CRITICAL, "PROCS CRITICAL: 0 processes with command name 'php-fpm8.4'",
                   since=t0 + timedelta(seconds=20), perf=("procs=0;;1:;0;",))
    farm.set_check(host, "MediaWiki Rendering", CRITICAL,
                   "HTTP CRITICAL: HTTP/1.1 502 Bad Gateway - 568 bytes in 0.003 second response time",
                   since=t0 + timedelta(seconds=41), perf=("time=0.003211s;;;0.000000;10.000000", "size=568B;;;0"))
    farm.set_check(host, "HTTPS", CRITICAL, "HTTP CRITICAL: HTTP/2 502 - 568 bytes in 0.004 second response time",
                   since=t0 + timedelta(seconds=55), perf=("time=0.004102s;;;0.000000;10.000000", "size=568B;;;0"))
    for i, cache in enumerate(_caches(farm)):
        rate = 31 + int(17 * unit(farm.seed, "5xx", cache))
        farm.set_check(cache, "HTTP 4xx/5xx ERROR Rate", WARNING, f"WARNING - NGINX Error Rate is {rate}%",
                       since=t0 + timedelta(seconds=130 + 17 * i), perf=(f"error_rate={rate}%;40;60",))
        farm.set_check(cache, "Varnish Backends", CRITICAL, "CRITICAL - 1 backends are down. mw152",
                       since=t0 + timedelta(seconds=35 + 9 * i))

    pid = 1000 + int(60000 * unit(farm.seed, "fpm-pid"))
    lines = [
        (0, f"Out of memory: Killed process {pid} (php-fpm8.4) total-vm:2384716kB, anon-rss:1689404kB, file-rss:0kB, shmem-rss:36480kB, UID:33 pgtables:4012kB oom_score_adj:0", 3, "kernel", "kern"),
        (1, "php8.4-fpm.service: Main process exited, code=killed, status=9/KILL", 3, "systemd", "daemon"),
        (1, "php8.4-fpm.service: Failed with result 'signal'.", 4, "systemd", "daemon"),
        (2, "[pool www] ERROR: unable to bind listening socket for address '/run/php/fpm-www.sock': Address already in use (98)", 3, "php-fpm", "daemon"),
        (2, "ERROR: FPM initialization failed", 3, "php-fpm", "daemon"),
        (3, "php8.4-fpm.service: Start request repeated too quickly.", 3, "systemd", "daemon"),
        (3, "Failed to start php8.4-fpm.service - The PHP 8.4 FastCGI Process Manager.", 3, "systemd", "daemon"),
    ]
    for i, (seconds, message, level, app, facility) in enumerate(lines):
        _once(farm, host, t0 + timedelta(seconds=seconds, milliseconds=37 * i), f"fpm-{i}", message, level, app, facility)

    def refused(r, spec, ts):
        wiki = r.choice(WIKIS).removesuffix("wiki")
        page = r.choice(("Main_Page", "Special:RecentChanges", "Special:Search", "Help:Contents"))
        return (f"{ts:%Y/%m/%d %H:%M:%S} [error] {r.randint(1000, 9999)}#{r.randint(1000, 9999)}: *{r.randint(10**5, 10**7)} "
                f"connect() to unix:/run/php/fpm-www.sock failed (111: Connection refused) while connecting to upstream, "
                f"client: {spec.address.rsplit('.', 1)[0]}.{r.randint(130, 170)}, server: *.wikitide.org, "
                f"request: \"GET /wiki/{page} HTTP/2.0\", upstream: \"fastcgi://unix:/run/php/fpm-www.sock:\", "
                f"host: \"{wiki}.wikitide.org\"", 3, "nginx", "local7", {"http_status": 502})

    def backend_502(r, spec, ts):
        wiki = r.choice(WIKIS).removesuffix("wiki")
        return (f"10.0.{r.randint(15, 20)}.{r.randint(101, 130)}:{r.randint(32768, 60999)} [{ts:%d/%b/%Y:%H:%M:%S}.{ts.microsecond // 1000:03d}] "
                f"https~ varnish/{spec.name} 0/0/0/{r.randint(2, 9)}/{r.randint(3, 11)} 503 {r.randint(1500, 1600)} - - ---- "
                f"{r.randint(300, 480)}/{r.randint(290, 470)}/{r.randint(5, 30)}/{r.randint(5, 30)}/0 0/0 "
                f"\"GET https://{wiki}.wikitide.org/wiki/Main_Page HTTP/2.0\" backend=mw152",
                4, "haproxy", "local0", {"http_status": 503, "backend": "mw152"})

    farm.logbook.streams.append(LogStream("fpm-refused", (host,), t0 + timedelta(seconds=4), 4.0, refused))
    farm.logbook.streams.append(LogStream("fpm-503", tuple(_caches(farm)), t0 + timedelta(seconds=30), 9.0, backend_502))
    errors = EventDefinition("65f0c1a2b3c4d5e6f7a80001", "HTTP 5xx error rate above 5%",
                             "More than 5% of requests through a cache host ended in a 5xx", 3, True)
    upstream = EventDefinition("65f0c1a2b3c4d5e6f7a80002", "nginx upstream errors on app servers",
                               "nginx on a MediaWiki host cannot reach PHP-FPM", 3, True)
    farm.logbook.event_streams.append(EventStream(errors, tuple(_caches(farm)), t0 + timedelta(minutes=2), 300.0,
                                                  lambda key: f"HTTP 5xx rate on {key} above 5% for the last 5 minutes"))
    farm.logbook.event_streams.append(EventStream(upstream, (host,), t0 + timedelta(minutes=1), 300.0,
                                                  lambda key: f"nginx on {key}: connect() to php-fpm socket failed (111: Connection refused)"))


# --- puppet-after-commit -----------------------------------------------------------------------

TRIGGER_SUBJECT = "T15558: move robots.php from puppet to mw-config"


def puppet_after_commit(farm: Farm) -> None:
    at = (farm.anchor - timedelta(minutes=20)).replace(microsecond=0)
    trigger = next(c for c in farm.inventory.commits["miraheze/puppet"] if c.subject.startswith(TRIGGER_SUBJECT))
    farm.repos = build_repos(farm.inventory, farm.seed, farm.anchor, Trigger("miraheze/puppet", trigger.sha, at))
    events = failure_after_file_move("/srv/mediawiki/robots.php", "puppet:///modules/mediawiki/robots.php",
                                     "Mediawiki", "mediawiki/manifests/init.pp", 212)
    for name in _mw_glob(farm):
        agent = farm.agents[name]
        # every mw* host has run once since the commit landed (2..17 minutes ago)
        ago = 120 + 900 * unit(farm.seed, "puppet-ago", name)
        agent.phase = (farm.anchor.timestamp() - ago) % RUN_INTERVAL
        agent.windows.append(Window(at, "failed", events))
        first = math.ceil((at.timestamp() - agent.phase) / RUN_INTERVAL) * RUN_INTERVAL + agent.phase
        since = datetime.fromtimestamp(first + 30, timezone.utc)
        farm.logbook.streams.append(LogStream(f"puppet-fail-{name}", (name,), since, RUN_INTERVAL, _puppet_error, spread=0.01))
        farm.logbook.streams.append(LogStream(f"puppet-skip-{name}", (name,), since + timedelta(seconds=1), RUN_INTERVAL,
                                              _puppet_skipped, spread=0.01))
    failing = EventDefinition("65f0c1a2b3c4d5e6f7a80003", "Puppet agent errors",
                              "puppet-agent logged errors on several hosts", 2, True)
    farm.logbook.event_streams.append(EventStream(failing, ("mediawiki",), at + timedelta(minutes=4), 600.0,
                                                  lambda key: "puppet-agent errors on mw* hosts: Could not retrieve information from environment production source(s) puppet:///modules/mediawiki/robots.php"))


def _puppet_error(r, spec, ts):
    return ("(/Stage[main]/Mediawiki/File[/srv/mediawiki/robots.php]) Could not evaluate: Could not retrieve information "
            "from environment production source(s) puppet:///modules/mediawiki/robots.php", 3, "puppet-agent", "daemon",
            {"process_id": r.randint(1000, 99999)})


def _puppet_skipped(r, spec, ts):
    return ("(/Stage[main]/Nginx/Service[nginx]) Skipping because of failed dependencies", 4, "puppet-agent", "daemon",
            {"process_id": r.randint(1000, 99999)})


# --- db-disk-full ------------------------------------------------------------------------------


def db_disk_full(farm: Farm) -> None:
    t0 = (farm.anchor - timedelta(minutes=25, seconds=int(120 * unit(farm.seed, "disk-t0")))).replace(microsecond=0)
    host = "db171"
    binlog = f"/srv/mariadb/{host}-bin.{4000 + int(900 * unit(farm.seed, 'binlog')):06d}"
    farm.set_guest_usage(host, disk=0.99, since=t0)
    farm.set_check(host, "Disk Space", CRITICAL, "DISK CRITICAL - free space: /srv 512 MB (1% inode=97%)",
                   since=t0, perf=("/srv=50688MB;46080;48640;0;51200",))
    farm.set_check(host, "MariaDB", WARNING,
                   f"WARNING - 37 threads waiting: Error writing file '{binlog}' (Errcode: 28 \"No space left on device\")",
                   since=t0 + timedelta(minutes=2))

    def disk_full(r, spec, ts):
        if r.random() < 0.5:
            message = (f"[ERROR] mariadbd: Disk full ({binlog}); waiting for someone to free some space... "
                       f"(errno: 28 \"No space left on device\")")
        else:
            message = f"[ERROR] Error writing file '{binlog}' (errno: 28 \"No space left on device\")"
        return message, 3, "mariadbd", "daemon", {}

    def query_failed(r, spec, ts):
        wiki = r.choice(("metawiki", "communitywiki", "testwiki", "allthetropeswiki"))
        return (f"[{request_id(r)}] /w/index.php?title=Special:RecentChanges   Wikimedia\\Rdbms\\DBQueryError: Error 1021: "
                f"Disk full (/srv/mariadb/tmp/#sql-temptable-{r.randint(1000, 9999):x}-{r.randint(1, 99)}-0.MAI); waiting for someone "
                f"to free some space... (errno: 28 \"No space left on device\") Server: {host}",
                3, "mediawiki", "local0", {"mediawiki_level": "ERROR", "wiki": wiki, "channel": "exception"})

    _once(farm, host, t0, "disk-full", f"[Warning] mariadbd: Disk is full writing '{binlog}' (Errcode: 28 \"No space left on device\"). Waiting for someone to free space...", 4, "mariadbd")
    farm.logbook.streams.append(LogStream("db-disk-full", (host,), t0 + timedelta(seconds=5), 8.0, disk_full))
    farm.logbook.streams.append(LogStream("db-query-failed", tuple(_mw_glob(farm)), t0 + timedelta(minutes=1), 240.0, query_failed))
    mariadb = EventDefinition("65f0c1a2b3c4d5e6f7a80004", "MariaDB errors",
                              "mariadbd logged errors on a database host", 3, True)
    farm.logbook.event_streams.append(EventStream(mariadb, (host,), t0 + timedelta(minutes=1), 300.0,
                                                  lambda key: f"mariadbd on {key}: Disk full, writes are blocked"))


SCENARIOS: dict[str, Callable[[Farm], None]] = {
    "healthy": healthy,
    "php-fpm-down": php_fpm_down,
    "puppet-after-commit": puppet_after_commit,
    "db-disk-full": db_disk_full,
    "hostile": hostile_scenario,
}
INVENTORIES: dict[str, Callable[[Inventory], Inventory]] = {"hostile": hostile_inventory}
INCIDENT_HOSTS = {"php-fpm-down": ("mw152",), "db-disk-full": ("db171",), "hostile": HOSTILE_BUSY}


# --- background noise --------------------------------------------------------------------------


def add_noise(farm: Farm, busy: tuple[str, ...] = ()) -> None:
    """One busy host, one acknowledged problem, one check in downtime, one host with Puppet disabled."""
    r = rng(farm.seed, "noise")
    taken = set(busy)

    def pick(candidates: tuple[str, ...]) -> str:
        name = r.choice([c for c in candidates if c not in taken and c in farm.hosts])
        taken.add(name)
        return name

    loaded = pick(("os151", "os191", "os201", "prometheus151", "swiftproxy171", "rdb191", "phorge171"))
    since = farm.anchor - timedelta(minutes=r.randint(20, 90))
    farm.set_guest_usage(loaded, cpu=0.96, since=since)
    cores = farm.hosts[loaded].cores
    l1, l5, l15 = (round(cores * f, 2) for f in (2.31 + r.random() / 5, 2.12 + r.random() / 5, 1.96 + r.random() / 10))
    farm.set_check(loaded, "Current Load", WARNING, f"WARNING - load average: {l1:.2f}, {l5:.2f}, {l15:.2f}", since=since,
                   perf=(f"load1={l1:.3f};{cores * 2}.000;{cores * 4}.000;0;", f"load5={l5:.3f};{cores * 2}.000;{cores * 4}.000;0;",
                         f"load15={l15:.3f};{cores * 2}.000;{cores * 4}.000;0;"))

    acked = pick(("graylog161", "prometheus151", "matomo151", "os162", "phorge171"))
    since = farm.anchor - timedelta(hours=r.randint(3, 20))
    free = r.randint(1800, 3900)
    farm.set_check(acked, "Disk Space", WARNING, f"DISK WARNING - free space: / {free} MB ({r.randint(6, 9)}% inode=93%)", since=since)
    farm.acknowledge(acked, "Disk Space", author=r.choice(USERS), comment="old logs; cleanup scheduled, see T15931",
                     since=since + timedelta(minutes=r.randint(5, 40)))

    maintained = pick(tuple(h for h in farm.hosts if h.startswith("swiftobject")))
    start = farm.anchor - timedelta(minutes=r.randint(10, 40))
    farm.set_check(maintained, "Swift Object Service", CRITICAL,
                   f"connect to address {farm.hosts[maintained].address} and port 6000: Connection refused",
                   since=start + timedelta(minutes=2))
    farm.set_downtime(maintained, "Swift Object Service", author=r.choice(USERS),
                      comment="replacing a failed disk, T15930", duration=timedelta(hours=3), start=start)

    disabled = pick(("phorge171", "reports171", "matomo151", "bots171", "ldap171"))
    user = r.choice(USERS)
    farm.set_puppet_disabled(disabled, reason=f"testing new nginx config --{user}",
                             since=farm.anchor - timedelta(hours=r.randint(4, 9), minutes=r.randint(0, 59)))

    gossip = EventDefinition("65f0c1a2b3c4d5e6f7a80010", "SSH authentication failures",
                             "Many failed SSH logins on a bastion", 1, False)
    farm.logbook.event_streams.append(EventStream(gossip, ("bast161", "bast181"),
                                                  farm.anchor - timedelta(days=2, minutes=r.randint(0, 90)), 7200.0,
                                                  lambda key: f"More than 20 failed SSH logins on {key} in 10 minutes"))
