"""The Textual app: owns the store and the poller; panes redraw from the store when it changes."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, TypeGuard

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Input

from console.cli.shell import run_in_terminal
from console.core.clock import Clock, utc_now
from console.core.config_file import ConfigDocument, ConfigError, is_production_environment
from console.core.display import safe, safe_text
from console.core.runtime import ConsoleRuntime
from console.core.state import Poller, Store
from console.derive.jump import completions, parse_jump
from console.ui.action_keys import ACTION_BINDINGS, ActionKeys
from console.ui.panes import PANES, Pane
from console.ui.panes.base import IndexedView, PaneLayout, derive_indexed, lay_out
from console.ui.themes import USER_THEMES, load_themes
from console.ui.widgets import CommandLine, FarmHeader, KeyedTable, PromptBar, StatusBar, TabBar

if TYPE_CHECKING:
    from console.core.config import AppConfig
    from console.sources.base import Source
    from console.ui.actions import ActionDesk
    from console.ui.detail import HostDetailScreen
    from console.ui.incident import IncidentDesk

# Screens opened by a key, the action engine and the clients load on first use, not before the first
# paint (tests/ui/test_lazy_startup.py); these name the screens the app checks for without loading them.
DETAIL, LOGS, HELP = ("console.ui.detail", "HostDetailScreen"), ("console.ui.logs", "LogScreen"), ("console.ui.help", "HelpScreen")

WIDE = 110  # columns from which the four panes fit on screen together
PANE_REFRESH_TICKS = 5  # ages in the panes are redrawn every 5 s even without new data
INCIDENT_AUDIT_TICKS = 10  # an open incident reads the audit file(s) every 10 s
# No wait in the refresh pipeline is unbounded: a pane waits for the paint of the one before it at most
# PAINT_WAIT seconds (one lost paint stopped every later redraw), the views' thread at most DERIVE_WAIT
# (then a fresh thread derives them again). And a watchdog: a pane whose data has been out of date for
# more than BEHIND_INTERVALS of its source's interval is derived again, whatever the redraw on its way
# is waiting for, and the status bar says so.
PAINT_WAIT = 1.0
DERIVE_WAIT = 60.0
BEHIND_INTERVALS = 2


def showing(screen: Screen, where: tuple[str, str]) -> bool:
    """isinstance(screen, module.Class) for where = (module, class), without importing the module:
    while it is not loaded, no screen can be one of its classes."""
    module = sys.modules.get(where[0])
    return module is not None and isinstance(screen, getattr(module, where[1]))


def showing_detail(screen: Screen) -> TypeGuard[HostDetailScreen]:
    return showing(screen, DETAIL)


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


class OpsConsoleApp(ActionKeys, App[None]):
    CSS_PATH = "console.tcss"
    TITLE = "opsconsole"
    ENABLE_COMMAND_PALETTE = True  # ctrl+p: every view and action (get_system_commands)
    paint_wait: float = PAINT_WAIT  # the bounds of the refresh pipeline (see PAINT_WAIT)
    derive_wait: float = DERIVE_WAIT
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding("tab", "cycle_pane(1)", "Next pane", show=False, priority=True),
        # k9s's triage grammar; rebindable by id from `ui.keys` (console.core.config.KeysConfig)
        Binding("/", "filter", "Filter", id="filter"),
        Binding(":", "jump", "Jump", id="jump"),
        Binding("shift+tab", "cycle_pane(-1)", "Prev pane", show=False, priority=True),
        Binding("1", "show_pane(1)", "Pane", key_display="1-4"),
        *(Binding(str(n), f"show_pane({n})", f"Pane {n}", show=False) for n in range(2, len(PANES) + 1)),
        Binding("r", "refresh", "Refresh"),
        Binding("S", "sort", "Sort", show=False, id="sort"),
        Binding("space", "mark", "Mark", show=False, id="mark"),
        Binding("p", "pause", "Pause", show=False, id="pause"),
        Binding("L", "logs", "Logs", show=False),
        Binding("h", "toggle_handled", "Handled", show=False),
        Binding("i", "incident", "Incident", show=False),  # start an incident, or open its timeline  # hide / show acknowledged and downtimed alerts
        Binding("escape", "back", "Back", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        *ACTION_BINDINGS,  # a P A D W t: console/ui/action_keys.py (the engine loads on the first press)
    ]

    def __init__(
        self,
        config: AppConfig | ConfigDocument,
        *,
        sources: list[Source[Any]] | None = None,
        clock: Clock = utc_now,
        identity: str | None = None,
        write: bool = False,
        user_themes: Path | None = USER_THEMES,
    ) -> None:
        super().__init__()
        themes, self.theme_problems = load_themes(user_themes)
        for theme in themes:
            self.register_theme(theme)
        # A ConfigDocument (the console's start) is validated right after the first paint, off the
        # UI loop (_validate_document): until then the app shows the farm and takes no key but q.
        self._document = config if isinstance(config, ConfigDocument) else None
        self.config: AppConfig = None if self._document else config  # type: ignore[assignment]
        self.crash: tuple[Exception, Path | None] | None = None  # what ended the app, and its crash log
        self.config_error: ConfigError | None = None  # the console exits with it (console/cli/run.py prints it)
        self.clock = clock
        self.identity = identity or default_identity()
        farm_name, environment = ((config.farm_name, config.environment) if isinstance(config, ConfigDocument)
                                  else (config.farm.name, config.farm.environment))
        self.title = f"opsconsole {farm_name}"
        self.store = Store(clock=clock)
        # Without given sources the clients (and httpx) are built after the first paint (start_polling).
        self._build_sources = sources is None
        if sources is None:
            self.poller = Poller([], self.store)
        else:  # given sources (tests): their event streams too, as start_polling() does
            from console.sources import event_streams

            self.poller = Poller(sources, self.store, streams=event_streams(sources))
        self.unverified: frozenset[str] = frozenset()
        if self.config is not None:
            self._know_sources(self.config)
        # Held rather than queried: the poller may report while the app tears its screen down.
        self.header = FarmHeader(farm_name, environment, is_production_environment(environment), self.identity, clock)
        self.tab_bar = TabBar()
        self.panes: list[Pane] = [pane() for pane in PANES]
        self.status_bar = StatusBar()
        self.prompt = PromptBar()
        self.paused = False
        self.hide_handled = False  # h: acknowledged / in-downtime alerts left out
        self._write_at_start = write  # read-only unless --write (or W, typed)
        self._actions: ActionDesk | None = None
        self._incident: IncidentDesk | None = None
        self.active_pane = 1
        self._changed: set[str] = set()
        self._stale_panes: set[Pane] = set()  # their views are to be derived again
        self._deriving = False  # a worker is deriving views (console/ui/panes/base.py derive_indexed)
        self._derive_generation = 0  # bumped when the watchdog starts the redraw again: an older worker stops
        # per pane, the sources whose change it has not shown yet and since when (time.monotonic())
        self._out_of_date: dict[Pane, dict[str, float]] = {}
        self._views_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsconsole-views")
        self._ticks = 0
        self.runtime = ConsoleRuntime()  # the collector and the GIL while the console runs (console/core/runtime.py)

    def start_with_theme(self, name: str) -> None:
        """The theme of the first frame, set before the app runs. Setting `theme` would have Textual
        parse every stylesheet a second time right before that frame (~5 ms at start); here the one
        parse at start uses it. Later changes (`:theme`, the palette) set `theme` as usual."""
        self.set_reactive(App.theme, name)
        dark = self.current_theme.dark
        self.update_classes({**{c: False for c in self.classes if c.startswith("-theme-")},
                             f"-theme-{name}": True, "-dark-mode": dark, "-light-mode": not dark}, update=False)
        self._refresh_truecolor_filter(self.ansi_theme)
        self.stylesheet.set_variables(self.get_css_variables())  # made in App.__init__ with the default theme's

    @property
    def actions(self) -> ActionDesk:
        """The action desk (console/ui/actions.py): built, with the engine behind it, on first use."""
        if self._actions is None:
            from console.ui.actions import ActionDesk

            self._actions = ActionDesk(self, write=self._write_at_start)
        return self._actions

    @property
    def incident(self) -> IncidentDesk:
        """Incident mode (i, :timeline; console/ui/incident.py): loaded with the config, after the first paint."""
        if self._incident is None:
            from console.ui.incident import IncidentDesk

            self._incident = IncidentDesk(self)
        return self._incident

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.tab_bar
        with Container(id="panes"):
            yield from self.panes
        yield self.prompt
        yield self.status_bar
        yield Footer()

    def pane(self, number: int) -> Pane:
        return next(p for p in self.panes if p.number == number)

    # --- life cycle ----------------------------------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast is plain, display-safe text, whatever the caller asks: its message and title often
        name a host or carry a backend's error, which must never be parsed as markup or reach the terminal."""
        super().notify(safe(message, multiline=True), title=safe(title), severity=severity, timeout=timeout, markup=False)

    # --- a crash: a log, never a traceback with its locals on the terminal ------------------------

    def _handle_exception(self, error: Exception) -> None:
        """Textual's hook for an exception nothing handled: the app ends (exit 1, console/cli/run.py
        prints `crash`) after the crash log is written (console/core/crash.py)."""
        from console.core.crash import write_crash_log

        try:
            path: Path | None = write_crash_log(error, self.secrets())
        except OSError:
            path = None
        self.crash = (error, path)
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        """Textual's would print the traceback with every frame's locals (secrets among them): the crash
        log holds the traceback instead."""
        self.bell()
        self._close_messages_no_wait()

    def secrets(self) -> list[str]:
        if self.config is None:
            return []
        from console.core.config import secret_values

        return secret_values(self.config)

    def on_mount(self) -> None:
        for problem in self.theme_problems:  # a broken theme file: said, skipped, never a traceback
            self.notify(str(problem), title="Theme skipped", severity="warning", timeout=10)
        self.store.subscribe(self._store_changed)
        self.action_show_pane(1)
        if self._document is None:
            self._configured()
        else:
            self.call_after_refresh(lambda: self.run_worker(self._validate_document(), group="config"))
        self.runtime.apply()

    async def _validate_document(self) -> None:
        """The config's models (pydantic) load and validate in a thread after the first paint; a
        broken config ends the console, and the cli prints every problem (exit 2)."""

        document = self._document
        assert document is not None  # on_mount() validates only a ConfigDocument

        def validate() -> AppConfig:
            from console.core.config import validate_document

            return validate_document(document)

        try:
            config = await asyncio.to_thread(validate)
        except ConfigError as exc:
            self.config_error = exc
            self.exit(return_code=2)
            return
        self.config, self._document = config, None
        self._know_sources(config)
        self._configured()

    def _know_sources(self, config: AppConfig) -> None:
        if self._build_sources:  # until the clients are built the panes and the status bar know what is configured
            for kind, item in config.sources.all():
                self.store.register(item.name, kind, item.interval)
        # `verify: false` is allowed per source and never silent: the status bar warns for each.
        self.unverified = frozenset(item.name for _, item in config.sources.all() if item.verify is False)

    def _configured(self) -> None:
        """What needs the validated config once the app runs: keys, the panes, the polling, incident mode."""
        self.set_keymap(self.config.ui.keys.model_dump())
        self.refresh_panes()
        self.call_after_refresh(self.start_polling)  # the first paint does not wait for the first fetch
        if self._write_at_start:  # --write: switched (and audited) now; the header says READ-ONLY until then
            self.actions.start()
        self.incident.load()
        self.set_interval(1.0, self._tick)
        self.call_after_refresh(self._check_unfinished)  # it loads the audit code: after the first paint too

    def _check_unfinished(self) -> None:
        from console.ui.unfinished import warn_unfinished  # an action killed mid-run: say so once

        self.run_worker(warn_unfinished(self), group="unfinished", exit_on_error=False)

    def start_polling(self) -> None:
        if self._build_sources:
            from console.sources import build_sources, event_streams

            self._build_sources = False
            sources = build_sources(self.config, self.clock)
            poller = Poller(sources, self.store, streams=event_streams(sources))
            poller.paused = self.poller.paused  # p pressed before this; per-source pauses live in the store
            self.poller = poller
            self._show_status(self.clock())
        self.poller.start()

    async def on_unmount(self) -> None:
        await self.poller.stop()
        if self._actions is not None:
            await self._actions.aclose()
        self._views_worker.shutdown(wait=False, cancel_futures=True)
        self.runtime.restore()

    def _store_changed(self, name: str) -> None:
        self._changed.add(name)
        kind, now = self.store.get(name).kind, time.monotonic()
        for pane in self.panes:
            if kind in pane.kinds:
                self._out_of_date.setdefault(pane, {}).setdefault(name, now)
        self.post_message(StoreChanged())

    @property
    def redraw_pending(self) -> bool:
        """A source changed and the panes have not been redrawn for it yet (tests wait on this)."""
        return bool(self._changed or self._stale_panes or self._deriving)

    def on_store_changed(self, _: StoreChanged) -> None:
        kinds = {self.store.get(name).kind for name in self._changed}
        self._changed.clear()
        self.refresh_panes(kinds)
        self._refresh_detail()
        self.incident.observe()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.runtime.key_pressed()
        await super().on_event(event)

    def _tick(self) -> None:
        self._ticks += 1
        self.runtime.collect_if_quiet(drawing=self.redraw_pending, fetching=bool(self.poller.fetching))
        self.header.tick()
        self._catch_up()
        if self._ticks % INCIDENT_AUDIT_TICKS == 0:
            self.incident.refresh_actions()  # other operators' actions, from the shared audit
        if self._ticks % PANE_REFRESH_TICKS == 0:
            self.refresh_panes()
            self._refresh_detail()
        else:
            self._show_status(self.clock())

    def _refresh_detail(self) -> None:
        for screen in self.screen_stack:
            if showing_detail(screen) and screen.is_mounted:
                screen.show_store()

    def refresh_panes(self, kinds: set[str] | None = None) -> None:
        """Redraw the panes fed by `kinds` (all when None), the tab bar and the status bar. The views
        are derived in a worker thread, one batch at a time: changes that come meanwhile make one more
        batch, never a second thread (at 20,000 alerts a view takes a few hundred ms)."""
        self._stale_panes.update(pane for pane in self.panes if kinds is None or pane.kinds & kinds)
        if not self._deriving and self.config is not None:
            self._deriving = True
            # a function: no coroutine left unawaited if the app stops first (Textual's WorkType infers Never
            # for an async method: Textualize/textual#6386)
            self.run_worker(self._derive_stale_panes, group="views")  # type: ignore[arg-type]

    async def _derive_stale_panes(self) -> None:
        generation = self._derive_generation
        try:
            while self._stale_panes and generation == self._derive_generation:
                panes = [pane for pane in self.panes if pane in self._stale_panes]
                self._stale_panes.clear()
                started = time.monotonic()  # what the store held by now is in the views derived below
                now = self.clock()
                jobs = [(pane.derive, pane.state, pane.hide_handled) for pane in panes]
                store, config = self.store, self.config

                def derive_and_lay_out(jobs=jobs, store=store, config=config, now=now) -> list[tuple[IndexedView, PaneLayout]]:
                    out = []
                    for derive, state, hide_handled in jobs:
                        indexed = derive_indexed(derive, store, config, now)
                        out.append((indexed, lay_out(indexed.view, indexed.index, state, hide_handled)))
                    return out

                try:
                    async with asyncio.timeout(self.derive_wait):
                        shown = await asyncio.get_running_loop().run_in_executor(self._views_worker, derive_and_lay_out)
                except TimeoutError:  # the thread is stuck: these panes again, on a fresh thread
                    self._stale_panes.update(panes)
                    self._fresh_views_worker()
                    continue
                for number, (pane, (indexed, layout)) in enumerate(zip(panes, shown, strict=False)):
                    if number:  # one pane repainted per frame: at 5,000 guests all four take ~65 ms to paint
                        await self._painted()
                    pane.show(indexed, layout)
                    self._shown(pane, started)
                self._show_tabs()
                self._show_status(now)
        finally:
            if generation == self._derive_generation:  # else the watchdog has started the redraw again
                self._deriving = False

    def _fresh_views_worker(self) -> None:
        stuck, self._views_worker = self._views_worker, ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsconsole-views")
        stuck.shutdown(wait=False, cancel_futures=True)

    async def _painted(self) -> None:
        """Until the screen has been updated with what was shown so far, or `paint_wait` seconds have
        passed: a paint that never comes costs a second, never the redraws after it."""
        painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def paint_done() -> None:
            if not painted.done():
                painted.set_result(None)

        self.call_after_refresh(paint_done)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.paint_wait):
                await painted

    def _shown(self, pane: Pane, started: float) -> None:
        """`pane` shows what the store held at `started`: the changes up to then are on screen."""
        marks = self._out_of_date.get(pane)
        if marks:
            self._out_of_date[pane] = {name: since for name, since in marks.items() if since > started}

    def _panes_behind(self, now: float) -> list[Pane]:
        """The panes whose data has been out of date for more than BEHIND_INTERVALS of a source's interval."""
        return [pane for pane in self.panes
                if any(now - since > BEHIND_INTERVALS * self.store.get(name).interval
                       for name, since in self._out_of_date.get(pane, {}).items())]

    def _catch_up(self) -> None:
        """The watchdog (every second): a pane behind is derived again, even over a redraw stuck on its
        way (that worker is cancelled, a new one starts), and the status bar says so."""
        now = time.monotonic()
        behind = self._panes_behind(now)
        if not behind:
            return
        for pane in behind:  # another two intervals before it counts as behind again
            self._out_of_date[pane] = dict.fromkeys(self._out_of_date[pane], now)
        if self._deriving:
            self._derive_generation += 1
            self._deriving = False
            self.workers.cancel_group(self, "views")
        self._stale_panes.update(behind)
        self.refresh_panes(set())
        titles = ", ".join(pane.title for pane in behind)
        self.status_bar.note(f"▲ {titles} {'was' if len(behind) == 1 else 'were'} behind; redrawn")

    def _show_status(self, now: datetime) -> None:
        from console.derive.status_bar import github_quota, status_items

        self.status_bar.show(status_items(self.store, now, self.unverified), github_quota(self.store))

    def _show_tabs(self) -> None:
        tabs = [(pane.number, pane.title, pane.badge) for pane in self.panes]
        self.tab_bar.show(tabs, self.active_pane)

    # --- keys ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.config is None:  # the config is being validated (a fraction of a second): only q
            return action == "quit"
        # tab cycles the panes only where the panes are; elsewhere it moves the focus as usual
        if action == "cycle_pane":
            return self.screen is self.screen_stack[0] and not self.prompt.is_open
        if action in ("filter", "jump", "sort", "mark", "back", "logs", "toggle_handled", "incident"):  # the panes' grammar: on the panes only
            return self.screen is self.screen_stack[0] and not self.prompt.is_open
        return True

    def action_show_pane(self, number: int) -> None:
        """Show pane `number` (the only one on a narrow screen) and put the keyboard in its table."""
        while showing(self.screen, DETAIL) or showing(self.screen, LOGS):
            self.pop_screen()
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
        from console.ui.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.config.ui.keys.model_dump()))

    # --- triage: filter, jump, sort, mark, pause -----------------------------------------------

    @property
    def focused_pane(self) -> Pane:
        return self.pane(self.active_pane)

    def action_filter(self) -> None:
        self.prompt.open("filter", self.focused_pane.filter_text)

    def action_jump(self) -> None:
        self.prompt.open("jump", "", completions(self.known_hosts(), self.available_themes, self.poller.sources))

    def known_hosts(self) -> list[str]:
        from console.core.clusters import row_host

        view = self.pane(1).view
        return list(dict.fromkeys(row_host(row.key) for row in view.rows)) if view else []

    def on_input_changed(self, event: Input.Changed) -> None:
        # The filter follows the typing (k9s); a regex still being typed says so in the title.
        if isinstance(event.input, CommandLine) and event.input.mode == "filter":
            self.prompt.set_error(self.focused_pane.set_filter(event.value))

    def on_command_line_done(self, message: CommandLine.Done) -> None:
        # The keyboard goes back to the pane the prompt was opened on, unless a jump moves it on
        # (focusing the old pane too would bring it back: its Focused message comes later).
        if message.mode == "filter":
            self.focused_pane.table.focus()
            if not message.submitted:
                self.focused_pane.set_filter("")
            elif error := self.focused_pane.set_filter(message.value):
                self.notify(error, severity="warning")
        elif message.submitted and parse_jump(message.value).what == "pane":
            self.run_jump(message.value)
        else:
            self.focused_pane.table.focus()
            if message.submitted:
                self.run_jump(message.value)

    def run_jump(self, text: str) -> None:
        """Run a `:` command (console.derive.jump): a pane, a host's detail, a theme, quit; else say why not."""
        jump = parse_jump(text, self.available_themes, self.poller.sources)
        if jump.what == "pane":
            self.action_show_pane(int(jump.arg or 1))
        elif jump.what == "host":
            self.open_host(str(jump.arg))
        elif jump.what == "theme":
            self.theme = str(jump.arg)
            self.notify(f"theme {jump.arg}", timeout=2)
        elif jump.what == "handled":
            self.action_toggle_handled()
        elif jump.what == "backends":
            self.open_backends()
        elif jump.what == "leftovers":
            self.open_leftovers()
        elif jump.what == "timeline":
            self.open_timeline()
        elif jump.what == "logs":
            self.open_logs(str(jump.arg or "*"))
        elif jump.what == "pause":
            self.toggle_source_pause(str(jump.arg))
        elif jump.what == "quit":
            self.exit()
        else:
            self.notify(str(jump.arg), title="Jump", severity="warning")

    async def action_back(self) -> None:  # async as App's (Textual awaits an action either way)
        """esc on the panes: clear the focused pane's filter."""
        if self.focused_pane.filter_text:
            self.focused_pane.set_filter("")

    def action_sort(self) -> None:
        self.focused_pane.cycle_sort()

    def action_mark(self) -> None:
        self.focused_pane.toggle_mark()

    def action_toggle_handled(self) -> None:
        """Hide (or show again) the acknowledged and in-downtime rows; the pane's subtitle counts them."""
        self.hide_handled = not self.hide_handled
        for pane in self.panes:
            pane.set_hide_handled(self.hide_handled)
        self.notify("handled alerts hidden (h shows them)" if self.hide_handled else "handled alerts shown", timeout=2)

    def action_pause(self) -> None:
        """Hold (or resume) every source's refresh; the header says PAUSED meanwhile."""
        self.paused = not self.paused
        if self.paused:
            self.poller.pause()
        else:
            self.poller.resume()
        self.header.set_paused(self.paused)
        self.notify("refresh paused (p resumes)" if self.paused else "refresh resumed", timeout=2)

    def toggle_source_pause(self, name: str) -> None:
        """Hold (or resume) one source; the status bar marks it paused meanwhile."""
        if self.store.get(name).paused:
            self.poller.resume(name)
        else:
            self.poller.pause(name)
        paused = self.store.get(name).paused
        self._show_status(self.clock())
        self.notify(f"{name}: refresh {'paused (:pause ' + name + ' resumes)' if paused else 'resumed'}", timeout=2)

    def action_incident(self) -> None:
        """i: start an incident (title, task) when none is open; else show its timeline."""
        if self.incident.incident is not None:
            self.open_timeline()
            return

        def started(answer: tuple[str, str | None] | None) -> None:
            if answer is None:
                return
            try:
                incident = self.incident.start(*answer)
            except ValueError as exc:
                self.notify(str(exc), title="Incident not started", severity="error")
                return
            self.notify(f"incident started: {incident.title} - the timeline collects itself (:timeline)",
                        title="Incident", timeout=6)

        from console.ui.incident import StartIncidentScreen

        self.push_screen(StartIncidentScreen(), started)

    def open_timeline(self) -> None:
        from console.ui.incident import TimelineScreen

        if not isinstance(self.screen, TimelineScreen):
            self.push_screen(TimelineScreen(self.incident))

    def open_leftovers(self) -> None:
        """The leftovers board (console/ui/leftovers.py): asked once on open and on r."""
        from console.ui.leftovers import LeftoversScreen

        if not isinstance(self.screen, LeftoversScreen):
            self.push_screen(LeftoversScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): every view and action, then Textual's own (themes, keys)."""
        for pane in self.panes:
            yield SystemCommand(f"Show {pane.title}", f"pane {pane.number} (:{pane.title.lower()})", partial(self.action_show_pane, pane.number))
        yield SystemCommand("Filter the pane", "/ — text, ~regex, !inverted", self.action_filter)
        yield SystemCommand("Jump", ": — hosts, alerts, services, commits, host NAME, theme NAME", self.action_jump)
        yield SystemCommand("Sort by the next column", "S", self.action_sort)
        yield SystemCommand("Pause / resume refresh", "p", self.action_pause)
        yield SystemCommand("Hide / show handled alerts", "h (:handled)", self.action_toggle_handled)
        yield SystemCommand("Incident: start one, or show its timeline", "i (:timeline)", self.action_incident)
        yield SystemCommand("Leftovers: downtimes, acks, Puppet off, depooled, locks", ":leftovers", self.open_leftovers)
        yield SystemCommand("Refresh every source now", "r", self.action_refresh)
        yield SystemCommand("Help: the keys", "?", self.action_help)
        for name in sorted(self.available_themes):
            yield SystemCommand(f"Theme: {name}", f":theme {name}", partial(setattr, self, "theme", name))
        yield from super().get_system_commands(screen)

    # --- the host detail -----------------------------------------------------------------------

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """enter on a row: Hosts and Alerts open the row's host, Services its worst problem host (or a
        picker of its hosts). A commit names no host, so enter in Commits does nothing."""
        from console.core.clusters import row_host
        from console.derive.alerts import alerts_by_key

        pane = next((p for p in self.panes if p.table is event.table), None)
        key = event.row_key
        if pane is None or key is None:
            return
        if pane.number == 1:
            self.open_host(row_host(key))  # "guest:mw152", "node:cloud15", "guest:mw1@pve-b"
        elif pane.number == 2:
            alert = alerts_by_key(self.store, self.config.farm.domains).get(key)  # Icinga's host name, or the event's
            self.open_host(alert.host if alert else key.split("!", 1)[0])
        elif pane.number == 3:
            self.open_service(key)

    def action_logs(self) -> None:
        """L: the log screen, on the host under the cursor (Hosts, Alerts), else on every line."""
        from console.core.clusters import row_host
        from console.core.hosts import HostDirectory
        from console.derive.alerts import alerts_by_key
        from console.derive.logtail import host_log_query

        pane, key = self.focused_pane, self.focused_pane.table.cursor_key
        host = None
        if key and pane.number == 1:
            host = row_host(key)
        elif key and pane.number == 2:
            alert = alerts_by_key(self.store, self.config.farm.domains).get(key)
            host = alert.host if alert else key.split("!", 1)[0]
        if host:
            identity = HostDirectory.from_store(self.store, self.config).resolve(host)
            self.open_logs(host_log_query(identity.log_sources or (host,)))
        else:
            self.open_logs("*")

    def open_logs(self, query: str) -> None:
        from console.ui.logs import LogScreen

        self.push_screen(LogScreen(query))

    def open_host(self, name: str | None) -> None:
        """Show the detail of the host any system calls `name`."""
        from console.ui.detail import HostDetailScreen

        if name and not isinstance(self.screen, HostDetailScreen):
            self.push_screen(HostDetailScreen(name))

    def open_service(self, service: str) -> None:
        """One problem host: its detail; else a picker of the service's hosts, the worst first."""
        from console.core.model import CheckState
        from console.derive.cells import STATE_STYLE, STATE_SYMBOL
        from console.derive.services_pane import service_hosts

        hosts = service_hosts(self.store, self.config, service)
        problems = [host for host, state in hosts if state != CheckState.OK]
        if not hosts:
            self.notify(f"{service}: no host has its checks (yet)", severity="warning")
        elif len(problems) == 1:
            self.open_host(problems[0])
        else:
            from console.ui.detail import Picker

            options = [(host, Text(f"{STATE_SYMBOL[state]} {state.name:<8} ", style=STATE_STYLE[state])
                            + safe_text(host, identifier=True, style=STATE_STYLE[state])) for host, state in hosts]
            self.push_screen(Picker(f"{service}: which host?", options), self.open_host)

    def run_outside(self, argv: list[str]) -> None:
        """Hand the terminal to `argv` (ssh) and take it back when it exits, on the same screen."""
        try:
            with self.suspend():
                code = run_in_terminal(argv)
        except SuspendNotSupported:
            self.notify("this terminal cannot be handed over (no suspend here)", severity="error")
            return
        if code != 0:
            self.notify(f"{' '.join(argv)} exited with status {code}", severity="warning")
