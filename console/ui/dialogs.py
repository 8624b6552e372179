"""The console's generic dialogs: the write switch and its way back, the y/N questions (cancel a running
action, end the incident), a picker of a few options, and a one-line text prompt. Feature screens
(console/ui/screens/) open them; they know nothing of actions or incidents beyond the words they show.
Every name or text from outside is shown display-safe (console.core.display), never as markup.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList
from textual.widgets.option_list import Option

from console.core.display import safe_text
from console.ui.widgets.forms import FormInput
from console.ui.widgets.plain import Plain

WRITE_WORD = "write"


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


class Confirm(ModalScreen[bool]):
    """A y/N question in a box: y says yes; n and esc say no. Every other key does nothing here (a modal
    screen: the app's keys stop at it). Subclasses give the BINDINGS' words, the box and the question."""

    BOX_ID = "confirm-box"
    BOX_TITLE = ""

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question  # names from outside in it are display-safe Texts already

    def compose(self) -> ComposeResult:
        with Vertical(id=self.BOX_ID):
            yield Plain(self.question)

    def on_mount(self) -> None:
        self.query_one(f"#{self.BOX_ID}").border_title = self.BOX_TITLE

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ReadOnlyAgainScreen(Confirm):
    """W in a read-write session: "back to read-only? y/N". y switches; n, enter or esc stays READ-WRITE,
    so `write` typed by habit after W (the word that switches the other way) never reaches the panes."""

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
    BOX_ID, BOX_TITLE = "read-only-box", "Write switch"

    def __init__(self) -> None:
        super().__init__(Text.assemble(("back to read-only? ", "bold"), ("y", "bold reverse"), "/", ("N", "bold reverse"),
                             "\n\ny: READ-ONLY (actions are refused)\nn, enter, esc: stay READ-WRITE"))


class ConfirmCancelScreen(Confirm):
    """Cancel a running action? y cancels; n or esc keeps it running."""

    DEFAULT_CSS = """
    ConfirmCancelScreen { align: center middle; }
    #cancel-box { width: 70; height: auto; border: thick $warning; background: $surface; padding: 0 1; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Cancel it"),
        Binding("n", "answer(False)", "Keep running"),
        Binding("escape", "answer(False)", "Keep running"),
    ]
    BOX_ID, BOX_TITLE = "cancel-box", "Cancel the action"

    def __init__(self, title: str) -> None:
        super().__init__(Text.assemble(
            ("Cancel ", "bold"), safe_text(title, style="bold"), ("?\n\n", "bold"),
            "It will stop after the current batch: the hosts in hand finish (and are repooled), the next\n"
            "batches are skipped. A step already sent is never cut short.\n\n",
            ("y", "bold reverse"), " cancel it    ", ("n", "bold reverse"), " / esc keep it running"))


class ConfirmEndScreen(Confirm):
    """End the open incident? y ends and archives it; n or esc keeps it open."""

    DEFAULT_CSS = """
    ConfirmEndScreen { align: center middle; }
    #end-box { width: 60; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No"),
                Binding("escape", "answer(False)", "No", show=False)]
    BOX_ID = "end-box"

    def __init__(self, title: str) -> None:
        # the title is the operator's own words (or another session's): shown as data, never as markup
        super().__init__(Text.assemble("End the incident '", safe_text(title), "'? Its timeline is archived. [y/N]"))


class Picker(ModalScreen[str | None]):
    """Choose one of a few options (enter), or none (esc). Dismisses with the option's id. The title and
    the prompts (hosts, links, streams: names from outside) are shown display-safe as identifiers,
    never as markup; the ids stay exact."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel"), Binding("q", "dismiss_none", "Cancel", show=False)]

    def __init__(self, title: str, options: Sequence[tuple[str, str | Text]], highlighted: int = 0) -> None:
        super().__init__()
        self._title = title
        self._choices = list(options)
        self._highlighted = highlighted

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield OptionList(*(Option(safe_text(prompt, identifier=True), id=key) for key, prompt in self._choices))

    def on_mount(self) -> None:
        box = self.query_one("#picker")
        box.border_title = safe_text(self._title, identifier=True)
        box.border_subtitle = "enter picks · esc cancels"
        options = self.query_one(OptionList)
        options.highlighted = self._highlighted
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TextPrompt(ModalScreen["str | None"]):
    """One line of text (enter), or none (esc): a note for the timeline, a name. Dismisses with the text."""

    DEFAULT_CSS = """
    TextPrompt { align: center middle; }
    TextPrompt > Vertical { width: 70; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, placeholder: str = "", field_id: str = "prompt-text") -> None:
        super().__init__()
        self.prompt_title = title
        self.placeholder = placeholder
        self.field_id = field_id

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = safe_text(self.prompt_title)
            yield FormInput(placeholder=self.placeholder, id=self.field_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
