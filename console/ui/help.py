"""The `?` screen: every key the console answers to."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "next / previous pane"),
    ("1 2 3 4", "show Hosts, Alerts, Services, Commits"),
    ("↑ ↓  j k", "move the cursor"),
    ("← →", "scroll sideways (wide columns)"),
    ("g  G", "first / last row"),
    ("pgup pgdn", "page up / down"),
    ("r", "refresh every source now"),
    ("enter", "a host's detail (Hosts, Alerts, Services)"),
    ("?", "this help"),
    ("q", "quit"),
    ("", "— in a host's detail —"),
    ("esc  q", "back, the cursor where it was"),
    ("tab", "summary / logs (enter: whole line)"),
    ("s", "ssh to the host; the console waits"),
    ("y  c", "copy a link / the host's FQDN"),
)
NOTE = "Read-only: nothing here changes the farm."


def key_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, meaning in KEYS:
        table.add_row(key, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    """Closes with escape, ? or q (q here closes the help rather than quitting)."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(key_table())
            yield Static(NOTE, id="help-note")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Keys"
        self.query_one("#help").border_subtitle = "esc closes"
