"""KeyedTable.reconcile: only changed rows repaint, order as given, cursor and scroll kept by row key."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from console.core.rows import Column, Row
from console.ui.widgets import KeyedTable

COLUMNS = (Column("host", "host"), Column("state", "state"))


def rows(*names: str, state: str = "OK") -> list[Row]:
    return [Row(name, (name, state)) for name in names]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable()


class CountingTable(KeyedTable):
    """Counts the lines it renders, by the row's first cell (the header's is its first label)."""

    def __init__(self) -> None:
        super().__init__()
        self.rendered: list[str] = []

    def _render_cells(self, cells, *args, **kwargs):
        self.rendered.append(str(cells[0]) if cells else "")
        return super()._render_cells(cells, *args, **kwargs)


class CountingApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingTable()


def line_texts(table: KeyedTable) -> list[str]:
    return [table.render_line(y).text.rstrip() for y in range(table.size.height)]


async def test_reconcile_adds_updates_and_removes_by_key_and_repaints_only_the_changed_row():
    async with CountingApp().run_test() as pilot:
        table = pilot.app.query_one(CountingTable)
        unchanged = rows("mw153")
        table.reconcile(COLUMNS, [*rows("mw151", "mw152"), *unchanged])
        await pilot.pause()
        table.rendered.clear()
        table.reconcile(COLUMNS, [Row("mw151", ("mw151", "CRIT")), *unchanged, *rows("mw154")])  # widths kept
        await pilot.pause()
        assert "mw151" in table.rendered and "mw154" in table.rendered
        assert "mw153" not in table.rendered  # the same Row object: its line comes from the cache
        assert table.row_keys() == ["mw151", "mw153", "mw154"]
        assert table.get_row("mw151") == ["mw151", "CRIT"]
        assert [line.split() for line in line_texts(table)[:4]] == [
            ["host", "state"], ["mw151", "CRIT"], ["mw153", "OK"], ["mw154", "OK"]]


async def test_a_style_change_alone_repaints_the_cell():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        first = Row("mw150", ("mw150", "OK"))  # the cursor's row (its own style) is not the one looked at
        table.reconcile(COLUMNS, [first, Row("mw151", ("mw151", Text("✖ CRITICAL", style="bold red")))])
        await pilot.pause()
        assert any(seg.style and seg.style.bold for seg in table.render_line(2) if "CRITICAL" in seg.text)
        table.reconcile(COLUMNS, [first, Row("mw151", ("mw151", Text("✖ CRITICAL", style="dim")))])
        await pilot.pause()
        assert table.get_row("mw151")[1].style == "dim"
        critical = [seg.style for seg in table.render_line(2) if "CRITICAL" in seg.text]
        assert critical and all(style.dim and not style.bold for style in critical)


async def test_reconcile_follows_the_order_given():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("a", "b", "c"))
        table.move_cursor(row=2)
        table.reconcile(COLUMNS, rows("c", "a", "b"))
        assert table.row_keys() == ["c", "a", "b"]
        assert [table.get_row_at(i)[0] for i in range(3)] == ["c", "a", "b"]
        assert table.cursor_key == "c"


async def test_cursor_keeps_its_row_and_the_scroll_stays_when_rows_above_vanish():
    async with TableApp().run_test(size=(40, 12)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        names = [f"mw{n}" for n in range(100, 160)]
        table.reconcile(COLUMNS, rows(*names))
        await pilot.pause()
        table.move_cursor(row=30)
        await pilot.pause()
        scroll_before = table.scroll_y
        assert scroll_before > 0
        table.reconcile(COLUMNS, rows(*[n for n in names if n not in ("mw101", "mw102", "mw103")]))
        await pilot.pause()
        assert table.cursor_key == "mw130"
        assert table.cursor_row == 27
        assert table.scroll_y == scroll_before


async def test_new_rows_above_keep_the_view_unless_the_cursor_would_leave_it():
    async with TableApp().run_test(size=(40, 12)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("mw5", "mw6"))
        await pilot.pause()
        table.reconcile(COLUMNS, rows("mw1", "mw2", "mw3", "mw4", "mw5", "mw6"))
        await pilot.pause()
        assert (table.cursor_key, table.scroll_y) == ("mw5", 0)  # the newest rows on top are in view
        table.reconcile(COLUMNS, rows(*[f"mw0{i}" for i in range(20)], "mw1", "mw2", "mw3", "mw4", "mw5", "mw6"))
        await pilot.pause()
        assert table.cursor_key == "mw5"
        visible_rows = table.scrollable_content_region.height - 1  # the header row stays on top
        assert table.scroll_y > 0
        assert table.scroll_y <= table.cursor_row < table.scroll_y + visible_rows


async def test_value_changes_leave_cursor_and_scroll_alone():
    async with TableApp().run_test(size=(40, 12)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        names = [f"mw{n}" for n in range(100, 160)]
        table.reconcile(COLUMNS, rows(*names))
        await pilot.pause()
        table.move_cursor(row=40)
        await pilot.pause()
        cursor, scroll = table.cursor_row, table.scroll_y
        table.reconcile(COLUMNS, rows(*names, state="WARNING"))
        await pilot.pause()
        assert (table.cursor_row, table.scroll_y) == (cursor, scroll)


async def test_cursor_stays_in_place_when_its_own_row_vanishes():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("a", "b", "c", "d"))
        table.move_cursor(row=2)
        table.reconcile(COLUMNS, rows("a", "b", "d"))
        assert table.cursor_key == "d"
        table.reconcile(COLUMNS, rows("a"))
        assert table.cursor_key == "a"


async def test_j_and_k_move_the_cursor():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("a", "b", "c"))
        table.focus()
        await pilot.press("j", "j", "k")
        assert table.cursor_key == "b"


async def test_removing_many_rows_at_once_keeps_order_cells_and_cursor():
    names = [f"mw{i}" for i in range(600)]
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows(*names))
        table.move_cursor(row=401)  # mw401
        await pilot.pause()
        kept = names[1::2]  # every other row goes, the cursor's row stays
        table.reconcile(COLUMNS, rows(*kept, state="WARNING"))
        await pilot.pause()
        assert table.row_keys() == kept
        assert table.row_count == len(kept)
        assert table.cursor_key == "mw401"
        assert table.get_row("mw599") == ["mw599", "WARNING"]
        assert table.get_row_index("mw401") == kept.index("mw401")


async def test_a_column_narrows_when_its_widest_row_leaves():
    # Otherwise the table's width would depend on what arrived first (a Graylog event row that an
    # Icinga problem later absorbs), and so would the horizontal scrollbar.
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("mw151", "a-very-long-host-name-indeed"))
        await pilot.pause()
        wide = table.columns["host"].content_width
        table.reconcile(COLUMNS, rows("mw151"))
        await pilot.pause()
        assert table.columns["host"].content_width == len("mw151") < wide
        assert table.columns["state"].content_width == len("state")  # the label holds it, not a cell


async def test_more_rows_than_fit_before_and_after_need_no_layout_and_the_scrollbar_follows():
    """A filter keystroke at 20,000 rows: the table's height cannot change, so the screen is not laid
    out again (~20 ms a keystroke); a change that can resize the table (a few rows left) still is."""
    async with TableApp().run_test(size=(40, 12)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        screen = pilot.app.screen
        table.reconcile(COLUMNS, rows(*[f"mw{i}" for i in range(100)]))
        await pilot.pause()
        height = table.outer_size.height
        assert height == 12
        layouts = []
        refresh_layout = screen._refresh_layout
        screen._refresh_layout = lambda *args, **kwargs: (layouts.append(1), refresh_layout(*args, **kwargs))[1]
        table.reconcile(COLUMNS, rows(*[f"mw{i}" for i in range(50)]))
        await pilot.pause()
        assert layouts == []
        assert table.vertical_scrollbar.window_virtual_size == 51
        table.move_cursor(row=49)
        await pilot.pause()
        assert table.scroll_y == 49 - (height - 1) + 1  # row 49 at the bottom, under the header
        table.reconcile(COLUMNS, rows("mw1", "mw2", "mw3"))
        await pilot.pause()
        assert layouts and table.outer_size.height == 4  # header and three rows
        assert table.scroll_y == 0
