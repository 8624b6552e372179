"""Icinga 2's REST API: /v1/objects/{hosts,services,comments,downtimes} with filter/attrs/joins; Basic auth.

Answers are what Icinga's JSON encoder writes: keys sorted, every number a float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from console.sim.basic_auth import basic_credentials, same
from console.sim.checks import CHECK_SOURCE, MAX_ATTEMPTS, RETRY_INTERVAL, Slot, Status, evaluate, ok_output
from console.sim.farm import Farm
from console.sim.farm_api import FarmApi
from console.sim.icinga_filter import FilterError, IcingaObject, compile_filter, matches
from console.sim.inventory import HostSpec
from console.sim.seeded import stable_int, stable_uuid

USERNAME = "opsconsole"
VERSION = "r2.14.6-1"
SERVER = f"Icinga/{VERSION}"
TYPES = {"hosts": "Host", "services": "Service", "comments": "Comment", "downtimes": "Downtime"}
JOINABLE = {"Host": (), "Service": ("host",), "Comment": ("host", "service"), "Downtime": ("host", "service")}
PLUGINS = "/usr/lib/nagios/plugins"


def _floats(value: Any) -> Any:
    """Icinga's Value has no integers: 2 is a double, written 2.0 (APIS.md)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_floats(v) for v in value]
    return value


def _integral(value: Any) -> Any:
    """How Icinga 2.13 writes the same doubles: 2, not 2.0 (seen on 2.13.6)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _json(data: Any, status: int = 200, pretty: bool = False, headers: dict | None = None, floats: bool = True,
          converted: bool = False) -> Response:
    """`converted`: every number in `data` is a float already (the objects' attributes are built so)."""
    if not converted:
        data = _floats(data)
    if not floats:
        data = _integral(data)
    body = json.dumps(data, sort_keys=True, indent=4 if pretty else None, separators=None if pretty else (",", ":"))
    return Response(body, status, headers={"server": SERVER, **(headers or {})}, media_type="application/json")


def _error(code: int, status: str, params: dict | None = None, diagnostic: str = "", floats: bool = True) -> Response:
    body: dict[str, Any] = {"error": code, "status": status}
    if params and _last(params.get("verbose")) and diagnostic:
        body["diagnostic_information"] = diagnostic
    return _json(body, code, pretty=bool(params and _last(params.get("pretty"))), floats=floats)


def _html(code: int, text: str, extra: dict | None = None) -> Response:
    headers = {"server": SERVER, "connection": "close", **(extra or {})}
    return Response(text, code, headers=headers, media_type="text/html")


def _last(value: Any) -> Any:
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _query(raw: bytes) -> dict[str, list[str]]:
    """The query string as Icinga's Url reads it: %XX decoded, but a '+' stays a '+', not a space (seen on
    2.13.6: `filter=host.name+==+"h1"` matches nothing, `"a+b"=="a%2Bb"` is true)."""
    out: dict[str, list[str]] = {}
    for pair in raw.decode("latin-1").split("&"):
        if pair:
            key, _, value = pair.partition("=")
            out.setdefault(unquote(key), []).append(unquote(value))
    return out


def _truthy_param(value: Any) -> bool:
    value = _last(value)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


class IcingaApi(FarmApi):
    def __init__(self, farm: Farm, password: str) -> None:
        from console.sim.icinga_events import EventHub

        super().__init__(farm)
        self.password = password
        self.events = EventHub(farm, self._encode)  # POST /v1/events (console/sim/icinga_events.py)

    def _encode(self, data: Any) -> Any:
        return _floats(data) if self.farm.icinga_float_numbers else _integral(_floats(data))

    def _authorized(self, request: Request) -> bool:
        credentials = basic_credentials(request)
        return credentials is not None and credentials[0] == USERNAME and same(credentials[1], self.password)

    def answers_on_loop(self, request: Request) -> bool:
        return request.method == "POST" and request.url.path.rstrip("/") == "/v1/events"

    def handle(self, request: Request, body: bytes) -> Response:
        method = request.method
        override = request.headers.get("x-http-method-override", "").upper()
        if override in ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"):
            method = override
        wants_json = request.headers.get("accept") == "application/json"
        if method != "GET" and not wants_json:
            return _html(400, "<h1>Accept header is missing or not set to 'application/json'.</h1>")
        if not self._authorized(request):
            headers = {"www-authenticate": 'Basic realm="Icinga 2"', "connection": "close"}
            if wants_json:
                return _json({"error": 401, "status": "Unauthorized. Please check your user credentials."}, 401, headers=headers,
                             floats=self.farm.icinga_float_numbers)
            return _html(401, "<h1>Unauthorized. Please check your user credentials.</h1>", headers)
        # split the raw path: a service name may contain "/" ("HTTP 4xx/5xx ERROR Rate" is sent as %2F)
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = [unquote(p) for p in raw.decode("latin-1").split("?")[0].split("/") if p]
        params: dict[str, Any] = {}
        if body.strip():
            try:
                params = json.loads(body)
            except ValueError as exc:
                return _error(400, f"Invalid request body: Error: {exc}")
            if not isinstance(params, dict):
                params = {}
        for key, values in _query(request.scope.get("query_string", b"")).items():
            params[key.removesuffix("[]")] = values
        floats = self.farm.icinga_float_numbers
        not_found = _error(404, f"The requested path '{'/'.join(path)}' could not be found or the request method "
                                "is not valid for this path.", params, floats=floats)
        if method == "POST" and path == ["v1", "events"]:
            return self.subscribe(params)
        if method == "POST" and path[:2] == ["v1", "objects"] and len(path) in (3, 4):
            # Icinga's ModifyObjectHandler takes it: a query sent without the override header lands here
            if not isinstance(params.get("attrs"), dict):
                return _error(400, "Invalid type for 'attrs' attribute specified. Dictionary type is required."
                                   "Or is this a POST query and you missed adding a 'X-HTTP-Method-Override: GET' header?",
                              params, floats=floats)
            return _error(400, "The simulated farm does not modify objects", params, floats=floats)
        if method == "POST" and len(path) == 3 and path[:2] == ["v1", "actions"]:
            return self.action(path[2], params)
        if method != "GET":
            return not_found
        match path:
            case ["v1", "objects", plural] | ["v1", "objects", plural, _]:
                return self.objects(path, plural, params)
            case ["v1", "status"] | ["v1", "status", "IcingaApplication"]:
                return _json({"results": [self.application_status()]}, pretty=_truthy_param(params.get("pretty")),
                             floats=floats)
        return not_found

    # --- /v1/objects -------------------------------------------------------------------------------

    def objects(self, path: list[str], plural: str, params: dict) -> Response:
        floats = self.farm.icinga_float_numbers
        type_name = TYPES.get(plural.lower())
        if type_name is None:
            return _error(400, "Invalid type specified.", params, floats=floats)
        lists = {}
        for key in ("attrs", "joins", "meta"):
            value = params.get(key)
            if value is not None and not isinstance(value, list):
                return _error(400, f"Invalid type for '{key}' attribute specified. Array type is required.", params,
                              floats=floats)
            lists[key] = value
        now = self.farm.now()
        records = self.records(type_name, now)
        try:
            chosen = self._select(type_name, records, path, params)
        except FilterError as exc:
            return _error(404, "No objects found.", params, f"Error: {exc}", floats=floats)
        results = []
        all_joins = _truthy_param(params.get("all_joins"))
        for record in chosen:
            try:
                results.append(self._result(type_name, record, lists, all_joins))
            except FilterError as exc:
                return _error(400, str(exc), params, floats=floats)
        return _json({"results": results}, pretty=_truthy_param(params.get("pretty")), floats=floats, converted=True)

    def _select(self, type_name: str, records: list[dict], path: list[str], params: dict) -> list[dict]:
        by_name = {r["attrs"]["__name"]: r for r in records}
        chosen: list[dict] = []
        singular = type_name.lower()
        names: list[str] = []
        if len(path) == 4:
            names.append(path[3])
        if singular in params:
            names.append(_last(params[singular]))
        plural_key = {"Host": "hosts", "Service": "services", "Comment": "comments", "Downtime": "downtimes"}[type_name]
        if isinstance(params.get(plural_key), list):
            names += [str(n) for n in params[plural_key]]
        for name in names:
            if name not in by_name:
                raise FilterError("Object does not exist.")
            chosen.append(by_name[name])
        if "filter" in params or not chosen:
            if "filter" not in params:
                return list(records)  # the default filter "true"
            text = _last(params.get("filter"))
            if not isinstance(text, str):
                raise FilterError("Invalid filter")
            if not text.strip():
                return chosen
            node = compile_filter(text)
            variables = _floats(params.get("filter_vars") if isinstance(params.get("filter_vars"), dict) else {})
            for record in records:
                env = {**variables, type_name.lower(): IcingaObject(type_name, record["attrs"]),
                       **{prefix: IcingaObject(prefix.capitalize(), target) for prefix, target in record["joins"].items()}}
                if matches(node, env):
                    chosen.append(record)
        return chosen

    def _result(self, type_name: str, record: dict, lists: dict, all_joins: bool) -> dict:
        attrs = record["attrs"]
        wanted = lists["attrs"]
        if wanted:
            for name in wanted:
                if name not in attrs:
                    raise FilterError(f"Invalid field specified: {name}")
            shown = attrs.pick(wanted) if isinstance(attrs, Checkable) else {name: attrs[name] for name in wanted}
        else:
            shown = _plain(attrs)
        joins: dict[str, Any] = {}
        requested = lists["joins"] or []
        for prefix in JOINABLE[type_name]:
            target = record["joins"].get(prefix)
            if target is None:
                continue
            fields = [j.split(".", 1)[1] for j in requested if "." in j and j.split(".", 1)[0] == prefix]
            if all_joins or prefix in requested:
                joins[prefix] = _plain(target)
            elif fields:
                for name in fields:
                    if name not in target:
                        raise FilterError(f"Invalid field specified: {name}")
                joins[prefix] = {name: target[name] for name in fields}
        meta: dict[str, Any] = {}
        for item in lists["meta"] or []:
            if item == "used_by":
                meta["used_by"] = []
            elif item == "location":
                meta["location"] = attrs.get("source_location")
            else:
                raise FilterError(f"Invalid field specified for meta: {item}")
        return {"attrs": shown, "joins": joins, "meta": meta, "name": attrs["__name"], "type": type_name}

    # --- the objects ---------------------------------------------------------------------------

    def records(self, type_name: str, now: datetime) -> list[dict]:
        # attributes are computed when first read (Checkable): most queries read a few of them
        hosts = {}
        for (host, service), slot in self.farm.slots.items():
            if not service:
                hosts[host] = Checkable(self.farm, slot, now, None)
        if type_name == "Host":
            return [{"attrs": a, "joins": {}} for a in hosts.values()]
        services = {}
        for (host, service), slot in self.farm.slots.items():
            if service:
                services[(host, service)] = Checkable(self.farm, slot, now, hosts[host])
        if type_name == "Service":
            return [{"attrs": a, "joins": {"host": hosts[key[0]]}} for key, a in services.items()]
        out = []
        for (host, service), slot in self.farm.slots.items():
            item = comment_attrs(self.farm, slot, now) if type_name == "Comment" else downtime_attrs(self.farm, slot, now)
            if item is None:
                continue
            item = _floats(item)  # as the checkables' attributes are
            joins = {"host": hosts[host]}
            if service:
                joins["service"] = services[(host, service)]
            out.append({"attrs": item, "joins": joins})
        return out

    # --- /v1/actions -------------------------------------------------------------------------------

    def action(self, name: str, params: dict) -> Response:
        """POST /v1/actions/<name>: `type` + `filter` (+ `filter_vars`) or the object's name select the
        objects; one result per object, HTTP status from the results' codes (as ActionsHandler does)."""
        floats = self.farm.icinga_float_numbers
        handler = ACTIONS.get(name)
        if handler is None:
            return _error(404, f"Action '{name}' does not exist.", params, floats=floats)
        type_name = _last(params.get("type"))
        allowed = ("Host", "Service", "Downtime") if name == "remove-downtime" else ("Host", "Service")
        if type_name not in allowed:
            return _error(404, "No objects found.", params, "Error: Invalid type specified for this action.", floats=floats)
        now = self.farm.now()
        try:
            chosen = self._select(type_name, self.records(type_name, now), ["v1", "actions", name], params)
        except FilterError as exc:
            return _error(404, "No objects found.", params, f"Error: {exc}", floats=floats)
        if not chosen:
            return _error(404, "No objects found.", params, floats=floats)
        results = [handler(self, type_name, record["attrs"], params, now) for record in chosen]
        self.events.poke()  # the event stream tells at once, as Icinga's does
        codes = {int(r["code"]) for r in results}
        ok, bad = {c for c in codes if 200 <= c < 300}, {c for c in codes if not 200 <= c < 300}
        status = 500
        if len(ok) == 1 and not bad:
            status = next(iter(ok))
        elif len(bad) == 1:
            status = next(iter(bad))
        elif len(ok) >= 2 and not bad:
            status = 200
        return _json({"results": results}, status, pretty=_truthy_param(params.get("pretty")), floats=floats)

    def _acknowledge(self, type_name: str, attrs: dict, params: dict, now: datetime) -> dict:
        host, service, label = _slot_of(type_name, attrs)
        author, comment = _last(params.get("author")), _last(params.get("comment"))
        if not author or not comment:
            return _result(403, "Acknowledgements require author and comment.")
        status = evaluate(self.farm, self.farm.slot(host, service), now)
        if not status.problem:
            return _result(409, f"{'Service' if service else 'Host'} {label} is {'OK' if service else 'UP'}.")
        if status.ack is not None:
            return _result(409, f"{'Service' if service else 'Host'} {label} is already acknowledged.")
        expiry = None
        if params.get("expiry") is not None:
            try:
                expiry = datetime.fromtimestamp(float(_last(params["expiry"])), now.tzinfo)
            except (TypeError, ValueError):
                return _result(400, "Invalid 'expiry' timestamp.")
            if expiry <= now:
                return _result(409, f"Acknowledgement 'expiry' timestamp must be in the future for object {label}")
        self.farm.acknowledge(host, service, author=str(author), comment=str(comment),
                              sticky=_truthy_param(params.get("sticky")), since=now, expiry=expiry)
        return _result(200, f"Successfully acknowledged problem for object '{label}'.")

    def _remove_acknowledgement(self, type_name: str, attrs: dict, params: dict, now: datetime) -> dict:
        host, service, label = _slot_of(type_name, attrs)
        self.farm.clear_acknowledgement(host, service)
        return _result(200, f"Successfully removed acknowledgement for object '{label}'.")

    def _schedule_downtime(self, type_name: str, attrs: dict, params: dict, now: datetime) -> dict:
        host, service, label = _slot_of(type_name, attrs)
        required = [params.get(k) for k in ("start_time", "end_time", "author", "comment")]
        if any(v is None or v == "" for v in required):
            return _result(400, "Options 'start_time', 'end_time', 'author' and 'comment' are required")
        fixed = params.get("fixed") is None or _truthy_param(params.get("fixed"))
        if not fixed and params.get("duration") is None:
            return _result(400, "Option 'duration' is required for flexible downtime")
        try:
            start = datetime.fromtimestamp(float(_last(params["start_time"])), now.tzinfo)
            end = datetime.fromtimestamp(float(_last(params["end_time"])), now.tzinfo)
        except (TypeError, ValueError):
            return _result(400, "Invalid 'start_time' or 'end_time'.")
        if end <= start:
            return _result(400, "End time must be after start time.")
        author, comment = str(_last(params["author"])), str(_last(params["comment"]))
        name = self.farm.set_downtime(host, service, author, comment, end - start, start, fixed)
        result = _result(200, f"Successfully scheduled downtime '{name}' for object '{label}'.", name=name,
                         legacy_id=1 + stable_int(name) % 500)
        if not service and _truthy_param(params.get("all_services")):
            names = [self.farm.set_downtime(h, s, author, comment, end - start, start, fixed, parent=name)
                     for (h, s) in list(self.farm.slots) if h == host and s]
            result["service_downtimes"] = [{"legacy_id": 1 + stable_int(n) % 500, "name": n} for n in names]
        return result

    def _remove_downtime(self, type_name: str, attrs: dict, params: dict, now: datetime) -> dict:
        if type_name == "Downtime":
            host, service, name = attrs["host_name"], attrs["service_name"], attrs["__name"]
            slot = self.farm.slot(host, service)
            if slot.downtime is None or slot.downtime.name != name:  # went with its parent already
                return _result(200, f"Successfully removed downtime '{name}' and 0 child downtimes.")
            children = self.farm.clear_downtime(host, service)
            return _result(200, f"Successfully removed downtime '{name}' and {children} child downtimes.")
        host, service, label = _slot_of(type_name, attrs)
        children = self.farm.clear_downtime(host, service)
        return _result(200, f"Successfully removed all downtimes for object '{label}' and {children} child downtimes.")

    def _reschedule_check(self, type_name: str, attrs: dict, params: dict, now: datetime) -> dict:
        host, service, label = _slot_of(type_name, attrs)
        self.farm.recheck(host, service, now)
        return _result(200, f"Successfully rescheduled check for object '{label}'.")

    def _process_check_result(self, type_name: str, attrs: dict, params: dict, now: datetime) -> dict:
        """A passive check result: the state holds until the next one (the sim has no active checks
        for it then). Hosts take 0 UP / 1 DOWN, services 0..3."""
        host, service, label = _slot_of(type_name, attrs)
        if params.get("exit_status") is None:
            return _result(400, "Parameter 'exit_status' is required.")
        if params.get("plugin_output") is None:
            return _result(400, "Parameter 'plugin_output' is required")
        try:
            exit_status = int(float(_last(params["exit_status"])))
        except (TypeError, ValueError):
            return _result(400, "Invalid 'exit_status'.")
        output = str(_last(params["plugin_output"]))
        if service:
            if exit_status not in (0, 1, 2, 3):
                return _result(400, "Invalid 'exit_status' for Service.")
            self.farm.set_check(host, service, exit_status, output)
        else:
            if exit_status not in (0, 1):
                return _result(400, "Invalid 'exit_status' for Host.")
            self.farm.set_host_state(host, exit_status, output)
        return _result(200, f"Successfully processed check result for object '{label}'.")

    # --- /v1/events ---------------------------------------------------------------------------------

    def subscribe(self, params: dict) -> Response:
        """POST /v1/events: held open, one JSON object per line (console/sim/icinga_events.py)."""
        from console.sim.icinga_events import EventStreamResponse, SubscribeError, check_request

        try:
            types, _queue = check_request(params)
        except SubscribeError as exc:
            return _error(400, str(exc), params, floats=self.farm.icinga_float_numbers)
        return EventStreamResponse(self.events.subscribe(types), 200, headers={"server": SERVER},
                                 media_type="application/json")

    def application_status(self) -> dict:
        started = self.farm.anchor.timestamp() - 3 * 86400 - 4242
        return {"name": "IcingaApplication", "perfdata": [], "status": {"icingaapplication": {"app": {
            "enable_event_handlers": True, "enable_flapping": True, "enable_host_checks": True,
            "enable_notifications": True, "enable_perfdata": True, "enable_service_checks": True,
            "environment": "", "node_name": CHECK_SOURCE, "pid": 1187, "program_start": started, "version": VERSION}}}}


ACTIONS = {
    "acknowledge-problem": IcingaApi._acknowledge,
    "remove-acknowledgement": IcingaApi._remove_acknowledgement,
    "schedule-downtime": IcingaApi._schedule_downtime,
    "remove-downtime": IcingaApi._remove_downtime,
    "reschedule-check": IcingaApi._reschedule_check,
    "process-check-result": IcingaApi._process_check_result,
}


def _slot_of(type_name: str, attrs: dict) -> tuple[str, str, str]:
    """(host, service, the object's full name) of a Host or Service record."""
    if type_name == "Host":
        return attrs["name"], "", attrs["name"]
    return attrs["host_name"], attrs["name"], f"{attrs['host_name']}!{attrs['name']}"


def _result(code: int, status: str, **extra: object) -> dict:
    return {"code": code, "status": status, **extra}


def _ts(value: datetime | None) -> float:
    return round(value.timestamp(), 6) if value else 0.0


# Every attribute below is written as Icinga's JSON has it already (numbers as floats), so an answer needs
# no conversion pass (_floats) over tens of thousands of records.

# what every Checkable has, the same on every object
_CHECKABLE_CONSTANTS: dict[str, Any] = {
    "action_url": "", "active": True, "check_period": "", "check_timeout": None, "command_endpoint": "",
    "enable_active_checks": True, "enable_event_handler": True, "enable_flapping": False, "enable_notifications": True,
    "enable_passive_checks": True, "enable_perfdata": True, "event_command": "", "executions": None, "flapping": False,
    "flapping_current": 0.0, "flapping_ignore_states": None, "flapping_last_change": 0.0, "flapping_threshold": 0.0,
    "flapping_threshold_high": 30.0, "flapping_threshold_low": 25.0, "force_next_check": False,
    "force_next_notification": False, "ha_mode": 0.0, "icon_image": "", "icon_image_alt": "", "last_reachable": True,
    "last_state_unreachable": 0.0, "max_check_attempts": float(MAX_ATTEMPTS), "notes": "", "notes_url": "",
    "original_attributes": None, "package": "_etc", "paused": False, "retry_interval": float(RETRY_INTERVAL),
    "version": 0.0, "volatile": False, "zone": "master",
}
# the same objects serve every answer: read-only (nothing downstream mutates an answer's values)
_STATIC_KEPT = 1 << 16  # one per check: a 5,000-guest farm's ~40,000 fit


@lru_cache(maxsize=_STATIC_KEPT)
def _slot_static(host: str, service: str, address: str) -> tuple[list[str], dict[str, Any], list[str]]:
    """(check command line, source_location, templates) of one object: fixed by its names."""
    command = [f"{PLUGINS}/check_ping", "-H", address] if not service else \
        [f"{PLUGINS}/check_nrpe", "-H", address, "-c", f"check_{service.lower().replace(' ', '_')}"]
    line = 10 + stable_int("line", host, service) % 900
    location = {"first_column": 1.0, "first_line": float(line), "last_column": 1.0, "last_line": float(line + 5),
                "path": "/etc/icinga2/zones.d/master/" + ("hosts.conf" if not service else "services.conf")}
    return command, location, [service or host, "generic-service" if service else "generic-host"]


def _acknowledgement(status: Status) -> float:
    ack = status.ack
    return (2.0 if ack.sticky else 1.0) if ack is not None and status.problem else 0.0


def _check_result(farm: Farm, slot: Slot, status: Status, state: int) -> dict:
    """`last_check_result` (`state`: the object's state, 0/1 for a host)."""
    last_check = _ts(status.last_check)
    exit_status = 2 if (not slot.service and state == 1) else state
    state_type = 1.0 if status.hard else 0.0
    command, _location, _templates = _slot_static(slot.host, slot.service, farm.hosts[slot.host].address)
    attempt = float(status.check_attempt)
    return {
        "active": True, "check_source": CHECK_SOURCE, "command": command,
        "execution_start": round(last_check + 0.001, 6), "execution_end": round(last_check + 0.05, 6),
        "schedule_start": last_check, "schedule_end": round(last_check + 0.051, 6),
        "exit_status": float(exit_status), "output": status.output, "performance_data": list(status.perf),
        "previous_hard_state": 99.0, "scheduling_source": CHECK_SOURCE,
        "state": float(state if slot.service else exit_status), "ttl": 0.0, "type": "CheckResult",
        "vars_after": {"attempt": attempt, "reachable": True, "state": float(state), "state_type": state_type},
        "vars_before": {"attempt": attempt, "reachable": True, "state": float(state), "state_type": state_type},
    }


def icinga_common_attrs(farm: Farm, slot: Slot, status: Status, state: int) -> dict:
    """Attributes hosts and services share (Checkable)."""
    ack = status.ack if status.problem else None  # only a problem's acknowledgement handles it
    handled_by_ack = ack is not None
    last_check = _ts(status.last_check)
    state_type = 1.0 if status.hard else 0.0
    _command, location, templates = _slot_static(slot.host, slot.service, farm.hosts[slot.host].address)
    attempt = float(status.check_attempt)
    result = _check_result(farm, slot, status, state)
    last_state_change = _ts(status.last_state_change)
    next_check = _ts(status.next_check)
    return {
        **_CHECKABLE_CONSTANTS,
        "acknowledgement": _acknowledgement(status),
        "acknowledgement_expiry": _ts(ack.expiry) if ack is not None and ack.expiry else 0.0,
        "acknowledgement_last_change": _ts(ack.at) if ack is not None else 0.0,
        "check_attempt": attempt,
        "check_command": status.command,
        "check_interval": float(slot.interval),
        "downtime_depth": 1.0 if status.in_downtime else 0.0,
        "handled": bool(status.problem and (handled_by_ack or status.in_downtime)),
        "last_check": last_check,
        "last_check_result": result,
        "last_hard_state_change": _ts(status.last_hard_state_change),
        "last_state_change": last_state_change,
        "last_state_type": state_type,
        "next_check": next_check,
        "next_update": round(next_check + slot.interval, 6),
        "previous_state_change": last_state_change,
        "problem": status.problem,
        "source_location": location,
        "state_type": state_type,
        "templates": templates,
    }


def _severity(state: int, status: Status, host_up: bool, is_host: bool) -> float:
    if state == 0:
        return 0.0
    base = (64 if is_host else {1: 32, 3: 64, 2: 128}.get(state, 256))
    if not host_up and not is_host:
        return float(base + 1024)
    if status.ack is not None:
        return float(base + 512)
    if status.in_downtime:
        return float(base + 256)
    return float(base + 2048)


@lru_cache(maxsize=_STATIC_KEPT)
def _host_static(spec: HostSpec) -> dict[str, Any]:
    return {
        "__name": spec.name, "address": spec.address, "address6": "", "display_name": spec.name,
        "groups": [spec.role, "linux-servers"], "name": spec.name, "type": "Host",
        "vars": {"fqdn": spec.fqdn, "os": "Linux", "role": spec.role, "hypervisor": spec.node},
    }


def host_attrs(farm: Farm, slot: Slot, status: Status) -> dict:
    spec = farm.hosts[slot.host]
    state = 1 if status.state else 0
    attrs = icinga_common_attrs(farm, slot, status, state)
    last_state_change = attrs["last_state_change"]
    attrs.update(_host_static(spec))
    attrs.update({
        "last_hard_state": float(state) if status.hard else 0.0,
        "last_state": float(state),
        "last_state_down": last_state_change if state else last_state_change - 3600 * 24 * 30,
        "last_state_up": attrs["last_check"] if not state else last_state_change - 1,
        "severity": _severity(state, status, True, True),
        "state": float(state),
    })
    return attrs


def service_attrs(farm: Farm, slot: Slot, status: Status, host: Mapping[str, Any]) -> dict:
    state = status.state
    attrs = icinga_common_attrs(farm, slot, status, state)
    last_check = attrs["last_check"]
    last_ok = last_check if state == 0 else attrs["last_state_change"] - 1
    attrs.update({
        "__name": f"{slot.host}!{slot.service}",
        "display_name": slot.service,
        "groups": [],
        "host_name": slot.host,
        "last_hard_state": float(state) if status.hard else 0.0,
        "last_state": float(state),
        "last_state_critical": last_check if state == 2 else 0.0,
        "last_state_ok": last_ok,
        "last_state_unknown": last_check if state == 3 else 0.0,
        "last_state_warning": last_check if state == 1 else 0.0,
        "name": slot.service,
        "severity": _severity(state, status, host["state"] == 0, False),
        "state": float(state),
        "type": "Service",
        "vars": {},
    })
    return attrs


def _state(slot: Slot, status: Status) -> int:
    """The object's state: a host is UP (0) or DOWN (1), a service 0..3."""
    return status.state if slot.service else (1 if status.state else 0)


# The attributes a Checkable can give alone, without building the whole object: what the console's
# refresh and most filters read. Each is the very value host_attrs/service_attrs have.
_HOST_NAMES: dict[str, Callable[[Slot], str]] = {
    "__name": lambda slot: slot.host, "name": lambda slot: slot.host, "display_name": lambda slot: slot.host,
    "type": lambda slot: "Host",
}
_SERVICE_NAMES: dict[str, Callable[[Slot], str]] = {
    "__name": lambda slot: f"{slot.host}!{slot.service}", "name": lambda slot: slot.service,
    "display_name": lambda slot: slot.service, "host_name": lambda slot: slot.host, "type": lambda slot: "Service",
}
_FROM_STATUS: dict[str, Callable[[Slot, Status], Any]] = {
    "state": lambda slot, status: float(_state(slot, status)),
    "state_type": lambda slot, status: 1.0 if status.hard else 0.0,
    "acknowledgement": lambda slot, status: _acknowledgement(status),
    "downtime_depth": lambda slot, status: 1.0 if status.in_downtime else 0.0,
    "last_state_change": lambda slot, status: _ts(status.last_state_change),
    "last_check": lambda slot, status: _ts(status.last_check),
}
_COMMON_KEYS = frozenset(_CHECKABLE_CONSTANTS) | {
    "acknowledgement", "acknowledgement_expiry", "acknowledgement_last_change", "check_attempt", "check_command",
    "check_interval", "downtime_depth", "handled", "last_check", "last_check_result", "last_hard_state_change",
    "last_state_change", "last_state_type", "next_check", "next_update", "previous_state_change", "problem",
    "source_location", "state_type", "templates", "last_hard_state", "last_state", "severity", "state",
    "__name", "display_name", "groups", "name", "type", "vars",
}
HOST_KEYS = _COMMON_KEYS | {"address", "address6", "last_state_down", "last_state_up"}
SERVICE_KEYS = _COMMON_KEYS | {"host_name", "last_state_critical", "last_state_ok", "last_state_unknown",
                               "last_state_warning"}


class Checkable(Mapping):
    """A host's or service's attributes (host_attrs/service_attrs), computed when first read: a query
    asking a few attributes of 40,000 services neither builds the rest nor runs the plugins' output."""

    __slots__ = ("farm", "slot", "now", "host", "_status", "_full")

    def __init__(self, farm: Farm, slot: Slot, now: datetime, host: Checkable | None) -> None:
        self.farm, self.slot, self.now = farm, slot, now
        self.host = host  # a service's host (None: this is a host)
        self._status: Status | None = None
        self._full: dict | None = None

    def status(self, output: bool = False) -> Status:
        if self._status is None:
            self._status = evaluate(self.farm, self.slot, self.now, output=output)
        if output and self._status.output is None:
            text, perf = ok_output(self.farm, self.slot, self.now)
            self._status = replace(self._status, output=text, perf=perf)
        return self._status

    def full(self) -> dict:
        if self._full is None:
            status = self.status(output=True)
            self._full = (host_attrs(self.farm, self.slot, status) if self.host is None
                          else service_attrs(self.farm, self.slot, status, self.host))
        return self._full

    def __getitem__(self, name: str) -> Any:
        if self._full is not None:
            return self._full[name]
        names = _HOST_NAMES if self.host is None else _SERVICE_NAMES
        if name in names:
            return names[name](self.slot)
        if name in _FROM_STATUS:
            return _FROM_STATUS[name](self.slot, self.status())
        if name == "last_check_result":
            status = self.status(output=True)
            return _check_result(self.farm, self.slot, status, _state(self.slot, status))
        return self.full()[name]

    def pick(self, wanted: list[str]) -> dict:
        """{name: self[name] for name in wanted}, faster: the state is looked up once."""
        if self._full is not None or not all(name in _FROM_STATUS for name in wanted):
            return {name: self[name] for name in wanted}
        slot, status = self.slot, self.status()
        return {name: _FROM_STATUS[name](slot, status) for name in wanted}

    def __contains__(self, name: object) -> bool:
        return name in (HOST_KEYS if self.host is None else SERVICE_KEYS)

    def __iter__(self):
        return iter(self.full())

    def __len__(self) -> int:
        return len(HOST_KEYS if self.host is None else SERVICE_KEYS)


def _plain(attrs: dict[str, Any] | Checkable) -> dict[str, Any]:
    """The attributes as a dict (what the JSON encoder takes)."""
    return attrs.full() if isinstance(attrs, Checkable) else attrs


def _object_name(farm: Farm, slot: Slot, kind: str, at: datetime) -> tuple[str, str]:
    short = stable_uuid(farm.seed, kind, slot.host, slot.service, at.isoformat())
    prefix = f"{slot.host}!{slot.service}" if slot.service else slot.host
    return f"{prefix}!{short}", short


def comment_attrs(farm: Farm, slot: Slot, now: datetime) -> dict | None:
    ack = slot.ack
    if ack is None:
        return None
    full, short = _object_name(farm, slot, "comment", ack.at)
    return {
        "__name": full, "name": short, "type": "Comment", "author": ack.author, "text": ack.comment,
        "entry_type": 4, "entry_time": _ts(ack.at), "expire_time": _ts(ack.expiry) if ack.expiry else 0, "persistent": False, "sticky": ack.sticky,
        "host_name": slot.host, "service_name": slot.service, "legacy_id": 1 + stable_int(full) % 500,
        "package": "_api", "zone": "master", "active": True, "paused": False, "version": _ts(ack.at),
    }


def downtime_attrs(farm: Farm, slot: Slot, now: datetime) -> dict | None:
    downtime = slot.downtime
    if downtime is None or downtime.end <= now:
        return None
    full = downtime.name
    return {
        "__name": full, "name": full.rsplit("!", 1)[-1], "type": "Downtime", "author": downtime.author,
        "comment": downtime.comment, "entry_time": _ts(downtime.entry), "start_time": _ts(downtime.start),
        "end_time": _ts(downtime.end), "trigger_time": _ts(downtime.start) if downtime.start <= now else 0,
        "fixed": downtime.fixed, "duration": 0, "host_name": slot.host, "service_name": slot.service,
        "triggered_by": "", "triggers": [], "scheduled_by": "", "parent": downtime.parent, "was_cancelled": False,
        "remove_time": 0, "legacy_id": 1 + stable_int(full) % 500, "config_owner": "", "authoritative_zone": "",
        "package": "_api", "zone": "master", "active": True, "paused": False, "version": _ts(downtime.entry),
    }
