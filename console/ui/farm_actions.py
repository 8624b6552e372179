"""The host and service actions of the menu (a): restart an allow-listed service, depool, repool, guest
power, Puppet — and the rolling restart of a service; the cancel confirmation (c) and the backends view
(cache × backend health, `:backends`). Everything is built on console.actions; no action logic here.
"""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable

from console.actions import (
    Depool,
    InvalidAction,
    PuppetDisable,
    PuppetEnable,
    PuppetRun,
    Refused,
    Repool,
    RestartService,
    format_duration,
    parse_duration,
)  # fmt: skip
from console.actions.power import COMMANDS as GUEST_COMMANDS
from console.actions.power import locate_guest_power
from console.core.display import safe_text
from console.ui.actions import ActionField, ActionRequest, made
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.core.hosts import HostDirectory
    from console.ui.app import OpsConsoleApp

GUEST_LABELS = {"start": "guest: start", "shutdown": "guest: shutdown (ACPI)", "reboot": "guest: reboot (ACPI)",
                "stop": "guest: stop (hard, like pulling the plug)"}


# --- the fields of a restart -------------------------------------------------------------------------


def rolling_fields(app: OpsConsoleApp) -> tuple[ActionField, ...]:
    """batch size, failure budget and downtime, prefilled from `actions.rolling`."""
    rolling = app.config.actions.rolling
    downtime = format_duration(timedelta(seconds=rolling.downtime)) if rolling.downtime else "0"
    return (
        ActionField("batch", "batch size (hosts at once)", str(rolling.batch)),
        ActionField("budget", "failure budget (failed hosts before it stops)", str(rolling.failure_budget)),
        ActionField("downtime", "Icinga downtime per host: 15m, 1h; 0 = none", downtime),
    )


def _whole_number(text: str, what: str, lowest: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidAction(f"refused: the {what} must be a whole number (got {text.strip()[:20]!r})") from None
    if value < lowest:
        raise InvalidAction(f"refused: the {what} must be at least {lowest}")
    return value


def parse_rolling(values: dict[str, str]) -> tuple[int, int, timedelta]:
    """(batch, failure budget, downtime) from the screen's fields; InvalidAction says what is wrong."""
    batch = _whole_number(values.get("batch", "1"), "batch size", 1)
    budget = _whole_number(values.get("budget", "0"), "failure budget", 0)
    text = values.get("downtime", "").strip().lower()
    downtime = timedelta(0) if text in ("", "0", "none", "no") else parse_duration(text)
    return batch, budget, downtime


def restart_request(app: OpsConsoleApp, service: str, hosts: tuple[str, ...], directory: HostDirectory,
                    label: str | None = None) -> ActionRequest:
    def make(values: dict[str, str]) -> RestartService:
        batch, budget, downtime = parse_rolling(values)
        return RestartService(service, hosts, batch=batch, failure_budget=budget, downtime=downtime, directory=directory)

    return ActionRequest(label or f"restart {service}", fields=rolling_fields(app), make=make)


# --- the menus ---------------------------------------------------------------------------------------


def host_names(keys: list[str]) -> tuple[str, ...]:
    """Hosts pane keys (`guest:mw152`, `node:cloud15`) -> short names."""
    return tuple(dict.fromkeys(key.split(":", 1)[-1] for key in keys if key))


def host_farm_requests(app: OpsConsoleApp, keys: list[str]) -> dict[str, ActionRequest]:
    """The Hosts pane's farm actions for the marked hosts (else the cursor's)."""
    from console.core.hosts import HostDirectory

    names = host_names(keys)
    if not names:
        return {}
    config = app.config
    directory = HostDirectory.from_store(app.store, config)
    requests: dict[str, ActionRequest] = {}
    if config.actions.executor:
        for service, allowed in config.actions.services.items():
            if all(fnmatchcase(name, allowed.hosts) for name in names):
                requests[f"restart:{service}"] = restart_request(app, service, names, directory)
    if config.actions.caches:
        requests["depool"] = ActionRequest("depool from every cache", make=lambda _v: Depool(names))
        requests["repool"] = ActionRequest("repool (back to auto) on every cache", make=lambda _v: Repool(names))
    if len(names) == 1 and config.sources.proxmox:
        for command in GUEST_COMMANDS:
            action = locate_guest_power(app.store, config, names[0], command)
            if action.guest is not None:
                requests[f"guest:{command}"] = ActionRequest(GUEST_LABELS[command], make=made(action))
    if config.actions.executor:
        requests["puppet:run"] = ActionRequest("puppet: run the agent (-tv)",
                                               make=lambda _v: PuppetRun(names, directory))
        requests["puppet:disable"] = ActionRequest("puppet: disable (the reason is the message)",
                                                   make=lambda _v: PuppetDisable(names, directory))
        requests["puppet:enable"] = ActionRequest("puppet: enable", make=lambda _v: PuppetEnable(names, directory))
    return requests


def service_requests(app: OpsConsoleApp, keys: list[str]) -> dict[str, ActionRequest]:
    """The Services pane: a rolling restart of the service under the cursor, when it is allow-listed."""
    from console.actions.commands import service_hosts
    from console.core.hosts import HostDirectory

    config = app.config
    requests: dict[str, ActionRequest] = {}
    if not config.actions.executor:
        return requests
    directory = HostDirectory.from_store(app.store, config)
    for service in keys[:1]:
        if service not in config.actions.services:
            continue
        try:
            hosts = tuple(service_hosts(config, service, directory))
        except Refused:
            continue
        if hosts:
            requests[f"rolling:{service}"] = restart_request(
                app, service, hosts, directory, label=f"rolling restart of {service} ({len(hosts)} hosts)")
    return requests


# --- cancel ------------------------------------------------------------------------------------------


class ConfirmCancelScreen(ModalScreen[bool]):
    """Cancel a running action? y cancels; n, esc or anything else keeps it running."""

    DEFAULT_CSS = """
    ConfirmCancelScreen { align: center middle; }
    #cancel-box { width: 70; height: auto; border: thick $warning; background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Cancel it"),
        Binding("n", "answer(False)", "Keep running"),
        Binding("escape", "answer(False)", "Keep running"),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.action_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="cancel-box"):
            yield Plain(Text.assemble(
                ("Cancel ", "bold"), safe_text(self.action_title, style="bold"), ("?\n\n", "bold"),
                "It will stop after the current batch: the hosts in hand finish (and are repooled), the next\n"
                "batches are skipped. A step already sent is never cut short.\n\n",
                ("y", "bold reverse"), " cancel it    ", ("n", "bold reverse"), " / esc keep it running"))

    def on_mount(self) -> None:
        self.query_one("#cancel-box").border_title = "Cancel the action"

    def action_answer(self, confirmed: bool) -> None:
        self.dismiss(confirmed)


# --- backends ----------------------------------------------------------------------------------------

HEALTH_STYLE = {"healthy": "green", "sick": "bold red", "DEPOOLED": "bold yellow", "error": "bold red", "?": "dim"}


class BackendsScreen(ModalScreen[None]):
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
    ]

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
