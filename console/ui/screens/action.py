"""The action screens: the menu of what the selected rows allow (a), and the screen of one action —
its form (from its ActionSpec), its plan, the reason, the tier's confirmation, live progress and the
result. Everything goes through the engine by the desk (console/ui/desk.py): refusals are shown, never
raised.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList
from textual.widgets.option_list import Option

from console.actions import Action, ActionEngine, ActionEvent, ActionResult, Confirmation, Refused, Risk
from console.actions.plan import Plan
from console.actions.specs import MakeContext, Offer
from console.core.display import safe, safe_text
from console.core.hosts import HostDirectory
from console.ui.desk import OUTCOME_STYLE, ActionDesk
from console.ui.dialogs import ConfirmCancelScreen
from console.ui.widgets.forms import FormInput
from console.ui.widgets.plain import Plain

MAX_PROGRESS_LINES = 400  # the action screen keeps the last lines of a long output, not all of it


class ActionMenu(ModalScreen["Offer | None"]):
    """The actions for the selected row(s) (console.actions.specs.offers_for); enter picks, esc closes."""

    DEFAULT_CSS = """
    ActionMenu { align: center middle; }
    #action-menu { width: 56; height: auto; max-height: 20; border: round $accent; background: $surface; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: str, offers: list[Offer]) -> None:
        super().__init__()
        self.what = what
        self.offers = {offer.id: offer for offer in offers}

    def compose(self) -> ComposeResult:
        # labels and the title name hosts, services and checks: rich Texts, never markup (console.core.display)
        options = [Option(safe_text(offer.label, identifier=True), id=name) for name, offer in self.offers.items()]
        yield OptionList(*options, id="action-menu")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        menu.border_title = Text.assemble("Actions: ", safe_text(self.what, identifier=True)) if self.what else "Actions"
        menu.border_subtitle = "enter picks · esc closes"
        menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.offers[str(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)


FORM, CONFIRM, RUNNING, DONE = "form", "confirm", "running", "done"


class ActionScreen(ModalScreen[None]):
    """Plan → reason (+ task) → the tier's confirmation → live progress → the result. esc closes at any
    point; an action already sent keeps running (the task list, t, follows it).

    The form asks the offer's spec's parameters the rows did not give (their labels, placeholders and
    defaults are the spec's), then the reason and the task; the plan below follows the typing."""

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

    def __init__(self, desk: ActionDesk, offer: Offer) -> None:
        super().__init__()
        self.desk = desk
        self.offer = offer
        self.asked = tuple(param for param in offer.spec.form if param.name not in offer.values) \
            if offer.action is None else ()
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
                values = self.offer.spec.form_values(self.desk.app.config)
                for param in self.asked:
                    yield FormInput(value=values.get(param.name, ""), placeholder=param.placeholder,
                                    id=f"action-{param.name}")
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
        box.border_title = safe_text(self.offer.label, identifier=True)  # a Text: never markup
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
        if self.offer.action is not None:  # made beforehand (a leftover's clean-up, a prepared depool)
            action: Action = self.offer.action
            return action
        app = self.desk.app
        values = {**self.offer.values, **{param.name: self._field(param.name) for param in self.asked}}
        return self.offer.spec.make_action(values, MakeContext(app.config, partial(HostDirectory.from_store, app.store,
                                                                                   app.config), app.store))

    def show_plan(self) -> None:
        """The plan as it stands (no reason yet is fine: the preview is a dry run)."""
        text = self.query_one("#action-plan-text", Plain)
        missing = next((param for param in self.asked if param.required and not self._field(param.name).strip()), None)
        if missing is not None:
            text.update(f"type the {missing.label}; the plan (every request, the targets, the tier) shows here")
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
        fields = tuple(f"action-{param.name}" for param in self.asked)
        if self.stage == FORM and event.input.id in fields:
            self.show_plan()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.stage == FORM:
            self.next()
        elif self.stage == CONFIRM and event.input.id == "action-confirm-word":
            self.confirm(event.value)

    @on(Button.Pressed, "#action-cancel")
    def _cancel_pressed(self) -> None:
        self.action_close()

    @on(Button.Pressed, "#action-next")
    def _next_pressed(self) -> None:
        self.next()

    @on(Button.Pressed, "#action-no")
    def _no_pressed(self) -> None:
        self.action_answer_no()

    @on(Button.Pressed, "#action-yes")
    def _yes_pressed(self) -> None:
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
    if any(step.verify is not None for step in result.plan.steps):  # a purge: the GET through each cache
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
