"""Service probes (console/sources/probes.py): each client against a server on loopback written here
(HTTP, RESP, a DNS answer built by hand from RFC 1035), the spreading of the probes over their interval,
the runner's error values, and the Services pane's probe column. Loopback sockets only; no Textual."""

from __future__ import annotations

import asyncio
import socket
import struct
from datetime import datetime, timezone

import pytest
from rich.text import Text

from console.core.config import parse_config
from console.core.model import ProbeResult, ProbeSnapshot, SourceResult
from console.core.state import Poller, Store
from console.derive.services_pane import probe_summary, services_view
from console.sources import build_sources
from console.sources.base import MalformedAnswer
from console.sources.probes import (
    ProbeFailed,
    ProbesSource,
    describe_probe_error,
    http_verdict,
    memcached_summary,
    parse_memcached_stats,
    probe_label,
    redis_ping,
    soa_serial,
)

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)


def config_with(probes_yaml: str):
    return parse_config("farm: {name: x}\nservices:\n  - name: web\n    hosts: 'mw*'\n    probes:\n" + probes_yaml)


# --- config and labels ---------------------------------------------------------------------------


def test_probe_kinds_parse_with_their_defaults():
    config = config_with(
        "      - {kind: http, url: 'https://mw151.fsslc.wtnet/w/api.php?action=query', expect: [200, 204]}\n"
        "      - {kind: tcp, host: db151, port: 3306}\n"
        "      - {kind: redis, host: rdb191}\n"
        "      - {kind: memcached, host: mem151}\n"
        "      - {kind: dns, server: dns171, zone: wikitide.net, name: auth dns}\n"
    )
    http, tcp, redis, memcached, dns = config.services[0].probes
    assert http.expect == (200, 204) and http.verify is True and http.timeout == 3.0
    assert (redis.port, memcached.port, dns.port) == (6379, 11211, 53)
    assert [probe_label(p) for p in (http, tcp, redis, memcached, dns)] == [
        "api.php", "db151:3306", "redis rdb191:6379", "memcached mem151:11211", "auth dns"]


def test_build_sources_adds_one_probes_source_only_when_a_service_has_probes():
    assert [s.kind for s in build_sources(config_with("      - {kind: tcp, host: db151, port: 3306}\n"))] == ["probes"]
    assert build_sources(parse_config("farm: {name: x}\nservices: [{name: web, hosts: 'mw*'}]\n")) == []


# --- HTTP ----------------------------------------------------------------------------------------


def test_http_verdict_checks_status_then_body():
    assert http_verdict(204, "", (200, 204), None) == "HTTP 204"
    assert http_verdict(200, "ALIVE", (200,), "ALIVE") == "HTTP 200"
    with pytest.raises(ProbeFailed, match="^HTTP 502$"):
        http_verdict(502, "<html>Bad Gateway</html>", (200,), None)
    with pytest.raises(ProbeFailed, match="no 'running' in the body"):
        http_verdict(200, "error", (200,), "running")


# --- Redis (redis-py, against a RESP server written here) ----------------------------------------


async def resp_server(replies: dict[str, bytes], commands: list[list[str]]):
    """Reads RESP arrays of bulk strings (what redis-cli sends), answers each by its command's name."""

    async def handle(reader, writer):
        while (line := await reader.readline()).startswith(b"*"):
            words = []
            for _ in range(int(line[1:])):
                length = int((await reader.readline())[1:])
                words.append((await reader.readexactly(length + 2))[:-2].decode())
            commands.append(words)
            writer.write(replies.get(words[0].upper(), b"-ERR unknown command\r\n"))
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


AUTH_OK = {"AUTH": b"+OK\r\n", "PING": b"+PONG\r\n"}


@pytest.mark.parametrize(("password", "replies", "sent", "said"), [
    (None, {"PING": b"+PONG\r\n"}, [["PING"]], "PONG"),
    ("pässword", AUTH_OK, [["AUTH", "pässword"], ["PING"]], "PONG"),
    (None, {"PING": b"-NOAUTH Authentication required.\r\n"}, [["PING"]],
     "needs a password (NOAUTH); set the probe's password"),
    ("pässword", {"AUTH": b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"}, [["AUTH", "pässword"]],
     "AUTH refused: WRONGPASS invalid username-password pair or user is disabled."),
    (None, {"PING": b"-LOADING Redis is loading the dataset in memory\r\n"}, [["PING"]],
     "Redis error: LOADING Redis is loading the dataset in memory"),
    (None, {"PING": b"-ERR max number of clients reached\r\n"}, [["PING"]], "Redis error: ERR max number of clients reached"),
])
async def test_redis_ping_sends_auth_then_ping_and_says_redis_errors_in_words(password, replies, sent, said):
    commands: list[list[str]] = []
    server = await resp_server(replies, commands)
    port = server.sockets[0].getsockname()[1]
    async with server:
        if said == "PONG":
            assert await redis_ping("127.0.0.1", port, password, 2.0) == "PONG"
        else:
            with pytest.raises(ProbeFailed) as failed:
                await redis_ping("127.0.0.1", port, password, 2.0)
            assert str(failed.value) == said
    assert commands == sent  # nothing else: no HELLO, no CLIENT SETINFO, no retry


async def test_redis_ping_refuses_an_answer_that_is_not_resp():
    async def handle(reader, writer):
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        with pytest.raises(MalformedAnswer, match="not a Redis answer"):
            await redis_ping("127.0.0.1", server.sockets[0].getsockname()[1], None, 2.0)


async def test_a_redis_probe_message_never_holds_its_password(monkeypatch):
    commands: list[list[str]] = []
    server = await resp_server({"AUTH": b"-WRONGPASS no user with the password s3cret-4711\r\n"}, commands)  # echoing it
    monkeypatch.setenv("TEST_PROBE_REDIS_PASSWORD", "s3cret-4711")
    port = server.sockets[0].getsockname()[1]
    source = ProbesSource(config_with(
        f"      - {{kind: redis, host: 127.0.0.1, port: {port}, password: {{env: TEST_PROBE_REDIS_PASSWORD}}}}\n").services)
    async with server:
        result = await source.run("web", source.probes[0][1])
    assert commands == [["AUTH", "s3cret-4711"]]
    assert not result.ok and result.detail.startswith("AUTH refused: ") and "s3cret-4711" not in result.detail, result.detail


# --- Memcached -----------------------------------------------------------------------------------


def test_memcached_stats_parse_and_summarise():
    stats = parse_memcached_stats(["STAT pid 812", "STAT uptime 266400", "STAT curr_connections 12", "STAT version 1.6.18"])
    assert stats["version"] == "1.6.18"
    assert memcached_summary(stats) == "up 3d, 12 conns"
    assert memcached_summary({"uptime": "42"}) == "up 42s"


@pytest.mark.parametrize(("lines", "error"), [
    (["ERROR"], ProbeFailed),
    (["SERVER_ERROR out of memory"], ProbeFailed),
    (["VALUE foo 0 3"], MalformedAnswer),
    (["STAT pid 1"], MalformedAnswer),  # no uptime
])
def test_memcached_stats_errors(lines, error):
    with pytest.raises(error):
        parse_memcached_stats(lines)


# --- DNS (dnspython, against answers built here by hand from RFC 1035) ----------------------------


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"


def soa_answer(query: bytes, serial: int, *, rcode: int = 0, compress: bool = True, owner: str = "wikitide.net",
               query_id: int | None = None) -> bytes:
    """An answer to `query` (RFC 1035 4.1, independently of dnspython): its id, its question, one SOA."""
    answer_id = struct.unpack("!H", query[:2])[0] if query_id is None else query_id
    question = query[12:12 + len(encode_name("wikitide.net")) + 4]
    header = struct.pack("!HHHHHH", answer_id, 0x8400 | rcode, 1, 0 if rcode else 1, 0, 0)
    if rcode:
        return header + question
    mname = b"\x03ns1\xc0\x0c" if compress else encode_name("ns1.wikitide.net")
    rname = b"\nhostmaster\xc0\x0c" if compress else encode_name("hostmaster.wikitide.net")
    rdata = mname + rname + struct.pack("!IIIII", serial, 7200, 1800, 1209600, 1800)
    name = b"\xc0\x0c" if compress and owner == "wikitide.net" else encode_name(owner)
    return header + question + name + struct.pack("!HHIH", 6, 1, 3600, len(rdata)) + rdata


class OneAnswerDns(asyncio.DatagramProtocol):
    """Answers every query with `answer(query)`; keeps the queries."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.queries: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.queries.append(data)
        self.transport.sendto(self.answer(data), addr)


async def ask_soa(answer, zone: str = "wikitide.net") -> tuple[int, list[bytes]]:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(lambda: OneAnswerDns(answer), local_addr=("127.0.0.1", 0))
    try:
        return await soa_serial("127.0.0.1", transport.get_extra_info("sockname")[1], zone, 2.0), server.queries
    finally:
        transport.close()


@pytest.mark.parametrize("compress", [True, False])
async def test_soa_serial_asks_one_soa_question_without_recursion_and_reads_the_serial(compress):
    serial, queries = await ask_soa(lambda query: soa_answer(query, 2026112501, compress=compress))
    assert serial == 2026112501
    (query,) = queries
    flags, questions, answers = struct.unpack("!HHH", query[2:8])
    assert (flags & 0x8000, flags & 0x0100, questions, answers) == (0, 0, 1, 0)  # a query, RD clear, one question
    assert query[12:].startswith(encode_name("wikitide.net") + struct.pack("!HH", 6, 1))  # SOA, IN


@pytest.mark.parametrize(("answer", "error", "said"), [
    (lambda query: soa_answer(query, 1, rcode=5), ProbeFailed, "DNS REFUSED for wikitide.net"),
    (lambda query: soa_answer(query, 1, rcode=3), ProbeFailed, "DNS NXDOMAIN for wikitide.net"),
    (lambda query: soa_answer(query, 1, owner="other.net"), ProbeFailed, "no SOA for wikitide.net in the answer (not authoritative?)"),
    (lambda query: soa_answer(query, 1)[:-6], MalformedAnswer, "not a DNS answer"),  # cut inside the SOA record
    (lambda query: soa_answer(query, 1, query_id=(struct.unpack("!H", query[:2])[0] + 1) % 65536), MalformedAnswer,
     "not the answer to our query"),
])
async def test_soa_errors_are_words(answer, error, said):
    with pytest.raises(error) as failed:
        await ask_soa(answer)
    assert str(failed.value).startswith(said), str(failed.value)


# --- the runner ----------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_failures_are_results_with_a_reason():
    port = closed_port()
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    silent_port = silent.sockets[0].getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet_udp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed_udp:
        quiet_udp.bind(("127.0.0.1", 0))  # takes datagrams, never answers
        closed_udp.bind(("127.0.0.1", 0))
        closed_udp_port = closed_udp.getsockname()[1]
        closed_udp.close()
        config = config_with(
            f"      - {{kind: tcp, host: 127.0.0.1, port: {port}}}\n"
            f"      - {{kind: http, url: 'http://127.0.0.1:{port}/check'}}\n"
            f"      - {{kind: redis, host: 127.0.0.1, port: {silent_port}, timeout: 0.3}}\n"
            f"      - {{kind: dns, server: 127.0.0.1, port: {closed_udp_port}, zone: wikitide.net}}\n"
            f"      - {{kind: dns, server: 127.0.0.1, port: {quiet_udp.getsockname()[1]}, zone: wikitide.net, timeout: 0.3}}\n"
        )
        source = ProbesSource(config.services)
        try:
            async with silent:
                result = await source.fetch()
        finally:
            await source.aclose()
    assert result.ok  # probes failing is data, not a failing source
    tcp, http, redis, dns_refused, dns_quiet = result.data.results
    assert (tcp.ok, tcp.detail, tcp.latency_ms) == (False, "connection refused", None)
    assert (http.ok, http.detail) == (False, "connection refused")
    assert (redis.ok, redis.detail) == (False, "timed out after 0.3s")
    assert (dns_refused.ok, dns_refused.detail) == (False, "connection refused")  # the ICMP answer, not a timeout
    assert (dns_quiet.ok, dns_quiet.detail) == (False, "timed out after 0.3s")


async def test_a_healthy_probe_reports_its_latency():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    source = ProbesSource(config_with(f"      - {{kind: tcp, host: 127.0.0.1, port: {port}, name: db}}\n").services)
    ticks = iter([10.0, 10.004])
    source.timer = lambda: next(ticks)
    async with server:
        result = await source.run("web", source.probes[0][1])
    assert result == ProbeResult("web", "db", "tcp", True, pytest.approx(4.0), "connected 4 ms")


def test_describe_probe_error_walks_the_cause_chain():
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise RuntimeError("All connection attempts failed") from inner
    except RuntimeError as outer:
        assert describe_probe_error(outer, 3) == "connection refused"
    try:  # httpx through anyio, for a name with two addresses: one error each
        raise OSError("All connection attempts failed") from ExceptionGroup(
            "multiple connection attempts failed", [ConnectionRefusedError(111, "refused"), ConnectionRefusedError(111, "refused")])
    except OSError as both:
        assert describe_probe_error(both, 3) == "connection refused"
    assert describe_probe_error(socket.gaierror(-2, "Name or service not known"), 3) == "cannot resolve the host name"
    assert describe_probe_error(TimeoutError(), 2.5) == "timed out after 2.5s"


# --- the Services pane's probe column ------------------------------------------------------------

PANE_CONFIG = parse_config("""
farm: {name: x}
services:
  - {name: php-fpm, hosts: "mw*", checks: [PHP-FPM], probes: [{kind: tcp, host: a, port: 1}]}
  - {name: swift, hosts: "swift*", probes: [{kind: tcp, host: b, port: 1}]}
  - {name: ldap, hosts: "ldap*"}
""")


def result(service, label, ok, latency=None, detail=""):
    return ProbeResult(service, label, "http", ok, latency, detail)


def probe_store(*results: ProbeResult, icinga: bool = False) -> Store:
    store = Store(clock=lambda: NOW)
    store.register("probes", "probes", 30)
    if icinga:  # an icinga source that never answered
        store.register("icinga", "icinga", 15)
    store.put(SourceResult("probes", "probes", NOW, 40.0, data=ProbeSnapshot(results)))
    return store


def test_probe_summary_worst_first_else_count_and_slowest():
    ok = [result("s", "a", True, 3.2), result("s", "b", True, 12.4)]
    assert probe_summary(ok).plain == "✔ 2/2 12ms"
    failing = [result("s", "mw152 api.php", False, None, "HTTP 502"), result("s", "x", False, None, "connection refused"), *ok]
    summary = probe_summary(failing)
    assert summary.plain == "✖ mw152 api.php: HTTP 502 +1" and "red" in str(summary.style)
    assert probe_summary(None).plain == "loading…"


def test_services_pane_shows_probes_while_icinga_has_no_data():
    store = probe_store(
        result("php-fpm", "mw151 api.php", True, 5.0, "HTTP 200 5 ms"),
        result("php-fpm", "mw152 api.php", False, None, "HTTP 502"),
        result("swift", "proxy", True, 8.0, "HTTP 200 8 ms"),
        icinga=True,
    )
    view = services_view(store, PANE_CONFIG, NOW)
    cells = {row.key: [c.plain if isinstance(c, Text) else c for c in row.cells] for row in view.rows}
    assert [c.label for c in view.columns] == ["service", "hosts", "state", "probe", "problem hosts"]
    assert cells["php-fpm"] == ["php-fpm", "—", "no data", "✖ mw152 api.php: HTTP 502", ""]
    assert cells["swift"][3] == "✔ 1/1 8ms"
    assert cells["ldap"][3] == "—"  # no probes configured
    assert view.badge == "✖ 1"  # a failing probe counts as trouble even without Icinga


# --- HTTP (httpx, against servers written here) ----------------------------------------------------


class Http:
    """An HTTP server on loopback: reads each request's head and writes `answer`; then closes the
    connection, unless `keep_alive` (it waits for the next request on it, whatever the client asked)
    or the answer holds HANG (its body never ends)."""

    def __init__(self, answer: bytes, *, tls=None, keep_alive: bool = False) -> None:
        self.answer, self.tls, self.keep_alive = answer, tls, keep_alive
        self.accepted = 0
        self.requests: list[str] = []

    async def __aenter__(self) -> Http:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader, writer) -> None:
        self.accepted += 1
        try:
            while True:
                self.requests.append((await reader.readuntil(b"\r\n\r\n")).decode())
                writer.write(self.answer)
                await writer.drain()
                if b"HANG" in self.answer:
                    await asyncio.sleep(5)
                if not self.keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def probe_once(probe_yaml: str) -> ProbeResult:
    source = ProbesSource(config_with(f"      - {probe_yaml}\n").services)
    try:
        return await asyncio.wait_for(source.run("web", source.probes[0][1]), 2.0)
    finally:
        await source.aclose()


async def test_an_http_probe_sends_one_get_with_the_host_asked_for_and_reads_a_chunked_body():
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=iso-8859-1\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nALIVE\r\n3\r\n \xe9t\r\n0\r\n\r\n")
    async with Http(answer) as server:
        result = await probe_once(f"{{kind: http, url: '{server.url}/check?full=1', host_header: health.wikitide.net, "
                                  "contains: 'ALIVE ét'}")
    assert result.ok and result.detail.startswith("HTTP 200 "), result
    (head,) = server.requests
    assert head.startswith("GET /check?full=1 HTTP/1.1\r\n")
    lines = head.lower().splitlines()
    assert "host: health.wikitide.net" in lines and "connection: close" in lines
    assert any(line.startswith("user-agent: opsconsole/") for line in lines)


async def test_without_contains_the_probe_stops_at_the_status_line():
    # the body never ends: a probe that only checks the status does not wait for it
    async with Http(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nHANG") as server:
        result = await probe_once(f"{{kind: http, url: '{server.url}/', timeout: 5}}")
    assert (result.ok, result.detail) == (False, "HTTP 503")


async def test_a_probe_searches_at_most_max_body_of_a_body_that_never_ends(monkeypatch):
    import console.sources.probes as probes

    monkeypatch.setattr(probes, "MAX_BODY", 8)
    async with Http(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nALIVE and more HANG") as server:
        found = await probe_once(f"{{kind: http, url: '{server.url}/', contains: ALIVE an, timeout: 5}}")
        beyond = await probe_once(f"{{kind: http, url: '{server.url}/', contains: more, timeout: 5}}")
    assert found.ok, found
    assert (beyond.ok, beyond.detail) == (False, "HTTP 200, no 'more' in the body")


@pytest.mark.parametrize(("answer", "said"), [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP answer (illegal status line"),
    # sshd's banner, then its word on our GET, then it closes: no HTTP head ever completed
    (b"SSH-2.0-OpenSSH_9.2\r\nInvalid SSH identification string.\r\n", "the server closed the connection without an answer"),
    (b"", "the server closed the connection without an answer"),
])
async def test_an_answer_that_is_not_http_is_said(answer, said):
    async with Http(answer) as server:
        result = await probe_once(f"{{kind: http, url: '{server.url}/'}}")
    assert not result.ok and result.detail.startswith(said), result.detail


async def test_https_probes_verify_the_certificate_against_the_ca_given(tmp_path):
    from console.sim.tls import make_tls

    farm_tls = make_tls(tmp_path)
    async with Http(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", tls=farm_tls.context) as server:
        config = config_with(
            f"      - {{kind: http, url: '{server.url}/', verify: '{farm_tls.ca_path}', contains: ok, name: own-ca}}\n"
            f"      - {{kind: http, url: '{server.url}/', name: system-cas}}\n"
            f"      - {{kind: http, url: '{server.url}/', verify: false, name: unverified}}\n"
        )
        source = ProbesSource(config.services)
        try:
            result = await source.fetch()
        finally:
            await source.aclose()
    own, system, unverified = result.data.results
    assert (own.ok, own.detail.split()[:2]) == (True, ["HTTP", "200"])
    assert (system.ok, system.detail) == (False, "TLS error: CERTIFICATE_VERIFY_FAILED")
    assert unverified.ok


async def test_each_round_opens_a_new_connection_for_each_http_probe_and_sends_no_cookie():
    # the server would keep a connection open for the next request, and sets a cookie: neither is taken
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: backend=mw151; Path=/\r\n\r\nok"
    async with Http(answer, keep_alive=True) as server:
        # one probe reads the whole body (a connection a client could keep), one stops at the status
        source = ProbesSource(config_with(f"      - {{kind: http, url: '{server.url}/a', contains: ok}}\n"
                                          f"      - {{kind: http, url: '{server.url}/b'}}\n").services)
        now = [100.0]
        source.turn_clock = lambda: now[0]
        try:
            first = await source.fetch()
            now[0] += source.every  # the next round: every probe's turn again
            second = await source.fetch()
        finally:
            await source.aclose()
        await asyncio.sleep(0.05)  # the server's side of the last connections
    assert all(r.ok for r in (*first.data.results, *second.data.results))
    assert (server.accepted, len(server.requests)) == (4, 4)
    assert not any("cookie:" in head.lower() for head in server.requests)


async def test_a_proxy_in_the_environment_does_not_carry_a_probe(monkeypatch):
    async with Http(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n") as proxy, \
            Http(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ndirect") as target:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        result = await probe_once(f"{{kind: http, url: '{target.url}/', contains: direct}}")
    assert result.ok, result
    assert (proxy.accepted, target.accepted) == (0, 1)


# --- spread over the interval --------------------------------------------------------------------


def refused_probes(count: int) -> str:
    port = closed_port()
    return "".join(f"      - {{kind: tcp, host: 127.0.0.1, port: {port}, name: p{i}}}\n" for i in range(count))


def counting(source: ProbesSource, clock=None) -> list[tuple[str, float]]:
    """Record each probe run by the source: (label, when)."""
    ran: list[tuple[str, float]] = []
    run = source.run

    async def counted(service, probe):
        ran.append((probe_label(probe), clock() if clock else 0.0))
        return await run(service, probe)

    source.run = counted
    return ran


async def test_after_a_first_whole_round_each_probe_runs_once_per_interval_at_its_own_turn():
    source = ProbesSource(config_with(refused_probes(3)).services, interval=30.0)
    assert (source.groups, source.interval) == (3, 10.0)  # polled every 10 s, a third of the probes each time
    now = [1000.0]
    source.turn_clock = lambda: now[0]
    ran = counting(source)

    async def poll_at(when: float) -> list[str]:
        now[0], before = when, len(ran)
        result = await source.fetch()
        assert [r.label for r in result.data.results] == ["p0", "p1", "p2"]  # every probe's latest, in config order
        return [label for label, _ in ran[before:]]

    assert await poll_at(1000) == ["p0", "p1", "p2"]  # the first round: all at once
    assert await poll_at(1004) == []
    assert await poll_at(1010) == ["p0"]
    assert await poll_at(1019.9) == ["p1"]  # a poll a little early takes the turn due
    assert await poll_at(1030) == ["p2"]
    assert await poll_at(1040) == ["p0"]  # 30 s after its last run
    assert await poll_at(1100) == ["p0", "p1", "p2"]  # after a pause: every probe missed a turn ...
    assert await poll_at(1110) == ["p1"]  # ... and each keeps its own place
    assert await poll_at(1120) == ["p2"]
    assert await poll_at(1130) == ["p0"]


async def test_the_probes_start_at_different_times_within_the_interval():
    interval = 0.9
    source = ProbesSource(config_with(refused_probes(3)).services, interval=interval)
    ran = counting(source, asyncio.get_running_loop().time)
    store = Store()
    poller = Poller([source], store)
    poller.start()
    try:
        await asyncio.sleep(interval * 2.5)
    finally:
        await poller.stop()
    times = {label: [when for name, when in ran if name == label] for label in ("p0", "p1", "p2")}
    assert all(len(runs) >= 2 for runs in times.values()), times
    firsts = [runs[0] for runs in times.values()]
    assert max(firsts) - min(firsts) < 0.05  # the first round: together
    seconds = sorted(runs[1] for runs in times.values())
    assert seconds[0] - firsts[0] > interval / 6  # not at once after the first ...
    assert all(later - earlier > interval / 6 for earlier, later in zip(seconds, seconds[1:], strict=False))  # ... nor together
    assert seconds[-1] - firsts[0] < interval * 1.5
    for runs in times.values():  # then each once per interval
        assert all(interval * 0.6 < b - a < interval * 1.6 for a, b in zip(runs[1:], runs[2:], strict=False)), runs
    assert store.get("probes").ok and len(store.get("probes").data.results) == 3
