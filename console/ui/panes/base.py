"""A pane: a titled box with a note line (loading, failing source) over a keyed table."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from console.config import AppConfig
from console.state import Store
from console.ui.widgets import KeyedTable, OpeningTable
from console.views import PaneView

Derive = Callable[[Store, AppConfig, datetime], PaneView]


class Pane(Vertical):
    """Subclasses name the pane and say which view function fills it and which source kinds feed it."""

    number: ClassVar[int]
    title: ClassVar[str]
    noun: ClassVar[str]  # what a row is, for the count: "hosts"
    kinds: ClassVar[frozenset[str]]
    derive: ClassVar[Derive]
    opens_hosts: ClassVar[bool] = True  # enter on a row opens a host's detail

    class Focused(Message):
        """The keyboard went into this pane (tab, a number key or a click)."""

        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    def __init__(self) -> None:
        super().__init__(id=self.title.lower(), classes="pane")
        self.badge = ""
        self.border_title = f"{self.number} {self.title}"
        # Held rather than queried: a redraw may come while the app is tearing the screen down.
        self.note = Static("", classes="pane-note")
        table = OpeningTable if self.opens_hosts else KeyedTable
        self.table = table(id=f"{self.title.lower()}-table")

    def compose(self) -> ComposeResult:
        yield self.note
        yield self.table

    def show(self, view: PaneView) -> None:
        """Reconcile the table with the view and update the note and the row count."""
        self.table.reconcile(view.columns, view.rows)
        note = self.note
        note.update(view.note or "")
        note.display = view.note is not None
        note.tooltip = view.detail or None
        self.border_subtitle = f"{len(view.rows)} {self.noun}" + (f" · {view.legend}" if view.legend else "")
        self.badge = view.badge

    def on_descendant_focus(self) -> None:
        self.post_message(self.Focused(self.number))
