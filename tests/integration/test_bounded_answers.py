"""Every answer bounded in bytes and in total time (issue 20, items 6, 7 and 10), against hostile HTTPS
servers on 127.0.0.1 written here: one whose body never ends (sent as fast as the client reads it),
one that trickles a byte every 0.2 s. Every HTTP client of console/ outside sim/ meets both, through
its real code down to the socket (httpx, requests under proxmoxer),
with `max_answer_mib: 1` and a 1 s timeout: it fails with the clear message, within the time, having
let the server send at most the cap + 64 KiB. Then: the Icinga event stream's 1 MiB line cap,
`opsconsole status` and a cancelled Proxmox fetch (what `q` does) ending at once whatever the
server does, the imports made before the deadline, and the default cap."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
import trustme

from console.actions import Operator, Session
from console.actions.audit import GelfSender
from console.actions.depool import DepoolError, DepoolServiceExecutor
from console.actions.executors import CacheExecutor, IcingaExecutor
from console.actions.plan import Command, HttpRequest, Step
from console.actions.power import ProxmoxFailure, ProxmoxPower, proxmox_action_source
from console.actions.salt import SaltExecutor
from console.core.config import AppConfig, ConfigError, parse_config
from console.core.model import StreamStatus
from console.sources import ProbesSource, SourceError, build_source
from console.sources.bounded import DEFAULT_MAX_ANSWER, MIB, max_answer
from console.sources.icinga_stream import Backoff, IcingaEventStream
from console.sources.probes import MAX_BODY

REPO = Path(__file__).resolve().parents[2]
CAP = 1 * MIB  # max_answer_mib: 1
SLOP = 64 * 1024  # what may be in flight when the client stops reading
TIMEOUT = 1.0  # every client's timeout here
FLOOD_TIMEOUT = 8.0  # ... where the cap must stop a body first
LATE = 2.5  # generous: how much longer than its timeout a client may take on a loaded 2-core machine
TRICKLE_EVERY = 0.2  # seconds between two bytes of a trickling answer
FLOOD_CHUNK = 32 * 1024
ALICE = Operator("alice", "bast161")
TOO_LARGE = "answer larger than 1 MiB"
TOO_SLOW = "no complete answer in 1 s"


# --- the hostile server ----------------------------------------------------------------------------


def _proc_address(address: tuple[str, int]) -> str:
    host, port = address[:2]
    return f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"  # /proc/net/tcp's spelling (x86)


def unread(conn: socket.socket) -> int | None:
    """Bytes sent on `conn` the client has not read yet (our unacknowledged send queue + the client's
    receive queue, from /proc/net/tcp); None once the client's socket is closed (or /proc says nothing)."""
    try:
        here, there = _proc_address(conn.getsockname()), _proc_address(conn.getpeername())
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    ours = theirs = None
    for line in lines:
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if local == here and remote == there:
            ours = int(queues.split(":")[0], 16)
        elif local == there and remote == here:
            if state != "01":  # not ESTABLISHED: the client closed it
                return None
            theirs = int(queues.split(":")[1], 16)
    return None if theirs is None else (ours or 0) + theirs


class Hostile:
    """Answers every request on 127.0.0.1 (over TLS) with `status` and a body that never ends: "flood"
    sends it 32 KiB at a time, each once the client has read the last (so what the server counts as
    sent is what the client took, give or take a chunk); "trickle" sends a byte every 0.2 s."""

    def __init__(self, mode: str, tls: ssl.SSLContext, status: int = 200) -> None:
        self.mode, self.tls, self.status = mode, tls, status
        self.sent: list[int] = []  # body bytes sent on each connection, until the client closed it
        self.ended: list[float] = []  # time.monotonic() each connection ended
        self.requests: list[str] = []  # the request lines
        self.accepted = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Hostile:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self._spawn(self._accept)
        return self

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.sock.getsockname()[1]}"

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            self._spawn(self._serve, conn)

    def _serve(self, raw: socket.socket) -> None:
        sent = 0
        conn = raw
        try:
            raw.settimeout(5)
            conn = self.tls.wrap_socket(raw, server_side=True)
            self.requests.append(self._read_request(conn))
            reason = {200: "OK", 500: "Internal Server Error"}.get(self.status, "Whatever")
            conn.sendall(f"HTTP/1.1 {self.status} {reason}\r\nContent-Type: application/json\r\n"
                         "Connection: close\r\n\r\n".encode())  # no length: the body ends when the connection does
            chunk = b"x" * FLOOD_CHUNK
            while not self._stop.is_set():
                if self.mode == "flood":
                    conn.sendall(chunk)
                    sent += len(chunk)
                    while (left := unread(conn)) and not self._stop.is_set():
                        time.sleep(0.0005)
                    if left is None:
                        break  # the client closed the connection
                else:
                    conn.sendall(b" ")
                    sent += 1
                    self._stop.wait(TRICKLE_EVERY)
        except OSError:  # the client closed it (reset, broken pipe); ssl.SSLError is an OSError
            pass
        finally:
            self.sent.append(sent)
            self.ended.append(time.monotonic())
            conn.close()

    def settled(self, within: float = 5.0) -> list[int]:
        """`sent`, once every connection accepted so far has ended (the client closed it)."""
        started = time.monotonic()
        while len(self.ended) < self.accepted and time.monotonic() - started < within:
            time.sleep(0.01)
        return self.sent

    @staticmethod
    def _read_request(conn: socket.socket) -> str:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                raise ConnectionError("closed before the request")
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        return head.split(b"\r\n", 1)[0].decode()

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def hostile(server_tls):
    """hostile(mode, status=200) -> a started Hostile server, stopped after the test."""
    servers: list[Hostile] = []

    def start(mode: str, status: int = 200) -> Hostile:
        servers.append(Hostile(mode, server_tls, status).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


# --- one config: every client at the one server -----------------------------------------------------


def write_private(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def config_yaml(url: str, directory: Path, ca: trustme.CA, **extra: Any) -> str:
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    secret = write_private(directory / "secret", "s3cret-value-4711\n")
    totp = write_private(directory / "totp", base64.b32encode(b"0123456789abcdefghij").decode() + "\n")
    common = f"verify: {ca_path}, timeout: {extra.get('timeout', TIMEOUT):g}, max_answer_mib: 1"
    return f"""
farm: {{name: hostile}}
sources:
  proxmox: [{{name: pve, url: "{url}", token_id: "root@pam!opsconsole", token_secret: {{file: {secret}}}, {common}}}]
  puppetdb: [{{name: puppetdb, url: "{url}", {common}}}]
  icinga: [{{name: icinga, url: "{url}", username: opsconsole, password: {{file: {secret}}}, stream: false, {common}}}]
  graylog: [{{name: graylog, url: "{url}", token: {{file: {secret}}}, {common}}}]
  commits: [{{name: mw-config, github: miraheze/mw-config, api_url: "{url}", token: {{file: {secret}}}, {common}}}]
services:
  - name: health
    hosts: "mw*"
    probes: [{{kind: http, url: "{url}/check", contains: ALIVE, verify: {ca_path}, timeout: {TIMEOUT:g}}}]
actions:
  timeout: {TIMEOUT:g}
  caches: [{{name: cp1, url: "{url}", verify: {ca_path}, timeout: {TIMEOUT:g}, depool: "{url}"}}]
  depool: {{verify: {ca_path}, timeout: {TIMEOUT:g}, totp_secret: {{file: {totp}}}}}
  gelf: {{url: "{url}/gelf", verify: {ca_path}, timeout: {TIMEOUT:g}}}
  executor: salt
  salt: {{url: "{url}", username: salt, password: {{file: {secret}}}, verify: {ca_path}, timeout: {TIMEOUT:g}}}
"""


def writable() -> Session:
    session = Session(ALICE)
    session.enable_write(None, via="test")
    return session


# --- every client: what it says after one call ------------------------------------------------------

Call = Callable[[AppConfig], Awaitable[str]]


def refresh(kind: str) -> Call:
    async def call(config: AppConfig) -> str:
        source = build_source(kind, dict(config.sources.all())[kind])
        try:
            result = await source.fetch()
        finally:
            await source.aclose()
        return result.error or "ok"

    return call


def helper(kind: str, method: str, *args: Any) -> Call:
    """A detail or log helper of a source (the host detail's and the log screen's)."""

    async def call(config: AppConfig) -> str:
        source = build_source(kind, dict(config.sources.all())[kind])
        try:
            await getattr(source, method)(*args)
        except SourceError as exc:
            return str(exc)
        finally:
            await source.aclose()
        return "ok"

    return call


async def probe(config: AppConfig) -> str:
    source = ProbesSource(config.services)
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.data is not None
    return result.data.results[0].detail


def cache_step(config: AppConfig) -> Step:
    url = config.actions.caches[0].url + "/wiki/Main_Page"
    return Step(index=0, kind="purge", executor="cache:cp1", target="cp1", subject=url,
                request=HttpRequest("PURGE", url, (("Host", "meta.wikitide.org"),)),
                verify=HttpRequest("GET", url, (("Host", "meta.wikitide.org"),)))


async def cache_purge(config: AppConfig) -> str:
    executor = CacheExecutor(config.actions.caches[0], writable())
    executor.max_answer = CAP  # the caches have no max_answer_mib: the default is DEFAULT_MAX_ANSWER
    try:
        return (await executor.execute(cache_step(config))).detail
    finally:
        await executor.aclose()


async def cache_verify(config: AppConfig) -> str:
    executor = CacheExecutor(config.actions.caches[0], writable())
    executor.max_answer = CAP
    try:
        return (await executor.verify(cache_step(config))).label
    finally:
        await executor.aclose()


async def icinga_action(config: AppConfig) -> str:
    source = config.sources.icinga[0]
    executor = IcingaExecutor(source, writable(), TIMEOUT)  # the cap: the icinga source's max_answer_mib
    step = Step(index=0, kind="reschedule-check", executor="icinga:icinga", target="mw151!PHP-FPM", subject="x",
                request=HttpRequest("POST", source.url + "/v1/actions/reschedule-check", body={"type": "Service"}))
    try:
        return (await executor.execute(step)).detail
    finally:
        await executor.aclose()


def depool_executor(config: AppConfig) -> DepoolServiceExecutor:
    executor = DepoolServiceExecutor(config, config.actions.caches[0], writable())
    executor.max_answer = CAP
    return executor


async def depool_set_health(config: AppConfig) -> str:
    executor = depool_executor(config)
    step = Step(index=0, kind="depool", executor="depool:cp1", target="mw151", subject="cp1",
                request=HttpRequest("POST", executor.url + "/backend/mw151/sick"))
    try:
        return (await executor.set_health(step)).detail
    finally:
        await executor.aclose()


async def depool_backend_list(config: AppConfig) -> str:
    executor = depool_executor(config)
    try:
        await executor.backend_list()
    except DepoolError as exc:
        return str(exc)
    finally:
        await executor.aclose()
    return "ok"


def salt(logged_in: bool) -> Call:
    async def call(config: AppConfig) -> str:
        executor = SaltExecutor(config, writable())
        executor.max_answer = CAP
        if logged_in:  # the command's own call, not the login
            executor._token, executor._expires_at = "fresh", time.time() + 3600
        try:
            return (await executor.run(Command("mw151", "mw151.fsslc.wtnet", "true", TIMEOUT))).detail
        finally:
            await executor.aclose()

    return call


async def gelf(config: AppConfig) -> str:
    settings = config.actions.gelf
    assert settings is not None
    sender = GelfSender(settings.url, settings.verify, settings.timeout)
    sender.max_answer = CAP
    try:
        await sender.send("purged", "bast161", {}, datetime_now())
    except Exception as exc:  # noqa: BLE001 - the engine turns any failure into a notice
        return str(exc)
    return "ok"


def datetime_now() -> Any:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def power(method: str, *path: str) -> Call:
    async def call(config: AppConfig) -> str:
        runner = ProxmoxPower(proxmox_action_source(config))  # the cap: the proxmox source's max_answer_mib
        try:
            await runner.call(method, *path)
        except ProxmoxFailure as exc:
            return str(exc)
        finally:
            await runner.aclose()
        return "ok"

    return call


CLIENTS: dict[str, Call] = {
    "proxmox refresh": refresh("proxmox"),
    "proxmox guest_rrddata": helper("proxmox", "guest_rrddata", "cloud15", 136),
    "proxmox node_status": helper("proxmox", "node_status", "cloud15"),
    "puppetdb refresh": refresh("puppetdb"),
    "puppetdb reports": helper("puppetdb", "reports", "mw151.fsslc.wtnet"),
    "puppetdb events": helper("puppetdb", "events", "0123abcd"),
    "puppetdb fact": helper("puppetdb", "fact", "mw151.fsslc.wtnet", "os"),
    "icinga refresh": refresh("icinga"),
    "icinga host_output": helper("icinga", "host_output", "mw151"),
    "icinga downtimes": helper("icinga", "downtimes"),
    "graylog refresh": refresh("graylog"),
    "graylog events": helper("graylog", "alert_events"),
    "graylog host_messages": helper("graylog", "host_messages", ["mw151"]),
    "graylog streams": helper("graylog", "streams"),
    "commits (GitHub)": refresh("commits"),
    "http probe": probe,
    "cache purge": cache_purge,
    "cache verify": cache_verify,
    "icinga action": icinga_action,
    "depool set health": depool_set_health,
    "depool backend list": depool_backend_list,
    "salt login": salt(logged_in=False),
    "salt call": salt(logged_in=True),
    "gelf": gelf,
    "guest power": power("post", "nodes", "cloud15", "qemu", "136", "status", "reboot"),
    "power task polling": power("get", "nodes", "cloud15", "tasks", "UPID:cloud15:1:2:3:qmreboot:136:root@pam:", "status"),
}


@pytest.fixture
def short_salt(monkeypatch):
    """Salt's call may take the command's timeout + a margin (15 s) and a login 10 s: here, the 1 s."""
    monkeypatch.setattr("console.actions.salt.HTTP_MARGIN", 0.0)
    monkeypatch.setattr("console.actions.salt.LOGIN_TIMEOUT", TIMEOUT)


async def call_against(server: Hostile, client: str, tmp_path: Path, ca: trustme.CA) -> tuple[str, float]:
    config = parse_config(config_yaml(server.url, tmp_path, ca), "<hostile>")
    started = time.monotonic()
    said = await asyncio.wait_for(CLIENTS[client](config), 30)  # a client that never ends fails here
    return said, time.monotonic() - started


@pytest.fixture
def roomy_deadline(monkeypatch):
    """The cap, not the clock, must stop a flood: a deadline no loaded machine reaches before 1 MiB."""
    monkeypatch.setattr(sys.modules[__name__], "TIMEOUT", FLOOD_TIMEOUT)


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_body_that_never_ends_is_cut_at_the_cap(hostile, client, tmp_path, ca, roomy_deadline, short_salt):
    server = hostile("flood")
    said, took = await call_against(server, client, tmp_path, ca)
    wanted = "no 'ALIVE' in the body" if client == "http probe" else TOO_LARGE  # a probe searches its first MAX_BODY
    assert wanted in said, said
    assert took < TIMEOUT + LATE
    cap = MAX_BODY if client == "http probe" else CAP
    sent = await asyncio.to_thread(server.settled)
    assert sent and max(sent) <= cap + SLOP, sent  # what the server managed to send before the client closed


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_trickling_body_is_cut_at_the_deadline(hostile, client, tmp_path, ca, short_salt):
    server = hostile("trickle")
    said, took = await call_against(server, client, tmp_path, ca)
    assert TOO_SLOW in said, said
    assert TIMEOUT * 0.7 < took < TIMEOUT + LATE, took
    assert max(await asyncio.to_thread(server.settled)) <= TIMEOUT / TRICKLE_EVERY + 3


@pytest.mark.parametrize(("client", "said"), [
    ("puppetdb refresh", "HTTP 500 Internal Server Error"),
    ("proxmox refresh", "HTTP 500 Internal Server Error"),
    ("cache purge", "HTTP 500 Internal Server Error"),
    ("icinga action", "HTTP 500"),
])
async def test_an_error_answer_is_read_at_most_64_kib(hostile, client, said, tmp_path, ca, roomy_deadline):
    server = hostile("flood", status=500)
    message, took = await call_against(server, client, tmp_path, ca)
    assert message.startswith(said), message
    assert took < TIMEOUT + LATE
    sent = await asyncio.to_thread(server.settled)
    assert sent and max(sent) <= 64 * 1024 + SLOP, sent


# --- the Icinga event stream: long-lived, but no line over 1 MiB -------------------------------------


async def test_an_event_line_over_1_mib_drops_the_stream_which_reconnects(hostile, tmp_path, ca):
    server = hostile("flood")  # a 200 whose first line never ends
    config = parse_config(config_yaml(server.url, tmp_path, ca), "<hostile>")
    source = build_source("icinga", config.sources.icinga[0])
    stream = IcingaEventStream(source, backoff=Backoff(first=0.05, cap=0.1))
    statuses: list[StreamStatus] = []
    task = asyncio.create_task(stream.run(lambda event: None, statuses.append))
    try:
        started = time.monotonic()
        while len(server.sent) < 2 and time.monotonic() - started < 20:
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
    assert len(server.requests) >= 2, "the stream reconnected after dropping the long line"
    assert all(sent <= MIB + SLOP for sent in server.sent), server.sent
    errors = [s.error for s in statuses if s.error]
    assert errors and all("an event line longer than 1 MiB" in e for e in errors), errors


# --- nothing waits for a stuck Proxmox call: `status` ends, a cancelled fetch ends at once -----------


def run_console(*args: str, home: Path, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - started


def proxmox_only(url: str, directory: Path, ca: trustme.CA, timeout: float) -> Path:
    text = config_yaml(url, directory, ca, timeout=timeout)
    lines = text.splitlines()
    kept = [line for line in lines if not line.startswith(("  puppetdb", "  icinga", "  graylog", "  commits"))]
    config = "\n".join(kept).split("services:")[0]  # the farm and the proxmox source only
    path = directory / "farm.yaml"
    path.write_text(config)
    parse_config(config)  # a valid config
    return path


async def test_status_ends_within_its_timeouts_whatever_proxmox_does(hostile, tmp_path, ca):
    server = hostile("trickle")
    path = proxmox_only(server.url, tmp_path, ca, timeout=TIMEOUT)
    done, took = await asyncio.to_thread(run_console, "-m", "console", "status", "--config", str(path),
                                         home=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    assert TOO_SLOW in done.stdout, done.stdout
    assert took < TIMEOUT + 10, took  # the interpreter's start-up included; before: never (the thread held the exit)


CANCEL_SCRIPT = """
import asyncio, sys, threading, time
from console.core.config import load_config
from console.sources import build_source

async def main():
    source = build_source("proxmox", load_config(sys.argv[1]).sources.proxmox[0])
    task = asyncio.create_task(source.fetch())
    await asyncio.sleep(float(sys.argv[2]))  # the answer trickles in meanwhile
    print("cancel", time.monotonic(), flush=True)
    task.cancel()  # what `q` does to the poller's tasks
    await asyncio.gather(task, return_exceptions=True)
    await source.aclose()

asyncio.run(main())
print("loop-ended", time.monotonic(), flush=True)
started = time.monotonic()
while any(t.name == "opsconsole-proxmox" for t in threading.enumerate()) and time.monotonic() - started < 10:
    time.sleep(0.01)
print("thread-ended", time.monotonic(), flush=True)
"""


async def test_a_cancelled_proxmox_fetch_lets_the_process_end_at_once(hostile, tmp_path, ca):
    server = hostile("trickle")
    path = proxmox_only(server.url, tmp_path, ca, timeout=60.0)  # its deadline far away: only the cancel ends it
    done, _ = await asyncio.to_thread(run_console, "-c", CANCEL_SCRIPT, str(path), "1.5", home=tmp_path, timeout=60)
    exited = time.monotonic()
    assert done.returncode == 0, done.stderr
    marks = {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines())}
    cancelled = marks["cancel"]
    assert marks["loop-ended"] - cancelled < 1.0, marks  # asyncio.run waits for no thread
    assert marks["thread-ended"] - cancelled < 1.0, marks  # the call's thread let go of its socket and ended
    assert exited - cancelled < 1.0 + LATE, exited - cancelled  # the interpreter's own exit included
    sent = await asyncio.to_thread(server.settled)
    assert server.requests and sent and sent[0] >= 3  # the answer was trickling when cancelled
    assert server.ended[0] - cancelled < 1.0


# --- the timeout measures the network: proxmoxer is imported before the deadline --------------------


async def test_proxmoxer_is_imported_before_the_deadline_starts(tmp_path, ca, monkeypatch):
    """A refused connection says so, however long the first import takes (here: made 2 s slow)."""
    import importlib

    import console.sources.proxmox as proxmox_module

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"https://127.0.0.1:{sock.getsockname()[1]}"
    config = parse_config(config_yaml(refused, tmp_path, ca, timeout=0.5), "<refused>")
    real_import = importlib.import_module

    def slow_import(name: str, *args: Any) -> Any:
        if name == proxmox_module.HTTP_SIDE:
            time.sleep(2.0)  # a loaded CPU
        return real_import(name, *args)

    monkeypatch.delitem(sys.modules, proxmox_module.HTTP_SIDE, raising=False)
    monkeypatch.setattr(proxmox_module.importlib, "import_module", slow_import)
    source = build_source("proxmox", config.sources.proxmox[0])
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.error is not None and "connection refused" in result.error, result.error
    assert result.latency_ms < 1000  # the import is not in it


# --- the default ---------------------------------------------------------------------------------------


def test_the_default_cap_is_160_mib(tmp_path, ca):
    text = config_yaml("https://127.0.0.1:8006", tmp_path, ca).replace(", max_answer_mib: 1", "")
    config = parse_config(text, "<defaults>")
    for kind, item in config.sources.all():
        assert item.max_answer_mib == 160, kind
        assert max_answer(item) == 160 * MIB
    assert DEFAULT_MAX_ANSWER == 160 * MIB  # the action clients without a source config (caches, depool, Salt, GELF)
    with pytest.raises(ConfigError, match=r"sources\.puppetdb\[0\]\.max_answer_mib: Input should be greater than or equal to 1"):
        parse_config(text.replace("puppetdb: [{name: puppetdb,", "puppetdb: [{name: puppetdb, max_answer_mib: 0,"))
