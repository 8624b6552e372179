"""Proxmox guest power tasks for the simulated farm: `POST .../status/{start|shutdown|reboot|stop}`
answers a UPID; the task runs for a short (real) time, then stops with `exitstatus` OK or an error and
changes the guest's status (a reboot ends running again, with a fresh uptime).

Written from the API schema (apidata-v9.json) and APIS.md: UPID
`UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{type}:{id}:{user}:`; task status
`{upid, node, pid, pstart, starttime, type, id, user, status: running|stopped, exitstatus?}`; task log
`[{n, t}]` (1-based line numbers, `start` skips lines, `limit` caps them), ending `TASK OK` or
`TASK ERROR: ...`.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

COMMANDS = ("start", "shutdown", "reboot", "stop")
# real seconds a task runs; tests may shorten them (module-level so a test can patch it)
TASK_SECONDS = {"start": 1.0, "shutdown": 1.5, "reboot": 2.0, "stop": 0.5}
TYPES = {"qemu": {"start": "qmstart", "shutdown": "qmshutdown", "reboot": "qmreboot", "stop": "qmstop"},
         "lxc": {"start": "vzstart", "shutdown": "vzshutdown", "reboot": "vzreboot", "stop": "vzstop"}}


@dataclass
class SimTask:
    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    guest: str
    command: str
    error: str | None  # None: ends OK
    lines: list[str]  # written while running
    started: float = field(default_factory=time.monotonic)
    finished: bool = False
    at_once: int = 1  # lines there as soon as the task starts (its notes and the first line)

    @property
    def seconds(self) -> float:
        return TASK_SECONDS.get(self.command, 1.0)

    def due(self) -> bool:
        return time.monotonic() - self.started >= self.seconds

    def log(self) -> list[str]:
        if not self.finished:
            return self.lines[:self.at_once]  # the first line is there at once; the rest when the task ends
        return [*self.lines, f"TASK ERROR: {self.error}" if self.error else "TASK OK"]

    def status(self) -> dict:
        data = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
                "starttime": self.starttime, "type": self.type, "id": self.id, "user": self.user,
                "status": "stopped" if self.finished else "running"}
        if self.finished:
            data["exitstatus"] = self.error or "OK"
        return data


class TaskTable:
    """Every task the simulated cluster ran, by UPID."""

    def __init__(self) -> None:
        self.tasks: dict[str, SimTask] = {}
        self._pids = itertools.count(0x3A10)
        self._lock = threading.Lock()

    def create(self, node: str, kind: str, vmid: int, command: str, guest: str, running: bool, user: str,
               now: float, notes: tuple[str, ...] = ()) -> SimTask:
        """A new task for `command` on the guest (`running`: its status now); `notes`: lines the task writes
        first (warnings; the `hostile` scenario's strings), there at once with the first line."""
        with self._lock:
            pid = next(self._pids)
        pstart = 0x1599528B + pid * 37
        task_type = TYPES[kind][command]
        upid = f"UPID:{node}:{pid:08X}:{pstart:08X}:{int(now):08X}:{task_type}:{vmid}:{user}:"
        error = None
        if command == "start" and running:
            error = f"VM {vmid} already running"
        elif command in ("shutdown", "reboot") and not running:
            error = f"VM {vmid} not running"
        lines = {
            "start": [f"starting VM {vmid} on node '{node}'", f"VM {vmid} started with PID {pid * 7 + 1000}"],
            "shutdown": [f"shutting down VM {vmid} (ACPI power button, timeout 180 s)", f"VM {vmid} powered off"],
            "reboot": [f"requesting reboot of VM {vmid} (ACPI)", f"VM {vmid} shut down",
                       f"starting VM {vmid} on node '{node}'", f"VM {vmid} started with PID {pid * 7 + 1000}"],
            "stop": [f"stopping VM {vmid} (hard stop)", f"VM {vmid} stopped"],
        }[command]
        at_once = len(notes) + 1
        lines = [*notes, *lines]
        task = SimTask(upid, node, pid, pstart, int(now), task_type, str(vmid), user, guest, command, error,
                       lines if error is None else lines[:at_once], at_once=at_once)
        with self._lock:
            self.tasks[upid] = task
        return task

    def get(self, upid: str) -> SimTask | None:
        return self.tasks.get(upid)

    def due(self) -> list[SimTask]:
        """Tasks whose time is up and that were not finished yet; the caller applies them, then marks them."""
        with self._lock:
            return [t for t in self.tasks.values() if not t.finished and t.due()]


def log_page(lines: list[str], start: int, limit: int) -> list[dict]:
    """`[{n, t}]` from line `start` (0-based), at most `limit`; an empty log is `no content` like PVE's."""
    page = [{"n": i + 1, "t": text} for i, text in enumerate(lines)][start:start + limit]
    if not lines and start == 0:
        return [{"n": 1, "t": "no content"}]
    return page
