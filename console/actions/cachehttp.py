"""The wire under the cache executors: an httpx transport for many small HTTP/1.1 requests at once.

    client = httpx.AsyncClient(transport=CacheTransport(context), timeout=5, follow_redirects=False)
    client._transport.preconnect("http://10.0.0.1:81", 10, timeout=5)   # optional: connections ahead

A purge sends every URL to every cache at once, each request on its own connection (HTTP/1.1 has
one request in flight per connection). httpx's default transport (httpcore's pool over anyio)
spends about 0.7 ms of CPU per request at that concurrency, more on kept-alive connections (the
pool re-checks every connection each time a request starts or ends); measured, 28 ms of a
10-URL x 4-cache purge, all of it on the purge's critical path. This transport keeps httpx's
client (requests, responses, timeouts and exceptions are httpx's) and does the wire part with an
asyncio protocol and h11, the HTTP/1.1 state machine httpcore itself uses: about a third of that.

`preconnect` opens connections before the requests exist, so the engine can overlap the TCP (and
TLS) handshakes with its locks and audit write: a connection alone sends no request.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

import h11
import httpx

MAX_CONNECTIONS = 100  # requests in flight per transport (httpx's own default); more wait their turn
KEEPALIVE_EXPIRY = 4.0  # seconds an idle connection is reused: under Varnish's timeout_idle (5 s)
READ_SIZE = 65536

Key = tuple[str, str, int]  # scheme, host, port


def _key(url: httpx.URL) -> Key:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


class _Wire(asyncio.Protocol):
    """One connection: bytes received go straight into its h11 state machine; a reader waits on a future."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.spoiled = False  # bytes arrived while no request was out: never use it
        self.idle_since: float | None = None  # monotonic time it was parked; None while in use
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.h11.our_state is h11.IDLE:
            self.spoiled = True  # no request of ours is out: these bytes answer nothing we asked
        if not self._eof:
            self.h11.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self._feed_eof()
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._feed_eof()
        self._wake()

    def _feed_eof(self) -> None:
        if not self._eof:
            self._eof = True
            self.h11.receive_data(b"")

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_event(self) -> Any:
        """The next h11 event, waiting for bytes as long as h11 needs more (the caller bounds the wait)."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def reusable(self, now: float, expiry: float) -> bool:
        return (not self.closed and not self.spoiled and self.idle_since is not None
                and now - self.idle_since < expiry and self.h11.our_state is h11.IDLE)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abandon(self) -> None:
        """End a connection whose event loop is gone (its transport cannot run anymore): the cache sees
        it closed at once; the descriptor goes with the transport object."""
        self.closed = True
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CacheTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio for httpx.AsyncClient: one request per connection at a time, idle
    connections kept `keepalive_expiry` seconds, at most `max_connections` requests in flight.
    `ssl_context` is used for https:// URLs only (and always verifies as it is told)."""

    def __init__(self, ssl_context: ssl.SSLContext, *, max_connections: int = MAX_CONNECTIONS,
                 keepalive_expiry: float = KEEPALIVE_EXPIRY) -> None:
        self._ssl = ssl_context
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Key, list[_Wire]] = {}
        self._opening: dict[Key, list[asyncio.Task[_Wire]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def _here(self) -> asyncio.AbstractEventLoop:
        """The running loop. Connections belong to the loop that opened them: a client used again
        under another loop (one asyncio.run per CLI call) starts afresh instead of reusing dead ones."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                for wire in [w for wires in self._idle.values() for w in wires]:
                    wire.abandon()
                self._idle, self._opening = {}, {}
                self._slots = asyncio.Semaphore(self._max)
            self._loop = loop
        return loop

    # --- connections -----------------------------------------------------------------------------

    def preconnect(self, url: httpx.URL | str, count: int, timeout: float | None) -> None:
        """Start opening connections to `url`'s host:port (in the background, sending nothing) until
        `count` are idle or being opened. The requests that follow take them; a failure here is
        left to the request that would have used the connection to report."""
        loop = self._here()
        key = _key(httpx.URL(url))
        opening = self._opening.setdefault(key, [])
        wanted = min(count, self._max) - len(self._idle.get(key, ())) - len(opening)
        for _ in range(max(0, wanted)):
            task = loop.create_task(self._open(key, timeout, None))
            opening.append(task)
            task.add_done_callback(lambda done, key=key: self._opened_ahead(key, done))

    def _opened_ahead(self, key: Key, task: asyncio.Task[_Wire]) -> None:
        opening = self._opening.get(key, [])
        if task not in opening:
            return  # a request claimed it and awaits it itself
        opening.remove(task)
        if task.cancelled() or task.exception() is not None:
            return  # nobody waits for it; the request that opens its own will say what is wrong
        self._park(key, task.result())

    async def _open(self, key: Key, timeout: float | None, request: httpx.Request | None) -> _Wire:
        scheme, host, port = key
        tls = self._ssl if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, wire = await loop.create_connection(
                    _Wire, host, port, ssl=tls, server_hostname=host if tls else None,
                    ssl_handshake_timeout=(timeout or None) if tls else None,
                )  # fmt: skip
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request) from None
        except OSError as exc:  # refused, unreachable, TLS verification (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return wire

    async def _take(self, key: Key, timeout: float | None, request: httpx.Request) -> _Wire:
        """An idle connection still good to use, else one opened ahead, else a new one."""
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            wire = idle.pop()  # the most recently used: the least likely to have been closed by the cache
            if wire.reusable(now, self._expiry):
                wire.idle_since = None
                return wire
            wire.close()
        opening = self._opening.get(key)
        if opening:
            task = opening.pop()
            try:
                wire = await task
            except httpx.TransportError as exc:
                exc.request = request
                raise
            if not wire.spoiled and not wire.closed:
                return wire
            wire.close()
        return await self._open(key, timeout, request)

    def _park(self, key: Key, wire: _Wire) -> None:
        """Keep a connection for the next request, unless h11 says it cannot carry one."""
        connection = wire.h11
        if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
            connection.start_next_cycle()
        if (wire.closed or wire.spoiled or connection.our_state is not h11.IDLE or connection.their_state is not h11.IDLE
                or connection.trailing_data[0]):  # bytes past the answer: the next answer could not be trusted
            wire.close()
            return
        idle = self._idle.setdefault(key, [])
        now = time.monotonic()
        for stale in [w for w in idle if not w.reusable(now, self._expiry)]:
            idle.remove(stale)
            stale.close()
        if len(idle) >= self._max:
            wire.close()
            return
        wire.idle_since = now
        idle.append(wire)

    # --- one request -----------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {request.url.scheme!r}", request=request)
        self._here()
        timeouts = request.extensions.get("timeout") or {}
        key = _key(request.url)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"more than {self._max} requests waiting for a connection", request=request) from None
        try:
            wire = await self._take(key, timeouts.get("connect"), request)
            try:
                head, body = await self._exchange(wire, request, timeouts.get("read"))
            except BaseException:
                wire.close()  # cancelled or failed mid-exchange: the connection's state is unknown
                raise
            self._park(key, wire)
        finally:
            self._slots.release()
        return httpx.Response(
            head.status_code, headers=head.headers, stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/" + head.http_version, "reason_phrase": head.reason},
        )  # fmt: skip

    async def _exchange(self, wire: _Wire, request: httpx.Request, read_timeout: float | None) -> tuple[h11.Response, bytes]:
        connection = wire.h11
        body = await request.aread()
        try:
            data = connection.send(h11.Request(method=request.method, target=request.url.raw_path,
                                               headers=request.headers.raw))
            if body:
                data += connection.send(h11.Data(data=body))
            data += connection.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc), request=request) from exc
        if wire.closed or wire.transport is None or wire.transport.is_closing():
            raise httpx.WriteError("the connection was closed before the request was sent", request=request)
        wire.transport.write(data)  # a few hundred bytes: the transport buffers what the socket does not take
        head: h11.Response | None = None
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout(read_timeout):
                while True:
                    event = await wire.next_event()
                    if isinstance(event, h11.Response):
                        head = event
                    elif isinstance(event, h11.Data):
                        chunks.append(bytes(event.data))
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        raise httpx.RemoteProtocolError("the server closed the connection without an answer",
                                                        request=request)
                    # h11.InformationalResponse (1xx): the real answer follows
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {read_timeout:g}s", request=request) from None
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "malformed answer", request=request) from exc
        assert head is not None  # h11 delivers EndOfMessage only after the Response
        return head, b"".join(chunks)

    async def aclose(self) -> None:
        """Stop the connections being opened ahead and close the idle ones (in-use ones close with their request)."""
        self._here()
        opening, self._opening = self._opening, {}
        tasks = [task for tasks in opening.values() for task in tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if not task.cancelled() and task.exception() is None:
                    task.result().close()
        idle, self._idle = self._idle, {}
        for wires in idle.values():
            for wire in wires:
                wire.close()
