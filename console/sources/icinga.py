"""Icinga2 REST: every service (OK ones too: the Services pane shows them) and every host.

At 40,000 checks the full objects are ~35 MB a refresh, mostly `last_check_result`. So each refresh
asks three questions (the bench allows Icinga 3 of the 10 requests a refresh):
- every service with only the few attributes the panes need for an OK check (no output);
- the problems (`service.state != ServiceOK`) with their `last_check_result` (the plugin output the
  Alerts pane and the host detail show); merged over the first by check name, authoritative for its checks;
- every host's state, ack, downtime, since when and whether reachable (no output: a host DOWN or
  UNREACHABLE gets its output from the previous answer while its state holds, else from one more
  request for the hosts not UP — only when some host is: an all-UP farm costs the three).
The answers are decoded record by record in a worker thread, by ijson (httpclient.answer_items).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Callable, Iterable, TypeVar

import httpx

from console.core.clock import Clock, utc_now
from console.core.config import IcingaConfig
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck
from console.derive.leftovers import Acknowledgement, Downtime
from console.sources.base import MalformedAnswer
from console.sources.httpclient import (
    Body,
    HttpSource,
    answer_items,
    answer_json,
    basic_credentials,
    gather_or_cancel,
    in_parser_thread,
    parsed_in_thread,
)
from console.sources.parsing import as_dict, as_list, epoch_time, malformed, opt_dict, opt_float, opt_str

R = TypeVar("R")

# What every check needs; host and service come from the object's full name "host!service"
# (Icinga refuses a "!" in a host's name, so the first "!" splits it).
CHECK_ATTRS = ["state", "state_type", "acknowledgement", "downtime_depth", "last_state_change", "last_check"]
PROBLEM_ATTRS = [*CHECK_ATTRS, "last_check_result"]
PROBLEMS_FILTER = "service.state != ServiceOK"
HOST_STATE_ATTRS = ["state", "state_type", "acknowledgement", "downtime_depth", "last_state_change", "last_reachable"]
HOST_ATTRS = [*HOST_STATE_ATTRS, "last_check_result"]  # with the output (host_output, the hosts not UP)
HOSTS_NOT_UP = "host.state != 0"
DOWNTIME_ATTRS = ["host_name", "service_name", "author", "comment", "start_time", "end_time", "fixed"]
ACK_COMMENT_ATTRS = ["host_name", "service_name", "author", "text", "entry_time", "expire_time"]
OVERRIDE_GET = {"X-HTTP-Method-Override": "GET", "Accept": "application/json"}
NO_OBJECTS = b'{"results": []}'


class IcingaSource(HttpSource[IcingaSnapshot]):
    """Service checks and host states from one Icinga2 API endpoint."""

    kind = "icinga"
    auth_hint = "check the Icinga API user's username and password"

    def __init__(self, config: IcingaConfig, clock: Clock = utc_now) -> None:
        super().__init__(config, clock)
        self.config: IcingaConfig = config
        self._known = KnownObjects()  # the previous answer's objects, reused when unchanged

    def _auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.config.username, self.config.password.reveal())

    def _secret_values(self) -> list[str]:
        password = self.config.password.reveal()
        return [password, basic_credentials(self.config.username, password)]

    async def _fetch(self) -> IcingaSnapshot:
        known = self._known
        checks, problems, hosts = await gather_or_cancel(
            self._records("services", {"attrs": CHECK_ATTRS}, partial(parse_services_answer, reuse=known.check)),
            self._records(
                "services",
                {"attrs": PROBLEM_ATTRS, "filter": PROBLEMS_FILTER},
                partial(parse_services_answer, reuse=known.check),
            ),
            self._records("hosts", {"attrs": HOST_STATE_ATTRS}, partial(parse_hosts_answer, reuse=known.host)),
        )
        snapshot = await in_parser_thread(build_snapshot, checks, problems, hosts)
        snapshot = await self._with_host_outputs(snapshot, known)
        self._known = await in_parser_thread(KnownObjects, snapshot)
        return snapshot

    async def _with_host_outputs(self, snapshot: IcingaSnapshot, known: KnownObjects) -> IcingaSnapshot:
        """The output of every host not UP (the Alerts row shows it): the previous answer's while the
        host's state has not changed since, else one request for the hosts not UP."""
        down = [h for h in snapshot.hosts if not h.up and not h.output]
        if not down:
            return snapshot
        outputs: dict[str, str] = {}
        for host in down:
            before = known.hosts.get(host.name)
            if before is not None and not before.up and before.output and before.last_state_change == host.last_state_change:
                outputs[host.name] = before.output
        if len(outputs) < len(down):
            body = {"filter": HOSTS_NOT_UP, "attrs": HOST_ATTRS}
            outputs.update((h.name, h.output) for h in await self._records("hosts", body, parse_hosts_answer))
        hosts = tuple(replace(h, output=outputs.get(h.name, "")) if not h.up and not h.output else h for h in snapshot.hosts)
        return replace(snapshot, hosts=hosts)

    async def host_output(self, host: str) -> str:
        """The plugin output of one host's last check (the refresh leaves it out). Raises SourceError."""
        body = {"filter": "host.name == name", "filter_vars": {"name": host}, "attrs": HOST_ATTRS}
        found = await self._guard(self._records("hosts", body, parse_hosts_answer))
        return next((h.output for h in found if h.name == host), "")

    async def downtimes(self) -> list[Downtime]:
        """Every downtime Icinga holds (the leftovers board). Raises SourceError."""
        return parse_downtimes(await self._guard(self._objects("downtimes", {"attrs": DOWNTIME_ATTRS})))

    async def acknowledgements(self) -> list[Acknowledgement]:
        """Every acknowledgement, from its comment (entry_type 4). Raises SourceError."""
        body = {"filter": "comment.entry_type == 4", "attrs": ACK_COMMENT_ATTRS}
        return parse_acknowledgements(await self._guard(self._objects("comments", body)))

    async def _objects(self, kind: str, body: dict[str, Any]) -> Any:
        # POST + override: the attribute list travels in the body, not in a long query string
        response = await self._request("POST", f"/v1/objects/{kind}", json=body, headers=OVERRIDE_GET)
        if response.status_code == 404 and _no_objects(response):
            return {"results": []}  # Icinga's way of saying "none configured"
        return answer_json(response, auth_hint=self.auth_hint)

    async def _records(self, kind: str, body: dict[str, Any], parse: Callable[[Body], R]) -> R:
        """Like _objects, for answers that may be big: read as chunks and parsed record by record in a
        worker thread (see HttpSource._request_chunks)."""
        response, chunks = await self._request_chunks("POST", f"/v1/objects/{kind}", json=body, headers=OVERRIDE_GET)
        if response.status_code == 404 and _no_objects(response):
            return parse(NO_OBJECTS)
        return await parsed_in_thread(response, parse, auth_hint=self.auth_hint, chunks=chunks)


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
    return sorted_checks(checks)


def parse_services_answer(content: Body, reuse: Callable[[ServiceCheck], ServiceCheck] = lambda c: c) -> list[ServiceCheck]:
    """The body of a `/v1/objects/services` answer → ServiceCheck per result (in the answer's order),
    decoded one record at a time; the same checks and MalformedAnswer messages as parse_services (see
    answer_items).
    `reuse` may swap each check for an equal one already held (KnownObjects.check)."""
    items = answer_items(content, lambda payload: results(payload, "services"), key="results")
    return [reuse(parse_service(item, f"services[{i}]")) for i, item in enumerate(items)]


def merge_checks(checks: Iterable[ServiceCheck], problems: Iterable[ServiceCheck]) -> tuple[ServiceCheck, ...]:
    """Every check of the slim query, each replaced by its record from the problems query (which is
    authoritative: its state and output come from one answer), sorted by host then service. A check
    that changed state between the two queries keeps the slim query's state, without output; a problem
    the slim query did not list (a check created in between) is kept."""
    by_key = {check.key: check for check in checks}
    by_key.update((problem.key, problem) for problem in problems)
    return sorted_checks(by_key.values())


def build_snapshot(
    checks: Iterable[ServiceCheck], problems: Iterable[ServiceCheck], hosts: Iterable[IcingaHostState]
) -> IcingaSnapshot:
    """The refresh's three answers as one snapshot (see merge_checks), hosts sorted by name."""
    return IcingaSnapshot(hosts=tuple(sorted(hosts, key=lambda h: h.name)), services=merge_checks(checks, problems))


class KnownObjects:
    """The checks and hosts of the previous snapshot, by key. A freshly parsed object equal to a known
    one is swapped for it and dropped at once: a refresh where little changed then leaves few new
    long-lived objects, and the garbage collector's full passes (which stop every thread, the UI's
    too, for tens of ms at 40,000 checks) stay rare."""

    def __init__(self, snapshot: IcingaSnapshot | None = None) -> None:
        self.checks = {c.key: c for c in snapshot.services} if snapshot else {}
        self.hosts = {h.name: h for h in snapshot.hosts} if snapshot else {}

    def check(self, check: ServiceCheck) -> ServiceCheck:
        known = self.checks.get(check.key)
        return known if known is not None and known == check else check

    def host(self, host: IcingaHostState) -> IcingaHostState:
        known = self.hosts.get(host.name)
        if known is not None and not known.up and known.output and not host.output:
            known = replace(known, output="")  # compared as the states answer gives it (without output)
        return known if known is not None and known == host else host


def sorted_checks(checks: Iterable[ServiceCheck]) -> tuple[ServiceCheck, ...]:
    # one string per check: sorting 40,000 strings is a few times faster than tuples, in one C call
    return tuple(sorted(checks, key=lambda c: f"{c.host}\0{c.service}"))


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


def parse_hosts_answer(
    content: Body, reuse: Callable[[IcingaHostState], IcingaHostState] = lambda h: h
) -> list[IcingaHostState]:
    """The body of a `/v1/objects/hosts` answer → IcingaHostState per result (in the answer's order),
    decoded one record at a time; the same MalformedAnswer messages as parse_hosts (see answer_items)."""
    items = answer_items(content, lambda payload: results(payload, "hosts"), key="results")
    return [reuse(parse_host(item, f"hosts[{i}]")) for i, item in enumerate(items)]


def parse_host(item: Any, at: str) -> IcingaHostState:
    record = as_dict(item, at)
    attrs = as_dict(record.get("attrs"), f"{at}.attrs")
    name = opt_str(attrs.get("name"), f"{at}.attrs.name") or opt_str(record.get("name"), f"{at}.name")
    if not name:
        raise MalformedAnswer(f"malformed answer: {at} has no name")
    state = opt_float(attrs.get("state"), f"{at}.attrs.state")
    if state is None:
        raise malformed(f"{at}.attrs.state", "a number", None)
    state_type = opt_float(attrs.get("state_type"), f"{at}.attrs.state_type")
    reachable = attrs.get("last_reachable")
    return IcingaHostState(
        name=name,
        up=state == 0,
        acknowledged=_number(attrs.get("acknowledgement"), f"{at}.attrs.acknowledgement") != 0,
        in_downtime=_number(attrs.get("downtime_depth"), f"{at}.attrs.downtime_depth") > 0,
        output=check_output(attrs.get("last_check_result"), f"{at}.attrs.last_check_result"),
        last_state_change=epoch_time(attrs.get("last_state_change"), f"{at}.attrs.last_state_change"),
        hard=state_type is None or state_type == 1,
        reachable=reachable is not False,
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
