"""Icinga 2's event stream (`POST /v1/events`) for the simulated farm, from the Icinga docs.

The farm computes check states from the clock and its mutations, so nothing "happens" in it: a
watcher compares what the API would answer now with what it answered before and writes the
differences as events. Slots whose inputs changed (a test's set_check, an acknowledge-problem ...)
are looked at every QUICK_SECONDS; every slot (time passing: scenarios, downtimes starting) at least
every FULL_SECONDS. An action of the API pokes the watcher at once. It runs only while someone
listens. Lines are JSON objects separated by newlines, as Icinga writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from console.sim.checks import Slot, Status, evaluate
from console.sim.farm import Farm

# every type the Icinga docs list; the sim writes the checkable ones (not comments, objects, flapping)
EVENT_TYPES = frozenset({
    "CheckResult", "StateChange", "Notification", "AcknowledgementSet", "AcknowledgementCleared",
    "CommentAdded", "CommentRemoved", "DowntimeAdded", "DowntimeRemoved", "DowntimeStarted",
    "DowntimeTriggered", "ObjectCreated", "ObjectDeleted", "ObjectModified", "Flapping",
})
QUICK_SECONDS = 0.05  # how often changed inputs are looked for (cheap: no check is evaluated)
FULL_SECONDS = 2.0  # how often every check is evaluated again (at least; longer on a big farm)
QUEUE_LIMIT = 10_000  # events a slow reader may fall behind by before it is cut off


class EventStreamResponse(StreamingResponse):
    """A held-open answer that ends quietly when its task is cancelled (the farm stopping)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except asyncio.CancelledError:
            pass  # nobody is left to answer


class SubscribeError(ValueError):
    """A request Icinga answers 400 (the message is Icinga's)."""


def check_request(params: dict[str, Any]) -> tuple[frozenset[str], str]:
    """(types, queue) of a subscription, as Icinga 2.13 checks them (both required)."""
    types = params.get("types")
    if isinstance(types, str):
        types = [types]
    if not types or not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise SubscribeError("'types' query parameter is required.")
    unknown = sorted(set(types) - EVENT_TYPES)
    if unknown:
        raise SubscribeError(f"Invalid event type(s) specified: {', '.join(unknown)}")
    queue = params.get("queue")
    if isinstance(queue, list):
        queue = queue[-1] if queue else None
    if not isinstance(queue, str) or not queue:
        raise SubscribeError("'queue' query parameter is required.")
    if params.get("filter"):
        raise SubscribeError("event stream filters are not supported by the simulated farm")
    return frozenset(types), queue


@dataclass(frozen=True)
class View:
    """What the API shows of one checkable, as far as events tell."""

    state: int
    hard: bool
    output: str
    last_check: datetime
    acknowledgement: int  # 0 none, 1 normal, 2 sticky
    downtime: dict | None  # the downtime in effect (its API attributes)


class EventHub:
    """Subscribers of one Icinga API and the watcher that feeds them (in the servers' event loop)."""

    def __init__(self, farm: Farm, encode) -> None:
        self.farm = farm
        self.encode = encode  # numbers as the farm's Icinga writes them (2.0 or 2)
        self._subscribers: list[tuple[frozenset[str], asyncio.Queue[bytes | None]]] = []
        self._views: dict[tuple[str, str], View] = {}
        self._inputs: dict[tuple[str, str], tuple] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._poked: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the servers' loop, for poke() from a worker thread
        self._next_full = 0.0
        self._full_every = FULL_SECONDS

    # --- subscribers --------------------------------------------------------------------------

    def subscribe(self, types: frozenset[str]) -> AsyncIterator[bytes]:
        """Subscribe now (before the answer's head goes out, so no change after it is missed) and
        return the subscriber's lines: one JSON line per event of `types`, until it disconnects."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_LIMIT)
        entry = (types, queue)
        self._subscribers.append(entry)
        self._start()
        return self._lines(entry)

    async def _lines(self, entry: tuple[frozenset[str], asyncio.Queue[bytes | None]]) -> AsyncIterator[bytes]:
        queue = entry[1]
        try:
            while True:
                line = await queue.get()
                if line is None:
                    return  # fell too far behind: Icinga too drops a client that does not read
                yield line
        finally:
            self._unsubscribe(entry)

    def _unsubscribe(self, entry: tuple[frozenset[str], asyncio.Queue[bytes | None]]) -> None:
        if entry in self._subscribers:
            self._subscribers.remove(entry)
        if not self._subscribers:
            self._stop()

    def poke(self) -> None:
        """Something changed through the API: look now rather than at the next tick. Called from
        the thread that built the answer: the event is set on the servers' loop."""
        poked, loop = self._poked, self._loop
        if poked is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(poked.set)

    def _start(self) -> None:
        if self._watcher is None:
            self._poked = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            with self.farm.lock:
                self._scan(full=True, emit=False)  # the baseline: only changes from now on are events
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="icinga-events")

    def _stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        self._poked = None
        self._views.clear()
        self._inputs.clear()

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(QUICK_SECONDS):
                    assert self._poked is not None
                    await self._poked.wait()
            if self._poked is not None:
                self._poked.clear()
            full = time.monotonic() >= self._next_full
            with self.farm.lock:
                events = self._scan(full=full, emit=True)
            for event in events:
                self._publish(event)

    def _publish(self, event: dict) -> None:
        line = json.dumps(self.encode(event), sort_keys=True, separators=(",", ":")).encode() + b"\n"
        for entry in list(self._subscribers):
            types, queue = entry
            if event["type"] in types:
                try:
                    queue.put_nowait(line)
                except asyncio.QueueFull:  # gone, or not reading: cut it off
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                    queue.put_nowait(None)
                    self._unsubscribe(entry)

    # --- the watcher ----------------------------------------------------------------------------

    def _scan(self, full: bool, emit: bool) -> list[dict]:
        """Events for the checkables whose inputs changed (every one when `full`)."""
        started = time.monotonic()
        farm = self.farm
        now = farm.now()
        events: list[dict] = []
        for key in [k for k in self._views if k not in farm.slots]:  # removed hosts say nothing
            self._views.pop(key, None)
            self._inputs.pop(key, None)
        for key, slot in farm.slots.items():
            inputs = self._inputs_of(slot)
            if not full and self._inputs.get(key) == inputs:
                continue
            self._inputs[key] = inputs
            status = evaluate(farm, slot, now)
            view = self._view(slot, status, now)
            before = self._views.get(key)
            self._views[key] = view
            if emit and before != view:
                events += self._events(slot, status, before, view, now)
        if full:
            took = time.monotonic() - started
            self._full_every = max(FULL_SECONDS, 20 * took)  # a big farm: at most ~5% of the servers' time
            self._next_full = time.monotonic() + self._full_every
        return events

    def _inputs_of(self, slot: Slot) -> tuple:
        """What a mutator changes for this slot (compared by value)."""
        guest = self.farm.guests.get(slot.host) if not slot.service else None
        agent = self.farm.agents.get(slot.host) if slot.service == "Puppet" else None
        return (
            slot.override, slot.ack, slot.downtime, slot.rechecked_at,
            len(guest.history) if guest else None,
            (len(agent.windows), agent.disabled_since) if agent else None,
        )

    def _view(self, slot: Slot, status: Status, now: datetime) -> View:
        from console.sim.icinga_api import downtime_attrs

        handled_by_ack = status.ack is not None and status.problem
        assert status.output is not None  # evaluate() makes the output by default
        return View(
            state=(1 if status.state else 0) if not slot.service else status.state,
            hard=status.hard,
            output=status.output,
            last_check=status.last_check,
            acknowledgement=(2 if status.ack.sticky else 1) if handled_by_ack and status.ack else 0,
            downtime=downtime_attrs(self.farm, slot, now) if status.in_downtime else None,
        )

    def _events(self, slot: Slot, status: Status, before: View | None, after: View, now: datetime) -> list[dict]:
        from console.sim.icinga_api import icinga_common_attrs

        common = {"timestamp": now.timestamp(), "host": slot.host}
        if slot.service:
            common["service"] = slot.service
        states = {"state": after.state, "state_type": 1 if after.hard else 0}
        check_result = icinga_common_attrs(self.farm, slot, status, after.state)["last_check_result"]
        flags = {"acknowledgement": after.acknowledgement != 0, "downtime_depth": 1 if after.downtime else 0}
        events: list[dict] = []
        if before is None and after.state == 0:
            return events  # a new check that is fine: nothing changed for anyone
        if before is None or (before.state, before.hard) != (after.state, after.hard):
            events.append({"type": "StateChange", **common, **states, "check_result": check_result, **flags})
        if before is None or (before.state, before.output, before.last_check) != (after.state, after.output, after.last_check):
            events.append({"type": "CheckResult", **common, "check_result": check_result, **flags})
        was_acked = before is not None and before.acknowledgement != 0
        if after.acknowledgement and not was_acked and status.ack is not None:
            ack = status.ack
            events.append({"type": "AcknowledgementSet", **common, **states, "author": ack.author,
                           "comment": ack.comment, "acknowledgement_type": after.acknowledgement, "notify": True,
                           "expiry": ack.expiry.timestamp() if ack.expiry else 0})
        elif was_acked and not after.acknowledgement:
            events.append({"type": "AcknowledgementCleared", **common, **states})
        old_downtime = before.downtime if before else None
        if (old_downtime or {}).get("__name") != (after.downtime or {}).get("__name"):
            if old_downtime is not None:
                events.append({"type": "DowntimeRemoved", "timestamp": common["timestamp"],
                               "downtime": {**old_downtime, "was_cancelled": old_downtime["end_time"] > now.timestamp()}})
            if after.downtime is not None:
                for kind in ("DowntimeStarted", "DowntimeTriggered"):
                    events.append({"type": kind, "timestamp": common["timestamp"], "downtime": after.downtime})
        return events
