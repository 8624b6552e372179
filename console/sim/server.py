"""Serving the APIs: one TLS listener per API on loopback, all in one background event loop thread.

The HTTP/1.1 server is the sim's own (SimConnection, h11 under asyncio, ASGI apps above): it is the
servers, so it says when an answer leaves (latency from the request's first bytes), drops connections
("down"), and writes the reason phrases Proxmox puts its errors in.

Also where faults are injected ("down", "hang", "slow", "http500", "http502", "http503", "malformed",
"wrong-shape", "unauthorized", "tls-mismatch"; see console/sim/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import socket
import ssl
import threading
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Coroutine, TypeVar
from urllib.parse import unquote

import h11
from starlette.requests import ClientDisconnect

REASON_HEADER = b"x-sim-reason"
FAULTS = (None, "down", "hang", "slow", "http500", "http502", "http503", "malformed", "wrong-shape", "unauthorized",
          "tls-mismatch")
SLOW_SECONDS = 2.0  # the default delay of "slow" (set_fault(api, "slow", delay_ms=...) or "slow:800" change it)
HTTP_FAULTS = {
    "http500": (500, b"Internal Server Error"),
    "http502": (502, b"Bad Gateway"),
    "http503": (503, b"Service Unavailable"),
}
JSON = [(b"content-type", b"application/json")]
# "wrong-shape": valid JSON, but not the shape the API documents (an object where a list is expected,
# a list where an object is, records missing their required keys)
WRONG_SHAPES: dict[str, bytes] = {
    "proxmox": b'{"data": {"resources": [{"type": "qemu", "vmid": 1501}]}}',  # an object where the list goes
    "icinga": b'{"results": {"name": "mw152!PHP-FPM", "attrs": {"state": 2.0}}}',  # results is an object
    "puppetdb": b'[{"latest_report_status": "failed", "report_timestamp": 12}]',  # no certname, a number for a time
    "graylog": b'[{"timestamp": "2026-08-22T11:59:00Z", "message": "x"}]',  # a list where the search object goes
    "github": b'[{"sha": 42, "commit": "Fix the thing"}]',  # a number sha, a string where an object goes
}
WRONG_SHAPE_DEFAULT = b'{"unexpected": true}'
# "unauthorized": what each real server answers a token/password that expired or was revoked
UNAUTHORIZED: dict[str, tuple[list[tuple[bytes, bytes]], bytes]] = {
    "proxmox": ([*JSON, (REASON_HEADER, b"invalid token value!")], b'{"data":null}'),
    "icinga": ([*JSON, (b"www-authenticate", b'Basic realm="Icinga 2"')],
               b'{"error":401.0,"status":"Unauthorized. Please check your user credentials."}'),
    "puppetdb": ([(b"content-type", b"text/plain; charset=utf-8")], b"Unauthorized: the client certificate has expired\n"),
    "graylog": ([(b"www-authenticate", b'Basic realm="Graylog Server"')], b""),
    "github": ([(b"content-type", b"application/json; charset=utf-8")],
               b'{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}'),
}
UNAUTHORIZED_DEFAULT = ([(b"content-type", b"text/plain; charset=utf-8")], b"Unauthorized\n")


def parse_fault(fault: str | None, delay_ms: float | None = None) -> tuple[str | None, float]:
    """(fault, slow delay in seconds) from `fault` ("slow:800" = slow by 800 ms) and `delay_ms`."""
    if isinstance(fault, str) and fault.startswith("slow:"):
        if delay_ms is not None:
            raise ValueError("give the delay once: \"slow:800\" or delay_ms=800, not both")
        try:
            delay_ms = float(fault.removeprefix("slow:"))
        except ValueError:
            raise ValueError(f"bad slow fault {fault!r}: say e.g. \"slow:800\" (milliseconds)") from None
        fault = "slow"
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; faults are {', '.join(str(f) for f in FAULTS)} (and slow:MS)")
    if delay_ms is not None:
        if fault != "slow":
            raise ValueError(f"delay_ms is for the \"slow\" fault, not {fault!r}")
        if not 0 <= delay_ms <= 600_000:
            raise ValueError(f"delay_ms must be between 0 and 600000, not {delay_ms}")
    return fault, (SLOW_SECONDS if delay_ms is None else delay_ms / 1000)


STATS_PATH = "/__sim/stats"  # GET on any server: {"api", "requests", "by_route", "latency_ms", "fault"}

log = logging.getLogger("console.sim")
ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]
_T = TypeVar("_T")


# When this request's answer may leave (the loop's clock): set by ApiServer._gate for the request's task
ANSWER_AT: contextvars.ContextVar[float] = contextvars.ContextVar("sim_answer_at", default=0.0)
KEEP_ALIVE_SECONDS = 5.0  # an idle kept-alive connection is closed after this
PHRASES = {status.value: status.phrase.encode() for status in HTTPStatus}


class _SimTransport:
    """A connection's transport as the sim writes to it: an answer written before its ANSWER_AT is held
    until then. The answer is encoded while the latency runs, so at ANSWER_AT only its bytes go out: 40
    answers due together leave within a millisecond or two, as from 40 servers, not one after another
    through the ASGI stack. Bytes never overtake held ones."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[tuple[float, bytes]] = []  # (when it may leave, bytes), in write order
        self._timer: asyncio.TimerHandle | None = None
        self._close_when_sent = False

    def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        leaves_at = max(ANSWER_AT.get(), self._held[-1][0] if self._held else 0.0)
        if leaves_at <= loop.time():
            self._transport.write(data)
            return
        self._held.append((leaves_at, data))
        if self._timer is None:
            self._timer = loop.call_at(self._held[0][0], self._send_due)

    def _send_due(self) -> None:
        self._timer = None
        now = asyncio.get_running_loop().time()
        due = []
        while self._held and self._held[0][0] <= now:
            due.append(self._held.pop(0)[1])
        if due and not self._transport.is_closing():
            self._transport.write(b"".join(due))
        if self._held:
            self._timer = asyncio.get_running_loop().call_at(self._held[0][0], self._send_due)
        elif self._close_when_sent:
            self._transport.close()

    def close(self) -> None:
        if self._held:
            self._close_when_sent = True  # a connection closes after an answer; the held one goes first
        else:
            self._transport.close()

    def abort(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Exchange:
    """One request on a connection and the state of its answer."""

    def __init__(self, scope: dict) -> None:
        self.scope = scope
        self.body = bytearray()  # read, not yet received by the app
        self.more_body = True
        self.started = False  # the answer's head was sent
        self.complete = False  # ... and all of it
        self.disconnected = False
        self.event = asyncio.Event()  # body came, the answer ended or the client left


class SimConnection(asyncio.Protocol):
    """One HTTP/1.1 connection to an ApiServer, spoken with h11, its requests handed to the server's ASGI
    app one at a time (pipelined ones wait in h11's buffer); kept alive KEEP_ALIVE_SECONDS when idle."""

    def __init__(self, server: ApiServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.conn = h11.Connection(h11.SERVER)
        self.transport: _SimTransport | None = None
        self.exchange: _Exchange | None = None
        self.arrived: float | None = None  # when the next request's first bytes were read (loop time)
        self._idle: asyncio.TimerHandle | None = None
        self._writable = asyncio.Event()  # cleared while the socket's buffer is full
        self._writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = _SimTransport(transport)  # type: ignore[arg-type]
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self._stop_idle()
        self._writable.set()
        if self.exchange is not None and not self.exchange.complete:
            self.exchange.disconnected = True
            self.exchange.event.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        self._stop_idle()
        if self.arrived is None and self.conn.their_state is not h11.SEND_BODY:
            self.arrived = self.loop.time()  # a request's first bytes: its latency counts from here
        self.conn.receive_data(data)
        self._handle_events()

    def _handle_events(self) -> None:
        assert self.transport is not None
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError:
                self._refuse()
                return
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return
            if event is h11.PAUSED:  # a pipelined request: read once this one is answered
                self.transport.pause_reading()
                return
            if isinstance(event, h11.Request):
                self._start(event)
            elif self.exchange is not None and isinstance(event, h11.Data) and not self.exchange.complete:
                self.exchange.body += event.data
                self.exchange.event.set()
            elif isinstance(event, h11.EndOfMessage):
                if self.conn.our_state is h11.DONE:  # answered before the body was read: on to the next
                    self._next()
                    return
                if self.exchange is not None:
                    self.exchange.more_body = False
                    self.exchange.event.set()

    def _start(self, request: h11.Request) -> None:
        assert self.transport is not None
        raw_path, _, query = request.target.partition(b"?")
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.http_version.decode(), "scheme": self.server.scheme,
            "server": self.transport.get_extra_info("sockname")[:2], "client": self.transport.get_extra_info("peername")[:2],
            "method": request.method.decode(), "root_path": "", "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path, "query_string": query, "headers": list(request.headers),  # names lowercased by h11
        }
        self.exchange = exchange = _Exchange(scope)
        task = self.loop.create_task(self._run(exchange, self.arrived))
        self.arrived = None
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _run(self, exchange: _Exchange, arrived: float | None) -> None:
        assert self.transport is not None

        async def receive() -> dict:
            if self.conn.they_are_waiting_for_100_continue and not exchange.started:  # curl, with a large body
                self._write(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
            if not exchange.disconnected and not exchange.complete:
                await exchange.event.wait()
                exchange.event.clear()
            if exchange.disconnected or exchange.complete:
                return {"type": "http.disconnect"}
            message = {"type": "http.request", "body": bytes(exchange.body), "more_body": exchange.more_body}
            exchange.body.clear()
            return message

        async def send(message: dict) -> None:
            await self._send(exchange, message)

        try:
            await self.server._gate(exchange.scope, receive, send, arrived)
        except Exception:  # noqa: BLE001 - the gate answers the app's failures; this is the sim's own
            log.exception("simulated %s API failed on %s", self.server.name, exchange.scope["path"])
        finally:
            if not exchange.complete:  # no whole answer (cancelled, failed): the connection cannot go on
                self.transport.close()

    async def _send(self, exchange: _Exchange, message: dict) -> None:
        if not self._writable.is_set() and not exchange.disconnected:
            await self._writable.wait()
        if exchange.disconnected:
            return  # the client left: the answer goes nowhere, as with any server
        if message["type"] == "http.response.start" and not exchange.started:
            exchange.started = True
            status = message["status"]
            # ASGI cannot set reason phrases, but Proxmox puts its error messages there (proxmoxer shows them)
            headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != REASON_HEADER]
            reason = next((value for name, value in message.get("headers", []) if name.lower() == REASON_HEADER),
                          PHRASES.get(status, b""))
            self._write(h11.Response(status_code=status, headers=headers, reason=reason))
        elif message["type"] == "http.response.body" and exchange.started and not exchange.complete:
            if message.get("body") and exchange.scope["method"] != "HEAD":
                self._write(h11.Data(data=message["body"]))
            if not message.get("more_body", False):
                exchange.complete = True
                exchange.event.set()
                self._write(h11.EndOfMessage())
                if self.conn.our_state is h11.MUST_CLOSE:
                    self._close()
                elif self.conn.their_state is h11.DONE:
                    self._next()
                # else the rest of the request's body is read and dropped; its end starts the next
        else:
            raise RuntimeError(f"unexpected ASGI message {message['type']!r}")

    def _write(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data and self.transport is not None:
            self.transport.write(data)

    def _next(self) -> None:
        """On to the connection's next request (answered: both sides are DONE)."""
        if self.transport is None or self.transport.is_closing():
            return
        self.exchange = None
        self.conn.start_next_cycle()
        self.transport.resume_reading()
        self._idle = self.loop.call_later(KEEP_ALIVE_SECONDS, self._close)
        self._handle_events()

    def _refuse(self) -> None:
        """A request h11 cannot read: 400 (unless an answer is under way) and the connection closed."""
        if self.exchange is None or self.exchange.complete:
            with contextlib.suppress(h11.LocalProtocolError):
                self._write(h11.Response(status_code=400, reason=b"Bad Request", headers=[
                    (b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]))
                self._write(h11.Data(data=b"Invalid HTTP request received.\n"))
                self._write(h11.EndOfMessage())
        self._close()

    def _close(self) -> None:
        self._stop_idle()
        if self.transport is not None:
            self.transport.close()

    def _stop_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None


class ApiServer:
    """One API on one loopback port with TLS; `fault` changes how it answers."""

    def __init__(self, name: str, app: ASGIApp, port: int = 0, clock: Callable | None = None,
                 scheme: str = "https") -> None:
        self.name = name
        self.scheme = scheme  # "http" for the caches (plain HTTP, like Varnish behind HAProxy's TLS)
        self.app = app
        self.fault: str | None = None
        self.slow_seconds = SLOW_SECONDS
        self.clock = clock
        self.latency: float = 0.0  # seconds every answer waits (SimFarm(latency_ms=...)); faults aside
        self.requests = 0  # requests answered or attempted, /__sim/stats excluded
        self.requests_by_route: dict[str, int] = {}  # "GET /api2/json/cluster/resources" -> count
        # Health endpoints the console's service probes hit (Varnish /check, Graylog lbstatus): counted
        # apart, so "requests per refresh" stays about the backend APIs
        self.probe_paths: frozenset[str] = frozenset()
        self.probe_requests = 0
        self._sock: socket.socket | None = self._bind(port)  # None: the asyncio server holds it, or closed
        self.port: int = self._sock.getsockname()[1]
        self._server: asyncio.base_events.Server | None = None
        self.connections: set[SimConnection] = set()
        self.tasks: set[asyncio.Task] = set()  # the requests being answered
        self._released: asyncio.Event | None = None
        self._ssl: ssl.SSLContext | None = None
        self._impostor: ssl.SSLContext | None = None  # what "tls-mismatch" presents

    @staticmethod
    def _bind(port: int) -> socket.socket:
        # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets that say so; without it
        # Nagle holds a response's body behind its headers until the client's delayed ACK (~40 ms)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            raise
        return sock

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def open(self, context: ssl.SSLContext | None, impostor: ssl.SSLContext | None = None) -> None:
        self._ssl = context
        self._impostor = impostor
        self._released = asyncio.Event()
        if self.fault != "down":
            await self._listen()

    async def _listen(self) -> None:
        if self._sock is None:
            self._sock = self._bind(self.port)
        loop = asyncio.get_running_loop()
        context = self._impostor if self.fault == "tls-mismatch" and self._impostor is not None else self._ssl
        self._server = await loop.create_server(lambda: SimConnection(self), sock=self._sock, ssl=context, backlog=128)
        self._sock = None  # the asyncio server owns it now

    async def _drop_connections(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.sleep(0)

    async def set_fault(self, fault: str | None, delay_ms: float | None = None) -> None:
        fault, self.slow_seconds = parse_fault(fault, delay_ms)
        previous, self.fault = self.fault, fault
        if fault == "down" and previous != "down":
            await self._drop_connections()  # connection refused from now on
        elif previous == "down" and fault != "down":
            await self._listen()  # same port again
        elif self.scheme == "https" and (fault == "tls-mismatch") != (previous == "tls-mismatch"):
            # another certificate from now on: a restart with it (kept-alive connections are cut,
            # or they would go on with the old, verified session)
            await self._drop_connections()
            await self._listen()
        if previous == "hang" and fault != "hang" and self._released is not None:
            self._released.set()
            self._released = asyncio.Event()

    async def close(self) -> None:
        if self._released is not None:
            self._released.set()
        await self._drop_connections()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _gate(self, scope: dict, receive: Callable, send: Callable, arrived: float | None = None) -> None:
        if scope["type"] != "http":
            return
        if scope.get("path") == STATS_PATH:  # the sim's own request counter; never counted, delayed or faulted
            await _send(send, 200, [(b"content-type", b"application/json")], self.stats_json())
            return
        route = f"{scope.get('method', '')} {scope.get('path', '')}"
        if scope.get("path") in self.probe_paths:
            self.probe_requests += 1
        else:
            self.requests += 1
            self.requests_by_route[route] = self.requests_by_route.get(route, 0) + 1
        # The answer starts L after the request came in, the server's own work included (a real API's
        # latency is its time to first byte): all of a refresh's requests answer together after L.
        if self.latency > 0:
            ANSWER_AT.set((asyncio.get_running_loop().time() if arrived is None else arrived) + self.latency)
        fault = self.fault
        if fault == "hang" and self._released is not None:
            await self._released.wait()  # accepted, never answered (until the fault is cleared)
        elif fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        elif fault in HTTP_FAULTS:
            status, text = HTTP_FAULTS[fault]
            await _send(send, status, [(b"content-type", b"text/plain; charset=utf-8")], text + b"\n")
            return
        elif fault == "wrong-shape":
            await _send(send, 200, JSON, WRONG_SHAPES.get(self.name, WRONG_SHAPE_DEFAULT))
            return
        elif fault == "unauthorized":
            headers, body = UNAUTHORIZED.get(self.name, UNAUTHORIZED_DEFAULT)
            await _send(send, 401, list(headers), body)
            return
        elif fault == "malformed":
            await _send(send, 200, [(b"content-type", b"application/json")], b'{"data": [{"id": "qemu/1501", "status": "runn')
            return

        started = False

        async def dated(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if self.clock is not None:
                    headers = list(message.get("headers", []))
                    headers.append((b"date", format_datetime(self.clock(), usegmt=True).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, dated)
        except ClientDisconnect:
            return  # the client gave up (after a hang, say): nobody to answer
        except asyncio.CancelledError:
            # only the sim cancels a request: it dropped the connection (a "down" fault, a stop) while the
            # answer was being built in the worker. The request ends here, quietly: an answer started
            # (to a connection already gone, or about to be) lets the connection end as after any answer.
            if not started:
                with contextlib.suppress(Exception):
                    await _send(send, 503, [(b"content-type", b"text/plain; charset=utf-8")], b"simulated farm stopping\n")
            return
        except Exception:  # noqa: BLE001 - a sim bug must not take the listener down
            log.exception("simulated %s API failed on %s", self.name, scope.get("path"))
            if not started:
                await _send(send, 500, [(b"content-type", b"text/plain; charset=utf-8")], b"simulated farm error\n")


    def stats(self) -> dict[str, Any]:
        return {"api": self.name, "requests": self.requests, "by_route": dict(sorted(self.requests_by_route.items())),
                "latency_ms": round(self.latency * 1000, 3), "fault": self.fault, "probe_requests": self.probe_requests}

    def stats_json(self) -> bytes:
        return json.dumps(self.stats()).encode()


async def _send(send: Callable, status: int, headers: list, body: bytes) -> None:
    headers = headers + [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LoopThread:
    """One thread running one event loop for every API server of a farm."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            try:
                self.call(cancel_rest(), timeout=5)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
