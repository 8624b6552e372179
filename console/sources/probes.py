"""Service probes: the console checks the services itself — HTTP, TCP, Redis, Memcached, DNS SOA —
for what Icinga does not cover, and so the Services pane still says something when Icinga is down.

One Source ("probes"). Its first fetch runs every probe; from then on each probe runs once per
`interval` at its own turn in it: the probes are dealt into up to PROBE_GROUPS groups, the source is
fetched once a turn (interval / groups), and each fetch runs the probes whose time has come and
returns the latest result of every probe. Each probe runs under its own timeout; a failed probe is a
result (ok=False, the reason in words), never an exception. The clients are libraries — httpx,
redis-py, dnspython — except memcached's `stats`, one line of its text protocol. No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import ssl
import sys
import time
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx

from console import __version__
from console.core.clock import Clock, utc_now
from console.core.config import (
    DnsProbeConfig,
    HttpProbeConfig,
    MemcachedProbeConfig,
    ProbeBase,
    ProbeConfig,
    RedisProbeConfig,
    ServiceConfig,
    TcpProbeConfig,
)
from console.core.model import ProbeResult, ProbeSnapshot
from console.sources.base import MalformedAnswer, Source, SourceError, describe_error
from console.sources.bounded import answer_within, read_capped
from console.sources.httpclient import redact, shared_tls_context, transport_timeout

if TYPE_CHECKING:
    import dns.message

PROBE_INTERVAL = 30.0  # seconds between two runs of one probe
PROBE_GROUPS = 6  # the interval's turns: a group of probes runs at each (every 5 s at 30 s)
MAX_LINE = 64 * 1024  # a Memcached answer line longer than this is not an answer we understand
MAX_BODY = 1024 * 1024  # of an HTTP probe's answer, what is searched for `contains`
USER_AGENT = f"opsconsole/{__version__}"  # in the services' access logs: who probes
# imported before a probe's deadline starts (its timeout measures the network, not an import)
LIBRARIES = {"redis": "redis.asyncio", "dns": "dns.asyncquery"}


class ProbeFailed(SourceError):
    """The target answered, but not healthily (the message says how)."""


def probe_label(probe: ProbeBase) -> str:
    """The probe's `name`, else a short one from its target: "api.php", "10.0.0.1:3306", "SOA wikitide.net"."""
    if probe.name:
        return probe.name
    if isinstance(probe, HttpProbeConfig):
        parts = urlsplit(probe.url)
        last = [segment for segment in parts.path.split("/") if segment]
        return last[-1] if last else parts.hostname or probe.url
    if isinstance(probe, RedisProbeConfig):
        return f"redis {probe.host}:{probe.port}"
    if isinstance(probe, MemcachedProbeConfig):
        return f"memcached {probe.host}:{probe.port}"
    if isinstance(probe, DnsProbeConfig):
        return f"SOA {probe.zone}"
    assert isinstance(probe, TcpProbeConfig)
    return f"{probe.host}:{probe.port}"


def describe_probe_error(exc: BaseException, timeout: float) -> str:
    """Why a probe failed, in a few words (connection refused, timed out, TLS, name resolution)."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, SourceError):
        return str(exc)
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {getattr(cause, 'reason', None) or cause}"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return describe_error(exc, timeout)


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, what caused it, and so on; with the members of an exception group among them (httpx, through
    anyio, says "All connection attempts failed" over one error per address it tried)."""
    seen: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        following = current.__cause__ or current.__context__
        if following is not None:
            pending.append(following)
    return seen


class ProbesSource(Source[ProbeSnapshot]):
    """Every probe of every configured service, each once per `interval` seconds (the argument) at its
    own turn in it; one entry in the status bar. The source is polled once a turn: its own `interval`
    is the argument's divided by `groups` (see the module's docstring)."""

    kind = "probes"

    def __init__(self, services: list[ServiceConfig], clock: Clock = utc_now, *, name: str = "probes",
                 interval: float = PROBE_INTERVAL) -> None:
        self.probes = [(service.name, probe) for service in services for probe in service.probes]
        self.groups = max(1, min(len(self.probes), PROBE_GROUPS))
        longest = max((probe.timeout for _, probe in self.probes), default=3.0)
        # polled once a turn; each probe has its own timeout, the fetch's covers the slowest
        super().__init__(name, timeout=longest + 2.0, interval=interval / self.groups, clock=clock)
        self.turn_clock: Callable[[], float] = time.monotonic  # the turns' (self.timer times the latencies)
        self._due: list[float] = []  # when each probe runs next (turn_clock); empty until a first round ended
        self._latest: dict[int, ProbeResult] = {}  # by the probe's index in self.probes
        self._http: dict[bool | str, httpx.AsyncClient] = {}

    @property
    def every(self) -> float:
        """Seconds between two runs of one probe: a turn (the source's interval) per group."""
        return self.interval * self.groups

    async def _fetch(self) -> ProbeSnapshot:
        now = self.turn_clock()
        soon = now + self.interval / 2  # a poll a little early (timer jitter) still takes the turn due
        first = not self._due
        turn = range(len(self.probes)) if first else [i for i, due in enumerate(self._due) if due <= soon]
        results = await asyncio.gather(*(self.run(*self.probes[i]) for i in turn))
        if first:  # every probe ran now (a whole picture at once); from now on each at its group's turn
            self._due = [now + (i % self.groups + 1) * self.interval for i in range(len(self.probes))]
        else:
            for i in turn:
                while self._due[i] <= soon:  # a pause skips the turns missed, each probe keeps its place
                    self._due[i] += self.every
        self._latest.update(zip(turn, results, strict=True))
        return ProbeSnapshot(tuple(self._latest[i] for i in sorted(self._latest)))

    async def run(self, service: str, probe: ProbeConfig) -> ProbeResult:
        """One probe now, under its own timeout; never raises (except cancellation)."""
        label = probe_label(probe)
        started = self.timer()
        try:
            library = LIBRARIES.get(probe.kind)
            if library is not None and library not in sys.modules:  # once: ~50 ms (redis), ~30 ms (dns)
                await asyncio.to_thread(importlib.import_module, library)  # off the UI's loop
                started = self.timer()
            async with asyncio.timeout(probe.timeout):
                detail = await self._probe(probe)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is a result the pane shows
            message = describe_probe_error(exc, probe.timeout)
            if isinstance(probe, RedisProbeConfig) and probe.password is not None:
                message = redact(message, [probe.password.reveal()])
            return ProbeResult(service, label, probe.kind, False, None, message)
        latency_ms = (self.timer() - started) * 1000
        return ProbeResult(service, label, probe.kind, True, latency_ms, f"{detail} {latency_ms:.0f} ms" if detail else "")

    async def _probe(self, probe: ProbeBase) -> str:
        """The healthy answer in a word or two ("HTTP 200", "PONG", "SOA 2026112501"); raise otherwise."""
        if isinstance(probe, HttpProbeConfig):
            return await self._http_probe(probe)
        if isinstance(probe, RedisProbeConfig):
            password = probe.password.reveal() if probe.password else None
            return await redis_ping(probe.host, probe.port, password, probe.timeout)
        if isinstance(probe, MemcachedProbeConfig):
            return memcached_summary(await memcached_stats(probe.host, probe.port))
        if isinstance(probe, DnsProbeConfig):
            return f"SOA {await soa_serial(probe.server, probe.port, probe.zone, probe.timeout)}"
        assert isinstance(probe, TcpProbeConfig)
        return await tcp_connect(probe.host, probe.port)

    # --- HTTP, through httpx ------------------------------------------------------------------------

    def _client(self, verify: bool | str) -> httpx.AsyncClient:
        """One client per `verify` setting, kept: its TLS context (shared_tls_context) is made once. It
        keeps no connection alive — each probe opens its own, so a server that stopped accepting new
        connections fails its probe — and no cookie (a load balancer's would pin the next probe)."""
        client = self._http.get(verify)
        if client is None:
            client = self._http[verify] = httpx.AsyncClient(
                verify=shared_tls_context(verify),
                trust_env=False,  # a proxy in the environment must not carry a probe
                follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
                cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # a jar that keeps none
                headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity", "Connection": "close"},
            )
        return client

    async def _http_probe(self, probe: HttpProbeConfig) -> str:
        """GET `url`, redirects not followed: the status, and the body (its first MAX_BODY bytes) only
        when `contains` asks. The whole exchange within the probe's timeout (bounded.answer_within): a
        body still trickling in then is "no complete answer in N s"."""
        client = self._client(probe.verify if urlsplit(probe.url).scheme == "https" else False)
        headers = {"Host": probe.host_header} if probe.host_header else None
        try:
            async with answer_within(probe.timeout) as progress:
                async with client.stream("GET", probe.url, headers=headers,
                                         timeout=transport_timeout(probe.timeout)) as response:
                    progress.head = True
                    body = ""
                    if probe.contains is not None:  # what is searched is held (MAX_BODY): the rest is not read
                        kept = await read_capped(response.aiter_bytes(), MAX_BODY, truncate=True)
                        body = b"".join(kept.chunks).decode(response.encoding or "utf-8", "replace")
        except httpx.RemoteProtocolError as exc:
            if "Server disconnected without sending a response" in str(exc):
                raise ProbeFailed("the server closed the connection without an answer") from exc
            raise ProbeFailed(f"not an HTTP answer ({exc})") from exc
        return http_verdict(response.status_code, body, probe.expect, probe.contains)

    async def aclose(self) -> None:
        """Close the HTTP clients (they hold no connection between probes; the next round makes new ones)."""
        clients, self._http = list(self._http.values()), {}
        for client in clients:
            await client.aclose()


def http_verdict(status: int, body: str, expect: tuple[int, ...], contains: str | None) -> str:
    if status not in expect:
        raise ProbeFailed(f"HTTP {status}")
    if contains is not None and contains not in body:
        raise ProbeFailed(f"HTTP {status}, no {contains!r} in the body")
    return f"HTTP {status}"


# --- Redis, through redis-py --------------------------------------------------------------------------


async def redis_ping(host: str, port: int, password: str | None, timeout: float) -> str:
    """AUTH (when a password is given), then PING, on a connection of its own: "PONG", or ProbeFailed
    with Redis's own error."""
    from redis import exceptions
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    client = Redis(
        host=host, port=port, password=password,
        socket_timeout=transport_timeout(timeout), socket_connect_timeout=transport_timeout(timeout),
        protocol=2,  # RESP2: AUTH and PING, as redis-cli sends them (RESP3's HELLO needs Redis 6)
        driver_info=None,  # no CLIENT SETINFO before the PING
        retry=Retry(NoBackoff(), 0),  # a probe says what it met, once
        single_connection_client=True,
    )
    try:
        async with client:
            pong = await client.ping()
    except exceptions.TimeoutError as exc:
        raise TimeoutError(str(exc)) from exc  # "timed out after Ns"
    except exceptions.AuthenticationError as exc:
        if password is None:
            raise ProbeFailed("needs a password (NOAUTH); set the probe's password") from exc
        raise ProbeFailed(f"AUTH refused: {_redis_error(exc)}") from exc
    except exceptions.InvalidResponse as exc:
        raise MalformedAnswer(f"not a Redis answer ({str(exc)[:80]})") from exc
    except exceptions.RedisError as exc:
        if isinstance(exc, exceptions.ResponseError) or getattr(exc, "status_code", None):  # an error reply
            raise ProbeFailed(f"Redis error: {_redis_error(exc)}") from exc
        raise  # a connection that failed: describe_probe_error says how
    if pong is not True:
        raise MalformedAnswer("not a PING answer")
    return "PONG"


def _redis_error(exc: Exception) -> str:
    """Redis's error reply as it came: "WRONGPASS invalid username-password pair ...", "LOADING ..."."""
    code = getattr(exc, "status_code", None)  # redis-py takes the code off the message
    return (f"{code} {exc}" if code else str(exc))[:120]


# --- DNS: a SOA query over UDP, through dnspython -----------------------------------------------------


async def soa_serial(server: str, port: int, zone: str, timeout: float) -> int:
    """The serial of `zone`'s SOA, asked of `server`:`port` over UDP without recursion (the
    authoritative server is asked)."""
    import dns.asyncbackend
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.inet
    import dns.message
    import dns.query
    import dns.rdatatype

    if dns.inet.is_address(server):
        family, where = dns.inet.af_for_address(server), server
    else:
        found = await asyncio.get_running_loop().getaddrinfo(server, port, type=socket.SOCK_DGRAM)
        family, where = found[0][0], str(found[0][4][0])
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    query.flags &= ~dns.flags.RD
    # a connected socket: an ICMP "port unreachable" then comes back as "connection refused", not a
    # timeout (dnspython's backend API has no annotations)
    backend = dns.asyncbackend.get_backend("asyncio")
    sock = await backend.make_socket(family, socket.SOCK_DGRAM, 0, None, (where, port))  # type: ignore[no-untyped-call]
    try:
        async with sock:
            answer = await dns.asyncquery.udp(query, where, timeout=transport_timeout(timeout), port=port, sock=sock)
    except dns.exception.Timeout as exc:
        raise TimeoutError(str(exc)) from exc  # "timed out after Ns"
    except dns.query.BadResponse as exc:
        raise MalformedAnswer("not the answer to our query") from exc
    except dns.exception.DNSException as exc:
        raise MalformedAnswer(f"not a DNS answer ({exc})") from exc
    return answer_serial(answer, zone)


def answer_serial(answer: dns.message.Message, zone: str) -> int:
    """The serial of `zone`'s SOA record in a DNS answer; ProbeFailed for an error code, no record."""
    import dns.flags
    import dns.name
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rdtypes.ANY.SOA

    rcode = answer.rcode()
    if rcode != dns.rcode.NOERROR:
        raise ProbeFailed(f"DNS {dns.rcode.to_text(rcode)} for {zone}")
    if answer.flags & dns.flags.TC:
        raise ProbeFailed("DNS answer truncated")
    try:
        rrset = answer.find_rrset(answer.answer, dns.name.from_text(zone), dns.rdataclass.IN, dns.rdatatype.SOA)
    except KeyError:
        raise ProbeFailed(f"no SOA for {zone} in the answer (not authoritative?)") from None
    soa = rrset[0]
    assert isinstance(soa, dns.rdtypes.ANY.SOA.SOA)
    return int(soa.serial)


# --- TCP, Memcached (its text protocol: one command, `stats`) ------------------------------------------


@contextlib.asynccontextmanager
async def _connection(host: str, port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(host, port, limit=MAX_LINE)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def tcp_connect(host: str, port: int) -> str:
    async with _connection(host, port):
        return "connected"


async def _line(reader: asyncio.StreamReader) -> str:
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ProbeFailed("the server closed the connection" if not line else "answer line without CRLF")
    return line[:-2].decode("utf-8", "replace")


async def memcached_stats(host: str, port: int) -> dict[str, str]:
    async with _connection(host, port) as (reader, writer):
        writer.write(b"stats\r\n")
        await writer.drain()
        lines = []
        while (line := await _line(reader)) != "END":
            lines.append(line)
            if len(lines) > 1000:
                raise MalformedAnswer("stats answer without END")
    return parse_memcached_stats(lines)


def parse_memcached_stats(lines: list[str]) -> dict[str, str]:
    """`STAT name value` lines (memcached's protocol.txt, "General-purpose statistics") as a dict."""
    stats = {}
    for line in lines:
        if line in ("ERROR",) or line.startswith(("SERVER_ERROR", "CLIENT_ERROR")):
            raise ProbeFailed(f"memcached: {line[:120]}")
        word, _, rest = line.partition(" ")
        name, _, value = rest.partition(" ")
        if word != "STAT" or not name:
            raise MalformedAnswer(f"not a STAT line: {line[:40]!r}")
        stats[name] = value
    if "uptime" not in stats:
        raise MalformedAnswer("stats answer without uptime")
    return stats


def memcached_summary(stats: dict[str, str]) -> str:
    """"up 3d, 12 conns"."""
    uptime = int(stats["uptime"])
    up = next(f"{uptime // size}{unit}" for size, unit in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))
              if uptime >= size or size == 1)
    connections = stats.get("curr_connections")
    return f"up {up}" + (f", {connections} conns" if connections is not None else "")
