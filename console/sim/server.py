"""Serving the APIs: one TLS listener per API on loopback, all in one background event loop thread.

Also where faults are injected ("down", "hang", "slow", "http500", "http503", "malformed").
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from email.utils import format_datetime
from typing import Any, Awaitable, Callable

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from starlette.requests import ClientDisconnect
from uvicorn.server import ServerState

FAULTS = (None, "down", "hang", "slow", "http500", "http503", "malformed")
SLOW_SECONDS = 2.0
REASON_HEADER = b"x-sim-reason"
_MARK = b"\r\n" + REASON_HEADER + b": "

log = logging.getLogger("console.sim")
ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]


class _ReasonTransport:
    """Rewrites the status line's reason phrase from an x-sim-reason header.

    ASGI cannot set reason phrases, but Proxmox puts its error message there (proxmoxer shows it).
    """

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        if data.startswith(b"HTTP/1.1 ") and _MARK in data:
            head_end = data.find(b"\r\n\r\n")
            at = data.find(_MARK)
            if head_end == -1 or at < head_end:
                line_end = data.index(b"\r\n", at + 2)
                reason = data[at + len(_MARK):line_end].strip()
                data = data[:at] + data[line_end:]
                first_end = data.index(b"\r\n")
                data = data[:13] + reason + data[first_end:]  # "HTTP/1.1 401 " + reason
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class SimH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_ReasonTransport(transport))  # type: ignore[arg-type]


class ApiServer:
    """One API on one loopback port with TLS; `fault` changes how it answers."""

    def __init__(self, name: str, app: ASGIApp, port: int = 0, clock: Callable | None = None,
                 scheme: str = "https") -> None:
        self.name = name
        self.scheme = scheme  # "http" for the caches (plain HTTP, like Varnish behind HAProxy's TLS)
        self.app = app
        self.fault: str | None = None
        self.clock = clock
        self._sock = self._bind(port)
        self.port: int = self._sock.getsockname()[1]
        self._server: asyncio.base_events.Server | None = None
        self._state = ServerState()
        self._released: asyncio.Event | None = None
        self._ssl: ssl.SSLContext | None = None
        self._config = uvicorn.Config(
            app=self._gate, interface="asgi3", log_config=None, lifespan="off", http=SimH11Protocol, ws="none", access_log=False,
            server_header=False, date_header=False, proxy_headers=False, timeout_keep_alive=5,
        )
        self._config.load()

    @staticmethod
    def _bind(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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

    async def open(self, context: ssl.SSLContext | None) -> None:
        self._ssl = context
        self._released = asyncio.Event()
        if self.fault != "down":
            await self._listen()

    async def _listen(self) -> None:
        if self._sock is None:
            self._sock = self._bind(self.port)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, sock=self._sock, ssl=self._ssl, backlog=128)
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

    async def set_fault(self, fault: str | None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {FAULTS}")
        previous, self.fault = self.fault, fault
        if fault == "down" and previous != "down":
            await self._drop_connections()  # connection refused from now on
        elif previous == "down" and fault != "down":
            await self._listen()  # same port again
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
        fault = self.fault
        if fault == "hang" and self._released is not None:
            await self._released.wait()  # accepted, never answered (until the fault is cleared)
        elif fault == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        elif fault in ("http500", "http503"):
            status = 500 if fault == "http500" else 503
            text = b"Internal Server Error" if status == 500 else b"Service Unavailable"
            await _send(send, status, [(b"content-type", b"text/plain; charset=utf-8")], text + b"\n")
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
        except Exception:  # noqa: BLE001 - a sim bug must not take the listener down
            log.exception("simulated %s API failed on %s", self.name, scope.get("path"))
            if not started:
                await _send(send, 500, [(b"content-type", b"text/plain; charset=utf-8")], b"simulated farm error\n")


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

    def call(self, coro: Awaitable, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

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
