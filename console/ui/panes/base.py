"""A pane: a titled box with a note line (loading, failing source) over a keyed table.

The app derives a pane's view (and its row index) off the UI loop (`derive_indexed`, in a thread) and
lays it out there too, for the filter, sort and marks the pane had (`lay_out`); the pane then shows it,
and redraws it on each filter keystroke, sort or mark from the index alone."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Callable, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from console.core.display import safe_text
from console.core.rows import Cell, PaneView, safe_view
from console.core.state import Store
from console.derive.filtering import RowIndex, SortOrder, TableState, index_rows, parse_filter, select, sorted_columns
from console.ui.widgets import KeyedTable, OpeningTable
from console.ui.widgets.keyed_table import TableLayout, same_cell, table_layout
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:  # the config's models load after the first paint
    from console.core.config import AppConfig

Derive = Callable[[Store, "AppConfig", datetime], PaneView]


def derive_view(module: str, name: str) -> Derive:
    """The view function console.derive.<module>.<name>, imported on its first call: the views and the
    model behind them load with the first data (in the views' worker thread), not before the first paint."""

    def derive(store: Store, config: AppConfig, now: datetime) -> PaneView:
        view: Derive = getattr(importlib.import_module(f"console.derive.{module}"), name)
        return view(store, config, now)

    derive.__name__ = derive.__qualname__ = name
    return derive


@dataclass(frozen=True, slots=True)
class IndexedView:
    view: PaneView
    index: RowIndex


def derive_indexed(derive: Derive, store: Store, config: AppConfig, now: datetime) -> IndexedView:
    """A pane's view and its row index. No Textual: runs in a worker thread (the store's snapshots are
    immutable; a source's new answer replaces its snapshot, never edits it)."""
    view = safe_view(derive(store, config, now))
    return IndexedView(view, index_rows(view.rows))


@dataclass(frozen=True, slots=True)
class PaneLayout:
    """A view as the pane shows it for one filter, sort order, marks and hiding (`state`, `hide_handled`)."""

    state: TableState
    hide_handled: bool
    hidden: int  # handled rows left out
    table: TableLayout
    highlight: re.Pattern[str] | None


def lay_out(view: PaneView, index: RowIndex, state: TableState, hide_handled: bool) -> PaneLayout:
    """Filter, sort and mark the view's rows and lay them out. No Textual: runs in a worker thread."""
    hidden = view.handled if hide_handled else frozenset()
    selection = select(view.rows, index, state, hidden)
    table = table_layout(sorted_columns(view.columns, state.order), selection.rows, selection.widths)
    return PaneLayout(state, hide_handled, len(hidden), table, selection.highlight)


class Pane(Vertical):
    """Subclasses name the pane and say which view function fills it and which source kinds feed it."""

    number: ClassVar[int]
    title: ClassVar[str]
    noun: ClassVar[str]  # what a row is, for the count: "hosts"
    kinds: ClassVar[frozenset[str]]
    if TYPE_CHECKING:  # a subclass sets `derive = staticmethod(derive_view(...))`

        @staticmethod
        def derive(store: Store, config: AppConfig, now: datetime, /) -> PaneView: ...

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
        self.note = Plain("", classes="pane-note")
        self._note_shown: Cell = ""
        table = OpeningTable if self.opens_hosts else KeyedTable
        self.table = table(id=f"{self.title.lower()}-table")
        self.view: PaneView | None = None
        self.index: RowIndex | None = None
        self.state = TableState()  # the operator's filter, sort order and marks
        self.hide_handled = False  # `h`: leave out the view's handled (acknowledged, in downtime) rows
        self._titles_shown: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield self.note
        yield self.table

    def show(self, indexed: IndexedView, layout: PaneLayout | None = None) -> None:
        """Show a new view; `layout`, worked out with it off the UI loop, is used while the operator's
        filter, sort, marks and hiding are still the ones it was made for."""
        self.view, self.index = indexed.view, indexed.index
        if layout is not None and layout.state is self.state and layout.hide_handled == self.hide_handled:
            self._show_layout(layout)
        else:
            self._redraw()

    def _redraw(self) -> None:
        """Lay the view out again (filtered, sorted and marked as the operator asked) and show it."""
        if self.view is None or self.index is None:
            return
        self._show_layout(lay_out(self.view, self.index, self.state, self.hide_handled))

    def _show_layout(self, layout: PaneLayout) -> None:
        """Reconcile the table with the layout and update the note, the title (the filter) and the row count."""
        view, state = self.view, layout.state
        assert view is not None
        self.table.show_layout(layout.table)
        self.table.set_highlight(layout.highlight)
        note = self.note
        if not same_cell(self._note_shown, view.note or ""):  # an update lays the whole screen out again
            self._note_shown = view.note or ""
            note.update(self._note_shown)
        note.display = view.note is not None
        note.tooltip = Text(view.detail) if view.detail else None  # a Text: never markup
        shown = len(layout.table.rows)
        count = f"{shown}/{len(view.rows)}" if state.row_filter.active else f"{shown}"
        marked = f" · {len(state.marked)} marked" if state.marked else ""
        legend = f" · {view.legend}" if view.legend else ""
        hidden_note = f", {layout.hidden} handled hidden" if layout.hidden else ""
        subtitle = f"{count} {self.noun}{hidden_note}{marked}{legend}"
        title = f"{self.number} {self.title}"
        if state.row_filter.text:
            title += f" /{state.row_filter.text}" + (" (bad regex)" if state.row_filter.error else "")
        # a new title repaints the whole pane, its table included: only when the words change
        if (title, subtitle) != self._titles_shown:
            self._titles_shown = (title, subtitle)
            self.border_subtitle = safe_text(subtitle)
            self.border_title = safe_text(title)  # the operator's filter is text, never markup
        self.badge = view.badge

    # --- what the operator does to the rows (kept by key across refreshes) -----------------------

    def set_hide_handled(self, hide: bool) -> None:
        self.hide_handled = hide
        self._redraw()

    def set_filter(self, text: str) -> str | None:
        """Filter the rows (see console.derive.filtering); returns the regex error, if any."""
        self.state = replace(self.state, row_filter=parse_filter(text))
        self._redraw()
        return self.state.row_filter.error

    @property
    def filter_text(self) -> str:
        return self.state.row_filter.text

    def cycle_sort(self) -> SortOrder:
        columns = len(self.view.columns) if self.view else 0
        self.state = replace(self.state, order=self.state.order.next(columns))
        self._redraw()
        return self.state.order

    def toggle_mark(self) -> None:
        """Mark or unmark the row under the cursor."""
        key = self.table.cursor_key
        if key is None:
            return
        self.state = replace(self.state, marked=self.state.marked ^ {key})
        self._redraw()

    def marked_keys(self) -> list[str]:
        """The keys of the marked rows still in the view (for bulk actions), in the order shown."""
        hidden = self.view.handled if self.view and self.hide_handled else frozenset()
        present = {row.key for row in self.view.rows if row.key not in hidden} if self.view else set()
        return [key for key in self.table.row_keys() if key in self.state.marked and key in present] + sorted(
            key for key in self.state.marked & present if key not in self.table.row_keys()
        )

    def on_descendant_focus(self) -> None:
        self.post_message(self.Focused(self.number))
