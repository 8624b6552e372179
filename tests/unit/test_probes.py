"""Service probes (console/sources/probes.py): each protocol's parsing, the runner's error values, and
the Services pane's probe column. Loopback sockets only; no Textual."""

from __future__ import annotations

import asyncio
import socket
import struct
from datetime import datetime, timezone

import pytest
from rich.text import Text

from console.core.config import parse_config
from console.core.model import ProbeResult, ProbeSnapshot, SourceResult
from console.core.state import Store
from console.derive.services_pane import probe_summary, services_view
from console.sources import build_sources
from console.sources.base import MalformedAnswer
from console.sources.probes import (
    ProbeFailed,
    ProbesSource,
    describe_probe_error,
    encode_name,
    http_get,
    http_verdict,
    memcached_summary,
    parse_memcached_stats,
    parse_soa_serial,
    probe_label,
    read_name,
    redis_pong,
    resp_command,
    soa_query,
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


# --- Redis ---------------------------------------------------------------------------------------


def test_resp_command_is_an_array_of_bulk_strings():
    assert resp_command("PING") == b"*1\r\n$4\r\nPING\r\n"
    assert resp_command("AUTH", "pässword") == b"*2\r\n$4\r\nAUTH\r\n$9\r\np\xc3\xa4ssword\r\n"


def test_redis_pong_and_its_errors():
    assert redis_pong("+PONG") == "PONG"
    with pytest.raises(ProbeFailed, match="needs a password"):
        redis_pong("-NOAUTH Authentication required.")
    with pytest.raises(ProbeFailed, match="Redis error: LOADING"):
        redis_pong("-LOADING Redis is loading the dataset in memory")
    with pytest.raises(MalformedAnswer):
        redis_pong("HTTP/1.1 400 Bad Request")


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


# --- DNS -----------------------------------------------------------------------------------------


def soa_answer(query: bytes, serial: int, *, rcode: int = 0, compress: bool = True, owner: str = "wikitide.net") -> bytes:
    """An answer to `query` built by hand from RFC 1035 4.1 (independently of the parser)."""
    query_id = struct.unpack("!H", query[:2])[0]
    question = query[12:]
    header = struct.pack("!HHHHHH", query_id, 0x8400 | rcode, 1, 0 if rcode else 1, 0, 0)
    if rcode:
        return header + question
    mname = b"\x03ns1\xc0\x0c" if compress else encode_name("ns1.wikitide.net")
    rname = b"\nhostmaster\xc0\x0c" if compress else encode_name("hostmaster.wikitide.net")
    rdata = mname + rname + struct.pack("!IIIII", serial, 7200, 1800, 1209600, 1800)
    name = b"\xc0\x0c" if compress and owner == "wikitide.net" else encode_name(owner)
    return header + question + name + struct.pack("!HHIH", 6, 1, 3600, len(rdata)) + rdata


def test_soa_query_encodes_one_question():
    query = soa_query("wikitide.net.", 0x1234)
    assert query == b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x08wikitide\x03net\x00\x00\x06\x00\x01"


@pytest.mark.parametrize("compress", [True, False])
def test_soa_serial_read_from_an_answer(compress):
    query = soa_query("wikitide.net", 7)
    assert parse_soa_serial(soa_answer(query, 2026112501, compress=compress), 7, "wikitide.net") == 2026112501


def test_read_name_follows_pointers_and_returns_the_offset_after_the_pointer():
    message = b"\x00" * 12 + b"\x08wikitide\x03net\x00" + b"\x03ns1\xc0\x0c"
    assert read_name(message, 12) == ("wikitide.net", 26)
    assert read_name(message, 26) == ("ns1.wikitide.net", 32)
    with pytest.raises(MalformedAnswer):
        read_name(b"\x00" * 12 + b"\xc0\x0c", 12)  # a pointer to itself


def test_soa_errors_are_words():
    query = soa_query("wikitide.net", 9)
    with pytest.raises(ProbeFailed, match="DNS REFUSED for wikitide.net"):
        parse_soa_serial(soa_answer(query, 1, rcode=5), 9, "wikitide.net")
    with pytest.raises(ProbeFailed, match="no SOA for wikitide.net"):
        parse_soa_serial(soa_answer(query, 1, owner="other.net"), 9, "wikitide.net")
    with pytest.raises(MalformedAnswer, match="not the answer"):
        parse_soa_serial(soa_answer(query, 1), 10, "wikitide.net")
    with pytest.raises(MalformedAnswer):
        parse_soa_serial(soa_answer(query, 1)[:-6], 9, "wikitide.net")  # cut inside the SOA record


# --- the runner ----------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_failures_are_results_with_a_reason():
    port = closed_port()
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    silent_port = silent.sockets[0].getsockname()[1]
    config = config_with(
        f"      - {{kind: tcp, host: 127.0.0.1, port: {port}}}\n"
        f"      - {{kind: http, url: 'http://127.0.0.1:{port}/check'}}\n"
        f"      - {{kind: redis, host: 127.0.0.1, port: {silent_port}, timeout: 0.3}}\n"
    )
    source = ProbesSource(config.services)
    try:
        async with silent:
            result = await source.fetch()
    finally:
        await source.aclose()
    assert result.ok  # probes failing is data, not a failing source
    tcp, http, redis = result.data.results
    assert (tcp.ok, tcp.detail, tcp.latency_ms) == (False, "connection refused", None)
    assert (http.ok, http.detail) == (False, "connection refused")
    assert (redis.ok, redis.detail) == (False, "timed out after 0.3s")


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


# --- the HTTP probe's own GET (asyncio streams and h11) --------------------------------------------


async def http_server(answer: bytes, requests: list[bytes] | None = None, *, tls=None):
    """A one-answer-per-connection HTTP server on loopback: reads the request head, writes `answer`."""

    async def handle(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        if requests is not None:
            requests.append(head)
        writer.write(answer)
        await writer.drain()
        if b"HANG" not in answer:
            writer.close()
        else:
            await asyncio.sleep(5)

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)


async def test_http_get_sends_one_get_with_the_host_asked_for_and_reads_a_chunked_body():
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=iso-8859-1\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nALIVE\r\n3\r\n \xe9t\r\n0\r\n\r\n")
    requests: list[bytes] = []
    server = await http_server(answer, requests)
    port = server.sockets[0].getsockname()[1]
    async with server:
        status, body = await http_get(f"http://127.0.0.1:{port}/check?full=1", "health.wikitide.net", None, 2.0, read_body=True)
    assert (status, body) == (200, "ALIVE ét")
    head = requests[0].decode()
    assert head.startswith("GET /check?full=1 HTTP/1.1\r\n")
    assert "host: health.wikitide.net\r\n" in head.lower() and "connection: close" in head.lower()
    assert "user-agent: opsconsole/" in head.lower()


async def test_http_get_without_contains_stops_at_the_status_line():
    # the body never ends: a probe that only checks the status does not wait for it
    server = await http_server(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nHANG")
    port = server.sockets[0].getsockname()[1]
    async with server:
        status, body = await asyncio.wait_for(http_get(f"http://127.0.0.1:{port}/", None, None, 2.0, read_body=False), 1.0)
    assert (status, body) == (503, "")


async def test_http_get_reads_at_most_max_body_of_a_body_that_never_ends(monkeypatch):
    import console.sources.probes as probes

    monkeypatch.setattr(probes, "MAX_BODY", 8)
    server = await http_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nALIVE and more HANG")
    port = server.sockets[0].getsockname()[1]
    async with server:
        status, body = await asyncio.wait_for(http_get(f"http://127.0.0.1:{port}/", None, None, 2.0, read_body=True), 1.0)
    assert (status, body) == (200, "ALIVE an")


async def test_http_get_refuses_an_answer_that_is_not_http():
    server = await http_server(b"SSH-2.0-OpenSSH_9.2\r\n")
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(ProbeFailed, match="not an HTTP answer"):
            await http_get(f"http://127.0.0.1:{port}/", None, None, 2.0, read_body=True)


async def test_https_probes_verify_the_certificate_against_the_ca_given(tmp_path):
    from console.sim.tls import make_tls

    farm_tls = make_tls(tmp_path)
    server = await http_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", tls=farm_tls.context)
    port = server.sockets[0].getsockname()[1]
    config = config_with(
        f"      - {{kind: http, url: 'https://127.0.0.1:{port}/', verify: '{farm_tls.ca_path}', contains: ok, name: own-ca}}\n"
        f"      - {{kind: http, url: 'https://127.0.0.1:{port}/', name: system-cas}}\n"
        f"      - {{kind: http, url: 'https://127.0.0.1:{port}/', verify: false, name: unverified}}\n"
    )
    source = ProbesSource(config.services)
    async with server:
        result = await source.fetch()
    own, system, unverified = result.data.results
    assert (own.ok, own.detail.split()[:2]) == (True, ["HTTP", "200"])
    assert (system.ok, system.detail) == (False, "TLS error: CERTIFICATE_VERIFY_FAILED")
    assert unverified.ok
