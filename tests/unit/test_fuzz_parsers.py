"""Property-based fuzzing of every parser of console/sources, and of the sources end to end.

Each parser gets arbitrary JSON (a recursive strategy over every JSON value, with the keys the APIs
use so the parsers get past their first checks) and mutations of the recorded valid shapes (one
value anywhere replaced by arbitrary JSON, or removed). The only exception allowed out of a parser
is MalformedAnswer. Then every Source, over TLS to a loopback server answering the fuzzed body:
`fetch()` never raises.

Examples: the hypothesis profile (tests/conftest.py): 1,000 per parser with CI=1, 100 locally; the
end-to-end property runs FUZZ_SOURCE_EXAMPLES (100) whatever the profile.
Run: `CI=1 .venv/bin/python -m pytest -k fuzz`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core.config import parse_config
from console.sources import build_sources
from console.sources.base import MalformedAnswer
from console.sources.commits import parse_git_log, parse_github_commits, rate_limit_message, rate_limit_remaining
from console.sources.graylog import parse_aggregate, parse_messages, parse_streams, syslog_level
from console.sources.graylog_events import parse_events as parse_graylog_events
from console.sources.icinga import (
    parse_acknowledgements,
    parse_downtimes,
    parse_hosts,
    parse_hosts_answer,
    parse_services,
    parse_services_answer,
    sorted_checks,
)
from console.sources.proxmox import parse_cluster_resources, parse_node_status, parse_rrddata
from console.sources.puppetdb import parse_events, parse_fact, parse_fact_values, parse_nodes, parse_nodes_answer, parse_reports

FUZZ_SOURCE_EXAMPLES = 100

# --- valid recorded shapes (docs/reference/APIS.md), the seeds of the mutations ------------------

QEMU = {"id": "qemu/100", "type": "qemu", "vmid": 100, "node": "pve", "name": "mw151", "status": "running",
        "template": 0, "cpu": 0.174, "maxcpu": 1, "mem": 35304543, "maxmem": 4294967296, "uptime": 669}
LXC = {"id": "lxc/103", "type": "lxc", "vmid": 103, "node": "pve2", "status": "stopped", "maxmem": 536870912}
NODE = {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online", "cpu": 0.05, "maxcpu": 40,
        "mem": 1024, "maxmem": 4096, "uptime": 1234}
STORAGE = {"id": "storage/pve1/local", "type": "storage", "storage": "local", "node": "pve1"}
NODE_STATUS = {
    "cpu": 0.02, "wait": 0.001, "uptime": 86400, "loadavg": ["0.12", "0.30", "0.25"], "kversion": "Linux 6.14",
    "cpuinfo": {"cpus": 40, "model": "AMD EPYC"}, "memory": {"total": 100, "used": 40, "free": 60, "available": 50},
    "swap": {"total": 0, "used": 0, "free": 0}, "rootfs": {"total": 10, "used": 5, "avail": 5, "free": 5},
    "pveversion": "pve-manager/9.1.3", "current-kernel": {"release": "6.14.8-2-pve"},
}
PUPPET_NODE = {
    "certname": "mw151.fsslc.wtnet", "deactivated": None, "expired": None, "latest_report_status": "failed",
    "latest_report_noop": False, "latest_report_noop_pending": False, "report_timestamp": "2026-08-20T12:00:10.000Z",
    "catalog_timestamp": "2026-08-20T12:00:00.000Z", "facts_timestamp": "2026-08-20T11:59:58.000Z",
    "cached_catalog_status": "not_used", "report_environment": "production",
}
REPORT = {"hash": "b", "certname": "mw151", "status": "failed", "noop": False, "noop_pending": False,
          "corrective_change": None, "environment": "production", "configuration_version": "1", "puppet_version": "8",
          "start_time": "2026-08-20T12:00:00.000Z", "end_time": "2026-08-20T12:00:10.000Z",
          "producer_timestamp": "2026-08-20T12:00:10.000Z", "receive_time": "2026-08-20T12:00:11.000Z"}
EVENT = {"certname": "mw151", "report": "b", "status": "failure", "timestamp": "2026-08-20T12:00:05Z",
         "resource_type": "Service", "resource_title": "php8.4-fpm", "property": "ensure", "message": "Could not start",
         "containing_class": "Php::Fpm", "file": "/etc/puppet/x.pp", "line": 12, "old_value": "stopped",
         "new_value": "running"}
FACT = {"certname": "mw151.fsslc.wtnet", "name": "puppet_agent_disabled_message", "value": "upgrade", "environment": "x"}
SERVICE = {"name": "mw152!PHP-FPM", "type": "Service", "meta": {}, "joins": {"host": {"name": "mw152"}},
           "attrs": {"name": "PHP-FPM", "host_name": "mw152", "display_name": "PHP-FPM", "state": 2.0, "state_type": 1.0,
                     "acknowledgement": 0.0, "downtime_depth": 0.0, "last_state_change": 1724155200.5,
                     "last_check": 1724155260.25, "last_check_result": {"exit_status": 2.0, "output": "CRITICAL\n"}}}
HOST = {"name": "mw152", "type": "Host", "attrs": {"name": "mw152", "state": 1.0, "acknowledgement": 1.0,
        "downtime_depth": 0.0, "last_check_result": {"output": "PING CRITICAL - Packet loss = 100%"}}}
SCHEMA = [{"column_type": "field", "type": "string", "field": f, "name": f"field: {f}"}
          for f in ("timestamp", "source", "message", "level", "application_name")]
TABULAR = {"schema": SCHEMA, "datarows": [["2026-08-20T12:00:00.000Z", "mw151", "PHP Fatal error", 3, "php"],
                                         ["2026-08-20T12:00:05.000Z", "db151", "disk full", "2", None]],
           "metadata": {"effective_timerange": {"type": "absolute", "from": "x", "to": "y"}}}
LEGACY = {"messages": [{"message": {"_id": "abc", "timestamp": "2026-08-20T12:00:00.000Z", "source": "mw151",
                                    "message": "oops", "level": 4.0}, "index": "graylog_0"}], "total_results": 1.0}
AGGREGATE = {"schema": [{"column_type": "grouping", "type": "string", "field": "source", "name": "grouping: source"},
                        {"column_type": "metric", "type": "numeric", "function": "count", "name": "metric: count()"}],
             "datarows": [["mw152", 41], ["mw151", 2.0]], "metadata": {"effective_timerange": {}}}
STREAMS = {"total": 2, "streams": [{"id": "000000000000000000000001", "title": "Default Stream", "disabled": False,
                                    "is_default": True, "rules": []},
                                   {"id": "65a1b2c3d4e5f60718293a01", "title": "Web tier", "disabled": True}]}
COMMIT = {"sha": "8b394f29" + "0" * 32, "html_url": "https://github.com/miraheze/mw-config/commit/8b394f29",
          "commit": {"author": {"name": "Alice", "email": "a@example.org", "date": "2026-08-20T12:57:48+01:00"},
                     "committer": {"name": "GitHub", "date": "2026-08-20T12:57:48+01:00"},
                     "message": "add thumb.wm.org to CSP (#6502)\n\nbody"},
          "author": {"login": "alice"}, "parents": [{"sha": "0" * 40}]}  # fmt: skip

DOWNTIME = {"name": "mw152!PHP-FPM!2d1e6c1a-6f4b-4a36-9d0b-5e7f9a3c1b22", "type": "Downtime",
            "attrs": {"host_name": "mw152", "service_name": "PHP-FPM", "author": "alice", "comment": "maintenance",
                      "start_time": 1724155200.0, "end_time": 1724162400.5, "fixed": True}}
ACK_COMMENT = {"name": "mw152!PHP-FPM!c1", "type": "Comment",
               "attrs": {"host_name": "mw152", "service_name": "PHP-FPM", "author": "alice", "text": "on it",
                         "entry_type": 4.0, "entry_time": 1724155200.0, "expire_time": 0.0}}
# parser name -> (parser, valid payloads)
GRAYLOG_EVENT = {"id": "01JZ6Q0X5V2N8K4M7R3T9W1B6C", "event_definition_id": "65f0c1a2b3c4d5e6f7a80002",
                 "timestamp": "2026-08-20T11:55:03.000Z", "message": "nginx on mw152: connect() failed",
                 "source": "graylog161", "key": "mw152", "priority": 3, "alert": True,
                 "fields": {"source": "mw152"}, "group_by_fields": {"source": "mw152"}}
GRAYLOG_EVENTS = {"events": [{"event": GRAYLOG_EVENT, "index_name": "gl-events_4"},
                             {"event": {**GRAYLOG_EVENT, "id": "x", "priority": 1.0, "alert": False}}],
                  "total_events": 2, "context": {"event_definitions": {"65f0c1a2b3c4d5e6f7a80002": {"title": "nginx upstream errors"}}}}
PARSERS: dict[str, tuple[Callable[[Any], Any], list[Any]]] = {
    "parse_cluster_resources": (parse_cluster_resources, [[QEMU, LXC, NODE, STORAGE], {"data": [QEMU, NODE]}]),
    "parse_rrddata": (parse_rrddata, [[{"time": 120, "cpu": 0.5, "maxcpu": 2}, {"time": 60.0, "mem": 1e9}]]),
    "parse_node_status": (parse_node_status, [NODE_STATUS, {"data": NODE_STATUS}]),
    "parse_nodes": (parse_nodes, [[PUPPET_NODE, {**PUPPET_NODE, "certname": "db171", "deactivated": True}]]),
    "parse_reports": (parse_reports, [[REPORT, {**REPORT, "hash": "a", "end_time": None}]]),
    "parse_events": (parse_events, [[EVENT, {**EVENT, "status": "skipped", "message": None}]]),
    "parse_fact": (parse_fact, [[FACT], []]),
    "parse_fact_values": (parse_fact_values, [[FACT, {**FACT, "certname": "mw152.fsslc.wtnet", "value": None}], []]),
    "parse_downtimes": (parse_downtimes, [{"results": [DOWNTIME, {"name": "db151!x", "attrs": {"service_name": "",
                                                                                            "end_time": 0}}]}]),
    "parse_acknowledgements": (parse_acknowledgements, [{"results": [ACK_COMMENT, {**ACK_COMMENT, "attrs": {
        **ACK_COMMENT["attrs"], "service_name": "", "expire_time": 1724162400}}]}]),
    "parse_services": (parse_services, [{"results": [SERVICE, {**SERVICE, "name": "mw151!HTTPS"}]}]),
    "parse_hosts": (parse_hosts, [{"results": [HOST, {"name": "mw151", "type": "Host", "attrs": {"state": 0.0}}]}]),
    "parse_messages": (parse_messages, [TABULAR, LEGACY]),
    "parse_aggregate": (parse_aggregate, [AGGREGATE]),
    "parse_streams": (parse_streams, [STREAMS]),
    "parse_graylog_events": (parse_graylog_events, [GRAYLOG_EVENTS]),
    "parse_github_commits": (lambda payload: parse_github_commits(payload, "miraheze/mw-config"), [[COMMIT]]),
}
# the record-by-record parsers of big answers (ijson, httpclient.answer_items) take the body's bytes
STREAMED: dict[str, tuple[str, Callable[[bytes], Any], Callable[[Any], Any]]] = {
    # name: (the dict-based parser it must agree with, parser, its result in the dict parser's terms)
    "parse_services_answer": ("parse_services", parse_services_answer, sorted_checks),
    "parse_hosts_answer": ("parse_hosts", parse_hosts_answer, lambda hosts: tuple(sorted(hosts, key=lambda h: h.name))),
    "parse_nodes_answer": ("parse_nodes", parse_nodes_answer, lambda inventory: inventory),
}
for _name, (_twin, _parser, _) in STREAMED.items():
    PARSERS[_name] = (lambda payload, parse=_parser: parse(json.dumps(payload).encode()), PARSERS[_twin][1])

# --- strategies ------------------------------------------------------------------------------------


def _keys_of(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        found.update(value)
        for item in value.values():
            _keys_of(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys_of(item, found)
    return found


KNOWN_KEYS = sorted(_keys_of([seeds for _, seeds in PARSERS.values()], set()) | {"data", "errors", "error", "results"})
KEYS = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)  # beyond what a float holds
    | st.floats()  # NaN and ±inf too: Python's json reads and writes them
    | st.text(max_size=20)
    | st.sampled_from(["", "0", "1", "2.0", "true", "nan", "inf", "-1e999", "2026-08-20T12:00:00Z",
                       "2026-13-45T99:00:00Z", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00",
                       "qemu/", "node/", "err", "ERROR"])
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) to a value inside `value`, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw, seeds: list[Any]) -> Any:
    """A valid payload with one to three values replaced by arbitrary JSON, or removed."""
    payload = copy.deepcopy(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(payload)))
        if not path:
            return draw(JSON_VALUES)
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return payload


def payloads(seeds: list[Any]) -> st.SearchStrategy[Any]:
    return JSON_VALUES | mutated(seeds) | st.lists(mutated(seeds), max_size=3)


def only_malformed(parser: Callable[[Any], Any], payload: Any) -> None:
    try:
        parser(payload)
    except MalformedAnswer as exc:
        assert str(exc) and "\n" not in str(exc)


# --- the parsers -------------------------------------------------------------------------------------


def _parser_test(name: str):
    parser, seeds = PARSERS[name]

    @given(payload=payloads(seeds))
    def test(payload: Any) -> None:
        only_malformed(parser, payload)

    test.__name__ = f"test_fuzz_{name}"
    return test


for _name in PARSERS:
    globals()[f"test_fuzz_{_name}"] = _parser_test(_name)


def test_fuzz_every_parser_is_covered():
    import console.sources as sources

    defined = set()
    for module in (sources.proxmox, sources.puppetdb, sources.icinga, sources.graylog, sources.commits):
        defined |= {n for n in vars(module) if n.startswith("parse_") and callable(getattr(module, n))}
    defined |= {f"parse_graylog_{n.removeprefix('parse_')}" for n in vars(sources.graylog_events) if n.startswith("parse_")}
    # the record-level helpers are reached through their list parsers; git log has its own test
    inner = {"parse_node", "parse_guest", "parse_service", "parse_host", "parse_tabular", "parse_legacy",
             "parse_github_commit", "parse_git_log", "parse_downtime"}  # fmt: skip
    assert defined - inner <= set(PARSERS), defined - inner - set(PARSERS)


def _outcome(parse: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", parse()
    except MalformedAnswer as exc:
        return "malformed", str(exc)


def _interoperable(value: Any) -> bool:
    """Only what RFC 8259 JSON carries between systems: no NaN or ±Infinity (Python's json writes and
    reads them), no integer beyond 64 bits (ijson's C parser refuses both, as not JSON)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) < value < 2**63
    if isinstance(value, dict):
        return all(_interoperable(item) for item in value.values())
    if isinstance(value, list):
        return all(_interoperable(item) for item in value)
    return True


@pytest.mark.parametrize("name", sorted(STREAMED))
def test_fuzz_streamed_parsers_agree_with_their_dict_twins(name):
    """Same data, or the same message, as json.loads + the dict-based parser, for any payload of
    interoperable JSON; "not JSON" for the rest (json.loads takes NaN and huge integers, ijson not)."""
    twin, parser, normalise = STREAMED[name]

    @given(payload=payloads(PARSERS[twin][1]))
    def agree(payload: Any) -> None:
        body = json.dumps(payload).encode()
        streamed = _outcome(lambda: normalise(parser(body)))
        if _interoperable(payload):
            assert streamed == _outcome(lambda: PARSERS[twin][0](json.loads(body)))
        else:
            assert streamed[0] == "malformed" and streamed[1].startswith("malformed answer: not JSON ("), streamed

    agree()


GIT_TEXT = st.lists(
    st.sampled_from(["\x1f", "\x1e", "\n", "a" * 40, "Alice", "2026-08-20T12:57:48+01:00", "not-a-date", "subject"])
    | st.text(max_size=10),
    max_size=20,
).map("".join)


@given(text=GIT_TEXT)
def test_fuzz_parse_git_log(text: str):
    only_malformed(lambda t: parse_git_log(t, "puppet"), text)


HEADER_VALUES = st.text(max_size=12) | st.integers(min_value=-(10**30), max_value=10**30).map(str) | st.sampled_from(
    ["0", "60", "1e999", "nan", "-1", "1787400000", "99999999999999"]
)


@given(headers=st.dictionaries(st.sampled_from(["x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"]),
                               HEADER_VALUES))  # fmt: skip
def test_fuzz_rate_limit_headers(headers: dict[str, str]):
    remaining = rate_limit_remaining(headers)  # never raises at all
    assert remaining is None or isinstance(remaining, int)
    assert rate_limit_message(headers, datetime(2026, 8, 22, 12, tzinfo=timezone.utc)).startswith("GitHub rate limit")


@given(level=JSON_VALUES)
def test_fuzz_syslog_level(level: Any):
    assert syslog_level(level) in (None, *range(8))


# --- every source end to end: a loopback TLS server answering the fuzzed body ---------------------


class FuzzServer:
    """HTTPS on loopback; every request (any method, any path) gets `self.body` as a 200 JSON answer."""

    def __init__(self, tmp_path) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = tmp_path / "fuzz-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self.body = b"[]"
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                body = server.body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer
            timeout = 5  # seconds: a connection left half-open is dropped, never waited on forever

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        context = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        # the handshake in the handler's thread, with its timeout: done in accept() (the default), one
        # client that connects and never finishes it (a fetch cancelled mid-handshake) stops the server
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    server = FuzzServer(tmp_path_factory.mktemp("fuzz"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_sources(fuzz_server, tmp_path_factory):
    """One source of every kind, all pointed at the fuzz server, and the event loop they live in."""
    directory = tmp_path_factory.mktemp("fuzzcfg")
    secret = directory / "token"
    secret.write_text("fuzz-secret-value-0123456789\n")
    secret.chmod(0o600)
    url, ca = fuzz_server.url, str(fuzz_server.ca_path)
    text = f"""
farm: {{name: fuzz, environment: test, domains: [example.org]}}
sources:
  proxmox: [{{name: pve, url: "{url}", token_id: "root@pam!fuzz", token_secret: {{file: "{secret}"}}, verify: "{ca}", timeout: 2}}]
  puppetdb: [{{name: puppetdb, url: "{url}", verify: "{ca}", timeout: 2}}]
  icinga: [{{name: icinga, url: "{url}", username: fuzz, password: {{file: "{secret}"}}, verify: "{ca}", timeout: 2}}]
  graylog: [{{name: graylog, url: "{url}", token: {{file: "{secret}"}}, verify: "{ca}", timeout: 2}}]
  commits: [{{name: mw-config, github: miraheze/mw-config, api_url: "{url}", token: {{file: "{secret}"}}, verify: "{ca}", timeout: 2}}]
"""
    sources = build_sources(parse_config(text, "<fuzz>"))
    loop = asyncio.new_event_loop()
    yield sources, loop
    for source in sources:
        loop.run_until_complete(source.aclose())
    loop.close()


ALL_SEEDS = [seed for _, seeds in PARSERS.values() for seed in seeds]
LEAKED_EXCEPTION = re.compile(r"\b(TypeError|KeyError|AttributeError|IndexError|OverflowError|RecursionError)\b")


@settings(max_examples=FUZZ_SOURCE_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=payloads(ALL_SEEDS).map(lambda v: json.dumps(v).encode()) | st.binary(max_size=64))
def test_fuzz_every_source_fetch_never_raises(fuzz_server, fuzz_sources, body: bytes):
    sources, loop = fuzz_sources
    fuzz_server.body = body
    for source in sources:
        result = loop.run_until_complete(source.fetch())  # an exception here fails the property
        if not result.ok:
            assert result.error and "\n" not in result.error
            assert "fuzz-secret-value" not in result.error
            assert not LEAKED_EXCEPTION.search(result.error), f"{source.kind}: {result.error}"
