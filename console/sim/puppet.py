"""Puppet agents: a run every 30 minutes per host, the reports and events PuppetDB keeps of them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from console.sim.inventory import HostSpec
from console.sim.seeded import hexid, rng, stable_uuid, unit

RUN_INTERVAL = 1800  # seconds between agent runs
HISTORY_RUNS = 12  # reports kept per node (6 hours)
RUNS_KEPT = 4 * (HISTORY_RUNS + 3)  # natural runs memoized per agent (a few refreshes' worth, then the oldest go)
PUPPET_VERSION = "8.10.0"
PUPPETSERVER = "puppet181.fsslc.wtnet"
ENVIRONMENT = "production"
CODE_DIR = "/etc/puppetlabs/code/environments/production"
# A custom fact the farm's Puppet ships: the message of `puppet agent --disable`, present only while
# the agent is disabled (uploaded by a cron `puppet facts upload`, since a disabled agent never runs).
DISABLED_FACT = "puppet_agent_disabled_message"


@dataclass(frozen=True)
class ResourceEvent:
    resource_type: str
    resource_title: str
    status: str  # success | failure | noop | skipped
    message: str | None
    prop: str | None = None  # the wire field "property"
    old_value: str | None = None
    new_value: str | None = None
    containing_class: str | None = None
    file: str | None = None
    line: int | None = None

    @property
    def resource(self) -> str:
        return f"{self.resource_type}[{self.resource_title}]"


@dataclass(frozen=True)
class Window:
    """From `since` on, runs end like this (a test mutator or a scenario opened it)."""

    since: datetime
    status: str | None  # "failed" | "changed" | "unchanged" | None = back to normal
    events: tuple[ResourceEvent, ...] = ()


@dataclass(frozen=True)
class Run:
    host: HostSpec
    index: int
    start: datetime
    end: datetime
    status: str
    events: tuple[ResourceEvent, ...]
    hash: str
    transaction_uuid: str
    catalog_uuid: str
    configuration_version: str
    code_id: str

    @property
    def producer_timestamp(self) -> datetime:
        return self.end + timedelta(seconds=1)

    @property
    def receive_time(self) -> datetime:
        return self.end + timedelta(seconds=2)

    @property
    def failures(self) -> tuple[ResourceEvent, ...]:
        return tuple(e for e in self.events if e.status == "failure")


@dataclass
class Agent:
    host: HostSpec
    phase: float  # seconds after the epoch's half hour this host runs
    windows: list[Window] = field(default_factory=list)
    disabled_since: datetime | None = None
    disabled_reason: str = ""
    manual: list[Run] = field(default_factory=list)  # runs started by hand (`puppet agent -t`), oldest first
    # run k as it ends with no window open, a pure function of (seed, host, phase, k): kept, bounded
    _natural: dict[tuple[int, float, int], Run] = field(default_factory=dict, repr=False, compare=False)

    def _window_at(self, t: datetime) -> Window | None:
        found = None
        for window in self.windows:
            if window.since <= t:
                found = window
        return found

    def may_fail(self) -> bool:
        """Whether any run can end "failed" (only a window makes them fail, or made a run by hand fail)."""
        return any(window.status == "failed" for window in self.windows) or any(run.status == "failed" for run in self.manual)

    def run(self, seed: int, k: int) -> Run:
        natural = self.natural_run(seed, k)
        window = self._window_at(natural.start)
        if window is None or window.status is None:
            return natural
        status = window.status
        events = window.events if status in ("failed", "changed") else ()
        if status == "failed" and not events:
            events = DEFAULT_FAILURE
        return replace(natural, status=status, events=events)

    def natural_run(self, seed: int, k: int) -> Run:
        key = (seed, self.phase, k)
        run = self._natural.get(key)
        if run is None:
            if len(self._natural) >= RUNS_KEPT:
                del self._natural[next(iter(self._natural))]  # the oldest kept
            run = self._natural[key] = self._new_natural_run(seed, k)
        return run

    def _new_natural_run(self, seed: int, k: int) -> Run:
        r = rng(seed, "puppet-run", self.host.name, k)
        start = datetime.fromtimestamp(self.phase + k * RUN_INTERVAL + r.uniform(0, 12), timezone.utc)
        slow = self.host.role in ("mediawiki", "jobrunner")
        end = start + timedelta(seconds=r.uniform(24, 48) if slow else r.uniform(6, 22))
        if unit(seed, "puppet-changed", self.host.name, k) < 0.12:
            status, events = "changed", _routine_changes(seed, self.host, k)
        else:
            status, events = "unchanged", ()
        config_version = str(int(start.timestamp()) - 40 - (int(start.timestamp()) % 600))
        return Run(
            host=self.host,
            index=k,
            start=start,
            end=end,
            status=status,
            events=events,
            hash=hexid(seed, "report", self.host.fqdn, k),
            transaction_uuid=stable_uuid(seed, "transaction", self.host.fqdn, k),
            catalog_uuid=stable_uuid(seed, "catalog", self.host.fqdn, k),
            configuration_version=f"({config_version}) {hexid('code', config_version, length=7)}",
            code_id=hexid("code", config_version),
        )

    def run_now(self, seed: int, now: datetime) -> Run:
        """`puppet agent -t` by hand: a run that has just ended (its report is stored by `now`), ending as
        the open window says (else with no changes)."""
        slow = self.host.role in ("mediawiki", "jobrunner")
        took = timedelta(seconds=31 if slow else 14)
        start = now - took - timedelta(seconds=2)
        window = self._window_at(start)
        status = window.status if window is not None and window.status is not None else "unchanged"
        events = window.events if window is not None and status in ("failed", "changed") else ()
        if status == "failed" and not events:
            events = DEFAULT_FAILURE
        base = self.run(seed, math.floor((start.timestamp() - self.phase) / RUN_INTERVAL))
        n = len(self.manual)
        run = Run(
            host=self.host, index=base.index, start=start, end=start + took, status=status, events=events,
            hash=hexid(seed, "manual-report", self.host.fqdn, n, start.isoformat()),
            transaction_uuid=stable_uuid(seed, "manual-transaction", self.host.fqdn, n, start.isoformat()),
            catalog_uuid=base.catalog_uuid, configuration_version=base.configuration_version, code_id=base.code_id,
        )
        self.manual.append(run)
        return run

    def runs(self, seed: int, now: datetime, history: int = HISTORY_RUNS) -> list[Run]:
        """Reports PuppetDB holds at `now`, newest first (scheduled runs and runs by hand)."""
        scheduled = self._scheduled_runs(seed, now, history)
        by_hand = [run for run in self.manual if run.receive_time <= now]
        if not by_hand:
            return scheduled
        return sorted(scheduled + by_hand, key=lambda run: run.start, reverse=True)[:history]

    def _scheduled_runs(self, seed: int, now: datetime, history: int) -> list[Run]:
        k = math.floor((now.timestamp() - self.phase) / RUN_INTERVAL)
        if self.disabled_since is not None and self.disabled_since < now:
            # a disabled agent sends nothing after it was disabled
            k = min(k, math.floor((self.disabled_since.timestamp() - self.phase) / RUN_INTERVAL))
        found: list[Run] = []
        for _ in range(history + 3):
            if len(found) >= history:
                break
            run = self.run(seed, k)
            k -= 1
            if run.receive_time > now:
                continue  # still running, not stored yet
            if self.disabled_since is not None and run.start >= self.disabled_since:
                continue
            found.append(run)
        return found

    def latest(self, seed: int, now: datetime) -> Run | None:
        runs = self.runs(seed, now, history=1)
        return runs[0] if runs else None


def _routine_changes(seed: int, host: HostSpec, k: int) -> tuple[ResourceEvent, ...]:
    r = rng(seed, "puppet-events", host.name, k)
    pool = ROUTINE_CHANGES.get(host.role, ()) + ROUTINE_CHANGES["*"]
    picks = r.sample(pool, k=min(len(pool), r.choice((1, 1, 2))))
    events = []
    for rtype, title, prop, old, new, klass, path in picks:
        if prop == "content":
            old = "{sha256}" + hexid(seed, title, k - 1, length=64)
            new = "{sha256}" + hexid(seed, title, k, length=64)
            message = f"content changed '{old}' to '{new}'"
        elif prop == "returns":
            message = "executed successfully"
        else:
            message = f"{prop} changed '{old}' to '{new}'"
        events.append(
            ResourceEvent(rtype, title, "success", message, prop, old, new, klass, f"{CODE_DIR}/modules/{path}", r.randint(20, 240))
        )
    return tuple(events)


# (type, title, property, old, new, containing class, manifest path under modules/)
ROUTINE_CHANGES: dict[str, tuple[tuple[str, str, str, str | None, str | None, str, str], ...]] = {
    "*": (
        ("File", "/etc/ssl/localcerts/wikitide.net.crt", "content", None, None, "Ssl::Wildcard", "ssl/manifests/wildcard.pp"),
        ("Exec", "apt-get update", "returns", "notrun", "0", "Base::Packages", "base/manifests/packages.pp"),
        ("File", "/etc/rsyslog.d/30-remote-syslog.conf", "content", None, None, "Base::Syslog", "base/manifests/syslog.pp"),
    ),
    "mediawiki": (
        ("File", "/srv/mediawiki/config/ManageWikiExtensions.php", "content", None, None, "Mediawiki", "mediawiki/manifests/init.pp"),
        ("Exec", "MediaWiki Config Sync", "returns", "notrun", "0", "Mediawiki::Deploy", "mediawiki/manifests/deploy.pp"),
        ("Service", "php8.4-fpm", "ensure", "stopped", "running", "Php::Fpm", "php/manifests/fpm.pp"),
    ),
    "jobrunner": (
        ("Exec", "MediaWiki Config Sync", "returns", "notrun", "0", "Mediawiki::Deploy", "mediawiki/manifests/deploy.pp"),
        ("File", "/etc/cron.d/mediawiki-purge-old-uploads", "content", None, None, "Mediawiki::Jobqueue::Runner", "mediawiki/manifests/jobqueue/runner.pp"),
    ),
    "cache": (
        ("File", "/etc/varnish/default.vcl", "content", None, None, "Varnish", "varnish/manifests/init.pp"),
        ("Exec", "varnish-reload", "returns", "notrun", "0", "Varnish", "varnish/manifests/init.pp"),
    ),
    "database": (
        ("File", "/etc/mysql/mariadb.conf.d/50-server.cnf", "content", None, None, "Mariadb::Config", "mariadb/manifests/config.pp"),
    ),
}

# What a run fails with when nobody said why.
DEFAULT_FAILURE = (
    ResourceEvent(
        "Exec", "git_pull_MediaWiki core", "failure",
        "change from 'notrun' to ['0'] failed: 'git -C /srv/mediawiki-staging/1.45 pull' returned 1 instead of one of [0]",
        "returns", "notrun", "['0']", "Mediawiki::Deploy", f"{CODE_DIR}/modules/mediawiki/manifests/deploy.pp", 118,
    ),
)


def failure_after_file_move(path: str, source: str, klass: str, manifest: str, line: int) -> tuple[ResourceEvent, ...]:
    """A file whose source was moved away in a commit: Puppet cannot fetch it, dependants are skipped."""
    return (
        ResourceEvent(
            "File", path, "failure",
            f"Could not evaluate: Could not retrieve information from environment production source(s) {source}",
            None, None, None, klass, f"{CODE_DIR}/modules/{manifest}", line,
        ),
        ResourceEvent("Service", "nginx", "skipped", "Skipped due to failed dependencies", None, None, None,
                      "Nginx", f"{CODE_DIR}/modules/nginx/manifests/init.pp", 64),
    )


def facts(seed: int, host: HostSpec, now: datetime, boot_at: datetime | None, disabled_reason: str | None = None) -> dict[str, object]:
    r = rng(seed, "facts", host.name)
    uptime = int((now - boot_at).total_seconds()) if boot_at else r.randint(86400 * 20, 86400 * 200)
    disabled = {DISABLED_FACT: disabled_reason} if disabled_reason is not None else {}
    return {
        "hostname": host.name,
        "fqdn": host.fqdn,
        "domain": host.fqdn.split(".", 1)[1],
        "networking": {"hostname": host.name, "fqdn": host.fqdn, "ip": host.address},
        "ipaddress": host.address,
        "os": {"family": "Debian", "name": "Debian", "release": {"full": "12.11", "major": "12", "minor": "11"}},
        "kernelrelease": "6.1.0-37-amd64",
        "virtual": "kvm" if host.is_guest else "physical",
        "is_virtual": host.is_guest,
        "processorcount": host.cores,
        "memorysize": f"{host.memory_gb:.2f} GiB",
        "uptime_seconds": uptime,
        "puppetversion": PUPPET_VERSION,
        "role": host.role,
        **disabled,
    }
