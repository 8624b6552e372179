"""How busy each guest and hypervisor is at a given instant: smooth curves per role, fixed by the seed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from console.sim.inventory import GIB, HostSpec
from console.sim.seeded import unit, wave

# role: (cpu fraction, mem fraction, root disk fraction, disk size GiB, network bytes/s)
ROLE_PROFILE: dict[str, tuple[float, float, float, int, float]] = {
    "mediawiki": (0.38, 0.62, 0.46, 64, 2.5e6),
    "jobrunner": (0.45, 0.55, 0.41, 64, 8e5),
    "database": (0.22, 0.88, 0.55, 512, 3e6),
    "cache": (0.25, 0.82, 0.61, 256, 2e7),
    "memcached": (0.08, 0.72, 0.12, 16, 5e6),
    "redis": (0.07, 0.58, 0.15, 16, 2e6),
    "opensearch": (0.18, 0.76, 0.58, 256, 1e6),
    "swift-object": (0.05, 0.35, 0.71, 2048, 2e6),
    "swift-proxy": (0.09, 0.40, 0.22, 32, 6e6),
    "graylog": (0.30, 0.78, 0.64, 512, 3e6),
}
DEFAULT_PROFILE = (0.06, 0.40, 0.35, 32, 2e5)


def profile(spec: HostSpec) -> tuple[float, float, float, int, float]:
    return ROLE_PROFILE.get(spec.role, DEFAULT_PROFILE)


@dataclass(frozen=True)
class Usage:
    cpu: float  # fraction of the guest's vCPUs
    mem: int  # bytes
    maxmem: int
    disk: int  # bytes used on the root image
    maxdisk: int
    netin: float  # bytes/s
    netout: float
    diskread: float
    diskwrite: float


def _clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


@dataclass(frozen=True)
class _HostLoad:
    """What natural_usage() needs of a host that does not change with time."""

    cpu0: float
    net: float
    bias: float
    mem_base: float  # mem0 * (0.95 + 0.1 * unit)
    disk_base: float
    maxmem: int
    maxdisk: int


@lru_cache(maxsize=1 << 14)  # one per host: a 5,000-guest farm fits
def _host_load(seed: int, spec: HostSpec) -> _HostLoad:
    cpu0, mem0, disk0, disk_gib, net = profile(spec)
    return _HostLoad(
        cpu0=cpu0, net=net,
        bias=0.85 + 0.3 * unit(seed, spec.name, "bias"),
        mem_base=mem0 * (0.95 + 0.1 * unit(seed, spec.name, "mem")),
        disk_base=disk0 * (0.9 + 0.2 * unit(seed, spec.name, "disk")),
        maxmem=spec.memory_gb * GIB, maxdisk=disk_gib * GIB,
    )


def natural_cpu(seed: int, spec: HostSpec, t: datetime) -> float:
    """natural_usage(seed, spec, t).cpu, without the rest (load averages sample it often)."""
    host = _host_load(seed, spec)
    return round(_clamp(host.cpu0 * host.bias * (1 + 0.45 * wave(t.timestamp(), seed, spec.name, "cpu")), 0.003, 0.99), 4)


def natural_usage(seed: int, spec: HostSpec, t: datetime) -> Usage:
    """What the guest would do on its own (no scenario, no test override)."""
    host = _host_load(seed, spec)
    ts = t.timestamp()
    cpu = _clamp(host.cpu0 * host.bias * (1 + 0.45 * wave(ts, seed, spec.name, "cpu")), 0.003, 0.99)
    mem_fraction = _clamp(host.mem_base + 0.03 * wave(ts, seed, spec.name, "mem"))
    disk_fraction = _clamp(host.disk_base + 0.002 * wave(ts, seed, spec.name, "disk"))
    traffic = host.net * (1 + 0.6 * wave(ts, seed, spec.name, "net"))
    maxmem = host.maxmem
    maxdisk = host.maxdisk
    return Usage(
        cpu=round(cpu, 4),
        mem=int(maxmem * mem_fraction),
        maxmem=maxmem,
        disk=int(maxdisk * disk_fraction),
        maxdisk=maxdisk,
        netin=round(traffic * 0.7, 2),
        netout=round(traffic, 2),
        diskread=round(traffic * 0.05 + 4096, 2),
        diskwrite=round(traffic * 0.12 + 65536, 2),
    )
