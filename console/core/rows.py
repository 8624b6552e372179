"""What a pane's table is made of: columns, rows of cells, and the view a pane shows. Plain data,
no model and no Textual: the table, the filter and the panes import this before the first paint;
console.derive (which derives the views from the store) loads with the first data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text

from console.core.display import safe, safe_text

Cell = str | Text
NO_VALUE = "—"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    identifier: bool = False  # a name (host, service, repo ...): joiners shown too (console.core.display)


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class PaneView:
    """Everything one pane shows: its columns, its rows, a note when its data is missing or failing
    (None when all is well), a short badge for the tab bar (e.g. the number of alerts) and the
    failing sources' messages in full (`detail`, for a tooltip)."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    note: Text | None = None
    badge: str = ""
    detail: str = ""
    legend: str = ""  # a word on what a mark in the rows means, after the row count
    handled: frozenset[str] = frozenset()  # keys of acknowledged / in-downtime rows (dimmed; `h` hides them)


def safe_cells(columns: tuple[Column, ...], row: Row) -> Row:
    """The row as it may be shown: every cell through the display-safe function (console.core.display),
    never markup, no control character. The key stays exact (it names the host for an action)."""
    cells = tuple(safe_text(cell, identifier=column.identifier) if isinstance(cell, Text) else _safe_str(cell, column)
                  for column, cell in zip(columns, row.cells, strict=False))
    return row if all(a is b for a, b in zip(cells, row.cells, strict=False)) else Row(row.key, cells)


def _safe_str(cell: str, column: Column) -> Cell:
    if safe(cell, identifier=column.identifier) is cell:  # nearly always: the string itself
        return cell
    return safe_text(cell, identifier=column.identifier)


def safe_view(view: PaneView) -> PaneView:
    """A pane's view with every cell, its note and its detail display-safe."""
    rows = tuple(safe_cells(view.columns, row) for row in view.rows)
    note = safe_text(view.note) if view.note is not None else None
    return PaneView(view.columns, rows, note, view.badge, safe_text(view.detail, multiline=True).plain, view.legend,
                    view.handled)


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders digits by value: mw2 < mw10 < mw151."""
    parts = re.split(r"(\d+)", name.lower())
    # re.split with a group alternates text and digits, so position i always holds the same type.
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))
