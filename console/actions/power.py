"""Proxmox guest power: start, shutdown, reboot, stop — then follow the UPID task until it stops.

    action = locate_guest_power(store, config, "mw152", "reboot")     # node/vmid from the inventory
    plan = engine.plan(action, reason="kernel update")                 # POST .../qemu/{vmid}/status/reboot

The runner POSTs through proxmoxer (synchronous: every call in a daemon thread of its own, its answer
bounded as the source's: console/sources/proxmox_http.py) with the action
token (`actions.proxmox`, default the source's own), reads the UPID it answers, polls
`GET /nodes/{node}/tasks/{upid}/status` until `status: stopped`, and streams the task log
(`GET .../tasks/{upid}/log`) as `output` events. No Textual here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from console.actions.catalog import PlanContext, new_plan
from console.actions.engine import RunContext, StepResult
from console.actions.executors import FAILED, OK, REFUSED
from console.actions.guard import InvalidAction, NotConfigured
from console.actions.plan import HttpRequest, Plan, Risk, Step
from console.actions.specs import MakeContext, Offer, Selection, Use, text
from console.core.config import AppConfig, ProxmoxConfig
from console.core.retry import Attempts
from console.sources.bounded import AnswerBound, AnswerTooSlow
from console.sources.httpclient import redact, transport_failure
from console.sources.parsing import first_line
from console.sources.proxmox import NODE_NAME, build_api, in_call_thread, load_proxmoxer

if TYPE_CHECKING:
    from proxmoxer import ProxmoxAPI
    from proxmoxer.core import ResourceException

    from console.core.hosts import HostDirectory
    from console.core.state import Store
    from console.sources.proxmox_http import Call

COMMANDS = ("start", "shutdown", "reboot", "stop")
RISK = {"start": Risk.REVERSIBLE, "shutdown": Risk.SEVERAL, "reboot": Risk.SEVERAL, "stop": Risk.IRREVERSIBLE}
PAST = {"start": "started", "shutdown": "shut down", "reboot": "rebooted", "stop": "stopped (hard)"}
NOTES = {
    "start": "the guest boots; its services come up as Puppet left them",
    "shutdown": "an ACPI shutdown: the guest's services stop and it stays off until started",
    "reboot": "an ACPI reboot: the guest's services are down until it is back",
    "stop": "a hard stop, like pulling the plug: unsaved data in the guest is lost",
}
TIMEOUT = "timeout"  # the task did not stop within actions.proxmox.task_timeout
POLL_SECONDS = 0.5  # between two task status reads
MAX_LOG_LINES = 500  # a task log longer than this is cut (the status still says how it ended)


@dataclass(frozen=True)
class GuestLocation:
    """Where a guest lives, as the Proxmox inventory says: node, vmid, qemu or lxc, which source."""

    node: str
    vmid: int
    kind: str = "qemu"
    source: str | None = None


@dataclass(frozen=True)
class GuestPower:
    """start | shutdown | reboot | stop one Proxmox guest. `guest` comes from the inventory
    (locate_guest_power); without it the plan is refused: node and vmid are never guessed."""

    host: str
    command: str
    guest: GuestLocation | None = None

    @property
    def spec(self) -> str:
        if self.command not in COMMANDS:
            raise InvalidAction(f"refused: the guest command must be one of {', '.join(COMMANDS)} (got {self.command!r})")
        return f"guest-{self.command}"


@dataclass(frozen=True)
class Upid:
    """A Proxmox task id: `UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{type}:{id}:{user}:`."""

    text: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str


def parse_upid(text: Any) -> Upid:
    """Parse a UPID; raise ValueError saying what is wrong (the id may itself be empty)."""
    if not isinstance(text, str):
        raise ValueError(f"not a UPID: {type(text).__name__}")
    parts = text.strip().split(":")
    if len(parts) != 9 or parts[0] != "UPID" or parts[8] != "":
        raise ValueError(f"not a UPID (UPID:node:pid:pstart:starttime:type:id:user:): {text[:120]!r}")
    _, node, pid, pstart, starttime, kind, ident, user, _ = parts
    if not NODE_NAME.match(node) or not kind or not user:
        raise ValueError(f"not a UPID (node, type or user missing): {text[:120]!r}")
    try:
        numbers = [int(value, 16) for value in (pid, pstart, starttime)]
    except ValueError:
        raise ValueError(f"not a UPID (pid, pstart and starttime are hex): {text[:120]!r}") from None
    return Upid(text.strip(), node, numbers[0], numbers[1], numbers[2], kind, ident, user)


def locate_guest_power(store: Store, config: AppConfig, host: str, command: str) -> GuestPower:
    """The action for `host`, with its node and vmid from the store's Proxmox inventory (None when unknown)."""
    from console.core.hosts import HostDirectory

    return guest_power_for(HostDirectory.from_store(store, config), host, command)


def guest_power_for(directory: HostDirectory, host: str, command: str) -> GuestPower:
    """The action for `host` as the directory knows it (guest None when Proxmox does not know it)."""
    identity = directory.resolve(host)
    guest = identity.guest
    location = GuestLocation(guest.node, guest.vmid, guest.kind, identity.proxmox_source) if guest is not None else None
    return GuestPower(identity.name, command, location)


def _make(command: str) -> Any:
    def make(values: Mapping[str, Any], context: MakeContext) -> GuestPower:
        host = text(values.get("host")) or ""
        if context.store is not None:
            return locate_guest_power(context.store, context.config, host, command)
        return guest_power_for(context.directory(), host, command)

    return make


make_start, make_shutdown, make_reboot, make_stop = (_make(command) for command in COMMANDS)


def offer_guest(spec: Any, use: Use, selection: Selection) -> list[Offer]:
    """A guest's power for one Hosts row the Proxmox inventory knows as a guest."""
    if not selection.config.sources.proxmox or len(selection.hosts) != 1:
        return []
    command = spec.name.removeprefix("guest-")
    if locate_guest_power(selection.store, selection.config, selection.hosts[0], command).guest is None:
        return []
    return [Offer(use.id, spec.label, spec, {"host": selection.hosts[0]})]


def proxmox_action_source(config: AppConfig, wanted: str | None = None) -> ProxmoxConfig:
    """The proxmox source to act through (`actions.proxmox.source`, else the first), with the action token."""
    sources = config.sources.proxmox
    if not sources:
        raise NotConfigured("refused: no proxmox source is configured (sources.proxmox), so no guest can be powered")
    settings = config.actions.proxmox
    name = settings.source or wanted
    source = next((s for s in sources if s.name == name), None) if name else sources[0]
    if source is None:
        raise NotConfigured(f"refused: actions.proxmox.source names {name!r}, which is not a configured proxmox source")
    if settings.token_id is not None and settings.token_secret is not None:
        source = source.model_copy(update={"token_id": settings.token_id, "token_secret": settings.token_secret})
    return source


def plan_guest_power(action: GuestPower, context: PlanContext) -> Plan:
    if action.command not in COMMANDS:
        raise InvalidAction(f"refused: the guest command must be one of {', '.join(COMMANDS)} (got {action.command!r})")
    guest = action.guest
    if guest is None:
        raise InvalidAction(f"refused: {action.host} is not a Proxmox guest the inventory knows (no node and vmid)")
    if guest.kind not in ("qemu", "lxc") or not NODE_NAME.match(guest.node) or guest.vmid < 100:
        raise InvalidAction(f"refused: bad guest location {guest.kind}/{guest.vmid} on {guest.node!r}")
    source = proxmox_action_source(context.config, guest.source)
    base = source.url.rstrip("/") + "/api2/json"
    path = f"/nodes/{guest.node}/{guest.kind}/{guest.vmid}/status/{action.command}"
    step = Step(
        index=0, kind=f"guest-{action.command}", executor=f"proxmox:{source.name}", target=action.host,
        subject=f"{guest.kind}/{guest.vmid} on {guest.node}", request=HttpRequest("POST", base + path),
        note="then follow its task (GET /nodes/{node}/tasks/{upid}/status) until it stops; its log is shown",
    )  # fmt: skip
    what = f"{action.host} ({guest.kind} {guest.vmid} on node {guest.node})"
    return new_plan(
        context, action=f"guest-{action.command}", title=f"{action.command} guest {what}", targets=(action.host,),
        risk=RISK[action.command], steps=(step,), confirm_word=action.host, key=f"guest-power:{action.host}",
        log_summary=f"{PAST[action.command]} guest {action.host} ({guest.kind}/{guest.vmid} on {guest.node})",
        notes=(NOTES[action.command],),
    )  # fmt: skip


# --- running ---------------------------------------------------------------------------------------


class ProxmoxPower:
    """The proxmoxer calls of a power action, each in a worker thread; failures become operator messages."""

    def __init__(self, source: ProxmoxConfig) -> None:
        self.source = source
        self._api: ProxmoxAPI | None = None
        self._secrets = [source.token_secret.reveal()]

    def _client(self) -> ProxmoxAPI:
        if self._api is None:
            self._api = build_api(self.source)
        return self._api

    async def call(self, method: str, *path: str | int, **params: Any) -> Any:
        """One call within the source's timeout (the answer within its bounds: proxmox_http); the
        imports happen before the deadline starts, in a worker thread off the UI's loop."""
        await load_proxmoxer()
        api = self._client()
        try:
            async with asyncio.timeout(self.source.timeout):  # the thread's own deadline comes first
                return await in_call_thread(self.source.timeout, self._call_sync, api, method, path, params)
        except TimeoutError:
            raise ProxmoxFailure(f"timed out after {self.source.timeout:g}s", down=True) from None

    def _call_sync(self, api: ProxmoxAPI, method: str, path: tuple[str | int, ...], params: dict[str, Any],
                   call: Call) -> Any:
        import requests  # proxmoxer/requests load on the first power action, not on the console's start-up path
        from proxmoxer.core import ResourceException

        try:
            with call.running():
                return getattr(api, method)(*path, **params)
        except AnswerBound as exc:
            raise ProxmoxFailure(str(exc), down=isinstance(exc, AnswerTooSlow)) from None
        except ResourceException as exc:
            raise ProxmoxFailure(self._resource_failure(exc)) from None
        except requests.exceptions.Timeout:
            raise ProxmoxFailure(f"timed out after {self.source.timeout:g}s", down=True) from None
        except requests.exceptions.RequestException as exc:
            raise ProxmoxFailure(redact(transport_failure(self.source.url, exc), self._secrets), down=True) from None
        except (KeyError, TypeError):
            raise ProxmoxFailure("malformed answer: the body has no 'data' member") from None

    def _resource_failure(self, exc: ResourceException) -> str:
        if exc.status_code == 401:
            return "authentication failed (HTTP 401): check the action token (actions.proxmox or the source's)"
        if exc.status_code == 403:
            return "HTTP 403 Forbidden: the API token lacks VM.PowerMgmt on this guest"
        reason = redact(first_line(str(exc.content or exc.status_message or ""), 160), self._secrets)
        text = f"HTTP {exc.status_code} {exc.status_message or ''}".rstrip()
        return f"{text}: {reason}" if reason and reason != exc.status_message else text

    async def aclose(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            api._store["session"].close()  # idle connections only: blocks on nothing


class ProxmoxFailure(Exception):
    def __init__(self, message: str, down: bool = False) -> None:
        super().__init__(message)
        self.down = down


async def run_guest_power(run: RunContext) -> list[StepResult]:
    step = run.plan.steps[0]
    node, kind, vmid, _, command = step.http_request.url.split("/nodes/", 1)[1].split("/")
    source = proxmox_action_source(run.config, step.executor.split(":", 1)[1])
    power = ProxmoxPower(source)
    try:
        return [await _power(run, power, step, node, kind, int(vmid), command)]
    finally:
        await power.aclose()


async def _power(run: RunContext, power: ProxmoxPower, step: Step, node: str, kind: str, vmid: int,
                 command: str) -> StepResult:
    run.engine.session.require_writable()
    await run.emit("step-started", f"{command} {kind}/{vmid} on {node}", step=step)
    try:
        answer = await power.call("post", "nodes", node, kind, vmid, "status", command)
        upid = parse_upid(answer)
    except ProxmoxFailure as exc:
        status = "down" if exc.down else (REFUSED if "403" in str(exc) else FAILED)
        return await _finish(run, step, status, str(exc))
    except ValueError as exc:
        return await _finish(run, step, FAILED, f"Proxmox did not answer a task id: {exc}")
    await run.emit("notice", f"task {upid.text} ({upid.type})", step=step)
    timeout = run.config.actions.proxmox.task_timeout
    lines_seen = 0
    failures = 0
    async for _ in Attempts(None, POLL_SECONDS, timeout=timeout):  # until the task stops, or the timeout
        try:
            task: Any = await power.call("get", "nodes", upid.node, "tasks", upid.text, "status")
            failures = 0
        except ProxmoxFailure as exc:
            failures += 1  # one lost poll is no verdict; three in a row are
            if failures >= 3:
                return await _finish(run, step, FAILED, f"cannot read task {upid.text}: {exc}")
            task = None
        lines_seen = await _stream_log(run, power, step, upid, lines_seen)
        if isinstance(task, dict) and task.get("status") == "stopped":
            exitstatus = str(task.get("exitstatus") or "unknown")
            lines_seen = await _stream_log(run, power, step, upid, lines_seen)  # the last lines, written at the end
            if exitstatus == "OK":
                return await _finish(run, step, OK, f"task {upid.type} OK ({upid.text})")
            return await _finish(run, step, FAILED, f"task {upid.type} ended: {first_line(exitstatus, 200)} ({upid.text})")
    return await _finish(run, step, TIMEOUT, f"still running after {timeout:g} s; UPID {upid.text}")


async def _stream_log(run: RunContext, power: ProxmoxPower, step: Step, upid: Upid, seen: int) -> int:
    """Emit the task log's lines after the first `seen` as `output` events; return how many are seen now."""
    if seen >= MAX_LOG_LINES:
        return seen
    try:
        lines = await power.call("get", "nodes", upid.node, "tasks", upid.text, "log", start=seen, limit=MAX_LOG_LINES - seen)
    except ProxmoxFailure:
        return seen  # the log is a courtesy: the status decides the outcome
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        number = line.get("n")
        text = str(line.get("t", ""))
        if text == "no content" or (isinstance(number, int) and number <= seen):
            continue  # "no content" is what Proxmox says of an empty log: not a line of it
        seen = number if isinstance(number, int) else seen + 1
        await run.emit("output", text[:500], step=step)
    return seen


async def _finish(run: RunContext, step: Step, status: str, detail: str) -> StepResult:
    await run.emit("step-finished", f"{step.target}: {status} {detail}", step=step, status=status)
    return run.result(step, status, detail)
