"""The console's panes, in the order of their numbers (keys 1-4)."""

from console.ui.panes.alerts import AlertsPane
from console.ui.panes.base import Pane
from console.ui.panes.commits import CommitsPane
from console.ui.panes.hosts import HostsPane
from console.ui.panes.services import ServicesPane

PANES: tuple[type[Pane], ...] = (HostsPane, AlertsPane, ServicesPane, CommitsPane)

__all__ = ["PANES", "AlertsPane", "CommitsPane", "HostsPane", "Pane", "ServicesPane"]
