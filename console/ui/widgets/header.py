"""The top line: which farm, which environment (production stands out), who, read-only, UTC time.

The app owns one header (the panes'); every other full screen (a host's detail, the log screen) shows
a `follower()` of it: the same farm and identity, and the same mode, PAUSED and incident badge, kept
in step by the app's header. So no screen can say READ-ONLY while the session is READ-WRITE."""

from __future__ import annotations

from weakref import WeakSet

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from console.core.clock import Clock
from console.ui.widgets.plain import Plain

READ_ONLY, READ_WRITE = " READ-ONLY ", " READ-WRITE "


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
        self._mode = Static(READ_ONLY, id="read-only")
        self._paused = Static(" PAUSED ", id="paused")
        self._paused.display = False
        self._incident = Plain("", id="incident")
        self._incident.display = False
        self._writable = False
        self._incident_text: str | None = None
        self._followers: WeakSet[FarmHeader] = WeakSet()

    def compose(self) -> ComposeResult:
        yield Plain(self._farm, id="farm-name")  # names from the config file: data, never markup
        yield Plain(f" {self._environment.upper()} ", id="environment", classes=environment_class(self._environment, self._production))
        yield Plain(self._identity, id="identity")
        yield self._mode
        yield self._clock_label  # docked right
        yield self._paused
        yield self._incident

    def follower(self) -> FarmHeader:
        """A header for another screen: this one's farm, identity and clock, and from now on its mode,
        PAUSED and incident badge too (set here, shown there)."""
        header = FarmHeader(self._farm, self._environment, self._production, self._identity, self._clock)
        header._show(self._writable, bool(self._paused.display), self._incident_text)
        self._followers.add(header)
        return header

    def set_writable(self, writable: bool) -> None:
        """READ-WRITE (in reverse red) or READ-ONLY, here and on every follower."""
        for header in self._all():
            header._show(writable, bool(header._paused.display), header._incident_text)

    def set_incident(self, text: str | None) -> None:
        """The open incident's badge (incident mode), or nothing."""
        for header in self._all():
            header._show(header._writable, bool(header._paused.display), text)

    def set_paused(self, paused: bool) -> None:
        """The PAUSED word (refresh held for the whole console)."""
        for header in self._all():
            header._show(header._writable, paused, header._incident_text)

    def _all(self) -> list[FarmHeader]:
        return [self, *self._followers]

    def _show(self, writable: bool, paused: bool, incident: str | None) -> None:
        if writable != self._writable:
            self._writable = writable
            self._mode.update(READ_WRITE if writable else READ_ONLY)
            self._mode.set_class(writable, "-write")
        self._paused.display = paused
        self._incident_text = incident
        self._incident.display = incident is not None
        if incident is not None:
            self._incident.update(incident)

    def _clock_text(self) -> str:
        return self._clock().strftime("%Y-%m-%d %H:%M:%S UTC")

    def tick(self) -> None:
        """Show the clock's time; a fixed clock never changes the screen."""
        text = self._clock_text()
        if text != self._shown:
            self._shown = text
            self._clock_label.update(text, layout=False)  # same width every second: no layout of the screen
