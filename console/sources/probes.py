"""Service probes: the console checks the services itself — HTTP, TCP, Redis, Memcached, DNS SOA —
for what Icinga does not cover, and so the Services pane still says something when Icinga is down.

One Source ("probes") runs every configured probe concurrently, each under its own timeout; a failed
probe is a result (ok=False, the reason in words), never an exception. No Textual here.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import secrets
import socket
import ssl
import struct
from typing import AsyncIterator, Callable
from urllib.parse import urlsplit

import h11

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

PROBE_INTERVAL = 30.0  # seconds between two rounds of every probe
MAX_LINE = 64 * 1024  # a Redis/Memcached answer line longer than this is not an answer we understand
MAX_BODY = 1024 * 1024  # of an HTTP probe's answer, what is searched for `contains`
USER_AGENT = f"opsconsole/{__version__}"  # in the services' access logs: who probes


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
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for cause in chain:
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


class ProbesSource(Source[ProbeSnapshot]):
    """Every probe of every configured service, run concurrently; one entry in the status bar."""

    kind = "probes"

    def __init__(self, services: list[ServiceConfig], clock: Clock = utc_now, *, name: str = "probes",
                 interval: float = PROBE_INTERVAL) -> None:
        self.probes = [(service.name, probe) for service in services for probe in service.probes]
        longest = max((probe.timeout for _, probe in self.probes), default=3.0)
        super().__init__(name, timeout=longest + 2.0, interval=interval, clock=clock)  # each probe has its own

    async def _fetch(self) -> ProbeSnapshot:
        results = await asyncio.gather(*(self.run(service, probe) for service, probe in self.probes))
        return ProbeSnapshot(tuple(results))

    async def run(self, service: str, probe: ProbeConfig) -> ProbeResult:
        """One probe under its own timeout; never raises (except cancellation)."""
        label = probe_label(probe)
        started = self.timer()
        try:
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
            return await self._http(probe)
        if isinstance(probe, RedisProbeConfig):
            return await redis_ping(probe.host, probe.port, probe.password.reveal() if probe.password else None)
        if isinstance(probe, MemcachedProbeConfig):
            return memcached_summary(await memcached_stats(probe.host, probe.port))
        if isinstance(probe, DnsProbeConfig):
            return f"SOA {await soa_serial(probe.server, probe.port, probe.zone)}"
        assert isinstance(probe, TcpProbeConfig)
        return await tcp_connect(probe.host, probe.port)

    async def _http(self, probe: HttpProbeConfig) -> str:
        tls = shared_tls_context(probe.verify) if urlsplit(probe.url).scheme == "https" else None
        status, body = await http_get(probe.url, probe.host_header, tls, transport_timeout(probe.timeout),
                                      read_body=probe.contains is not None, deadline=probe.timeout)
        return http_verdict(status, body, probe.expect, probe.contains)


async def http_get(url: str, host_header: str | None, tls: ssl.SSLContext | None, timeout: float, *,
                   read_body: bool, deadline: float | None = None) -> tuple[int, str]:
    """GET `url` on a connection of its own (a kept-alive one would hide a server that stopped accepting
    new ones), redirects not followed: the status, and the body (its first MAX_BODY bytes) when
    `read_body`. asyncio streams and h11, not an HTTP client: the reference farm's 53 probes, each on a
    new connection, measured ~16 ms of CPU a round against ~40 through httpx. The whole exchange within
    `deadline` seconds (default `timeout`; see bounded.answer_within): a body still trickling in then is
    "no complete answer in N s". Raises on any failure (describe_probe_error says it)."""
    async with answer_within(timeout if deadline is None else deadline) as progress:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if tls else 80)
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None, limit=MAX_LINE,
            ssl_handshake_timeout=timeout if tls else None)  # asyncio gives up on the handshake itself (see transport_timeout)
        try:
            connection = h11.Connection(h11.CLIENT)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = [("Host", host_header or parts.netloc.rpartition("@")[2]), ("User-Agent", USER_AGENT),
                       ("Accept", "*/*"), ("Connection", "close")]
            writer.write(connection.send(h11.Request(method="GET", target=target, headers=headers)) or b"")
            writer.write(connection.send(h11.EndOfMessage()) or b"")
            event = await _next_event(connection, reader)
            while not isinstance(event, h11.Response):
                if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                    raise ProbeFailed("the server closed the connection without an answer")
                event = await _next_event(connection, reader)  # h11.InformationalResponse (1xx): the answer follows
            progress.head = True
            status, charset = event.status_code, _charset(dict(event.headers).get(b"content-type", b""))
            if not read_body:
                return status, ""
            # what is searched is held (MAX_BODY): the rest is not read
            body = await read_capped(_body_of(connection, reader), MAX_BODY, truncate=True)
            return status, b"".join(body.chunks).decode(charset, "replace")
        except h11.RemoteProtocolError as exc:
            writer.transport.abort()
            raise ProbeFailed(f"not an HTTP answer ({exc})") from exc
        except BaseException:
            # cancelled (the deadline) or failed mid-answer: no TLS goodbye to wait for from this server
            writer.transport.abort()
            raise
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> object:
    while (event := connection.next_event()) is h11.NEED_DATA:
        connection.receive_data(await reader.read(65536))
    return event


async def _body_of(connection: h11.Connection, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The body after the answer's head, as h11 delivers it (a connection closed early ends it)."""
    while isinstance(event := await _next_event(connection, reader), h11.Data):
        yield bytes(event.data)


def _charset(content_type: bytes) -> str:
    for parameter in content_type.decode("latin-1").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            try:
                return codecs.lookup(value.strip().strip('"')).name
            except LookupError:
                break
    return "utf-8"


def http_verdict(status: int, body: str, expect: tuple[int, ...], contains: str | None) -> str:
    if status not in expect:
        raise ProbeFailed(f"HTTP {status}")
    if contains is not None and contains not in body:
        raise ProbeFailed(f"HTTP {status}, no {contains!r} in the body")
    return f"HTTP {status}"


# --- TCP, Redis, Memcached ---------------------------------------------------------------------------


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


def resp_command(*words: str) -> bytes:
    """A command as a RESP array of bulk strings (what redis-cli sends)."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def _line(reader: asyncio.StreamReader) -> str:
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ProbeFailed("the server closed the connection" if not line else "answer line without CRLF")
    return line[:-2].decode("utf-8", "replace")


async def redis_ping(host: str, port: int, password: str | None = None) -> str:
    """AUTH (when a password is given), then PING; "PONG" or ProbeFailed with Redis's own error."""
    async with _connection(host, port) as (reader, writer):
        if password is not None:
            writer.write(resp_command("AUTH", password))
            await writer.drain()
            answer = await _line(reader)
            if answer != "+OK":
                raise ProbeFailed(f"AUTH refused: {answer.removeprefix('-')[:120]}")
        writer.write(resp_command("PING"))
        await writer.drain()
        answer = await _line(reader)
    return redis_pong(answer)


def redis_pong(answer: str) -> str:
    if answer == "+PONG":
        return "PONG"
    if answer.startswith("-NOAUTH"):
        raise ProbeFailed("needs a password (NOAUTH); set the probe's password")
    if answer.startswith("-"):
        raise ProbeFailed(f"Redis error: {answer[1:120]}")
    raise MalformedAnswer(f"not a PING answer: {answer[:40]!r}")


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


# --- DNS: a SOA query over UDP ------------------------------------------------------------------------
# Written from RFC 1035 (4.1 message format, 4.1.4 compression, 3.3.13 SOA) rather than with dnspython:
# one fixed question and one record type to read, ~60 lines, no dependency for the bastion.

DNS_SOA = 6
DNS_IN = 1
RCODES = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        data = label.encode("idna")
        if not 0 < len(data) < 64:
            raise ValueError(f"bad DNS name {name!r}")
        out += bytes([len(data)]) + data
    return out + b"\0"


def soa_query(zone: str, query_id: int) -> bytes:
    """A standard query, no recursion wanted (we ask the authoritative server), one SOA question."""
    return struct.pack("!HHHHHH", query_id, 0, 1, 0, 0, 0) + encode_name(zone) + struct.pack("!HH", DNS_SOA, DNS_IN)


def read_name(message: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed name at `offset`: (name, the offset after it where it started)."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(128):  # a pointer loop is malformed, not infinite
        if offset >= len(message):
            raise MalformedAnswer("DNS name runs past the message")
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(message):
                raise MalformedAnswer("truncated DNS name pointer")
            end = offset + 2 if end is None else end
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            continue
        if length == 0:
            return ".".join(labels), (offset + 1 if end is None else end)
        labels.append(message[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    raise MalformedAnswer("DNS name pointers loop")


def parse_soa_serial(message: bytes, query_id: int, zone: str) -> int:
    """The serial of `zone`'s SOA record in a DNS answer; ProbeFailed for an error code, no record."""
    if len(message) < 12:
        raise MalformedAnswer("DNS answer shorter than its header")
    answer_id, flags, questions, answers, _, _ = struct.unpack("!HHHHHH", message[:12])
    if answer_id != query_id or not flags & 0x8000:
        raise MalformedAnswer("not the answer to our query")
    if flags & 0x000F:
        code = flags & 0x000F
        raise ProbeFailed(f"DNS {RCODES.get(code, f'rcode {code}')} for {zone}")
    if flags & 0x0200:
        raise ProbeFailed("DNS answer truncated")
    offset = 12
    for _ in range(questions):
        _, offset = read_name(message, offset)
        offset += 4
    wanted = zone.rstrip(".").lower()
    for _ in range(answers):
        name, offset = read_name(message, offset)
        if offset + 10 > len(message):
            raise MalformedAnswer("truncated DNS record")
        rtype, rclass, _, length = struct.unpack("!HHIH", message[offset:offset + 10])
        offset += 10
        if offset + length > len(message):
            raise MalformedAnswer("DNS record runs past the message")
        if rtype == DNS_SOA and rclass == DNS_IN and name.lower() == wanted:
            _, at = read_name(message, offset)  # MNAME
            _, at = read_name(message, at)  # RNAME
            if at + 4 > offset + length:
                raise MalformedAnswer("truncated SOA record")
            serial: int = struct.unpack("!I", message[at:at + 4])[0]
            return serial
        offset += length
    raise ProbeFailed(f"no SOA for {zone} in the answer (not authoritative?)")


class _OneDatagram(asyncio.DatagramProtocol):
    def __init__(self, answer: asyncio.Future[bytes]) -> None:
        self.answer = answer

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: "connection refused"
        if not self.answer.done():
            self.answer.set_exception(exc)


async def soa_serial(server: str, port: int, zone: str, new_id: Callable[[], int] = lambda: secrets.randbelow(65536)) -> int:
    loop = asyncio.get_running_loop()
    query_id = new_id()
    answer: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: _OneDatagram(answer), remote_addr=(server, port))
    try:
        transport.sendto(soa_query(zone, query_id))
        return parse_soa_serial(await answer, query_id, zone)
    finally:
        transport.close()
