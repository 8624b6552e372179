"""In-process sources returning model objects, for tests of widgets that need no sockets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from console.core.config import AppConfig, parse_config
from console.core.model import (
    CheckState,
    Commit,
    CommitLog,
    Guest,
    HypervisorNode,
    IcingaHostState,
    IcingaSnapshot,
    ProxmoxInventory,
    PuppetInventory,
    PuppetNodeStatus,
    ServiceCheck,
)
from console.sources.base import Source, SourceError

NOW = datetime(2026, 8, 14, 12, 0, 0, tzinfo=timezone.utc)

CONFIG_YAML = """
farm: {name: wikitide, environment: demo, domains: [fsslc.wtnet, wikitide.net]}
services:
  - {name: php-fpm, hosts: "mw*", checks: [PHP-FPM]}
  - {name: varnish, hosts: "cp*", checks: [Varnish Backends, HTTPS]}
  - {name: mariadb, hosts: "db*", checks: [MariaDB]}
"""


def fake_config() -> AppConfig:
    return parse_config(CONFIG_YAML)


class FakeSource(Source[Any]):
    """Answers whatever `produce()` returns; raises SourceError while `failure` is set."""

    def __init__(self, name: str, kind: str, produce: Callable[[], Any], clock=lambda: NOW) -> None:
        super().__init__(name, timeout=5, interval=3600, clock=clock)
        self.kind = kind
        self.produce = produce
        self.failure: str | None = None
        self.timer = lambda: 0.0

    async def _fetch(self) -> Any:
        if self.failure:
            raise SourceError(self.failure)
        return self.produce()


class FakeFarm:
    """A mutable little farm: 2 hypervisors, mw/cp/db guests, checks, reports and commits."""

    def __init__(self) -> None:
        self.nodes = [HypervisorNode("cloud15", "online", 0.2, 40, 100 << 30, 256 << 30, 90 * 86400)]
        self.nodes.append(HypervisorNode("cloud16", "online", 0.3, 40, 120 << 30, 256 << 30, 80 * 86400))
        names = ["mw151", "mw152", "mw153", "mw161", "cp161", "db151", "mw10", "mw2"]
        self.guests = [
            Guest(n, 1500 + i, "cloud16" if "16" in n else "cloud15", "qemu", "running", 0.1, 4, 4 << 30, 16 << 30, 3600 * 50)
            for i, n in enumerate(names)
        ]
        self.reports = [
            PuppetNodeStatus(f"{n}.fsslc.wtnet", "unchanged", NOW - timedelta(minutes=3)) for n in names
        ]
        self.checks = [
            ServiceCheck(n, "PHP-FPM", CheckState.OK, True, False, False, "OK", NOW - timedelta(hours=5))
            for n in names
            if n.startswith("mw")
        ]
        self.checks.append(
            ServiceCheck("mw152", "PHP-FPM", CheckState.CRITICAL, True, False, False, "connect() failed", NOW - timedelta(minutes=12))
        )
        self.checks = [c for c in self.checks if not (c.host == "mw152" and c.state == CheckState.OK)]
        self.checks.append(
            ServiceCheck("db151", "Disk Space", CheckState.WARNING, True, True, False, "DISK WARNING - 91%", NOW - timedelta(hours=2))
        )
        self.commits = [
            Commit("miraheze/mw-config", f"{i:040x}", "alice", NOW - timedelta(minutes=10 * i), f"T1{i}: change {i}")
            for i in range(1, 6)
        ]

    def sources(self) -> list[FakeSource]:
        return [
            FakeSource("pve", "proxmox", lambda: ProxmoxInventory(tuple(self.nodes), tuple(self.guests))),
            FakeSource("puppetdb", "puppetdb", lambda: PuppetInventory(tuple(self.reports))),
            FakeSource("icinga", "icinga", lambda: IcingaSnapshot(tuple(IcingaHostState(g.name, True) for g in self.guests), tuple(self.checks))),
            FakeSource("mw-config", "commits", lambda: CommitLog(tuple(self.commits))),
        ]
