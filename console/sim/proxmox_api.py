"""Proxmox VE's /api2/json: cluster resources, node and guest status, RRD data; API-token auth."""

from __future__ import annotations

import hmac
import json
import re
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from console.sim.farm import Farm, Guest
from console.sim.farm_api import FarmApi
from console.sim.inventory import GIB, NodeSpec
from console.sim.metrics import profile
from console.sim.proxmox_tasks import COMMANDS as POWER_COMMANDS
from console.sim.proxmox_tasks import TaskTable, log_page
from console.sim.seeded import hexid, unit, wave

TOKEN_ID = "root@pam!opsconsole"
VERSION = {"version": "9.1.3", "release": "9.1", "repoid": "7c5c8a4e1f0b9d22"}
PVEVERSION = "pve-manager/9.1.3/7c5c8a4e1f0b9d22"
KERNEL = "6.14.11-4-pve"
TIMEFRAMES = {"hour": 60, "day": 1800, "week": 10800, "month": 43200, "year": 604800, "decade": 6048000}
# the schema's enumerations (apidata-v9.json): a node's RRD goes back a decade, a guest's a year
NODE_TIMEFRAMES = ("hour", "day", "week", "month", "year", "decade")
GUEST_TIMEFRAMES = ("hour", "day", "week", "month", "year")
RRD_POINTS = 70
# a template VM: real clusters have some, and clients must not list them as stopped guests
TEMPLATE = {"vmid": 9000, "name": "debian-bookworm-template", "node": "cloud15", "maxcpu": 2, "maxmem": 2 * GIB, "maxdisk": 32 * GIB}


def _json(data: object, status: int = 200, reason: str | None = None) -> Response:
    headers = {"server": "pve-api-daemon/3.0", "cache-control": "max-age=0", "pragma": "no-cache"}
    if reason:
        headers["x-sim-reason"] = reason  # becomes the status line's reason phrase (see server.py)
    body = json.dumps(data, separators=(",", ":"))
    return Response(body, status, headers=headers, media_type="application/json;charset=UTF-8")


def _error(status: int, reason: str, errors: dict[str, str] | None = None) -> Response:
    return _json({"data": None, "errors": errors} if errors else {"data": None}, status, reason)


def _param_error(errors: dict[str, str]) -> Response:
    return _error(400, "Parameter verification failed.", errors)


class ProxmoxApi(FarmApi):
    def __init__(self, farm: Farm, token_secret: str) -> None:
        super().__init__(farm)
        self.token_secret = token_secret
        self.tasks = TaskTable()  # guest power tasks (console/sim/proxmox_tasks.py)

    # --- auth ----------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("PVEAPIToken="):
            return _error(401, "No ticket")
        match = re.match(r"^(.*)=(.*)$", header[len("PVEAPIToken="):])
        if not match:
            return _error(401, "no tokenid specified")
        tokenid, value = match.groups()
        parts = re.match(r"^(\S+@\S+)!(\S+)$", tokenid)
        if not parts:
            return _error(401, f"'{tokenid}' is not a valid token ID")
        user, token = parts.groups()
        if user != TOKEN_ID.split("!")[0]:
            return _error(401, f"user '{user}' does not exist")
        if token != TOKEN_ID.split("!")[1]:
            return _error(401, f"no such token '{token}' for user '{user}'")
        if not hmac.compare_digest(value.encode(), self.token_secret.encode()):
            return _error(401, "invalid token value!")
        return None

    # --- routing -------------------------------------------------------------------------------

    def handle(self, request: Request, body: bytes) -> Response:
        path = request.url.path
        if not path.startswith("/api2/json/"):
            return _error(501, f"Unsupported API format '{path}'" if path.startswith("/api2/") else "Not Implemented")
        denied = self._authenticate(request)
        if denied:
            return denied
        parts = [p for p in path[len("/api2/json/"):].split("/") if p]
        method = request.method
        not_implemented = _error(501, f"Method '{method} /{'/'.join(parts)}' not implemented")
        now = self.farm.now()
        self.finish_due_tasks()
        if method == "POST":  # guest power only (its own matcher: the schema test reads handle's GET routes)
            return self.power_route(parts, now) or not_implemented
        if method != "GET":
            return not_implemented
        params = request.query_params
        task = self.task_route(parts, params)
        if task is not None:
            return task
        match parts:
            case ["version"]:
                return _json({"data": VERSION})
            case ["cluster", "resources"]:
                kind = params.get("type")
                if kind is not None and kind not in ("vm", "storage", "node", "sdn"):
                    return _param_error({"type": f"value '{kind}' does not have a value in the enumeration 'vm, storage, node, sdn'"})
                return _json({"data": self.resources(now, kind)})
            case ["cluster", "status"]:
                return _json({"data": self.cluster_status()})
            case ["nodes"]:
                return _json({"data": [self.node_item(n, now, index=True) for n in self.farm.nodes.values()]})
            case ["nodes", node, *rest]:
                return self.node_route(node, rest, params, now) or not_implemented
        return not_implemented

    def node_route(self, node: str, rest: list[str], params, now: datetime) -> Response | None:
        spec = self.farm.nodes.get(node)
        unknown_host = _error(500, f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known")
        match rest:
            case ["status"]:
                return self.node_status(spec, now) if spec else unknown_host
            case ["rrddata"]:
                problem = _check_rrd_params(params, NODE_TIMEFRAMES)
                if problem:
                    return problem
                if spec is None:
                    return _error(500, f"RRD error: opening '/var/lib/rrdcached/db/pve-node-9.0/{node}': No such file or directory")
                return _json({"data": self.node_rrd(spec, params["timeframe"], now)})
            case ["qemu"]:
                if spec is None:
                    return unknown_host
                # the index is qemu-server's vmstatus: `ha` and `agent` are added by status/current only
                items = [{k: v for k, v in self.guest_current(g, now).items() if k not in ("ha", "agent")}
                         for g in self.farm.guests_on(node)]
                return _json({"data": sorted(items, key=lambda i: i["vmid"])})
            case ["qemu", vmid, *tail] if tail in (["status", "current"], ["rrddata"]):
                if not vmid.isdigit() or int(vmid) < 100:
                    return _param_error({"vmid": "value must have a minimum value of 100" if vmid.isdigit() else "type check ('integer') failed - got '" + vmid + "'"})
                if tail == ["rrddata"]:
                    problem = _check_rrd_params(params, GUEST_TIMEFRAMES)
                    if problem:
                        return problem
                elif spec is None:
                    return unknown_host
                guest = self._guest(node, int(vmid))
                if guest is None:
                    if tail == ["rrddata"]:
                        return _error(500, f"RRD error: opening '/var/lib/rrdcached/db/pve-vm-9.0/{vmid}': No such file or directory")
                    return _error(500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist")
                if tail == ["rrddata"]:
                    return _json({"data": self.guest_rrd(guest, params["timeframe"], now)})
                return _json({"data": self.guest_current(guest, now)})
        return None

    # --- guest power tasks ---------------------------------------------------------------------

    def power_route(self, parts: list[str], now: datetime) -> Response | None:
        if (len(parts) == 6 and parts[0] == "nodes" and parts[2] in ("qemu", "lxc") and parts[4] == "status"
                and parts[5] in POWER_COMMANDS):
            return self.power(parts[1], parts[2], parts[3], parts[5], now)
        return None

    def power(self, node: str, kind: str, vmid: str, command: str, now: datetime) -> Response:
        """POST .../status/{command}: a UPID string; the task does the work (proxmox_tasks.py)."""
        if not vmid.isdigit() or int(vmid) < 100:
            return _param_error({"vmid": "value must have a minimum value of 100" if vmid.isdigit() else "type check ('integer') failed - got '" + vmid + "'"})
        if node not in self.farm.nodes:
            return _error(500, f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known")
        guest = self._guest(node, int(vmid)) if kind == "qemu" else None  # the simulated cluster has no containers
        if guest is None:
            conf = "qemu-server" if kind == "qemu" else "lxc"
            return _error(500, f"Configuration file 'nodes/{node}/{conf}/{vmid}.conf' does not exist")
        running = guest.status_at(now) == "running"
        task = self.tasks.create(node, kind, int(vmid), command, guest.spec.name, running, TOKEN_ID, now.timestamp(),
                                 notes=self.farm.task_notes)
        return _json({"data": task.upid})

    def finish_due_tasks(self) -> None:
        """Tasks whose time is up stop now and change their guest (a reboot: running again, fresh uptime)."""
        for task in self.tasks.due():
            task.finished = True
            if task.error is None and task.guest in self.farm.guests:
                self.farm.set_guest_status(task.guest, "running" if task.command in ("start", "reboot") else "stopped")

    def task_route(self, parts: list[str], params) -> Response | None:
        """GET /nodes/{node}/tasks/{upid}/status|log of the power tasks; None for any other path."""
        if len(parts) != 5 or parts[0] != "nodes" or parts[2] != "tasks" or parts[4] not in ("status", "log"):
            return None
        node, upid, what = parts[1], parts[3], parts[4]
        task = self.tasks.get(upid)
        if not upid.startswith("UPID:") or len(upid.split(":")) != 9:
            return _param_error({"upid": "value does not match the regex pattern"})
        if task is None or task.node != node:
            return _error(500, f"no such task '{upid}'" if task is None else f"task '{upid}' is not on node '{node}'")
        if what == "status":
            return _json({"data": task.status()})
        try:
            start = int(params.get("start", 0))
            limit = int(params.get("limit", 50))
        except ValueError:
            return _param_error({"start": "type check ('integer') failed"})
        return _json({"data": log_page(task.log(), max(0, start), max(0, limit))})

    def _guest(self, node: str, vmid: int) -> Guest | None:
        for guest in self.farm.guests.values():
            if guest.spec.vmid == vmid and guest.spec.node == node:
                return guest
        return None

    # --- shapes --------------------------------------------------------------------------------

    def resources(self, now: datetime, kind: str | None) -> list[dict]:
        items: list[dict] = []
        if kind in (None, "vm"):
            guests = sorted(self.farm.guests.values(), key=lambda g: g.spec.vmid or 0)
            items += [self.guest_item(g, now) for g in guests]
            items.append(_template_item())
        if kind in (None, "node"):
            items += [self.node_item(n, now) for n in self.farm.nodes.values()]
        if kind in (None, "storage"):
            for node in self.farm.nodes.values():
                items += self.storage_items(node, now)
        return items

    def _counters(self, guest: Guest, now: datetime) -> dict[str, int]:
        usage = self.farm.usage(guest.spec.name, now)
        if usage is None:
            return {"diskread": 0, "diskwrite": 0, "netin": 0, "netout": 0}
        up = max(0.0, (now - guest.boot_at).total_seconds())
        f = 0.8 + 0.1 * unit(self.farm.seed, guest.spec.name, "counters")
        return {k: int(getattr(usage, k) * up * f) for k in ("diskread", "diskwrite", "netin", "netout")}

    def guest_item(self, guest: Guest, now: datetime) -> dict:
        spec = guest.spec
        usage = self.farm.usage(spec.name, now)
        running = usage is not None
        maxmem, maxdisk = spec.memory_gb * GIB, _maxdisk(guest)
        item = {
            "id": f"qemu/{spec.vmid}", "type": "qemu", "vmid": spec.vmid, "node": spec.node,
            "name": spec.vm_name or spec.name,
            "status": "running" if running else "stopped", "template": 0,
            "cpu": usage.cpu if usage is not None else 0, "maxcpu": spec.cores,
            "mem": usage.mem if usage is not None else 0, "maxmem": maxmem,
            "disk": usage.disk if usage is not None else 0, "maxdisk": maxdisk,
            **self._counters(guest, now),
            "uptime": int((now - guest.boot_at).total_seconds()) if running else 0,
            "tags": spec.role,
        }
        return item

    def guest_current(self, guest: Guest, now: datetime) -> dict:
        item = self.guest_item(guest, now)
        running = item["status"] == "running"
        out = {
            "vmid": item["vmid"], "name": item["name"], "status": item["status"],
            "qmpstatus": item["status"], "cpu": item["cpu"], "cpus": item["maxcpu"],
            "mem": item["mem"], "maxmem": item["maxmem"], "disk": item["disk"], "maxdisk": item["maxdisk"],
            "diskread": item["diskread"], "diskwrite": item["diskwrite"], "netin": item["netin"], "netout": item["netout"],
            "uptime": item["uptime"], "ha": {"managed": 0}, "agent": 1, "tags": item["tags"],
        }
        if running:
            out["pid"] = 2000 + int(900000 * unit(self.farm.seed, guest.spec.name, "pid", guest.boot_at.isoformat()))
            out["running-machine"] = "pc-i440fx-9.2+pve1"
            out["running-qemu"] = "9.2.0"
        return out

    def node_usage(self, spec: NodeSpec, t: datetime) -> dict[str, float]:
        cpu_threads = mem = net = 0.0
        for guest in self.farm.guests_on(spec.name):
            usage = self.farm.usage(guest.spec.name, t)
            if usage is not None:
                cpu_threads += usage.cpu * guest.spec.cores
                mem += usage.mem
                net += usage.netout
        ts = t.timestamp()
        cpu = min(1.0, 0.015 + 0.85 * cpu_threads / spec.cores + 0.005 * wave(ts, self.farm.seed, spec.name, "host"))
        return {
            "cpu": round(cpu, 4),
            "mem": int(mem + 6 * GIB + 0.2 * GIB * wave(ts, self.farm.seed, spec.name, "hostmem")),
            "maxmem": spec.memory_gb * GIB,
            "net": net,
            "rootused": int((14 + 8 * unit(self.farm.seed, spec.name, "root")) * GIB),
            "roottotal": 100 * GIB,
        }

    def node_item(self, spec: NodeSpec, now: datetime, index: bool = False) -> dict:
        use = self.node_usage(spec, now)
        item = {
            "id": f"node/{spec.name}", "type": "node", "node": spec.name, "status": "online", "level": "",
            "cpu": use["cpu"], "maxcpu": spec.cores, "mem": use["mem"], "maxmem": use["maxmem"],
            "disk": use["rootused"], "maxdisk": use["roottotal"],
            "uptime": int((now - self.farm.node_boot[spec.name]).total_seconds()), "cgroup-mode": 2,
        }
        if index:  # GET /nodes has a different, smaller shape
            item = {k: item[k] for k in ("node", "status", "level", "cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime")}
            item["id"] = f"node/{spec.name}"
            item["type"] = "node"
            item["ssl_fingerprint"] = ":".join(hexid("fp", spec.name, length=64)[i:i + 2].upper() for i in range(0, 64, 2))
        return item

    def storage_items(self, spec: NodeSpec, now: datetime) -> list[dict]:
        images = sum(_maxdisk(g) for g in self.farm.guests_on(spec.name))
        thin_used = int(images * (0.55 + 0.1 * unit(self.farm.seed, spec.name, "thin")))
        backups = int((40 + 60 * unit(self.farm.seed, spec.name, "local")) * GIB)
        return [
            {"id": f"storage/{spec.name}/local", "type": "storage", "storage": "local", "node": spec.name,
             "status": "available", "plugintype": "dir", "content": "backup,iso,vztmpl", "shared": 0,
             "disk": backups, "maxdisk": 100 * GIB},
            {"id": f"storage/{spec.name}/local-lvm", "type": "storage", "storage": "local-lvm", "node": spec.name,
             "status": "available", "plugintype": "lvmthin", "content": "images,rootdir", "shared": 0,
             "disk": thin_used, "maxdisk": 3700 * GIB},
        ]

    def cluster_status(self) -> list[dict]:
        nodes = list(self.farm.nodes.values())
        out = [{"type": "cluster", "id": "cluster", "name": self.farm.inventory.farm_name, "nodes": len(nodes),
                "quorate": 1, "version": 23}]
        for i, spec in enumerate(nodes):
            out.append({"type": "node", "id": f"node/{spec.name}", "name": spec.name, "ip": spec.address,
                        "nodeid": i + 1, "local": 1 if i == 0 else 0, "online": 1, "level": ""})
        return out

    def node_status(self, spec: NodeSpec, now: datetime) -> Response:
        use = self.node_usage(spec, now)
        load = [f"{spec.cores * self.node_usage(spec, now - timedelta(minutes=m))['cpu']:.2f}" for m in (0, 5, 15)]
        mem_free = use["maxmem"] - use["mem"]
        swap_used = int(GIB * 0.1 * unit(self.farm.seed, spec.name, "swap"))
        return _json({"data": {
            "cpu": use["cpu"], "wait": round(0.002 + 0.004 * unit(self.farm.seed, spec.name, "iowait"), 4),
            "idle": 0, "loadavg": load,
            "cpuinfo": {"model": "Intel(R) Xeon(R) Silver 4316 CPU @ 2.30GHz", "sockets": 2, "cores": spec.cores // 2,
                        "cpus": spec.cores, "mhz": "2300.000", "hvm": "1", "user_hz": 100},
            "memory": {"total": use["maxmem"], "used": use["mem"], "free": mem_free, "available": int(mem_free * 0.97)},
            "swap": {"total": 8 * GIB, "used": swap_used, "free": 8 * GIB - swap_used},
            "rootfs": {"total": use["roottotal"], "used": use["rootused"], "free": use["roottotal"] - use["rootused"],
                       "avail": use["roottotal"] - use["rootused"] - 5 * GIB},
            "ksm": {"shared": 0},
            "uptime": int((now - self.farm.node_boot[spec.name]).total_seconds()),
            "kversion": f"Linux {KERNEL} #1 SMP PREEMPT_DYNAMIC PMX {KERNEL.removesuffix('-pve')} (2025-11-03T09:21Z) x86_64",
            "pveversion": PVEVERSION,
            "current-kernel": {"sysname": "Linux", "release": KERNEL, "machine": "x86_64",
                               "version": f"#1 SMP PREEMPT_DYNAMIC PMX {KERNEL.removesuffix('-pve')} (2025-11-03T09:21Z)"},
            "boot-info": {"mode": "efi", "secureboot": 0},
        }})

    def node_rrd(self, spec: NodeSpec, timeframe: str, now: datetime) -> list[dict]:
        points = []
        for t in _times(timeframe, now):
            at = datetime.fromtimestamp(t, now.tzinfo)
            use = self.node_usage(spec, at)
            points.append({
                "time": t, "cpu": use["cpu"], "iowait": round(0.002 + 0.003 * (1 + wave(t, self.farm.seed, spec.name, "io")) / 2, 5),
                "loadavg": round(spec.cores * use["cpu"], 2), "maxcpu": spec.cores,
                "memtotal": use["maxmem"], "memused": use["mem"],
                "netin": round(use["net"] * 0.7, 2), "netout": round(use["net"], 2),
                "roottotal": use["roottotal"], "rootused": use["rootused"],
                "swaptotal": 8 * GIB, "swapused": int(GIB * 0.1 * unit(self.farm.seed, spec.name, "swap")),
            })
        return points

    def guest_rrd(self, guest: Guest, timeframe: str, now: datetime) -> list[dict]:
        points: list[dict[str, float]] = []
        for t in _times(timeframe, now):
            usage = self.farm.usage(guest.spec.name, datetime.fromtimestamp(t, now.tzinfo))
            if usage is None:
                points.append({"time": t})  # no data while stopped: RRD has no values, the API omits them
                continue
            points.append({
                "time": t, "cpu": usage.cpu, "maxcpu": guest.spec.cores, "mem": usage.mem, "maxmem": usage.maxmem,
                "disk": usage.disk, "maxdisk": usage.maxdisk, "diskread": usage.diskread, "diskwrite": usage.diskwrite,
                "netin": usage.netin, "netout": usage.netout,
            })
        return points


def _maxdisk(guest: Guest) -> int:
    return profile(guest.spec)[3] * GIB


def _template_item() -> dict:
    return {"id": f"qemu/{TEMPLATE['vmid']}", "type": "qemu", "vmid": TEMPLATE["vmid"], "node": TEMPLATE["node"],
            "name": TEMPLATE["name"], "status": "stopped", "template": 1, "cpu": 0, "maxcpu": TEMPLATE["maxcpu"],
            "mem": 0, "maxmem": TEMPLATE["maxmem"], "disk": 0, "maxdisk": TEMPLATE["maxdisk"],
            "diskread": 0, "diskwrite": 0, "netin": 0, "netout": 0, "uptime": 0}


def _check_rrd_params(params, timeframes: tuple[str, ...]) -> Response | None:
    timeframe = params.get("timeframe")
    if timeframe is None:
        return _param_error({"timeframe": "property is missing and it is not optional"})
    if timeframe not in timeframes:
        return _param_error({"timeframe": f"value '{timeframe}' does not have a value in the enumeration '{', '.join(timeframes)}'"})
    cf = params.get("cf")
    if cf is not None and cf not in ("AVERAGE", "MAX"):
        return _param_error({"cf": f"value '{cf}' does not have a value in the enumeration 'AVERAGE, MAX'"})
    return None


def _times(timeframe: str, now: datetime) -> list[int]:
    step = TIMEFRAMES[timeframe]
    last = int(now.timestamp()) // step * step
    return [last - step * i for i in reversed(range(RRD_POINTS))]
