"""The `:` prompt's commands (k9s's jump grammar): parsed here, run by the app. No Textual.

    :hosts :alerts :services :commits   show that pane (also :h :a :s :c and the pane's number)
    :host mw151                         the host's detail
    :theme NAME                         switch the theme
    :pause SOURCE                       hold (or resume) one source's refresh; `p` holds them all
    :logs [QUERY]                       the log screen, tailing QUERY (a Graylog query; default *)
    :backends                           backend health per cache (depool service or varnishadm)
    :handled                            hide (or show) the handled alerts, as `h` does
    :timeline                           the open incident's timeline (`i` starts an incident)
    :leftovers                          what incidents left behind, each with its clean-up
    :q  :quit                           quit
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from console.core.display import safe

PANE_NAMES = {"hosts": 1, "alerts": 2, "services": 3, "commits": 4}
PANE_ALIASES = {"h": 1, "a": 2, "s": 3, "c": 4, "1": 1, "2": 2, "3": 3, "4": 4}


@dataclass(frozen=True, slots=True)
class Jump:
    """What a command asks for: `what` is pane | host | theme | quit | error; `arg` its argument."""

    what: str
    arg: str | int | None = None


def parse_jump(text: str, themes: Iterable[str] = (), sources: Iterable[str] = ()) -> Jump:
    """The command typed after `:` (without the colon); an unknown one is an error saying what exists."""
    words = text.strip().lstrip(":").split()
    if not words:
        return Jump("error", "type a command: hosts, alerts, services, commits, host NAME, theme NAME, q")
    verb, rest = words[0].lower(), words[1:]
    if verb in PANE_NAMES and not rest:
        return Jump("pane", PANE_NAMES[verb])
    if verb in PANE_ALIASES and not rest:
        return Jump("pane", PANE_ALIASES[verb])
    if verb in ("q", "quit") and not rest:
        return Jump("quit")
    if verb == "handled" and not rest:  # hide / show the handled alerts, as `h` does
        return Jump("handled")
    if verb in ("timeline", "incident") and not rest:  # the open incident's timeline (console/ui/incident.py)
        return Jump("timeline")
    if verb == "leftovers" and not rest:  # the leftovers board (console/ui/screens/leftovers.py)
        return Jump("leftovers")
    if verb == "backends" and not rest:  # backend health per cache (console/ui/screens/backends.py)
        return Jump("backends")
    if verb == "host":
        if len(rest) != 1:
            return Jump("error", "host needs one name: :host mw151")
        return Jump("host", rest[0])
    if verb == "logs":
        return Jump("logs", text.strip().lstrip(":").strip()[len(words[0]):].strip() or "*")
    if verb == "theme":
        names = sorted(themes)
        if len(rest) != 1:
            return Jump("error", f"theme needs a name: {', '.join(names)}")
        if names and rest[0] not in names:
            return Jump("error", f"unknown theme {rest[0]!r}; available: {', '.join(names)}")
        return Jump("theme", rest[0])
    if verb == "pause":
        known = sorted(sources)
        if len(rest) != 1 or (known and rest[0] not in known):
            return Jump("error", f"pause needs one source: {', '.join(known)}")
        return Jump("pause", rest[0])
    return Jump(
        "error",
        f"unknown command {text.strip()!r}; try hosts, alerts, services, commits, host NAME, theme NAME, pause SOURCE, q",
    )


def completions(hosts: Iterable[str], themes: Iterable[str], sources: Iterable[str] = ()) -> list[str]:
    """Everything the prompt completes, the panes first. A name that is not display-safe is left out:
    the prompt would show it raw, and it cannot be typed anyway."""
    return [entry for entry in _completions(hosts, themes, sources) if safe(entry, identifier=True) == entry]


def _completions(hosts: Iterable[str], themes: Iterable[str], sources: Iterable[str]) -> list[str]:
    return [
        *PANE_NAMES,
        "q",
        "logs",
        "handled",
        "backends",
        "timeline",
        "leftovers",
        *(f"host {h}" for h in hosts),
        *(f"theme {t}" for t in sorted(themes)),
        *(f"pause {s}" for s in sources),
    ]
