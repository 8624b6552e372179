"""Icinga 2's event stream (`POST /v1/events`): state changes, acknowledgements and downtimes as they
happen, patched into the last polled IcingaSnapshot so the Alerts pane need not wait for the next poll.

Polling stays the source of truth: the stream only patches between polls, and when it drops it
reconnects with back-off while polling carries on. No Textual here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, AsyncIterable, AsyncIterator, Callable, Iterable, Sequence

import httpx

from console.core.clock import Clock
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck, StreamStatus
from console.core.retry import Backoff as RetryBackoff
from console.core.retry import pause
from console.sources.base import MalformedAnswer, Source, SourceError, describe_error
from console.sources.bounded import ERROR_BODY_MAX, read_answer, size_text
from console.sources.httpclient import answer_json, redact, ssl_verify, transport_failure
from console.sources.icinga import IcingaSource, check_output, check_state
from console.sources.parsing import as_dict, epoch_time, opt_dict, opt_float, opt_str

# CheckResult is left out on purpose: it is most of a real farm's traffic (every check, every
# minute) and changes only output and last_check, which the next poll brings.
EVENT_TYPES = (
    "StateChange",
    "AcknowledgementSet",
    "AcknowledgementCleared",
    "DowntimeStarted",
    "DowntimeTriggered",
    "DowntimeRemoved",
)
# Icinga sends nothing on a quiet stream; after this long without a line we reconnect, in case the
# connection died without a FIN (a clean reconnect, no back-off).
IDLE_RECONNECT_SECONDS = 300.0
MAX_EVENT_LINE = 1024 * 1024  # bytes of one event line; Icinga's are a few KiB


# --- events (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckableEvent:
    """What one event says about one host or service; None = the event does not say."""

    type: str
    host: str
    service: str | None  # None: the host itself
    at: datetime | None = None
    state: int | None = None
    hard: bool | None = None
    output: str | None = None
    last_check: datetime | None = None
    changed_at: datetime | None = None  # when the state changed, if it did
    acknowledged: bool | None = None
    in_downtime: bool | None = None

    @property
    def key(self) -> str:
        return f"{self.host}!{self.service}" if self.service else self.host


def parse_event(payload: Any) -> CheckableEvent | None:
    """One line of the stream → a CheckableEvent, or None for one that changes nothing we show
    (a flexible downtime that started but is not triggered yet, a type we did not ask for).
    Raises MalformedAnswer for a line that is not the documented shape."""
    event = as_dict(payload, "event")
    kind = opt_str(event.get("type"), "event.type")
    at = epoch_time(event.get("timestamp"), "event.timestamp")
    if kind in ("DowntimeStarted", "DowntimeTriggered", "DowntimeRemoved"):
        return _downtime_event(kind, event, at)
    if kind not in ("StateChange", "CheckResult", "AcknowledgementSet", "AcknowledgementCleared"):
        return None
    host = opt_str(event.get("host"), "event.host")
    if not host:
        raise MalformedAnswer(f"malformed answer: {kind} event names no host")
    service = opt_str(event.get("service"), "event.service") or None
    result = opt_dict(event.get("check_result"), "event.check_result")
    fields: dict[str, Any] = {}
    if kind == "StateChange":
        fields["state"] = _state(event.get("state"), service)
        fields["hard"] = opt_float(event.get("state_type"), "event.state_type") == 1
    if result:
        fields["output"] = check_output(result, "event.check_result")
        fields["last_check"] = _check_time(result, at)
        fields["changed_at"] = epoch_time(result.get("execution_end"), "event.check_result.execution_end") or at
    if kind == "CheckResult" and "state" in result:
        fields["state"] = _state(result.get("state"), service)
    # Icinga ≥ 2.11 adds both to state changes and check results: take them when present
    if "acknowledgement" in event and kind in ("StateChange", "CheckResult"):
        fields["acknowledged"] = _truth(event.get("acknowledgement"), "event.acknowledgement")
    if "downtime_depth" in event:
        fields["in_downtime"] = (opt_float(event.get("downtime_depth"), "event.downtime_depth") or 0) > 0
    if kind == "AcknowledgementSet":
        fields["acknowledged"] = True
    elif kind == "AcknowledgementCleared":
        fields["acknowledged"] = False
    return CheckableEvent(kind, host, service, at, **fields)


def _downtime_event(kind: str, event: dict[str, Any], at: datetime | None) -> CheckableEvent | None:
    downtime = as_dict(event.get("downtime"), "event.downtime")
    host = opt_str(downtime.get("host_name"), "event.downtime.host_name")
    if not host:
        raise MalformedAnswer(f"malformed answer: {kind} event names no host")
    service = opt_str(downtime.get("service_name"), "event.downtime.service_name") or None
    if kind == "DowntimeStarted" and downtime.get("fixed") is False:
        return None  # a flexible downtime is in effect only once triggered (DowntimeTriggered)
    return CheckableEvent(kind, host, service, at, in_downtime=kind != "DowntimeRemoved")


def _truth(value: Any, where: str) -> bool:
    """A Boolean the docs promise, or the 0/1/2 acknowledgement number the objects carry."""
    if isinstance(value, bool):
        return value
    return bool(opt_float(value, where))


def _state(value: Any, service: str | None) -> int:
    """A service state 0..3; a host's 0 UP / 1 DOWN (a host check result may say 2 for DOWN)."""
    state = int(check_state(value, "event.state"))
    return state if service else min(state, 1)


def _check_time(result: dict[str, Any], at: datetime | None) -> datetime | None:
    """What Icinga reports as `last_check`: the check result's schedule end."""
    for key in ("schedule_end", "execution_end"):
        when = epoch_time(result.get(key), f"event.check_result.{key}")
        if when is not None:
            return when
    return at


def apply_events(snapshot: IcingaSnapshot, events: Sequence[CheckableEvent]) -> IcingaSnapshot:
    """The snapshot the next poll would return after these events (the same object when nothing
    changes). Events carry absolute values, so applying one twice changes nothing."""
    services = {(c.host, c.service): c for c in snapshot.services}
    hosts = {h.name: h for h in snapshot.hosts}
    changed = False
    for event in events:
        if event.service:
            key = (event.host, event.service)
            before = services.get(key)
            after = patch_service(before, event)
            if after is not None and after != before:
                services[key] = after
                changed = True
        else:
            before_host = hosts.get(event.host)
            after_host = patch_host(before_host, event)
            if after_host is not None and after_host != before_host:
                hosts[event.host] = after_host
                changed = True
    if not changed:
        return snapshot
    return IcingaSnapshot(
        hosts=tuple(sorted(hosts.values(), key=lambda h: h.name)),
        services=tuple(sorted(services.values(), key=lambda c: (c.host, c.service))),
    )


def patch_service(check: ServiceCheck | None, event: CheckableEvent) -> ServiceCheck | None:
    """One service after one event; a service the last poll did not list appears with its first
    state change (None until then: nothing to patch)."""
    if check is None:
        if event.state is None or event.service is None:
            return None
        return ServiceCheck(
            host=event.host,
            service=event.service,
            state=CheckState(event.state),
            hard=bool(event.hard),
            acknowledged=bool(event.acknowledged),
            in_downtime=bool(event.in_downtime),
            output=event.output or "",
            last_state_change=event.changed_at or event.at,
            last_check=event.last_check,
        )
    changes: dict[str, Any] = {}
    if event.state is not None and event.state != check.state:
        changes["state"] = CheckState(event.state)
        changes["last_state_change"] = event.changed_at or event.at or check.last_state_change
        if event.state == CheckState.OK:
            changes["acknowledged"] = False  # a recovery clears any acknowledgement, sticky too
    if event.hard is not None:
        changes["hard"] = event.hard
    if event.output is not None:
        changes["output"] = event.output
    if event.last_check is not None:
        changes["last_check"] = event.last_check
    if event.acknowledged is not None:
        changes["acknowledged"] = event.acknowledged
    if event.in_downtime is not None:
        changes["in_downtime"] = event.in_downtime
    return dataclasses.replace(check, **changes) if changes else check


def patch_host(host: IcingaHostState | None, event: CheckableEvent) -> IcingaHostState | None:
    if host is None:
        if event.state is None:
            return None
        host = IcingaHostState(name=event.host, up=True)
    changes: dict[str, Any] = {}
    if event.state is not None:
        changes["up"] = event.state == 0
        if (event.state == 0) != host.up:
            changes["last_state_change"] = event.changed_at or event.at or host.last_state_change
        if event.state == 0:
            changes["acknowledged"] = False
    if event.output is not None:
        changes["output"] = event.output
    if event.acknowledged is not None:
        changes["acknowledged"] = event.acknowledged
    if event.in_downtime is not None:
        changes["in_downtime"] = event.in_downtime
    return dataclasses.replace(host, **changes) if changes else host


# --- back-off (pure) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backoff(RetryBackoff):
    """Seconds before reconnect attempt n (n consecutive failures): `first`, doubling, at most `cap`
    (console.core.retry.Backoff). A connection that stayed up `healthy_after` seconds resets the count."""

    first: float = 1.0
    cap: float = 60.0
    healthy_after: float = 30.0


# --- the stream ----------------------------------------------------------------------------------


class StreamError(SourceError):
    """The stream could not be opened, or it broke (the message is for the operator, redacted)."""


async def event_lines(body: AsyncIterable[bytes], max_line: int = MAX_EVENT_LINE) -> AsyncIterator[bytes]:
    """The lines of the stream (one JSON event each), without their line ends. A line longer than
    `max_line` bytes is a StreamError: the stream is dropped (and reconnected with back-off) rather
    than held growing; so is a last line the stream ends without finishing, if over it."""
    pending = bytearray()
    async for chunk in body:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if len(pending) + end - start > max_line:
                raise StreamError(f"event stream: an event line longer than {size_text(max_line)}")
            pending += chunk[start:end]
            yield bytes(pending).rstrip(b"\r")
            pending.clear()
            start = end + 1
        pending += chunk[start:]
        if len(pending) > max_line:
            raise StreamError(f"event stream: an event line longer than {size_text(max_line)}")
    if pending:
        yield bytes(pending).rstrip(b"\r")


def queue_name() -> str:
    """Unique per console: clients sharing a queue share its events."""
    return f"opsconsole-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class IcingaEventStream:
    """Follows one Icinga instance's event stream for as long as `run()` runs: connects, hands every
    parsed event to `on_event`, and after a failure says so (`on_status`) and retries with back-off."""

    def __init__(
        self,
        source: IcingaSource,
        *,
        types: Iterable[str] = EVENT_TYPES,
        backoff: Backoff = Backoff(),
        idle_reconnect: float = IDLE_RECONNECT_SECONDS,
        max_line: int = MAX_EVENT_LINE,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,  # tests answer without a server
    ) -> None:
        self.source = source
        self.transport = transport
        self.source_name = source.name
        self.config = source.config
        self.types = list(types)
        self.backoff = backoff
        self.idle_reconnect = idle_reconnect
        self.max_line = max_line
        self.clock = clock or source.clock
        self.queue = queue_name()
        self.status = StreamStatus(live=False)
        self.connections = 0  # successful subscriptions so far
        self.malformed = 0  # lines skipped because they were not the documented shape
        self._http: httpx.AsyncClient | None = None

    @staticmethod
    def apply(snapshot: IcingaSnapshot, events: Sequence[CheckableEvent]) -> IcingaSnapshot:
        return apply_events(snapshot, events)

    async def run(
        self,
        on_event: Callable[[CheckableEvent], None],
        on_status: Callable[[StreamStatus], None] | None = None,
        on_reconnected: Callable[[], None] | None = None,
    ) -> None:
        """Never returns (cancel it). `on_reconnected` fires when the stream is back after a failure:
        events were missed meanwhile, so the owner re-polls."""
        failures = 0
        report = on_status or (lambda _status: None)
        while True:
            opened_at: float | None = None

            def opened() -> None:
                nonlocal opened_at
                opened_at = time.monotonic()
                self.connections += 1
                self._set(StreamStatus(live=True), report)
                if failures and on_reconnected is not None:  # noqa: B023 - called during this iteration
                    on_reconnected()

            try:
                idle = await self._follow(on_event, opened)
                error = None if idle else "the event stream ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is a message and a retry
                error = self._describe(exc)
            if opened_at is not None and time.monotonic() - opened_at >= self.backoff.healthy_after:
                failures = 0
            if error is None:
                continue
            failures += 1
            delay = self.backoff.delay(failures)
            self._set(StreamStatus(live=False, error=error, retry_at=self.clock() + timedelta(seconds=delay)), report)
            await self._drop_client()
            await pause(delay)

    def _set(self, status: StreamStatus, report: Callable[[StreamStatus], None]) -> None:
        self.status = status
        report(status)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException):
            text = transport_failure(self.config.url, exc)
        else:
            text = describe_error(exc, self.config.timeout)
        return redact(text, self.source._secret_values())

    async def _follow(self, on_event: Callable[[CheckableEvent], None], opened: Callable[[], None]) -> bool:
        """Subscribe and hand over events until the stream ends: True when it went quiet for
        `idle_reconnect` seconds (reconnect at once), False when the server ended it; raises on failure."""
        client = self._client()
        request = client.build_request(
            "POST",
            "/v1/events",
            json={"types": self.types, "queue": self.queue},
            headers={"Accept": "application/json"},
        )
        # the answer's head must come within the timeout; then lines may be far apart
        async with asyncio.timeout(self.config.timeout):
            response = await client.send(request, stream=True)
        try:
            if response.status_code != 200:
                await read_answer(response, ERROR_BODY_MAX)  # at most 64 KiB of it, to quote
                answer_json(response, auth_hint=self.source.auth_hint)  # raises the operator's message
                raise StreamError(f"event stream: unexpected HTTP {response.status_code}")
            opened()
            try:
                async for line in event_lines(response.aiter_bytes(), self.max_line):
                    if not line.strip():
                        continue
                    event = self._parse(line)
                    if event is not None:
                        on_event(event)
            except httpx.ReadTimeout:
                return True
            return False
        finally:
            await response.aclose()

    def _parse(self, line: bytes) -> CheckableEvent | None:
        try:
            return parse_event(json.loads(line))
        except (ValueError, SourceError):
            self.malformed += 1  # one bad line is skipped; the stream goes on
            return None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            timeout = self.config.timeout
            self._http = httpx.AsyncClient(
                base_url=self.config.url,
                verify=ssl_verify(self.config.verify, self.source._client_cert()),
                timeout=httpx.Timeout(timeout, read=self.idle_reconnect),
                auth=self.source._auth(),
                follow_redirects=False,  # a redirect would carry credentials elsewhere
                transport=self.transport,
            )
        return self._http

    async def _drop_client(self) -> None:
        if self._http is not None:
            client, self._http = self._http, None
            try:
                await client.aclose()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
                pass

    async def aclose(self) -> None:
        await self._drop_client()


def event_streams(sources: Iterable[Source[Any]]) -> list[IcingaEventStream]:
    """One stream per Icinga source whose config says `stream: true` (the default)."""
    return [IcingaEventStream(s) for s in sources if isinstance(s, IcingaSource) and s.config.stream]
