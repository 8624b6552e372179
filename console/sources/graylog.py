"""Graylog: the latest matching log messages (by default the error levels) of the last minutes."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Sequence

import httpx

from console.core.clock import Clock, utc_now
from console.core.config import GraylogConfig
from console.core.model import LogEvent, LogMessage, LogSnapshot
from console.sources.base import MalformedAnswer, SourceError
from console.sources.graylog_events import events_body, parse_events
from console.sources.httpclient import HttpSource, basic_credentials, gather_or_cancel
from console.sources.parsing import as_dict, as_list, iso_time, malformed, opt_float, opt_int

FIELDS = ["timestamp", "source", "message", "level"]
HOST_FIELDS = [*FIELDS, "application_name"]
PAGE_SIZE = 100
HOST_LOG_RANGE = 86400  # seconds searched back for a host's latest lines
TAIL_FIELDS = ("timestamp", "source", "level", "application_name", "message", "_id")  # _id: dedupe at the cursor
AGGREGATE_GROUPS = 1000  # hosts counted per aggregate (Graylog's default group limit is lower)
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
SYSLOG_LEVELS = {
    "emerg": 0, "emergency": 0, "alert": 1, "crit": 2, "critical": 2, "err": 3, "error": 3,
    "warn": 4, "warning": 4, "notice": 5, "info": 6, "informational": 6, "debug": 7,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class GraylogStream:
    """A Graylog stream: what the log screen lets the operator search in."""

    stream_id: str
    title: str
    disabled: bool = False
    is_default: bool = False


class GraylogSource(HttpSource[LogSnapshot]):
    """Recent log messages matching the configured query."""

    kind = "graylog"
    auth_hint = "check the Graylog access token"

    def __init__(self, config: GraylogConfig, clock: Clock = utc_now) -> None:
        super().__init__(config, clock)
        self.config: GraylogConfig = config

    def _auth(self) -> httpx.Auth:
        # Graylog's token auth: the token as user name, the literal word "token" as password
        return httpx.BasicAuth(self.config.token.reveal(), "token")

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "X-Requested-By": "opsconsole"}  # CSRF header, every POST

    def _secret_values(self) -> list[str]:
        token = self.config.token.reveal()
        return [token, basic_credentials(token, "token")]

    async def _fetch(self) -> LogSnapshot:
        # The panes need only the error counts per host: one aggregate request, not one per host and
        # no message list (the log screen and the host detail search on their own).
        # The events go alongside, not after: one round trip of wall time per refresh.
        snapshot: LogSnapshot
        aggregate, snapshot = await gather_or_cancel(
            self._json("POST", "/api/search/aggregate", json=self.aggregate_body()),
            self.with_events(LogSnapshot(messages=())),
        )
        return replace(snapshot, error_counts=parse_aggregate(aggregate))

    async def alert_events(self) -> tuple[LogEvent, ...]:
        """Graylog's alert events of the last `events_range` seconds, newest first. Raises SourceError."""
        body = events_body(self.config.events_range)
        return parse_events(await self._guard(self._json("POST", "/api/events/search", json=body)))

    async def with_events(self, snapshot: LogSnapshot) -> LogSnapshot:
        """`snapshot` with the alert events (when `events:` is on); a failing events request leaves
        the rest of the snapshot whole and says so in `partial_errors`."""
        if not self.config.events:
            return snapshot
        try:
            events = await self.alert_events()
        except SourceError as exc:
            return replace(snapshot, partial_errors=(*snapshot.partial_errors, f"events: {exc}"))
        return replace(snapshot, events=events)

    def aggregate_body(self) -> dict[str, Any]:
        """The body of `POST /api/search/aggregate`: the configured (error-level) query over the
        configured range, counted per `source`."""
        return aggregate_body(self.config.query, self.config.range, "source", AGGREGATE_GROUPS)

    async def host_messages(self, sources: Sequence[str], size: int = PAGE_SIZE) -> LogSnapshot:
        """The latest `size` messages (any level) whose `source` is one of `sources` (a host's short
        name and FQDN), newest first, from the last day. Raises SourceError."""
        body = search_body(host_query(sources), HOST_LOG_RANGE, HOST_FIELDS, int(size))
        return parse_messages(await self._guard(self._json("POST", "/api/search/messages", json=body)))

    async def search(
        self,
        query: str,
        timerange: dict[str, Any],
        *,
        streams: Sequence[str] = (),
        fields: Sequence[str] = TAIL_FIELDS,
        size: int = PAGE_SIZE,
        newest_first: bool = True,
    ) -> LogSnapshot:
        """Messages matching `query` in `timerange` (`relative_range(s)` or `absolute_range(a, b)`),
        in `streams` (ids; none = every stream), oldest or newest first. Raises SourceError."""
        body = {
            "query": query.strip() or "*",
            "streams": list(streams),
            "timerange": timerange,
            "fields": list(fields),
            "sort": "timestamp",
            "sort_order": "Descending" if newest_first else "Ascending",
            "from": 0,
            "size": int(size),
        }
        return parse_messages(await self._guard(self._json("POST", "/api/search/messages", json=body)))

    async def streams(self) -> tuple[GraylogStream, ...]:
        """Every stream the token can read (`GET /api/streams`), by title. Raises SourceError."""
        return parse_streams(await self._guard(self._json("GET", "/api/streams")))


def search_body(query: str, seconds: int, fields: list[str], size: int) -> dict[str, Any]:
    """A `POST /api/search/messages` body: `query` over the last `seconds`, newest first."""
    return {
        "query": query,
        "streams": [],
        "timerange": {"type": "relative", "range": seconds},
        "fields": fields,
        "sort": "timestamp",
        "sort_order": "Descending",
        "from": 0,
        "size": size,
    }


def aggregate_body(query: str, seconds: int, field: str, limit: int) -> dict[str, Any]:
    """A `POST /api/search/aggregate` body (the scripting API): messages of `query` over the last
    `seconds`, counted per value of `field`."""
    return {
        "query": query,
        "streams": [],
        "timerange": relative_range(seconds),
        "group_by": [{"field": field, "limit": limit}],
        "metrics": [{"function": "count"}],
    }


def relative_range(seconds: int) -> dict[str, Any]:
    return {"type": "relative", "range": int(seconds)}


def absolute_range(start: datetime, end: datetime) -> dict[str, Any]:
    """Graylog's absolute range: ISO 8601 UTC with milliseconds (both ends inclusive)."""
    return {"type": "absolute", "from": _iso_ms(start), "to": _iso_ms(end)}


def _iso_ms(at: datetime) -> str:
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def host_query(sources: Sequence[str]) -> str:
    """`source:mw152 OR source:"mw152.fsslc.wtnet"`; only plain host names go into the query."""
    names = list(dict.fromkeys(sources))
    if not names or not all(HOST_NAME.fullmatch(name) for name in names):
        raise SourceError(f"cannot search the logs of {', '.join(map(repr, names)) or 'no host'}: not a plain host name")
    return " OR ".join(f'source:"{name}"' if "." in name else f"source:{name}" for name in names)


# --- parsers (pure) ----------------------------------------------------------------------------


def parse_messages(payload: Any) -> LogSnapshot:
    """A tabular answer (`schema` + `datarows`) or a legacy one (`messages` + `total_results`) →
    LogSnapshot, newest first."""
    body = as_dict(payload, "search")
    if "datarows" in body or "schema" in body:
        messages, total = parse_tabular(body), None
    elif "messages" in body:
        messages, total = parse_legacy(body), opt_int(body.get("total_results"), "search.total_results")
    else:
        raise MalformedAnswer("malformed answer: search has neither datarows nor messages")
    ordered = sorted(messages, key=lambda m: m.timestamp, reverse=True)
    return LogSnapshot(messages=tuple(ordered), total=total)


def parse_tabular(body: dict[str, Any]) -> list[LogMessage]:
    """Columns are found by their `field` name in `schema`, never by position."""
    columns = column_index(body.get("schema"))
    rows = as_list(body.get("datarows"), "search.datarows")
    messages = []
    for index, row in enumerate(rows):
        at = f"search.datarows[{index}]"
        cells = as_list(row, at)
        fields = {name: cells[pos] for name, pos in columns.items() if pos < len(cells)}
        messages.append(log_message(fields, at))
    return messages


def column_index(schema: Any) -> dict[str, int]:
    """{field name: column position} from a tabular `schema`."""
    columns: dict[str, int] = {}
    for pos, item in enumerate(as_list(schema, "search.schema")):
        column = as_dict(item, f"search.schema[{pos}]")
        name = column.get("field")
        if not isinstance(name, str):
            label = column.get("name")
            name = label.removeprefix("field: ") if isinstance(label, str) else None
        if name:
            columns.setdefault(name, pos)
    if "timestamp" not in columns:
        raise MalformedAnswer("malformed answer: search.schema has no timestamp column")
    return columns


def parse_legacy(body: dict[str, Any]) -> list[LogMessage]:
    """`{messages: [{message: {...}, index}]}` of /api/search/universal/*."""
    messages = []
    for index, item in enumerate(as_list(body.get("messages"), "search.messages")):
        at = f"search.messages[{index}]"
        fields = as_dict(as_dict(item, at).get("message"), f"{at}.message")
        messages.append(log_message(fields, at))
    return messages


def log_message(fields: dict[str, Any], at: str) -> LogMessage:
    """One message from its fields (timestamp required; source, message, level, _id optional)."""
    timestamp = iso_time(fields.get("timestamp"), f"{at}.timestamp")
    if timestamp is None:
        raise malformed(f"{at}.timestamp", "an ISO 8601 timestamp", None)
    ident = fields.get("_id", fields.get("id"))
    application = fields.get("application_name")
    return LogMessage(
        timestamp=timestamp,
        source=_text(fields.get("source")),
        message=_text(fields.get("message")),
        level=syslog_level(fields.get("level")),
        message_id=ident if isinstance(ident, str) else None,
        application=application if isinstance(application, str) and application else None,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def syslog_level(value: Any) -> int | None:
    """0..7 from 3, 3.0, "3" or "err"/"ERROR"; anything else (or missing) → None."""
    if isinstance(value, str) and value.strip().lower() in SYSLOG_LEVELS:
        return SYSLOG_LEVELS[value.strip().lower()]
    try:
        number = opt_float(value, "level")
    except MalformedAnswer:
        return None  # a level Graylog could not parse is not worth failing the whole answer
    if number is None or not number.is_integer() or not 0 <= number <= 7:
        return None
    return int(number)


def parse_aggregate(payload: Any) -> tuple[tuple[str, int], ...]:
    """A tabular aggregate answer (one `grouping` column, one `metric` count column) → ((group,
    count), ...), the largest count first. Columns are found by `column_type`, never by position."""
    body = as_dict(payload, "aggregate")
    group_at = metric_at = None
    for pos, item in enumerate(as_list(body.get("schema"), "aggregate.schema")):
        column = as_dict(item, f"aggregate.schema[{pos}]")
        kind = column.get("column_type")
        if kind == "grouping" and group_at is None:
            group_at = pos
        elif kind == "metric" and metric_at is None:
            metric_at = pos
    if group_at is None or metric_at is None:
        raise MalformedAnswer("malformed answer: aggregate.schema needs a grouping and a metric column")
    counts: dict[str, int] = {}
    for index, row in enumerate(as_list(body.get("datarows"), "aggregate.datarows")):
        at = f"aggregate.datarows[{index}]"
        cells = as_list(row, at)
        if len(cells) <= max(group_at, metric_at):
            raise malformed(at, f"{max(group_at, metric_at) + 1} cells", cells)
        group, count = cells[group_at], opt_float(cells[metric_at], f"{at}[{metric_at}]")
        if group is None or count is None:
            continue  # messages without the field: no host to count them for
        if count < 0 or not count.is_integer():
            raise malformed(f"{at}[{metric_at}]", "a count", cells[metric_at])
        name = _text(group)
        counts[name] = counts.get(name, 0) + int(count)
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def parse_streams(payload: Any) -> tuple[GraylogStream, ...]:
    """`GET /api/streams` → `{total, streams: [{id, title, disabled, is_default, ...}]}`, by title."""
    body = as_dict(payload, "streams")
    found = []
    for index, item in enumerate(as_list(body.get("streams"), "streams.streams")):
        at = f"streams.streams[{index}]"
        stream = as_dict(item, at)
        ident, title = stream.get("id"), stream.get("title")
        if not isinstance(ident, str) or not ident:
            raise malformed(f"{at}.id", "a stream id", ident)
        found.append(GraylogStream(ident, title if isinstance(title, str) and title else ident,
                                   stream.get("disabled") is True, stream.get("is_default") is True))
    return tuple(sorted(found, key=lambda s: (not s.is_default, s.title.lower(), s.stream_id)))
