"""Backend health per cache (`:backends`): cache × backend, healthy, sick or DEPOOLED, read on open and on r."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable

from console.actions import Refused
from console.core.display import safe_text
from console.ui.screens.keys import HelpKeys
from console.ui.widgets.plain import Plain

HEALTH_STYLE = {"healthy": "green", "sick": "bold red", "DEPOOLED": "bold yellow", "error": "bold red", "?": "dim"}


class BackendsScreen(HelpKeys, ModalScreen[None]):
    """Backend health per cache (the depool service or varnishadm), read on open and again with r."""

    DEFAULT_CSS = """
    BackendsScreen { align: center middle; }
    #backends { width: 96%; max-width: 120; height: auto; max-height: 90%; border: round $accent;
                background: $surface; padding: 0 1; }
    #backends DataTable { height: auto; max-height: 30; }
    #backends-note { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("r", "reload", "Refresh"),
        Binding("question_mark", "help", "Help", show=False),
    ]
    HELP_TITLE = "Keys: backends per cache"
    HELP_NOTES = ("DEPOOLED: set sick by an operator; sick: the cache's own probe fails.",)

    def __init__(self, app_config: Any, session: Any, commands: Any = None) -> None:
        super().__init__()
        self.app_config = app_config
        self.session = session
        self.commands = commands
        self.table: DataTable[str | Text] = DataTable(id="backends-table", cursor_type="row", zebra_stripes=True)
        self.loading = False

    def compose(self) -> ComposeResult:
        with Vertical(id="backends"):
            yield self.table
            yield Plain("loading…", id="backends-note")

    def on_mount(self) -> None:
        box = self.query_one("#backends")
        box.border_title = "Backends per cache"
        box.border_subtitle = "r refreshes · esc closes"
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        if self.loading:
            return
        self.loading = True
        self.query_one("#backends-note", Plain).update("loading…")
        self.run_worker(self._load(), group="backends", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        from console.actions.depool import read_backend_health

        try:
            table = await read_backend_health(self.app_config, self.session, self.commands)
        except Refused as exc:
            self.show_error(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not take the console down with it
            self.show_error(f"cannot read the backends: {type(exc).__name__}: {exc}")
            return
        finally:
            self.loading = False
        self.show(table)

    def show_error(self, message: str) -> None:
        if self.is_attached:
            self.query_one("#backends-note", Plain).update(safe_text(message, multiline=True, style="bold red"))

    def show(self, backends: Any) -> None:
        if not self.is_attached:
            return
        table = self.table
        table.clear(columns=True)
        # names come from the caches (a str label or cell would be markup): display-safe Texts, keys exact
        table.add_columns(Text("backend"), *(safe_text(cache, identifier=True) for cache in backends.caches))
        for row in backends.rows():
            name, *cells = row
            table.add_row(safe_text(name, identifier=True),
                          *(safe_text(cell, style=HEALTH_STYLE.get(cell, "")) for cell in cells), key=name)
        depooled = backends.depooled()
        summary = Text(f"{len(backends.backends)} backends on {len(backends.caches)} caches")
        if depooled:
            summary.append("; depooled: ")
            summary.append_text(Text(", ").join(Text.assemble(safe_text(b, identifier=True), f" ({len(c)})")
                                                for b, c in depooled.items()))
        lines = [summary]
        lines += [Text.assemble(safe_text(cache, identifier=True), ": ", safe_text(error, multiline=True), style="bold red")
                  for cache, error in backends.errors.items()]
        self.query_one("#backends-note", Plain).update(Text("\n").join(lines))
