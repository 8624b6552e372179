"""The action keys of the app (a P A D W t, :backends) without the action engine at start-up.

The app mixes in this `ActionKeys`; each key loads console/ui/actions.py (and the engine behind it)
on its first press and runs that module's `ActionKeys` method on the app. tests/ui/test_lazy_startup.py
checks that the engine stays unloaded until then. `FormInput` is the input of the action (and
incident) forms: light, so it is here rather than with the engine.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import Input

from console.core.display import control_characters

ACTION_BINDINGS = [
    Binding("a", "action_menu", "Actions", show=False),
    Binding("P", "purge", "Purge", show=False),
    Binding("A", "acknowledge", "Ack", show=False),
    Binding("D", "downtime", "Downtime", show=False),
    Binding("W", "write_switch", "Write", show=False),
    Binding("t", "tasks", "Tasks", show=False),
]


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


def _keys() -> Any:
    from console.ui.actions import ActionKeys

    return ActionKeys


class ActionKeys:
    """Forwards to console.ui.actions.ActionKeys (its methods take the app as `self`)."""

    def _at_panes(self) -> bool:
        return _keys()._at_panes(self)

    def _selection(self) -> tuple[int, list[str]]:
        return _keys()._selection(self)

    def _icinga_targets(self, number: int, keys: list[str]) -> tuple[Any, ...]:
        return _keys()._icinga_targets(self, number, keys)

    def _open_action(self, request: Any) -> None:
        _keys()._open_action(self, request)

    def _alert_action(self, name: str) -> None:
        _keys()._alert_action(self, name)

    def action_action_menu(self) -> None:
        _keys().action_action_menu(self)

    def action_purge(self) -> None:
        _keys().action_purge(self)

    def action_acknowledge(self) -> None:
        _keys().action_acknowledge(self)

    def action_downtime(self) -> None:
        _keys().action_downtime(self)

    def action_write_switch(self) -> None:
        _keys().action_write_switch(self)

    def open_backends(self) -> None:
        _keys().open_backends(self)

    def action_tasks(self) -> None:
        _keys().action_tasks(self)
