"""What the HTTP sources share: one lazily created httpx.AsyncClient, TLS from `verify`, answers
checked into operator messages, big answers decoded item by item by ijson (answer_items), and secrets
scrubbed from every error message."""

from __future__ import annotations

import asyncio
import base64
import codecs
import dataclasses
import functools
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate, chain, compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Awaitable, Callable, Generic, Iterator, TypeVar, Union
from urllib.parse import urlsplit

import httpx
import ijson
from ijson.backends import yajl2_c  # the C parser by name: never ijson's pure-Python fallback (far slower on a big answer)

from console.core.clock import Clock
from console.core.config import HttpSourceConfig
from console.core.model import SourceResult
from console.sources.base import MalformedAnswer, Source, SourceError, describe_error
from console.sources.bounded import answer_within, max_answer, read_answer
from console.sources.parsing import first_line

T = TypeVar("T")
R = TypeVar("R")
# a big answer's body as a parser gets it: whole, or the chunks that arrived (answer_items takes both)
Body = Union[bytes, list[bytes]]
Validate = Callable[[Any], list[Any]]

REDACTED = "[redacted]"
# A kept-alive connection the server closed (its idle timeout) just as a request went out on it: the
# request is sent again once, on a new connection. Every request a source makes is a read.
CLOSED_UNDER_US = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
RETRY_ONCE = (1, 2)


def ssl_verify(verify: bool | str, client_cert: tuple[str, str] | None = None) -> bool | ssl.SSLContext:
    """httpx's `verify`: True/False as given, a CA bundle path as an SSL context trusting only it;
    with a client certificate (cert, key), always a context that presents it."""
    if client_cert is None:
        return ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(*client_cert)
    return context


@functools.lru_cache(maxsize=8)
def shared_tls_context(verify: bool | str) -> ssl.SSLContext:
    """What httpx.AsyncClient(verify=...) would build, for connections made without httpx (the caches'
    transport, the HTTP probes): one per `verify` setting for the process, as loading a CA bundle costs
    ~20 ms of CPU."""
    if isinstance(verify, bool):
        return httpx.create_ssl_context(verify=verify)
    context = ssl_verify(verify)  # a CA bundle: trust only it
    assert isinstance(context, ssl.SSLContext)
    return context


def transport_timeout(timeout: float) -> float:
    """The client library's own timeout: a little under the source's, so the library gives up (and
    closes its socket cleanly) before fetch()'s wait_for cancels it; cancelling asyncio mid TLS
    handshake leaks the transport on Python 3.11. wait_for stays the backstop for the total."""
    return max(timeout - 0.25, timeout * 0.8)


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret value found in `text` (longest first, so no fragment survives)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def basic_credentials(username: str, password: str) -> str:
    """The value a Basic Authorization header carries: a secret in its own right (never in messages)."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()


async def gather_or_cancel(*calls: Awaitable[Any]) -> list[Any]:
    """asyncio.gather, but the first failure cancels the calls still running (none is left orphaned)."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()


class RedactingSource(Source[T], Generic[T]):
    """A source whose error messages are scrubbed of its secrets (defence in depth: a server may
    echo a request back, an exception may carry a header)."""

    def _secret_values(self) -> list[str]:
        return []

    async def fetch(self) -> SourceResult[T]:
        """Source.fetch, with this source's secrets scrubbed from the error message."""
        result = await super().fetch()
        if result.error:
            result = dataclasses.replace(result, error=redact(result.error, self._secret_values()))
        return result

    async def _guard(self, call: Awaitable[R]) -> R:
        """For the helpers later screens call directly: the fetch timeout, and every failure as one
        redacted SourceError (callers catch only that)."""
        try:
            async with asyncio.timeout(self.timeout):  # not wait_for: its task would start the call a loop turn later
                return await call
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one exception type for callers
            raise SourceError(redact(describe_error(exc, self.timeout), self._secret_values())) from exc


class HttpSource(RedactingSource[T], Generic[T]):
    """A source speaking HTTP(S) with httpx: one client per source, created on first use."""

    auth_hint = "check the credentials"  # what to check after a 401, in the config's words

    def __init__(self, config: HttpSourceConfig, clock: Clock) -> None:
        super().__init__(config.name, timeout=config.timeout, interval=config.interval, clock=clock)
        self.config = config
        self._http: httpx.AsyncClient | None = None

    # subclasses say how to authenticate and which headers every request carries
    def _auth(self) -> httpx.Auth | None:
        return None

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def _client_cert(self) -> tuple[str, str] | None:
        cert, key = getattr(self.config, "client_cert", None), getattr(self.config, "client_key", None)
        return (str(Path(cert).expanduser()), str(Path(key).expanduser())) if cert and key else None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.config.url,
                verify=ssl_verify(self.config.verify, self._client_cert()),
                timeout=transport_timeout(self.config.timeout),
                auth=self._auth(),
                headers=self._headers(),
                follow_redirects=False,  # a redirect would carry credentials elsewhere
            )
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool (the next fetch opens a new one)."""
        if self._http is not None:
            client, self._http = self._http, None
            await client.aclose()

    async def _sent(self, send: Callable[[], Awaitable[R]], answered: Callable[[], bool] = lambda: False) -> R:
        """`send()`, its connection and TLS failures as SourceError naming host:port. A read whose
        kept-alive connection the server closed under it goes again once, unless `answered()` says
        its answer had begun."""
        for attempt in RETRY_ONCE:
            try:
                return await send()
            except httpx.TimeoutException:
                raise  # describe_error says "timed out after Xs"
            except httpx.TransportError as exc:
                again = isinstance(exc, CLOSED_UNDER_US) and attempt < RETRY_ONCE[-1] and not answered()
                if not again:
                    raise SourceError(transport_failure(self.config.url, exc)) from exc
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request and read its answer within the bounds (see _exchange); its `content` is loaded."""
        response, _ = await self._exchange(method, path, keep_chunks=False, **kwargs)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request and decode its JSON answer, turning HTTP errors into SourceError."""
        response = await self._request(method, path, **kwargs)
        return answer_json(response, auth_hint=self.auth_hint)

    async def _request_chunks(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, list[bytes]]:
        """Send one request and read a 2xx answer's body as the chunks that arrived, never joined: httpx's
        `content` joins them, so a big body would be held twice (the chunks and their copy) at the
        refresh's peak; the parser frees each chunk once it is fed to ijson (answer_items). Any other
        answer's body is the response's `content`, for check_status and the callers that quote it (the
        chunks are then empty). Failures as _exchange."""
        return await self._exchange(method, path, keep_chunks=True, **kwargs)

    async def _exchange(self, method: str, path: str, *, keep_chunks: bool,
                        **kwargs: Any) -> tuple[httpx.Response, list[bytes]]:
        """One request, streamed, within the source's bounds (console/sources/bounded.py): the whole of it
        (connect, send, every byte of the answer) within the timeout, a 2xx body up to `max_answer_mib`
        (any other up to 64 KiB). The response is closed when this returns; see _sent for the retry."""
        async with answer_within(self.timeout) as progress:

            async def send() -> tuple[httpx.Response, list[bytes]]:
                async with self._client().stream(method, path, **kwargs) as response:
                    progress.head = True
                    return response, await read_answer(response, max_answer(self.config), keep_chunks=keep_chunks)

            return await self._sent(send, lambda: progress.head)

    async def _parsed(self, method: str, path: str, parse: Callable[[Body], R], **kwargs: Any) -> R:
        """Send one request and parse its (big) answer in a worker thread (see parsed_in_thread),
        handed over as its chunks (see _request_chunks)."""
        response, chunks = await self._request_chunks(method, path, **kwargs)
        return await parsed_in_thread(response, parse, auth_hint=self.auth_hint, chunks=chunks)


def transport_failure(url: str, exc: BaseException) -> str:
    """'cannot connect to host:port: connection refused' and the like, from any transport error
    (httpx or requests: the root cause is found by walking the exception chain)."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    chain = exception_chain(exc)
    text = " ".join(str(e) for e in chain)
    upper = text.upper()
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in upper or "CERTIFICATE" in upper:
        return f"TLS error talking to {where}: {tls_reason(text)}"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "REFUSED" in upper:
        return f"cannot connect to {where}: connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "NAME OR SERVICE NOT KNOWN" in upper:
        return f"cannot connect to {where}: host name not found"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return f"{where} closed the connection without a proper answer"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where}: {first_line(str(exc)) or type(exc).__name__}"
    return f"{type(exc).__name__} talking to {where}: {first_line(str(exc))}"


def exception_chain(exc: BaseException) -> list[BaseException]:
    """exc, its cause, the cause's cause... (context when there is no cause), without loops."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain) and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def tls_reason(text: str) -> str:
    """The useful part of an OpenSSL message, e.g. 'certificate verify failed: self-signed certificate'."""
    lowered = text.lower()
    marker = "certificate verify failed"
    if marker in lowered:
        rest = text[lowered.index(marker) :]
        return first_line(rest.split("(_ssl.c")[0]).rstrip(" ,:") or marker
    if "hostname mismatch" in lowered or "doesn't match" in lowered:
        return "the certificate does not match the host name"
    return first_line(text) or "handshake failed"


def answer_json(response: httpx.Response, *, auth_hint: str = "check the credentials") -> Any:
    """Decode a JSON answer, or raise SourceError saying what the status means to the operator."""
    check_status(response, auth_hint=auth_hint)
    try:
        return response.json()
    except ValueError as exc:
        raise not_json(str(exc)) from exc


def not_json(reason: str) -> MalformedAnswer:
    """The error of an answer that does not decode as JSON (its reason's first line, shortened)."""
    return MalformedAnswer(f"malformed answer: not JSON ({first_line(reason, 80)})")


# --- big answers, item by item (ijson) -----------------------------------------------------------

# Deeper than any answer of these APIs by far (they nest a few levels). ijson builds a path string per
# level for every value, so its memory grows with the square of the depth: one 200 kB answer nested
# 100,000 deep would take ~25 GB. json.loads stops near 1,000 (Python's recursion limit).
MAX_DEPTH = 512
FEED = 64 * 1024  # bytes handed to the parser at a time: bounds the events one step builds
_STEP = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}
_EVENT = itemgetter(0)
_TOP = (2).__gt__  # an event at depth 0 or 1: the answer's own value, its keys, the start of their values


def answer_items(content: Body, validate: Validate, key: str | None = None) -> Iterator[Any]:
    """Yield the items of the answer's list (the top-level list when `key` is None, else the list under
    `key` of the top-level object), decoded by ijson's C parser as the body is fed to it, one piece at a
    time: no whole-answer text or dict ever exists, and each item is handed out once built.

    `content` is the whole body or its chunks in order (a list of them is emptied as it is fed, so each
    chunk can be freed). `validate(payload)` is the caller's shape check on a whole payload: called
    (and expected to raise) when the answer is not the expected container, so a wrong-shape answer
    raises the caller's own message. For an answer that is not the expected container, `payload` is the
    whole answer; for a `key` that is not a list, `{key: value}` where an object value is given as {}
    (a shape check names the type only); without `key`, `{}`. With `key` repeated, the items of every
    occurrence are yielded. Invalid JSON anywhere raises MalformedAnswer "not JSON (...)", also after
    some items were yielded. The body is UTF-8 (RFC 8259; a BOM is allowed); NaN, Infinity and
    integers beyond 64 bits are not JSON either (json.loads would take them)."""
    try:
        yield from _answer_items(content, validate, key)
    except (ijson.JSONError, ValueError) as exc:  # ValueError: a value ijson's C code could not convert (never seen)
        reason = exc.args[0] if exc.args else exc
        raise not_json(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None


def _answer_items(content: Body, validate: Validate, key: str | None) -> Iterator[Any]:
    # Two parsers read each piece. `scan` makes bare events (cheap, and linear at any depth): they bound
    # the depth and say the answer's shape before `build` (ijson.items, in C) is given the piece.
    events, items = ijson.sendable_list(), ijson.sendable_list()
    scan = yajl2_c.basic_parse_coro(events, use_float=True)
    build: Any = None
    held: list[bytes] = []  # the pieces before the answer's first event (which says what `build` builds)
    shape = _Shape(key)
    depth = 0
    for piece in chain(_pieces(content), [None]):  # None: the end of the answer
        if piece is None:
            scan.close()  # raises when the answer is incomplete
        else:
            scan.send(piece)
        depths = list(accumulate(map(_STEP.get, map(_EVENT, events), repeat(0)), initial=depth))
        if max(depths) > MAX_DEPTH:
            raise MalformedAnswer(f"malformed answer: nested deeper than {MAX_DEPTH} levels")
        depth = depths[-1]
        for event, value in compress(events, map(_TOP, depths)):
            yield from shape.see(event, value, validate)
        events.clear()
        if build is None and shape.root is not None:
            prefix = ("item" if key is None else f"{key}.item") if shape.expected else ""  # "": the whole answer
            build = yajl2_c.items_coro(items, prefix, use_float=True)
            for kept in held:
                build.send(kept)
            held.clear()
        if piece is None:
            build.close()  # (there is one: scan.close() raised if the answer had no first event)
        elif build is None:
            held.append(piece)
        else:
            build.send(piece)
        if shape.expected:
            yield from items
            items.clear()
    if not shape.expected:
        yield from validate(items[0])  # the whole answer, as json.loads would give it
    elif not shape.found:
        yield from validate({})  # no `key` at all: the caller's message for a missing list


class _Shape:
    """Follows the answer's top-level events: is it the expected container, and `key` a list in it."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.root: str | None = None  # the answer's first event
        self.expected = True
        self.found = key is None  # the list was seen (a top-level list is it)
        self.name: str | None = None  # the top-level key whose value comes next

    def see(self, event: str, value: Any, validate: Validate) -> Iterator[Any]:
        """One event at depth 0 or 1; yields what `validate` returns when `key` is not a list."""
        if self.root is None:
            self.root = event
            self.expected = event == ("start_array" if self.key is None else "start_map")
        elif self.key is None or not self.expected:
            pass  # a top-level list has no keys; an unexpected answer is built whole and validated
        elif event == "map_key":
            if value == f"{self.key}.item":  # ijson's path for the list's items: its value would be one
                raise MalformedAnswer(f"malformed answer: unexpected key {self.key}.item")
            self.name = value
        elif self.name is not None:  # the first event of a top-level key's value
            if self.name == self.key:
                self.found = True
                if event != "start_array":  # not a list: the caller's message for it
                    yield from validate({self.key: {} if event == "start_map" else value})
            self.name = None


def _pieces(content: Body) -> Iterator[bytes]:
    """The body in pieces of at most FEED bytes, without a UTF-8 BOM at its start; a list of chunks
    is emptied as it goes."""
    head: bytes | None = b""
    for chunk in _drain(content) if isinstance(content, list) else iter((content,)):
        if head is not None:
            head += chunk  # (b"" + chunk is chunk: no copy)
            if len(head) < len(codecs.BOM_UTF8) and codecs.BOM_UTF8.startswith(head):
                continue  # maybe a BOM, cut by the chunk's end
            chunk, head = head.removeprefix(codecs.BOM_UTF8), None
        for start in range(0, len(chunk), FEED):
            yield chunk[start : start + FEED]
    if head:
        yield head  # the whole answer is a BOM's first bytes


def _drain(chunks: list[bytes]) -> Iterator[bytes]:
    """The list's chunks in order, each removed from the list as it is handed out."""
    chunks.reverse()  # popping from the end is O(1)
    while chunks:
        yield chunks.pop()


# ONE thread parses every big answer, one after the other: several parsing threads would take turns
# at the GIL with the event loop's thread, which would then wait for each of them in turn.
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsconsole-parse")


async def in_parser_thread(func: Callable[..., R], *args: Any) -> R:
    """`func(*args)` in the parser thread (pure Python work on big answers, off the event loop)."""
    return await asyncio.get_running_loop().run_in_executor(_PARSER, functools.partial(func, *args))


async def parsed_in_thread(
    response: httpx.Response,
    parse: Callable[[Body], R],
    *,
    auth_hint: str = "check the credentials",
    chunks: list[bytes] | None = None,
) -> R:
    """For a big answer: the status checked as answer_json does, then `parse(body)` in the parser thread,
    so decoding tens of MB never stalls the event loop (the UI's). The body is `chunks` when given (a
    streamed response's, see HttpSource._request_chunks: the list is handed over, the parser empties it),
    else `response.content`. `parse` raises MalformedAnswer on a bad body (answer_items decodes it
    item by item)."""
    check_status(response, auth_hint=auth_hint)
    return await in_parser_thread(parse, response.content if chunks is None else chunks)


def check_status(response: httpx.Response, *, auth_hint: str = "check the credentials") -> None:
    """Raise SourceError saying what a status other than 2xx means to the operator."""
    status = response.status_code
    if status == 401:
        raise SourceError(f"authentication failed (HTTP 401): {auth_hint}")
    if status == 403:
        raise SourceError(f"HTTP 403 Forbidden: the credentials lack permission{_detail(response)}")
    if 300 <= status < 400:
        raise SourceError(f"HTTP {status} {response.reason_phrase}: unexpected for this request (check the url)")
    if not 200 <= status < 300:
        detail = _detail(response)
        if detail.lstrip(": ").lower() == response.reason_phrase.lower():
            detail = ""  # "HTTP 500 Internal Server Error: Internal Server Error" says it twice
        raise SourceError(f"HTTP {status} {response.reason_phrase}".rstrip() + detail)


def _detail(response: httpx.Response) -> str:
    """A short reason the server gave: {"message"|"error"|"status": ...} in JSON, or a text/plain line
    (PuppetDB answers query errors that way). HTML error pages say nothing useful."""
    try:
        body = response.json()
    except ValueError:
        text = response.text if response.headers.get("content-type", "").startswith("text/plain") else ""
        return f": {first_line(text, 160)}" if text.strip() else ""
    if not isinstance(body, dict):
        return ""
    for key in ("message", "error", "status"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return f": {first_line(value, 160)}"
    return ""
