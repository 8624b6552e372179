"""console.core.hosts: one host across Proxmox (VM name), PuppetDB (certname), Icinga (host name), Graylog
(source) and SSH; ambiguous and unknown names are said, never merged. No Textual."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pytest

from console.core.config import parse_config
from console.core.hosts import HostDirectory, host_links, short_name, ssh_command
from console.core.model import (
    CheckState,
    Guest,
    HypervisorNode,
    IcingaHostState,
    IcingaSnapshot,
    ProxmoxInventory,
    PuppetInventory,
    PuppetNodeStatus,
    ServiceCheck,
    SourceResult,
)
from console.core.state import Store
from console.derive.hosts_pane import hosts_view

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
DOMAINS = ["fsslc.wtnet", "wikitide.net"]
CONFIG = parse_config(
    """
farm: {name: wikitide, domains: [fsslc.wtnet, wikitide.net]}
sources:
  puppetdb: [{name: puppetdb, url: "https://puppetdb.example", stale_after: 1800}]
links:
  proxmox: "https://{node}.fsslc.wtnet:8006/#v1:0:=qemu%2F{vmid}"
  graylog: "https://logging.example/search?q=source%3A{host}"
  grafana: "https://grafana.example/d/node?var-instance={fqdn}:9100"
ssh: {command: [ssh, -A], target: "root@{fqdn}"}
"""
)


def guest(name: str, vmid: int, node: str = "cloud15") -> Guest:
    return Guest(name, vmid, node, "qemu", "running", 0.1, 4, 1 << 30, 4 << 30, 3600)


def puppet(certname: str) -> PuppetNodeStatus:
    return PuppetNodeStatus(certname, "unchanged", NOW)


def check(host: str, service: str = "PHP-FPM") -> ServiceCheck:
    return ServiceCheck(host, service, CheckState.CRITICAL, True, False, False, "down", NOW)


def directory(guests=(), nodes=(), certnames=(), icinga=()) -> HostDirectory:
    found = HostDirectory(DOMAINS)
    found.add_proxmox("pve", ProxmoxInventory(tuple(nodes), tuple(guests)))
    found.add_puppet("puppetdb", PuppetInventory(tuple(puppet(c) for c in certnames)))
    found.add_icinga(IcingaSnapshot(tuple(IcingaHostState(n, True) for n in icinga), tuple(check(n) for n in icinga)))
    return found


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("mw151.fsslc.wtnet", "mw151"),
        ("mw151.wikitide.net", "mw151"),
        ("mw151.eqiad.fsslc.wtnet", "mw151.eqiad"),
        ("mw151.other.org", "mw151"),
        ("mw151", "mw151"),
    ],
)
def test_short_name_strips_a_configured_domain_else_keeps_the_first_label(name, short):
    assert short_name(name, DOMAINS) == short


def test_one_host_across_the_four_naming_schemes():
    """Proxmox says mw152, PuppetDB mw152.fsslc.wtnet, Icinga mw152 (or its FQDN on another farm),
    Graylog's source is mw152 or the FQDN: every name resolves to the same identity."""
    hosts = directory(guests=[guest("mw152", 1502)], certnames=["mw152.fsslc.wtnet"], icinga=["mw152"])
    by_name = {name: hosts.resolve(name) for name in ("mw152", "mw152.fsslc.wtnet", "mw152.wikitide.net")}
    assert len(set(by_name.values())) == 1
    identity = by_name["mw152"]
    assert identity.name == "mw152" and identity.fqdn == "mw152.fsslc.wtnet"
    assert (identity.guest.vmid, identity.node, identity.vmid) == (1502, "cloud15", 1502)
    assert identity.certname == "mw152.fsslc.wtnet" and identity.icinga_name == "mw152"
    assert identity.log_sources == ("mw152", "mw152.fsslc.wtnet")
    assert identity.notes == () and identity.known
    assert ssh_command(identity, CONFIG.ssh) == (["ssh", "-A", "root@mw152.fsslc.wtnet"], None)


def test_icinga_hosts_named_by_fqdn_meet_the_vm_name():
    hosts = directory(guests=[guest("mw153", 1503)], certnames=["mw153.wikitide.net"], icinga=["mw153.wikitide.net"])
    identity = hosts.resolve("mw153")
    assert identity.icinga_name == "mw153.wikitide.net" and identity.fqdn == "mw153.wikitide.net"
    assert hosts.resolve("mw153.wikitide.net") == identity


def test_a_hypervisor_is_its_own_node():
    hosts = directory(nodes=[HypervisorNode("cloud15", "online")], certnames=["cloud15.fsslc.wtnet"], icinga=["cloud15"])
    identity = hosts.resolve("cloud15")
    assert identity.hypervisor is not None and identity.guest is None
    assert (identity.node, identity.vmid, identity.fqdn) == ("cloud15", None, "cloud15.fsslc.wtnet")


def test_two_certnames_for_one_short_name_are_ambiguous_not_merged():
    hosts = directory(guests=[guest("mw151", 1501)], certnames=["mw151.fsslc.wtnet", "mw151.wikitide.net"], icinga=["mw151"])
    identity = hosts.resolve("mw151")
    assert identity.puppet is None and identity.fqdn is None
    assert identity.notes == (
        "ambiguous: 2 PuppetDB nodes for mw151 (mw151.fsslc.wtnet, mw151.wikitide.net); none shown",
    )
    assert identity.guest is not None  # the other systems still match
    # without a known FQDN, ssh to {fqdn} is refused rather than guessed
    assert ssh_command(identity, CONFIG.ssh) == (None, "cannot ssh to mw151: no FQDN known (not in PuppetDB)")


def test_two_vms_with_one_name_are_ambiguous():
    hosts = directory(guests=[guest("mw151", 1501), guest("mw151", 2501, "cloud17")], certnames=["mw151.fsslc.wtnet"])
    identity = hosts.resolve("mw151")
    assert identity.guest is None and identity.vmid is None and identity.certname == "mw151.fsslc.wtnet"
    assert identity.notes == ("ambiguous: 2 Proxmox machines named mw151 (vmid 1501 on cloud15, vmid 2501 on cloud17); none shown",)


def test_an_unknown_name_says_so():
    identity = directory(guests=[guest("mw151", 1501)]).resolve("mw999")
    assert not identity.known and identity.notes == ("unknown host: no source knows 'mw999'",)
    assert identity.guest is None and identity.puppet is None and identity.icinga_name is None


def test_a_name_under_an_unconfigured_domain_is_matched_by_its_first_label_and_says_so():
    hosts = directory(certnames=["dns001.vps.wtnet"], icinga=["dns001"])
    identity = hosts.resolve("dns001")
    assert identity.certname == "dns001.vps.wtnet" and identity.fqdn == "dns001.vps.wtnet"
    assert identity.notes == ("dns001.vps.wtnet is under no configured farm.domains; matched by its first label",)


def test_links_are_filled_or_say_what_is_missing():
    hosts = directory(
        guests=[guest("mw152", 1502)], nodes=[HypervisorNode("cloud15", "online")], certnames=["mw152.fsslc.wtnet"]
    )
    links = {link.name: link for link in host_links(hosts.resolve("mw152"), CONFIG.links)}
    assert list(links) == ["proxmox", "graylog", "grafana"]  # config order; icinga is not configured
    assert links["proxmox"].url == "https://cloud15.fsslc.wtnet:8006/#v1:0:=qemu%2F1502"
    assert links["graylog"].url == "https://logging.example/search?q=source%3Amw152"
    assert links["grafana"].url == "https://grafana.example/d/node?var-instance=mw152.fsslc.wtnet:9100"
    node_links = {link.name: link for link in host_links(hosts.resolve("cloud15"), CONFIG.links)}
    assert node_links["proxmox"].url is None and node_links["proxmox"].missing == "no vmid (not a Proxmox guest)"
    assert node_links["grafana"].missing == "no FQDN known (not in PuppetDB)"


def test_a_name_that_is_not_a_plain_host_name_never_reaches_a_command_line():
    hosts = directory(certnames=["-oProxyCommand=x.fsslc.wtnet"])
    identity = hosts.resolve("-oProxyCommand=x.fsslc.wtnet")
    argv, problem = ssh_command(identity, CONFIG.ssh)
    assert argv is None and "is not a plain host name" in problem


def test_the_hosts_pane_shows_an_ambiguous_puppet_node_instead_of_picking_one():
    store = Store(clock=lambda: NOW)
    for name, kind, data in (
        ("pve", "proxmox", ProxmoxInventory((), (guest("mw151", 1501),))),
        ("puppetdb", "puppetdb", PuppetInventory((puppet("mw151.fsslc.wtnet"), puppet("mw151.wikitide.net")))),
    ):
        store.register(name, kind, 30)
        store.put(SourceResult(name, kind, NOW, 1.0, data=data))
    row = hosts_view(store, CONFIG, NOW).rows[0]
    assert row.key == "guest:mw151" and row.cells[2].plain == "? 2 certnames"


def test_config_checks_link_and_ssh_templates():
    from console.core.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        parse_config("farm: {name: x}\nlinks: {grafana: 'https://g/{hostname}'}\nssh: {command: []}\n")
    assert [str(issue) for issue in raised.value.issues] == [
        "<config>:2: links.grafana: unknown placeholder {hostname}; use {host} {fqdn} {node} {vmid}",
        "<config>:3: ssh.command: List should have at least 1 item after validation, not 0",
    ]
    defaults = parse_config("farm: {name: x}\n").ssh
    assert (defaults.command, defaults.target) == (["ssh"], "{fqdn}")


def test_the_domain_modules_load_without_textual():
    code = "import sys, console.core.hosts, console.derive.detail, console.cli.shell; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
