"""Several clusters: more than one source instance of a kind. No Textual, no I/O.

With one instance of a kind, the panes look as they always did; with several, they show a
`cluster` column (the source instance's name) and a row's key carries `@INSTANCE`, so the same
host name in two clusters is two rows (`guest:mw1@pve-a`, `guest:mw1@pve-b`). Instance names
(`[a-z0-9][a-z0-9_.-]*`) and host names never contain `@`.
"""

from __future__ import annotations

from console.core.model import Guest, HypervisorNode, ProxmoxInventory
from console.core.state import Store


def several(store: Store, kind: str) -> bool:
    """More than one configured instance of `kind` (registered, answered or not)."""
    return len(store.of_kind(kind)) > 1


def clustered_key(key: str, cluster: str, on: bool) -> str:
    return f"{key}@{cluster}" if on else key


def row_host(key: str) -> str:
    """The host a Hosts row is about: `guest:mw152` and `guest:mw152@pve-b` → `mw152`."""
    return key.split(":", 1)[-1].split("@", 1)[0]


def proxmox_by_instance(store: Store) -> tuple[list[tuple[str, HypervisorNode]], list[tuple[str, Guest]]]:
    """Every node and guest with the instance that reported it (templates left out); the first
    answer wins within one instance."""
    nodes: dict[tuple[str, str], HypervisorNode] = {}
    guests: dict[tuple[str, str], Guest] = {}
    for state in store.of_kind("proxmox"):
        inventory = state.data
        if not isinstance(inventory, ProxmoxInventory):
            continue
        for node in inventory.nodes:
            nodes.setdefault((state.name, node.name), node)
        for guest in inventory.guests:
            if not guest.template:
                guests.setdefault((state.name, guest.name), guest)
    return [(cluster, node) for (cluster, _), node in nodes.items()], [(cluster, g) for (cluster, _), g in guests.items()]
