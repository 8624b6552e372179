"""Proxmox VE: the whole cluster in ONE call (`GET /cluster/resources`), through proxmoxer.

proxmoxer is synchronous (requests), so every call runs in a daemon thread of its own, its answer
bounded (console/sources/proxmox_http.py: the cap, the deadline, a socket that ends when the caller
stops waiting). Its exceptions are turned into operator messages here; the parsers are pure functions
on the `data` of an answer.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import re
import sys
from typing import TYPE_CHECKING, Any, Awaitable, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:  # proxmoxer and requests load on the first fetch, not on the console's start-up path
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import ResourceException

    from console.sources.proxmox_http import Call

from console.core.clock import Clock, utc_now
from console.core.config import ProxmoxConfig
from console.core.model import Guest, HypervisorNode, ProxmoxInventory, SourceResult
from console.sources.base import MalformedAnswer, SourceError
from console.sources.bounded import in_daemon_thread, max_answer
from console.sources.httpclient import RedactingSource, in_parser_thread, transport_failure, transport_timeout
from console.sources.parsing import (
    as_dict,
    as_list,
    first_line,
    flag,
    opt_dict,
    opt_float,
    opt_int,
    opt_str,
    req_str,
)

GUEST_KINDS = ("qemu", "lxc")
TIMEFRAMES = ("hour", "day", "week", "month", "year")
NODE_STATUS_GROUPS = (
    ("memory", ("total", "used", "free", "available")),
    ("swap", ("total", "used", "free")),
    ("rootfs", ("total", "used", "free", "avail")),
)
NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")  # pve-node format; also keeps paths safe
HTTP_SIDE = "console.sources.proxmox_http"  # requests, urllib3, proxmoxer and the bounded adapter
R = TypeVar("R")


async def load_proxmoxer() -> None:
    """Import proxmoxer, requests and the bounded adapter (tens of ms) in a worker thread, off the UI's
    loop. Called BEFORE a call's deadline starts: the timeout measures the network, not an import on a
    loaded CPU."""
    if HTTP_SIDE not in sys.modules:
        await asyncio.to_thread(importlib.import_module, HTTP_SIDE)


def new_call(timeout: float) -> Call:
    from console.sources.proxmox_http import Call

    return Call(timeout)


async def in_call_thread(timeout: float, func: Any, *args: Any) -> Any:
    """`func(*args, call)` in a daemon thread, its answer due within `timeout` from now; a caller that
    stops waiting (cancelled, its deadline) ends the call's socket, so the thread does not live on in a
    blocked read."""
    call = new_call(timeout)
    try:
        return await in_daemon_thread(func, *args, call, name="opsconsole-proxmox")
    finally:
        call.abandon()  # no effect once the call is done


class ProxmoxSource(RedactingSource[ProxmoxInventory]):
    """Hypervisors and guests of one Proxmox VE cluster."""

    kind = "proxmox"

    def __init__(self, config: ProxmoxConfig, clock: Clock = utc_now) -> None:
        super().__init__(config.name, timeout=config.timeout, interval=config.interval, clock=clock)
        self.config = config
        self._api: ProxmoxAPI | None = None

    def _secret_values(self) -> list[str]:
        return [self.config.token_secret.reveal()]

    async def fetch(self) -> SourceResult[ProxmoxInventory]:
        await self._ready()  # before Source.fetch starts its clock and its timeout
        return await super().fetch()

    async def _guard(self, call: Awaitable[R]) -> R:
        await self._ready()  # before the helper's timeout starts
        return await super()._guard(call)

    async def _ready(self) -> None:
        """proxmoxer imported and the API built, outside any deadline. A failure here is left to the
        call, which meets it again inside fetch()'s (or _guard's) handling: never raised from here."""
        if self._api is None:
            try:
                await load_proxmoxer()
                self._client()
            except Exception:  # noqa: BLE001 - reported by the call itself (see above)
                pass

    async def _fetch(self) -> ProxmoxInventory:
        # 5,000 guests take ~50 ms to parse: in the parser thread, off the event loop (the UI's)
        return await in_parser_thread(parse_cluster_resources, await self._get("cluster", "resources"))

    async def guest_rrddata(
        self, node: str, vmid: int, timeframe: str = "hour", *, kind: str = "qemu", cf: str = "AVERAGE"
    ) -> list[dict[str, float]]:
        """The usage history of one guest (points sorted by `time`). Raises SourceError."""
        _check_node(node)
        if kind not in GUEST_KINDS or timeframe not in TIMEFRAMES or cf not in ("AVERAGE", "MAX"):
            raise SourceError(f"bad rrddata request: kind={kind!r} timeframe={timeframe!r} cf={cf!r}")
        call = self._get("nodes", node, kind, int(vmid), "rrddata", timeframe=timeframe, cf=cf)
        return parse_rrddata(await self._guard(call))

    async def node_rrddata(self, node: str, timeframe: str = "hour", *, cf: str = "AVERAGE") -> list[dict[str, float]]:
        """The usage history of one hypervisor (points: time, cpu, memused, memtotal ...). Raises SourceError."""
        _check_node(node)
        if timeframe not in TIMEFRAMES or cf not in ("AVERAGE", "MAX"):
            raise SourceError(f"bad rrddata request: timeframe={timeframe!r} cf={cf!r}")
        return parse_rrddata(await self._guard(self._get("nodes", node, "rrddata", timeframe=timeframe, cf=cf)))

    async def node_status(self, node: str) -> dict[str, Any]:
        """The live status of one hypervisor (see `parse_node_status`). Raises SourceError."""
        _check_node(node)
        return parse_node_status(await self._guard(self._get("nodes", node, "status")))

    async def aclose(self) -> None:
        """Drop the requests session (connections are reopened on the next call). Closing the idle
        connections blocks on nothing: done here, not in a thread the loop's shutdown would wait for."""
        api, self._api = self._api, None
        if api is not None:
            api._store["session"].close()

    async def _get(self, *path: str | int, **params: Any) -> Any:
        await load_proxmoxer()  # done already by fetch() and _guard(): outside their deadline
        api = self._client()  # built here, not in the thread: no two threads race to build it
        return await in_call_thread(self.timeout, self._get_sync, api, path, params)

    def _get_sync(self, api: ProxmoxAPI, path: tuple[str | int, ...], params: dict[str, Any], call: Call) -> Any:
        """One GET in its thread; proxmoxer/requests exceptions become operator messages."""
        import requests
        from proxmoxer.core import ResourceException

        try:
            with call.running():
                return api.get(*path, **params)
        except ResourceException as exc:
            raise SourceError(_resource_failure(exc)) from None
        except requests.exceptions.Timeout:
            raise TimeoutError() from None  # describe_error: "timed out after Xs"
        except requests.exceptions.RequestException as exc:
            raise SourceError(transport_failure(self.config.url, exc)) from None
        except (KeyError, TypeError):
            # proxmoxer indexes the body with ["data"]: a JSON answer without the wrapper
            raise MalformedAnswer("malformed answer: the body has no 'data' member") from None

    def _client(self) -> ProxmoxAPI:
        if self._api is None:
            self._api = build_api(self.config)
        return self._api


def build_api(config: ProxmoxConfig) -> ProxmoxAPI:
    """A token-authenticated ProxmoxAPI for `config` (no I/O happens here)."""
    import urllib3
    from proxmoxer import ProxmoxAPI

    from console.sources.proxmox_http import bound_session

    if config.verify is False:
        # the operator chose no verification (the UI shows that); urllib3 must not print over the screen
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    parts = urlsplit(config.url)
    user, token_name = config.token_id.split("!", 1)
    prefix = parts.path.strip("/")
    extra = {"path_prefix": prefix} if prefix else {}
    api = ProxmoxAPI(
        parts.hostname,
        port=parts.port or 8006,
        user=user,
        token_name=token_name,
        token_value=config.token_secret.reveal(),
        verify_ssl=config.verify,  # requests takes True/False or a CA bundle path as is
        timeout=transport_timeout(config.timeout),  # the adapter below keeps its own, within the deadline
        service="PVE",
        **extra,
    )
    bound_session(api._store["session"], max_answer(config), config.timeout)  # every answer bounded
    return api


def _resource_failure(exc: ResourceException) -> str:
    if exc.status_code == 401:
        return "authentication failed (HTTP 401): check token_id and token_secret"
    if exc.status_code == 403:
        return "HTTP 403 Forbidden: the API token lacks permission (needs Sys.Audit and VM.Audit)"
    reason = first_line(str(exc.content or ""), 160)
    text = f"HTTP {exc.status_code} {exc.status_message or ''}".rstrip()
    return f"{text}: {reason}" if reason and reason != exc.status_message else text


def _check_node(node: str) -> None:
    if not isinstance(node, str) or not NODE_NAME.match(node):
        raise SourceError(f"bad node name {node!r}")


# --- parsers (pure) ----------------------------------------------------------------------------


def unwrap(payload: Any, where: str) -> Any:
    """The `data` of an answer. proxmoxer already strips `{"data": ...}` (recorded bodies still
    have it) and turns a body that is not JSON into `{"errors": b"..."}`."""
    if isinstance(payload, dict):
        if "data" in payload and len(payload) <= 2:  # {"data": ..., "errors": ...?}
            return payload["data"]
        if isinstance(payload.get("errors"), (bytes, str)) and len(payload) == 1:
            raise MalformedAnswer(f"malformed answer: {where} is not JSON")
    return payload


def parse_cluster_resources(payload: Any) -> ProxmoxInventory:
    """`GET /cluster/resources` → nodes (type node) and guests (qemu, lxc); storage, sdn... skipped."""
    where = "cluster/resources"
    nodes: list[HypervisorNode] = []
    guests: list[Guest] = []
    for index, item in enumerate(as_list(unwrap(payload, where), where)):
        at = f"{where}[{index}]"
        record = as_dict(item, at)
        kind = req_str(record, "type", at)
        if kind == "node":
            nodes.append(parse_node(record, at))
        elif kind in GUEST_KINDS:
            guests.append(parse_guest(record, at))
    nodes.sort(key=lambda n: n.name)
    guests.sort(key=lambda g: (g.vmid, g.node))
    return ProxmoxInventory(nodes=tuple(nodes), guests=tuple(guests))


def parse_node(record: dict[str, Any], at: str) -> HypervisorNode:
    """One `type: node` resource."""
    name = opt_str(record.get("node"), f"{at}.node") or _id_tail(record, at)
    return HypervisorNode(
        name=name,
        status=opt_str(record.get("status"), f"{at}.status") or "unknown",
        cpu=opt_float(record.get("cpu"), f"{at}.cpu"),
        maxcpu=opt_int(record.get("maxcpu"), f"{at}.maxcpu"),
        mem=opt_int(record.get("mem"), f"{at}.mem"),
        maxmem=opt_int(record.get("maxmem"), f"{at}.maxmem"),
        uptime=opt_int(record.get("uptime"), f"{at}.uptime"),
    )


def parse_guest(record: dict[str, Any], at: str) -> Guest:
    """One `type: qemu|lxc` resource; every field but type, node and vmid may be absent."""
    kind = record["type"]
    vmid = opt_int(record.get("vmid"), f"{at}.vmid")
    if vmid is None:
        tail = _id_tail(record, at)  # "qemu/100" carries the vmid too
        if not tail.isdigit():
            raise MalformedAnswer(f"malformed answer: {at} has no vmid")
        vmid = int(tail)
    unnamed = f"{'VM' if kind == 'qemu' else 'CT'} {vmid}"  # what the Proxmox UI shows
    return Guest(
        name=opt_str(record.get("name"), f"{at}.name") or unnamed,
        vmid=vmid,
        node=req_str(record, "node", at),
        kind=kind,
        status=opt_str(record.get("status"), f"{at}.status") or "unknown",
        cpu=opt_float(record.get("cpu"), f"{at}.cpu"),
        maxcpu=opt_int(record.get("maxcpu"), f"{at}.maxcpu"),
        mem=opt_int(record.get("mem"), f"{at}.mem"),
        maxmem=opt_int(record.get("maxmem"), f"{at}.maxmem"),
        uptime=opt_int(record.get("uptime"), f"{at}.uptime"),
        template=flag(record.get("template"), f"{at}.template"),
    )


def _id_tail(record: dict[str, Any], at: str) -> str:
    """The part after the last '/' of `id` ("node/pve1" → "pve1")."""
    ident = req_str(record, "id", at)
    tail = ident.rsplit("/", 1)[-1]
    if not tail:
        raise MalformedAnswer(f"malformed answer: {at}.id has no name part")
    return tail


def parse_rrddata(payload: Any) -> list[dict[str, float]]:
    """`GET .../rrddata` → points sorted by time; only numeric values are kept (Proxmox leaves
    out the values it has no data for, so points differ in their keys)."""
    where = "rrddata"
    points = []
    for index, item in enumerate(as_list(unwrap(payload, where), where)):
        at = f"{where}[{index}]"
        record = as_dict(item, at)
        point = {key: number for key, value in record.items() if (number := _finite(value)) is not None}
        if "time" not in point:
            raise MalformedAnswer(f"malformed answer: {at} has no time")
        points.append(point)
    return sorted(points, key=lambda p: p["time"])


def _finite(value: Any) -> float | None:
    """A JSON number as a finite float; anything else (booleans, NaN, ±inf, integers beyond a float) None."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_node_status(payload: Any) -> dict[str, Any]:
    """`GET /nodes/{node}/status` → a flat dict: cpu, wait, uptime, loadavg (3 floats), memory_*,
    swap_*, rootfs_* (bytes), cpus, cpu_model, pveversion, kernel. Absent values are None."""
    where = "nodes/status"
    record = as_dict(unwrap(payload, where), where)
    cpuinfo = opt_dict(record.get("cpuinfo"), f"{where}.cpuinfo")
    kernel = opt_dict(record.get("current-kernel"), f"{where}.current-kernel")
    loadavg = record.get("loadavg") or []  # strings on the wire: ["0.12", "0.30", "0.25"]
    status: dict[str, Any] = {
        "cpu": opt_float(record.get("cpu"), f"{where}.cpu"),
        "wait": opt_float(record.get("wait"), f"{where}.wait"),
        "uptime": opt_int(record.get("uptime"), f"{where}.uptime"),
        "loadavg": tuple(opt_float(v, f"{where}.loadavg") for v in as_list(loadavg, f"{where}.loadavg")),
        "cpus": opt_int(cpuinfo.get("cpus"), f"{where}.cpuinfo.cpus"),
        "cpu_model": opt_str(cpuinfo.get("model"), f"{where}.cpuinfo.model"),
        "pveversion": opt_str(record.get("pveversion"), f"{where}.pveversion"),
        "kernel": opt_str(kernel.get("release"), f"{where}.current-kernel.release")
        or opt_str(record.get("kversion"), f"{where}.kversion"),
    }
    for group, keys in NODE_STATUS_GROUPS:
        values = opt_dict(record.get(group), f"{where}.{group}")
        for key in keys:
            status[f"{group}_{key}"] = opt_int(values.get(key), f"{where}.{group}.{key}")
    return status
