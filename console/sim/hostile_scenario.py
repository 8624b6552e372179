"""The `hostile` scenario: the strings of console/sim/hostile.py in every string field the farm serves.

A few hosts, checks, log lines, a commit ... are added; nothing of the reference farm is renamed, so the
farm stays usable (the background noise of the other scenarios is there too). hostile.PLACES says which
field is served where. `stir(farm)` makes changes that the Icinga event stream reports with hostile strings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from console.sim.checks import CRITICAL, WARNING
from console.sim.hostile import host_fqdn, hostile
from console.sim.inventory import HostSpec, Inventory
from console.sim.logs import EventDefinition, EventStream, LogStream
from console.sim.puppet import CODE_DIR, ResourceEvent

if TYPE_CHECKING:
    from console.sim.farm import Farm

HOSTILE_HOST = hostile("host-name")  # the same name in Icinga, Proxmox, PuppetDB (+ domain), Graylog, Salt (+ domain)
SPLIT_HOST = "pwn9002"  # plain in Icinga and Graylog; Proxmox calls it hostile("vm-name"), PuppetDB and Salt the certname
HOSTILE_SERVICE = hostile("service-name")
LOG_SENDER = hostile("log-source")  # logs to Graylog, is no farm host
BACKEND = hostile("backend-name")  # in every cache's depool list, no farm host
STREAM_ID = "65a1b2c3d4e5f60718293aff"
DEFINITION_ID = "65f0c1a2b3c4d5e6f7a800ff"
COMMIT_REPO = "miraheze/puppet"
HOSTILE_VMIDS = (9901, 9902)
# plain hosts that carry hostile values
DISK_HOST = "os161"  # Disk Space CRITICAL with a hostile (long) output, acknowledged with a hostile author and comment
LOAD_HOST = "os202"  # Current Load WARNING with a multi-line output, in a downtime with a hostile author and comment
PUPPET_FAILING = "swiftac171"  # Puppet fails on a hostile resource with a hostile message (so does HOSTILE_HOST)
PUPPET_DISABLED = "mon181"  # Puppet disabled with a hostile message
SERVICE_HOST = "bast181"  # has a check named hostile("service-name")
HOSTILE_BUSY = (DISK_HOST, LOAD_HOST, PUPPET_FAILING, PUPPET_DISABLED, SERVICE_HOST)  # the background noise keeps off


def hostile_inventory(inventory: Inventory) -> Inventory:
    """The inventory with two extra guests: HOSTILE_HOST and SPLIT_HOST (on the last node)."""
    domain = inventory.domains[0]
    node = inventory.nodes[-1].name
    joined = HostSpec(HOSTILE_HOST, f"{HOSTILE_HOST}.{domain}", "misc", node, HOSTILE_VMIDS[0], 2, 4, ("nginx",),
                      "10.0.21.201")
    split = HostSpec(SPLIT_HOST, host_fqdn("certname", domain), "misc", node, HOSTILE_VMIDS[1], 2, 4, (), "10.0.21.202",
                     vm_name=hostile("vm-name"))
    return replace(inventory, hosts=(*inventory.hosts, joined, split))


def hostile_scenario(farm: Farm) -> None:
    anchor = farm.anchor.replace(microsecond=0)
    # Icinga: names, outputs, an acknowledgement, a downtime
    farm.set_check(HOSTILE_HOST, HOSTILE_SERVICE, CRITICAL, hostile("plugin-output"), since=anchor - timedelta(minutes=35),
                   perf=("pwn=1;;;0;",))
    farm.set_check(SERVICE_HOST, HOSTILE_SERVICE, CRITICAL, "CRITICAL - this check's name is hostile",
                   since=anchor - timedelta(minutes=50))
    farm.set_guest_usage(DISK_HOST, disk=0.99, since=anchor - timedelta(hours=3))
    farm.set_check(DISK_HOST, "Disk Space", CRITICAL, hostile("plugin-output", long=True), since=anchor - timedelta(hours=3),
                   perf=("/=99000MB;90000;95000;0;100000",))
    farm.acknowledge(DISK_HOST, "Disk Space", author=hostile("ack-author"), comment=hostile("ack-comment", long=True),
                     since=anchor - timedelta(hours=2, minutes=40))
    farm.set_check(LOAD_HOST, "Current Load", WARNING, hostile("plugin-output-multiline"), since=anchor - timedelta(minutes=80))
    farm.set_downtime(LOAD_HOST, "Current Load", author=hostile("downtime-author"),
                      comment=hostile("downtime-comment", long=True), duration=timedelta(hours=4),
                      start=anchor - timedelta(minutes=70))
    # PuppetDB: resources and messages of failed reports, a disabled agent's message
    manifest = f"{CODE_DIR}/modules/pwn/manifests/init.pp"
    events = (
        ResourceEvent("File", hostile("puppet-resource"), "failure", hostile("puppet-message", long=True), "content",
                      None, None, "Pwn", manifest, 13),
        ResourceEvent("Service", hostile("puppet-resource"), "skipped", "Skipped due to failed dependencies", None, None,
                      None, "Pwn", manifest, 21),
    )
    for host in (PUPPET_FAILING, HOSTILE_HOST):
        farm.set_puppet_status(host, "failed", events, since=anchor - timedelta(hours=2))
    farm.set_puppet_disabled(PUPPET_DISABLED, hostile("disabled-message"), since=anchor - timedelta(hours=3, minutes=10))
    # Graylog: messages, a sender that is no farm host, an application, a stream, an event definition
    farm.logbook.senders[LOG_SENDER] = HostSpec(LOG_SENDER, LOG_SENDER, "network", None, None, 1, 1, (), "192.0.2.7")
    app = hostile("log-app")

    def line(r, spec, ts):
        return hostile("log-message"), 3, app, "daemon", {"process_id": r.randint(1000, 99999)}

    def long_line(r, spec, ts):
        return hostile("log-message", long=True), 3, app, "daemon", {"process_id": r.randint(1000, 99999)}

    day_ago = anchor - timedelta(hours=24)
    farm.logbook.streams.append(LogStream("hostile", (HOSTILE_HOST, DISK_HOST, LOG_SENDER), day_ago, 30.0, line))
    farm.logbook.streams.append(LogStream("hostile-long", (DISK_HOST,), day_ago, 600.0, long_line))
    farm.logbook.graylog_streams.append((STREAM_ID, hostile("stream-title"), hostile("stream-description"),
                                         "application_name", (app,)))
    definition = EventDefinition(DEFINITION_ID, hostile("event-title"), hostile("event-description"), 3, True)
    farm.logbook.event_streams.append(EventStream(definition, (HOSTILE_HOST,), anchor - timedelta(hours=2), 300.0,
                                                  lambda key: hostile("event-message")))
    # GitHub: the newest commit of all
    farm.add_commit(COMMIT_REPO, hostile("commit-message", long=True), ("modules/pwn/manifests/init.pp",),
                    author=hostile("commit-login"), at=anchor - timedelta(minutes=4), name=hostile("commit-author"))
    # Proxmox task logs, the caches' backends, what commands print
    farm.task_notes = ("WARN: " + hostile("task-log"), hostile("task-log", long=True))
    farm.foreign_backends.append(BACKEND)
    first_cache = sorted(farm.backend_admin)[0]
    farm.backend_admin[first_cache][BACKEND] = "sick"  # left depooled by someone
    farm.command_noise = (hostile("command-output") + "\n", hostile("command-output", long=True) + "\n")


def stir(farm: Farm) -> None:
    """Changes the Icinga event stream reports with hostile strings: HOSTILE_HOST's hostile service flips between
    CRITICAL and WARNING (StateChange, CheckResult), and is acknowledged (AcknowledgementSet) and put in a downtime
    (DowntimeStarted, DowntimeTriggered) if it was not yet; every string of those events is hostile."""
    with farm.lock:
        slot = farm.slot(HOSTILE_HOST, HOSTILE_SERVICE)
        state = WARNING if slot.override is not None and slot.override.state == CRITICAL else CRITICAL
        farm.set_check(HOSTILE_HOST, HOSTILE_SERVICE, state, hostile("plugin-output"), perf=("pwn=1;;;0;",))
        if slot.ack is None:
            farm.acknowledge(HOSTILE_HOST, HOSTILE_SERVICE, author=hostile("ack-author"), comment=hostile("ack-comment"))
        if slot.downtime is None:
            farm.set_downtime(HOSTILE_HOST, HOSTILE_SERVICE, author=hostile("downtime-author"),
                              comment=hostile("downtime-comment"), duration=timedelta(hours=1))
