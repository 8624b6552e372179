"""KeyedTable.reconcile: minimal changes, order as given, cursor and scroll kept by row key."""

from __future__ import annotations

from textual.app import App, ComposeResult

from console.ui.widgets import KeyedTable
from console.views import Column, Row

COLUMNS = (Column("host", "host"), Column("state", "state"))


def rows(*names: str, state: str = "OK") -> list[Row]:
    return [Row(name, (name, state)) for name in names]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable()


class CallCounter:
    def __init__(self, table: KeyedTable, method: str) -> None:
        self.calls: list[tuple] = []
        original = getattr(table, method)

        def spy(*args, **kwargs):
            self.calls.append(args)
            return original(*args, **kwargs)

        setattr(table, method, spy)


async def test_reconcile_adds_updates_and_removes_by_key():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("mw151", "mw152", "mw153"))
        updates = CallCounter(table, "update_cell")
        adds = CallCounter(table, "add_row")
        table.reconcile(COLUMNS, [Row("mw151", ("mw151", "CRITICAL")), *rows("mw153", "mw154")])
        assert updates.calls == [("mw151", "state", "CRITICAL")]
        assert len(adds.calls) == 1
        assert table.row_keys() == ["mw151", "mw153", "mw154"]
        assert table.get_row("mw151") == ["mw151", "CRITICAL"]


async def test_reconcile_follows_the_order_given():
    async with TableApp().run_test() as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.reconcile(COLUMNS, rows("a", "b", "c"))
        table.move_cursor(row=2)
        table.reconcile(COLUMNS, rows("c", "a", "b"))
        assert table.row_keys() == ["c", "a", "b"]
        assert [table.get_row_at(i)[0] for i in range(3)] == ["c", "a", "b"]
        assert table.cursor_key == "c"


async def test_cursor_keeps_its_row_and_screen_line_when_rows_above_vanish():
    async with TableApp().run_test(size=(40, 12)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        names = [f"mw{n}" for n in range(100, 160)]
        table.reconcile(COLUMNS, rows(*names))
        await pilot.pause()
        table.move_cursor(row=30)
        await pilot.pause()
        line_before = table.cursor_row - table.scroll_y
        table.reconcile(COLUMNS, rows(*[n for n in names if n not in ("mw101", "mw102", "mw103")]))
        await pilot.pause()
        assert table.cursor_key == "mw130"
        assert table.cursor_row == 27
        assert table.cursor_row - table.scroll_y == line_before


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
