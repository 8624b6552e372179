"""The Textual app: owns the store and the poller; panes redraw from the store when it changes."""

from __future__ import annotations

import getpass
import os
import socket
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.widgets import Footer

from console.clock import Clock, utc_now
from console.config import AppConfig, is_production
from console.sources.base import Source
from console.state import Poller, Store
from console.ui.help import HelpScreen
from console.ui.panes import PANES, Pane
from console.ui.widgets import FarmHeader, StatusBar, TabBar
from console.views import status_items

WIDE = 110  # columns from which the four panes fit on screen together
PANE_REFRESH_TICKS = 5  # ages in the panes are redrawn every 5 s even without new data


def default_identity() -> str:
    """user@host as the team log writes it; behind sudo, the person rather than root."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname().split('.')[0]}"


class StoreChanged(Message):
    """A source put a result in the store. Consecutive ones merge; the app keeps which sources changed."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class OpsConsoleApp(App[None]):
    CSS_PATH = "console.tcss"
    TITLE = "opsconsole"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding("tab", "cycle_pane(1)", "Next pane", priority=True),
        Binding("shift+tab", "cycle_pane(-1)", "Prev pane", show=False, priority=True),
        Binding("1", "show_pane(1)", "Pane", key_display="1-4"),
        *(Binding(str(n), f"show_pane({n})", f"Pane {n}", show=False) for n in range(2, len(PANES) + 1)),
        Binding("r", "refresh", "Refresh"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        config: AppConfig,
        *,
        sources: list[Source[Any]] | None = None,
        clock: Clock = utc_now,
        identity: str | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.clock = clock
        self.identity = identity or default_identity()
        self.title = f"opsconsole {config.farm.name}"
        if sources is None:
            from console.sources import build_sources  # the clients load only when the console runs

            sources = build_sources(config, clock)
        self.store = Store(clock=clock)
        self.poller = Poller(sources, self.store)
        farm = config.farm
        # Held rather than queried: the poller may report while the app tears its screen down.
        self.header = FarmHeader(farm.name, farm.environment, is_production(config), self.identity, clock)
        self.tab_bar = TabBar()
        self.panes: list[Pane] = [pane() for pane in PANES]
        self.status_bar = StatusBar()
        self.active_pane = 1
        self._changed: set[str] = set()
        self._ticks = 0

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.tab_bar
        with Container(id="panes"):
            yield from self.panes
        yield self.status_bar
        yield Footer()

    def pane(self, number: int) -> Pane:
        return next(p for p in self.panes if p.number == number)

    # --- life cycle ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.store.subscribe(self._store_changed)
        self.refresh_panes()
        self.action_show_pane(1)
        self.poller.start()
        self.set_interval(1.0, self._tick)

    async def on_unmount(self) -> None:
        await self.poller.stop()

    def _store_changed(self, name: str) -> None:
        self._changed.add(name)
        self.post_message(StoreChanged())

    def on_store_changed(self, _: StoreChanged) -> None:
        kinds = {self.store.get(name).kind for name in self._changed}
        self._changed.clear()
        self.refresh_panes(kinds)

    def _tick(self) -> None:
        self._ticks += 1
        self.header.tick()
        if self._ticks % PANE_REFRESH_TICKS == 0:
            self.refresh_panes()
        else:
            self.status_bar.show(status_items(self.store, self.clock()))

    def refresh_panes(self, kinds: set[str] | None = None) -> None:
        """Redraw the panes fed by `kinds` (all when None), the tab bar and the status bar."""
        now = self.clock()
        with self.batch_update():
            for pane in self.panes:
                if kinds is None or pane.kinds & kinds:
                    pane.show(pane.derive(self.store, self.config, now))
            self._show_tabs()
            self.status_bar.show(status_items(self.store, now))

    def _show_tabs(self) -> None:
        tabs = [(pane.number, pane.title, pane.badge) for pane in self.panes]
        self.tab_bar.show(tabs, self.active_pane)

    # --- keys ----------------------------------------------------------------------------------

    def action_show_pane(self, number: int) -> None:
        """Show pane `number` (the only one on a narrow screen) and put the keyboard in its table."""
        self.active_pane = number
        for pane in self.panes:
            pane.set_class(pane.number == number, "-active")
        self.pane(number).table.focus()
        self._show_tabs()

    def action_cycle_pane(self, step: int) -> None:
        self.action_show_pane((self.active_pane - 1 + step) % len(PANES) + 1)

    def on_pane_focused(self, message: Pane.Focused) -> None:
        # A click into a pane of the wide layout makes it the active one.
        if message.number != self.active_pane:
            self.action_show_pane(message.number)

    def action_refresh(self) -> None:
        self.poller.refresh_now()
        self.notify("Refreshing every source…", timeout=2)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
