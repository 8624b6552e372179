"""Every answer bounded in bytes and in time: what the HTTP clients of sources/ and actions/ share.

- `read_capped` keeps a body's chunks up to a cap: a 2xx answer over `max_answer_mib` fails ("answer
  larger than 160 MiB"); any other answer is read at most ERROR_BODY_MAX bytes (enough to quote it);
  `read_capped_sync` is the same for a blocking client, checking a deadline after every chunk.
- `answer_within(timeout)` is an asyncio.timeout around the whole request (connect, send, the full
  body): the deadline before the answer's head is an httpx timeout ("timed out after 5s", as before);
  after it, the body did not complete in time ("no complete answer in 5 s").
- `read_answer` reads a streamed httpx response that way (into its `content`, or as chunks for the
  parsers); `bounded_request` is one whole request through an httpx.AsyncClient (`client.stream`).
- `in_daemon_thread` runs a blocking call (proxmoxer) in a daemon thread of its own, never in the
  default executor: a stuck call holds neither `asyncio.run`'s shutdown nor the interpreter's exit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterable, AsyncIterator, Callable, Iterable, TypeVar

import httpx

from console.core.config import DEFAULT_MAX_ANSWER_MIB, SourceConfig
from console.sources.base import SourceError

R = TypeVar("R")

MIB = 1024 * 1024
DEFAULT_MAX_ANSWER = DEFAULT_MAX_ANSWER_MIB * MIB  # clients without a source config (caches, depool, Salt, GELF)
ERROR_BODY_MAX = 64 * 1024  # of an answer other than 2xx: what is read to quote it; the rest is left unread


class AnswerBound(SourceError, httpx.HTTPError):
    """An answer over its bounds. A SourceError (its message is the operator's) and an httpx.HTTPError
    (every `except httpx.HTTPError` of the action clients takes it as a failed request)."""


class AnswerTooLarge(AnswerBound):
    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {size_text(limit)}")


class AnswerTooSlow(AnswerBound):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"no complete answer in {timeout:g} s")


def size_text(limit: int) -> str:
    return f"{limit / MIB:g} MiB" if limit >= MIB else f"{limit / 1024:g} KiB"


def max_answer(config: SourceConfig) -> int:
    """A source's cap in bytes (its `max_answer_mib`)."""
    return config.max_answer_mib * MIB


def answer_deadline(timeout: float) -> float:
    """The seconds a whole request gets: a little under the caller's `timeout` (a source's fetch, a
    helper's _guard), so the request's own deadline fires first and says which bound it was; and over
    transport_timeout(timeout), so the client library gives up first on a connect or TLS handshake."""
    return max(timeout - 0.2, timeout * 0.85)


class Capped:
    """The chunks of a body as they arrive, at most `limit` bytes: over it, AnswerTooLarge; with
    `truncate`, the first `limit` bytes are kept and `add` says to stop reading."""

    def __init__(self, limit: int, *, truncate: bool = False) -> None:
        self.limit = limit
        self.truncate = truncate
        self.chunks: list[bytes] = []
        self.size = 0
        self.complete = True  # False once truncated: the rest of the body was not read

    def add(self, chunk: bytes) -> bool:
        """Keep `chunk`; False when nothing more is to be read (truncating, the limit is reached)."""
        room = self.limit - self.size
        if len(chunk) > room and not self.truncate:
            raise AnswerTooLarge(self.limit)
        if chunk[:room]:
            self.chunks.append(chunk[:room])
            self.size += len(self.chunks[-1])
        if self.truncate and self.size >= self.limit:
            self.complete = False  # the rest, if any, is left unread
        return self.complete


async def read_capped(body: AsyncIterable[bytes], limit: int, *, truncate: bool = False) -> Capped:
    """Read `body` (an httpx response's aiter_bytes, an h11 connection's data) within `limit` (see Capped)."""
    kept = Capped(limit, truncate=truncate)
    iterator = body.__aiter__()
    try:
        async for chunk in iterator:
            if not kept.add(chunk):
                break
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
    return kept


def read_capped_sync(body: Iterable[bytes], limit: int, *, deadline: float, timeout: float,
                     truncate: bool = False) -> Capped:
    """`read_capped` for a blocking client: also AnswerTooSlow once `deadline` (time.monotonic) has
    passed, checked after every chunk (the client's socket timeout bounds the wait for one)."""
    kept = Capped(limit, truncate=truncate)
    for chunk in body:
        if not kept.add(chunk):
            break
        if time.monotonic() > deadline:
            raise AnswerTooSlow(timeout)
    return kept


@dataclass
class Progress:
    head: bool = False  # the answer's status line and headers have arrived


@asynccontextmanager
async def answer_within(timeout: float) -> AsyncIterator[Progress]:
    """The whole request within answer_deadline(timeout); the caller sets `progress.head` once the
    answer's head is in. Past the deadline: httpx.TimeoutException before the head, AnswerTooSlow after."""
    progress = Progress()
    try:
        async with asyncio.timeout(answer_deadline(timeout)):
            yield progress
    except TimeoutError:
        if progress.head:
            raise AnswerTooSlow(timeout) from None
        raise httpx.TimeoutException(f"no answer within {timeout:g}s") from None


async def read_answer(response: httpx.Response, max_bytes: int, *, keep_chunks: bool = False) -> list[bytes]:
    """Read a streamed httpx response within its cap: a 2xx body up to `max_bytes`, any other up to
    ERROR_BODY_MAX. The body becomes the response's `content`, except a 2xx one with `keep_chunks`:
    its chunks are returned, never joined (a big answer is then not held twice; see answer_items)."""
    success = response.is_success
    kept = await read_capped(response.aiter_bytes(), max_bytes if success else ERROR_BODY_MAX, truncate=not success)
    if success and keep_chunks:
        return kept.chunks
    # what Response.aread() would have done, within the cap (httpx has no public setter for it)
    response._content = b"".join(kept.chunks)
    return []


async def bounded_request(client: httpx.AsyncClient, method: str, url: str, *, max_bytes: int, deadline: float,
                          **kwargs: Any) -> httpx.Response:
    """One request within `deadline` seconds (answer_within) and `max_bytes` (read_answer); the
    response is closed and its `content` loaded. `kwargs` go to `client.stream`."""
    async with answer_within(deadline) as progress:
        async with client.stream(method, url, **kwargs) as response:
            progress.head = True
            await read_answer(response, max_bytes)
    return response


async def in_daemon_thread(func: Callable[..., R], *args: Any, name: str = "opsconsole-call") -> R:
    """`func(*args)` in a new daemon thread; the caller bounds the wait (asyncio.timeout) and may stop
    waiting at any time: the thread then ends on its own (its own deadline), its outcome dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[R] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the caller stopped waiting (cancelled, or its deadline)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = func(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task, whatever it is
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future
