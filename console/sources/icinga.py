"""Icinga2 REST: every service (OK ones too: the Services pane shows them) and every host."""

from __future__ import annotations

from typing import Any

import httpx

from console.clock import Clock, utc_now
from console.config import IcingaConfig
from console.leftovers import Acknowledgement, Downtime
from console.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck
from console.sources.base import MalformedAnswer
from console.sources.httpclient import HttpSource, answer_json, basic_credentials, gather_or_cancel
from console.sources.parsing import as_dict, as_list, epoch_time, malformed, opt_dict, opt_float, opt_str

SERVICE_ATTRS = [
    "name",
    "display_name",
    "host_name",
    "state",
    "state_type",
    "acknowledgement",
    "downtime_depth",
    "last_state_change",
    "last_check",
    "last_check_result",
]
HOST_ATTRS = ["name", "state", "acknowledgement", "downtime_depth", "last_check_result"]
DOWNTIME_ATTRS = ["host_name", "service_name", "author", "comment", "start_time", "end_time", "fixed"]
ACK_COMMENT_ATTRS = ["host_name", "service_name", "author", "text", "entry_time", "expire_time"]


class IcingaSource(HttpSource[IcingaSnapshot]):
    """Service checks and host states from one Icinga2 API endpoint."""

    kind = "icinga"
    auth_hint = "check the Icinga API user's username and password"

    def __init__(self, config: IcingaConfig, clock: Clock = utc_now) -> None:
        super().__init__(config, clock)
        self.config: IcingaConfig = config

    def _auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.config.username, self.config.password.reveal())

    def _secret_values(self) -> list[str]:
        password = self.config.password.reveal()
        return [password, basic_credentials(self.config.username, password)]

    async def _fetch(self) -> IcingaSnapshot:
        services, hosts = await gather_or_cancel(
            self._objects("services", {"attrs": SERVICE_ATTRS, "joins": ["host.name"]}),
            self._objects("hosts", {"attrs": HOST_ATTRS}),
        )
        return IcingaSnapshot(hosts=parse_hosts(hosts), services=parse_services(services))

    async def downtimes(self) -> list[Downtime]:
        """Every downtime Icinga holds (the leftovers board). Raises SourceError."""
        return parse_downtimes(await self._guard(self._objects("downtimes", {"attrs": DOWNTIME_ATTRS})))

    async def acknowledgements(self) -> list[Acknowledgement]:
        """Every acknowledgement, from its comment (entry_type 4). Raises SourceError."""
        body = {"filter": "comment.entry_type == 4", "attrs": ACK_COMMENT_ATTRS}
        return parse_acknowledgements(await self._guard(self._objects("comments", body)))

    async def _objects(self, kind: str, body: dict[str, Any]) -> Any:
        # POST + override: the attribute list travels in the body, not in a long query string
        headers = {"X-HTTP-Method-Override": "GET", "Accept": "application/json"}
        response = await self._request("POST", f"/v1/objects/{kind}", json=body, headers=headers)
        if response.status_code == 404 and _no_objects(response):
            return {"results": []}  # Icinga's way of saying "none configured"
        return answer_json(response, auth_hint=self.auth_hint)


def _no_objects(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "no objects found" in str(body.get("status", "")).lower()


# --- parsers (pure) ----------------------------------------------------------------------------


def results(payload: Any, where: str) -> list[Any]:
    """The `results` list of an Icinga answer."""
    return as_list(as_dict(payload, where).get("results"), f"{where}.results")


def parse_services(payload: Any) -> tuple[ServiceCheck, ...]:
    """`/v1/objects/services` → ServiceCheck per result, sorted by host then service."""
    checks = [parse_service(item, f"services[{i}]") for i, item in enumerate(results(payload, "services"))]
    return tuple(sorted(checks, key=lambda c: (c.host, c.service)))


def parse_service(item: Any, at: str) -> ServiceCheck:
    """One service result. Numbers may be floats (2.0); `acknowledgement` 1 normal / 2 sticky."""
    record = as_dict(item, at)
    attrs = as_dict(record.get("attrs"), f"{at}.attrs")
    host, service = _names(record, attrs, at)
    return ServiceCheck(
        host=host,
        service=service,
        state=check_state(attrs.get("state"), f"{at}.attrs.state"),
        hard=_number(attrs.get("state_type"), f"{at}.attrs.state_type") == 1,
        acknowledged=_number(attrs.get("acknowledgement"), f"{at}.attrs.acknowledgement") != 0,
        in_downtime=_number(attrs.get("downtime_depth"), f"{at}.attrs.downtime_depth") > 0,
        output=check_output(attrs.get("last_check_result"), f"{at}.attrs.last_check_result"),
        last_state_change=epoch_time(attrs.get("last_state_change"), f"{at}.attrs.last_state_change"),
        last_check=epoch_time(attrs.get("last_check"), f"{at}.attrs.last_check"),
    )


def _names(record: dict[str, Any], attrs: dict[str, Any], at: str) -> tuple[str, str]:
    """(host, service) from attrs.host_name / joins.host.name / "host!svc" and attrs.name."""
    full = opt_str(record.get("name"), f"{at}.name") or ""
    host_part, _, service_part = full.partition("!")
    joined = opt_dict(opt_dict(record.get("joins"), f"{at}.joins").get("host"), f"{at}.joins.host")
    host = (
        opt_str(attrs.get("host_name"), f"{at}.attrs.host_name")
        or opt_str(joined.get("name"), f"{at}.joins.host.name")
        or (host_part if service_part else None)
    )
    service = opt_str(attrs.get("name"), f"{at}.attrs.name") or service_part
    if not host or not service:
        raise MalformedAnswer(f"malformed answer: {at} names no host and service")
    return host, service


def check_state(value: Any, where: str) -> CheckState:
    number = opt_float(value, where)
    if number is None or not number.is_integer() or not 0 <= number <= 3:
        raise malformed(where, "a state 0..3", value)
    return CheckState(int(number))


def _number(value: Any, where: str) -> float:
    """A counter/flag attribute; absent counts as 0."""
    return opt_float(value, where) or 0.0


def check_output(value: Any, where: str) -> str:
    """The plugin output of `last_check_result` (null for a check that never ran)."""
    result = opt_dict(value, where)
    return (opt_str(result.get("output"), f"{where}.output") or "").strip()


def parse_hosts(payload: Any) -> tuple[IcingaHostState, ...]:
    """`/v1/objects/hosts` → IcingaHostState per result (state 0 = UP), sorted by name."""
    hosts = [parse_host(item, f"hosts[{i}]") for i, item in enumerate(results(payload, "hosts"))]
    return tuple(sorted(hosts, key=lambda h: h.name))


def parse_host(item: Any, at: str) -> IcingaHostState:
    record = as_dict(item, at)
    attrs = as_dict(record.get("attrs"), f"{at}.attrs")
    name = opt_str(attrs.get("name"), f"{at}.attrs.name") or opt_str(record.get("name"), f"{at}.name")
    if not name:
        raise MalformedAnswer(f"malformed answer: {at} has no name")
    state = opt_float(attrs.get("state"), f"{at}.attrs.state")
    if state is None:
        raise malformed(f"{at}.attrs.state", "a number", None)
    return IcingaHostState(
        name=name,
        up=state == 0,
        acknowledged=_number(attrs.get("acknowledgement"), f"{at}.attrs.acknowledgement") != 0,
        in_downtime=_number(attrs.get("downtime_depth"), f"{at}.attrs.downtime_depth") > 0,
        output=check_output(attrs.get("last_check_result"), f"{at}.attrs.last_check_result"),
    )


def parse_downtimes(payload: Any) -> list[Downtime]:
    """`/v1/objects/downtimes` → Downtime per result (name = Icinga's full `host!service!uuid`), by end;
    epoch 0 (Icinga's "not set") is None."""
    found = [parse_downtime(item, f"downtimes[{i}]") for i, item in enumerate(results(payload, "downtimes"))]
    return sorted(found, key=lambda d: (d.end is None, d.end.timestamp() if d.end else 0.0, d.name))


def parse_downtime(item: Any, at: str) -> Downtime:
    record = as_dict(item, at)
    attrs = as_dict(record.get("attrs"), f"{at}.attrs")
    name = opt_str(record.get("name"), f"{at}.name") or opt_str(attrs.get("__name"), f"{at}.attrs.__name") or ""
    host = opt_str(attrs.get("host_name"), f"{at}.attrs.host_name") or name.partition("!")[0]
    if not host:
        raise MalformedAnswer(f"malformed answer: {at} names no host")
    return Downtime(
        name=name or host,
        host=host,
        service=opt_str(attrs.get("service_name"), f"{at}.attrs.service_name") or None,  # "" is a host downtime
        author=opt_str(attrs.get("author"), f"{at}.attrs.author") or "",
        comment=opt_str(attrs.get("comment"), f"{at}.attrs.comment") or "",
        start=epoch_time(attrs.get("start_time"), f"{at}.attrs.start_time"),
        end=epoch_time(attrs.get("end_time"), f"{at}.attrs.end_time"),
    )


def parse_acknowledgements(payload: Any) -> list[Acknowledgement]:
    """`/v1/objects/comments` (entry_type 4 = acknowledgement) → Acknowledgement per result, by host and
    service; `expire_time` 0 means none (it lasts until the object recovers)."""
    found = []
    for i, item in enumerate(results(payload, "comments")):
        at = f"comments[{i}]"
        attrs = as_dict(as_dict(item, at).get("attrs"), f"{at}.attrs")
        entry_type = opt_float(attrs.get("entry_type"), f"{at}.attrs.entry_type")
        if entry_type is not None and entry_type != 4:
            continue  # a user comment, downtime or flapping note: not an acknowledgement
        host = opt_str(attrs.get("host_name"), f"{at}.attrs.host_name")
        if not host:
            raise MalformedAnswer(f"malformed answer: {at} names no host")
        found.append(Acknowledgement(
            host=host,
            service=opt_str(attrs.get("service_name"), f"{at}.attrs.service_name") or None,
            author=opt_str(attrs.get("author"), f"{at}.attrs.author") or "",
            comment=opt_str(attrs.get("text"), f"{at}.attrs.text") or "",
            set_at=epoch_time(attrs.get("entry_time"), f"{at}.attrs.entry_time"),
            expiry=epoch_time(attrs.get("expire_time"), f"{at}.attrs.expire_time"),
        ))  # fmt: skip
    return sorted(found, key=lambda a: (a.host, a.service or ""))
