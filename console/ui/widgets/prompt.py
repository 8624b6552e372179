"""The one-line prompt under the panes: `/` filters the focused pane as you type, `:` jumps
(with completion: tab or → takes the suggestion). esc cancels; enter submits."""

from __future__ import annotations

from typing import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from console.ui.widgets.plain import Plain

PLACEHOLDERS = {
    "filter": "filter: text, ~regex, !inverted — esc clears, enter keeps",
    "jump": "hosts alerts services commits · host NAME · theme NAME · q — tab completes",
}


class CommandLine(Input):
    class Done(Message):
        """The prompt closed: `submitted` False for esc."""

        def __init__(self, mode: str, value: str, submitted: bool) -> None:
            super().__init__()
            self.mode, self.value, self.submitted = mode, value, submitted

    # Input widens its virtual size with every character typed, which would lay the whole screen out
    # again per keystroke; this one is one line as wide as the prompt whatever it holds (#command-line)
    virtual_size = Reactive(Size(0, 0), layout=False)

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="command-line", compact=True)
        self.mode = "filter"

    def open(self, mode: str, value: str = "", suggestions: Sequence[str] = ()) -> None:
        self.mode = mode
        self.suggester = SuggestFromList(suggestions, case_sensitive=False) if suggestions else None
        self.placeholder = PLACEHOLDERS.get(mode, "")
        self.set_class(mode == "jump", "-jump")
        self.value = value
        self.cursor_position = len(value)
        self.focus()

    def action_cancel(self) -> None:
        self.post_message(self.Done(self.mode, self.value, submitted=False))

    def action_complete(self) -> None:
        if self._suggestion and len(self._suggestion) > len(self.value):
            self.value = self._suggestion
            self.cursor_position = len(self.value)

    async def action_submit(self) -> None:
        self.post_message(self.Done(self.mode, self.value, submitted=True))


SIGNS = {"filter": "/", "jump": ":"}


class PromptBar(Horizontal):
    """The prompt's sign (`/` or `:`) and its input; hidden until opened, hidden again when done."""

    def __init__(self) -> None:
        super().__init__(id="prompt")
        self.sign = Static("/", id="prompt-sign")
        self.input = CommandLine()
        self.error = Plain("", id="prompt-error")
        self.error.display = False
        self.display = False

    def compose(self) -> ComposeResult:
        yield self.sign
        yield self.input
        yield self.error

    def set_error(self, problem: str | None) -> None:
        """Say what is wrong with what is typed (a filter that is no regex yet), or nothing."""
        self.error.display = problem is not None
        if problem is not None:
            self.error.update(f"bad regex: {problem}")

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def open(self, mode: str, value: str = "", suggestions: Sequence[str] = ()) -> None:
        self.sign.update(SIGNS.get(mode, ">"))
        self.set_error(None)
        self.display = True
        self.input.open(mode, value, suggestions)

    def on_command_line_done(self, message: CommandLine.Done) -> None:
        self.display = False
