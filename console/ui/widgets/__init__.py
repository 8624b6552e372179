"""Widgets that render what console.views derives; no business logic here."""

from console.ui.widgets.header import FarmHeader
from console.ui.widgets.keyed_table import KeyedTable, OpeningTable
from console.ui.widgets.status_bar import StatusBar
from console.ui.widgets.tab_bar import TabBar

__all__ = ["FarmHeader", "KeyedTable", "OpeningTable", "StatusBar", "TabBar"]
