"""The store (latest result per source) and the poller (one loop per source, never overlapping)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Protocol

from console.core.clock import Clock, utc_now
from console.core.retry import Backoff, pause

if TYPE_CHECKING:  # annotations only: the model stays off the start-up path
    from console.core.model import SourceResult, StreamStatus

Listener = Callable[[str], None]


class Polled(Protocol):
    """What the poller needs of a source (console.sources.base.Source is one): fetch() never raises."""

    name: str
    kind: str
    interval: float

    async def fetch(self) -> SourceResult[Any]: ...

    async def aclose(self) -> None: ...


class Followed(Protocol):
    """What the poller needs of an event stream (console.sources.icinga_stream.IcingaEventStream is one)."""

    source_name: str

    def apply(self, data: Any, events: list[Any]) -> Any: ...

    def run(self, on_event: Callable[[Any], None], on_status: Callable[[StreamStatus], None] | None = None,
            on_reconnected: Callable[[], None] | None = None) -> Awaitable[None]: ...

    async def aclose(self) -> None: ...


@dataclass
class SourceState:
    """What the console knows of one source: its last attempt and its last good answer."""

    name: str
    kind: str
    interval: float
    last: SourceResult[Any] | None = None
    last_ok: SourceResult[Any] | None = None
    failures: int = 0  # consecutive failed attempts
    paused: bool = False
    stream: StreamStatus | None = None  # its event stream, for sources that have one

    @property
    def data(self) -> Any:
        return self.last_ok.data if self.last_ok else None

    @property
    def error(self) -> str | None:
        return self.last.error if self.last else None

    @property
    def ok(self) -> bool:
        return self.last is not None and self.last.ok

    def age(self, now: datetime) -> timedelta | None:
        """How old the data on screen is."""
        return now - self.last_ok.fetched_at if self.last_ok else None


@dataclass
class Store:
    """Latest result per source. Listeners are told the name of each source that changed."""

    clock: Clock = utc_now
    _states: dict[str, SourceState] = field(default_factory=dict)
    _listeners: list[Listener] = field(default_factory=list)

    def register(self, name: str, kind: str, interval: float) -> None:
        self._states.setdefault(name, SourceState(name=name, kind=kind, interval=interval))

    def put(self, result: SourceResult[Any]) -> None:
        state = self._states.get(result.source)
        if state is None:
            raise KeyError(f"unregistered source {result.source!r}")
        state.last = result
        if result.ok:
            state.last_ok = result
            state.failures = 0
        else:
            state.failures += 1
        self._notify(result.source)

    def patch(self, name: str, data: Any) -> None:
        """New data between polls (from an event stream): the last good answer with `data`. A
        failing source keeps its error on screen; without a first answer there is nothing to patch."""
        state = self._states[name]
        if state.last_ok is None or data is state.last_ok.data:
            return
        patched = replace(state.last_ok, data=data)
        if state.last is state.last_ok:
            state.last = patched
        state.last_ok = patched
        self._notify(name)

    def set_stream(self, name: str, status: StreamStatus) -> None:
        self._states[name].stream = status
        self._notify(name)

    def get(self, name: str) -> SourceState:
        return self._states[name]

    def states(self) -> list[SourceState]:
        return list(self._states.values())

    def of_kind(self, kind: str) -> list[SourceState]:
        return [s for s in self._states.values() if s.kind == kind]

    def data_of_kind(self, kind: str) -> list[Any]:
        """The last good data of every source of one kind (sources without data are left out)."""
        return [s.data for s in self.of_kind(kind) if s.data is not None]

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, name: str) -> None:
        for listener in list(self._listeners):
            listener(name)


def next_delay(interval: float, failures: int) -> float:
    """Seconds until the next attempt: the interval, doubled per consecutive failure up to 8x."""
    return Backoff(first=interval, cap=interval * 8).delay(max(failures, 1))


class Poller:
    """Runs one loop per source. A loop awaits its fetch before scheduling the next, so fetches of
    one source never overlap; `refresh_now` wakes loops early; pausing holds them.

    Each event stream given (console.sources.event_streams: Icinga's with `stream: true`) gets a task: its events patch the
    source's data between polls (not while the source is paused), and a poll answer is patched with
    the events that arrived while it was on its way, so it never takes back what the stream said."""

    def __init__(self, sources: Iterable[Polled], store: Store, streams: Iterable[Followed] = ()) -> None:
        self.sources = {s.name: s for s in sources}
        self.store = store
        self._wake = {name: asyncio.Event() for name in self.sources}
        self._tasks: list[asyncio.Task[None]] = []
        self.paused = False
        self.fetching: set[str] = set()  # the sources with a fetch on its way
        for source in self.sources.values():
            store.register(source.name, source.kind, source.interval)
        self.streams = {stream.source_name: stream for stream in streams}
        self._feeds = {name: EventFeed(stream.apply) for name, stream in self.streams.items()}

    def start(self) -> None:
        """Start the loops in the running event loop."""
        for source in self.sources.values():
            self._tasks.append(asyncio.create_task(self._loop(source), name=f"poll:{source.name}"))
        for name, stream in self.streams.items():
            self._tasks.append(asyncio.create_task(self._follow(name, stream), name=f"stream:{name}"))

    async def refresh_all_once(self) -> None:
        """Fetch every source once, concurrently (for `status` and tests)."""
        results = await asyncio.gather(*(s.fetch() for s in self.sources.values()))
        for result in results:
            self.store.put(result)

    def refresh_now(self, name: str | None = None) -> None:
        for source_name in [name] if name else list(self.sources):
            self._wake[source_name].set()

    def pause(self, name: str | None = None) -> None:
        if name is None:
            self.paused = True
        else:
            self.store.get(name).paused = True

    def resume(self, name: str | None = None) -> None:
        if name is None:
            self.paused = False
        else:
            self.store.get(name).paused = False
        self.refresh_now(name)

    async def _loop(self, source: Polled) -> None:
        state = self.store.get(source.name)
        wake = self._wake[source.name]
        while True:
            wake.clear()
            if not (self.paused or state.paused):
                started = time.monotonic()
                self.fetching.add(source.name)
                try:
                    result = await source.fetch()
                finally:
                    self.fetching.discard(source.name)
                feed = self._feeds.get(source.name)
                if feed is not None and result.ok:
                    result = replace(result, data=feed.replay(result.data, since=started))
                self.store.put(result)
            await pause(next_delay(source.interval, state.failures), wake)

    async def _follow(self, name: str, stream: Any) -> None:
        feed = self._feeds[name]
        state = self.store.get(name)

        def flush() -> None:
            events = feed.take_pending()
            if events and not (self.paused or state.paused) and state.data is not None:
                self.store.patch(name, feed.apply(state.data, events))

        def on_event(event: Any) -> None:
            # events of one network read are applied together: one store change, one redraw
            if feed.add(event):
                asyncio.get_running_loop().call_soon(flush)

        def on_status(status: StreamStatus) -> None:
            self.store.set_stream(name, status)

        await stream.run(on_event, on_status, lambda: self.refresh_now(name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        resources: list[Polled | Followed] = [*self.sources.values(), *self.streams.values()]
        for resource in resources:
            with contextlib.suppress(Exception):
                await resource.aclose()


class EventFeed:
    """A stream's recent events: the ones not yet applied, and a short journal to replay onto a poll
    answer that was requested before they happened (the poll would otherwise take them back)."""

    KEEP_SECONDS = 120.0  # longer than any fetch's timeout
    KEEP_EVENTS = 5000

    def __init__(self, apply: Callable[[Any, list[Any]], Any], timer: Callable[[], float] = time.monotonic) -> None:
        self.apply = apply  # (data, events) -> data with the events applied
        self.timer = timer
        self._pending: list[Any] = []
        self._journal: deque[tuple[float, Any]] = deque(maxlen=self.KEEP_EVENTS)

    def add(self, event: Any) -> bool:
        """Keep one event; True when it is the first of a new batch (schedule a flush)."""
        now = self.timer()
        self._journal.append((now, event))
        while self._journal and self._journal[0][0] < now - self.KEEP_SECONDS:
            self._journal.popleft()
        self._pending.append(event)
        return len(self._pending) == 1

    def take_pending(self) -> list[Any]:
        events, self._pending = self._pending, []
        return events

    def replay(self, data: Any, since: float) -> Any:
        """`data` (a fresh poll answer) with the events received since `since` applied again."""
        events = [event for at, event in self._journal if at >= since]
        return self.apply(data, events) if events and data is not None else data
