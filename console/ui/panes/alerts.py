"""The Alerts pane (rows from console.derive.alerts_pane.alerts_view)."""

from __future__ import annotations

from console.ui.panes.base import Pane, derive_view


class AlertsPane(Pane):
    number = 2
    title = "Alerts"
    noun = "alerts"
    kinds = frozenset({"icinga", "graylog"})  # Graylog's alert events are merged in
    derive = staticmethod(derive_view("alerts_pane", "alerts_view"))
