"""Graylog's alert events (`POST /api/events/search`, alerts only): the request body and the parser.

Pure functions; GraylogSource (console/sources/graylog.py) sends the request. An event's own
`source` field is the Graylog node that raised it, not the host it is about: the host is the
event's `source` field value (`fields.source`, then `group_by_fields.source`), else its key.
"""

from __future__ import annotations

from typing import Any

from console.core.model import LogEvent
from console.sources.parsing import as_dict, as_list, iso_time, malformed, opt_dict, opt_float

EVENTS_PAGE = 100  # the newest events per refresh; an event repeating every few minutes fills few


def events_body(seconds: int, per_page: int = EVENTS_PAGE) -> dict[str, Any]:
    """The body of `POST /api/events/search`: alert events of the last `seconds`, newest first."""
    return {
        "query": "",
        "page": 1,
        "per_page": per_page,
        "timerange": {"type": "relative", "range": seconds},
        "filter": {"alerts": "only"},
        "sort_by": "timestamp",
        "sort_direction": "desc",
    }


def parse_events(payload: Any) -> tuple[LogEvent, ...]:
    """`{events: [{event: {...}, index_name}], context: {event_definitions: {id: {title}}}}` →
    LogEvents, newest first. An event that is not an alert (`alert: false`) is left out."""
    body = as_dict(payload, "events")
    definitions = opt_dict(opt_dict(body.get("context"), "events.context").get("event_definitions"),
                           "events.context.event_definitions")
    events = []
    for index, item in enumerate(as_list(body.get("events"), "events.events")):
        at = f"events.events[{index}]"
        record = as_dict(as_dict(item, at).get("event"), f"{at}.event")
        if record.get("alert") is False:
            continue
        events.append(log_event(record, definitions, f"{at}.event"))
    return tuple(sorted(events, key=lambda e: e.timestamp, reverse=True))


def log_event(record: dict[str, Any], definitions: dict[str, Any], at: str) -> LogEvent:
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise malformed(f"{at}.id", "a non-empty string", ident)
    timestamp = iso_time(record.get("timestamp"), f"{at}.timestamp")
    if timestamp is None:
        raise malformed(f"{at}.timestamp", "an ISO 8601 timestamp", None)
    definition_id = record.get("event_definition_id")
    definition_id = definition_id if isinstance(definition_id, str) and definition_id else None
    key = record.get("key")
    key = key if isinstance(key, str) and key else None
    message = record.get("message")
    return LogEvent(
        event_id=ident,
        timestamp=timestamp,
        message=message if isinstance(message, str) else "",
        source=event_host(record, key),
        priority=event_priority(record.get("priority"), f"{at}.priority"),
        definition_id=definition_id,
        key=key,
        title=definition_title(definitions, definition_id),
    )


def event_host(record: dict[str, Any], key: str | None) -> str:
    """The host an event is about: its `source` field value, else its key, else "" (unknown)."""
    for container in ("fields", "group_by_fields"):
        values = record.get(container)
        if isinstance(values, dict):
            value = values.get("source")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return key.strip() if key else ""


def event_priority(value: Any, where: str) -> int:
    """Graylog's priority, 1 (low) to 4 (critical); a missing one is 2 (normal, Graylog's default)."""
    number = opt_float(value, where)
    if number is None:
        return 2
    if not number.is_integer():
        raise malformed(where, "a whole number", value)
    return min(max(int(number), 1), 4)


def definition_title(definitions: dict[str, Any], definition_id: str | None) -> str | None:
    if definition_id is None:
        return None
    definition = definitions.get(definition_id)
    title = definition.get("title") if isinstance(definition, dict) else None
    return title if isinstance(title, str) and title else None
