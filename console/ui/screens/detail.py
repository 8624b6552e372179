"""The host detail screen (enter on a host, an alert or a service row).

What the store holds (status, alerts, commits, Puppet's last status) is redrawn whenever the store
changes; what it does not (usage history, the last Puppet report and its events, the host's log lines)
is loaded by async workers, each section showing "loading…" and then its data or its own error.

What a backend says is data: every section is a Plain (never markup), its Texts display-safe (console.
core.display), titles are Texts, and only a plain host name or a well-formed http(s) link is ever
copied to the clipboard (OSC 52).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer

from console.core.display import safe, safe_text
from console.core.hosts import HostDirectory, HostIdentity, host_links, name_copy_problem, ssh_command, url_copy_problem
from console.core.model import LogMessage, LogSnapshot
from console.derive.commits_pane import incident_start
from console.derive.detail import (
    LOADING,
    LOG_COLUMNS,
    LOG_LINES,
    Loaded,
    PuppetRun,
    UsageHistory,
    alerts_text,
    commits_text,
    full_message,
    identity_text,
    links_table,
    load_host_output,
    load_logs,
    load_puppet,
    load_usage,
    log_rows,
    machine_text,
    needs_host_output,
    puppet_text,
    usage_line,
)
from console.sources.graylog import GraylogSource
from console.sources.icinga import IcingaSource
from console.sources.proxmox import ProxmoxSource
from console.sources.puppetdb import PuppetDBSource
from console.ui.dialogs import Picker
from console.ui.screens.keys import BackToPanes, HelpKeys
from console.ui.widgets import KeyedTable
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp


class DetailScroll(VerticalScroll):
    """The summary sections, scrolled with the keys of the tables."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]


class Section(Plain):
    """A titled block of text ("loading…" until it has something to say): never markup."""

    def __init__(self, title: str, *, id: str) -> None:
        super().__init__(LOADING, id=id, classes="detail-section")
        self.border_title = title


class UsageLine(Plain):
    """One sparkline, drawn at the width it gets."""

    def __init__(self, label: str) -> None:
        super().__init__("", classes="usage-line")
        self.label = label
        self.values: Sequence[float] | None = None
        self.error: str | None = None

    def show(self, values: Sequence[float] | None, error: str | None = None) -> None:
        self.values, self.error = values, error
        self.refresh()

    def render(self) -> Text:
        if self.error:
            return Text(f"{self.label:<4}✖ {safe(self.error)}", style="bold red" if self.error != "not in Proxmox" else "dim")
        if self.values is None:
            return Text(f"{self.label:<4}loading…", style="dim")
        return usage_line(self.label, self.values, self.size.width)


class HostDetailScreen(HelpKeys, BackToPanes, Screen[None]):
    """One host across every system. `esc` returns to the panes, cursors where they were."""

    HELP_TITLE = "Keys: a host's detail"
    HELP_NOTES = ("tab: the summary / the host's logs (enter: a whole line)", "j k g G scroll the summary")

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
        Binding("s", "ssh", "SSH"),
        Binding("y", "copy_link", "Copy link"),
        Binding("c", "copy_name", "Copy name"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host  # the name it was opened with, from any system
        self.identity = HostIdentity(host)
        self._loaded_for: tuple[Any, ...] | None = None
        self._puppet: Loaded[PuppetRun] | None = None
        self._messages: dict[str, LogMessage] = {}
        self._host_output: str | None = None  # a DOWN host's check output, loaded (the refresh has none)
        self._host_output_for: str | None = None
        self.pending: set[str] = set()  # the sections still waiting for their data

    @property
    def ops(self) -> OpsConsoleApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        app = self.ops
        self.header = app.header.follower()  # the app's one header: the session's mode, PAUSED, the incident
        yield self.header
        yield Plain("", id="detail-identity")
        with DetailScroll(id="detail-summary"):
            with Horizontal(id="detail-columns"):
                with Vertical(id="detail-left"):
                    yield Section("Alerts", id="sec-alerts")
                    with Vertical(id="sec-machine", classes="detail-section") as machine:
                        machine.border_title = "Machine"
                        yield Plain(LOADING, id="machine-text")
                        yield UsageLine("cpu")
                        yield UsageLine("mem")
                    yield Section("Puppet", id="sec-puppet")
                with Vertical(id="detail-right"):
                    yield Section("Commits, last 24h", id="sec-commits")
                    yield Section("Links", id="sec-links")
        with Vertical(id="detail-logs"):
            yield Plain(LOADING, id="logs-note")
            yield KeyedTable(id="logs-table")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1.0, self.header.tick)
        self.show_store()
        self.query_one("#detail-summary").focus()

    # --- what the store holds ----------------------------------------------------------------

    def show_store(self) -> None:
        """Redraw the sections that come from the store; (re)load the rest when the host's names changed."""
        app = self.ops
        now = app.clock()
        self.identity = identity = HostDirectory.from_store(app.store, app.config).resolve(self.host)
        argv, _ = ssh_command(identity, app.config.ssh)
        with app.batch_update():
            self.query_one("#detail-identity", Plain).update(identity_text(identity, argv))
            self.query_one("#sec-alerts", Plain).update(
                alerts_text(app.store, identity, now, app.config.farm.domains, self._host_output)
            )
            self.query_one("#machine-text", Plain).update(machine_text(app.store, identity))
            self.query_one("#sec-commits", Plain).update(commits_text(app.store, now, incident_start(app.store)))
            self.query_one("#sec-links", Plain).update(links_table(host_links(identity, app.config.links)))
            self._show_puppet(self._puppet)
        names = (identity.proxmox_source, identity.node, identity.vmid, identity.puppet_source, identity.certname, identity.log_sources)
        if names != self._loaded_for:
            self._loaded_for = names
            self.load()
        down = identity.icinga_name if needs_host_output(app.store, identity) else None
        if down is not None and down != self._host_output_for:
            self._host_output_for, self._host_output = down, None
            self.run_worker(self._load_host_output(down), group="detail", exit_on_error=False)

    # --- what it loads -----------------------------------------------------------------------

    def load(self) -> None:
        """Start (again) the workers that fetch the usage history, the last Puppet run and the logs."""
        self.workers.cancel_node(self)
        self._host_output_for = None  # show_store loads it again when the host is DOWN
        self._puppet = None
        self._show_puppet(None)
        for line in self.query(UsageLine):
            line.show(None)
        self._show_logs(None)
        identity = self.identity
        self.pending = {"usage", "puppet", "logs"}
        for section, work in (
            ("usage", self._load_usage(identity)),
            ("puppet", self._load_puppet(identity)),
            ("logs", self._load_logs(identity)),
        ):
            self.run_worker(self._settle(section, work), group="detail", exit_on_error=False)

    async def _settle(self, section: str, work: Awaitable[None]) -> None:
        try:
            await work
        finally:
            self.pending.discard(section)

    def _source(self, name: str | None, kind: type) -> Any:
        source = self.ops.poller.sources.get(name or "")
        return source if isinstance(source, kind) else None

    async def _load_usage(self, identity: HostIdentity) -> None:
        source = self._source(identity.proxmox_source, ProxmoxSource)
        if identity.proxmox_source is None:
            result: Loaded[UsageHistory] = Loaded(error="not in Proxmox")
        elif source is None:
            result = Loaded(error=f"source {identity.proxmox_source} cannot fetch usage history")
        else:
            result = await load_usage(source, identity)
        cpu, mem = self.query(UsageLine)
        cpu.show(result.data.cpu if result.data else None, result.error)
        mem.show(result.data.mem if result.data else None, result.error)

    async def _load_puppet(self, identity: HostIdentity) -> None:
        source = self._source(identity.puppet_source, PuppetDBSource)
        if identity.certname is None:
            self._puppet = Loaded(error="not in PuppetDB")
        elif source is None:
            self._puppet = Loaded(error=f"source {identity.puppet_source} cannot fetch reports")
        else:
            self._puppet = await load_puppet(source, identity.certname, source.config.disabled_fact)
        self._show_puppet(self._puppet)

    async def _load_host_output(self, name: str) -> None:
        sources = [s for s in self.ops.poller.sources.values() if isinstance(s, IcingaSource)]
        loaded = await load_host_output(sources, name)
        self._host_output = loaded.data or (f"(output: {loaded.error})" if loaded.error else None)
        self.show_store()

    def _show_puppet(self, run: Loaded[PuppetRun] | None) -> None:
        app = self.ops
        configured = bool(app.store.of_kind("puppetdb"))
        text = puppet_text(self.identity, run, app.clock(), configured)
        self.query_one("#sec-puppet", Plain).update(text)

    async def _load_logs(self, identity: HostIdentity) -> None:
        sources = [s for s in self.ops.poller.sources.values() if isinstance(s, GraylogSource)]
        self._show_logs(await load_logs(sources, identity))

    def _show_logs(self, logs: Loaded[LogSnapshot] | None) -> None:
        note = self.query_one("#logs-note", Plain)
        table = self.query_one("#logs-table", KeyedTable)
        snapshot = logs.data if logs else None
        if logs is None:
            note.update(LOADING)
        elif logs.error:
            note.update(Text(f"✖ graylog: {safe(logs.error)}", style="bold red"))
        elif snapshot is not None and not snapshot.messages:
            note.update(Text(f"no log lines from {self._log_sources()} in the last day", style="dim"))
        note.display = logs is None or bool(logs.error) or (snapshot is not None and not snapshot.messages)
        messages = snapshot.messages if snapshot else ()
        rows = log_rows(LogSnapshot(messages))
        self._messages = {row.key: message for row, message in zip(rows, messages, strict=False)}
        table.reconcile(LOG_COLUMNS, rows)
        # a Text: a str title would be read as markup
        title = f"Logs of {self._log_sources()}: the last {len(messages) or LOG_LINES} lines, newest first"
        self.query_one("#detail-logs").border_title = Text(title)

    def _log_sources(self) -> str:
        return " or ".join(safe(name, identifier=True) for name in self.identity.log_sources)

    def on_descendant_focus(self) -> None:
        # the part with the keyboard gets the room: the logs, once tabbed into, take most of the screen
        self.set_class(self.query_one("#logs-table").has_focus, "-reading-logs")

    def on_keyed_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        """enter on a log line: the whole message (long lines are cut in the table)."""
        event.stop()
        message = self._messages.get(event.row_key)
        if message is not None:
            self.notify(safe(full_message(message), multiline=True), title="log line", timeout=15, markup=False)

    # --- keys --------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.ops.poller.refresh_now()
        self.load()
        self.notify("Reloading this host…", timeout=2)

    def action_ssh(self) -> None:
        argv, problem = ssh_command(self.identity, self.ops.config.ssh)
        if argv is None:
            self.notify(problem or "cannot ssh", severity="warning")
            return
        self.ops.run_outside(argv)

    def action_copy_name(self) -> None:
        name = self.identity.fqdn or self.identity.name
        problem = name_copy_problem(name)
        if problem is not None:  # the clipboard gets no control character, no look-alike name
            self.notify(f"not copied: {problem}", severity="warning", timeout=6)
            return
        self.app.copy_to_clipboard(name)
        self.notify(f"copied {name}", timeout=3)

    def action_copy_link(self) -> None:
        links = [link for link in host_links(self.identity, self.ops.config.links) if link.url]
        if not links:
            self.notify("no link can be made for this host (see Links)", severity="warning")
        elif len(links) == 1:
            self._copy_link(links[0].name)
        else:
            options = [(link.name, Text.assemble((f"{link.name:<8}", "bold"), safe_text(link.url or "", identifier=True)))
                       for link in links]
            self.app.push_screen(Picker("Copy which link?", options), self._copy_link)

    def _copy_link(self, name: str | None) -> None:
        link = next((l for l in host_links(self.identity, self.ops.config.links) if l.name == name and l.url), None)
        if link is None or not link.url:
            return
        problem = url_copy_problem(link.url)
        if problem is not None:  # the clipboard gets only a well-formed http(s) URL
            self.notify(f"not copied: {problem}", title=f"the {link.name} link", severity="warning", timeout=6)
            return
        self.app.copy_to_clipboard(link.url)
        self.notify(f"copied the {link.name} link", timeout=3)
