"""Graylog: the latest matching log messages (by default the error levels) of the last minutes."""

from __future__ import annotations

import re
from typing import Any, Sequence

import httpx

from console.clock import Clock, utc_now
from console.config import GraylogConfig
from console.model import LogMessage, LogSnapshot
from console.sources.base import MalformedAnswer, SourceError
from console.sources.httpclient import HttpSource, basic_credentials
from console.sources.parsing import as_dict, as_list, iso_time, malformed, opt_float, opt_int

FIELDS = ["timestamp", "source", "message", "level"]
HOST_FIELDS = [*FIELDS, "application_name"]
PAGE_SIZE = 100
HOST_LOG_RANGE = 86400  # seconds searched back for a host's latest lines
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
SYSLOG_LEVELS = {
    "emerg": 0, "emergency": 0, "alert": 1, "crit": 2, "critical": 2, "err": 3, "error": 3,
    "warn": 4, "warning": 4, "notice": 5, "info": 6, "informational": 6, "debug": 7,
}  # fmt: skip


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
        return parse_messages(await self._json("POST", "/api/search/messages", json=self.search_body()))

    def search_body(self) -> dict[str, Any]:
        """The body of `POST /api/search/messages` for this source's query and range."""
        return search_body(self.config.query, self.config.range, FIELDS, PAGE_SIZE)

    async def host_messages(self, sources: Sequence[str], size: int = PAGE_SIZE) -> LogSnapshot:
        """The latest `size` messages (any level) whose `source` is one of `sources` (a host's short
        name and FQDN), newest first, from the last day. Raises SourceError."""
        body = search_body(host_query(sources), HOST_LOG_RANGE, HOST_FIELDS, int(size))
        return parse_messages(await self._guard(self._json("POST", "/api/search/messages", json=body)))


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
