"""What the operator does to a pane's rows before they are shown: filter, sort, mark. No Textual.

The grammar is k9s's: a filter is a case-insensitive substring; a leading `~` makes it a regular
expression, a leading `!` inverts it (`!~^mw` = the rows NOT matching ^mw). Matches are highlighted
by the table when it draws a row; an inverted filter highlights nothing (what it shows are the non-matches).

At 20,000 rows a keystroke must stay cheap: `index_rows` computes once per view (off the UI loop) each
row's cell texts and widths; `select` then filters, sorts and marks with them (console/ui/panes/base.py).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace
from typing import Collection, Sequence

from rich.cells import cell_len
from rich.text import Text

from console.core.rows import NO_VALUE, Cell, Column, Row, natural_key

MATCH_STYLE = "reverse"  # no colour: still visible under NO_COLOR and in every theme
MARK = "●"  # a marked row's first cell starts with it: a symbol, not colour alone
ASCENDING, DESCENDING = "▲", "▼"


@dataclass(frozen=True, slots=True)
class RowFilter:
    """A parsed filter. `error` is set (and nothing is filtered) for a regex that does not compile."""

    text: str
    pattern: re.Pattern[str] | None = None
    invert: bool = False
    error: str | None = None
    literal: bool = False  # a substring, not a regex: it can be searched in a row's cells joined together

    @property
    def active(self) -> bool:
        return self.pattern is not None

    def matches(self, row: Row) -> bool:
        if self.pattern is None:
            return True
        found = any(self.pattern.search(cell_plain(cell)) for cell in row.cells)
        return found != self.invert


def parse_filter(text: str) -> RowFilter:
    """"mw15" substring, "~^mw1[56]" regex, "!mw" / "!~^mw" inverted; "" (or a bare "!"/"~") none."""
    body, invert = text, False
    if body.startswith("!"):
        body, invert = body[1:], True
    if body.startswith("~"):
        source = body[1:]
        if not source:
            return RowFilter(text)
        try:
            with warnings.catch_warnings():  # re's FutureWarnings ("possible nested set") would print over the screen
                warnings.simplefilter("ignore")
                pattern = re.compile(source, re.IGNORECASE)
        except re.error as exc:
            return RowFilter(text, error=f"not a regular expression: {exc}")
        return RowFilter(text, pattern, invert)
    if not body:
        return RowFilter(text)
    return RowFilter(text, re.compile(re.escape(body), re.IGNORECASE), invert, literal=True)


def cell_plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def highlight(cell: Cell, pattern: re.Pattern[str]) -> Cell:
    """The cell with every match of `pattern` highlighted (the cell itself when nothing matches)."""
    plain = cell_plain(cell)
    spans = [m.span() for m in pattern.finditer(plain) if m.end() > m.start()]
    if not spans:
        return cell
    text = cell.copy() if isinstance(cell, Text) else Text(plain)
    for start, end in spans:
        text.stylize(MATCH_STYLE, start, end)
    return text


def filter_rows(rows: Sequence[Row], row_filter: RowFilter) -> tuple[Row, ...]:
    """The rows the filter keeps, in their order."""
    if row_filter.pattern is None:
        return tuple(rows)
    return tuple(row for row in rows if row_filter.matches(row))


# --- sorting -----------------------------------------------------------------------------------

AGE = re.compile(r"^(\d+)([smhd])\b")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def sort_value(cell: Cell) -> tuple:
    """How a cell sorts: empty last, ages ("3m", "2h") by duration, the rest naturally (mw2 < mw10)."""
    plain = cell_plain(cell).strip()
    if not plain or plain == NO_VALUE:
        return (1,)
    age = AGE.match(plain)
    if age:
        return (0, 0, int(age.group(1)) * UNIT_SECONDS[age.group(2)])
    return (0, 1, natural_key(plain))


@dataclass(frozen=True, slots=True)
class SortOrder:
    """Sort by column `index`, descending or not; None (the default) keeps the view's own order."""

    index: int | None = None
    descending: bool = False

    def next(self, columns: int) -> SortOrder:
        """The `S` cycle: view order → col 0 ▲ → col 0 ▼ → col 1 ▲ → … → last ▼ → view order."""
        if self.index is None:
            return SortOrder(0) if columns else self
        if not self.descending:
            return SortOrder(self.index, True)
        return SortOrder(self.index + 1) if self.index + 1 < columns else SortOrder()


def sort_rows(rows: Sequence[Row], order: SortOrder) -> tuple[Row, ...]:
    """Stable: rows with equal values keep the view's order (worst first, newest first …)."""
    index = order.index
    if index is None:
        return tuple(rows)

    def key(row: Row) -> tuple:
        return sort_value(row.cells[index]) if index < len(row.cells) else (1,)

    present = [row for row in rows if key(row) != (1,)]
    empty = [row for row in rows if key(row) == (1,)]
    return tuple(sorted(present, key=key, reverse=order.descending)) + tuple(empty)


def sorted_columns(columns: Sequence[Column], order: SortOrder) -> tuple[Column, ...]:
    """The columns, the sorted one's label ending in ▲ or ▼."""
    if order.index is None:
        return tuple(columns)
    arrow = DESCENDING if order.descending else ASCENDING
    return tuple(
        replace(column, label=f"{column.label} {arrow}") if i == order.index else column for i, column in enumerate(columns)
    )


# --- marks -------------------------------------------------------------------------------------


def mark_rows(rows: Sequence[Row], marked: Collection[str]) -> tuple[Row, ...]:
    """Marked rows get `●` before their first cell."""
    if not marked:
        return tuple(rows)
    out = []
    for row in rows:
        if row.key in marked and row.cells:
            first = row.cells[0]
            cell = Text.assemble(f"{MARK} ", first) if isinstance(first, Text) else f"{MARK} {first}"
            row = replace(row, cells=(cell, *row.cells[1:]))
        out.append(row)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TableState:
    """One pane's filter, sort order and marked keys (kept by key: rows come and go)."""

    row_filter: RowFilter = RowFilter("")
    order: SortOrder = SortOrder()
    marked: frozenset[str] = frozenset()


def apply(columns: Sequence[Column], rows: Sequence[Row], state: TableState) -> tuple[tuple[Column, ...], tuple[Row, ...]]:
    """Columns and rows as the pane shows them: filtered (on the view's text), sorted, marked."""
    selected = select(rows, index_rows(rows), state)
    return sorted_columns(columns, state.order), selected.rows


# --- the same, at 20,000 rows per keystroke ----------------------------------------------------------


def cell_width(cell: Cell) -> int:
    """The width a one-line cell takes on screen (its widest line), without rendering it."""
    return plain_width(cell_plain(cell))


def plain_width(plain: str) -> int:
    if "\n" in plain:
        return max((plain_width(line) for line in plain.splitlines()), default=0)
    return len(plain) if plain.isascii() else cell_len(plain)


@dataclass(frozen=True, slots=True)
class RowIndex:
    """Per row of a view: its cells' plain texts, the same joined by newlines (where a substring filter
    looks: a typed filter holds no newline, so it cannot match across two cells) and its cells' widths."""

    plains: tuple[tuple[str, ...], ...]
    joined: tuple[str, ...]
    widths: tuple[tuple[int, ...], ...]


def index_rows(rows: Sequence[Row]) -> RowIndex:
    plains = tuple(tuple(cell.plain if isinstance(cell, Text) else str(cell) for cell in row.cells) for row in rows)
    return RowIndex(plains, tuple("\n".join(texts) for texts in plains),
                    tuple(tuple(plain_width(text) for text in texts) for texts in plains))


@dataclass(frozen=True, slots=True)
class Selection:
    """What the table shows: rows in order, each row's cell widths, and the pattern to highlight."""

    rows: tuple[Row, ...]
    widths: tuple[tuple[int, ...], ...]
    highlight: re.Pattern[str] | None


def _kept(index: RowIndex, positions: Sequence[int], row_filter: RowFilter) -> list[int]:
    pattern = row_filter.pattern
    if pattern is None:
        return list(positions)
    search, invert = pattern.search, row_filter.invert
    if row_filter.literal:
        joined = index.joined
        return [i for i in positions if (search(joined[i]) is None) == invert]
    plains = index.plains
    return [i for i in positions if any(search(text) for text in plains[i]) != invert]


def _sorted(index: RowIndex, positions: list[int], order: SortOrder) -> list[int]:
    column = order.index
    if column is None:
        return positions
    plains = index.plains
    keys = {i: sort_value(plains[i][column]) if column < len(plains[i]) else (1,) for i in positions}
    present = [i for i in positions if keys[i] != (1,)]
    empty = [i for i in positions if keys[i] == (1,)]
    return sorted(present, key=keys.__getitem__, reverse=order.descending) + empty


def select(rows: Sequence[Row], index: RowIndex, state: TableState, hidden: Collection[str] = frozenset()) -> Selection:
    """`apply` on an indexed view, leaving out the `hidden` keys: only list work per keystroke."""
    positions = [i for i, row in enumerate(rows) if row.key not in hidden] if hidden else range(len(rows))
    positions = _sorted(index, _kept(index, positions, state.row_filter), state.order)
    shown, widths = [], []
    marked = state.marked
    for i in positions:
        row, width = rows[i], index.widths[i]
        if marked and row.key in marked and row.cells:
            row = mark_rows((row,), marked)[0]
            width = (cell_width(row.cells[0]), *width[1:])
        shown.append(row)
        widths.append(width)
    row_filter = state.row_filter
    return Selection(tuple(shown), tuple(widths), None if row_filter.invert else row_filter.pattern)
