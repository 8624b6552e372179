"""The Textual app: the console's life cycle. It owns the store, the poller and the panes' widgets,
validates the config after the first paint, keeps the panes fed (derived in a worker, one repaint per
frame, a watchdog for a pane left behind), and hears the desks' messages (an action ended, the
incident changed). Every key is a screen's: the panes' in console/ui/screens/panes.py (PanesScreen,
the first screen), the others in their own screens; the app binds only 1-4 and ? (answered by the
screen on top) and q."""

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

from textual import events
from textual.app import App, SuspendNotSupported, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen

from console.cli.shell import run_in_terminal
from console.core.clock import Clock, utc_now
from console.core.config_file import ConfigDocument, ConfigError, is_production_environment
from console.core.display import safe
from console.core.runtime import ConsoleRuntime
from console.core.state import Poller, Store
from console.ui.panes import PANES, Pane
from console.ui.panes.base import IndexedView, PaneLayout, derive_indexed, lay_out
from console.ui.screens.panes import PanesScreen
from console.ui.themes import USER_THEMES, load_themes
from console.ui.widgets import FarmHeader, PromptBar, StatusBar, TabBar

if TYPE_CHECKING:
    from console.core.config import AppConfig
    from console.sources.base import Source
    from console.ui.desk import ActionDesk, ActionFinished
    from console.ui.incident import IncidentChanged, IncidentDesk
    from console.ui.screens.detail import HostDetailScreen

# Screens opened by a key, the action engine and the clients load on first use, not before the first
# paint (tests/ui/test_lazy_startup.py); these name the screens the app checks for without loading them.
DETAIL, LOGS = ("console.ui.screens.detail", "HostDetailScreen"), ("console.ui.screens.logs", "LogScreen")

WIDE = 110  # columns from which the four panes fit on screen together
PANE_REFRESH_TICKS = 10  # ages in the panes are redrawn every 10 s even without new data
INCIDENT_AUDIT_TICKS = 10  # an open incident reads the audit file(s) every 10 s
# No wait in the refresh pipeline is unbounded: a pane waits for the paint of the one before it at most
# PAINT_WAIT seconds (one lost paint stopped every later redraw), the views' thread at most DERIVE_WAIT
# (then a fresh thread derives them again). And a watchdog: a pane whose data has been out of date for
# more than BEHIND_INTERVALS of its source's interval is derived again, whatever the redraw on its way
# is waiting for, and the status bar says so.
PAINT_WAIT = 1.0
FRAME_SECONDS = 1 / 60  # a pane that took longer to show than a frame: the next one waits for the paint
DERIVE_WAIT = 60.0
BEHIND_INTERVALS = 2
TICK_SECONDS = 1.0  # the clock's tick: new data waits for it to be shown (on_store_changed), not behind yet


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


class OpsConsoleApp(App[None]):
    CSS_PATH = "console.tcss"
    TITLE = "opsconsole"
    ENABLE_COMMAND_PALETTE = True  # ctrl+p: every view and action (get_system_commands)
    paint_wait: float = PAINT_WAIT  # the bounds of the refresh pipeline (see PAINT_WAIT)
    frame_seconds: float = FRAME_SECONDS
    derive_wait: float = DERIVE_WAIT
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    # The keys of every full screen, answered by the screen on top (`screen.`): on the panes by
    # PanesScreen (console/ui/screens/panes.py, with every other key of theirs); over them (detail,
    # logs, timeline) by console/ui/screens/keys.py: back to a pane, refresh, pause, that screen's help.
    BINDINGS = [
        Binding("1", "screen.show_pane(1)", "Pane", key_display="1-4"),
        *(Binding(str(n), f"screen.show_pane({n})", "Pane", show=False) for n in range(2, len(PANES) + 1)),
        Binding("r", "screen.refresh", "Refresh"),
        Binding("p", "screen.pause", "Pause / resume refresh", show=False, id="pause"),
        Binding("question_mark", "screen.help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
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
        self._answered: set[str] = set()  # the sources whose answers have been shown
        self._stale_panes: set[Pane] = set()  # their views are to be derived again
        self._deriving = False  # a worker is deriving views (console/ui/panes/base.py derive_indexed)
        self._clock_after_derive = False  # the tick started a redraw: the clock moves when it is shown
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
        """The action desk (console/ui/desk.py): built, with the engine behind it, on first use."""
        if self._actions is None:
            from console.ui.desk import ActionDesk

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

    def get_default_screen(self) -> Screen[Any]:
        """The panes: the first screen, under every other."""
        return PanesScreen(self)

    @property
    def panes_screen(self) -> PanesScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, PanesScreen)
        return screen

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
        self.panes_screen.action_show_pane(1)
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
            problem = self.actions.start()
            if problem:
                self.notify(problem, severity="error", timeout=10)
        self.incident.load()
        self.set_interval(TICK_SECONDS, self._tick)
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
            self.show_status()
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
        """New data: the panes it feeds are redrawn at the next tick of the clock, in the same frame as
        the clock (an idle console then paints once a second, not once per answer), except a source's
        first answer, shown at once (the panes fill as fast as the sources answer)."""
        kinds = {self.store.get(name).kind for name in self._changed}
        first = not self._changed <= self._answered  # a source's first answer: the panes fill at once
        self._answered |= self._changed
        self._changed.clear()
        self.refresh_panes(kinds, at_once=first)
        self._refresh_detail()
        self.incident.observe()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.runtime.key_pressed()
        await super().on_event(event)

    def _tick(self) -> None:
        self._ticks += 1
        self.runtime.collect_if_quiet(drawing=self.redraw_pending, fetching=bool(self.poller.fetching))
        self._catch_up()
        if self._ticks % INCIDENT_AUDIT_TICKS == 0:
            self.incident.refresh_actions()  # other operators' actions, from the shared audit
        if self._ticks % PANE_REFRESH_TICKS == 0:  # ages in the panes; a source's data turning late
            self._stale_panes.update(self.panes)
            self._refresh_detail()
        if self._stale_panes and not self._deriving and self.config is not None:
            self._clock_after_derive = True  # the clock moves with the panes: one frame for both
            self.refresh_panes(set())
        else:
            self.header.tick()

    def _refresh_detail(self) -> None:
        for screen in self.screen_stack:
            if showing_detail(screen) and screen.is_mounted:
                screen.show_store()

    def refresh_panes(self, kinds: set[str] | None = None, at_once: bool = True) -> None:
        """Redraw the panes fed by `kinds` (all when None), the tab bar and the status bar. The views
        are derived in a worker thread, one batch at a time: changes that come meanwhile make one more
        batch, never a second thread (at 20,000 alerts a view takes a few hundred ms)."""
        self._stale_panes.update(pane for pane in self.panes if kinds is None or pane.kinds & kinds)
        if at_once and not self._deriving and self.config is not None:
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
                took = 0.0
                for pane, (indexed, layout) in zip(panes, shown, strict=False):
                    if took > self.frame_seconds:  # a big pane's repaint (5,000 guests) gets a frame of its own
                        await self._painted()
                    shown_at = time.monotonic()
                    pane.show(indexed, layout)
                    took = time.monotonic() - shown_at
                    self._shown(pane, started)
                self.show_tabs()
                self.show_status(now)
        finally:
            if generation == self._derive_generation:  # else the watchdog has started the redraw again
                self._deriving = False
            if self._clock_after_derive:
                self._clock_after_derive = False
                self.header.tick()

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
                if any(now - since > BEHIND_INTERVALS * self.store.get(name).interval + TICK_SECONDS
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

    def show_status(self, now: datetime | None = None) -> None:
        from console.derive.status_bar import github_quota, status_items

        self.status_bar.show(status_items(self.store, now or self.clock(), self.unverified), github_quota(self.store))

    def show_tabs(self) -> None:
        tabs = [(pane.number, pane.title, pane.badge) for pane in self.panes]
        self.tab_bar.show(tabs, self.active_pane)

    # --- what the desks say --------------------------------------------------------------------

    def on_action_finished(self, message: ActionFinished) -> None:
        """An action of this session ended: a toast, a refresh of what it changed, the incident's timeline."""
        from console.ui.desk import TOAST_SEVERITY, toast_text

        if message.result is not None:
            result = message.result
            self.notify(toast_text(result), severity=TOAST_SEVERITY.get(result.outcome, "information"), timeout=8)
        else:
            self.notify(message.error, severity="error", timeout=10)
        self.actions.refresh_changed(message.plan.steps)  # an acknowledged alert dims, a started guest runs, at once
        self.incident.refresh_actions()  # an open incident's timeline gets the action at once

    def on_incident_changed(self, message: IncidentChanged) -> None:
        from console.ui.incident import badge_text
        from console.ui.screens.timeline import TimelineScreen

        self.header.set_incident(badge_text(message.incident, self.clock()))
        for screen in self.screen_stack:
            if isinstance(screen, TimelineScreen) and screen.is_mounted:
                screen.show(message.incident)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p): every view and action of the panes, then Textual's own (themes, keys)."""
        if self.config is not None:
            yield from self.panes_screen.palette()
        for name in sorted(self.available_themes):
            yield SystemCommand(f"Theme: {name}", f":theme {name}", partial(setattr, self, "theme", name))
        yield from super().get_system_commands(screen)

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
