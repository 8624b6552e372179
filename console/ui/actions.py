"""Safe actions in the console: the write switch (W), the action menu (a), purge (P), acknowledge (A),
downtime (D) and the task list (t). Everything goes through console.actions' engine, as the CLI does:
plan → reason → the tier's confirmation → live progress → the result; refusals are shown, never raised.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList
from textual.widgets.option_list import Option

from console.actions import (
    Acknowledge,
    Action,
    ActionEngine,
    ActionEvent,
    ActionResult,
    AuditError,
    Confirmation,
    IcingaTarget,
    PurgeUrls,
    Recheck,
    Refused,
    RemoveAcknowledgement,
    RemoveDowntime,
    Risk,
    ScheduleDowntime,
    Session,
    current_operator,
    parse_duration,
)  # fmt: skip
from console.actions.plan import Operator, Plan, Step
from console.core.display import safe, safe_text
from console.ui.action_keys import FormInput
from console.ui.tasks import OUTCOME_STYLE, TOAST_SEVERITY, TaskList, TasksScreen, toast_text
from console.ui.widgets.plain import Plain

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp

WRITE_WORD = "write"
MAX_PROGRESS_LINES = 400  # the action screen keeps the last lines of a long output, not all of it
DEFAULT_DOWNTIME = "2h"
# What an action changed, by the source that shows it, refreshed when it ends (changed_sources): a step
# sent through an Icinga or a Proxmox source names it (`icinga:<name>`, `proxmox:<name>`); a depool or
# repool step changes the caches' backend lists (sources of kind `backends`); a Puppet step what PuppetDB
# says of the agent (its report, its disabled fact).
SOURCE_EXECUTORS = ("icinga", "proxmox")
STEP_CHANGES = {"depool": "backends", "repool": "backends",
                "puppet-run": "puppetdb", "puppet-disable": "puppetdb", "puppet-enable": "puppetdb"}


def changed_sources(steps: Iterable[Step], sources: Mapping[str, str]) -> list[str]:
    """The polled sources (`sources`: name -> kind) that show what `steps` change: the source a step was
    sent through, or every source of the kind a step changes (or of the kind of a source not polled)."""
    named: set[str] = set()
    kinds: set[str] = set()
    for step in steps:
        prefix, _, name = step.executor.partition(":")
        if prefix in SOURCE_EXECUTORS:
            if sources.get(name) == prefix:
                named.add(name)
            else:
                kinds.add(prefix)
        if step.kind in STEP_CHANGES:
            kinds.add(STEP_CHANGES[step.kind])
    return [name for name, kind in sources.items() if name in named or kind in kinds]


# --- what an action screen is asked to do -----------------------------------------------------------


@dataclass(frozen=True)
class ActionField:
    """One named input of an action screen (its Input's id is `action-<name>`), prefilled with `default`."""

    name: str
    placeholder: str
    default: str = ""


@dataclass(frozen=True)
class ActionRequest:
    """One menu entry made concrete: a label and how to build the action from the screen's fields.

    Either `build(urls, duration)` (purge, the Icinga actions), or named `fields` and `make(values)`
    (values by field name; raise Refused/InvalidAction for a bad value)."""

    label: str
    build: Callable[[str, timedelta | None], Action] | None = None  # (urls text, duration) -> action
    asks_urls: bool = False
    asks_duration: bool = False
    fields: tuple[ActionField, ...] = ()
    make: Callable[[dict[str, str]], Action] | None = None
    prepare: Callable[[], Any] | None = None  # async: read first (in a worker), then open the request it returns


def made(action: Action) -> Callable[[dict[str, str]], Action]:
    """A `make` for an action built beforehand: it asks no field."""
    return lambda _values: action


def purge_request() -> ActionRequest:
    return ActionRequest("purge URL(s)", lambda urls, _: PurgeUrls(tuple(urls.split())), asks_urls=True)


def alert_requests(targets: tuple[IcingaTarget, ...]) -> dict[str, ActionRequest]:
    return {
        "ack": ActionRequest("acknowledge", lambda _u, _d: Acknowledge(targets)),
        "unack": ActionRequest("remove acknowledgement", lambda _u, _d: RemoveAcknowledgement(targets)),
        "downtime": ActionRequest("schedule downtime", lambda _u, d: ScheduleDowntime(targets, d or timedelta(hours=2)),
                                  asks_duration=True),
        "undowntime": ActionRequest("remove downtime", lambda _u, _d: RemoveDowntime(targets)),
        "recheck": ActionRequest("re-check now", lambda _u, _d: Recheck(targets)),
    }


def host_requests(targets: tuple[IcingaTarget, ...]) -> dict[str, ActionRequest]:
    return {
        "downtime": ActionRequest("downtime host (all services)",
                                  lambda _u, d: ScheduleDowntime(targets, d or timedelta(hours=2), all_services=True),
                                  asks_duration=True),
        "undowntime": ActionRequest("remove host downtime (all services)",
                                    lambda _u, _d: RemoveDowntime(targets, all_services=True)),
        "recheck": ActionRequest("re-check host now", lambda _u, _d: Recheck(targets)),
    }


def pool_requests(app: OpsConsoleApp, keys: list[str], requests: dict[str, ActionRequest]) -> None:
    """Depool and repool only for the caches' backends (the `backends` source's lists, once it has
    answered: a job runner or a hypervisor is not offered them). Chosen, each reads every cache's list
    afresh — and for a repool takes the host's checks and probes from the store — before its screen
    opens; the plan refuses a host that is no backend and makes a repool of a failing host tier 2."""
    import dataclasses

    from console.actions import Depool, Repool
    from console.actions.depool import gather_pool_facts
    from console.core.model import BackendSnapshot
    from console.ui.farm_actions import host_names

    if "depool" not in requests and "repool" not in requests:
        return
    names = tuple(name.lower() for name in host_names(keys))
    for snapshot in app.store.data_of_kind("backends"):
        if isinstance(snapshot, BackendSnapshot) and not set(names) <= snapshot.names():
            requests.pop("depool", None)
            requests.pop("repool", None)
            return
    desk = app.actions

    def prepared(entry: ActionRequest, kind: type[Depool] | type[Repool]) -> Callable[[], Any]:
        async def prepare() -> ActionRequest:
            engine = desk.engine
            commands = None
            if app.config.actions.depool.method == "varnishadm" and desk.writable:
                try:
                    commands = engine.command_executor()
                except Refused:
                    commands = None
            facts = await gather_pool_facts(app.config, names, session=engine.session, repool=kind is Repool,
                                            commands=commands, store=app.store)
            return dataclasses.replace(entry, make=made(kind(names, facts)), prepare=None)

        return prepare

    for verb, kind in (("depool", Depool), ("repool", Repool)):
        if verb in requests:
            requests[verb] = dataclasses.replace(requests[verb], prepare=prepared(requests[verb], kind))


# --- the desk: one engine, the task list, the switch ----------------------------------------------


class ActionDesk:
    """The app's side of the engine: built on first use (a read-only session that never acts writes nothing)."""

    def __init__(self, app: OpsConsoleApp, write: bool = False) -> None:
        self.app = app
        self.write_at_start = write
        self.tasks = TaskList()
        self._engine: ActionEngine | None = None

    @property
    def engine(self) -> ActionEngine:
        if self._engine is None:
            user, _, host = self.app.identity.partition("@")
            operator = Operator(user, host) if host else current_operator()
            self._engine = ActionEngine(self.app.config, Session(operator), clock=self.app.clock)
        return self._engine

    @property
    def writable(self) -> bool:
        return self._engine is not None and self._engine.session.writable

    def start(self) -> None:
        """At mount: `--write` switches now (audited); the header shows the mode either way."""
        if self.write_at_start:
            self.enable_write("--write")
        self.show_mode()

    def enable_write(self, via: str) -> bool:
        engine = self.engine
        try:
            engine.session.enable_write(engine.audit, via=via)
        except AuditError as exc:
            self.app.notify(f"still read-only: the switch could not be recorded ({exc})", severity="error", timeout=10)
            return False
        self.show_mode()
        return True

    def disable_write(self) -> None:
        if self._engine is not None:
            self._engine.session.disable_write()
        self.show_mode()

    def show_mode(self) -> None:
        """The mode on every screen's header (the app's, and the detail's and log screen's that follow it)."""
        self.app.header.set_writable(self.writable)

    async def run(self, plan: Plan, confirmation: Confirmation, screen: ActionScreen) -> ActionResult | None:
        """Run `plan`; events go to the task list and to `screen` while it is open. Refusals go to the screen."""
        task = None

        def on_event(event: ActionEvent) -> None:
            nonlocal task
            if event.kind == "started":
                task = self.tasks.started(plan)
            elif task is not None:
                self.tasks.event(task, event)
            if event.kind == "notice" and event.step is not None:  # a step's request was taken (Proxmox's task id)
                self.refresh_changed(plan.steps[event.step : event.step + 1])
            if screen.is_attached:
                screen.show_event(event)

        try:
            result = await self.engine.run(plan, confirmation, on_event=on_event)
            self.app.incident.refresh_actions()  # an open incident's timeline gets the action at once
        except Refused as exc:
            if screen.is_attached:
                screen.show_refusal(str(exc))
            else:
                self.app.notify(str(exc), severity="error", timeout=10)
            return None
        except Exception as exc:  # noqa: BLE001 - a bug must not take the console down with it
            if task is not None:
                self.tasks.failed(task, "failed")
            self.app.notify(f"{plan.title}: failed: {type(exc).__name__}: {exc}", severity="error", timeout=10)
            self.refresh_changed(plan.steps)  # some steps may have been sent
            return None
        if task is not None:
            self.tasks.finished(task, result)
        self.app.notify(toast_text(result), severity=TOAST_SEVERITY.get(result.outcome, "information"), timeout=8)
        self.refresh_changed(plan.steps)  # so an acknowledged alert dims, a started guest says running, at once
        if screen.is_attached:
            screen.show_result(result)
        return result

    def refresh_changed(self, steps: Sequence[Step]) -> None:
        """Fetch now the sources that show what `steps` changed (changed_sources), not at their next poll."""
        poller = self.app.poller
        for name in changed_sources(steps, {name: source.kind for name, source in poller.sources.items()}):
            poller.refresh_now(name)

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()


# --- the keys (mixed into the app) ------------------------------------------------------------------


class ActionKeys:
    """The app's action keys; only on the panes' screen (not over a detail, the help or a dialog)."""

    actions: ActionDesk

    def _at_panes(self: Any) -> bool:
        return self.screen is self.screen_stack[0]

    def _selection(self: Any) -> tuple[int, list[str]]:
        """The active pane's number and its marked rows' keys (space marks), else the cursor row's."""
        pane = self.pane(self.active_pane)
        for owner in (pane, pane.table):
            marked = getattr(owner, "marked_keys", None)
            if callable(marked):
                keys = [k for k in marked() if k]
                if keys:
                    return pane.number, keys
        key = pane.table.cursor_key
        return pane.number, [key] if key else []

    def _icinga_targets(self: Any, number: int, keys: list[str]) -> tuple[IcingaTarget, ...]:
        if number == 2:  # Alerts: "mw152!PHP-FPM"; a Graylog event row is refused (console.derive.alerts)
            from console.derive.alerts import alert_targets

            return alert_targets(self.store, self.config, keys)
        if number == 1:  # Hosts: "guest:mw152", "node:cloud15" -> the name Icinga knows the host by
            from console.core.hosts import HostDirectory

            directory = HostDirectory.from_store(self.store, self.config)
            names = [key.split(":", 1)[-1].split("@", 1)[0] for key in keys]  # "guest:mw1@pve-b": clusters
            return tuple(IcingaTarget(directory.resolve(n).icinga_name or n) for n in names)
        return ()

    def action_action_menu(self: Any) -> None:
        if not self._at_panes():
            return
        number, keys = self._selection()
        requests: dict[str, ActionRequest] = {}
        try:
            if number == 2 and keys:
                requests = alert_requests(self._icinga_targets(number, keys))
            elif number == 1 and keys:
                requests = host_requests(self._icinga_targets(number, keys))
        except Refused as exc:
            self.notify(str(exc), severity="error")
        from console.ui.farm_actions import host_farm_requests, service_requests

        try:  # restart, depool, guest power, Puppet (Hosts); rolling restart (Services)
            if number == 1 and keys:
                requests.update(host_farm_requests(self, keys))
                pool_requests(self, keys, requests)
            elif number == 3 and keys:
                requests.update(service_requests(self, keys))
        except Refused as exc:
            self.notify(str(exc), severity="error")
        requests["purge"] = purge_request()
        what = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "") if number in (1, 2, 3) else ""
        self.push_screen(ActionMenu(what, requests), self._open_action)

    def _open_action(self: Any, request: ActionRequest | None) -> None:
        if request is not None and request.prepare is not None:
            self.run_worker(ActionKeys._prepared(self, request), group="action-prepare", exclusive=True,
                            exit_on_error=False)  # the app mixes in console.ui.action_keys' forwarder, not this class
        elif request is not None:
            self.push_screen(ActionScreen(self.actions, request))

    async def _prepared(self: Any, request: ActionRequest) -> None:
        """What the plan needs read first (depool/repool: the caches' backend lists), then its screen."""
        assert request.prepare is not None
        self.notify(f"{request.label}: reading every cache's backend list…", timeout=3)
        try:
            ready = await request.prepare()
        except Exception as exc:  # noqa: BLE001 - said, never raised
            self.notify(f"{request.label}: {type(exc).__name__}: {exc}"[:300], severity="error")
            return
        self.push_screen(ActionScreen(self.actions, ready))

    def action_purge(self: Any) -> None:
        if self._at_panes():
            self._open_action(purge_request())

    def _alert_action(self: Any, name: str) -> None:
        if not self._at_panes():
            return
        number, keys = self._selection()
        if number != 2 or not keys:
            self.notify("A and D act on the Alerts pane (2); elsewhere use a", severity="warning")
            return
        try:
            targets = self._icinga_targets(number, keys)
        except Refused as exc:  # a Graylog event, another cluster's Icinga: said, never raised
            self.notify(str(exc), severity="error")
            return
        self._open_action(alert_requests(targets)[name])

    def action_acknowledge(self: Any) -> None:
        self._alert_action("ack")

    def action_downtime(self: Any) -> None:
        self._alert_action("downtime")

    def action_write_switch(self: Any) -> None:
        if not self._at_panes():
            return
        if self.actions.writable:
            def answered(back: bool | None) -> None:
                if back and self.actions.writable:
                    self.actions.disable_write()
                    self.notify("read-only again: actions are refused until W", timeout=5)

            self.push_screen(ReadOnlyAgainScreen(), answered)
            return

        def switched(confirmed: bool | None) -> None:
            if confirmed and self.actions.enable_write("tui"):
                self.notify("READ-WRITE: actions will change the farm (the switch is in the audit file)",
                            severity="warning", timeout=8)

        self.push_screen(WriteSwitchScreen(str(self.actions.engine.audit.path)), switched)

    def open_backends(self: Any) -> None:
        """Backend health per cache (`:backends`); varnishadm reads go through the command executor."""
        from console.ui.farm_actions import BackendsScreen

        engine = self.actions.engine
        commands = None
        if self.config.actions.depool.method == "varnishadm":
            try:
                commands = engine.command_executor()
            except Refused as exc:
                self.notify(str(exc), severity="error")
        self.push_screen(BackendsScreen(self.config, engine.session, commands))

    def action_tasks(self: Any) -> None:
        if self._at_panes():
            self.push_screen(TasksScreen(self.actions.tasks, cancel=self.actions.engine.cancel))


# --- screens ----------------------------------------------------------------------------------------


class WriteSwitchScreen(ModalScreen[bool]):
    """Type `write` to make the session read-write; anything else, esc or Cancel keeps it read-only."""

    DEFAULT_CSS = """
    WriteSwitchScreen { align: center middle; }
    #write-box { width: 64; height: auto; border: thick $error; padding: 0 1; background: $surface; }
    #write-box Input { margin: 1 0 0 0; }
    #write-buttons { height: auto; margin: 1 0 0 0; }
    #write-error { color: $error; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, audit_path: str) -> None:
        super().__init__()
        self.audit_path = audit_path

    def compose(self) -> ComposeResult:
        with Vertical(id="write-box"):
            yield Plain(Text.assemble(
                ("Switch this session to ", ""), ("READ-WRITE", "bold reverse red"),
                ("?\nActions will then change the farm. The switch is recorded, with your name, in\n", ""),
                safe_text(self.audit_path, style="italic"), (f".\n\nType {WRITE_WORD} and press enter.", "")))
            yield FormInput(placeholder=WRITE_WORD, id="write-word")
            yield Plain("", id="write-error")
            with Horizontal(id="write-buttons"):
                yield Button("Cancel", id="write-cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#write-box").border_title = "Write switch"
        self.query_one("#write-word", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == WRITE_WORD:
            self.dismiss(True)
        else:
            self.query_one("#write-error", Plain).update(f"type exactly {WRITE_WORD!r} (or esc to stay read-only)")

    def on_button_pressed(self, _: Button.Pressed) -> None:
        self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ReadOnlyAgainScreen(ModalScreen[bool]):
    """W in a read-write session: "back to read-only? y/N". y switches; n, enter or esc stays READ-WRITE.
    Every other key does nothing here (a modal screen: the app's keys stop at it), so `write` typed by
    habit after W (the word that switches the other way) never reaches the panes as keys (r, i, t, e)."""

    DEFAULT_CSS = """
    ReadOnlyAgainScreen { align: center middle; }
    #read-only-box { width: 50; height: auto; border: thick $warning; padding: 0 1; background: $surface; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Read-only"),
        Binding("n", "answer(False)", "Stay read-write"),
        Binding("enter", "answer(False)", "Stay read-write", show=False),
        Binding("escape", "answer(False)", "Stay read-write", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="read-only-box"):
            yield Plain(Text.assemble(("back to read-only? ", "bold"), ("y", "bold reverse"), "/", ("N", "bold reverse"),
                                      "\n\ny: READ-ONLY (actions are refused)\nn, enter, esc: stay READ-WRITE"))

    def on_mount(self) -> None:
        self.query_one("#read-only-box").border_title = "Write switch"

    def action_answer(self, back: bool) -> None:
        self.dismiss(back)


class ActionMenu(ModalScreen["ActionRequest | None"]):
    """The actions for the selected row(s); enter picks, esc closes."""

    DEFAULT_CSS = """
    ActionMenu { align: center middle; }
    #action-menu { width: 56; height: auto; max-height: 20; border: round $accent; background: $surface; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, requests: dict[str, ActionRequest]) -> None:
        super().__init__()
        self.what = what
        self.requests = requests

    def compose(self) -> ComposeResult:
        # labels and the title name hosts, services and checks: rich Texts, never markup (console.core.display)
        options = [Option(safe_text(request.label, identifier=True), id=name) for name, request in self.requests.items()]
        yield OptionList(*options, id="action-menu")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        menu.border_title = Text.assemble("Actions: ", safe_text(self.what, identifier=True)) if self.what else "Actions"
        menu.border_subtitle = "enter picks · esc closes"
        menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.requests[str(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)


FORM, CONFIRM, RUNNING, DONE = "form", "confirm", "running", "done"


class ActionScreen(ModalScreen[None]):
    """Plan → reason (+ task) → the tier's confirmation → live progress → the result. esc closes at any
    point; an action already sent keeps running (the task list, t, follows it)."""

    DEFAULT_CSS = """
    ActionScreen { align: center middle; }
    #action-box { width: 96%; max-width: 120; height: 94%; border: thick $accent; background: $surface; padding: 0 1; }
    #action-box.-readonly { border: thick $warning; }
    #action-plan { height: 1fr; min-height: 4; border: round $panel-lighten-2; }
    #action-fields { height: auto; }
    #action-fields Input { width: 1fr; }
    #action-message { color: $error; height: auto; }
    #action-challenge { text-style: bold; height: auto; }
    #action-buttons { height: auto; align-horizontal: right; }
    #action-buttons Button { margin: 0 0 0 1; }
    #action-confirm-word { width: 40; }
    .-hidden { display: none; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("y", "answer_yes", "Yes", show=False),
        Binding("n", "answer_no", "No", show=False),
        Binding("c", "cancel_run", "Cancel the action", show=False),
    ]

    def __init__(self, desk: ActionDesk, request: ActionRequest) -> None:
        super().__init__()
        self.desk = desk
        self.request = request
        self.stage = FORM
        self.plan: Plan | None = None
        self.progress: deque[Text] = deque(maxlen=MAX_PROGRESS_LINES)
        self.output: deque[Text] = deque(maxlen=MAX_PROGRESS_LINES)  # what commands printed, kept for the result
        self.dropped = 0  # progress lines no longer shown (the bound)
        self._redraw_pending = False
        self.result: ActionResult | None = None

    @property
    def engine(self) -> ActionEngine:
        return self.desk.engine

    def compose(self) -> ComposeResult:
        with Vertical(id="action-box"):
            with VerticalScroll(id="action-plan"):
                yield Plain("", id="action-plan-text")
            with Horizontal(id="action-fields"):
                # what the operator types is data: never markup, and no control character reaches the screen
                if self.request.asks_urls:
                    yield FormInput(placeholder="URL(s) to purge, space-separated", id="action-urls")
                if self.request.asks_duration:
                    yield FormInput(value=DEFAULT_DOWNTIME, placeholder="duration: 30m, 2h, 1d", id="action-duration")
                for field in self.request.fields:
                    yield FormInput(value=field.default, placeholder=field.placeholder, id=f"action-{field.name}")
                yield FormInput(placeholder="reason (required)", id="action-reason")
                yield FormInput(placeholder="task, e.g. T12345 (optional)", id="action-task")
            yield Plain("", id="action-message")
            yield Plain("", id="action-challenge")
            yield FormInput(placeholder="", id="action-confirm-word", classes="-hidden")
            with Horizontal(id="action-buttons"):
                yield Button("Cancel", id="action-cancel", compact=True)
                yield Button("Next", id="action-next", compact=True, variant="primary")
                yield Button("No (n)", id="action-no", compact=True, classes="-hidden")
                yield Button("Yes (y)", id="action-yes", compact=True, variant="error", classes="-hidden")

    def on_mount(self) -> None:
        box = self.query_one("#action-box")
        box.border_title = safe_text(self.request.label, identifier=True)  # a Text: never markup
        box.border_subtitle = "esc closes"
        box.set_class(not self.desk.writable, "-readonly")
        self.query_one("#action-fields Input", Input).focus()
        self.show_plan()
        if not self.desk.writable:
            self.say("read-only session: this is a dry run and nothing will be sent (W switches, logged)", "bold yellow")

    # --- form -------------------------------------------------------------------------------------

    def _field(self, name: str) -> str:
        found = self.query(f"#action-{name}")
        return found.first(Input).value if found else ""

    def _action(self) -> Action:
        if self.request.make is not None:
            return self.request.make({field.name: self._field(field.name) for field in self.request.fields})
        assert self.request.build is not None
        duration = parse_duration(self._field("duration")) if self.request.asks_duration else None
        return self.request.build(self._field("urls"), duration)

    def show_plan(self) -> None:
        """The plan as it stands (no reason yet is fine: the preview is a dry run)."""
        text = self.query_one("#action-plan-text", Plain)
        if self.request.asks_urls and not self._field("urls").strip():
            text.update("type the URL(s) to purge; the plan (every request, the targets, the tier) shows here")
            return
        try:
            plan = self.engine.plan(self._action())
        except Refused as exc:
            text.update(safe_text(str(exc), multiline=True, style="bold red"))
            return
        text.update(self._plan_text(plan))

    def _plan_text(self, plan: Plan) -> Text:
        tier = Text(f"tier {int(plan.risk)}", style="bold reverse " + ("red" if plan.risk is Risk.IRREVERSIBLE else
                                                                       "yellow" if plan.risk is Risk.SEVERAL else "green"))
        return Text.assemble(tier, " ", safe_text(plan.render(), multiline=True))  # render(): display-safe already

    def on_input_changed(self, event: Input.Changed) -> None:
        fields = ("action-urls", "action-duration", *(f"action-{field.name}" for field in self.request.fields))
        if self.stage == FORM and event.input.id in fields:
            self.show_plan()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.stage == FORM:
            self.next()
        elif self.stage == CONFIRM and event.input.id == "action-confirm-word":
            self.confirm(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "action-cancel":
            self.action_close()
        elif button == "action-next":
            self.next()
        elif button == "action-no":
            self.action_answer_no()
        elif button == "action-yes":
            self.action_answer_yes()

    def say(self, message: str, style: str = "bold red") -> None:
        """A line under the form: refusals and answers often quote names or the operator's own input."""
        self.query_one("#action-message", Plain).update(safe_text(message, multiline=True, style=style))

    def next(self) -> None:
        """Form → confirmation: the plan with its reason, or the refusal (read-only, no reason, bad input)."""
        try:
            plan = self.engine.plan(self._action(), reason=self._field("reason"), task=self._field("task").strip() or None)
        except Refused as exc:
            self.say(str(exc))
            return
        self.query_one("#action-plan-text", Plain).update(self._plan_text(plan))
        if not self.desk.writable:
            self.engine.dry_run(plan)
            self.say("refused: this session is read-only; nothing was sent. W switches to read-write (logged).")
            return
        if self.engine.is_running(plan):
            self.say(f"refused: {plan.title} is already running; t shows the task list")
            return
        self.plan = plan
        self.stage = CONFIRM
        self.say("")
        for widget in self.query("#action-fields Input"):
            widget.disabled = True
        self.query_one("#action-next").add_class("-hidden")
        challenge = self.engine.challenge(plan)
        # the question names what is confirmed: shown as an identifier, so no name can pass for another
        self.query_one("#action-challenge", Plain).update(safe_text(challenge.prompt, identifier=True))
        if plan.risk is Risk.REVERSIBLE:
            self.query_one("#action-yes").remove_class("-hidden")
            no = self.query_one("#action-no", Button)
            no.remove_class("-hidden")
            no.focus()  # No is the default
        else:
            word = self.query_one("#action-confirm-word", Input)
            word.placeholder = f"type {safe(challenge.expected, identifier=True)}"
            word.remove_class("-hidden")
            word.focus()

    # --- confirmation -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("answer_yes", "answer_no"):
            return self.stage == CONFIRM and self.plan is not None and self.plan.risk is Risk.REVERSIBLE
        if action == "cancel_run":
            return self.stage == RUNNING
        return True

    def action_answer_yes(self) -> None:
        self.confirm("y")

    def action_answer_no(self) -> None:
        self.say("not confirmed; nothing was sent", "bold yellow")
        self.action_close()

    def confirm(self, answer: str) -> None:
        plan = self.plan
        if plan is None or self.stage != CONFIRM:
            return
        if not self.engine.challenge(plan).accepts(answer):
            self.say(f"refused: not confirmed; type exactly {self.engine.challenge(plan).expected!r} (nothing was sent)")
            return
        self.stage = RUNNING
        for selector in ("#action-yes", "#action-no", "#action-confirm-word"):
            self.query_one(selector).add_class("-hidden")
        self.query_one("#action-cancel", Button).label = "Close"
        self.query_one("#action-challenge", Plain).update("")
        self.say("")
        self.query_one("#action-cancel", Button).focus()
        self.query_one("#action-box").border_subtitle = "c cancels · esc closes (the action keeps running)"
        self.app.run_worker(self.desk.run(plan, Confirmation(answer, via="tui"), self), group="actions",
                            exit_on_error=False)

    # --- progress and result ----------------------------------------------------------------------

    def show_event(self, event: ActionEvent) -> None:
        # a command's output and a backend's words: display-safe Texts (console.core.display), never markup
        if event.kind == "output":
            line = safe_text(f"  {event.message}", multiline=True, style="dim")
            self.output.append(line)
        elif event.kind == "batch":
            line = safe_text(f"▶ {event.message}", style="bold")
        else:
            style = OUTCOME_STYLE.get(event.status or "", "") if event.kind == "finished" else \
                ("red" if event.status not in (None, "ok", "skipped", "running") else "")
            line = safe_text(f"{event.kind:<14} {event.message}", style=style)
        if len(self.progress) == self.progress.maxlen:
            self.dropped += 1
        self.progress.append(line)
        # a chatty command prints faster than the screen needs redrawing: at most one redraw per tick
        if not self._redraw_pending:
            self._redraw_pending = True
            self.set_timer(0.05, self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        if self.stage != DONE and self.is_attached:
            self._show_progress()
            self.query_one("#action-plan", VerticalScroll).scroll_end(animate=False)

    def _show_progress(self, *extra: Any) -> None:
        dropped = [Text(f"… {self.dropped} earlier lines not shown", style="italic")] if self.dropped else []
        self.query_one("#action-plan-text", Plain).update(Group(*dropped, *self.progress, *extra))

    def action_cancel_run(self) -> None:
        """c while running: confirm, then ask the engine to stop where it safely can."""
        plan = self.plan
        if plan is None or self.stage != RUNNING:
            return
        from console.ui.farm_actions import ConfirmCancelScreen

        def answered(confirmed: bool | None) -> None:
            if not confirmed or self.stage != RUNNING:
                return
            if self.engine.cancel(plan.id):
                for task in self.desk.tasks.running():
                    if task.plan.id == plan.id:
                        task.cancel_requested = True  # the task list says `cancelling`
                self.say("cancel requested: the action will stop after the current batch (the host in hand is "
                         "finished and repooled)", "bold yellow")
            else:
                self.say("nothing to cancel: the action has already ended", "bold yellow")

        self.app.push_screen(ConfirmCancelScreen(plan.title), answered)

    def show_refusal(self, message: str) -> None:
        """The engine refused (already running, not confirmed, audit unwritable): nothing was sent."""
        self.stage = DONE
        self.say(message)

    def show_result(self, result: ActionResult) -> None:
        self.stage = DONE
        self.result = result
        # the table says what the progress said, in a stable order (the caches answer in any order)
        table = result_table(result)
        output = [Text("output (the last lines):", style="bold"), *self.output] if self.output else []
        self.query_one("#action-plan-text", Plain).update(Group(table, *output) if output else table)
        box = self.query_one("#action-box")
        box.border_subtitle = f"{result.outcome.upper()} · esc closes"

    def action_close(self) -> None:
        self.dismiss(None)


def result_table(result: ActionResult) -> Table:
    """Per target: status and detail; for a purge, the verification GET through each cache too. Every
    cell is a display-safe Text (a str cell would be markup): targets and URLs as identifiers."""
    outcome = safe_text(f"{result.plan.title}: {result.outcome.upper()} in {result.duration_s:.1f}s",
                        style=OUTCOME_STYLE.get(result.outcome, "bold"))
    table = Table(title=outcome, title_justify="left", expand=False, show_edge=False, pad_edge=False)
    if result.plan.action == "purge":
        for column in ("cache", "purge", "verify", "hit/miss", "Age", "URL"):
            table.add_column(column)
        for step in result.steps:
            check = step.verify
            hit = "" if check is None else {True: "HIT", False: "MISS", None: "?"}[check.hit]
            table.add_row(safe_text(step.target, identifier=True),
                          safe_text(f"{step.status} {step.http_status or ''}".strip(),
                                    style="green" if step.good else "bold red"),
                          Text("") if check is None else safe_text(check.error or str(check.status)),
                          Text(hit, style="green" if hit == "MISS" else "bold red" if hit == "HIT" else ""),
                          Text("" if check is None or check.age is None else str(check.age)),
                          safe_text(step.subject, identifier=True))
    else:
        for column in ("target", "status", "detail"):
            table.add_column(column)
        for step in result.steps:
            table.add_row(safe_text(step.target, identifier=True),
                          safe_text(step.status, style="green" if step.good else "bold red"),
                          safe_text(step.detail, multiline=True))
    if result.notices:  # a Text caption keeps the caption's style only when given it
        table.caption = Text.assemble(*(safe_text(f"note: {notice}\n") for notice in result.notices),
                                      style="table.caption")
    return table
