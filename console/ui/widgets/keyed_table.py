"""A DataTable refreshed by key: only what changed is touched, and the cursor stays on its row."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.render import measure
from textual.widgets import DataTable
from textual._two_way_dict import TwoWayDict  # DataTable's own row index (textual is pinned < 9)
from textual.widgets.data_table import CellKey, RowKey

from console.views import Cell, Column, Row


def same_cell(old: Cell, new: Cell) -> bool:
    """Equal text AND style: rich's Text.__eq__ ignores the base style (a handled alert only dims)."""
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain == new.plain and old.style == new.style and old.spans == new.spans
    return type(old) is type(new) and old == new


def cell_width(cell: Cell) -> int:
    """The width DataTable gives a one-line cell (its widest line), without rendering it."""
    if isinstance(cell, Text):
        return max((line.cell_len for line in cell.split()), default=0) if "\n" in cell.plain else cell.cell_len
    return max((cell_len(line) for line in str(cell).splitlines()), default=0)


class KeyedTable(DataTable[Cell]):
    """`reconcile(columns, rows)` makes the table show `rows`, in that order, with the fewest changes:
    rows whose keys vanished are removed, changed cells are updated one by one, new rows are added,
    the cursor follows its row's KEY (it is a position in DataTable) and the scroll position stays."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._column_spec: tuple[Column, ...] = ()
        # how many rows have each cell width, per column: a column narrows when its widest row leaves
        # (else its width would depend on which source answered first), at the cost of the changed cells only
        self._widths: list[Counter[int]] = []
        self._row_widths: dict[str, tuple[int, ...]] = {}

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None when the table is empty)."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value

    def row_keys(self) -> list[str]:
        """The keys of the rows in the order shown."""
        return [row.key.value for row in self.ordered_rows if row.key.value is not None]

    def reconcile(self, columns: Sequence[Column], rows: Sequence[Row]) -> None:
        with self.app.batch_update():
            # Before the columns: a new column spec (a sort arrow) clears the table and its cursor.
            cursor_key, cursor_index, scroll_y = self.cursor_key, self.cursor_row, self.scroll_y
            self._set_columns(tuple(columns))
            wanted = {row.key for row in rows}
            self._remove_rows([key for key in self.row_keys() if key not in wanted])
            for row in rows:
                self._put_row(row)
            order = [row.key for row in rows]
            if self.row_keys() != order:
                self._reorder(order)
            self._follow_cursor(cursor_key, cursor_index, scroll_y)

    def _set_columns(self, columns: tuple[Column, ...]) -> None:
        if columns == self._column_spec:
            return
        self.clear(columns=True)
        for column in columns:
            self.add_column(column.label, key=column.key)
        self._column_spec = columns
        self._widths = [Counter() for _ in columns]
        self._row_widths = {}

    def _remove_rows(self, keys: list[str]) -> None:
        """Remove many rows at once. DataTable.remove_row renumbers every remaining row for each row
        it removes, which is quadratic (2,000 of 20,000 rows: 41 s); this renumbers once and
        otherwise does what remove_row does."""
        if not keys:
            return
        gone = {RowKey(key) for key in keys}
        for key in gone:
            for column_key in self._data.get(key, {}):
                self._updated_cells.discard(CellKey(key, column_key))
            del self.rows[key]
            del self._data[key]
            self._count_widths(key.value, None)
        self._narrow_columns()
        kept = sorted((self._row_locations.get(key), key) for key in self._row_locations if key not in gone)
        self._row_locations = TwoWayDict({key: index for index, (_, key) in enumerate(kept)})
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    def _count_widths(self, key: str, cells: Sequence[Cell] | None) -> None:
        """Move row `key`'s cell widths in the per-column counts from what they were to `cells` (None: gone)."""
        old = self._row_widths.pop(key, None)
        if old is not None:
            for counts, width in zip(self._widths, old):
                counts[width] -= 1
                if not counts[width]:
                    del counts[width]
        if cells is not None:
            new = self._row_widths[key] = tuple(cell_width(cell) for cell in cells)
            for counts, width in zip(self._widths, new):
                counts[width] += 1

    def _narrow_columns(self) -> None:
        """Set each column that is wider than its widest remaining cell (and its label) back to that."""
        for column, counts in zip(self.columns.values(), self._widths):
            needed = max([measure(self.app.console, column.label, 1), *counts])
            if needed < column.content_width:
                column.content_width = needed
                self._require_update_dimensions = True

    def _put_row(self, row: Row) -> None:
        cells = row.cells + ("",) * (len(self._column_spec) - len(row.cells))
        if RowKey(row.key) not in self.rows:
            self.add_row(*cells, key=row.key)
            self._count_widths(row.key, cells)
            return
        changed = False
        for column, old, new in zip(self._column_spec, self.get_row(row.key), cells):
            if not same_cell(old, new):
                self.update_cell(row.key, column.key, new, update_width=True)
                changed = True
        if changed:
            self._count_widths(row.key, cells)

    def _reorder(self, order: list[str]) -> None:
        # DataTable.sort() hands its key function the cells but not the row key, so this does what
        # sort() does with an explicit position per key.
        self._row_locations = TwoWayDict({RowKey(key): index for index, key in enumerate(order)})
        self._update_count += 1
        self.refresh()

    def _follow_cursor(self, key: str | None, old_index: int, scroll_y: float) -> None:
        """Put the cursor back on its row (or its old place if the row is gone); keep the scroll
        position unless the cursor would leave the screen."""
        if key is not None and RowKey(key) in self.rows:
            index = self.get_row_index(key)
        else:
            index = min(old_index, max(self.row_count - 1, 0))
        self.move_cursor(row=index, scroll=False)
        self.call_after_refresh(self._restore_scroll, scroll_y)

    def _restore_scroll(self, scroll_y: float) -> None:
        self.scroll_to(y=scroll_y, animate=False, immediate=True)
        self.move_cursor(row=self.cursor_row, scroll=True)


class OpeningTable(KeyedTable):
    """A KeyedTable whose rows open something on enter (the footer says so)."""

    BINDINGS = [Binding("enter", "select_cursor", "Open host")]
