"""Serving the APIs: one TLS listener per API on loopback, all in one background event loop thread.

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
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

import h11
import uvicorn
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

REASON_HEADER = b"x-sim-reason"
_MARK = b"\r\n" + REASON_HEADER + b": "
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
# when the request being handled was read off its socket (loop time): set by the protocol, seen by the
# request's ASGI task (asyncio copies the context into the tasks it creates)
ARRIVED_AT: contextvars.ContextVar[float | None] = contextvars.ContextVar("sim_arrived_at", default=None)


def _with_reason(data: bytes) -> bytes:
    """The status line's reason phrase rewritten from an x-sim-reason header.

    ASGI cannot set reason phrases, but Proxmox puts its error message there (proxmoxer shows it).
    """
    if data.startswith(b"HTTP/1.1 ") and _MARK in data:
        head_end = data.find(b"\r\n\r\n")
        at = data.find(_MARK)
        if head_end == -1 or at < head_end:
            line_end = data.index(b"\r\n", at + 2)
            reason = data[at + len(_MARK):line_end].strip()
            data = data[:at] + data[line_end:]
            first_end = data.index(b"\r\n")
            data = data[:13] + reason + data[first_end:]  # "HTTP/1.1 401 " + reason
    return data


class _SimTransport:
    """The connection's transport, as uvicorn writes to it: reason phrases rewritten (_with_reason), and
    an answer written before its ANSWER_AT held until then. The answer is encoded while the latency
    runs, so at ANSWER_AT only its bytes go out: 40 answers due together leave within a millisecond or
    two, as from 40 servers, not one after another through the ASGI stack. Bytes never overtake held ones."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[tuple[float, bytes]] = []  # (when it may leave, bytes), in write order
        self._timer: asyncio.TimerHandle | None = None
        self._close_when_sent = False

    def write(self, data: bytes) -> None:
        data = _with_reason(data)
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
            self._close_when_sent = True  # uvicorn closes after an answer; the held one goes first
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


class SimH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_SimTransport(transport))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # a request's first bytes: its latency counts from here
            ARRIVED_AT.set(self.loop.time())
        super().data_received(data)


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
        self._state = ServerState()
        self._released: asyncio.Event | None = None
        self._ssl: ssl.SSLContext | None = None
        self._impostor: ssl.SSLContext | None = None  # what "tls-mismatch" presents
        self._config = uvicorn.Config(
            app=self._gate, interface="asgi3", log_config=None, lifespan="off", http=SimH11Protocol, ws="none", access_log=False,
            server_header=False, date_header=False, proxy_headers=False, timeout_keep_alive=5,
        )
        self._config.load()

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

    def _protocol(self) -> asyncio.Protocol:
        return SimH11Protocol(config=self._config, server_state=self._state, app_state={})

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
        self._server = await loop.create_server(self._protocol, sock=self._sock, ssl=context, backlog=128)
        self._sock = None  # the asyncio server owns it now

    async def _drop_connections(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for connection in list(self._state.connections):
            connection.transport.abort()
        for task in list(self._state.tasks):
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

    async def _gate(self, scope: dict, receive: Callable, send: Callable) -> None:
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
            arrived = ARRIVED_AT.get()
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
            # (to a connection already gone, or about to be) keeps uvicorn from logging a broken app.
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
