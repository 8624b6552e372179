"""A DataTable refreshed by key: only what changed is touched, and the cursor stays on its row."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.render import measure
from textual.widgets import DataTable
from textual._two_way_dict import TwoWayDict  # DataTable's own row index (textual is pinned < 9)
from textual.widgets.data_table import CellKey, ColumnKey, RowKey
from textual.widgets._data_table import default_cell_formatter  # how DataTable measures a cell (pinned < 9)

from console.views import Cell, Column, Row


def same_cell(old: Cell, new: Cell) -> bool:
    """Equal text AND style: rich's Text.__eq__ ignores the base style (a handled alert only dims)."""
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain == new.plain and old.style == new.style and old.spans == new.spans
    return type(old) is type(new) and old == new


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

    def _remove_rows(self, keys: list[str]) -> None:
        """Remove many rows at once. DataTable.remove_row renumbers every remaining row for each row
        it removes, which is quadratic (2,000 of 20,000 rows: 41 s); this renumbers once and
        otherwise does what remove_row does."""
        if not keys:
            return
        gone = {RowKey(key) for key in keys}
        widest = self._columns_set_by(gone)
        for key in gone:
            for column_key in self._data.get(key, {}):
                self._updated_cells.discard(CellKey(key, column_key))
            del self.rows[key]
            del self._data[key]
        self._shrink_columns(widest)
        kept = sorted((self._row_locations.get(key), key) for key in self._row_locations if key not in gone)
        self._row_locations = TwoWayDict({key: index for index, (_, key) in enumerate(kept)})
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    def _cell_width(self, value: object) -> int:
        return measure(self.app.console, default_cell_formatter(value), 1)

    def _columns_set_by(self, rows: set[RowKey]) -> list[ColumnKey]:
        """The columns whose width one of `rows` holds up (its cell is the widest)."""
        found = []
        for column_key, column in self.columns.items():
            if any(self._cell_width(self._data[row].get(column_key, "")) >= column.content_width
                   for row in rows if row in self._data):
                found.append(column_key)
        return found

    def _shrink_columns(self, columns: list[ColumnKey]) -> None:
        """Narrow these columns to what their remaining cells need: a column is never wider because of
        a row that left (otherwise the picture would depend on which source answered first)."""
        for column_key in columns:
            column = self.columns[column_key]
            widths = [self._cell_width(cells.get(column_key, "")) for cells in self._data.values()]
            column.content_width = max([measure(self.app.console, column.label, 1), *widths])

    def _put_row(self, row: Row) -> None:
        cells = row.cells + ("",) * (len(self._column_spec) - len(row.cells))
        if RowKey(row.key) not in self.rows:
            self.add_row(*cells, key=row.key)
            return
        for column, old, new in zip(self._column_spec, self.get_row(row.key), cells):
            if not same_cell(old, new):
                self.update_cell(row.key, column.key, new, update_width=True)

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
