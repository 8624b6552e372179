"""Cells and notes the panes share: ages, percentages, states as symbol and word, a source's problem. No Textual."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Sequence

from rich.text import Text

from console.core.display import safe
from console.core.model import (
    CheckState,
)
from console.core.rows import NO_VALUE
from console.core.state import SourceState, Store

if TYPE_CHECKING:
    pass


def humanize_age(delta: timedelta | float | None) -> str:
    """The largest unit only: "12s", "3m", "2h", "4d"; "—" when unknown."""
    if delta is None:
        return NO_VALUE
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def humanize_uptime(seconds: int | None) -> str:
    """"41d", "5h", "12m" (a recent reboot is what matters); "—" when not running."""
    return humanize_age(seconds) if seconds else NO_VALUE


def first_line(text: str, limit: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def percent(used: float | int | None, total: float | int | None = 1) -> str:
    if used is None or not total:
        return NO_VALUE
    return f"{round(100 * used / total)}%"


# --- check states ------------------------------------------------------------------------------

STATE_SYMBOL = {CheckState.OK: "✔", CheckState.WARNING: "▲", CheckState.CRITICAL: "✖", CheckState.UNKNOWN: "?"}
STATE_STYLE = {
    CheckState.OK: "green",
    CheckState.WARNING: "bold yellow",
    CheckState.CRITICAL: "bold red",
    CheckState.UNKNOWN: "bold magenta",
}
# How bad a state is, worst first: CRITICAL > UNKNOWN > WARNING > OK.
SEVERITY = {CheckState.CRITICAL: 0, CheckState.UNKNOWN: 1, CheckState.WARNING: 2, CheckState.OK: 3}


def state_label(state: CheckState, *, dim: bool = False) -> Text:
    """"✖ CRITICAL": the symbol and the word, coloured (dimmed when the problem is handled)."""
    style = "dim" if dim else STATE_STYLE[state]
    return Text(f"{STATE_SYMBOL[state]} {state.name}", style=style)


# --- feeds: which sources a pane reads, and what to say when they are missing or failing ---------


def source_problem(state: SourceState, now: datetime) -> Text:
    """"✖ icinga: connection failed … (data 2m old)" for a source whose last attempt failed."""
    age = state.age(now)
    data = f"data {humanize_age(age)} old" if age is not None else "no data"
    return Text(f"✖ {state.name}: {short_error(state.error or '')} ({data})", style="bold red")


ADDRESS = re.compile(r"\s*\b(?:to |at |from )?(?:https?://)?[\w.-]+:\d+(?:/\S*)?(?=[:\s,]|$)")


def short_error(message: str, limit: int = 40) -> str:
    """The failure in a few words: addresses dropped (the source's name says where), long messages
    cut at their first clause: "connection failed …"."""
    text = ADDRESS.sub("", safe(message)).strip()  # a backend's words: display-safe
    if len(text) <= limit:
        return text
    head = text.split(": ", 1)[0]
    return (head if len(head) <= limit else head[: limit - 1]) + " …"


def feed_detail(store: Store, kinds: Sequence[str]) -> str:
    """Every failing source's message in full, one a line."""
    return "\n".join(
        f"{s.name}: {s.error}" for kind in kinds for s in store.of_kind(kind) if s.last is not None and not s.ok
    )


def feed_note(store: Store, kinds: Sequence[str], now: datetime) -> Text | None:
    """The pane's note: failing sources, or "loading…" until its sources have answered."""
    states = [state for kind in kinds for state in store.of_kind(kind)]
    if not states:
        return Text(f"no {' or '.join(kinds)} source configured", style="dim")
    failing = [source_problem(s, now) for s in states if s.last is not None and not s.ok]
    if failing:
        return Text("  ").join(failing)
    waiting = [s.name for s in states if s.last is None]
    if len(waiting) == len(states):
        return Text("loading…", style="dim")
    if waiting:
        return Text(f"waiting for {', '.join(waiting)}…", style="dim")
    return None
