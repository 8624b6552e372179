"""A table refreshed by key, on Textual's line API: it keeps a list of rows and a key -> index dict,
and renders only the lines on screen, so 20,000 rows cost about what 40 do.

`reconcile` is list work only (no per-row widget work); the cursor follows its row's key, the scroll
position stays unless the cursor would leave the screen. At 20,000 rows even that list work is done
off the UI loop: `table_layout` (no widget) in a thread, then `show_layout` on the loop. A line is
rendered when it comes into view or its Row object changes; unchanged lines come from a small cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import zip_longest
from typing import ClassVar, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.core.rows import Cell, Column, Row, safe_cells
from console.derive.filtering import cell_width
from console.derive.filtering import highlight as highlight_matches

CELL_PADDING = " "  # each side of a cell, as DataTable pads
SIDEWAYS_STEP = 4  # cells per left/right key
LINE_CACHE_SIZE = 512  # rendered lines kept: a few screens of every pane, bounded
MEASURED_FLOOR = 1_000  # rows whose widths are kept without pruning, whatever is shown


def same_cell(old: Cell, new: Cell) -> bool:
    """Equal text AND style: rich's Text.__eq__ ignores the base style (a handled alert only dims)."""
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain == new.plain and old.style == new.style and old.spans == new.spans
    return type(old) is type(new) and old == new


def same_row(old: Row, new: Row) -> bool:
    return len(old.cells) == len(new.cells) and all(map(same_cell, old.cells, new.cells))


def row_widths(row: Row) -> tuple[int, ...]:
    return tuple(cell_width(cell) for cell in row.cells)


def fit_columns(columns: Sequence[Column], widths: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """Each column as wide as its label or its widest cell, whichever is wider (so a column narrows
    again when its widest row leaves)."""
    count = len(columns)
    widest = [max(column, default=0) for column in zip_longest(*widths, fillvalue=0)][:count]
    widest += [0] * (count - len(widest))
    return tuple(max(cell_len(column.label), width) for column, width in zip(columns, widest, strict=False))


@dataclass(frozen=True, slots=True)
class TableLayout:
    """What a table shows, worked out without the widget: the rows in order, a key -> position dict
    and the columns' widths."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    index: dict[str, int]
    column_widths: tuple[int, ...]


def table_layout(columns: Sequence[Column], rows: Sequence[Row], widths: Sequence[tuple[int, ...]]) -> TableLayout:
    """`rows` (each row's cell widths in `widths`) laid out under `columns`. Pure: runs in any thread."""
    columns, rows = tuple(columns), tuple(rows)
    return TableLayout(columns, rows, {row.key: index for index, row in enumerate(rows)}, fit_columns(columns, widths))


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """A column as shown: its key, its label and the width of its content (padding excluded)."""

    key: str
    label: str
    content_width: int


@dataclass(frozen=True, slots=True)
class Palette:
    """The styles of one render pass (they change with focus and theme, so they are part of cache keys)."""

    base: Style
    header: Style
    cursor: Style
    cursor_foreground: Style  # the cursor's colour wins over a cell's own (DataTable: foreground priority css)


class KeyedTable(ScrollView, can_focus=True):
    """`reconcile(columns, rows, widths)` makes the table show `rows`, in that order. Line 0 is the
    header (it stays on top and scrolls sideways with the rows); line y > 0 is row scroll_y + y - 1."""

    COMPONENT_CLASSES = {"keyed-table--header", "keyed-table--cursor"}

    DEFAULT_CSS = """
    KeyedTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;

        &:focus {
            background-tint: $foreground 5%;
            & > .keyed-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .keyed-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .keyed-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .keyed-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .keyed-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("g,home", "cursor_top", "Top", show=False),
        Binding("G,end", "cursor_bottom", "Bottom", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("left", "sideways(-1)", "Left", show=False),
        Binding("right", "sideways(1)", "Right", show=False),
        Binding("enter", "select_cursor", "Select", show=False),
    ]

    class RowSelected(Message):
        """enter (or a click on the cursor's row) on a row: `row_key` is its key."""

        def __init__(self, table: KeyedTable, row_key: str, cursor_row: int) -> None:
            super().__init__()
            self.table = table
            self.row_key = row_key
            self.cursor_row = cursor_row

        @property
        def control(self) -> KeyedTable:
            return self.table

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: tuple[Column, ...] = ()
        self._column_widths: tuple[int, ...] = ()
        self._rows: tuple[Row, ...] = ()
        self._index: dict[str, int] = {}
        # widths measured here (when the caller gave none), reused while the Row object is the same
        self._measured: dict[str, tuple[Row, tuple[int, ...]]] = {}
        self._most_rows = 0
        self._cursor = 0
        self._highlight: re.Pattern[str] | None = None
        self._palette: Palette | None = None
        # (row key, cursor?, palette, widths, highlight, width) -> (the Row rendered, its line)
        self._line_cache: LRUCache[tuple, tuple[Row, Strip]] = LRUCache(LINE_CACHE_SIZE)
        self._header_cache: tuple[tuple, Strip] | None = None

    # --- what callers read ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        """The index of the row under the cursor (0 when the table is empty)."""
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor (None when the table is empty)."""
        return self._rows[self._cursor].key if self._rows else None

    def row_keys(self) -> list[str]:
        """The keys of the rows in the order shown."""
        return [row.key for row in self._rows]

    def get_row_index(self, key: str) -> int:
        """The position of row `key` (KeyError when it is not shown)."""
        return self._index[key]

    def get_row(self, key: str) -> list[Cell]:
        """Row `key`'s cells, one per column."""
        return self.get_row_at(self._index[key])

    def get_row_at(self, index: int) -> list[Cell]:
        cells = list(self._rows[index].cells[: len(self._columns)])
        return cells + [""] * (len(self._columns) - len(cells))

    @property
    def columns(self) -> dict[str, ColumnInfo]:
        """The columns shown, by key, with their content widths."""
        return {
            column.key: ColumnInfo(column.key, column.label, width)
            for column, width in zip(self._columns, self._column_widths, strict=False)
        }

    # --- what callers do -----------------------------------------------------------------------

    def reconcile(self, columns: Sequence[Column], rows: Sequence[Row], widths: Sequence[tuple[int, ...]] | None = None) -> None:
        """Show `rows` in that order under `columns`. `widths`, if given, holds each row's cell widths
        (measured off the UI loop); else they are measured here, reusing those of unchanged Row objects.
        Every cell is shown display-safe (console.core.display), never as markup."""
        shown = [safe_cells(tuple(columns), row) for row in rows]
        if any(safe is not row for safe, row in zip(shown, rows, strict=True)):
            rows, widths = shown, None  # a cell had to change: the widths given were of the raw text
        if widths is None:
            widths = self._measure(rows)
        else:
            self._measured = {}
        self.show_layout(table_layout(columns, rows, widths))

    def show_layout(self, layout: TableLayout) -> None:
        """Show what `table_layout` worked out: no per-row work here but, when the columns, the rows'
        order and the cursor stay, finding the visible rows that changed: only those are repainted."""
        cursor_key, cursor_index = self.cursor_key, self._cursor
        old_rows, old_shape = self._rows, (self._columns, self._column_widths, int(self.scroll_y))
        self._columns, self._rows, self._index = layout.columns, layout.rows, layout.index
        self._column_widths = layout.column_widths
        self._set_virtual_size(Size(self._table_width(), len(self._rows) + 1))
        if cursor_key is not None and cursor_key in self._index:
            self._cursor = self._index[cursor_key]
        else:
            self._cursor = min(cursor_index, max(len(self._rows) - 1, 0))
        self._keep_cursor_in_view()
        same_shape = (old_shape == (self._columns, self._column_widths, int(self.scroll_y))
                      and len(old_rows) == len(self._rows) and self._cursor == cursor_index)
        if same_shape:
            self._refresh_changed(old_rows)
        else:
            self.refresh()
        # the height of the rows' part may change with this layout (a scrollbar comes or goes)
        self.call_after_refresh(self._keep_cursor_in_view)

    def set_highlight(self, pattern: re.Pattern[str] | None) -> None:
        """Highlight the matches of `pattern` (the operator's filter) in the cells, when they are rendered."""
        if pattern != self._highlight:
            self._highlight = pattern
            self.refresh()

    def move_cursor(self, *, row: int | None = None, column: int | None = None, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on row index `row` (clamped); scroll it into view unless `scroll` is False.
        (`column` and `animate` are accepted for DataTable's callers; the cursor is a whole row.)"""
        if row is None:
            return
        old = self._cursor
        self._cursor = max(0, min(row, len(self._rows) - 1))
        if self._cursor != old:
            self._refresh_row(old)
            self._refresh_row(self._cursor)
        if scroll:
            self._keep_cursor_in_view()

    def clear_caches(self) -> None:
        """Forget the rendered lines and the measured widths (both are made again when needed)."""
        self._line_cache.clear()
        self._header_cache = None
        self._measured = {}

    # --- layout --------------------------------------------------------------------------------

    def _measure(self, rows: Sequence[Row]) -> list[tuple[int, ...]]:
        """Each row's cell widths, measured once per Row object. The rows a filter hides stay in the
        cache (the next keystroke brings them back); keys gone for good are dropped once the cache
        holds twice the most rows shown since it was last pruned."""
        measured, widths = self._measured, []
        for row in rows:
            seen = measured.get(row.key)
            if seen is None or seen[0] is not row:
                seen = measured[row.key] = (row, row_widths(row))
            widths.append(seen[1])
        self._most_rows = max(self._most_rows, len(rows))
        if len(measured) > 2 * max(self._most_rows, MEASURED_FLOOR):
            self._measured = {row.key: measured[row.key] for row in rows}
            self._most_rows = len(rows)
        return widths

    def _set_virtual_size(self, size: Size) -> None:
        """A new virtual size lays the screen out again only when it can change this table's height
        (its height is auto): not while more rows than fit are shown before and after, as when a filter
        keystroke takes 20,000 rows to 12,000. The scrollbars follow either way."""
        old, height = self.virtual_size, self.outer_size.height
        if size == old:
            return
        if old.height > height and size.height > height:
            self.set_reactive(KeyedTable.virtual_size, size)
            self._scroll_update(size)  # as a layout would: the scrollbars' thumbs, scroll offsets kept in range
            self.refresh()
        else:
            self.virtual_size = size

    def _table_width(self) -> int:
        return sum(self._column_widths) + 2 * len(CELL_PADDING) * len(self._column_widths)

    def _body_height(self) -> int:
        """How many rows fit under the header."""
        return self.scrollable_content_region.height - 1

    def _keep_cursor_in_view(self) -> None:
        """Scroll as little as possible: not at all while the cursor is on screen."""
        height = self._body_height()
        if height <= 0:
            return  # not laid out yet
        top = int(self.scroll_y)
        top = min(top, max(0, len(self._rows) - height))
        if self._cursor < top:
            top = self._cursor
        elif self._cursor >= top + height:
            top = self._cursor - height + 1
        if top != int(self.scroll_y):
            self.scroll_to(y=top, animate=False, immediate=True, force=True)

    def _refresh_changed(self, old_rows: Sequence[Row]) -> None:
        """Repaint the visible rows that differ from what was shown (the same keys in the same places)."""
        top = int(self.scroll_y)
        for index in range(top, min(len(self._rows), top + max(self._body_height(), 0))):
            old, new = old_rows[index], self._rows[index]
            if old is not new and (old.key != new.key or not same_row(old, new)):
                self._refresh_row(index)

    def _refresh_row(self, index: int) -> None:
        self.refresh(Region(0, index + 1 - int(self.scroll_y), self.size.width, 1))

    def on_focus(self) -> None:
        self.refresh()  # the cursor's colour follows focus

    def on_blur(self) -> None:
        self.refresh()

    # --- rendering -----------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        self._palette = Palette(
            self.rich_style,
            self.get_component_rich_style("keyed-table--header"),
            self.get_component_rich_style("keyed-table--cursor"),
            Style.from_color(self.get_component_rich_style("keyed-table--cursor").color),
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        palette = self._palette or Palette(self.rich_style, Style(), Style(), Style())
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        full_width = max(self._table_width(), width)
        if y == 0:
            strip = self._header_strip(palette, full_width)
        else:
            index = scroll_y + y - 1
            if index >= len(self._rows):
                return Strip.blank(width, palette.base)
            strip = self._row_strip(index, palette, full_width)
        return strip.crop_extend(scroll_x, scroll_x + width, palette.base)

    def _header_strip(self, palette: Palette, full_width: int) -> Strip:
        key = (self._columns, self._column_widths, palette, full_width)
        if self._header_cache is not None and self._header_cache[0] == key:
            return self._header_cache[1]
        style = palette.base + palette.header
        strip = self._render_cells([column.label for column in self._columns], style, Style.null(), None, full_width)
        self._header_cache = (key, strip)
        return strip

    def _row_strip(self, index: int, palette: Palette, full_width: int) -> Strip:
        """Row `index`'s whole line: from the cache when the row looks as it did when it was rendered
        (the same Row object, or an equal one from a refresh: only visible rows pay the comparison)."""
        row = self._rows[index]
        on_cursor = index == self._cursor
        key = (row.key, on_cursor, palette, self._column_widths, self._highlight, full_width)
        cached = self._line_cache.get(key)
        if cached is not None and (cached[0] is row or same_row(cached[0], row)):
            return cached[1]
        if on_cursor:
            strip = self._render_cells(row.cells, palette.base + palette.cursor, palette.cursor_foreground, self._highlight, full_width)
        else:
            strip = self._render_cells(row.cells, palette.base, Style.null(), self._highlight, full_width)
        self._line_cache[key] = (row, strip)
        return strip

    def _render_cells(self, cells: Sequence[Cell], style: Style, post_style: Style, highlight: re.Pattern[str] | None,
                      full_width: int) -> Strip:
        """One line: each cell padded to its column's width (cropped if longer), a space each side."""
        line = Text(no_wrap=True, end="")
        for position, width in enumerate(self._column_widths):
            text = cell_text(cells[position] if position < len(cells) else "", highlight)
            if text.cell_len > width:
                text.truncate(width, overflow="crop")
            line.append(CELL_PADDING)
            line.append_text(text)
            line.append(" " * (width - text.cell_len) + CELL_PADDING)
        line.append(" " * (full_width - line.cell_len))
        segments = Segment.apply_style(line.render(self.app.console), style, post_style or None)
        return Strip(segments)

    # --- keys and mouse ------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_top(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        self.move_cursor(row=len(self._rows) - 1)

    def action_cursor_page_up(self) -> None:
        self._page(-1)

    def action_cursor_page_down(self) -> None:
        self._page(1)

    def _page(self, direction: int) -> None:
        """Move the cursor and the view by one screen of rows."""
        page = max(self._body_height(), 1)
        self.scroll_to(y=int(self.scroll_y) + direction * page, animate=False, immediate=True, force=True)
        self.move_cursor(row=self._cursor + direction * page)

    def action_sideways(self, direction: int) -> None:
        """Scroll the columns sideways, without animation (a held key would queue animations)."""
        self.scroll_to(x=int(self.scroll_x) + direction * SIDEWAYS_STEP, animate=False, immediate=True)

    def action_select_cursor(self) -> None:
        if self._rows:
            self.post_message(self.RowSelected(self, self._rows[self._cursor].key, self._cursor))

    async def _on_click(self, event: events.Click) -> None:
        """A click moves the cursor to the row; a click on the cursor's row selects it (as in DataTable)."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = int(self.scroll_y) + offset.y - 1
        if index >= len(self._rows):
            return
        event.stop()
        if index == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row=index)


def cell_text(cell: Cell, highlight: re.Pattern[str] | None) -> Text:
    """A cell as one line of Text (a multi-line cell shows its first line), with the matches of
    `highlight` styled as the filter's matches. Always a copy: the caller crops it."""
    if isinstance(cell, Text):
        text = cell.copy()
        if "\n" in text.plain:
            text = text.split("\n")[0]
    else:
        text = Text(str(cell).split("\n", 1)[0])
    if highlight is None:
        return text
    marked = highlight_matches(text, highlight)
    assert isinstance(marked, Text)  # a Text cell is highlighted as Text
    return marked


class OpeningTable(KeyedTable):
    """A KeyedTable whose rows open something on enter (the footer says so)."""

    BINDINGS = [Binding("enter", "select_cursor", "Open host")]
