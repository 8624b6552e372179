"""The leftovers board (`:leftovers`, the command palette): what an incident left behind, each row with
its one-key clean-up. The backends are asked once when it opens and on `r` (console/leftovers_fetch.py),
never in the periodic refresh. `enter` or `x` opens the usual action screen for the row's clean-up
(plan → reason → confirmation → audit); after one succeeds the board reloads and the row is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from console.actions import SUCCESS, ActionResult, Refused
from console.actions.specs import Offer, spec_named
from console.core.display import safe_text
from console.core.rows import Column, Row
from console.derive.filtering import cell_width
from console.derive.leftovers import KIND_LABELS, LOCK, fmt_time, since_and_what
from console.derive.leftovers_fetch import LeftoverBoard, gather
from console.ui.desk import ActionDesk
from console.ui.screens.action import ActionScreen
from console.ui.screens.keys import HelpKeys
from console.ui.widgets import KeyedTable
from console.ui.widgets.keyed_table import CELL_PADDING
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp

# since before the message (how long ago leads the `what` cell, the time of day follows it), and the
# message cut with `…` to what the screen leaves it: at 80×24 the age is on screen, the rest scrolls
COLUMNS = (Column("kind", "kind"), Column("target", "target", identifier=True), Column("what", "since · what"),
           Column("since", "at"), Column("cleanup", "clean-up"))
WHAT = 2  # the column fitted to the screen
MIN_WHAT = 30  # ... never narrower than this
KIND_STYLE = {"downtime": "bold yellow", "ack": "yellow", "puppet-disabled": "bold magenta", "depooled": "bold red",
              "lock": "cyan"}


def fitted(rows: list[Row], width: int) -> list[Row]:
    """`rows` with the `what` cell cut with `…` so that the row fits `width` (at least MIN_WHAT cells).
    The cells are display-safe Texts already (cut after, so an escape shown as ⟨U+001B⟩ is never split)."""
    widths = [max([cell_len(column.label), *(cell_width(row.cells[i]) for row in rows)]) for i, column in enumerate(COLUMNS)]
    others = sum(widths) - widths[WHAT]
    room = max(MIN_WHAT, width - others - 2 * len(CELL_PADDING) * len(COLUMNS))
    out = []
    for row in rows:
        what = row.cells[WHAT]
        if isinstance(what, Text) and what.cell_len > room:
            what = what.copy()
            what.truncate(room, overflow="ellipsis")
            row = Row(row.key, (*row.cells[:WHAT], what, *row.cells[WHAT + 1:]))
        out.append(row)
    return out


class CleanupScreen(ActionScreen):
    """The usual action screen; a successful clean-up tells the board, which reloads under it."""

    def __init__(self, desk: ActionDesk, offer: Offer, on_success: Callable[[], None]) -> None:
        super().__init__(desk, offer)
        self.on_success = on_success

    def show_result(self, result: ActionResult) -> None:
        super().show_result(result)
        if result.outcome == SUCCESS:
            self.on_success()


class LeftoversScreen(HelpKeys, ModalScreen[None]):
    """A keyed table: kind, target, what, since, clean-up; failing backends and unchecked kinds under it."""

    DEFAULT_CSS = """
    LeftoversScreen { align: center middle; }
    #leftovers { width: 98%; max-width: 160; height: auto; max-height: 94%; border: round $accent;
                 background: $surface; padding: 0 1; }
    #leftovers-table { height: auto; max-height: 30; }
    #leftovers-note { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("r", "reload", "Reload"),
        Binding("x", "cleanup", "Clean up"),
        Binding("question_mark", "help", "Help", show=False),
    ]
    HELP_TITLE = "Keys: the leftovers board"
    HELP_NOTES = ("enter or x: the row's clean-up, in the usual action screen (plan, reason, confirmation); "
                  "the board asks again when it succeeded.",)

    def __init__(self) -> None:
        super().__init__()
        self.table = KeyedTable(id="leftovers-table")
        self.board: LeftoverBoard | None = None
        self.loading = False
        self.loads = 0  # finished loads (tests wait on it)

    @property
    def opsapp(self) -> OpsConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(id="leftovers"):
            yield self.table
            yield Plain("loading…", id="leftovers-note")

    def on_mount(self) -> None:
        box = self.query_one("#leftovers")
        box.border_title = "Leftovers"
        box.border_subtitle = "enter/x clean up · r reloads · esc closes"
        self.table.focus()
        self.action_reload()

    # --- loading ----------------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.loading = True
        if self.is_attached:
            self.query_one("#leftovers-note", Plain).update("loading…")
        self.run_worker(self._load(), group="leftovers", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        app = self.opsapp
        engine = app.actions.engine
        commands = None
        if app.config.actions.depool.method == "varnishadm":
            try:
                commands = engine.command_executor()
            except Refused:
                commands = None  # read_backend_health then says why, as a line on the board
        try:
            board = await gather(app.config, app.store, engine.session, clock=app.clock, commands=commands)
        except Exception as exc:  # noqa: BLE001 - a bug must not take the console down with it
            self.loading = False
            self._say(safe_text(f"cannot gather the leftovers: {type(exc).__name__}: {exc}", style="bold red"))
            return
        self.loading = False
        self.loads += 1
        self.show(board)

    def _width(self) -> int:
        """The cells the table has across (before its first layout: the screen's, less the box's edges)."""
        return self.table.scrollable_content_region.width or max(0, self.app.size.width - 6)

    def on_resize(self) -> None:
        if self.board is not None:
            self.show(self.board)

    def _say(self, text: Text) -> None:
        if self.is_attached:
            self.query_one("#leftovers-note", Plain).update(text)

    def show(self, board: LeftoverBoard) -> None:
        self.board = board
        if not self.is_attached:
            return
        now = board.checked_at or self.opsapp.clock()
        rows = []
        for item in board.rows:
            rows.append(Row(item.key, (
                Text(KIND_LABELS.get(item.kind, item.kind), style=KIND_STYLE.get(item.kind, "")),
                item.target, safe_text(since_and_what(now, item)), fmt_time(item.since),
                Text(item.cleanup_label if item.cleanup is not None else "—", style="bold" if item.cleanup else "dim"),
            )))  # fmt: skip
        self.table.reconcile(COLUMNS, fitted(rows, self._width()))
        count = len(board.rows)
        lines = [Text(f"{count} leftover{'s' if count != 1 else ''}" if count else "nothing left behind",
                      style="bold" if count else "green")]
        # a backend's error, a lock holder's name: data (the table's cells are made safe by KeyedTable)
        lines += [safe_text(problem, style="bold red") for problem in board.problems]
        lines += [safe_text(note, style="dim") for note in board.notes]
        self._say(Text("\n").join(lines))

    # --- clean-ups --------------------------------------------------------------------------------

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        event.stop()  # the panes' own enter (a host's detail) is not for this table
        self.action_cleanup()

    def action_cleanup(self) -> None:
        """The row's clean-up in the usual action screen; the board reloads when it succeeded or closes."""
        key = self.table.cursor_key
        item = self.board.by_key().get(key) if self.board and key else None
        if item is None:
            return
        if item.cleanup is None:
            self.app.notify(f"{item.target}: no clean-up action for this row", severity="warning")
            return
        label = f"{item.cleanup_label}: {item.target}"
        if item.kind == LOCK:
            label += " (the holder, if still running, goes on without its lock)"
        offer = Offer(item.kind, label, spec_named(item.cleanup.spec), action=item.cleanup)
        self.app.push_screen(CleanupScreen(self.opsapp.actions, offer, self.action_reload),
                             lambda _closed: self.action_reload())
