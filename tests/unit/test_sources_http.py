"""The sources against small real HTTP(S) servers on 127.0.0.1 (no mocks between httpx/requests and
the socket): success paths, auth failures, server errors, malformed bodies, refused connections,
servers that never answer, GitHub's ETag/304 dance, and `git log` on a repository made here."""

from __future__ import annotations

import ast
import base64
import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from console.core.config import (
    CommitsConfig,
    GraylogConfig,
    IcingaConfig,
    ProxmoxConfig,
    PuppetDBConfig,
    Secret,
    parse_config,
)
from console.core.model import CheckState, CommitLog, IcingaSnapshot, LogSnapshot, ProxmoxInventory, PuppetInventory
from console.sources import (
    GitHubCommitsSource,
    GraylogSource,
    IcingaSource,
    LocalGitCommitsSource,
    ProxmoxSource,
    PuppetDBSource,
    SourceError,
    build_sources,
)
from console.sources.graylog import absolute_range

REPO = Path(__file__).resolve().parents[2]
PVE_SECRET = "pve-0f3c-secret-uuid"
ICINGA_PASSWORD = "icinga-pass-4711"
GRAYLOG_TOKEN = "graylog-token-abcdef"
GITHUB_TOKEN = "ghp_github_token_xyz"
FIXED_NOW = datetime(2026, 8, 20, 12, 0, tzinfo=timezone.utc)


# --- a tiny HTTP(S) server ---------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], Any]  # status, headers, body (bytes, or anything JSON)
Handler = Callable[[Seen], Reply]


@dataclass
class FakeServer:
    handler: Handler
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)

    def start(self) -> FakeServer:
        outer = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Seen(self.command, parts.path, parse_qs(parts.query), headers, body)
                outer.seen.append(request)
                status, reply_headers, payload = outer.handler(request)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **reply_headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    """serve(handler, tls=None) → a started FakeServer, stopped after the test."""
    servers: list[FakeServer] = []

    def start(handler: Handler, tls: ssl.SSLContext | None = None) -> FakeServer:
        servers.append(FakeServer(handler, tls).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_path(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"https://127.0.0.1:{port}"


@pytest.fixture
def silent_url():
    """A loopback URL that accepts connections (the kernel's backlog) and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


async def fetch_once(source: Any) -> Any:
    """One fetch, then the source's connections are closed (no socket outlives its test)."""
    try:
        return await source.fetch()
    finally:
        await source.aclose()


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: (status, headers or {}, payload)


def auth_of(request: Seen) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


# --- configs -----------------------------------------------------------------------------------


def proxmox_config(url: str, verify: bool | str = False, timeout: float = 2.0) -> ProxmoxConfig:
    return ProxmoxConfig(
        name="pve", url=url, token_id="root@pam!opsconsole", token_secret=Secret(PVE_SECRET, "test"),
        verify=verify, timeout=timeout,
    )  # fmt: skip


def puppetdb_config(url: str, verify: bool | str = False, timeout: float = 2.0) -> PuppetDBConfig:
    return PuppetDBConfig(name="puppetdb", url=url, verify=verify, timeout=timeout)


def icinga_config(url: str, timeout: float = 2.0) -> IcingaConfig:
    return IcingaConfig(
        name="icinga", url=url, username="opsconsole", password=Secret(ICINGA_PASSWORD, "test"), verify=False,
        timeout=timeout,
    )  # fmt: skip


def graylog_config(url: str, timeout: float = 2.0) -> GraylogConfig:
    return GraylogConfig(name="graylog", url=url, token=Secret(GRAYLOG_TOKEN, "test"), verify=False, timeout=timeout)


def github_config(url: str, **extra: Any) -> CommitsConfig:
    return CommitsConfig(
        name="mw-config", github="miraheze/mw-config", api_url=url, token=Secret(GITHUB_TOKEN, "test"),
        verify=False, timeout=2.0, **extra,
    )  # fmt: skip


def assert_no_secret(text: str | None) -> None:
    for secret in (PVE_SECRET, ICINGA_PASSWORD, GRAYLOG_TOKEN, GITHUB_TOKEN):
        assert secret not in (text or "")


# --- Proxmox (proxmoxer in a thread, always HTTPS) ---------------------------------------------

RESOURCES = {
    "data": [
        {"id": "node/cloud15", "type": "node", "node": "cloud15", "status": "online", "cpu": 0.1, "maxcpu": 40},
        {"id": "qemu/136", "type": "qemu", "vmid": 136, "node": "cloud15", "name": "mw151", "status": "running",
         "template": 0, "cpu": 0.2, "maxcpu": 4, "mem": 1, "maxmem": 2, "uptime": 60},
        {"id": "storage/cloud15/local", "type": "storage", "storage": "local", "node": "cloud15"},
    ]
}  # fmt: skip


async def test_proxmox_one_call_over_tls_with_ca_bundle(serve, tls, ca_path):
    server = serve(json_reply(RESOURCES), tls=tls)
    source = ProxmoxSource(proxmox_config(server.url, verify=ca_path))
    result = await source.fetch()
    await source.aclose()
    assert result.ok, result.error
    assert isinstance(result.data, ProxmoxInventory)
    assert [g.name for g in result.data.guests] == ["mw151"] and result.data.nodes[0].name == "cloud15"
    assert [r.path for r in server.seen] == ["/api2/json/cluster/resources"]  # one call, not one per node
    assert server.seen[0].headers["authorization"] == f"PVEAPIToken=root@pam!opsconsole={PVE_SECRET}"
    assert result.source == "pve" and result.kind == "proxmox" and result.latency_ms > 0


async def test_proxmox_unknown_ca_is_a_tls_error(serve, tls):
    server = serve(json_reply(RESOURCES), tls=tls)
    result = await fetch_once(ProxmoxSource(proxmox_config(server.url, verify=True)))
    assert result.error.startswith("TLS error talking to 127.0.0.1:"), result.error
    assert "certificate verify failed" in result.error


async def test_proxmox_401_says_authentication_failed(serve, tls):
    server = serve(json_reply({"data": None}, status=401), tls=tls)
    result = await fetch_once(ProxmoxSource(proxmox_config(server.url)))
    assert result.error == "authentication failed (HTTP 401): check token_id and token_secret"


@pytest.mark.parametrize(
    "reply, expected",
    [
        ((500, {}, {"data": None, "errors": {"x": "boom"}}), "HTTP 500"),
        ((200, {}, b"<html>not json</html>"), "malformed answer"),
        ((200, {}, {"nodes": []}), "malformed answer"),  # no data wrapper
        ((200, {}, {"data": {"not": "a list"}}), "malformed answer"),
    ],
)
async def test_proxmox_failures(serve, tls, reply, expected):
    server = serve(lambda request: reply, tls=tls)
    result = await fetch_once(ProxmoxSource(proxmox_config(server.url)))
    assert result.data is None and expected in result.error, result.error
    assert_no_secret(result.error)


async def test_proxmox_refused_and_silent(refused_url, silent_url):
    result = await fetch_once(ProxmoxSource(proxmox_config(refused_url)))
    assert result.error == f"cannot connect to {refused_url.removeprefix('https://')}: connection refused"
    started = time.monotonic()
    result = await fetch_once(ProxmoxSource(proxmox_config(silent_url, timeout=0.5)))
    assert result.error == "timed out after 0.5s"
    assert time.monotonic() - started < 2.0


async def test_proxmox_helpers(serve, tls):
    def handler(request: Seen) -> Reply:
        if request.path.endswith("/rrddata"):
            return 200, {}, {"data": [{"time": 120, "cpu": 0.5}, {"time": 60, "cpu": 0.25}]}
        return 200, {}, {"data": {"cpu": 0.1, "loadavg": ["1.0", "0.5", "0.25"], "memory": {"total": 8}}}

    server = serve(handler, tls=tls)
    source = ProxmoxSource(proxmox_config(server.url))
    points = await source.guest_rrddata("cloud15", 136, "day")
    status = await source.node_status("cloud15")
    assert [p["time"] for p in points] == [60.0, 120.0]
    assert status["loadavg"] == (1.0, 0.5, 0.25) and status["memory_total"] == 8
    assert server.seen[0].path == "/api2/json/nodes/cloud15/qemu/136/rrddata"
    assert server.seen[0].query == {"timeframe": ["day"], "cf": ["AVERAGE"]}
    with pytest.raises(SourceError, match="bad node name"):
        await source.node_status("../access")
    await source.aclose()


async def test_proxmox_helper_failure_is_source_error(serve, tls):
    server = serve(json_reply({"data": None}, status=401), tls=tls)
    source = ProxmoxSource(proxmox_config(server.url))
    with pytest.raises(SourceError, match="authentication failed"):
        await source.node_status("cloud15")
    await source.aclose()


# --- PuppetDB ----------------------------------------------------------------------------------

PUPPET_NODES = [
    {"certname": "mw151.fsslc.wtnet", "deactivated": None, "expired": None,
     "report_timestamp": "2026-08-20T11:50:00.000Z", "latest_report_status": "failed", "latest_report_noop": False,
     "cached_catalog_status": "on_failure"},
]  # fmt: skip


async def test_puppetdb_nodes_over_tls(serve, tls, ca_path):
    server = serve(json_reply(PUPPET_NODES), tls=tls)
    source = PuppetDBSource(puppetdb_config(server.url, verify=ca_path))
    result = await source.fetch()
    again = await source.fetch()  # the same client, reused
    await source.aclose()
    assert result.ok and again.ok, result.error
    assert isinstance(result.data, PuppetInventory)
    assert result.data.nodes[0].latest_report_status == "failed"
    request = server.seen[0]
    assert (request.method, request.path) == ("POST", "/pdb/query/v4/nodes")
    assert request.json() == {"query": ["null?", "deactivated", True]}


async def test_puppetdb_client_certificate_is_presented(serve, ca, ca_path, tmp_path):
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.configure_trust(server_tls)
    server_tls.verify_mode = ssl.CERT_REQUIRED  # like PuppetDB's TLS port: no client certificate, no answer
    server = serve(json_reply(PUPPET_NODES), tls=server_tls)
    without = await fetch_once(PuppetDBSource(puppetdb_config(server.url, verify=ca_path)))
    assert not without.ok
    client = ca.issue_cert("bast161.fsslc.wtnet")
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    config = PuppetDBConfig(
        name="puppetdb", url=server.url, verify=ca_path, timeout=2.0, client_cert=str(cert), client_key=str(key)
    )
    with_cert = await fetch_once(PuppetDBSource(config))
    assert with_cert.ok, with_cert.error
    assert with_cert.data.nodes[0].certname == "mw151.fsslc.wtnet"


async def test_puppetdb_reports_and_events_helpers(serve):
    def handler(request: Seen) -> Reply:
        if request.path.endswith("/reports"):
            return 200, {}, [{"hash": "h1", "certname": "mw151", "status": "failed", "end_time": "2026-08-20T11:50Z"}]
        return 200, {}, [{"certname": "mw151", "report": "h1", "status": "failure", "timestamp": "2026-08-20T11:50Z",
                          "resource_type": "Service", "resource_title": "php8.4-fpm", "message": "failed"}]  # fmt: skip

    server = serve(handler)
    source = PuppetDBSource(puppetdb_config(server.url))
    reports = await source.reports("mw151.fsslc.wtnet", limit=5)
    events = await source.events("h1")
    assert reports[0]["status"] == "failed" and events[0]["resource_title"] == "php8.4-fpm"
    assert server.seen[0].json()["query"] == ["=", "certname", "mw151.fsslc.wtnet"]
    assert server.seen[0].json()["limit"] == 5
    assert server.seen[1].json() == {"query": ["=", "report", "h1"]}
    await source.aclose()


@pytest.mark.parametrize(
    "reply, expected",
    [
        ((500, {}, {"error": "Internal error"}), "HTTP 500 Internal Server Error: Internal error"),
        ((503, {"Content-Type": "text/plain"}, b"down"), "HTTP 503 Service Unavailable"),
        ((200, {}, b"{not json"), "malformed answer: not JSON"),
        ((200, {}, {"certname": "x"}), "malformed answer: nodes should be a list, got object"),
        ((200, {}, [{"certname": None}]), "malformed answer: nodes[0].certname"),
        ((400, {}, {"error": "Unrecognized field 'x'"}), "HTTP 400 Bad Request: Unrecognized field 'x'"),
        ((400, {"Content-Type": "text/plain"}, b"'x' is not a queryable object\nmore"), "HTTP 400 Bad Request: 'x' is not"),
        ((502, {"Content-Type": "text/html"}, b"<html><h1>Bad Gateway</h1></html>"), "HTTP 502 Bad Gateway"),
    ],
)
async def test_puppetdb_failures(serve, reply, expected):
    server = serve(lambda request: reply)
    result = await fetch_once(PuppetDBSource(puppetdb_config(server.url)))
    assert result.data is None and result.error.startswith(expected), result.error


async def test_http_source_refused_and_silent(refused_url, silent_url):
    result = await fetch_once(PuppetDBSource(puppetdb_config(refused_url)))
    assert result.error == f"cannot connect to {refused_url.removeprefix('https://')}: connection refused"
    started = time.monotonic()
    result = await fetch_once(PuppetDBSource(puppetdb_config(silent_url, timeout=0.4)))
    assert result.error == "timed out after 0.4s"
    assert time.monotonic() - started < 1.5


async def test_http_source_unknown_ca(serve, tls):
    server = serve(json_reply(PUPPET_NODES), tls=tls)
    result = await fetch_once(PuppetDBSource(puppetdb_config(server.url, verify=True)))
    assert result.error.startswith("TLS error talking to 127.0.0.1:") and "certificate verify failed" in result.error


# --- Icinga ------------------------------------------------------------------------------------


ICINGA_SERVICES = [
    {"name": "mw152!PHP-FPM", "type": "Service", "joins": {}, "meta": {},
     "attrs": {"state": 2.0, "state_type": 1.0, "acknowledgement": 0.0, "downtime_depth": 0.0,
               "last_state_change": 1787227200.0, "last_check": 1787227260.0,
               "last_check_result": {"output": "CRITICAL: not running", "exit_status": 2.0}}},
    {"name": "mw151!PHP-FPM", "type": "Service", "joins": {}, "meta": {},
     "attrs": {"state": 0.0, "state_type": 1.0, "acknowledgement": 0.0, "downtime_depth": 0.0,
               "last_state_change": 1787220000.0, "last_check": 1787227260.0,
               "last_check_result": {"output": "PHP-FPM OK"}}},
]  # fmt: skip


def icinga_handler(request: Seen) -> Reply:
    """Honours what the source asks: `attrs` (top-level attributes only) and the problems filter."""
    body = request.json()
    if request.path == "/v1/objects/services":
        chosen = ICINGA_SERVICES
        if "filter" in body:
            assert body["filter"] == "service.state != ServiceOK"
            chosen = [s for s in chosen if s["attrs"]["state"] != 0]
        return 200, {}, {"results": [{**s, "attrs": {k: s["attrs"][k] for k in body["attrs"]}} for s in chosen]}
    host = {"state": 0.0, "state_type": 1.0, "acknowledgement": 0.0, "downtime_depth": 0.0, "last_state_change": 1787220000.0,
            "last_reachable": True, "last_check_result": {"output": "PING OK"}}  # fmt: skip
    return 200, {}, {"results": [{"name": "mw152", "type": "Host", "attrs": {k: host[k] for k in body["attrs"]}}]}


async def test_icinga_services_and_hosts(serve):
    server = serve(icinga_handler)
    source = IcingaSource(icinga_config(server.url))
    result = await source.fetch()
    await source.aclose()
    assert result.ok, result.error
    assert isinstance(result.data, IcingaSnapshot)
    assert [(c.host, c.state) for c in result.data.services] == [("mw151", CheckState.OK), ("mw152", CheckState.CRITICAL)]
    # the output travels only for problems: an OK check has none
    assert [c.output for c in result.data.services] == ["", "CRITICAL: not running"]
    assert result.data.hosts[0].up and result.data.hosts[0].output == ""
    assert sorted(r.path for r in server.seen) == ["/v1/objects/hosts", "/v1/objects/services", "/v1/objects/services"]
    for request in server.seen:
        assert request.method == "POST"
        assert request.headers["x-http-method-override"] == "GET"
        assert request.headers["accept"] == "application/json"
        assert auth_of(request) == ("opsconsole", ICINGA_PASSWORD)
    services = [r.json() for r in server.seen if r.path.endswith("services")]
    every = next(body for body in services if "filter" not in body)  # all services, OK ones too
    problems = next(body for body in services if "filter" in body)
    assert "last_check_result" not in every["attrs"] and "last_check_result" in problems["attrs"]
    assert {"state", "state_type", "acknowledgement", "downtime_depth"} <= set(every["attrs"]) & set(problems["attrs"])
    hosts = next(r.json() for r in server.seen if r.path.endswith("hosts"))
    assert "last_check_result" not in hosts["attrs"]


async def test_icinga_host_output_asks_for_one_host(serve):
    server = serve(icinga_handler)
    source = IcingaSource(icinga_config(server.url))
    output = await source.host_output("mw152")
    await source.aclose()
    assert output == "PING OK"
    (request,) = server.seen
    assert request.json()["filter_vars"] == {"name": "mw152"} and "last_check_result" in request.json()["attrs"]


async def test_icinga_unchanged_objects_are_reused_between_refreshes(serve):
    server = serve(icinga_handler)
    source = IcingaSource(icinga_config(server.url))
    first, second = (await source.fetch()).data, (await source.fetch()).data
    await source.aclose()
    assert first == second
    assert all(a is b for a, b in zip(first.services, second.services, strict=False))
    assert first.hosts[0] is second.hosts[0]


async def test_icinga_401_and_no_objects(serve):
    server = serve(json_reply({"error": 401, "status": "Unauthorized"}, status=401))
    result = await fetch_once(IcingaSource(icinga_config(server.url)))
    assert result.error == "authentication failed (HTTP 401): check the Icinga API user's username and password"
    empty = serve(json_reply({"error": 404.0, "status": "No objects found."}, status=404))
    result = await fetch_once(IcingaSource(icinga_config(empty.url)))
    assert result.ok and result.data == IcingaSnapshot(hosts=(), services=())


async def test_icinga_wrong_shape(serve):
    def handler(request: Seen) -> Reply:
        if request.path.endswith("/services"):
            return 200, {}, {"results": [{"name": "x!y", "attrs": {"state": "bad"}}]}
        time.sleep(0.2)  # the hosts answer comes late: its task must be cancelled, not orphaned
        return 200, {}, {"results": []}

    server = serve(handler)
    result = await fetch_once(IcingaSource(icinga_config(server.url)))
    assert result.error.startswith("malformed answer: services[0].attrs.state"), result.error


# --- Graylog -----------------------------------------------------------------------------------

GRAYLOG_ANSWER = {
    "schema": [
        {"column_type": "field", "type": "string", "field": "timestamp", "name": "field: timestamp"},
        {"column_type": "field", "type": "string", "field": "source", "name": "field: source"},
        {"column_type": "field", "type": "string", "field": "message", "name": "field: message"},
        {"column_type": "field", "type": "numeric", "field": "level", "name": "field: level"},
    ],
    "datarows": [["2026-08-20T11:59:00.000Z", "mw152", "php-fpm: no pool", 3]],
    "metadata": {"effective_timerange": {}},
}


AGGREGATE_ANSWER = {
    "schema": [
        {"column_type": "grouping", "type": "string", "field": "source", "name": "grouping: source"},
        {"column_type": "metric", "type": "numeric", "function": "count", "name": "metric: count()"},
    ],
    "datarows": [["mw151", 2], ["mw152", 41]],
    "metadata": {"effective_timerange": {}},
}


def graylog_routes(request: Seen) -> tuple[int, dict, Any]:
    answers = {"/api/search/aggregate": AGGREGATE_ANSWER, "/api/search/messages": GRAYLOG_ANSWER,
               "/api/streams": {"total": 1, "streams": [{"id": "000000000000000000000001", "title": "Default Stream",
                                                         "disabled": False, "is_default": True}]}}
    return (200, {}, answers[request.path]) if request.path in answers else (200, {}, {"events": [], "total_events": 0})


async def test_graylog_refresh_is_one_aggregate_of_errors_per_host(serve):
    server = serve(graylog_routes)
    result = await fetch_once(GraylogSource(graylog_config(server.url)))
    assert result.ok, result.error
    assert isinstance(result.data, LogSnapshot) and result.data.error_counts == (("mw152", 41), ("mw151", 2))
    (request,) = [r for r in server.seen if r.path.startswith("/api/search/")]
    assert (request.method, request.path) == ("POST", "/api/search/aggregate")
    assert request.headers["x-requested-by"] == "opsconsole"
    assert auth_of(request) == (GRAYLOG_TOKEN, "token")
    body = request.json()
    assert body["query"] == "level:<=3" and body["timerange"] == {"type": "relative", "range": 300}
    assert body["group_by"][0]["field"] == "source" and body["metrics"] == [{"function": "count"}]


async def test_graylog_search_for_the_log_screen(serve):
    server = serve(graylog_routes)
    source = GraylogSource(graylog_config(server.url))
    start, end = datetime(2026, 8, 20, 11, 58, tzinfo=timezone.utc), datetime(2026, 8, 20, 12, 0, 0, 250000, tzinfo=timezone.utc)
    found = await source.search("source:mw152", absolute_range(start, end), streams=["s1"], size=50, newest_first=False)
    streams = await source.streams()
    await source.aclose()
    assert found.messages[0].level == 3 and streams[0].title == "Default Stream" and streams[0].is_default
    body = server.seen[0].json()
    assert body["timerange"] == {"type": "absolute", "from": "2026-08-20T11:58:00.000Z", "to": "2026-08-20T12:00:00.250Z"}
    assert (body["sort_order"], body["size"], body["streams"], body["query"]) == ("Ascending", 50, ["s1"], "source:mw152")
    assert "_id" in body["fields"]
    assert (server.seen[1].method, server.seen[1].path) == ("GET", "/api/streams")


async def test_a_helper_that_gets_no_answer_fails_within_the_timeout(silent_url):
    """The log screen's helpers are bounded by the source's timeout and fail as one SourceError."""
    source = GraylogSource(graylog_config(silent_url, timeout=0.3))
    started = time.monotonic()
    with pytest.raises(SourceError, match="timed out"):
        await source.host_messages(["mw151"])
    await source.aclose()
    assert time.monotonic() - started < 2


async def test_graylog_error_echoing_the_secret_is_redacted(serve):
    echo = f"bad credentials {GRAYLOG_TOKEN} / {base64.b64encode(f'{GRAYLOG_TOKEN}:token'.encode()).decode()}"
    server = serve(json_reply({"message": echo}, status=500))
    result = await fetch_once(GraylogSource(graylog_config(server.url)))
    assert result.error.startswith("HTTP 500 Internal Server Error: bad credentials [redacted]")
    assert_no_secret(result.error)
    assert result.error.endswith("[redacted] / [redacted]")  # the Basic header value too


async def test_graylog_401(serve):
    server = serve(json_reply({"type": "ApiError", "message": "not authorized"}, status=401))
    result = await fetch_once(GraylogSource(graylog_config(server.url)))
    assert result.error == "authentication failed (HTTP 401): check the Graylog access token"


# --- GitHub commits ----------------------------------------------------------------------------


def github_commit(sha: str, date: str, subject: str) -> dict[str, Any]:
    return {"sha": sha, "html_url": f"https://github.com/miraheze/mw-config/commit/{sha}",
            "commit": {"author": {"name": "alice", "email": "a@x", "date": date},
                       "committer": {"name": "alice", "email": "a@x", "date": date}, "message": subject},
            "author": {"login": "alice"}, "parents": []}  # fmt: skip


COMMITS = [
    github_commit("a" * 40, "2026-08-20T11:00:00Z", "newest"),
    github_commit("b" * 40, "2026-08-20T10:00:00Z", "older"),
]


async def test_github_etag_and_304(serve):
    def handler(request: Seen) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return 304, {"ETag": '"v1"', "x-ratelimit-remaining": "4998"}, b""
        return 200, {"ETag": '"v1"', "x-ratelimit-remaining": "4999"}, COMMITS

    server = serve(handler)
    source = GitHubCommitsSource(github_config(server.url, branch="main", limit=2), lambda: FIXED_NOW)
    first = await source.fetch()
    second = await source.fetch()
    await source.aclose()
    assert first.ok and second.ok, (first.error, second.error)
    assert isinstance(first.data, CommitLog) and not first.data.not_modified
    assert [c.subject for c in first.data.commits] == ["newest", "older"]
    assert first.data.rate_limit_remaining == 4999
    assert second.data.not_modified and second.data.commits == first.data.commits
    assert second.data.rate_limit_remaining == 4998
    one, two = server.seen
    assert one.path == "/repos/miraheze/mw-config/commits"
    assert one.query == {"per_page": ["2"], "sha": ["main"]}
    assert "if-none-match" not in one.headers and two.headers["if-none-match"] == '"v1"'
    assert one.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert one.headers["accept"] == "application/vnd.github+json"


async def test_github_rate_limit_names_the_reset_time(serve):
    reset = int(datetime(2026, 8, 20, 12, 30, tzinfo=timezone.utc).timestamp())
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    server = serve(json_reply({"message": "API rate limit exceeded for user"}, status=403, headers=headers))
    result = await fetch_once(GitHubCommitsSource(github_config(server.url), lambda: FIXED_NOW))
    assert result.error == "GitHub rate limit exhausted; resets at 12:30:00 UTC (in 30 min)"
    throttled = serve(json_reply({"message": "slow down"}, status=429, headers={"retry-after": "120"}))
    result = await fetch_once(GitHubCommitsSource(github_config(throttled.url), lambda: FIXED_NOW))
    assert result.error == "GitHub rate limit exhausted; resets at 12:02:00 UTC (in 2 min)"


@pytest.mark.parametrize(
    "status, expected",
    [(401, "authentication failed (HTTP 401): check the GitHub token"), (404, "repository miraheze/mw-config not found"),
     (403, "HTTP 403 Forbidden: the credentials lack permission: Resource not accessible")],
)  # fmt: skip
async def test_github_errors(serve, status, expected):
    server = serve(json_reply({"message": "Resource not accessible"}, status=status, headers={"x-ratelimit-remaining": "10"}))
    result = await fetch_once(GitHubCommitsSource(github_config(server.url)))
    assert result.error.startswith(expected), result.error
    assert_no_secret(result.error)


# --- local git ---------------------------------------------------------------------------------


def git(repo: Path, *args: str, when: str | None = None) -> None:
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when} if when else {}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env={**_base_env(), **env})


def _base_env() -> dict[str, str]:
    import os

    return {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.environ.get("HOME", "/tmp")}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    assert shutil.which("git"), "git is missing: scripts/test installs it"
    path = tmp_path / "puppet"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test Operator")
    git(path, "config", "user.email", "ops@example.org")
    git(path, "config", "commit.gpgsign", "false")
    return path


def commit(repo: Path, subject: str, when: str) -> None:
    (repo / "file.txt").write_text(subject)
    git(repo, "add", "file.txt")
    git(repo, "commit", "-q", "-m", f"{subject}\n\nbody line", when=when)


async def test_local_git_commits(repo: Path):
    commit(repo, "first", "2026-08-20T10:00:00+00:00")
    commit(repo, "second: tabs\tand \"quotes\"", "2026-08-20T11:00:00+02:00")
    commit(repo, "third", "2026-08-20T12:00:00+00:00")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "on feature", "2026-08-20T13:00:00+00:00")
    config = CommitsConfig(name="puppet", git=str(repo), limit=2, branch="main")
    result = await fetch_once(LocalGitCommitsSource(config))
    assert result.ok, result.error
    assert [c.subject for c in result.data.commits] == ["third", 'second: tabs\tand "quotes"']
    newest = result.data.commits[0]
    assert (newest.repo, newest.author, len(newest.sha)) == ("puppet", "Test Operator", 40)
    assert newest.date == datetime(2026, 8, 20, 12, 0, tzinfo=timezone.utc)
    assert result.data.commits[1].date == datetime(2026, 8, 20, 9, 0, tzinfo=timezone.utc)
    current = await fetch_once(LocalGitCommitsSource(CommitsConfig(name="puppet", git=str(repo))))
    assert current.data.commits[0].subject == "on feature" and len(current.data.commits) == 4


async def test_local_git_failures(repo: Path, tmp_path: Path):
    empty = await fetch_once(LocalGitCommitsSource(CommitsConfig(name="puppet", git=str(repo))))
    assert empty.ok and empty.data.commits == ()  # a fresh repository has no commits yet
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    result = await fetch_once(LocalGitCommitsSource(CommitsConfig(name="x", git=str(plain))))
    assert result.error.startswith("git log failed: fatal: not a git repository"), result.error
    commit(repo, "first", "2026-08-20T10:00:00+00:00")
    missing = await fetch_once(LocalGitCommitsSource(CommitsConfig(name="x", git=str(repo), branch="nope")))
    assert missing.error.startswith("git log failed:"), missing.error
    option = await fetch_once(LocalGitCommitsSource(CommitsConfig(name="x", git=str(repo), branch="--output=/tmp/x")))
    assert option.error.startswith("bad branch name")


# --- build_sources and the no-Textual rule ------------------------------------------------------


def test_build_sources_order(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("T_SECRET", "value-1")
    (tmp_path / "repo").mkdir()
    text = f"""
farm: {{name: wikitide}}
sources:
  commits:
    - {{name: mw-config, github: miraheze/mw-config}}
    - {{name: local, git: {tmp_path / "repo"}}}
  graylog: [{{name: graylog, url: https://graylog.example, token: {{env: T_SECRET}}}}]
  icinga: [{{name: icinga, url: https://mon181.example:5665, username: u, password: {{env: T_SECRET}}}}]
  puppetdb: [{{name: puppetdb, url: http://puppet181.example:8080}}]
  proxmox: [{{name: pve, url: https://cloud15.example:8006, token_id: "root@pam!opsconsole", token_secret: {{env: T_SECRET}}}}]
"""
    sources = build_sources(parse_config(text))
    assert [(s.kind, s.name, type(s).__name__) for s in sources] == [
        ("proxmox", "pve", "ProxmoxSource"),
        ("puppetdb", "puppetdb", "PuppetDBSource"),
        ("icinga", "icinga", "IcingaSource"),
        ("graylog", "graylog", "GraylogSource"),
        ("commits", "mw-config", "GitHubCommitsSource"),
        ("commits", "local", "LocalGitCommitsSource"),
    ]
    assert sources[0].interval == 10.0 and sources[4].interval == 60.0


def test_no_source_module_imports_textual():
    for path in sorted((REPO / "console" / "sources").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )  # fmt: skip
            assert not any(n == "textual" or n.startswith("textual.") for n in names), path
    code = (
        "import sys, console.sources, console.sources.proxmox, console.sources.commits;"
        "sys.exit(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
