"""The caches' HTTP client (CacheExecutor: httpx.AsyncClient) on the wire, against a loopback server
that reads raw bytes: the request line byte for byte (`%2F`, a non-ASCII title, dot segments), the
Host header per request, no proxy from the environment, no cookie sent back, every request of a
purge at once on a connection of its own, nothing reaching a cache before the audit intent is on
disk, and failures as one line; and against the simulated caches."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme

from console import __version__
from console.actions import ActionEngine, Confirmation, Operator, PurgeUrls, Refused, Session, challenge_for
from console.actions.catalog import MAX_URLS
from console.actions.executors import DOWN, OK, CacheExecutor, cache_tls
from console.actions.locks import LockHeld
from console.actions.plan import HttpRequest, Step
from console.core.config import parse_config

ALICE = Operator("alice", "bast161")


@dataclass
class Seen:
    """One request as it arrived: the request line and the headers, raw."""

    line: bytes
    headers: list[tuple[bytes, bytes]]

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass
class Cache:
    """A loopback cache in a thread of its own: answers PURGE with 200 Purged and anything else with a
    miss (both setting a cookie), records every connection and request, and whether the audit intent
    was on disk when each connection was accepted."""

    audit: Path | None = None
    batch: int = 1  # answer in batches: nothing until `batch` more requests are in (then all at once)
    answer: bytes | None = None  # a fixed answer instead (b"" = close without one)
    context: ssl.SSLContext | None = None
    connections: int = 0
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of each accept
    intent_at_accept: list[bool] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    most_in_flight: dict[bytes, int] = field(default_factory=dict)  # method -> most requests in at once
    url: str = ""
    _in_flight: dict[bytes, int] = field(default_factory=dict)
    _batch_in: asyncio.Condition = field(default_factory=asyncio.Condition)  # bound to the server's loop when first used
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.base_events.Server | None = None

    def start(self) -> Cache:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context), self._loop).result(5)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.context else 'http'}://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        assert self._loop is not None and self._server is not None and self._thread is not None

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pending:  # connections still waiting for their answer's turn
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _intent_on_disk(self) -> bool:
        return self.audit is not None and self.audit.exists() and '"event": "intent"' in self.audit.read_text()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.accepted_at.append(time.monotonic())
        self.intent_at_accept.append(self._intent_on_disk())
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *rest = head[:-4].split(b"\r\n")
                headers = [tuple(part.strip() for part in h.split(b":", 1)) for h in rest]
                self.requests.append(Seen(line, headers))  # type: ignore[arg-type]
                method = line.split()[0]
                self._in_flight[method] = self._in_flight.get(method, 0) + 1
                self.most_in_flight[method] = max(self.most_in_flight.get(method, 0), self._in_flight[method])
                until = -(-len(self.requests) // self.batch) * self.batch  # the end of this request's batch
                async with self._batch_in:
                    self._batch_in.notify_all()
                    try:
                        await asyncio.wait_for(self._batch_in.wait_for(lambda until=until: len(self.requests) >= until), 2)
                    except TimeoutError:
                        pass  # answer anyway: the test's assertions say what was missing
                self._in_flight[method] -= 1
                if self.answer is not None:
                    writer.write(self.answer)
                    await writer.drain()
                    return
                purge = line.startswith(b"PURGE ")
                body = b"200 Purged\n" if purge else b"<html>page</html>\n"
                writer.write(b"HTTP/1.1 200 " + (b"Purged" if purge else b"OK") + b"\r\nX-Varnish: 32771\r\n"
                             + (b"" if purge else b"X-Cache: MISS\r\nAge: 0\r\n")
                             + b"Set-Cookie: GeoIP=DE; Path=/\r\nContent-Length: " + str(len(body)).encode()
                             + b"\r\n\r\n" + body)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
def caches():
    started: list[Cache] = []

    def make(**kwargs) -> Cache:
        cache = Cache(**kwargs).start()
        started.append(cache)
        return cache

    yield make
    for cache in started:
        cache.stop()


def engine_for(tmp_path: Path, *caches: Cache) -> ActionEngine:
    listed = ", ".join(f"{{name: cp{161 + 10 * i}, url: '{c.url}'}}" for i, c in enumerate(caches))
    config = parse_config(f"farm: {{name: t}}\nactions:\n  caches: [{listed}]\n"
                          f"  audit: {{path: '{tmp_path / 'audit.jsonl'}'}}\n  locks: {{dir: '{tmp_path / 'locks'}'}}\n")
    engine = ActionEngine(config, Session(ALICE))
    engine.session.enable_write(engine.audit, via="test")
    return engine


def purge(engine: ActionEngine, urls: tuple[str, ...]):
    plan = engine.plan(PurgeUrls(urls), "testing the cache client")

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected))
        finally:
            await engine.aclose()

    return asyncio.run(go())


# --- the request line, the headers ----------------------------------------------------------------

TITLES = {  # as the operator gives it -> the request line's target
    "https://meta.miraheze.org/wiki/AC%2FDC": b"/wiki/AC%2FDC",
    "https://meta.miraheze.org/wiki/Äpfel": b"/wiki/%C3%84pfel",  # UTF-8, as a browser and MediaWiki send it
    "https://meta.miraheze.org/w/index.php?title=Spezial:Suche&search=%C3%84pfel%2Fx&go=Go":
        b"/w/index.php?title=Spezial:Suche&search=%C3%84pfel%2Fx&go=Go",
    "https://meta.miraheze.org/w/index.php?title=Äpfel&action=raw": b"/w/index.php?title=%C3%84pfel&action=raw",
    "https://meta.miraheze.org/wiki/a/./b/../c": b"/wiki/a/./b/../c",  # httpx.URL would send /wiki/a/c
    'https://meta.miraheze.org/wiki/"Quoted"': b'/wiki/"Quoted"',  # httpx.URL would send %22
}


def test_the_request_line_is_the_path_and_query_byte_for_byte(caches, tmp_path):
    cache = caches()
    result = purge(engine_for(tmp_path, cache), tuple(TITLES))
    assert result.outcome == "success" and result.verified == len(TITLES)
    lines = sorted(seen.line for seen in cache.requests)
    assert lines == sorted([b"PURGE " + target + b" HTTP/1.1" for target in TITLES.values()]
                           + [b"GET " + target + b" HTTP/1.1" for target in TITLES.values()])
    for seen in cache.requests:
        assert seen.header(b"host") == b"meta.miraheze.org"  # the site's, not the cache's address
        assert seen.header(b"user-agent") == f"opsconsole/{__version__}".encode()
        assert seen.header(b"accept-encoding") is None
        assert seen.header(b"cookie") is None  # every answer set one: none goes back


def test_each_request_carries_its_own_host(caches, tmp_path):
    cache = caches()
    urls = ("https://meta.miraheze.org/wiki/Main_Page", "https://login.miraheze.org/wiki/Special:UserLogin",
            "http://static.wikitide.net:8080/favicon.ico")
    assert purge(engine_for(tmp_path, cache), urls).outcome == "success"
    by_target = {seen.line.split()[1]: seen.header(b"host") for seen in cache.requests}
    assert by_target == {b"/wiki/Main_Page": b"meta.miraheze.org", b"/wiki/Special:UserLogin": b"login.miraheze.org",
                         b"/favicon.ico": b"static.wikitide.net:8080"}


# --- the environment's proxy --------------------------------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def test_a_proxy_in_the_environment_never_carries_a_purge(caches, tmp_path, monkeypatch):
    proxy = caches(answer=b"HTTP/1.1 200 Purged by the proxy\r\nContent-Length: 0\r\n\r\n")
    cache = caches()
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    result = purge(engine_for(tmp_path, cache), ("https://meta.miraheze.org/wiki/Main_Page",))
    assert result.outcome == "success" and result.verified == 1
    assert proxy.connections == 0 and proxy.requests == []
    assert [seen.line for seen in cache.requests] == [b"PURGE /wiki/Main_Page HTTP/1.1", b"GET /wiki/Main_Page HTTP/1.1"]


# --- connections ----------------------------------------------------------------------------------------


def test_every_request_is_in_flight_at_once_each_on_a_connection_of_its_own(caches, tmp_path):
    """As many URLs as a purge may name: every PURGE at once, then every verify GET at once, each on
    a new connection (a pool holding idle ones costs more than opening them; httpx's default keeps 20)."""
    urls = tuple(f"https://meta.miraheze.org/wiki/Page_{i}" for i in range(MAX_URLS))
    cache = caches(batch=MAX_URLS)
    result = purge(engine_for(tmp_path, cache), urls)
    assert result.outcome == "success" and result.verified == MAX_URLS
    assert cache.most_in_flight == {b"PURGE": MAX_URLS, b"GET": MAX_URLS}  # every request out before the first answer
    assert cache.connections == 2 * MAX_URLS
    assert sorted(seen.line.split()[0] for seen in cache.requests) == [b"GET"] * MAX_URLS + [b"PURGE"] * MAX_URLS


# --- nothing before the intent ----------------------------------------------------------------------


def slow_intent(engine: ActionEngine, written: list[float]) -> None:
    """The intent's append takes 0.3 s more and notes when it returned (fsynced): a connection opened
    ahead of it (a warm-up, a preconnect) would reach the cache in that window."""
    append = engine.audit.append

    def slowly(record):
        if record.get("event") != "intent":
            return append(record)
        time.sleep(0.3)
        recorded = append(record)
        written.append(time.monotonic())
        return recorded

    engine.audit.append = slowly  # type: ignore[method-assign]


def test_no_connection_reaches_a_cache_before_the_intent_is_on_disk(caches, tmp_path):
    audit = tmp_path / "audit.jsonl"
    first, second = caches(audit=audit), caches(audit=audit)
    engine = engine_for(tmp_path, first, second)
    written: list[float] = []
    slow_intent(engine, written)
    result = purge(engine, tuple(f"https://meta.miraheze.org/wiki/Page_{i}" for i in range(3)))
    assert result.outcome == "success"
    for cache in (first, second):
        assert cache.connections == 6 and cache.intent_at_accept == [True] * 6  # 3 PURGEs, 3 GETs
        assert min(cache.accepted_at) > written[0]


def test_a_refused_run_opens_no_connection(caches, tmp_path):
    cache = caches(audit=tmp_path / "audit.jsonl")
    engine = engine_for(tmp_path, cache)
    other = ActionEngine(engine.config, Session(Operator("bob", "bast171")))
    urls = tuple(f"https://meta.miraheze.org/wiki/Page_{i}" for i in range(3))
    plan = engine.plan(PurgeUrls(urls), "testing connections")

    async def go():
        try:
            async with other.locks.hold(other.plan(PurgeUrls(urls[:1]), "bob holds one")):
                with pytest.raises(LockHeld):
                    await engine.run(plan, Confirmation(challenge_for(plan).expected))
                await asyncio.sleep(0.2)  # time for a connection opened ahead to arrive
        finally:
            await engine.aclose()

    asyncio.run(go())
    assert (cache.connections, cache.requests) == (0, [])
    assert '"intent"' not in engine.audit.path.read_text()


def test_an_intent_that_cannot_be_written_refuses_sends_nothing_and_releases_the_locks(caches, tmp_path):
    cache = caches()
    engine = engine_for(tmp_path, cache)
    plan = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page",)), "testing the audit")
    engine.audit.path.unlink()
    os.mkfifo(engine.audit.path)  # not a regular file: the audit log refuses to write

    async def go():
        try:
            with pytest.raises(Refused, match="nothing was sent"):
                await engine.run(plan, Confirmation(challenge_for(plan).expected))
            return await engine.locks.list()
        finally:
            await engine.aclose()

    assert asyncio.run(go()) == []
    assert (cache.connections, cache.requests) == (0, [])


# --- failures, TLS ------------------------------------------------------------------------------------


def writable() -> Session:
    session = Session(ALICE)
    session.enable_write(None, via="test")
    return session


def executor_for(url: str, verify: str | None = None, timeout: float = 5.0) -> CacheExecutor:
    """A cache's executor; `verify` a CA bundle's path, else the public CAs."""
    setting = f", timeout: {timeout}" + (f", verify: '{verify}'" if verify else "")
    config = parse_config(f"farm: {{name: t}}\nactions:\n  caches:\n    - {{name: cp161, url: '{url}'{setting}}}\n")
    return CacheExecutor(config.actions.caches[0], writable())


def step_on(url: str) -> Step:
    return Step(1, "purge", "cache:cp161", "cp161", "https://meta.miraheze.org/wiki/Main_Page",
                HttpRequest("PURGE", url + "/wiki/Main_Page", (("Host", "meta.miraheze.org"),)))


def free_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def execute(executor: CacheExecutor, url: str):
    try:
        return await executor.execute(step_on(url))
    finally:
        await executor.aclose()


async def test_an_answer_keeps_its_status_and_reason(caches):
    cache = caches()
    sent = await execute(executor_for(cache.url), cache.url)
    assert (sent.status, sent.http_status) == (OK, 200) and sent.detail.startswith("200 Purged in ")


async def test_a_down_cache_is_one_line():
    url = free_port_url()
    sent = await execute(executor_for(url), url)
    assert sent.status == DOWN and sent.detail.endswith("connection refused")


async def test_a_cache_closing_without_an_answer_is_one_line(caches):
    cache = caches(answer=b"")
    sent = await execute(executor_for(cache.url), cache.url)
    assert sent.status == DOWN and "closed the connection without a proper answer" in sent.detail


async def test_garbage_is_one_line(caches):
    cache = caches(answer=b"SMTP ready\r\n\r\n")
    sent = await execute(executor_for(cache.url), cache.url)
    assert sent.status == DOWN and sent.http_status is None and sent.detail


async def test_no_answer_in_time_is_one_line(caches):
    cache = caches(batch=2)  # the one request waits 2 s for a second that never comes
    sent = await execute(executor_for(cache.url, timeout=0.5), cache.url)
    assert sent.status == DOWN and sent.detail == "timed out after 0.5s"


def test_an_executor_used_again_under_another_event_loop_works(caches):
    """One asyncio.run per CLI call: nothing of a finished loop is used again (no connection is kept)."""
    cache = caches()
    executor = executor_for(cache.url)
    first = asyncio.run(executor.execute(step_on(cache.url)))
    second = asyncio.run(executor.execute(step_on(cache.url)))
    asyncio.run(executor.aclose())
    assert (first.status, second.status, cache.connections) == (OK, OK, 2)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return server_context, str(path)


async def test_https_verifies_the_cache_certificate(caches, tls):
    server_context, ca_path = tls
    cache = caches(context=server_context)
    good = await execute(executor_for(cache.url, ca_path), cache.url)
    wrong = await execute(executor_for(cache.url), cache.url)  # the public CAs: not ours
    assert good.status == OK
    assert wrong.status == DOWN and "TLS error" in wrong.detail
    assert [seen.line for seen in cache.requests] == [b"PURGE /wiki/Main_Page HTTP/1.1"]


def test_a_plain_http_cache_loads_no_ca_and_https_caches_share_one_context(tls):
    _, ca_path = tls
    plain = cache_tls("http://10.0.0.1:81", True)
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname and plain.cert_store_stats()["x509_ca"] == 0
    assert cache_tls("https://10.0.0.1:443", ca_path) is cache_tls("https://10.0.0.2:443", ca_path)
    assert cache_tls("https://10.0.0.1:443", True).cert_store_stats()["x509_ca"] > 0


# --- the simulated caches: what they store under is what the purge names --------------------------------


@pytest.mark.sim
def test_a_purge_reaches_the_object_a_browser_stored(sim_farm_factory, tmp_path):
    farm = sim_farm_factory()
    pages = {"https://meta.miraheze.org/wiki/Äpfel": "/wiki/%C3%84pfel", "https://meta.miraheze.org/wiki/AC%2FDC": "/wiki/AC%2FDC"}
    for url in farm.cache_urls.values():
        for path in pages.values():  # a browser's GET through the cache stores the page under its request target
            assert httpx.get(url + path, headers={"Host": "meta.miraheze.org"}, timeout=5).headers["x-cache"] == "MISS"
    config = parse_config(farm.config_yaml(), "<sim>")
    engine = ActionEngine(config, Session(ALICE))
    engine.session.enable_write(engine.audit, via="test")
    result = purge(engine, tuple(pages))
    assert result.outcome == "success" and result.verified == len(pages) * len(farm.cache_urls)
    assert {s.verify.hit for s in result.steps} == {False}
    for state in farm.model.caches.values():
        assert sorted(path for method, _, path in state.requests if method == "PURGE") == sorted(pages.values())
