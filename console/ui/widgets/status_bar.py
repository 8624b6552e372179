"""The bottom line: every source's health, latency and data age (failures always in full)."""

from __future__ import annotations

from typing import Sequence

from textual.widgets import Static

from console.views import SourceHealth, status_line


class StatusBar(Static):
    def __init__(self) -> None:
        super().__init__("", id="status-bar")
        self._items: tuple[SourceHealth, ...] = ()

    def show(self, items: Sequence[SourceHealth]) -> None:
        items = tuple(items)
        if items != self._items:
            self._items = items
            self._render_items()

    def on_resize(self) -> None:
        self._render_items()

    def _render_items(self) -> None:
        self.update(status_line(self._items, self.content_size.width))
