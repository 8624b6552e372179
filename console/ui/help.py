"""The `?` screen: every key the console answers to."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from console.core.display import safe_text
from console.ui.widgets.plain import Plain

KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "next / previous pane"),
    ("1 2 3 4", "show Hosts, Alerts, Services, Commits"),
    ("↑ ↓  j k", "move the cursor"),
    ("← →", "scroll sideways (wide columns)"),
    ("g  G  home end", "first / last row"),
    ("pgup pgdn", "page up / down"),
    ("r", "refresh every source now"),
    ("enter", "a host's detail (Hosts, Alerts, Services)"),
    ("/", "filter the pane: text, ~regex, !inverted"),
    ("esc", "clear the pane's filter"),
    (":", "jump: hosts alerts services commits, host NAME, theme NAME, pause SOURCE, q (tab completes)"),
    ("S", "sort by the next column (▲ ▼); again: reverse, then the next"),
    ("space", "mark / unmark the row (●)"),
    ("p", "pause / resume refresh (header: PAUSED)"),
    ("h", "hide / show handled alerts: acknowledged, in downtime (:handled)"),
    ("L", "the log screen for the host under the cursor (:logs QUERY)"),
    ("i", "start an incident (title, task); when one is open: its timeline (:timeline)"),
    ("ctrl+p", "command palette: every view, action and theme"),
    ("a", "actions on the selected / marked rows (Alerts: ack, downtime, recheck; Hosts: downtime, recheck)"),
    ("P", "purge URL(s) from every cache, verified per cache"),
    ("A  D", "acknowledge / downtime the selected alert(s) (Alerts)"),
    ("W", "switch to READ-WRITE (type write; recorded in the audit file); again: back to read-only"),
    ("t", "actions of this session: running and finished"),
    ("?", "this help"),
    ("q", "quit"),
    ("", "— in the incident timeline —"),
    ("n  e  E", "add a note / export the Markdown report / end the incident"),
    ("", "— on the leftovers board (:leftovers) —"),
    ("enter  x", "clean up the row: its action (plan, reason, confirmation); r asks again"),
    ("", "— in a host's detail —"),
    ("esc  q", "back, the cursor where it was"),
    ("tab", "summary / logs (enter: whole line)"),
    ("s", "ssh to the host; the console waits"),
    ("y  c", "copy a link / the host's FQDN"),
)
NOTE = "Read-only until W or --write; every action shows its plan and asks a reason and a confirmation."


# The rebindable keys (ui.keys) by their default, so the help shows the operator's own.
REBINDABLE = {"/": "filter", ":": "jump", "S": "sort", "space": "mark", "p": "pause"}


def key_table(keys: dict[str, str] | None = None) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, meaning in KEYS:
        if keys and key in REBINDABLE:
            key = keys.get(REBINDABLE[key], key)
        table.add_row(safe_text(key, identifier=True), Text(meaning))  # the operator's keys (config): never markup
    return table


class HelpScreen(ModalScreen[None]):
    """Closes with escape, ? or q (q here closes the help rather than quitting)."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, keys: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keys = keys  # ui.keys as configured

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Plain(key_table(self.keys))
            yield Plain(NOTE, id="help-note")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Keys"
        self.query_one("#help").border_subtitle = "esc closes"
