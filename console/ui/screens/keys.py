"""What every screen shares about keys: `?` shows the screen's own keys, made from its active bindings
(each binding has a description) and a few notes, so the help can never go stale; 1-4 from a screen
over the panes goes back to them."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding
from textual.screen import Screen


def help_entries(screen: Screen[Any]) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding active on `screen`, in its order; the bindings of one
    action and description (1 2 3 4: Pane) on one line, `?` itself last."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or not active.enabled:
            continue
        action = binding.action.removeprefix("screen.").removeprefix("app.").split("(", 1)[0]
        keys = grouped.setdefault((action, binding.description), [])
        display = screen.app.get_key_display(Binding(key, binding.action))
        if display not in keys:
            keys.append(display)
    entries = [("  ".join(keys), description) for (action, description), keys in grouped.items() if action != "help"]
    entries += [("  ".join(keys), description) for (action, description), keys in grouped.items() if action == "help"]
    return entries


class HelpKeys:
    """Mixed into a screen: `action_help` opens the help of this screen's keys plus HELP_NOTES."""

    HELP_TITLE: ClassVar[str] = "Keys"
    HELP_NOTES: ClassVar[tuple[str, ...]] = ()

    def action_help(self) -> None:
        from console.ui.screens.help import HelpScreen

        assert isinstance(self, Screen)
        if not isinstance(self, HelpScreen):
            self.app.push_screen(HelpScreen(help_entries(self), self.HELP_NOTES, title=self.HELP_TITLE))


class BackToPanes:
    """Mixed into a screen over the panes (a host's detail, the logs, the timeline), for the app's keys
    that work there too (console/ui/app.py): 1-4 closes every screen over the panes and shows that
    pane; r refreshes every source; p pauses or resumes the refresh (the header says so everywhere)."""

    def _panes(self) -> Any:
        assert isinstance(self, Screen)
        return self.app.screen_stack[0]

    def action_show_pane(self, number: int) -> None:
        assert isinstance(self, Screen)
        app = self.app
        while len(app.screen_stack) > 1:
            app.pop_screen()
        self._panes().action_show_pane(number)

    def action_refresh(self) -> None:
        self._panes().action_refresh()

    def action_pause(self) -> None:
        self._panes().action_pause()
