"""The reference farm as data: hosts, hypervisors, Icinga checks and commits (console/sim/data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("data")
GIB = 1024**3


@dataclass(frozen=True)
class HostSpec:
    name: str  # "mw151"
    fqdn: str  # "mw151.fsslc.wtnet"
    role: str  # "mediawiki"
    node: str | None  # Proxmox node, None for off-site hosts and the hypervisors themselves
    vmid: int | None
    cores: int
    memory_gb: int
    services: tuple[str, ...]
    address: str
    vm_name: str | None = None  # the Proxmox VM's name when it is not the host name (the `hostile` scenario)

    @property
    def is_guest(self) -> bool:
        return self.vmid is not None


@dataclass(frozen=True)
class NodeSpec:
    name: str  # "cloud15"
    cores: int
    memory_gb: int
    address: str


@dataclass(frozen=True)
class CommitSpec:
    repo: str
    sha: str
    author: str
    date: str  # ISO 8601 with the author's offset, as recorded
    subject: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Inventory:
    farm_name: str
    domains: tuple[str, ...]
    nodes: tuple[NodeSpec, ...]
    hosts: tuple[HostSpec, ...]  # every monitored host: guests, off-site hosts and the hypervisors
    checks_all: tuple[str, ...]
    checks_by_role: dict[str, tuple[str, ...]]
    commits: dict[str, tuple[CommitSpec, ...]]

    def host(self, name: str) -> HostSpec:
        for spec in self.hosts:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def checks_for(self, host: HostSpec) -> tuple[str, ...]:
        return self.checks_all + self.checks_by_role.get(host.role, ())


def _cloud_number(node: str) -> int:
    return int(node.removeprefix("cloud"))


@lru_cache(maxsize=1)
def load_inventory() -> Inventory:
    raw = yaml.safe_load((DATA / "farm-inventory.yaml").read_text(encoding="utf-8"))
    cdn = {name: addr.split(":")[0] for name, addr in (raw.get("cdn_servers") or {}).items()}
    nodes = tuple(
        NodeSpec(name, int(spec["cores"]), int(spec["memory_gb"]), f"10.0.{_cloud_number(name)}.10")
        for name, spec in raw["proxmox_nodes"].items()
    )
    next_octet: dict[str, int] = {}
    hosts: list[HostSpec] = []
    for item in raw["hosts"]:
        node = item.get("node")
        if item["name"] in cdn:
            address = cdn[item["name"]]
        elif node:
            octet = next_octet.get(node, 101)
            next_octet[node] = octet + 1
            address = f"10.0.{_cloud_number(node)}.{octet}"
        else:
            address = "203.0.113.53"  # off-site VPS: a documentation address
        hosts.append(
            HostSpec(
                name=item["name"],
                fqdn=item["fqdn"],
                role=item["role"],
                node=node,
                vmid=item.get("vmid"),
                cores=int(item["cores"]),
                memory_gb=int(item["memory_gb"]),
                services=tuple(item.get("services") or ()),
                address=address,
            )
        )
    domain = raw["farm"]["domains"][0]
    for node in nodes:  # the hypervisors are monitored and puppetised too
        hosts.append(
            HostSpec(node.name, f"{node.name}.{domain}", "hypervisor", None, None, node.cores, node.memory_gb,
                     ("pve-cluster", "pveproxy", "ssh"), node.address)
        )
    checks = raw["icinga_checks"]
    commits_raw = json.loads((DATA / "recent-commits.json").read_text(encoding="utf-8"))
    commits = {
        repo: tuple(
            CommitSpec(repo, c["sha"], c["author"], c["date"], c["subject"], tuple(c.get("files") or ()))
            for c in items
        )
        for repo, items in commits_raw.items()
    }
    return Inventory(
        farm_name=raw["farm"]["name"],
        domains=tuple(raw["farm"]["domains"]),
        nodes=nodes,
        hosts=tuple(hosts),
        checks_all=tuple(checks.get("all") or ()),
        checks_by_role={role: tuple(names) for role, names in checks.items() if role != "all"},
        commits=commits,
    )
