"""The bottom line: every source's health, latency and data age (failures always in full), and the
GitHub rate limit left."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from textual.widgets import Static

from console.core.display import safe_text

if TYPE_CHECKING:
    from console.derive.status_bar import Quota, SourceHealth


class StatusBar(Static):
    def __init__(self) -> None:
        super().__init__("", id="status-bar")
        self._items: tuple[SourceHealth, ...] = ()
        self._quota: Quota | None = None

    def show(self, items: Sequence[SourceHealth], quota: Quota | None = None) -> None:
        items = tuple(items)
        if items != self._items or quota != self._quota:
            self._items, self._quota = items, quota
            self._render_items()

    def on_resize(self) -> None:
        self._render_items()

    def _render_items(self) -> None:
        if not self._items and self._quota is None:
            self.update("")  # nothing to say yet; console.derive loads with the first data
            return
        from console.derive.status_bar import status_line

        # one line, as wide as the screen: a new text never changes the layout
        self.update(safe_text(status_line(self._items, self.content_size.width, self._quota)), layout=False)
