"""The Alerts pane (rows from console.views.alerts_view)."""

from __future__ import annotations

from console.ui.panes.base import Pane
from console.views import alerts_view


class AlertsPane(Pane):
    number = 2
    title = "Alerts"
    noun = "alerts"
    kinds = frozenset({"icinga", "graylog"})  # Graylog's alert events are merged in
    derive = staticmethod(alerts_view)
