"""The cache executors' transport (console/actions/cachehttp.py) against a scripted loopback server:
answers and reason phrases, kept-alive and pre-opened connections, what is never reused, the
connection limit, and every failure as the httpx exception the executors describe."""

from __future__ import annotations

import asyncio
import gc
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

import h11
import httpx
import pytest
import trustme

from console.actions import ActionEngine, Confirmation, Operator, PurgeUrls, Session, challenge_for
from console.actions.cachehttp import CacheTransport
from console.actions.executors import DOWN, CacheExecutor, cache_tls
from console.actions.locks import LockHeld
from console.actions.plan import HttpRequest, Step
from console.core.config import parse_config
from console.sources.httpclient import transport_failure

Answer = Callable[[h11.Request, "Server"], Awaitable[bytes | None]]  # raw bytes to write, None = close


def purged(headers: list[tuple[bytes, bytes]] | None = None, status: int = 200, reason: bytes = b"Purged") -> bytes:
    body = b"200 Purged\n"
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_event(), conn.next_event()
    head = [(b"content-length", str(len(body)).encode()), (b"x-varnish", b"32771"), *(headers or [])]
    return conn.send(h11.Response(status_code=status, reason=reason, headers=head)) + conn.send(h11.Data(data=body)) \
        + conn.send(h11.EndOfMessage())


async def answer_purged(request: h11.Request, server: Server) -> bytes | None:
    return purged()


@dataclass
class Server:
    """A loopback HTTP/1.1 server that counts connections and requests and answers with `answer`."""

    answer: Answer = answer_purged
    connections: int = 0
    closed: int = 0
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, target, host
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    server: asyncio.base_events.Server | None = None
    stray: bytes = b""  # written a moment after the next answer
    intent_seen: list[bool] = field(default_factory=list)

    async def start(self, context: ssl.SSLContext | None = None) -> Server:
        self.release.set()
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https' if context else 'http'}://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    if not data:
                        return
                    continue
                if isinstance(event, h11.Request):
                    host = dict(event.headers).get(b"host", b"").decode()
                    self.requests.append((event.method.decode(), event.target.decode(), host))
                    self.in_flight += 1
                    self.most_in_flight = max(self.most_in_flight, self.in_flight)
                    try:
                        while conn.next_event() is not h11.NEED_DATA and conn.their_state is not h11.DONE:
                            pass
                        await self.release.wait()
                        raw = await self.answer(event, self)
                    finally:
                        self.in_flight -= 1
                    if raw is None:
                        return
                    writer.write(raw)
                    await writer.drain()
                    if self.stray:  # bytes nobody asked for, once the client has parked the connection
                        await asyncio.sleep(0.02)
                        writer.write(self.stray)
                        self.stray = b""
                    conn = h11.Connection(h11.SERVER)  # the scripted bytes bypassed this one: start afresh
                elif isinstance(event, h11.ConnectionClosed):
                    return
        except (ConnectionError, h11.RemoteProtocolError):
            return
        finally:
            self.closed += 1
            writer.close()


async def request(client: httpx.AsyncClient, url: str, path: str = "/wiki/Main_Page", method: str = "PURGE") -> httpx.Response:
    return await client.request(method, url + path, headers={"host": "meta.miraheze.org"})


def client_for(transport: CacheTransport, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)


PLAIN = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


async def test_an_answer_keeps_its_status_reason_headers_body_and_host():
    server = await Server().start()
    async with client_for(CacheTransport(PLAIN)) as client:
        response = await request(client, server.url)
    await server.stop()
    assert (response.status_code, response.reason_phrase, response.text) == (200, "Purged", "200 Purged\n")
    assert response.headers["x-varnish"] == "32771" and response.http_version == "HTTP/1.1"
    assert server.requests == [("PURGE", "/wiki/Main_Page", "meta.miraheze.org")]


async def test_a_query_string_and_a_body_reach_the_server():
    seen = []

    async def echo(event: h11.Request, server: Server) -> bytes:
        seen.append(event.target)
        return purged()

    server = await Server(echo).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        response = await client.request("BAN", server.url + "/w/index.php?title=Main_Page", json={"a": 1},
                                        headers={"host": "meta.miraheze.org"})
    await server.stop()
    assert response.status_code == 200 and seen == [b"/w/index.php?title=Main_Page"]


async def test_a_connection_is_kept_and_reused_for_the_next_request():
    server = await Server().start()
    async with client_for(CacheTransport(PLAIN)) as client:
        for path in ("/a", "/b", "/c"):
            assert (await request(client, server.url, path)).status_code == 200
    await server.stop()
    assert server.connections == 1 and len(server.requests) == 3


async def test_concurrent_requests_each_get_a_connection_and_then_share_them():
    server = await Server().start()
    async with client_for(CacheTransport(PLAIN)) as client:
        first = await asyncio.gather(*(request(client, server.url, f"/p{i}") for i in range(6)))
        second = await asyncio.gather(*(request(client, server.url, f"/q{i}", "GET") for i in range(6)))
    await server.stop()
    assert [r.status_code for r in first + second] == [200] * 12
    assert server.connections == 6  # the GETs went over the PURGEs' connections


async def test_preconnect_opens_connections_that_carry_no_request_until_one_is_made():
    server = await Server().start()
    transport = CacheTransport(PLAIN)
    async with client_for(transport) as client:
        transport.preconnect(server.url, 4, timeout=5)
        for _ in range(500):
            if server.connections == 4:
                break
            await asyncio.sleep(0.01)
        assert (server.connections, server.requests) == (4, [])
        answers = await asyncio.gather(*(request(client, server.url, f"/p{i}") for i in range(4)))
        assert [a.status_code for a in answers] == [200] * 4
        assert server.connections == 4  # the requests took the connections opened ahead
    await server.stop()


async def test_requests_take_connections_still_being_opened_ahead():
    server = await Server().start()
    transport = CacheTransport(PLAIN)
    async with client_for(transport) as client:
        transport.preconnect(server.url, 3, timeout=5)  # no wait: the requests claim the connects in flight
        answers = await asyncio.gather(*(request(client, server.url, f"/p{i}") for i in range(3)))
    await server.stop()
    assert [a.status_code for a in answers] == [200] * 3 and server.connections == 3


async def test_preconnect_resolves_a_host_name():
    server = await Server().start()
    url = server.url.replace("127.0.0.1", "localhost")
    transport = CacheTransport(PLAIN)
    async with client_for(transport) as client:
        transport.preconnect(url, 2, timeout=5)
        answers = await asyncio.gather(*(request(client, url, f"/p{i}") for i in range(2)))
    await server.stop()
    assert [a.status_code for a in answers] == [200] * 2 and server.connections == 2


async def test_a_connection_opened_ahead_that_the_cache_closed_is_replaced_before_sending():
    """A cache may drop a connection no request came on (a full accept queue, an idle timeout):
    the request goes out on a new connection instead of failing on the dead one."""
    dropped: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(dropped) < 2:
            dropped.append(1)
            writer.close()
            return
        await reader.readuntil(b"\r\n\r\n")
        writer.write(purged())
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    transport = CacheTransport(PLAIN)
    async with client_for(transport) as client:
        transport.preconnect(url, 2, timeout=5)
        for _ in range(500):
            if len(dropped) == 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the FINs reach the client
        answers = await asyncio.gather(*(request(client, url, f"/p{i}") for i in range(2)))
    listener.close()
    await listener.wait_closed()
    assert [a.status_code for a in answers] == [200] * 2 and len(dropped) == 2


async def test_requests_cancelled_while_taking_connections_opened_ahead_leave_no_socket_open():
    import warnings

    server = await Server().start()
    transport = CacheTransport(PLAIN)
    with warnings.catch_warnings(record=True) as caught:  # an unclosed socket says so when it is freed
        warnings.simplefilter("always")
        async with client_for(transport) as client:
            for turns in range(4):  # cut short at each step of taking a connection: send, wrap, answer
                transport.preconnect(server.url, 3, timeout=5)
                pending = [asyncio.ensure_future(request(client, server.url, f"/p{i}")) for i in range(3)]
                for _ in range(turns):
                    await asyncio.sleep(0)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        gc.collect()
    await server.stop()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_an_answer_with_connection_close_is_not_reused():
    async def closing(event: h11.Request, server: Server) -> bytes:
        return purged([(b"connection", b"close")])

    server = await Server(closing).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        for path in ("/a", "/b"):
            assert (await request(client, server.url, path)).status_code == 200
    await server.stop()
    assert server.connections == 2


STRAY = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"


async def test_bytes_past_an_answer_spoil_the_connection():
    async def answer_and_more(event: h11.Request, server: Server) -> bytes:
        return purged() + (STRAY if event.target == b"/a" else b"")

    server = await Server(answer_and_more).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        await request(client, server.url, "/a")
        second = await request(client, server.url, "/b")
    await server.stop()
    assert second.status_code == 200 and server.connections == 2


async def test_bytes_arriving_on_an_idle_connection_spoil_it():
    server = await Server(stray=STRAY).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        await request(client, server.url, "/a")
        await asyncio.sleep(0.1)  # the stray answer arrives while the connection is idle
        second = await request(client, server.url, "/b")
    await server.stop()
    assert second.status_code == 200 and server.connections == 2  # a reused one would have answered 204


async def test_an_idle_connection_past_its_expiry_is_not_reused():
    server = await Server().start()
    async with client_for(CacheTransport(PLAIN, keepalive_expiry=0.05)) as client:
        await request(client, server.url, "/a")
        await asyncio.sleep(0.1)
        await request(client, server.url, "/b")
    await server.stop()
    assert server.connections == 2


async def test_a_chunked_answer_is_read_whole():
    async def chunked(event: h11.Request, server: Server) -> bytes:
        return (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-cache: MISS\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    server = await Server(chunked).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        response = await request(client, server.url, method="GET")
    await server.stop()
    assert response.text == "hello world" and response.headers["x-cache"] == "MISS"


async def test_no_more_requests_in_flight_than_the_limit():
    server = await Server().start()
    server.release.clear()
    async with client_for(CacheTransport(PLAIN, max_connections=2)) as client:
        pending = asyncio.gather(*(request(client, server.url, f"/p{i}") for i in range(5)))
        await asyncio.sleep(0.1)
        assert server.in_flight == 2
        server.release.set()
        answers = await pending
    await server.stop()
    assert [a.status_code for a in answers] == [200] * 5 and server.most_in_flight == 2


async def test_aclose_closes_idle_connections():
    server = await Server().start()
    client = client_for(CacheTransport(PLAIN))
    await request(client, server.url)
    await client.aclose()
    for _ in range(500):
        if server.closed == 1:
            break
        await asyncio.sleep(0.01)
    await server.stop()
    assert server.closed == 1


# --- failures: the httpx exceptions the executors turn into one line -----------------------------


async def free_port_url() -> str:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return f"http://127.0.0.1:{port}"


async def test_a_refused_connection_is_a_connect_error():
    url = await free_port_url()
    async with client_for(CacheTransport(PLAIN)) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await request(client, url)
    assert caught.value.request.url.path == "/wiki/Main_Page"
    assert transport_failure(url, caught.value).endswith("connection refused")


async def test_a_refused_preconnect_is_reported_by_the_request():
    url = await free_port_url()
    transport = CacheTransport(PLAIN)
    async with client_for(transport) as client:
        transport.preconnect(url, 2, timeout=5)
        with pytest.raises(httpx.ConnectError) as caught:
            await request(client, url)
    assert caught.value.request.url.path == "/wiki/Main_Page"
    assert "connection refused" in transport_failure(url, caught.value)


async def test_no_answer_in_time_is_a_read_timeout():
    server = await Server().start()
    server.release.clear()
    async with client_for(CacheTransport(PLAIN), timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await request(client, server.url)
    server.release.set()
    await server.stop()


async def test_a_connection_closed_without_an_answer_is_a_protocol_error():
    async def hang_up(event: h11.Request, server: Server) -> None:
        return None

    server = await Server(hang_up).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await request(client, server.url)
    await server.stop()
    assert "closed the connection without a proper answer" in transport_failure(server.url, caught.value)


async def test_garbage_is_a_protocol_error():
    async def garbage(event: h11.Request, server: Server) -> bytes:
        return b"SMTP ready\r\n\r\n"

    server = await Server(garbage).start()
    async with client_for(CacheTransport(PLAIN)) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await request(client, server.url)
    await server.stop()


# --- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return server_context, str(path)


async def test_https_verifies_the_cache_certificate(tls):
    server_context, ca_path = tls
    server = await Server().start(server_context)
    async with client_for(CacheTransport(cache_tls(server.url, ca_path))) as client:
        assert (await request(client, server.url)).status_code == 200
    async with client_for(CacheTransport(cache_tls(server.url, True))) as client:  # the public CAs: not ours
        with pytest.raises(httpx.ConnectError) as caught:
            await request(client, server.url)
    await server.stop()
    assert transport_failure(server.url, caught.value).startswith("TLS error")


async def test_https_connections_opened_ahead_make_their_handshake_before_the_request(tls):
    server_context, ca_path = tls
    server = await Server().start(server_context)
    transport = CacheTransport(cache_tls(server.url, ca_path))
    async with client_for(transport) as client:
        transport.preconnect(server.url, 3, timeout=5)
        answers = await asyncio.gather(*(request(client, server.url, f"/p{i}") for i in range(3)))
    wrong = CacheTransport(cache_tls(server.url, True))  # the public CAs: not ours
    async with client_for(wrong) as client:
        wrong.preconnect(server.url, 1, timeout=5)
        with pytest.raises(httpx.ConnectError) as caught:
            await request(client, server.url)
    await server.stop()
    assert [a.status_code for a in answers] == [200] * 3
    assert server.connections == 3 and sorted(path for _, path, _ in server.requests) == ["/p0", "/p1", "/p2"]
    assert transport_failure(server.url, caught.value).startswith("TLS error")


def test_a_plain_http_cache_loads_no_ca_and_https_caches_share_one_context(tls):
    _, ca_path = tls
    plain = cache_tls("http://10.0.0.1:81", True)
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname and plain.cert_store_stats()["x509_ca"] == 0
    assert cache_tls("https://10.0.0.1:443", ca_path) is cache_tls("https://10.0.0.2:443", ca_path)
    assert cache_tls("https://10.0.0.1:443", True).cert_store_stats()["x509_ca"] > 0


# --- the executor on top ----------------------------------------------------------------------------


async def test_a_cache_executor_reports_a_down_cache_in_one_line():
    url = await free_port_url()
    config = parse_config(f"farm: {{name: t}}\nactions:\n  caches:\n    - {{name: cp161, url: '{url}'}}\n")
    session = Session(Operator("alice", "bast161"))
    session.enable_write(None, via="test")
    executor = CacheExecutor(config.actions.caches[0], session)
    executor.preconnect(1)
    step = Step(1, "purge", "cache:cp161", "cp161", "https://meta.miraheze.org/wiki/Main_Page",
                HttpRequest("PURGE", url + "/wiki/Main_Page", (("Host", "meta.miraheze.org"),)))
    try:
        sent = await executor.execute(step)
    finally:
        await executor.aclose()
    assert sent.status == DOWN and sent.detail.endswith("connection refused")


# --- the engine: connections opened ahead, the verify GETs on the PURGEs' connections ------------


def varnish(audit) -> Answer:
    """PURGE -> 200 Purged, GET -> a miss; each request notes whether the intent was on disk when it came."""

    async def answer(event: h11.Request, server: Server) -> bytes:
        server.intent_seen.append(audit.exists() and '"event": "intent"' in audit.read_text())
        if event.method == b"GET":
            return purged([(b"x-cache", b"MISS"), (b"age", b"0")], reason=b"OK")
        return purged()

    return answer


@dataclass
class Farm:
    servers: list[Server]
    engine: ActionEngine
    audit: Path


async def farm_of(tmp_path, caches: int = 2) -> Farm:
    audit = tmp_path / "audit.jsonl"
    servers = []
    for _ in range(caches):
        servers.append(await Server(varnish(audit)).start())
    listed = ", ".join(f"{{name: cp{161 + 10 * i}, url: '{s.url}'}}" for i, s in enumerate(servers))
    config = parse_config(f"farm: {{name: t}}\nactions:\n  caches: [{listed}]\n  audit: {{path: '{audit}'}}\n"
                          f"  locks: {{dir: '{tmp_path / 'locks'}'}}\n")
    engine = ActionEngine(config, Session(Operator("alice", "bast161")))
    engine.session.enable_write(engine.audit, via="test")
    return Farm(servers, engine, audit)


URLS3 = tuple(f"https://meta.miraheze.org/wiki/Page_{i}" for i in range(3))


async def test_a_purge_verifies_over_its_own_connections_and_sends_nothing_before_the_intent(tmp_path):
    farm = await farm_of(tmp_path)
    plan = farm.engine.plan(PurgeUrls(URLS3), "testing connections")
    try:
        result = await farm.engine.run(plan, Confirmation(challenge_for(plan).expected))
    finally:
        await farm.engine.aclose()
    for server in farm.servers:
        await server.stop()
        assert sorted(m for m, _, _ in server.requests) == ["GET"] * 3 + ["PURGE"] * 3
        assert server.connections == 3  # one per URL, opened ahead; the verify GETs went over them
        assert server.intent_seen == [True] * 6
    assert result.outcome == "success" and result.verified == 6


async def test_a_refused_run_may_have_connected_but_sends_no_request(tmp_path):
    farm = await farm_of(tmp_path)
    other = ActionEngine(farm.engine.config, Session(Operator("bob", "bast171")))
    plan = farm.engine.plan(PurgeUrls(URLS3), "testing connections")
    try:
        async with other.locks.hold(other.plan(PurgeUrls(URLS3[:1]), "bob holds one")):
            with pytest.raises(LockHeld):
                await farm.engine.run(plan, Confirmation(challenge_for(plan).expected))
            for _ in range(500):  # the connections opened ahead of the refused run
                if all(server.connections == 3 for server in farm.servers):
                    break
                await asyncio.sleep(0.01)
    finally:
        await farm.engine.aclose()
    for server in farm.servers:
        await server.stop()
        assert (server.connections, server.requests) == (3, [])
    assert not farm.audit.exists() or '"intent"' not in farm.audit.read_text()



@pytest.mark.filterwarnings("ignore::ResourceWarning")  # the dead loops' transport objects, collected below
def test_a_client_used_again_under_another_loop_opens_new_connections():
    """One asyncio.run per CLI call: a connection of a finished loop is never reused."""
    server_loop = asyncio.new_event_loop()
    thread = threading.Thread(target=server_loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(Server().start(), server_loop).result(5)
    client = client_for(CacheTransport(PLAIN))
    try:
        first = asyncio.run(request(client, server.url))
        second = asyncio.run(request(client, server.url))
        asyncio.run(client.aclose())  # a third loop: the second one's connection is ended, not reused
        for _ in range(500):
            if server.closed == 2:
                break
            time.sleep(0.01)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), server_loop).result(5)
        server_loop.call_soon_threadsafe(server_loop.stop)
        thread.join(5)
        server_loop.close()
        gc.collect()
    assert (first.status_code, second.status_code, server.connections, server.closed) == (200, 200, 2, 2)
