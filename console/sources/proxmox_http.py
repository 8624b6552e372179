"""The Proxmox calls' HTTP under proxmoxer, bounded: a requests adapter mounted on proxmoxer's own session.

proxmoxer builds a requests.Session (`ProxmoxHttpSession`) and reads each answer whole. `bound_session`
mounts BoundedAdapter on it for https://: every request streams (`stream=True`); the head must come
within the call's deadline; the body is read with `read1` (what has arrived, never "wait for 64 KiB"),
at most `max_answer_mib` of it (64 KiB of an answer other than 2xx), each read waiting at most
SOCKET_TIMEOUT, the deadline checked after every chunk. The body becomes the response's content, so
proxmoxer goes on as before.

Each call runs in a daemon thread (bounded.in_daemon_thread) inside a `Call`: a caller that stops
waiting (cancelled, past its deadline) calls `Call.abandon()`, which shuts the call's socket down, so
the thread ends at once instead of living on in a blocked read.

Imported on the first Proxmox call, in a worker thread, before its deadline starts (requests, urllib3
and proxmoxer take tens of ms to import): console/sources/proxmox.py `load_proxmoxer`.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import proxmoxer  # noqa: F401 - loaded here, before any deadline starts
import proxmoxer.backends.https  # noqa: F401 - what ProxmoxAPI(backend="https") imports on construction
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

from console.sources.bounded import ERROR_BODY_MAX, AnswerTooSlow, answer_deadline, read_capped_sync

READ_SIZE = 64 * 1024
SOCKET_TIMEOUT = 1.0  # the longest one read of the body waits: the deadline is checked at least this often
_CURRENT = threading.local()  # the Call the running thread works for


class Call:
    """One blocking call, so the side waiting for it can end it (see the module's docstring). Made by
    the waiting side as its clock starts: `deadline` (time.monotonic) is the call's, not its thread's."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + answer_deadline(timeout)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._state = "new"  # running, done, abandoned

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the call, in its thread: the connections it uses are attached to it."""
        _CURRENT.call = self
        with self._lock:
            self._state = "running" if self._state == "new" else self._state
        try:
            yield
        finally:
            _CURRENT.call = None
            with self._lock:
                self._sockets.clear()  # back in the pool, perhaps: never shut down from here on
                self._state = "done" if self._state == "running" else self._state

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            abandoned = self._state == "abandoned"
        if abandoned:
            _shut(sock)

    def abandon(self) -> None:
        """The caller no longer waits: end the call's reads (no effect once the call is done)."""
        with self._lock:
            if self._state == "done":
                return
            self._state = "abandoned"
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # a read blocked on it returns at once; the pool discards it
    except OSError:
        pass


class _WatchedConnection(HTTPSConnection):
    """An HTTPS connection that attaches its socket to the running thread's Call for each request, and
    keeps it as `request_sock` (http.client drops `sock` once a `Connection: close` answer's head is in,
    while the body is still read from it)."""

    request_sock: socket.socket | None = None

    def request(self, *args: Any, **kwargs: Any) -> None:
        self.request_sock = self.sock
        call = getattr(_CURRENT, "call", None)
        if call is not None and self.sock is not None:
            call.attach(self.sock)
        super().request(*args, **kwargs)


class _WatchedPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedConnection


class BoundedAdapter(HTTPAdapter):
    """requests' HTTPAdapter, every answer within `max_bytes` and `timeout` seconds (see the module)."""

    def __init__(self, max_bytes: int, timeout: float) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {**self.poolmanager.pool_classes_by_scheme, "https": _WatchedPool}

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Mapping[str, str] | None = None) -> requests.Response:
        call = getattr(_CURRENT, "call", None)
        deadline = call.deadline if call is not None else time.monotonic() + answer_deadline(self.timeout)
        head = max(deadline - time.monotonic(), 0.001)  # connect, and the wait for the head: the deadline
        response = super().send(request, stream=True, timeout=(head, head), verify=verify, cert=cert,
                                 proxies=dict(proxies) if proxies is not None else None)
        success = 200 <= response.status_code < 300
        try:
            kept = read_capped_sync(_body(response, deadline, self.timeout), self.max_bytes if success else ERROR_BODY_MAX,
                                    deadline=deadline, timeout=self.timeout, truncate=not success)
        except BaseException:
            response.close()
            raise
        if not kept.complete:
            response.close()  # the rest is unread: the connection cannot carry another request
        # what `response.content` would have read, within the bounds (requests has no public setter)
        response._content = b"".join(kept.chunks)
        return response


def _body(response: requests.Response, deadline: float, timeout: float) -> Iterator[bytes]:
    """The body as it arrives (decoded), each read waiting at most SOCKET_TIMEOUT and never past the
    deadline; urllib3's failures as requests' (what Response.iter_content raises)."""
    raw = response.raw
    sock: socket.socket | None = getattr(raw.connection, "request_sock", None)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AnswerTooSlow(timeout)
        if sock is not None:
            sock.settimeout(min(SOCKET_TIMEOUT, left))
        try:
            chunk = raw.read1(READ_SIZE, decode_content=True)
        except ReadTimeoutError as exc:
            if time.monotonic() >= deadline:
                raise AnswerTooSlow(timeout) from None
            raise requests.exceptions.ReadTimeout(exc) from None
        except ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from None
        except SSLError as exc:
            raise requests.exceptions.SSLError(exc) from None
        if not chunk:
            return
        yield chunk


def bound_session(session: requests.Session, max_bytes: int, timeout: float) -> None:
    """Send every https:// request of `session` (proxmoxer's) through a BoundedAdapter."""
    session.mount("https://", BoundedAdapter(max_bytes, timeout))
