"""Scale knobs: a bigger farm than the reference one, for benchmarks (bench/run.py) and load tests.

`Scale()` (every knob None) is the reference farm, byte for byte. A knob names a *total*:

- `guests`: Proxmox guests (the reference farm has 67). Extra guests are named like the farm's own
  (`mw1001`, `mwtask1002`, `db1003`, `cp1004` ...; the number is unique across roles), with the
  reference role mix, spread round-robin over every node; each is a monitored, puppetised host.
- `nodes`: Proxmox nodes (the reference farm has 7, cloud15–cloud21); extra ones are cloud22, cloud23 ...
  (monitored hypervisors too).
- `alerts`: non-OK Icinga service checks in all (the scenario's own problems count; extra ones are
  WARNING, CRITICAL or UNKNOWN, hard, spread over every host's checks, the guests first).
- `log_lines`: extra Graylog lines over the last day (spread evenly, every host in turn; a fifth of
  them at level 3 `err`), on top of the routine lines.
- `commits`: commits per repository (the reference farm has 200 each); extra ones are older.

Everything is a function of the seed: the same seed and scale give the same farm.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from console.sim.inventory import CommitSpec, HostSpec, Inventory, NodeSpec
from console.sim.seeded import hexid, unit

if TYPE_CHECKING:
    from console.sim.farm import Farm

# role, name prefix, cores, memory_gb, services — the reference farm's mix, in proportion
ROLE_MIX: tuple[tuple[str, str, int, int, tuple[str, ...]], ...] = (
    *(("mediawiki", "mw", 4, 16, ("nginx", "php8.4-fpm")),) * 10,
    *(("jobrunner", "mwtask", 4, 16, ("nginx", "php8.4-fpm", "jobrunner")),) * 2,
    *(("database", "db", 8, 64, ("mariadb",)),) * 2,
    ("cache", "cp", 8, 32, ("varnish", "haproxy", "nginx")),
    ("memcached", "mem", 2, 8, ("memcached",)),
    ("swift-object", "swiftobject", 4, 8, ("swift-object",)),
    ("ldap", "ldap", 2, 4, ("slapd",)),
)
FIRST_NUMBER = 1001
FIRST_VMID = 100001
ALERT_STATES = (1, 1, 2, 3)  # WARNING twice as often as CRITICAL or UNKNOWN
SAMPLE_OUTPUTS = {
    1: "WARNING - {service} on {host} above its warning threshold",
    2: "CRITICAL - {service} on {host} above its critical threshold",
    3: "UNKNOWN - {service} on {host}: plugin timed out after 10 seconds",
}


@dataclass(frozen=True)
class Scale:
    guests: int | None = None
    nodes: int | None = None
    alerts: int | None = None
    log_lines: int | None = None
    commits: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"scale {f.name} must be a whole number >= 0, not {value!r}")

    @property
    def is_default(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def describe(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name) is not None]
        return ", ".join(parts) or "reference farm"


def scale_inventory(inventory: Inventory, scale: Scale, seed: int) -> Inventory:
    """The inventory with the extra nodes, guests and commits of `scale` (the same object when default)."""
    if scale.guests is None and scale.nodes is None and scale.commits is None:
        return inventory
    domain = inventory.domains[0]
    nodes = list(inventory.nodes)
    top = max(int(n.name.removeprefix("cloud")) for n in nodes)
    for i in range(max(0, (scale.nodes or 0) - len(nodes))):
        number = top + 1 + i
        nodes.append(NodeSpec(f"cloud{number}", 64, 512, f"10.{number // 250 + 1}.{number % 250}.10"))
    hosts = [h for h in inventory.hosts if h.role != "hypervisor"]
    existing = sum(1 for h in hosts if h.is_guest)
    node_names = [n.name for n in nodes]
    extra_guests = max(0, (scale.guests or 0) - existing)
    per_node: dict[str, int] = {}
    for i in range(extra_guests):
        role, prefix, cores, memory, services = ROLE_MIX[i % len(ROLE_MIX)]
        node = node_names[i % len(node_names)]
        octet = per_node.get(node, 0)
        per_node[node] = octet + 1
        number = FIRST_NUMBER + i
        name = f"{prefix}{number}"
        hosts.append(HostSpec(name, f"{name}.{domain}", role, node, FIRST_VMID + i, cores, memory, services,
                              f"10.{100 + node_names.index(node)}.{octet // 250}.{octet % 250 + 1}"))
    hypervisors = [h for h in inventory.hosts if h.role == "hypervisor"]
    for added in nodes[len(inventory.nodes):]:
        hypervisors.append(HostSpec(added.name, f"{added.name}.{domain}", "hypervisor", None, None, added.cores,
                                    added.memory_gb, ("pve-cluster", "pveproxy", "ssh"), added.address))
    commits = dict(inventory.commits)
    if scale.commits is not None:
        for repo, items in inventory.commits.items():
            commits[repo] = items + _older_commits(repo, items, scale.commits - len(items), seed)
    return replace(inventory, nodes=tuple(nodes), hosts=(*hosts, *hypervisors), commits=commits)


def _older_commits(repo: str, items: tuple[CommitSpec, ...], count: int, seed: int) -> tuple[CommitSpec, ...]:
    if count <= 0:
        return ()
    oldest = min(datetime.fromisoformat(c.date) for c in items).astimezone(timezone.utc)
    authors = sorted({c.author for c in items})
    out = []
    for i in range(count):
        at = oldest - timedelta(minutes=37 * (i + 1) + int(30 * unit(seed, "scale-commit", repo, i)))
        author = authors[int(len(authors) * unit(seed, "scale-author", repo, i))]
        out.append(CommitSpec(repo, hexid(seed, "scale-commit", repo, i), author, at.isoformat(),
                              f"Older change {i + 1} to {repo.split('/')[1]}", ("README.md",)))
    return tuple(out)


def apply_scale(farm: Farm, scale: Scale) -> None:
    """Extra alerts and log lines (after the scenario, so they never hide its problems)."""
    from console.sim.checks import Override
    from console.sim.logs import LogLine

    if scale.alerts is not None:
        existing = sum(1 for (host, service), slot in farm.slots.items()
                       if service and slot.override is not None and slot.override.state != 0)
        scenario_hosts = {host for (host, service), slot in farm.slots.items() if slot.override is not None}
        candidates = [key for key in farm.slots
                      if key[1] and key[0] not in scenario_hosts and farm.slots[key].override is None]
        # guests first, then the rest; one check per host before a second one on any host
        by_round: dict[int, list[tuple[str, str]]] = {}
        seen: dict[str, int] = {}
        for host, service in candidates:
            n = seen.get(host, 0)
            seen[host] = n + 1
            by_round.setdefault(n, []).append((host, service))
        ordered = [key for n in sorted(by_round) for key in by_round[n]]
        wanted = max(0, scale.alerts - existing)
        if wanted > len(ordered):
            raise ValueError(f"scale alerts={scale.alerts}: the farm has only {existing + len(ordered)} checks")
        anchor = farm.anchor
        for host, service in ordered[:wanted]:
            state = ALERT_STATES[int(len(ALERT_STATES) * unit(farm.seed, "scale-alert", host, service))]
            since = anchor - timedelta(seconds=60 + int(6 * 3600 * unit(farm.seed, "scale-alert-since", host, service)))
            farm.slots[(host, service)].override = Override(
                state, SAMPLE_OUTPUTS[state].format(service=service, host=host), since, True, ())
    if scale.log_lines:
        names = sorted(farm.hosts)
        step = 86400.0 / scale.log_lines
        lines = []
        for i in range(scale.log_lines):
            host = names[i % len(names)]
            ts = (farm.anchor - timedelta(seconds=(i + 0.5) * step)).replace(microsecond=(i * 7919) % 1000 * 1000)
            level = 3 if i % 5 == 0 else 6
            message = (f"bench line {i}: request to upstream timed out" if level == 3
                       else f"bench line {i}: routine housekeeping done")
            lines.append(LogLine(f"{seed_prefix(farm.seed)}-{i:012d}", ts, host, message, level, "bench", "daemon"))
        lines.reverse()  # oldest first, as scenarios append
        farm.logbook.extra.extend(lines)


def seed_prefix(seed: int) -> str:
    return hexid("scale-log", seed, length=23)[:8] + "-0000-4000-8000"
