"""One line naming every pane with its number and badge; the pane on screen is highlighted."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import Static

from console.core.display import safe_text


class TabBar(Static):
    """"1 Hosts 84 │ 2 Alerts 5 │ 3 Services │ 4 Commits" (shown when one pane fits at a time)."""

    def __init__(self) -> None:
        super().__init__("", id="tab-bar")
        self._shown: tuple[tuple[tuple[int, str, str], ...], int] | None = None

    def show(self, tabs: Sequence[tuple[int, str, str]], active: int) -> None:
        if (tuple(tabs), active) == self._shown:
            return  # the same words: nothing to repaint
        self._shown = (tuple(tabs), active)
        parts = []
        for number, title, badge in tabs:
            label = f" {number} {title}" + (f" {badge}" if badge else "") + " "
            parts.append(safe_text(label, style="bold reverse" if number == active else ""))
        self.update(Text("│").join(parts), layout=False)  # one line, as wide as the screen
