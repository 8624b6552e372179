"""Who sends a plan's requests: one executor per cache (plain HTTP PURGE/BAN/GET), one per Icinga
source (POST /v1/actions/... with Basic auth). Every write checks the session first, so a read-only
session cannot send one even if something skipped the guard."""

from __future__ import annotations

import functools
import ssl
import string
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from console import __version__
from console.actions.catalog import MAX_URLS
from console.actions.guard import Session
from console.actions.plan import HttpRequest, Step
from console.core.config import CacheConfig, IcingaConfig
from console.sources.bounded import DEFAULT_MAX_ANSWER, AnswerBound, bounded_request, max_answer
from console.sources.httpclient import (
    basic_credentials,
    redact,
    shared_tls_context,
    ssl_verify,
    transport_failure,
    transport_timeout,
)
from console.sources.parsing import first_line

# what a step's outcome can be
OK, SKIPPED, REFUSED, DOWN, FAILED, UNVERIFIED = "ok", "skipped", "refused", "down", "failed", "unverified"
GOOD = (OK, SKIPPED)
USER_AGENT = f"opsconsole/{__version__}"  # in the caches' logs: who purged


@dataclass(frozen=True)
class CacheCheck:
    """What a GET through one cache said: HTTP status, hit or miss, and the object's age."""

    status: int | None
    hit: bool | None
    age: int | None
    x_cache: str | None = None
    x_varnish: str | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        if self.error:
            return self.error
        word = {True: "HIT", False: "MISS", None: "?"}[self.hit]
        age = f" age {self.age}" if self.age is not None else ""
        return f"{self.status} {word}{age}"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "hit": self.hit, "age": self.age, "x_cache": self.x_cache,
                "x_varnish": self.x_varnish, "error": self.error}


@dataclass(frozen=True)
class Sent:
    """The answer to one write: outcome, HTTP status, and a one-line detail for the operator."""

    status: str
    http_status: int | None
    detail: str


def cache_hit(headers: httpx.Headers | dict[str, str]) -> bool | None:
    """Hit or miss from `X-Cache` (its last hop: the cache we asked), else `X-Varnish` (two ids = hit)."""
    x_cache = headers.get("x-cache")
    if x_cache:
        last = x_cache.split(",")[-1].lower()
        if "hit" in last:
            return True
        if "miss" in last or "pass" in last:
            return False
    x_varnish = headers.get("x-varnish")
    if x_varnish:
        ids = x_varnish.split()
        if len(ids) in (1, 2) and all(i.isdigit() for i in ids):
            return len(ids) == 2
    return None


def cache_age(headers: httpx.Headers | dict[str, str]) -> int | None:
    value = (headers.get("age") or "").strip()
    return int(value) if value.isdigit() else None


class Executor(ABC):
    """Sends steps of one executor name. `write` is the only way to a non-read request."""

    name: str = ""

    def __init__(self, session: Session, timeout: float) -> None:
        self.session = session
        self.timeout = timeout  # the whole of one request: connect, send, every byte of the answer
        self.max_answer = DEFAULT_MAX_ANSWER  # bytes of a 2xx answer (others: 64 KiB); a bigger one fails

    def _secrets(self) -> list[str]:
        return []

    @abstractmethod
    async def _send(self, request: HttpRequest) -> httpx.Response:
        """Send one request to the target; its answer, read within the bounds (console/sources/bounded.py)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the connections."""

    async def read(self, request: HttpRequest) -> httpx.Response:
        """A request that changes nothing (verify GET, Icinga object query)."""
        return await self._send(request)

    async def write(self, request: HttpRequest) -> httpx.Response:
        """A request that changes something: refused (ReadOnlySession) unless the session is read-write."""
        self.session.require_writable()
        return await self._send(request)

    def describe(self, exc: BaseException, url: str) -> tuple[str, str]:
        """(outcome, message) for a failed request: DOWN for connection problems, FAILED otherwise."""
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            return DOWN, f"timed out after {self.timeout:g}s"
        if isinstance(exc, AnswerBound):  # "answer larger than 160 MiB", "no complete answer in 5 s"
            return FAILED, str(exc)
        if isinstance(exc, httpx.TransportError):
            return DOWN, redact(transport_failure(url, exc), self._secrets())
        return FAILED, redact(f"{type(exc).__name__}: {first_line(str(exc))}", self._secrets())


class ClientExecutor(Executor):
    """An executor that sends through an httpx.AsyncClient (TLS, auth and timeouts of its target)."""

    def __init__(self, session: Session, timeout: float) -> None:
        super().__init__(session, timeout)
        self._http: httpx.AsyncClient | None = None

    @abstractmethod
    def _make_client(self) -> httpx.AsyncClient:
        """The HTTP client this executor sends through."""

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = self._make_client()
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            client, self._http = self._http, None
            await client.aclose()

    async def _send(self, request: HttpRequest) -> httpx.Response:
        kwargs: dict[str, Any] = {"headers": request.header_dict()}
        if request.body is not None:
            kwargs["json"] = request.body
        return await bounded_request(self._client(), request.method, request.url, max_bytes=self.max_answer,
                                     deadline=self.timeout, **kwargs)


# A purge sends each URL to every cache at once: a connection per request in flight, up to the most
# URLs a purge may name. None is kept afterwards: httpcore's pool re-checks every connection it holds
# whenever a request starts or ends, so idle ones kept for the verify GETs cost more CPU than opening
# new ones, and in a purge of many URLs enough time for requests to time out.
CACHE_LIMITS = httpx.Limits(max_connections=MAX_URLS, max_keepalive_connections=0)
# A cookie a cache sets is never sent back: a Cookie header can make the verify GET bypass the cache.
NO_COOKIES = DefaultCookiePolicy(allowed_domains=[])


def request_target(url: str) -> bytes:
    """The request line's target of a cache request: the URL's path and query byte for byte, as
    catalog.normalise_url made them (`%2F` stays `%2F`, dot segments stay), where httpx.URL would drop
    dot segments and escape `"`, `<`, `>`, `{`, `}` and backquotes. Only what a request line cannot
    carry is escaped: a character beyond ASCII as its UTF-8 bytes (`/wiki/Äpfel` goes as
    `/wiki/%C3%84pfel`, as a browser and MediaWiki send it, so the cache's key matches)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return quote(target, safe=string.punctuation).encode("ascii")


def cache_tls(url: str, verify: bool | str) -> ssl.SSLContext:
    """The TLS context of a cache's connections. Loading a CA bundle costs ~20 ms of CPU (measured: 75 ms
    of a 4-cache purge when each cache loaded its own), so a plain-HTTP cache loads none, and HTTPS
    caches share one context per `verify` setting for the life of the process."""
    if httpx.URL(url).scheme == "http":
        return _unused_tls()
    return shared_tls_context(verify)


@functools.lru_cache(maxsize=1)
def _unused_tls() -> ssl.SSLContext:
    """Plain-HTTP caches' context: never used (redirects are not followed); were it used, it would
    verify and trust nothing. One for the process (~0.2 ms each, on a purge's critical path)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class CacheExecutor(ClientExecutor):
    """One Varnish cache: PURGE, BAN and the verify GET go to its address with the site's Host header,
    through one httpx.AsyncClient per cache (see _make_client)."""

    def __init__(self, cache: CacheConfig, session: Session) -> None:
        super().__init__(session, cache.timeout)
        self.cache = cache
        self.name = f"cache:{cache.name}"

    def _make_client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            verify=cache_tls(self.cache.url, self.cache.verify),
            timeout=transport_timeout(self.timeout),
            limits=CACHE_LIMITS,
            trust_env=False,  # straight to the cache: a proxy in the environment must not carry a PURGE
            follow_redirects=False,
            cookies=CookieJar(NO_COOKIES),
            headers={"User-Agent": USER_AGENT},
        )  # fmt: skip
        del client.headers["Accept-Encoding"]  # the verify GET takes the object as stored for plain clients: nothing to decode
        return client

    async def _send(self, request: HttpRequest) -> httpx.Response:
        # the request line carries the plan's path and query as they are, not as httpx.URL rewrites them
        return await bounded_request(self._client(), request.method, request.url, max_bytes=self.max_answer,
                                     deadline=self.timeout, headers=request.header_dict(),
                                     extensions={"target": request_target(request.url)})

    async def execute(self, step: Step) -> Sent:
        """PURGE or BAN: 2xx = ok, 405/403 = refused by the cache's ACL, no answer = down."""
        started = time.monotonic()
        try:
            response = await self.write(step.http_request)
        except (httpx.HTTPError, OSError) as exc:
            status, message = self.describe(exc, self.cache.url)
            return Sent(status, None, message)
        took = f"{(time.monotonic() - started) * 1000:.0f} ms"
        reason = response.reason_phrase or ""
        if 200 <= response.status_code < 300:
            return Sent(OK, response.status_code, f"{response.status_code} {reason}".strip() + f" in {took}")
        if response.status_code in (403, 405):
            return Sent(REFUSED, response.status_code, f"refused: {response.status_code} {reason}".strip())
        return Sent(FAILED, response.status_code, f"HTTP {response.status_code} {reason}".strip())

    async def verify(self, step: Step) -> CacheCheck:
        """GET through this cache: status, hit or miss, Age."""
        assert step.verify is not None
        try:
            response = await self.read(step.verify)
        except (httpx.HTTPError, OSError) as exc:
            return CacheCheck(None, None, None, error=self.describe(exc, self.cache.url)[1])
        headers = response.headers
        return CacheCheck(response.status_code, cache_hit(headers), cache_age(headers), headers.get("x-cache"),
                          headers.get("x-varnish"))


class IcingaExecutor(ClientExecutor):
    """One Icinga2 API: re-reads an object's state, then POSTs /v1/actions/<action>."""

    def __init__(self, config: IcingaConfig, session: Session, timeout: float) -> None:
        super().__init__(session, timeout)
        self.config = config
        self.name = f"icinga:{config.name}"
        self.max_answer = max_answer(config)  # the source's max_answer_mib

    def _secrets(self) -> list[str]:
        password = self.config.password.reveal()
        return [password, basic_credentials(self.config.username, password)]

    def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            verify=ssl_verify(self.config.verify), timeout=transport_timeout(self.timeout), follow_redirects=False,
            auth=httpx.BasicAuth(self.config.username, self.config.password.reveal()),
        )  # fmt: skip

    async def precheck(self, step: Step) -> Sent | None:
        """Re-read the target right before acting. None = go on; a Sent = skip (or fail) with why."""
        if step.precheck is None:
            return None
        try:
            response = await self.read(step.precheck)
        except (httpx.HTTPError, OSError) as exc:
            status, message = self.describe(exc, self.config.url)
            return Sent(status, None, f"cannot re-read the state: {message}")
        if response.status_code == 401:
            return Sent(FAILED, 401, "authentication failed (HTTP 401): check the Icinga API user's password")
        results = _results(response)
        if response.status_code == 404 or (response.status_code == 200 and results == []):
            if step.kind == "remove-downtime":
                return Sent(SKIPPED, response.status_code, "no downtime to remove")
            return Sent(FAILED, response.status_code, f"{step.target} does not exist in Icinga")
        if response.status_code != 200 or results is None:
            return Sent(FAILED, response.status_code, f"cannot re-read the state: HTTP {response.status_code}")
        return _judge(step, results)

    async def execute(self, step: Step) -> Sent:
        """POST the action; each result's `code` says whether it worked (409: nothing to do)."""
        try:
            response = await self.write(step.http_request)
        except (httpx.HTTPError, OSError) as exc:
            status, message = self.describe(exc, self.config.url)
            return Sent(status, None, message)
        if response.status_code == 401:
            return Sent(FAILED, 401, "authentication failed (HTTP 401): check the Icinga API user's password")
        if response.status_code == 403:
            return Sent(REFUSED, 403, "refused: the Icinga API user lacks the permission for this action (HTTP 403)")
        results = _results(response) or []
        messages = [redact(first_line(str(r.get("status", "")), 200), self._secrets()) for r in results if isinstance(r, dict)]
        codes = [_code(r) for r in results if isinstance(r, dict)]
        detail = "; ".join(m for m in messages if m) or f"HTTP {response.status_code}"
        if codes and all(200 <= c < 300 for c in codes):
            return Sent(OK, response.status_code, detail)
        if codes and all(c == 409 for c in codes):
            return Sent(SKIPPED, response.status_code, detail)
        return Sent(FAILED, response.status_code, detail)


def _code(result: dict[str, Any]) -> int:
    try:
        return int(float(result.get("code", 0)))
    except (TypeError, ValueError):
        return 0


def _results(response: httpx.Response) -> list[Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    results = body.get("results") if isinstance(body, dict) else None
    return results if isinstance(results, list) else None


def _flag(attrs: dict[str, Any], name: str) -> float:
    try:
        return float(attrs.get(name) or 0)
    except (TypeError, ValueError):
        return 0.0


def _judge(step: Step, results: list[Any]) -> Sent | None:
    """Whether the re-read state still calls for the step (the alert is still there, and so on)."""
    attrs = results[0].get("attrs", {}) if isinstance(results[0], dict) else {}
    problem = _flag(attrs, "state") != 0
    acknowledged = _flag(attrs, "acknowledgement") != 0
    if step.kind == "acknowledge-problem":
        if not problem:
            return Sent(SKIPPED, 200, f"{step.target} is no longer a problem (OK/UP now): nothing to acknowledge")
        if acknowledged:
            return Sent(SKIPPED, 200, f"{step.target} is already acknowledged")
    if step.kind == "remove-acknowledgement" and not acknowledged:
        return Sent(SKIPPED, 200, f"{step.target} is not acknowledged")
    return None
