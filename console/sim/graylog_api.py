"""Graylog's REST API: message search (tabular and legacy), event search, health; token auth and CSRF."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from console.sim.basic_auth import basic_credentials, same
from console.sim.farm import Farm
from console.sim.farm_api import FarmApi
from console.sim.graylog_query import QueryError, compile_query
from console.sim.logs import MAX_SPAN, STREAM_ALL, LogLine, StreamSpec, iso_ms
from console.sim.seeded import stable_uuid

VERSION = "7.0.2+a1b2c3d"
DEFAULT_FIELDS = ["timestamp", "source", "message"]
NUMERIC = {"level": "long", "http_status": "long", "process_id": "long"}
CSRF_MESSAGE = 'CSRF protection header is missing. Please add a "X-Requested-By" header to your request.'


def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status, headers=headers, media_type="application/json")


def _api_error(status: int, message: str, headers: dict | None = None) -> Response:
    return _json({"type": "ApiError", "message": message}, status, headers)


class GraylogApi(FarmApi):
    def __init__(self, farm: Farm, token: str) -> None:
        super().__init__(farm)
        self.token = token

    def _authorized(self, request: Request) -> bool:
        credentials = basic_credentials(request)
        return credentials is not None and credentials[1] == "token" and same(credentials[0], self.token)

    def handle(self, request: Request, body: bytes) -> Response:
        path = request.url.path.rstrip("/")
        method = request.method
        if path == "/api/system/lbstatus" and method in ("GET", "HEAD"):
            return Response("ALIVE", 200, media_type="text/plain")
        if not self._authorized(request):
            return Response(b"", 401, headers={"www-authenticate": 'Basic realm="Graylog Server"'})
        if method not in ("GET", "HEAD", "OPTIONS") and not request.headers.get("x-requested-by"):
            return _api_error(400, CSRF_MESSAGE)
        now = self.farm.now()
        try:
            if path == "/api/search/messages" and method == "POST":
                return self.messages(_body(body), now)
            if path == "/api/search/aggregate" and method == "POST":
                return self.aggregate(_body(body), now)
            if path == "/api/streams" and method == "GET":
                return _json(self.stream_list())
            if path == "/api/search/universal/relative" and method == "GET":
                return self.universal_relative(request, now)
            if path == "/api/events/search" and method == "POST":
                return self.events(_body(body), now)
            if path == "/api/system" and method == "GET":
                return _json(self.system())
            if path == "/api/system/notifications" and method == "GET":
                return _json({"total": 0, "notifications": []})
        except QueryError as exc:
            return _api_error(400, str(exc))
        return _api_error(404, "HTTP 404 Not Found")

    # --- messages ------------------------------------------------------------------------------

    def _search(self, query: str, a: datetime, b: datetime, streams: Any = None) -> list[LogLine]:
        return [line for line, _fields in self._matching(query, a, b, streams)]

    def _matching(self, query: str, a: datetime, b: datetime, streams: Any = None) -> list[tuple[LogLine, dict]]:
        """The lines the query and streams select, each with its fields (made once: they cost)."""
        predicate = compile_query(query)
        in_streams = _stream_filter(streams, self._streams())
        # The generator can draw lines at any time: nothing after the farm's "now" has been received yet.
        lines = self.farm.logbook.lines(self.farm.hosts, a, min(b, self.farm.now()))
        found = []
        for line in lines:
            fields = line.fields()
            if in_streams(fields) and predicate(fields):
                found.append((line, fields))
        return found

    def messages(self, request: dict, now: datetime) -> Response:
        a, b = _timerange(request.get("timerange"), now)
        fields = request.get("fields") or DEFAULT_FIELDS
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise QueryError("fields must be a list of field names")
        found = self._search(str(request.get("query") or "*"), a, b, request.get("streams"))
        order = str(request.get("sort_order") or "Descending").lower()
        if order not in ("descending", "ascending", "desc", "asc"):
            raise QueryError("Unable to map property sort_order.\nKnown properties include: Ascending, Descending")
        rows = _sorted(found, str(request.get("sort") or "timestamp"), order.startswith("desc"))
        start = _int(request.get("from"), 0, "from")
        size = _int(request.get("size", request.get("limit")), 100, "size")
        rows = rows[start:start + size]
        schema = [{"column_type": "field", "type": "date" if f == "timestamp" else NUMERIC.get(f, "string"),
                   "field": f, "name": f"field: {f}"} for f in fields]
        datarows = [[line.fields().get(f) for f in fields] for line in rows]
        return _json({"schema": schema, "datarows": datarows,
                      "metadata": {"effective_timerange": {"type": "absolute", "from": iso_ms(a), "to": iso_ms(b)}}})

    # --- the scripting API's aggregation and the streams -----------------------------------------

    def aggregate(self, request: dict, now: datetime) -> Response:
        """`POST /api/search/aggregate`: group_by [{field, limit}] × metrics [{function, field}] as a
        tabular answer; groups by the first metric, largest first, each level cut at its limit."""
        groupings, metrics = _groupings(request.get("group_by")), _metrics(request.get("metrics"))
        a, b = _timerange(request.get("timerange"), now)
        found = self._matching(str(request.get("query") or "*"), a, b, request.get("streams"))
        datarows = _pivot([fields for _line, fields in found], groupings, metrics)
        schema = [{"column_type": "grouping", "type": "string", "field": field, "name": f"grouping: {field}"}
                  for field, _ in groupings]
        schema += [{"column_type": "metric", "type": "string" if function == "latest" else "numeric",
                    "function": function, **({"field": field} if field else {}),
                    "name": f"metric: {function}({field or ''})"} for function, field in metrics]
        return _json({"schema": schema, "datarows": datarows,
                      "metadata": {"effective_timerange": {"type": "absolute", "from": iso_ms(a), "to": iso_ms(b)}}})

    def stream_list(self) -> dict:
        created = iso_ms(self.farm.anchor - timedelta(days=400))
        streams = [{
            "id": stream_id, "creator_user_id": "admin", "outputs": [], "matching_type": "AND",
            "description": description, "created_at": created, "disabled": False,
            "rules": [] if stream_id == STREAM_ALL else [{"id": stable_uuid("rule", stream_id), "field": field,
                                                          "type": 1, "value": "|".join(values), "inverted": False,
                                                          "stream_id": stream_id, "description": ""}],
            "title": title, "content_pack": None, "remove_matches_from_default_stream": False,
            "index_set_id": "64b7e1f2a3c4d5e6f7a8b9c1", "is_default": stream_id == STREAM_ALL,
            "is_editable": stream_id != STREAM_ALL, "categories": [],
        } for stream_id, title, description, field, values in self._streams()]
        return {"total": len(streams), "streams": streams}

    def _streams(self) -> tuple[StreamSpec, ...]:
        return STREAMS + tuple(self.farm.logbook.graylog_streams)

    def universal_relative(self, request: Request, now: datetime) -> Response:
        params = request.query_params
        query = params.get("query")
        if query is None:
            return _api_error(400, "Missing required query parameter: query")
        seconds = _int(params.get("range"), 300, "range")
        a, b = (now - MAX_SPAN if seconds == 0 else now - timedelta(seconds=seconds)), now
        found = self._search(query, a, b)
        field, _, direction = (params.get("sort") or "timestamp:desc").partition(":")
        rows = _sorted(found, field, direction.lower() != "asc")
        offset = _int(params.get("offset"), 0, "offset")
        limit = _int(params.get("limit"), 150, "limit") or 150
        wanted = [f.strip() for f in (params.get("fields") or "").split(",") if f.strip()]
        messages: list[dict[str, Any]] = []
        for line in rows[offset:offset + limit]:
            fields = line.fields()
            if wanted:
                fields = {k: fields.get(k) for k in ["_id", *wanted] if k in fields or k in wanted}
            messages.append({"highlight_ranges": {}, "message": fields, "index": _index(line.timestamp),
                             "decoration_stats": None})
        return _json({
            "query": query, "built_query": json.dumps({"query": {"query_string": {"query": query}}}),
            "used_indices": [{"index_name": _index(now), "begin": iso_ms(a), "end": iso_ms(b),
                              "calculated_at": iso_ms(now), "took_ms": 3}],
            "messages": messages, "fields": sorted({k for m in messages for k in m["message"]}),
            "time": 7, "total_results": len(rows), "from": iso_ms(a), "to": iso_ms(b), "decoration_stats": None,
        })

    # --- events --------------------------------------------------------------------------------

    def events(self, request: dict, now: datetime) -> Response:
        a, b = _timerange(request.get("timerange") or {"type": "relative", "range": 86400}, now)
        flt = request.get("filter") or {}
        alerts = str(flt.get("alerts") or "include").lower()
        if alerts not in ("only", "include", "exclude"):
            raise QueryError(f"Unknown alerts filter {alerts!r}; use only, include or exclude")
        wanted_definitions = set(flt.get("event_definitions") or [])
        predicate = compile_query(str(request.get("query") or ""))
        found = []
        for event in self.farm.logbook.events(a, b):
            if alerts == "only" and not event.definition.alert or alerts == "exclude" and event.definition.alert:
                continue
            if wanted_definitions and event.definition.id not in wanted_definitions:
                continue
            body = _event(event)
            if predicate(body):
                found.append(body)
        sort_by = str(request.get("sort_by") or "timestamp")
        descending = str(request.get("sort_direction") or "desc").lower() != "asc"
        found.sort(key=lambda e: (e.get(sort_by) is None, str(e.get(sort_by)), e["id"]), reverse=descending)
        page = max(1, _int(request.get("page"), 1, "page"))
        per_page = max(1, _int(request.get("per_page"), 25, "per_page"))
        chosen = found[(page - 1) * per_page:page * per_page]
        definitions = self.farm.logbook.definitions()
        used = {e["event_definition_id"] for e in chosen}
        return _json({
            "events": [{"event": e, "index_name": "gl-events_4", "index_type": "message"} for e in chosen],
            "used_indices": ["gl-events_4", "gl-system-events_4"],
            "parameters": {"page": page, "per_page": per_page, "timerange": request.get("timerange") or
                           {"type": "relative", "range": 86400}, "query": str(request.get("query") or ""),
                           "filter": {"alerts": alerts, "event_definitions": sorted(wanted_definitions)},
                           "sort_by": sort_by, "sort_direction": "desc" if descending else "asc"},
            "total_events": len(found),
            "duration": 4,
            "context": {"event_definitions": {i: {"id": i, "title": definitions[i].title,
                                                   "description": definitions[i].description, "remediation_steps": ""}
                                               for i in sorted(used) if i in definitions},
                        "streams": {}},
        })

    def system(self) -> dict:
        return {"facility": "graylog-server", "codename": "Noir", "node_id": stable_uuid("graylog-node"),
                "cluster_id": stable_uuid("graylog-cluster"), "version": VERSION,
                "started_at": iso_ms(self.farm.anchor - timedelta(days=12, hours=3)), "hostname": "graylog161",
                "lifecycle": "running", "lb_status": "alive", "timezone": "UTC", "operating_system": "Linux 6.1.0-37-amd64",
                "is_leader": True, "is_processing": True}


def _event(event) -> dict:
    ts = event.timestamp
    return {
        "id": event.id,
        "event_definition_type": "aggregation-v1",
        "event_definition_id": event.definition.id,
        "origin_context": None,
        "timestamp": iso_ms(ts),
        "timestamp_processing": iso_ms(ts + timedelta(seconds=1)),
        "timerange_start": iso_ms(ts - timedelta(minutes=5)),
        "timerange_end": iso_ms(ts),
        "streams": [],
        "source_streams": [STREAM_ALL],
        "message": event.message,
        "source": "graylog161",
        "key_tuple": [event.key],
        "key": event.key,
        "priority": event.definition.priority,
        "alert": event.definition.alert,
        "fields": dict(event.fields),
        "group_by_fields": {"source": event.key},
        "replay_info": {"timerange_start": iso_ms(ts - timedelta(minutes=5)), "timerange_end": iso_ms(ts),
                        "query": f"source:{event.key}", "streams": [STREAM_ALL], "filters": []},
    }


# The farm's streams: (id, title, description, field, values a message matches on); the first is
# Graylog's default stream, which holds everything.
STREAMS: tuple[StreamSpec, ...] = (
    (STREAM_ALL, "Default Stream", "Contains messages that are not explicitly routed to other streams", "", ()),
    ("65a1b2c3d4e5f60718293a01", "Web tier", "nginx, php-fpm, MediaWiki and the caches",
     "application_name", ("nginx", "php-fpm", "mediawiki", "haproxy")),
    ("65a1b2c3d4e5f60718293a02", "Authentication", "sshd and PAM sessions", "facility", ("auth", "authpriv")),
)
METRICS = ("count", "card", "sum", "min", "max", "avg", "latest")


def _stream_filter(streams: Any, known_streams: tuple[StreamSpec, ...] = STREAMS):
    """Messages in any of the stream ids (none asked: every message; an unknown id: 400, as in Graylog)."""
    if streams in (None, []):
        return lambda fields: True
    if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
        raise QueryError("streams must be a list of stream ids")
    known = {stream_id: (field, values) for stream_id, _, _, field, values in known_streams}
    unknown = [s for s in streams if s not in known]
    if unknown:
        raise QueryError(f"Unknown stream(s): {', '.join(unknown)}")
    rules = [known[s] for s in streams]
    return lambda fields: any(not field or fields.get(field) in values for field, values in rules)


def _groupings(value: Any) -> list[tuple[str, int]]:
    if not isinstance(value, list) or not value:
        raise QueryError("group_by must not be empty")
    out = []
    for item in value:
        field = item.get("field") if isinstance(item, dict) else None
        if not isinstance(field, str) or not field.strip():
            raise QueryError("group_by.field must not be blank")
        limit = _int(item.get("limit"), 0, "limit")
        out.append((field, limit if limit > 0 else 15))  # 15: Graylog's Values default limit
    return out


def _metrics(value: Any) -> list[tuple[str, str | None]]:
    if not isinstance(value, list) or not value:
        raise QueryError("metrics must not be empty")
    out = []
    for item in value:
        function = item.get("function") if isinstance(item, dict) else None
        field = item.get("field") if isinstance(item, dict) else None
        if function not in METRICS:
            raise QueryError(f"Unknown metric function {function!r}; known: {', '.join(METRICS)}")
        if function != "count" and not field:
            raise QueryError(f"Metric {function} needs a field")
        out.append((function, field if isinstance(field, str) and field else None))
    return out


def _metric(function: str, field: str | None, rows: list[dict]) -> Any:
    if function == "count":
        return len(rows) if field is None else sum(1 for r in rows if r.get(field) is not None)
    values = [r.get(field) for r in rows if r.get(field) is not None]
    if function == "card":
        return len({json.dumps(v, sort_keys=True) for v in values})
    if function == "latest":
        dated = [r for r in rows if r.get(field) is not None]
        return max(dated, key=lambda r: r["timestamp"]).get(field) if dated else None
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return None
    return {"sum": sum(numbers), "min": min(numbers), "max": max(numbers), "avg": sum(numbers) / len(numbers)}[function]


def _pivot(rows: list[dict], groupings: list[tuple[str, int]], metrics: list[tuple[str, str | None]]) -> list[list]:
    """One data row per combination of group values (messages without a group field are in no group)."""
    (field, limit), deeper = groupings[0], groupings[1:]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        value = row.get(field)
        for one in (value if isinstance(value, list) else [value]):
            if one is not None:
                groups.setdefault(str(one), []).append(row)
    first_function, first_field = metrics[0]
    def rank(item: tuple[str, list[dict]]) -> tuple[float, str]:
        value = _metric(first_function, first_field, item[1])
        return (-value if isinstance(value, (int, float)) else 0.0, item[0])

    ranked = sorted(groups.items(), key=rank)
    out: list[list[Any]] = []
    for value, members in ranked[:limit]:
        if deeper:
            out.extend([value, *rest] for rest in _pivot(members, deeper, metrics))
        else:
            out.append([value, *(_metric(function, mfield, members) for function, mfield in metrics)])
    return out


def _body(body: bytes) -> dict:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise QueryError("Unable to parse the request body as JSON") from None
    if not isinstance(data, dict):
        raise QueryError("The request body must be a JSON object")
    return data


def _int(value: Any, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(f"Invalid value for {name}: {value!r}") from None
    if number < 0:
        raise QueryError(f"Invalid value for {name}: must not be negative")
    return number


def _timerange(timerange: Any, now: datetime) -> tuple[datetime, datetime]:
    if timerange in (None, {}):
        return now - timedelta(seconds=300), now
    if not isinstance(timerange, dict):
        raise QueryError("timerange must be an object")
    kind = timerange.get("type")
    if kind == "relative":
        if "range" in timerange:
            seconds = _int(timerange["range"], 300, "range")
            return (now - MAX_SPAN if seconds == 0 else now - timedelta(seconds=seconds)), now
        start = _int(timerange.get("from"), 300, "from")
        end = _int(timerange.get("to"), 0, "to")
        return now - timedelta(seconds=start), now - timedelta(seconds=end)
    if kind == "absolute":
        try:
            a = datetime.fromisoformat(str(timerange["from"]).replace("Z", "+00:00"))
            b = datetime.fromisoformat(str(timerange["to"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            raise QueryError("absolute timerange needs ISO 8601 from and to") from None
        return a, b
    raise QueryError(f"Unsupported timerange type {kind!r} (the simulated Graylog knows relative and absolute)")


def _sorted(lines: list[LogLine], field: str, descending: bool) -> list[LogLine]:
    """Sorted by one field; messages without it go last either way (Elasticsearch's default)."""
    def key(line: LogLine):
        value = line.fields().get(field)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return (number, value if number else str(value), line.timestamp, line.id)

    present = [line for line in lines if line.fields().get(field) is not None]
    missing = [line for line in lines if line.fields().get(field) is None]
    return sorted(present, key=key, reverse=descending) + sorted(missing, key=lambda l: (l.timestamp, l.id), reverse=descending)


def _index(ts: datetime) -> str:
    return f"graylog_{ts.isocalendar().week + 100}"
