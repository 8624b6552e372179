"""The first screen: the four panes and everything done from them — the pane keys, the triage grammar
(/ : S space p h), the row's detail and logs, incident mode, and the action keys (a P A D W t).

The app (console/ui/app.py) owns the store, the poller and the panes' widgets and keeps them fed; this
screen shows them and answers the operator. The action keys load the engine on their first press
(tests/ui/test_lazy_startup.py); the `a` menu is what the action specs offer for the selected rows
(console.actions.specs.offers_for), the palette lists every spec too.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterable

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Input

from console.core.display import safe_text
from console.derive.jump import completions, parse_jump
from console.ui.panes import PANES, Pane
from console.ui.screens.keys import HelpKeys
from console.ui.widgets import CommandLine, KeyedTable

if TYPE_CHECKING:
    from console.actions.catalog import IcingaTarget
    from console.actions.specs import ActionSpec, Offer, Selection
    from console.ui.app import OpsConsoleApp

PANE_NAMES = {1: "hosts", 2: "alerts", 3: "services", 4: "commits"}
# the panes' grammar: not while the prompt is open (its input takes the keys), nor under another screen
PANE_GRAMMAR = ("cycle_pane", "filter", "jump", "sort", "mark", "back", "logs", "toggle_handled", "incident")


class PanesScreen(HelpKeys, Screen[None]):
    BINDINGS = [
        Binding("tab", "cycle_pane(1)", "Next pane", show=False, priority=True),
        # k9s's triage grammar; rebindable by id from `ui.keys` (console.core.config.KeysConfig)
        Binding("/", "filter", "Filter", id="filter"),
        Binding(":", "jump", "Jump", id="jump"),
        Binding("shift+tab", "cycle_pane(-1)", "Previous pane", show=False, priority=True),
        Binding("1", "show_pane(1)", "Pane", key_display="1-4"),
        *(Binding(str(n), f"show_pane({n})", "Pane", show=False) for n in range(2, len(PANES) + 1)),
        Binding("r", "refresh", "Refresh"),
        Binding("S", "sort", "Sort by the next column", show=False, id="sort"),
        Binding("space", "mark", "Mark / unmark the row", show=False, id="mark"),
        Binding("p", "pause", "Pause / resume refresh", show=False, id="pause"),
        Binding("L", "logs", "Logs of the host under the cursor", show=False),
        Binding("h", "toggle_handled", "Hide / show handled alerts", show=False),
        Binding("i", "incident", "Incident: start one, or its timeline", show=False),
        Binding("escape", "back", "Clear the filter", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
        # the action keys: the engine loads on the first press
        Binding("a", "action_menu", "Actions on the selected / marked rows", show=False),
        Binding("P", "purge", "Purge URL(s) from every cache", show=False),
        Binding("A", "acknowledge", "Acknowledge the selected alert(s)", show=False),
        Binding("D", "downtime", "Downtime the selected alert(s)", show=False),
        Binding("W", "write_switch", "Write switch: READ-WRITE (type write), again read-only", show=False),
        Binding("t", "tasks", "Actions of this session", show=False),
    ]
    HELP_NOTES = (
        "enter: a host's detail (Hosts, Alerts; Services: its worst host)",
        "/ filter: text, ~regex, !inverted · esc clears it",
        ": jump: hosts alerts services commits, host NAME, theme NAME, pause SOURCE, logs, backends, "
        "leftovers, timeline, q (tab completes)",
        "↑ ↓ j k move · ← → scroll sideways · g G first / last · pgup pgdn",
        "ctrl+p: the command palette, every view and action",
        "Read-only until W or --write; every action shows its plan and asks a reason and a confirmation.",
    )

    def __init__(self, ops: OpsConsoleApp) -> None:
        super().__init__(id="_default")
        self.ops = ops

    def compose(self) -> ComposeResult:
        ops = self.ops
        yield ops.header
        yield ops.tab_bar
        with Container(id="panes"):
            yield from ops.panes
        yield ops.prompt
        yield ops.status_bar
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.ops.config is None:  # the config is being validated (a fraction of a second): only q
            return action == "quit"
        if action in PANE_GRAMMAR:  # not behind a dialog either: the footer under it leaves them out
            return self.app.screen is self and not self.ops.prompt.is_open
        return True

    # --- the panes --------------------------------------------------------------------------------

    @property
    def focused_pane(self) -> Pane:
        return self.ops.pane(self.ops.active_pane)

    def action_show_pane(self, number: int) -> None:
        """Show pane `number` (the only one on a narrow screen) and put the keyboard in its table."""
        ops = self.ops
        ops.active_pane = number
        for pane in ops.panes:
            pane.set_class(pane.number == number, "-active")
        ops.pane(number).table.focus()
        ops.show_tabs()

    def action_cycle_pane(self, step: int) -> None:
        self.action_show_pane((self.ops.active_pane - 1 + step) % len(PANES) + 1)

    def on_pane_focused(self, message: Pane.Focused) -> None:
        # A click into a pane of the wide layout makes it the active one.
        if message.number != self.ops.active_pane:
            self.action_show_pane(message.number)

    def action_refresh(self) -> None:
        self.ops.poller.refresh_now()
        self.notify("Refreshing every source…", timeout=2)

    # --- triage: filter, jump, sort, mark, pause ----------------------------------------------------

    def action_filter(self) -> None:
        self.ops.prompt.open("filter", self.focused_pane.filter_text)

    def action_jump(self) -> None:
        ops = self.ops
        ops.prompt.open("jump", "", completions(self.known_hosts(), ops.available_themes, ops.poller.sources))

    def known_hosts(self) -> list[str]:
        from console.core.clusters import row_host

        view = self.ops.pane(1).view
        return list(dict.fromkeys(row_host(row.key) for row in view.rows)) if view else []

    def on_input_changed(self, event: Input.Changed) -> None:
        # The filter follows the typing (k9s); a regex still being typed says so in the title.
        if isinstance(event.input, CommandLine) and event.input.mode == "filter":
            self.ops.prompt.set_error(self.focused_pane.set_filter(event.value))

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
        ops = self.ops
        jump = parse_jump(text, ops.available_themes, ops.poller.sources)
        if jump.what == "pane":
            self.action_show_pane(int(jump.arg or 1))
        elif jump.what == "host":
            self.open_host(str(jump.arg))
        elif jump.what == "theme":
            ops.theme = str(jump.arg)
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
            ops.exit()
        else:
            self.notify(str(jump.arg), title="Jump", severity="warning")

    def action_back(self) -> None:
        """esc on the panes: clear the focused pane's filter."""
        if self.focused_pane.filter_text:
            self.focused_pane.set_filter("")

    def action_sort(self) -> None:
        self.focused_pane.cycle_sort()

    def action_mark(self) -> None:
        self.focused_pane.toggle_mark()

    def action_toggle_handled(self) -> None:
        """Hide (or show again) the acknowledged and in-downtime rows; the pane's subtitle counts them."""
        ops = self.ops
        ops.hide_handled = not ops.hide_handled
        for pane in ops.panes:
            pane.set_hide_handled(ops.hide_handled)
        self.notify("handled alerts hidden (h shows them)" if ops.hide_handled else "handled alerts shown", timeout=2)

    def action_pause(self) -> None:
        """Hold (or resume) every source's refresh; the header says PAUSED meanwhile."""
        ops = self.ops
        ops.paused = not ops.paused
        if ops.paused:
            ops.poller.pause()
        else:
            ops.poller.resume()
        ops.header.set_paused(ops.paused)
        self.notify("refresh paused (p resumes)" if ops.paused else "refresh resumed", timeout=2)

    def toggle_source_pause(self, name: str) -> None:
        """Hold (or resume) one source; the status bar marks it paused meanwhile."""
        ops = self.ops
        if ops.store.get(name).paused:
            ops.poller.resume(name)
        else:
            ops.poller.pause(name)
        paused = ops.store.get(name).paused
        ops.show_status()
        self.notify(f"{name}: refresh {'paused (:pause ' + name + ' resumes)' if paused else 'resumed'}", timeout=2)

    # --- incident mode, leftovers -------------------------------------------------------------------

    @work(group="incident-start", exclusive=True)
    async def action_incident(self) -> None:
        """i: start an incident (title, task) when none is open; else show its timeline."""
        from console.ui.screens.timeline import StartIncidentScreen

        ops = self.ops
        if ops.incident.incident is not None:
            self.open_timeline()
            return
        answer = await self.app.push_screen_wait(StartIncidentScreen())
        if answer is None:
            return
        try:
            incident = ops.incident.start(*answer)
        except ValueError as exc:
            self.notify(str(exc), title="Incident not started", severity="error")
            return
        self.notify(f"incident started: {incident.title} - the timeline collects itself (:timeline)",
                    title="Incident", timeout=6)

    def open_timeline(self) -> None:
        from console.ui.screens.timeline import TimelineScreen

        if not isinstance(self.app.screen, TimelineScreen):
            self.app.push_screen(TimelineScreen(self.ops.incident))

    def open_leftovers(self) -> None:
        """The leftovers board (console/ui/screens/leftovers.py): asked once on open and on r."""
        from console.ui.screens.leftovers import LeftoversScreen

        if not isinstance(self.app.screen, LeftoversScreen):
            self.app.push_screen(LeftoversScreen())

    # --- a row's host: detail, logs -----------------------------------------------------------------

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """enter on a row: Hosts and Alerts open the row's host, Services its worst problem host (or a
        picker of its hosts). A commit names no host, so enter in Commits does nothing."""
        from console.core.clusters import row_host
        from console.derive.alerts import alerts_by_key

        ops = self.ops
        pane = next((p for p in ops.panes if p.table is event.table), None)
        key = event.row_key
        if pane is None or key is None:
            return
        if pane.number == 1:
            self.open_host(row_host(key))  # "guest:mw152", "node:cloud15", "guest:mw1@pve-b"
        elif pane.number == 2:
            alert = alerts_by_key(ops.store, ops.config.farm.domains).get(key)  # Icinga's host name, or the event's
            self.open_host(alert.host if alert else key.split("!", 1)[0])
        elif pane.number == 3:
            self.open_service(key)

    def action_logs(self) -> None:
        """L: the log screen, on the host under the cursor (Hosts, Alerts), else on every line."""
        from console.core.clusters import row_host
        from console.core.hosts import HostDirectory
        from console.derive.alerts import alerts_by_key
        from console.derive.logtail import host_log_query

        ops = self.ops
        pane, key = self.focused_pane, self.focused_pane.table.cursor_key
        host = None
        if key and pane.number == 1:
            host = row_host(key)
        elif key and pane.number == 2:
            alert = alerts_by_key(ops.store, ops.config.farm.domains).get(key)
            host = alert.host if alert else key.split("!", 1)[0]
        if host:
            identity = HostDirectory.from_store(ops.store, ops.config).resolve(host)
            self.open_logs(host_log_query(identity.log_sources or (host,)))
        else:
            self.open_logs("*")

    def open_logs(self, query: str) -> None:
        from console.ui.screens.logs import LogScreen

        self.app.push_screen(LogScreen(query))

    def open_host(self, name: str | None) -> None:
        """Show the detail of the host any system calls `name`."""
        from console.ui.screens.detail import HostDetailScreen

        if name and not isinstance(self.app.screen, HostDetailScreen):
            self.app.push_screen(HostDetailScreen(name))

    def open_service(self, service: str) -> None:
        """One problem host: its detail; else a picker of the service's hosts, the worst first."""
        from console.core.model import CheckState
        from console.derive.cells import STATE_STYLE, STATE_SYMBOL
        from console.derive.services_pane import service_hosts

        hosts = service_hosts(self.ops.store, self.ops.config, service)
        problems = [host for host, state in hosts if state != CheckState.OK]
        if not hosts:
            self.notify(f"{service}: no host has its checks (yet)", severity="warning")
        elif len(problems) == 1:
            self.open_host(problems[0])
        else:
            from console.ui.dialogs import Picker

            options = [(host, Text(f"{STATE_SYMBOL[state]} {state.name:<8} ", style=STATE_STYLE[state])
                            + safe_text(host, identifier=True, style=STATE_STYLE[state])) for host, state in hosts]
            self.app.push_screen(Picker(f"{service}: which host?", options), self.open_host)

    # --- actions ------------------------------------------------------------------------------------

    def selection(self) -> Selection:
        """The active pane's marked rows (space marks), else the cursor's row, and what they give the
        action specs: host names, Icinga targets (or why not), the service."""
        from console.actions.catalog import IcingaTarget
        from console.actions.guard import Refused
        from console.actions.specs import Selection
        from console.core.hosts import HostDirectory
        from console.derive.alerts import alert_targets

        ops = self.ops
        pane = self.focused_pane
        keys: list[str] = []
        for owner in (pane, pane.table):
            marked = getattr(owner, "marked_keys", None)
            if callable(marked):
                keys = [k for k in marked() if k]
                if keys:
                    break
        if not keys and pane.table.cursor_key:
            keys = [pane.table.cursor_key]
        name = PANE_NAMES[pane.number]
        hosts: tuple[str, ...] = ()
        icinga: tuple[IcingaTarget, ...] = ()
        refused = ""
        try:
            if name == "alerts" and keys:  # "mw152!PHP-FPM"; a Graylog event row is refused (console.derive.alerts)
                icinga = alert_targets(ops.store, ops.config, keys)
            elif name == "hosts" and keys:  # "guest:mw152", "node:cloud15", "guest:mw1@pve-b" (clusters)
                hosts = tuple(dict.fromkeys(key.split(":", 1)[-1] for key in keys))
                directory = HostDirectory.from_store(ops.store, ops.config)
                icinga = tuple(IcingaTarget(directory.resolve(n.split("@", 1)[0]).icinga_name or n.split("@", 1)[0])
                               for n in hosts)
        except Refused as exc:
            refused = str(exc)
        service = keys[0] if name == "services" and keys else ""
        return Selection(name, tuple(keys), ops.config, ops.store, hosts, icinga, refused, service)

    def offers(self, selection: Selection) -> list[Offer]:
        """What the `a` menu offers: the specs' offers for the rows, then a purge (it needs no row)."""
        from console.actions.specs import Offer, offers_for, spec_named

        found = offers_for(selection)
        found.append(Offer("purge", spec_named("purge").label, spec_named("purge")))
        return found

    def action_action_menu(self) -> None:
        from console.ui.screens.action import ActionMenu

        selection = self.selection()
        if selection.icinga_refused:
            self.notify(selection.icinga_refused, severity="error")
        keys = selection.keys
        what = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "") \
            if selection.pane in ("hosts", "alerts", "services") else ""
        self.app.push_screen(ActionMenu(what, self.offers(selection)), self.open_offer)

    def open_offer(self, offer: Offer | None) -> None:
        """The action screen of `offer`; a spec that reads first (depool, repool) does so in a worker."""
        if offer is None:
            return
        if offer.spec.prepare is not None and offer.action is None:
            self.run_worker(self._prepared(offer), group="action-prepare", exclusive=True, exit_on_error=False)
            return
        from console.ui.screens.action import ActionScreen

        self.app.push_screen(ActionScreen(self.ops.actions, offer))

    async def _prepared(self, offer: Offer) -> None:
        """What the plan needs read first (depool/repool: the caches' backend lists), then its screen."""
        import dataclasses

        from console.actions.specs import MakeContext, PrepareContext, load

        ops = self.ops
        desk = ops.actions
        assert offer.spec.prepare is not None
        self.notify(f"{offer.label}: reading every cache's backend list…", timeout=3)
        try:
            action = offer.spec.make_action(offer.values, MakeContext(ops.config, store=ops.store))
            ready = await load(offer.spec.prepare)(action, PrepareContext(ops.config, ops.store, desk.engine, desk.writable))
        except Exception as exc:  # noqa: BLE001 - said, never raised
            self.notify(f"{offer.label}: {type(exc).__name__}: {exc}"[:300], severity="error")
            return
        self.open_offer(dataclasses.replace(offer, action=ready))

    def open_spec(self, spec: ActionSpec) -> None:
        """A spec from its key or the palette: its offer for the selected rows, else what it needs."""
        from console.actions.specs import Offer, offers_for

        if not spec.uses:
            self.open_offer(Offer(spec.name, spec.label, spec))
            return
        selection = self.selection()
        found = offers_for(selection, (spec,))
        if found:
            self.open_offer(found[0])
            return
        panes = " or ".join(dict.fromkeys(f"{use.pane.capitalize()} ({next(n for n, p in PANE_NAMES.items() if p == use.pane)})"
                                          for use in spec.uses))
        self.notify(selection.icinga_refused or f"{spec.label}: select a row on {panes} first; a lists every action",
                    severity="warning")

    def _spec_key(self, name: str) -> None:
        from console.actions.specs import spec_named

        self.open_spec(spec_named(name))

    def action_purge(self) -> None:
        self._spec_key("purge")

    def action_acknowledge(self) -> None:
        self._spec_key("ack")

    def action_downtime(self) -> None:
        if PANE_NAMES[self.focused_pane.number] != "alerts":
            self.notify("A and D act on the Alerts pane (2); elsewhere use a", severity="warning")
            return
        self._spec_key("downtime-add")

    @work(group="write-switch", exclusive=True)
    async def action_write_switch(self) -> None:
        """W: read-only → type `write` → READ-WRITE (audited); read-write → "back to read-only? y/N"."""
        from console.ui.dialogs import ReadOnlyAgainScreen, WriteSwitchScreen

        desk = self.ops.actions
        if desk.writable:
            if await self.app.push_screen_wait(ReadOnlyAgainScreen()) and desk.writable:
                desk.disable_write()
                self.notify("read-only again: actions are refused until W", timeout=5)
            return
        if not await self.app.push_screen_wait(WriteSwitchScreen(str(desk.engine.audit.path))):
            return
        problem = desk.enable_write("tui")
        if problem:
            self.notify(problem, severity="error", timeout=10)
        else:
            self.notify("READ-WRITE: actions will change the farm (the switch is in the audit file)",
                        severity="warning", timeout=8)

    def open_backends(self) -> None:
        """Backend health per cache (`:backends`); varnishadm reads go through the command executor."""
        from console.actions.guard import Refused
        from console.ui.screens.backends import BackendsScreen

        ops = self.ops
        engine = ops.actions.engine
        commands = None
        if ops.config.actions.depool.method == "varnishadm":
            try:
                commands = engine.command_executor()
            except Refused as exc:
                self.notify(str(exc), severity="error")
        self.app.push_screen(BackendsScreen(ops.config, engine.session, commands))

    def action_tasks(self) -> None:
        from console.ui.screens.tasks import TasksScreen

        desk = self.ops.actions
        self.app.push_screen(TasksScreen(desk.tasks, cancel=desk.engine.cancel))

    # --- the palette ----------------------------------------------------------------------------------

    def palette(self) -> Iterable[SystemCommand]:
        """The command palette's entries of the panes: every view, the triage keys, every action spec."""
        from console.actions.specs import SPECS

        for pane in self.ops.panes:
            yield SystemCommand(f"Show {pane.title}", f"pane {pane.number} (:{pane.title.lower()})",
                                partial(self.action_show_pane, pane.number))
        yield SystemCommand("Filter the pane", "/ — text, ~regex, !inverted", self.action_filter)
        yield SystemCommand("Jump", ": — hosts, alerts, services, commits, host NAME, theme NAME", self.action_jump)
        yield SystemCommand("Sort by the next column", "S", self.action_sort)
        yield SystemCommand("Pause / resume refresh", "p", self.action_pause)
        yield SystemCommand("Hide / show handled alerts", "h (:handled)", self.action_toggle_handled)
        yield SystemCommand("Incident: start one, or show its timeline", "i (:timeline)", self.action_incident)
        if self.ops.incident.incident is not None:
            yield SystemCommand("Incident: export the report", "e in the timeline", self.open_timeline)
        yield SystemCommand("Leftovers: downtimes, acks, Puppet off, depooled, locks", ":leftovers", self.open_leftovers)
        yield SystemCommand("Backends per cache", ":backends", self.open_backends)
        yield SystemCommand("Refresh every source now", "r", self.action_refresh)
        yield SystemCommand("Actions on the selected rows", "a", self.action_action_menu)
        yield SystemCommand("Write switch: read-write, or back to read-only", "W", self.action_write_switch)
        yield SystemCommand("Actions of this session (tasks)", "t", self.action_tasks)
        for spec in SPECS:  # every action, from its spec: on the selected rows when it takes them
            where = ", ".join(dict.fromkeys(use.pane for use in spec.uses))
            help_text = " · ".join(part for part in (spec.key or "", f"on {where}" if where else "",
                                                     f"opsconsole {' '.join(spec.command)}" if spec.command else "") if part)
            yield SystemCommand(f"Action: {spec.label}", help_text or spec.name, partial(self.open_spec, spec))
        yield SystemCommand("Help: the keys", "?", self.action_help)
