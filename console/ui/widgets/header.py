"""The top line: which farm, which environment (production stands out), who, read-only, UTC time."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from console.core.clock import Clock
from console.ui.widgets.plain import Plain


def environment_class(environment: str, production: bool) -> str:
    """production red (unmistakable), staging yellow, anything else (demo, test) neutral."""
    if production:
        return "-production"
    if environment.lower().startswith("stag"):
        return "-staging"
    return "-other"


class FarmHeader(Horizontal):
    """Farm name, environment badge (word + colour), user@host, READ-ONLY badge and the UTC clock."""

    def __init__(self, farm: str, environment: str, production: bool, identity: str, clock: Clock) -> None:
        super().__init__(id="header")
        self._farm, self._environment, self._production = farm, environment, production
        self._identity, self._clock = identity, clock
        self._shown = self._clock_text()
        self._clock_label = Static(self._shown, id="clock")
        self._paused = Static(" PAUSED ", id="paused")
        self._paused.display = False
        self._incident = Plain("", id="incident")
        self._incident.display = False

    def compose(self) -> ComposeResult:
        yield Plain(self._farm, id="farm-name")  # names from the config file: data, never markup
        yield Plain(f" {self._environment.upper()} ", id="environment", classes=environment_class(self._environment, self._production))
        yield Plain(self._identity, id="identity")
        yield Static(" READ-ONLY ", id="read-only")
        yield self._clock_label  # docked right
        yield self._paused
        yield self._incident

    def set_incident(self, text: str | None) -> None:
        """The open incident's badge (incident mode), or nothing."""
        self._incident.display = text is not None
        if text is not None:
            self._incident.update(text)

    def set_paused(self, paused: bool) -> None:
        """The PAUSED word (refresh held for the whole console)."""
        self._paused.display = paused

    def _clock_text(self) -> str:
        return self._clock().strftime("%Y-%m-%d %H:%M:%S UTC")

    def tick(self) -> None:
        """Show the clock's time; a fixed clock never changes the screen."""
        text = self._clock_text()
        if text != self._shown:
            self._shown = text
            self._clock_label.update(text, layout=False)  # same width every second: no layout of the screen
