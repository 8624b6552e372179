"""The `?` screen: the keys of the screen it was opened on, made from that screen's active bindings
(console/ui/screens/keys.py), then its notes. It scrolls when it does not fit."""

from __future__ import annotations

from typing import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen

from console.core.display import safe_text
from console.ui.widgets.plain import Plain


def key_table(entries: Sequence[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for keys, meaning in entries:
        table.add_row(safe_text(keys, identifier=True), Text(meaning))  # the operator's keys (config): never markup
    return table


class HelpScreen(ModalScreen[None]):
    """Closes with escape, ? or q (q here closes the help rather than quitting); j k scroll it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(self, entries: Sequence[tuple[str, str]], notes: Sequence[str] = (), title: str = "Keys") -> None:
        super().__init__()
        self.entries = list(entries)
        self.notes = list(notes)
        self.help_title = title

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Plain(key_table(self.entries), id="help-keys")
            if self.notes:
                yield Plain("\n".join(self.notes), id="help-note")

    def on_mount(self) -> None:
        box = self.query_one("#help", VerticalScroll)
        box.border_title = self.help_title
        box.border_subtitle = "esc closes"
        box.focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=lines, animate=False)
