"""The bottom line: every source's health, latency and data age (failures always in full), and the
GitHub rate limit left; before them, for a while, a short note from the app ("▲ Alerts was behind;
redrawn")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from console.core.display import safe_text

if TYPE_CHECKING:
    from console.derive.status_bar import Quota, SourceHealth

NOTE_SECONDS = 30.0  # how long a note stays at the start of the line


class StatusBar(Static):
    def __init__(self) -> None:
        super().__init__("", id="status-bar")
        self._items: tuple[SourceHealth, ...] = ()
        self._quota: Quota | None = None
        self._note: str | None = None
        self._note_timer: Timer | None = None
        self._shown: Text | None = None

    @property
    def note_text(self) -> str | None:
        """The note shown at the start of the line, if any."""
        return self._note

    def show(self, items: Sequence[SourceHealth], quota: Quota | None = None) -> None:
        items = tuple(items)
        if items != self._items or quota != self._quota:
            self._items, self._quota = items, quota
            self._render_items()

    def note(self, text: str | None, seconds: float = NOTE_SECONDS) -> None:
        """Say `text` first on the line for `seconds` (None: no note)."""
        if self._note_timer is not None:
            self._note_timer.stop()
            self._note_timer = None
        self._note = text
        if text is not None and self.is_mounted:
            self._note_timer = self.set_timer(seconds, lambda: self.note(None))
        self._render_items()

    def on_resize(self) -> None:
        self._render_items()

    def _render_items(self) -> None:
        note = safe_text(f"{self._note}  ", style="bold yellow") if self._note else Text("")
        if not self._items and self._quota is None:
            self.update(note if self._note else "")  # nothing to say yet; console.derive loads with the first data
            self._shown = None
            return
        from console.derive.status_bar import status_line

        # one line, as wide as the screen: a new text never changes the layout; the same text is not repainted
        line = safe_text(status_line(self._items, max(0, self.content_size.width - note.cell_len), self._quota))
        shown = Text.assemble(note, line) if self._note else line
        if shown != self._shown:
            self._shown = shown
            self.update(shown, layout=False)
