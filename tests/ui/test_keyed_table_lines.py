"""KeyedTable on the line API: what a line looks like, the keys, the mouse, and 20,000 rows."""

from __future__ import annotations

import re

from textual.app import App, ComposeResult
from textual.widgets import Static

from console.core.rows import Column, Row
from console.derive.filtering import MATCH_STYLE
from console.ui.widgets import KeyedTable, OpeningTable

COLUMNS = (Column("host", "host"), Column("state", "state"))


def rows(*names: str, state: str = "OK") -> list[Row]:
    return [Row(name, (name, state)) for name in names]


class CountingTable(OpeningTable):
    """Counts the lines it renders (the header included)."""

    def __init__(self) -> None:
        super().__init__()
        self.rendered = 0
        self.selected: list[str] = []

    def _render_cells(self, *args, **kwargs):
        self.rendered += 1
        return super()._render_cells(*args, **kwargs)

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.selected.append(event.row_key)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingTable()
        yield Static("something else to focus", id="other")


def table_of(pilot) -> CountingTable:
    return pilot.app.query_one(CountingTable)


def words(table: KeyedTable, y: int) -> list[str]:
    return table.render_line(y).text.split()


def cursor_background(table: KeyedTable):
    return next(seg.style.bgcolor for seg in table.render_line(table.cursor_row + 1 - int(table.scroll_y)) if seg.text.strip())


async def test_a_header_then_one_line_per_row_in_padded_columns():
    async with TableApp().run_test(size=(40, 10)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, [Row("a", ("mw151", "OK")), Row("b", ("a-long-host", "CRITICAL"))])
        await pilot.pause()
        # one space each side of a cell: a column is as wide as its widest cell ("a-long-host")
        assert table.render_line(0).text.startswith(" host" + " " * 7 + "  state    ")
        assert table.render_line(1).text.startswith(" mw151" + " " * 6 + "  OK       ")
        assert words(table, 2) == ["a-long-host", "CRITICAL"]
        assert table.render_line(3).text.strip() == ""  # past the last row
        assert any(seg.style.bold for seg in table.render_line(0) if "host" in seg.text)
        assert table.render_line(1).cell_length == 40  # the cursor's row is highlighted across the width


async def test_the_cursor_is_dimmer_without_focus():
    async with TableApp().run_test(size=(40, 10)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, rows("mw151", "mw152"))
        table.focus()
        await pilot.pause()
        focused = cursor_background(table)
        pilot.app.query_one("#other").can_focus = True
        pilot.app.query_one("#other").focus()
        await pilot.pause()
        assert cursor_background(table) != focused
        other_row = [seg.style.bgcolor for seg in table.render_line(2) if seg.text.strip()]
        assert focused not in other_row


async def test_matches_of_the_filter_are_highlighted_when_rendered():
    async with TableApp().run_test(size=(40, 10)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, rows("mw151", "mw152"))
        table.set_highlight(re.compile("15(1)", re.IGNORECASE))
        await pilot.pause()
        highlighted = [seg.text for seg in table.render_line(1) if seg.style and getattr(seg.style, MATCH_STYLE)]
        assert highlighted == ["151"]
        assert not [seg for seg in table.render_line(2) if seg.style and getattr(seg.style, MATCH_STYLE)]
        table.set_highlight(None)
        await pilot.pause()
        assert not [seg for seg in table.render_line(1) if seg.style and getattr(seg.style, MATCH_STYLE)]
        assert table.get_row("mw151") == ["mw151", "OK"]  # the cells themselves are not touched


async def test_keys_move_the_cursor_and_the_view():
    names = [f"mw{n}" for n in range(100, 160)]
    async with TableApp().run_test(size=(40, 12)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, rows(*names))
        table.focus()
        await pilot.pause()
        body = table.scrollable_content_region.height - 1
        await pilot.press("G")
        assert table.cursor_key == "mw159" and table.scroll_y == len(names) - body
        assert words(table, body) == ["mw159", "OK"]  # the last row on the last line
        await pilot.press("g")
        assert (table.cursor_row, table.scroll_y) == (0, 0)
        await pilot.press("pagedown")
        assert table.cursor_row == body and table.scroll_y == body
        await pilot.press("pageup")
        assert (table.cursor_row, table.scroll_y) == (0, 0)
        await pilot.press("end")
        assert table.cursor_key == "mw159"
        await pilot.press("home", "down", "j", "k")
        assert table.cursor_key == "mw101"
        await pilot.press("up", "up")
        assert table.cursor_row == 0


async def test_enter_and_a_click_on_the_cursor_row_select_it_a_click_elsewhere_moves_the_cursor():
    async with TableApp().run_test(size=(40, 10)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, rows("mw151", "mw152", "mw153"))
        table.focus()
        await pilot.press("j", "enter")
        await pilot.pause()
        assert table.selected == ["mw152"]
        await pilot.click(CountingTable, offset=(3, 3))  # line 3: the third row
        await pilot.pause()
        assert table.cursor_key == "mw153" and table.selected == ["mw152"]
        await pilot.click(CountingTable, offset=(3, 3))
        await pilot.pause()
        assert table.selected == ["mw152", "mw153"]
        await pilot.click(CountingTable, offset=(3, 0))  # the header selects nothing
        await pilot.pause()
        assert table.cursor_key == "mw153" and table.selected == ["mw152", "mw153"]


async def test_columns_wider_than_the_pane_scroll_sideways_header_included():
    wide = (Column("host", "host"), Column("message", "message"))
    async with TableApp().run_test(size=(30, 10)) as pilot:
        table = table_of(pilot)
        table.reconcile(wide, [Row("a", ("mw151", "x" * 60 + " END"))])
        table.focus()
        await pilot.pause()
        assert table.virtual_size.width > table.size.width and "END" not in table.render_line(1).text
        await pilot.press(*["right"] * 20)
        await pilot.pause()
        assert table.scroll_x > 0
        assert "END" in table.render_line(1).text and "host" not in table.render_line(0).text
        await pilot.press(*["left"] * 20)
        assert table.scroll_x == 0 and "host" in table.render_line(0).text


async def test_widths_given_by_the_caller_size_the_columns_and_a_longer_cell_is_cropped():
    async with TableApp().run_test(size=(40, 10)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, [Row("a", ("mw151-long", "OK"))], widths=[(5, 2)])
        await pilot.pause()
        assert table.columns["host"].content_width == 5
        assert table.render_line(1).text.startswith(" mw151  OK ")


async def test_twenty_thousand_rows_render_only_what_is_on_screen_and_a_filter_shrink_and_grow_keeps_the_cursor():
    names = [f"mw{n:05}" for n in range(20_000)]
    every = rows(*names)
    async with TableApp().run_test(size=(60, 20)) as pilot:
        table = table_of(pilot)
        table.reconcile(COLUMNS, every)
        await pilot.pause()
        table.move_cursor(row=15_000)
        await pilot.pause()
        table.rendered = 0
        # a filter keystroke: 100 rows (the cursor's among them), then every row again
        kept = every[14_950:15_050]
        table.reconcile(COLUMNS, kept)
        await pilot.pause()
        assert table.row_count == 100 and table.cursor_key == "mw15000"
        assert table.scroll_y <= table.cursor_row < table.scroll_y + table.scrollable_content_region.height - 1
        table.reconcile(COLUMNS, every)
        await pilot.pause()
        assert table.row_count == 20_000 and table.cursor_key == "mw15000" and table.get_row_index("mw19999") == 19_999
        assert table.scroll_y <= 15_000 < table.scroll_y + table.scrollable_content_region.height - 1
        assert table.rendered <= 3 * 20  # three screens at most, whatever the number of rows
        table.reconcile(COLUMNS, [])
        await pilot.pause()
        assert (table.row_count, table.cursor_key, table.scroll_y) == (0, None, 0)
        assert words(table, 0) == ["host", "state"]
