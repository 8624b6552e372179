"""The input of every form (actions, incidents, dialogs): what is typed is data."""

from __future__ import annotations

from textual.widgets import Input

from console.core.display import control_characters


class FormInput(Input):
    """An input of the action and incident forms. What is typed is data (an Input never reads markup);
    a paste holding control or invisible characters (ESC, BEL, a bidi override, a zero-width space) is
    refused whole and said: an Input shows its value as it is, so they would reach the terminal as
    commands, and a reason, a URL or a title holding them is refused anyway. A tab is a space."""

    def replace(self, text: str, start: int, end: int) -> None:
        text = text.replace("\t", " ")
        found = control_characters(text)
        if found:
            self.restricted()
            self.notify(f"not typed in: the text holds control characters ({', '.join(found[:3])}); "
                        "type it without them", severity="warning", timeout=6)
            return
        super().replace(text, start, end)
