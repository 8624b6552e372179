"""The Services pane (rows from console.derive.services_pane.services_view)."""

from __future__ import annotations

from console.ui.panes.base import Pane, derive_view


class ServicesPane(Pane):
    number = 3
    title = "Services"
    noun = "services"
    kinds = frozenset({"icinga", "probes"})
    derive = staticmethod(derive_view("services_pane", "services_view"))
