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

`preconnect` starts connections before the requests exist, so the engine can overlap the TCP
handshakes with its locks and audit write: a connection alone sends no request. A request that
takes one writes its bytes straight to the socket and wraps it in a transport afterwards, while
the answer is on its way (over https the TLS handshake comes first): the 40 requests of a purge
leave within a few milliseconds.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import select
import socket
import ssl
import time
from typing import Any, AsyncIterator

import h11
import httpx

from console.sources.bounded import DEFAULT_MAX_ANSWER, ERROR_BODY_MAX, AnswerTooSlow, read_capped

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
                 keepalive_expiry: float = KEEPALIVE_EXPIRY, max_answer: int = DEFAULT_MAX_ANSWER) -> None:
        self._ssl = ssl_context
        self._max_answer = max_answer  # bytes of a 2xx answer's body (others: ERROR_BODY_MAX); more fails
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[Key, list[_Wire]] = {}
        self._opening: dict[Key, list[_Ahead]] = {}  # connections started ahead (preconnect), not yet taken
        self._loop: asyncio.AbstractEventLoop | None = None

    def _here(self) -> asyncio.AbstractEventLoop:
        """The running loop. Connections belong to the loop that opened them: a client used again
        under another loop (one asyncio.run per CLI call) starts afresh instead of reusing dead ones."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                for wire in [w for wires in self._idle.values() for w in wires]:
                    wire.abandon()
                for ahead in [a for aheads in self._opening.values() for a in aheads]:
                    ahead.close()
                self._idle, self._opening = {}, {}
                self._slots = asyncio.Semaphore(self._max)
            self._loop = loop
        return loop

    # --- connections -----------------------------------------------------------------------------

    def preconnect(self, url: httpx.URL | str, count: int, timeout: float | None) -> None:
        """Start opening connections to `url`'s host:port until `count` are idle or being opened:
        the TCP connects start (non-blocking; the kernel completes the handshakes), nothing is sent.
        The requests that follow take them, and only then is each one wrapped in a transport (and
        its TLS handshake made, for https). A failure here is left to the request that takes the
        connection to report.

        Why not `loop.create_connection` for each: its steps cost ~0.2–0.3 ms of the loop's time per
        connection here, taken while the engine's locks and audit write run in a worker thread,
        which then waits for the GIL. Started this way, 40 connects cost the loop ~1 ms."""
        loop = self._here()
        key = _key(httpx.URL(url))
        opening = self._opening.setdefault(key, [])
        wanted = min(count, self._max) - len(self._idle.get(key, ())) - len(opening)
        if wanted <= 0:
            return
        _, host, port = key
        batch: asyncio.Future[list[socket.socket | OSError]]
        try:  # an address needs no resolver: the connects start now, before the caller's worker thread does
            literal = ipaddress.ip_address(host)
        except ValueError:
            batch = loop.create_task(self._resolve_and_connect(key, wanted))
        else:
            family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            batch = loop.create_future()
            batch.set_result(_start_connects(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, (host, port), wanted))
        opening.extend(_Ahead(batch, index) for index in range(wanted))

    @staticmethod
    async def _resolve_and_connect(key: Key, count: int) -> list[socket.socket | OSError]:
        """A host name: resolved first (asyncio's getaddrinfo, in a worker thread), then connected."""
        _, host, port = key
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        family, kind, proto, _, address = infos[0]
        return _start_connects(family, kind, proto, address, count)

    async def _adopt(self, key: Key, ahead: _Ahead, timeout: float | None, request: httpx.Request, body: bytes) -> _Wire:
        """Send `request` on the connection `ahead` stands for: once its connect has ended, the request
        goes straight to the socket (plain HTTP) and only then is the socket wrapped in a transport,
        while the answer is on its way; over https the TLS handshake comes first. A connection the
        cache closed meanwhile is replaced by a new one."""
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        tls = self._ssl if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                # a batch still resolving its host name is shielded: its other connections are not ours to cancel
                started = ahead.batch.result() if ahead.batch.done() else await asyncio.shield(ahead.batch)
                opened = started[ahead.index]
                if isinstance(opened, OSError):
                    raise opened
                events = await _connected(loop, opened)
                error = opened.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error))
                if events & _GONE:  # closed by the cache (or bytes nobody asked for) before any request
                    ahead.close()
                    return self._send_on(await self._open(key, timeout, request), request, body)
                wire = _Wire()
                data = b"" if tls else _request_bytes(wire, request, body)
                if data:
                    try:
                        sent = opened.send(data)
                    except BlockingIOError:
                        sent = 0
                    except OSError:  # reset or closed by the cache since the connect: open another
                        ahead.close()
                        return self._send_on(await self._open(key, timeout, request), request, body)
                if data:
                    await asyncio.sleep(0)  # the other requests of a burst go out first; the wrap can wait
                ahead.claimed = True  # the transport closes it from here on, failed handshake included
                await loop.create_connection(
                    lambda: wire, sock=opened, ssl=tls, server_hostname=host if tls else None,
                    ssl_handshake_timeout=(timeout or None) if tls else None,
                )  # fmt: skip
        except OSError as exc:  # refused, unreachable, timed out, TLS verification (ssl.SSLError is an OSError)
            ahead.close()
            raise _connect_failure(exc, host, port, request) from exc
        except BaseException:
            ahead.close()
            raise
        if tls:
            return self._send_on(wire, request, body)
        if sent < len(data):
            wire.transport.write(data[sent:])  # type: ignore[union-attr]
        return wire

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
        except OSError as exc:  # refused, unreachable, timed out, TLS verification (ssl.SSLError is an OSError)
            raise _connect_failure(exc, host, port, request) from exc
        return wire

    async def _send(self, key: Key, timeout: float | None, request: httpx.Request, body: bytes) -> _Wire:
        """Send the request on an idle connection still good to use, else on one opened ahead, else
        on a new one; the connection it went out on."""
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            wire = idle.pop()  # the most recently used: the least likely to have been closed by the cache
            if wire.reusable(now, self._expiry):
                wire.idle_since = None
                return self._send_on(wire, request, body)
            wire.close()
        opening = self._opening.get(key)
        while opening:
            ahead = opening.pop()
            if ahead.fresh(now, self._expiry):
                return await self._adopt(key, ahead, timeout, request, body)
            ahead.close()  # connected long ago and never used: the cache may have closed it since
        return self._send_on(await self._open(key, timeout, request), request, body)

    @staticmethod
    def _send_on(wire: _Wire, request: httpx.Request, body: bytes) -> _Wire:
        try:
            data = _request_bytes(wire, request, body)
            if wire.closed or wire.transport is None or wire.transport.is_closing():
                raise httpx.WriteError("the connection was closed before the request was sent", request=request)
        except BaseException:
            wire.close()
            raise
        wire.transport.write(data)  # a few hundred bytes: the transport buffers what the socket does not take
        return wire

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
        if self._slots.locked():  # every slot taken: wait for one, as long as the pool timeout allows
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout(f"more than {self._max} requests waiting for a connection", request=request) from None
        else:
            await self._slots.acquire()  # free: taken at once (no timer armed for nothing)
        content = await request.aread()
        try:
            wire = await self._send(key, timeouts.get("connect"), request, content)
            try:
                head, body = await self._answer(wire, request, timeouts.get("read"), self._max_answer)
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

    @staticmethod
    async def _answer(wire: _Wire, request: httpx.Request, read_timeout: float | None,
                      max_answer: int) -> tuple[h11.Response, bytes]:
        """The whole answer within `read_timeout`: a 2xx body up to `max_answer` bytes (over: AnswerTooLarge),
        any other up to ERROR_BODY_MAX (the rest unread: the connection is then not reused)."""
        head: h11.Response | None = None
        try:
            async with asyncio.timeout(read_timeout):
                while head is None:
                    event = await wire.next_event()
                    if isinstance(event, h11.Response):
                        head = event
                    elif isinstance(event, h11.ConnectionClosed):
                        raise httpx.RemoteProtocolError("the server closed the connection without an answer",
                                                        request=request)
                    # h11.InformationalResponse (1xx): the real answer follows
                success = 200 <= head.status_code < 300
                body = await read_capped(_body_of(wire, request), max_answer if success else ERROR_BODY_MAX,
                                         truncate=not success)
        except TimeoutError:
            if head is not None:
                raise AnswerTooSlow(read_timeout or 0) from None
            raise httpx.ReadTimeout(f"no answer within {read_timeout:g}s", request=request) from None
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "malformed answer", request=request) from exc
        return head, b"".join(body.chunks)

    async def aclose(self) -> None:
        """Close the connections opened ahead and not taken, and the idle ones (in-use ones close with their request)."""
        self._here()
        opening, self._opening = self._opening, {}
        for ahead in [ahead for aheads in opening.values() for ahead in aheads]:
            ahead.close()
        idle, self._idle = self._idle, {}
        for wires in idle.values():
            for wire in wires:
                wire.close()


async def _body_of(wire: _Wire, request: httpx.Request) -> AsyncIterator[bytes]:
    """The body of the answer whose head was just read, as h11 delivers it."""
    while True:
        event = await wire.next_event()
        if isinstance(event, h11.Data):
            yield bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return
        elif isinstance(event, h11.ConnectionClosed):
            raise httpx.RemoteProtocolError("the server closed the connection mid-answer", request=request)


def _request_bytes(wire: _Wire, request: httpx.Request, body: bytes) -> bytes:
    """The request as the connection's h11 state machine writes it (which moves it to awaiting the answer)."""
    connection = wire.h11
    try:
        data = connection.send(h11.Request(method=request.method, target=request.url.raw_path, headers=request.headers.raw))
        if body:
            data += connection.send(h11.Data(data=body))
        return data + connection.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc), request=request) from exc


def _start_connects(family: int, kind: int, proto: int, address: Any, count: int) -> list[socket.socket | OSError]:
    """`count` non-blocking TCP connects to `address`: each a socket still connecting, or why not."""
    started: list[socket.socket | OSError] = []
    for _ in range(count):
        try:
            sock = socket.socket(family, kind | socket.SOCK_NONBLOCK, proto)
        except OSError as exc:  # out of descriptors
            started.append(exc)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        error = sock.connect_ex(address)
        if error in (0, errno.EINPROGRESS):
            started.append(sock)
        else:
            sock.close()
            started.append(OSError(error, os.strerror(error)))
    return started


class _Ahead:
    """One connection opened ahead: the `index`th socket its batch started (see CacheTransport.preconnect)."""

    def __init__(self, batch: asyncio.Future[list[socket.socket | OSError]], index: int) -> None:
        self.batch = batch
        self.index = index
        self.started = time.monotonic()
        self.claimed = False  # a transport owns the socket now

    def fresh(self, now: float, expiry: float) -> bool:
        return now - self.started < expiry

    def close(self) -> None:
        """Close the socket unless a transport took it; a batch still resolving closes it when done."""
        if self.claimed:
            return
        self.claimed = True
        if not self.batch.done():
            self.batch.add_done_callback(lambda batch: _close_started(batch, self.index))
        else:
            _close_started(self.batch, self.index)


def _close_started(batch: asyncio.Future[list[socket.socket | OSError]], index: int) -> None:
    if not batch.cancelled() and batch.exception() is None:
        opened = batch.result()[index]
        if isinstance(opened, socket.socket):
            opened.close()


# what a connection no request went out on must not show (POLLRDHUP: Linux, the bastions' system)
_GONE = select.POLLIN | select.POLLHUP | getattr(select, "POLLRDHUP", 0)


async def _connected(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> int:
    """Wait until a connecting socket's connect has ended (writable, or its error set); its poll events."""
    poller = select.poll()
    poller.register(sock, select.POLLOUT | _GONE)
    ready = poller.poll(0)
    if not ready:  # still connecting (the usual case is done by the time a request takes it)
        done = loop.create_future()
        loop.add_writer(sock.fileno(), _settle, done)
        try:
            await done
        finally:
            loop.remove_writer(sock.fileno())
        ready = poller.poll(0)
    return ready[0][1] if ready else 0


def _connect_failure(exc: OSError, host: str, port: int, request: httpx.Request | None) -> httpx.TransportError:
    if isinstance(exc, TimeoutError):
        return httpx.ConnectTimeout(f"timed out connecting to {host}:{port}", request=request)
    return httpx.ConnectError(str(exc) or type(exc).__name__, request=request)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
