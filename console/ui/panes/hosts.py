"""The Hosts pane (rows from console.derive.hosts_pane.hosts_view)."""

from __future__ import annotations

from console.ui.panes.base import Pane, derive_view


class HostsPane(Pane):
    number = 1
    title = "Hosts"
    noun = "hosts"
    kinds = frozenset({"proxmox", "puppetdb", "graylog"})  # graylog: the err/5m column
    derive = staticmethod(derive_view("hosts_pane", "hosts_view"))
