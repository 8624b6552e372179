"""Widgets that render what console.derive derives; no business logic here."""

from console.ui.widgets.header import FarmHeader
from console.ui.widgets.keyed_table import KeyedTable, OpeningTable
from console.ui.widgets.prompt import CommandLine, PromptBar
from console.ui.widgets.status_bar import StatusBar
from console.ui.widgets.tab_bar import TabBar

__all__ = ["CommandLine", "FarmHeader", "PromptBar", "KeyedTable", "OpeningTable", "StatusBar", "TabBar"]
