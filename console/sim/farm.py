"""The simulated farm's state: guests, checks, Puppet agents, logs, commits — and the mutators tests use.

Everything is a function of (seed, the clock's now, what was mutated), so a fixed clock and seed give
byte-identical answers. The API servers read it from another thread: hold `farm.lock` while reading.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from console.core.clock import Clock, utc_now
from console.sim.checks import Ack, Downtime, Override, Slot, calm_since, natural_interval, parse_state
from console.sim.commits import Commit, build_repos, new_commit
from console.sim.inventory import HostSpec, NodeSpec, load_inventory
from console.sim.logs import AlertEvent, EventDefinition, LogBook, LogLine, ulid
from console.sim.metrics import Usage, natural_cpu, natural_usage
from console.sim.puppet import RUN_INTERVAL, Agent, ResourceEvent, Window
from console.sim.scale import Scale, apply_scale, scale_inventory
from console.sim.seeded import stable_uuid, unit
from console.sim.varnish import CacheState, new_caches

When = datetime | timedelta | None  # an instant, how long ago, or now


@dataclass
class Guest:
    """A Proxmox VM (VM name == host name)."""

    spec: HostSpec
    boot_at: datetime
    history: list[tuple[datetime, str]] = field(default_factory=list)  # (since, status), oldest first
    cpu: tuple[float, datetime] | None = None  # (fraction, since) forced by a scenario or a test
    mem: tuple[float, datetime] | None = None
    disk: tuple[float, datetime] | None = None

    @property
    def status_since(self) -> datetime | None:
        return self.history[-1][0] if self.history else None

    def status_at(self, t: datetime) -> str:
        status = "running"
        for since, value in self.history:
            if since <= t:
                status = value
        return status


@dataclass
class Quota:
    """GitHub's rate limit for one credential."""

    limit: int
    remaining: int
    reset: datetime


class Farm:
    def __init__(self, scenario: str = "php-fpm-down", seed: int = 1, clock: Clock | None = None,
                 scale: Scale | None = None) -> None:
        from console.sim.scenarios import apply_scenario, check_scenario, scenario_inventory

        check_scenario(scenario)
        self.lock = threading.RLock()
        # `opsconsole sim`: the process is the farm's own, so building an answer may pause the collector
        # (console/core/runtime.py); in `opsconsole demo` and the tests it shares the console's process
        self.own_process = False
        self.seed = seed
        self.clock: Clock = clock or utc_now
        self.scenario = scenario
        self.anchor = self.now()  # scenario times ("since 10 minutes") count back from here
        self.scale = scale or Scale()
        # the reference farm unless scaled; a scenario may add hosts (`hostile`)
        self.inventory = scenario_inventory(scale_inventory(load_inventory(), self.scale, seed), scenario)
        self.hosts: dict[str, HostSpec] = {h.name: h for h in self.inventory.hosts}
        self.nodes: dict[str, NodeSpec] = {n.name: n for n in self.inventory.nodes}
        self.node_boot = {
            name: self.anchor - timedelta(days=20 + int(180 * unit(seed, "node-boot", name)), seconds=int(86400 * unit(seed, "nb", name)))
            for name in self.nodes
        }
        self.guests: dict[str, Guest] = {
            h.name: Guest(h, self.anchor - timedelta(days=3 + int(90 * unit(seed, "boot", h.name)), seconds=int(86400 * unit(seed, "b", h.name))))
            for h in self.inventory.hosts
            if h.is_guest
        }
        self.slots: dict[tuple[str, str], Slot] = {}
        for spec in self.inventory.hosts:
            self._add_slot(spec.name, "")
            for service in self.inventory.checks_for(spec):
                self._add_slot(spec.name, service)
        self.agents: dict[str, Agent] = {
            h.name: Agent(h, phase=RUN_INTERVAL * unit(seed, "puppet-phase", h.name)) for h in self.inventory.hosts
        }
        self.logbook = LogBook(seed)
        self.repos: dict[str, list[Commit]] = build_repos(self.inventory, seed, self.anchor)
        reset = self.anchor.replace(microsecond=0) + timedelta(seconds=3600 - int(3600 * unit(seed, "quota")))
        self.github_quota = Quota(5000, 5000 - int(400 * unit(seed, "quota-used")), reset)
        self.github_anonymous_quota = Quota(60, 60, reset)
        # Icinga numbers: 2.0 as APIS.md documents; False writes 2 like Icinga 2.13.6 does (clients must take both)
        self.icinga_float_numbers = True
        # one Varnish per cache host (console/sim/varnish.py), and the SAL relay's lines
        self.caches: dict[str, CacheState] = new_caches([h.name for h in load_inventory().hosts if h.role == "cache"])  # scaled cp* are not caches
        self.sal_log: list[str] = []
        # the depool service of each cache (console/sim/depool.py): cache -> host -> sick|healthy (absent: auto)
        self.backend_admin: dict[str, dict[str, str]] = {name: {} for name in self.caches}
        self.depool_log: list[tuple[str, str, str]] = []  # (cache, host, state) in the order the services got them
        # backends the caches know that are no farm host (every depool service lists them; the `hostile` scenario)
        self.foreign_backends: list[str] = []
        # lines every Proxmox power task writes first (the `hostile` scenario), and what every shell command on
        # a host prints besides its own output: (stdout, stderr) appended (console/sim/hostcmds.py)
        self.task_notes: tuple[str, ...] = ()
        self.command_noise: tuple[str, str] | None = None
        apply_scenario(self, scenario)
        apply_scale(self, self.scale)  # extra alerts and log lines (console/sim/scale.py)

    # --- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        now = self.clock()
        return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)

    def when(self, value: When) -> datetime:
        if value is None:
            return self.now()
        if isinstance(value, timedelta):
            return self.now() - value
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

    # --- reading -------------------------------------------------------------------------------

    def usage(self, name: str, t: datetime) -> Usage | None:
        """The guest's load at `t`, or None when it was not running then."""
        guest = self.guests.get(name)
        if guest is None or guest.status_at(t) != "running" or t < guest.boot_at:
            return None
        usage = natural_usage(self.seed, guest.spec, t)
        if guest.cpu and t >= guest.cpu[1]:
            usage = replace(usage, cpu=guest.cpu[0])
        if guest.mem and t >= guest.mem[1]:
            usage = replace(usage, mem=int(usage.maxmem * guest.mem[0]))
        if guest.disk and t >= guest.disk[1]:
            usage = replace(usage, disk=int(usage.maxdisk * guest.disk[0]))
        return usage

    def cpu(self, name: str, t: datetime) -> float | None:
        """usage(name, t).cpu, computed alone (None when the guest was not running then)."""
        guest = self.guests.get(name)
        if guest is None or guest.status_at(t) != "running" or t < guest.boot_at:
            return None
        if guest.cpu and t >= guest.cpu[1]:
            return guest.cpu[0]
        return natural_cpu(self.seed, guest.spec, t)

    def guests_on(self, node: str) -> list[Guest]:
        return [g for g in self.guests.values() if g.spec.node == node]

    def slot(self, host: str, service: str = "") -> Slot:
        try:
            return self.slots[(host, service)]
        except KeyError:
            raise KeyError(f"no check {service!r} on host {host!r}" if service else f"no host {host!r}") from None

    def head(self, repo: str) -> Commit | None:
        commits = self.repos.get(repo) or []
        return commits[0] if commits else None

    # --- mutators (see console/sim/README.md) ---------------------------------------------------

    def remove_guest(self, name: str) -> None:
        """The VM is gone from Proxmox; Icinga, PuppetDB and Graylog still know the host."""
        with self.lock:
            self._guest(name)
            del self.guests[name]

    def remove_host(self, name: str) -> None:
        """The host is gone everywhere (decommissioned)."""
        with self.lock:
            if name not in self.hosts:
                raise KeyError(f"no host {name!r}")
            del self.hosts[name]
            self.guests.pop(name, None)
            self.agents.pop(name, None)
            for key in [k for k in self.slots if k[0] == name]:
                del self.slots[key]

    def set_guest_status(self, name: str, status: str, since: When = None) -> None:
        """"running" or "stopped"; a stopped guest's Icinga host goes DOWN."""
        if status not in ("running", "stopped"):
            raise ValueError("guest status must be 'running' or 'stopped'")
        with self.lock:
            guest = self._guest(name)
            at = self.when(since)
            guest.history.append((at, status))
            if status == "running":
                guest.boot_at = at

    def set_guest_usage(self, name: str, cpu: float | None = None, mem: float | None = None,
                        disk: float | None = None, since: When = None) -> None:
        """Force fractions (0..1) of CPU, memory or root disk from `since` on; None leaves one alone."""
        with self.lock:
            guest = self._guest(name)
            at = self.when(since)
            for attr, value in (("cpu", cpu), ("mem", mem), ("disk", disk)):
                if value is not None:
                    if not 0 <= value <= 1:
                        raise ValueError(f"{attr} must be a fraction between 0 and 1")
                    setattr(guest, attr, (float(value), at))

    def clear_guest_usage(self, name: str) -> None:
        with self.lock:
            guest = self._guest(name)
            guest.cpu = guest.mem = guest.disk = None

    def set_check(self, host: str, service: str, state: int | str, output: str | None = None, *,
                  hard: bool = True, since: When = None, perf: tuple[str, ...] = ()) -> None:
        """Force a service check's state ("CRITICAL" or 2) and plugin output; creates the check if new."""
        with self.lock:
            if host not in self.hosts:
                raise KeyError(f"no host {host!r}")
            code = parse_state(state)
            slot = self.slots.get((host, service)) or self._add_slot(host, service)
            names = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
            slot.override = Override(code, output if output is not None else f"{names[code]} - set by test",
                                     self.when(since), hard, tuple(perf))

    def clear_check(self, host: str, service: str) -> None:
        with self.lock:
            self.slot(host, service).override = None

    def set_host_state(self, host: str, state: str | int, output: str | None = None, since: When = None) -> None:
        """Force an Icinga host UP (0) or DOWN (1)."""
        code = {"UP": 0, "DOWN": 1}.get(str(state).upper(), state)
        if code not in (0, 1):
            raise ValueError("host state must be UP or DOWN")
        with self.lock:
            default = "PING OK - Packet loss = 0%, RTA = 0.31 ms" if code == 0 else "CRITICAL - Host Unreachable"
            self.slot(host).override = Override(int(code), output or default, self.when(since))

    def clear_host_state(self, host: str) -> None:
        with self.lock:
            self.slot(host).override = None

    def acknowledge(self, host: str, service: str = "", author: str = "alice", comment: str = "looking into it",
                    sticky: bool = False, since: When = None, expiry: datetime | None = None) -> None:
        with self.lock:
            self.slot(host, service).ack = Ack(author, comment, self.when(since), sticky, expiry)

    def clear_acknowledgement(self, host: str, service: str = "") -> None:
        with self.lock:
            self.slot(host, service).ack = None

    def set_downtime(self, host: str, service: str = "", author: str = "alice", comment: str = "maintenance",
                     duration: timedelta = timedelta(hours=2), start: When = None, fixed: bool = True,
                     parent: str = "") -> str:
        """A downtime from `start` for `duration`; returns its name (`host[!service]!uuid`)."""
        with self.lock:
            slot = self.slot(host, service)
            begin = self.when(start)
            name = f"{host}!{service}!{stable_uuid(self.seed, 'downtime', host, service, begin.isoformat())}" if service \
                else f"{host}!{stable_uuid(self.seed, 'downtime', host, begin.isoformat())}"
            slot.downtime = Downtime(name, author, comment, begin, begin, begin + duration, fixed, parent)
            return name

    def clear_downtime(self, host: str, service: str = "") -> int:
        """Remove the downtime and its children (the service downtimes scheduled with it); return how many children."""
        with self.lock:
            slot = self.slot(host, service)
            name = slot.downtime.name if slot.downtime else None
            slot.downtime = None
            children = [s for s in self.slots.values() if name and s.downtime and s.downtime.parent == name]
            for child in children:
                child.downtime = None
            return len(children)

    def recheck(self, host: str, service: str = "", at: When = None) -> None:
        """A forced check ran (reschedule-check): last_check moves to `at` (now)."""
        with self.lock:
            self.slot(host, service).rechecked_at = self.when(at)

    def set_puppet_status(self, host: str, status: str, events: tuple[ResourceEvent, ...] | None = None,
                          since: When = None) -> None:
        """From the latest report on (or `since`), runs end "failed" | "changed" | "unchanged"."""
        if status not in ("failed", "changed", "unchanged"):
            raise ValueError("puppet status must be failed, changed or unchanged")
        with self.lock:
            agent = self._agent(host)
            if since is None:
                latest = agent.latest(self.seed, self.now())
                at = latest.start if latest else self.now()
            else:
                at = self.when(since)
            agent.windows.append(Window(at, status, tuple(events or ())))
            agent.windows.sort(key=lambda w: w.since)

    def clear_puppet_status(self, host: str) -> None:
        with self.lock:
            self._agent(host).windows.clear()

    def set_puppet_disabled(self, host: str, reason: str = "disabled by test", since: When = None) -> None:
        """`puppet agent --disable`: no reports after `since`; Icinga's Puppet check warns."""
        with self.lock:
            agent = self._agent(host)
            agent.disabled_since = self.when(since)
            agent.disabled_reason = reason

    def enable_puppet(self, host: str) -> None:
        with self.lock:
            agent = self._agent(host)
            agent.disabled_since = None
            agent.disabled_reason = ""

    def add_commit(self, repo: str, message: str, files: tuple[str, ...] = (), author: str = "alice",
                   at: When = None, name: str | None = None) -> str:
        """Push a commit (it becomes the newest); returns its sha. The GitHub ETag changes. `author` is the
        GitHub login; `name` the git author name when it is not the login."""
        with self.lock:
            if repo not in self.repos:
                raise KeyError(f"no repository {repo!r}")
            commit = new_commit(repo, self.head(repo), author, message, tuple(files), self.when(at), name)
            self.repos[repo] = sorted([commit, *self.repos[repo]], key=lambda c: c.date, reverse=True)
            return commit.sha

    def add_log(self, host: str, message: str, level: int = 6, application_name: str = "syslog",
                facility: str = "daemon", at: When = None, **fields: object) -> str:
        """One more Graylog message from `host`; returns its _id."""
        with self.lock:
            if host not in self.hosts:
                raise KeyError(f"no host {host!r}")
            ts = self.when(at)
            line_id = stable_uuid(self.seed, "added-log", len(self.logbook.extra), host, message, ts.isoformat())
            self.logbook.extra.append(LogLine(line_id, ts, host, message, int(level), application_name, facility,
                                              tuple(fields.items())))
            return line_id

    def add_event(self, message: str, key: str, title: str = "Test event", priority: int = 2, alert: bool = True,
                  at: When = None) -> str:
        """One more Graylog event (alert=True: an alert); returns its id."""
        with self.lock:
            ts = self.when(at)
            definition = EventDefinition(stable_uuid("definition", title).replace("-", "")[:24], title, title, priority, alert)
            event = AlertEvent(ulid(ts, "added", len(self.logbook.extra_events), message), ts, definition, message,
                               key, (("source", key),))
            self.logbook.extra_events.append(event)
            return event.id

    def set_github_quota(self, remaining: int | None = None, limit: int | None = None) -> None:
        """Set what the token has left this hour (0 -> 403 rate limit exceeded)."""
        with self.lock:
            if limit is not None:
                self.github_quota.limit = limit
            if remaining is not None:
                self.github_quota.remaining = remaining

    # --- helpers -------------------------------------------------------------------------------

    def _guest(self, name: str) -> Guest:
        try:
            return self.guests[name]
        except KeyError:
            raise KeyError(f"no guest {name!r}") from None

    def _agent(self, host: str) -> Agent:
        try:
            return self.agents[host]
        except KeyError:
            raise KeyError(f"no puppet node {host!r}") from None

    def _add_slot(self, host: str, service: str) -> Slot:
        slot = Slot(
            host=host,
            service=service,
            interval=natural_interval(service),
            phase=natural_interval(service) * unit(self.seed, "check-phase", host, service),
            calm_since=calm_since(self.seed, self.anchor, host, service),
        )
        self.slots[(host, service)] = slot
        return slot
