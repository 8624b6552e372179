"""The live tail of the log screen: which time range to ask Graylog next, which answered lines are new,
and a bounded buffer of the lines shown. Pure logic (no I/O, no Textual).

The cursor is the newest timestamp seen. Each poll asks from the cursor (inclusive) onwards, oldest
first; lines AT the cursor's timestamp that were already shown come back and are dropped by message
id. So a line is never shown twice, and none is skipped as long as Graylog's timestamps only grow
(lines it receives late, older than the cursor, are not searched for again).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Iterable, Sequence

from rich.text import Text

from console.core.display import safe_text
from console.core.model import LogMessage
from console.core.rows import NO_VALUE, Column, Row
from console.derive.detail import LEVEL_NAMES, level_text, one_line
from console.sources.base import SourceError
from console.sources.graylog import absolute_range, host_query, relative_range

TAIL_LIMIT = 5000  # lines held (and shown): the oldest go first
BACKLOG = 200  # lines shown when the tail starts: the newest of the chosen range
PAGE = 500  # lines per poll; a full page is followed at once by the next
MAX_PAGE = 10_000  # Graylog's default result window: a page never grows past it
CLOCK_SLACK = timedelta(hours=1)  # the range's end lies this far past our clock: a server ahead still answers
RANGES = {"5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
DEFAULT_RANGE = "15m"
TAIL_COLUMNS = (Column("time", "time"), Column("host", "host", identifier=True), Column("level", "level"), Column("app", "app"),
                Column("message", "message"))
MESSAGE_STYLES = {0: "bold red", 1: "bold red", 2: "bold red", 3: "red", 4: "yellow", 7: "dim"}


@dataclass(frozen=True, slots=True)
class TailRequest:
    """What to ask Graylog for: the search's time range, its order and its size."""

    timerange: dict[str, Any]
    newest_first: bool
    size: int


@dataclass(frozen=True, slots=True)
class TailUpdate:
    added: tuple[LogMessage, ...]  # the new lines, oldest first
    dropped: tuple[LogMessage, ...]  # lines pushed out of the buffer by them
    full_page: bool  # the answer filled its page: more may be waiting, ask again now


def line_key(message: LogMessage) -> str:
    """The line's identity: Graylog's message id (asked for with the `_id` field), else its content."""
    if message.message_id:
        return message.message_id
    return f"{message.timestamp.isoformat()}|{message.source}|{hash(message.message):x}"


class LogTail:
    """The cursor, the ids seen at the cursor's timestamp, and the last `limit` lines, oldest first."""

    def __init__(self, limit: int = TAIL_LIMIT, backlog: int = BACKLOG, page: int = PAGE) -> None:
        self.lines: deque[LogMessage] = deque(maxlen=limit)
        self.backlog, self.page = backlog, page
        self._size = page  # grows while a whole page is lines already shown at the cursor's millisecond
        self.cursor: datetime | None = None
        self._at_cursor: set[str] = set()

    @property
    def limit(self) -> int:
        return self.lines.maxlen or 0

    def reset(self) -> None:
        """Start over (a new query, range or stream): empty, no cursor."""
        self.lines.clear()
        self.cursor = None
        self._at_cursor = set()
        self._size = self.page

    def next_request(self, range_seconds: int, now: datetime) -> TailRequest:
        """The first poll: the newest `backlog` lines of the range; later ones: from the cursor on."""
        if self.cursor is None:
            return TailRequest(relative_range(range_seconds), newest_first=True, size=self.backlog)
        end = max(now, self.cursor) + CLOCK_SLACK
        return TailRequest(absolute_range(self.cursor, end), newest_first=False, size=self._size)

    def merge(self, messages: Iterable[LogMessage], request: TailRequest) -> TailUpdate:
        """Take one answer to `request`: the lines not seen yet go into the buffer, oldest first."""
        answer = list(messages)
        ordered = sorted(answer, key=lambda m: m.timestamp)  # stable: Graylog's order within one millisecond
        added: list[LogMessage] = []
        for message in ordered:
            key = line_key(message)
            if self.cursor is not None:
                if message.timestamp < self.cursor:
                    continue  # before the range asked for: shown already or never to be
                if message.timestamp == self.cursor and key in self._at_cursor:
                    continue  # the boundary: asked again on purpose, shown once
            if message.timestamp != self.cursor:
                self.cursor, self._at_cursor = message.timestamp, set()
            self._at_cursor.add(key)
            added.append(message)
        kept = added[-self.limit:] if len(added) > self.limit else added  # the rest would never be shown
        evicted = max(0, len(self.lines) + len(kept) - self.limit)
        dropped = tuple(islice(self.lines, evicted))  # the oldest held lines make room
        self.lines.extend(kept)
        full = len(answer) >= request.size and not request.newest_first
        # A full page of lines already shown (more lines in one millisecond than a page): a bigger
        # page next time, else the poll would stay stuck on them.
        stuck = full and not added and request.size < MAX_PAGE
        self._size = min(request.size * 2, MAX_PAGE) if stuck else self.page
        return TailUpdate(tuple(kept), dropped, full_page=full and (bool(added) or stuck))


# --- rows ----------------------------------------------------------------------------------------


def tail_row(message: LogMessage) -> Row:
    """time (UTC), host, level (the word, coloured), application, the message on one line — coloured
    by level too: emerg..err red, warning yellow, debug dim. Every cell a display-safe Text (the tail's
    table would read a string as markup); the key stays the exact line's."""
    style = MESSAGE_STYLES.get(message.level, "") if message.level is not None else ""
    return Row(
        line_key(message),
        (
            Text(f"{message.timestamp:%H:%M:%S}"),
            safe_text(message.source or NO_VALUE, identifier=True),
            level_text(message.level),
            safe_text(message.application or NO_VALUE),
            safe_text(one_line(message.message), style=style),
        ),
    )


def host_log_query(names: Sequence[str]) -> str:
    """The query for a host's lines: its short name or FQDN in `source`."""
    try:
        return host_query(names)
    except SourceError:  # not a plain host name: quoted, as one value
        return " OR ".join('source:"' + name.replace('"', "") + '"' for name in names) or "*"


def level_name(level: int | None) -> str:
    return "?" if level is None else LEVEL_NAMES.get(level, str(level))


def range_after(name: str) -> str:
    """The next time range of the cycle 5m → 15m → 1h → 1d → 5m."""
    names = list(RANGES)
    return names[(names.index(name) + 1) % len(names)] if name in RANGES else DEFAULT_RANGE
