"""One host across every system: the Proxmox VM name, the PuppetDB certname (an FQDN), the Icinga
host name, the Graylog `source` and the SSH target. No Textual.

Names meet on their *short name*: a configured `farm.domains` suffix is stripped (mw151.fsslc.wtnet ->
mw151); a name under another domain keeps its first label, and the identity says so. When one system
knows two hosts by the same short name (two VMs named mw152, mw152.fsslc.wtnet and mw152.wikitide.net
in PuppetDB) that system's part stays empty and the identity names the candidates: it is never merged
silently. A name no system knows resolves to an identity that says exactly that.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, TypeVar
from urllib.parse import urlsplit

from console.core.config_file import template_fields
from console.core.display import safe
from console.core.model import Guest, HypervisorNode, IcingaSnapshot, ProxmoxInventory, PuppetInventory, PuppetNodeStatus
from console.core.state import Store

DEFAULT_STALE_AFTER = 3600.0
# What a host name may look like before it goes into a command line, a URL or a log query.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

if TYPE_CHECKING:
    from console.core.config import AppConfig, LinksConfig, SshConfig

T = TypeVar("T")


def short_name(name: str, domains: Iterable[str]) -> str:
    """mw151.fsslc.wtnet -> mw151: strip a configured domain, else keep the first label."""
    for domain in domains:
        suffix = "." + domain.strip(".")
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name.split(".", 1)[0]


def under_known_domain(name: str, domains: Iterable[str]) -> bool:
    """True for a bare name (mw151) or one under a configured domain; False for other FQDNs."""
    if "." not in name:
        return True
    return any(name.endswith("." + d.strip(".")) and len(name) > len(d.strip(".")) + 1 for d in domains)


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """One host as each system names it. A system that does not know the host, or knows two hosts by
    this name, leaves its part None; `notes` says which, in words."""

    name: str  # the short name, "mw152"
    fqdn: str | None = None  # the PuppetDB certname, else a name given under a configured domain
    guest: Guest | None = None  # the Proxmox VM of that name ...
    hypervisor: HypervisorNode | None = None  # ... or the Proxmox node, when the host is one
    proxmox_source: str | None = None  # which proxmox source knows it
    puppet: PuppetNodeStatus | None = None
    puppet_source: str | None = None
    stale_after: float = DEFAULT_STALE_AFTER
    icinga_name: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def node(self) -> str | None:
        """The Proxmox node the host runs on (its own name for a hypervisor)."""
        if self.guest is not None:
            return self.guest.node
        return self.hypervisor.name if self.hypervisor is not None else None

    @property
    def vmid(self) -> int | None:
        return self.guest.vmid if self.guest is not None else None

    @property
    def certname(self) -> str | None:
        return self.puppet.certname if self.puppet is not None else None

    @property
    def known(self) -> bool:
        """Some system knows this host."""
        return any(x is not None for x in (self.guest, self.hypervisor, self.puppet, self.icinga_name))

    @property
    def log_sources(self) -> tuple[str, ...]:
        """The `source` values its log lines may carry in Graylog: the short name and the FQDN."""
        return tuple(dict.fromkeys(n for n in (self.name, self.fqdn) if n))

    def placeholders(self) -> dict[str, str | None]:
        """Values of {host} {fqdn} {node} {vmid} in link and SSH templates (None: not known)."""
        vmid = self.vmid
        return {"host": self.name, "fqdn": self.fqdn, "node": self.node, "vmid": str(vmid) if vmid is not None else None}


@dataclass
class _Seen:
    """Everything each system calls one short name."""

    guests: list[tuple[str, Guest]] = field(default_factory=list)
    hypervisors: list[tuple[str, HypervisorNode]] = field(default_factory=list)
    puppet: dict[str, tuple[str, PuppetNodeStatus]] = field(default_factory=dict)  # certname -> (source, node)
    icinga: list[str] = field(default_factory=list)
    foreign: set[str] = field(default_factory=set)  # full names under an unconfigured domain


class HostDirectory:
    """Every host the store's sources know, by short name; `resolve()` turns any system's name for a
    host into its HostIdentity."""

    def __init__(self, domains: Sequence[str], stale_after: dict[str, float] | None = None) -> None:
        self.domains = tuple(domains)
        self._stale_after = stale_after or {}
        self._seen: dict[str, _Seen] = {}

    @classmethod
    def from_store(cls, store: Store, config: AppConfig) -> HostDirectory:
        directory = cls(config.farm.domains, {item.name: item.stale_after for item in config.sources.puppetdb})
        for state in store.of_kind("proxmox"):
            if isinstance(state.data, ProxmoxInventory):
                directory.add_proxmox(state.name, state.data)
        for state in store.of_kind("puppetdb"):
            if isinstance(state.data, PuppetInventory):
                directory.add_puppet(state.name, state.data)
        for state in store.of_kind("icinga"):
            if isinstance(state.data, IcingaSnapshot):
                directory.add_icinga(state.data)
        return directory

    def _entry(self, name: str) -> _Seen:
        entry = self._seen.setdefault(short_name(name, self.domains), _Seen())
        if not under_known_domain(name, self.domains):
            entry.foreign.add(name)
        return entry

    def add_proxmox(self, source: str, inventory: ProxmoxInventory) -> None:
        for node in inventory.nodes:
            self._entry(node.name).hypervisors.append((source, node))
        for guest in inventory.guests:
            if not guest.template:
                self._entry(guest.name).guests.append((source, guest))

    def add_puppet(self, source: str, inventory: PuppetInventory) -> None:
        for node in inventory.nodes:
            self._entry(node.certname).puppet.setdefault(node.certname, (source, node))

    def add_icinga(self, snapshot: IcingaSnapshot) -> None:
        names = [host.name for host in snapshot.hosts] + [check.host for check in snapshot.services]
        for name in dict.fromkeys(names):
            entry = self._entry(name)
            if name not in entry.icinga:
                entry.icinga.append(name)

    def names(self) -> list[str]:
        """Every short name some system knows."""
        return list(self._seen)

    def puppet_nodes(self) -> dict[str, list[tuple[PuppetNodeStatus, float]]]:
        """Short name -> its PuppetDB nodes with their stale thresholds (two or more: ambiguous)."""
        return {
            key: [(node, self._stale_after.get(source, DEFAULT_STALE_AFTER)) for source, node in seen.puppet.values()]
            for key, seen in self._seen.items()
            if seen.puppet
        }

    def resolve(self, name: str) -> HostIdentity:
        """The identity of the host any system calls `name` (a VM name, a certname, an Icinga name)."""
        key = short_name(name, self.domains)
        seen = self._seen.get(key)
        if seen is None:
            return HostIdentity(key, fqdn=name if name != key else None, notes=(f"unknown host: no source knows {name!r}",))
        notes: list[str] = []
        proxmox = self._one_proxmox(key, seen, notes)
        puppet = self._one(seen.puppet.values(), f"PuppetDB nodes for {key}", lambda p: p[1].certname, notes)
        icinga = self._one(seen.icinga, f"Icinga hosts for {key}", str, notes)
        for foreign in sorted(seen.foreign):
            notes.append(f"{foreign} is under no configured farm.domains; matched by its first label")
        fqdn = puppet[1].certname if puppet else _given_fqdn(name, key, self.domains)
        source, machine = proxmox if proxmox else (None, None)
        return HostIdentity(
            name=key,
            fqdn=fqdn,
            guest=machine if isinstance(machine, Guest) else None,
            hypervisor=machine if isinstance(machine, HypervisorNode) else None,
            proxmox_source=source,
            puppet=puppet[1] if puppet else None,
            puppet_source=puppet[0] if puppet else None,
            stale_after=self._stale_after.get(puppet[0], DEFAULT_STALE_AFTER) if puppet else DEFAULT_STALE_AFTER,
            icinga_name=icinga,
            notes=tuple(notes),
        )

    @staticmethod
    def _one_proxmox(key: str, seen: _Seen, notes: list[str]) -> tuple[str, Guest | HypervisorNode] | None:
        machines: list[tuple[str, Guest | HypervisorNode]] = [*seen.hypervisors, *seen.guests]
        if len(machines) > 1:
            described = ", ".join(_describe_machine(m) for _, m in machines)
            notes.append(f"ambiguous: {len(machines)} Proxmox machines named {key} ({described}); none shown")
            return None
        return machines[0] if machines else None

    @staticmethod
    def _one(candidates: Iterable[T], what: str, label: Callable[[T], str], notes: list[str]) -> T | None:
        found = list(candidates)
        if len(found) > 1:
            notes.append(f"ambiguous: {len(found)} {what} ({', '.join(sorted(label(c) for c in found))}); none shown")
            return None
        return found[0] if found else None


def _describe_machine(machine: Guest | HypervisorNode) -> str:
    if isinstance(machine, Guest):
        return f"vmid {machine.vmid} on {machine.node}"
    return "a hypervisor"


def _given_fqdn(name: str, key: str, domains: Sequence[str]) -> str | None:
    """An FQDN is only known when it was given (no guessing which domain a bare name lives in)."""
    return name if name != key and under_known_domain(name, domains) else None


def proxmox_machines(store: Store) -> tuple[dict[str, HypervisorNode], dict[str, Guest]]:
    """Every Proxmox node and guest by name, across clusters (the first answer wins), templates left out."""
    nodes: dict[str, HypervisorNode] = {}
    guests: dict[str, Guest] = {}
    for inventory in store.data_of_kind("proxmox"):
        assert isinstance(inventory, ProxmoxInventory)
        for node in inventory.nodes:
            nodes.setdefault(node.name, node)
        for guest in inventory.guests:
            if not guest.template:
                guests.setdefault(guest.name, guest)
    return nodes, guests


def puppet_nodes_by_host(store: Store, config: AppConfig) -> dict[str, list[tuple[PuppetNodeStatus, float]]]:
    """Short name -> its PuppetDB nodes (with the stale threshold of their source); two or more
    certnames for one short name is an ambiguity to show, not to resolve."""
    directory = HostDirectory(config.farm.domains, {item.name: item.stale_after for item in config.sources.puppetdb})
    for state in store.of_kind("puppetdb"):
        if isinstance(state.data, PuppetInventory):
            directory.add_puppet(state.name, state.data)
    return directory.puppet_nodes()


# --- links and the SSH target --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostLink:
    """One link from `links:`, filled in for a host: `url`, or why it cannot be made."""

    name: str  # "proxmox", "graylog", "icinga", "grafana"
    url: str | None
    missing: str | None = None  # "no vmid (not a Proxmox guest)"


MISSING_WHY = {
    "fqdn": "no FQDN known (not in PuppetDB)",
    "node": "no Proxmox node known",
    "vmid": "no vmid (not a Proxmox guest)",
    "host": "no host name",
}


def fill(template: str, identity: HostIdentity) -> tuple[str | None, str | None]:
    """(text, None) with the placeholders filled, or (None, why) when a value is unknown or unsafe."""
    values = identity.placeholders()
    for name in template_fields(template):
        value = values.get(name)
        if value is None:
            return None, MISSING_WHY.get(name, f"unknown placeholder {{{name}}}")
        if not SAFE_NAME.fullmatch(value):
            return None, f"{name} {value!r} is not a plain host name"
    return template.format(**values), None


def host_links(identity: HostIdentity, links: LinksConfig) -> list[HostLink]:
    """The configured links, in config order, filled in for the host."""
    found = []
    for name in type(links).model_fields:
        template = getattr(links, name)
        if template:
            url, missing = fill(template, identity)
            found.append(HostLink(name, url, missing))
    return found


def ssh_command(identity: HostIdentity, ssh: SshConfig) -> tuple[list[str] | None, str | None]:
    """(argv, None) for `ssh:` (command + the filled target), or (None, why not)."""
    target, missing = fill(ssh.target, identity)
    if target is None:
        return None, f"cannot ssh to {identity.name}: {missing}"
    return [*ssh.command, target], None


# --- what may be copied to the operator's clipboard (OSC 52) --------------------------------------

_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _hidden(char: str) -> bool:
    """A character the display-safe function shows as a stand-in in an identifier (a control, a bidi
    or zero-width character, a joiner, a lone surrogate), or any other whitespace."""
    return safe(char, identifier=True) != char or char.isspace()


def _named(char: str) -> str:
    code = ord(char)
    name = "lone surrogate" if 0xD800 <= code < 0xE000 else unicodedata.name(char, "")
    if not name and (code < 0x20 or 0x7F <= code < 0xA0):
        name = {0x1B: "ESC", 0x7F: "DEL", 0x07: "BEL", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN"}.get(
            code, "control")
    return f"U+{code:04X} {name}".rstrip()


def _hidden_problem(text: str, what: str) -> str | None:
    found = next((char for char in text if _hidden(char)), None)
    if found is None:
        return None
    code = ord(found)
    if code < 0x20 or 0x7F <= code < 0xA0:
        kind = "a control character"
    elif found.isspace():
        kind = "whitespace"
    elif 0xD800 <= code < 0xE000:
        kind = "a lone surrogate"
    else:
        kind = "an invisible or bidi character"
    return f"{what} holds {kind} ({_named(found)})"


def name_copy_problem(name: str) -> str | None:
    """Why `name` may not be copied as a host name (None: it may). Only a plain host name
    (SAFE_NAME: letters, digits, _ . -) goes to the clipboard."""
    if SAFE_NAME.fullmatch(name):
        return None
    return _hidden_problem(name, "the name") or "the name is not a plain host name (letters, digits, _ . - only)"


def url_copy_problem(url: str) -> str | None:
    """Why `url` may not be copied or linked (None: it may): an http(s) URL with a host, no whitespace,
    no control, invisible or bidi character, and nothing but ASCII (anything else percent-encoded,
    each % followed by two hex digits)."""
    problem = _hidden_problem(url, "the link")
    if problem is not None:
        return problem
    if not url.isascii():
        found = next(char for char in url if not char.isascii())
        return f"the link holds a character that is not percent-encoded ({_named(found)})"
    if _PERCENT_ESCAPE.search(url):
        return "the link holds a % that is not a percent-encoding (%XX)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        return f"the link is not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "the link is not an http(s) URL"
    if not parts.hostname:
        return "the link names no host"
    return None
