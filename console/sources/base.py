"""What every source has in common: timing, and turning every failure into an error value."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

import httpx

from console.core.clock import Clock, utc_now
from console.core.model import SourceResult

T = TypeVar("T")


class SourceError(Exception):
    """A failure a source explains in the operator's words (shown in the status bar)."""


class MalformedAnswer(SourceError):
    """The backend answered, but not in the shape its API documents."""


class Source(ABC, Generic[T]):
    """One configured backend instance. `fetch()` never raises; failures come back as error values."""

    kind: str = ""

    def __init__(self, name: str, *, timeout: float, interval: float, clock: Clock = utc_now) -> None:
        self.name = name
        self.timeout = timeout
        self.interval = interval
        self.clock = clock
        self.timer = time.monotonic  # replaceable so snapshot tests show a stable latency

    async def fetch(self) -> SourceResult[T]:
        started = self.timer()
        data: T | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.timeout):
                data = await self._fetch()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a value the UI shows
            error = describe_error(exc, self.timeout)
        latency_ms = (self.timer() - started) * 1000
        return SourceResult(
            source=self.name, kind=self.kind, fetched_at=self.clock(), latency_ms=latency_ms, data=data, error=error
        )

    @abstractmethod
    async def _fetch(self) -> T:
        """Fetch and parse one snapshot; raise on any failure."""

    async def aclose(self) -> None:
        """Release connections. Sources without any keep the default."""


def describe_error(exc: BaseException, timeout: float) -> str:
    """One line an operator understands, never containing a secret (no URLs with credentials, no headers)."""
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, SourceError):
        return str(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".rstrip()
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError) or "CERTIFICATE" in str(exc).upper():
            return f"TLS error: {_first_line(exc)}"
        return f"connection failed: {_first_line(exc)}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {_first_line(exc)}"
    if isinstance(exc, (json.JSONDecodeError, ValueError, KeyError, TypeError)):
        return f"malformed answer: {type(exc).__name__}: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
