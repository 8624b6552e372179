"""The log screen (`L` on the panes, `:logs QUERY`): a Graylog search that keeps tailing.

Every POLL_SECONDS an async worker asks the first Graylog source for the lines after the newest one
shown (console.derive.logtail keeps the cursor, drops the boundary's duplicates and bounds the buffer).
A failing or slow Graylog shows its error on the status line and the next poll tries again; a query
Graylog cannot parse (HTTP 400) says so and waits for another one.

Log lines carry end users' input: every cell is a display-safe Text (the DataTable reads a string as
markup), the status and error lines are Plain. The operator's query is sent exactly as typed, shown as
text, and refused (on screen, the screen staying) when it holds control characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from console.core.display import control_characters, safe, safe_text
from console.core.model import LogMessage
from console.core.rows import Row
from console.derive.logtail import DEFAULT_RANGE, RANGES, TAIL_COLUMNS, LogTail, TailUpdate, line_key, range_after, tail_row
from console.sources.base import SourceError
from console.sources.graylog import GraylogSource, GraylogStream
from console.ui.dialogs import Picker
from console.ui.screens.keys import BackToPanes, HelpKeys
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp

POLL_SECONDS = 2.0
ALL_STREAMS = "*all*"


def query_problem(query: str, what: str = "the query") -> str | None:
    """Why a typed query is not sent (None: it is): control or invisible characters, which Graylog
    would search for and the screen could not show."""
    found = control_characters(query)
    if not found:
        return None
    return f"{what} holds control characters ({', '.join(found[:3])}); type it without them"


def refusal(query: str) -> str | None:
    """What the error line says of a query that is not sent (None: it is sent)."""
    problem = query_problem(query)
    return f"not searched: {problem}" if problem else None


def shown_cells(row: Row) -> tuple[Text, ...]:
    """The row's cells as the tail's table shows them: display-safe Texts, never a markup string."""
    return tuple(safe_text(cell, identifier=column.identifier) for column, cell in zip(TAIL_COLUMNS, row.cells, strict=False))


class TailTable(DataTable[object]):
    """The tailed lines, oldest at the top; j/k like the panes, G back to the newest (and following)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "follow", "Newest", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="tail-lines", cursor_type="row", zebra_stripes=False)

    def action_follow(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)


class QueryInput(Input):
    """The query editor: what is typed or pasted is text (an Input never reads markup); control and
    invisible characters are refused as they come, with a toast naming them, so the editor never holds
    bytes the terminal would act on."""

    def replace(self, text: str, start: int, end: int) -> None:
        problem = query_problem(text, "the text")
        if problem is not None:
            self.app.bell()
            self.notify(f"not typed: {problem}", title="Graylog query", severity="warning", timeout=8)
            return
        super().replace(text, start, end)


class LogScreen(HelpKeys, BackToPanes, Screen[None]):
    """Search Graylog and keep tailing; enter on a line opens its host."""

    HELP_TITLE = "Keys: the logs"
    HELP_NOTES = ("enter on a line: the detail of the host that sent it", "G: the newest line (and follow)")

    DEFAULT_CSS = """
    #tail-status { height: auto; padding: 0 1; background: $boost; }
    #tail-error { height: auto; padding: 0 1; }
    #tail-query { height: 3; display: none; }
    #tail-query.-editing { display: block; }
    #tail-lines { height: 1fr; scrollbar-size-vertical: 1; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("space", "toggle_tail", "Pause/resume"),
        Binding("p", "toggle_tail", "Pause", show=False),
        Binding("slash", "edit_query", "Query", key_display="/"),
        Binding("t", "next_range", "Range"),
        Binding("s", "pick_stream", "Stream"),
    ]

    def __init__(self, query: str = "*", range_name: str = DEFAULT_RANGE) -> None:
        super().__init__()
        self.search_query = query.strip() or "*"
        self.range_name = range_name if range_name in RANGES else DEFAULT_RANGE
        self.stream: GraylogStream | None = None  # None: every stream
        self.streams: tuple[GraylogStream, ...] | None = None
        self.tail = LogTail()
        self.paused = False
        self.error: str | None = None
        self.bad_query = refusal(self.search_query)  # why the query is not searched (None: it is)
        self.polls = 0  # answered polls, for the status line and the tests
        self._messages: dict[str, LogMessage] = {}
        self._generation = 0  # bumped on every restart: an answer to an older search is thrown away
        self._busy = False

    @property
    def ops(self) -> OpsConsoleApp:
        return self.app  # type: ignore[return-value]

    @property
    def source(self) -> GraylogSource | None:
        return next((s for s in self.ops.poller.sources.values() if isinstance(s, GraylogSource)), None)

    def compose(self) -> ComposeResult:
        app = self.ops
        self.header = app.header.follower()  # the app's one header: the session's mode, PAUSED, the incident
        yield self.header
        yield Plain("", id="tail-status")
        yield Plain("", id="tail-error")
        yield QueryInput(self._editable(self.search_query), placeholder="Graylog query, e.g. source:mw152 AND level:<=3",
                         id="tail-query")
        yield TailTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(TailTable)
        for column in TAIL_COLUMNS:
            table.add_column(column.label, key=column.key)
        table.focus()
        self.set_interval(1.0, self.header.tick)
        self.set_interval(POLL_SECONDS, self.poll)
        self._show_status()
        self.poll()
        if self.source is not None:
            self.run_worker(self._load_streams(), group="streams", exit_on_error=False)

    # --- polling -------------------------------------------------------------------------------

    def poll(self) -> None:
        """Ask for what is new, unless paused or the previous poll is still out."""
        if self.paused or self._busy or self.source is None or self.bad_query:
            return
        self._busy = True
        self.run_worker(self._poll(self._generation), group="tail", exit_on_error=False)

    async def _poll(self, generation: int) -> None:
        source = self.source
        try:
            while source is not None and generation == self._generation:
                request = self.tail.next_request(RANGES[self.range_name], self.ops.clock())
                streams = [self.stream.stream_id] if self.stream else []
                try:
                    snapshot = await source.search(self.search_query, request.timerange, streams=streams, size=request.size,
                                                   newest_first=request.newest_first)
                except SourceError as exc:
                    if generation == self._generation:
                        self.error = str(exc)
                        if self.error.startswith("HTTP 400"):  # the same query would be refused again
                            self.bad_query = f"graylog cannot use this query: {self.error}"
                    return
                if generation != self._generation:
                    return  # the search changed meanwhile
                self.error = None
                self.polls += 1
                update = self.tail.merge(snapshot.messages, request)
                self._show_lines(update)
                if not update.full_page:
                    return
        finally:
            if generation == self._generation:
                self._busy = False
                self._show_status()

    def restart(self) -> None:
        """A new query, range or stream: empty the screen and search again from the range's start."""
        self._generation += 1
        self.workers.cancel_group(self, "tail")
        self._busy = False
        self.tail.reset()
        self._messages.clear()
        self.query_one(TailTable).clear()
        self.error = None
        self.bad_query = refusal(self.search_query)
        self.polls = 0
        self._show_status()
        self.poll()

    # --- drawing -------------------------------------------------------------------------------

    def _show_lines(self, update: TailUpdate) -> None:
        table = self.query_one(TailTable)
        following = not table.row_count or table.cursor_row >= table.row_count - 1
        with self.app.batch_update():
            for message in update.dropped:
                key = line_key(message)
                if self._messages.pop(key, None) is not None:
                    table.remove_row(key)
            for message in update.added:
                row = tail_row(message)
                if row.key in self._messages:
                    continue  # never two rows for one line
                self._messages[row.key] = message
                table.add_row(*shown_cells(row), key=row.key)
            if following and table.row_count:
                table.move_cursor(row=table.row_count - 1, animate=False)

    def _show_status(self) -> None:
        source = self.source
        stream = safe(self.stream.title) if self.stream else "all streams"
        state = Text("⏸ PAUSED", style="bold yellow") if self.paused else Text(f"● live, every {POLL_SECONDS:g}s", style="green")
        status = Text.assemble(
            ("Logs ", "bold"),
            safe_text(self.search_query, style="bold"),
            f"  · last {self.range_name} · {stream} · ",
            state,
            f" · {len(self.tail.lines)}/{self.tail.limit} lines",
        )
        if source is not None and len([s for s in self.ops.poller.sources.values() if isinstance(s, GraylogSource)]) > 1:
            status.append(f" · {safe(source.name, identifier=True)}", style="dim")
        self.query_one("#tail-status", Plain).update(status)
        problem: Text | None = None
        if source is None:
            problem = Text("✖ no graylog source configured", style="bold red")
        elif self.bad_query:
            problem = Text(f"✖ {safe(self.bad_query)} — press / to change the query", style="bold red")
        elif self.error:
            problem = Text(f"✖ graylog: {safe(self.error)} — trying again every {POLL_SECONDS:g}s", style="bold red")
        elif self.polls and not self.tail.lines:
            problem = Text(f"no lines match in the last {self.range_name}; waiting for new ones", style="dim")
        error = self.query_one("#tail-error", Plain)
        error.update(problem or "")
        error.display = problem is not None

    # --- keys ----------------------------------------------------------------------------------

    def action_back(self) -> None:
        editor = self.query_one("#tail-query", Input)
        if editor.has_class("-editing"):
            editor.value = self._editable(self.search_query)
            self._close_editor()
        else:
            self.app.pop_screen()

    def action_toggle_tail(self) -> None:
        self.paused = not self.paused
        self._show_status()
        if not self.paused:
            self.poll()

    def action_edit_query(self) -> None:
        editor = self.query_one("#tail-query", Input)
        editor.add_class("-editing")
        editor.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip() or "*"
        problem = query_problem(query)
        if problem is not None:  # said, the editor left open to fix it; the tail goes on with the old query
            self.notify(f"not searched: {problem}", title="Graylog query", severity="warning", timeout=8)
            return
        self._close_editor()
        if query != self.search_query or self.bad_query:
            self.search_query = query
            self.restart()

    @staticmethod
    def _editable(query: str) -> str:
        """What the editor starts with: the query, unless it holds control characters (`:logs` took it)."""
        return "" if query_problem(query) else query

    def _close_editor(self) -> None:
        self.query_one("#tail-query", Input).remove_class("-editing")
        self.query_one(TailTable).focus()

    def action_next_range(self) -> None:
        self.range_name = range_after(self.range_name)
        self.restart()

    async def _load_streams(self) -> None:
        source = self.source
        if source is None:
            return
        try:
            self.streams = await source.streams()
        except SourceError as exc:
            self.streams = None
            self.notify(f"graylog streams: {exc}", severity="warning", timeout=5)

    def action_pick_stream(self) -> None:
        if not self.streams:
            self.notify("no streams known (yet): searching every stream", severity="warning", timeout=3)
            if self.source is not None:
                self.run_worker(self._load_streams(), group="streams", exclusive=True, exit_on_error=False)
            return
        options = [(ALL_STREAMS, Text("all streams", style="bold"))]
        options += [(s.stream_id, Text.assemble(safe_text(s.title, identifier=True), " (paused)" if s.disabled else ""))
                    for s in self.streams]
        current = 0 if self.stream is None else 1 + next((i for i, s in enumerate(self.streams) if s == self.stream), -1)
        self.app.push_screen(Picker("Search which stream?", options, highlighted=current), self._set_stream)

    def _set_stream(self, stream_id: str | None) -> None:
        if stream_id is None:
            return
        chosen = next((s for s in self.streams or () if s.stream_id == stream_id), None)
        if chosen != self.stream:
            self.stream = chosen
            self.restart()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """enter on a line: the detail of the host that sent it."""
        event.stop()
        message = self._messages.get(event.row_key.value or "")
        if message is not None and message.source:
            self.ops.panes_screen.open_host(message.source)
