"""Conformance: the simulator cannot drift from the real servers.

The same queries go to a real PuppetDB 7.12 and a real Icinga2 2.13 (started by tests/harness, filled
here with the hosts the simulated farm has) and to the simulated farm (console.sim). Answers must have
recursively the same key sets and JSON types (`shape`); errors the same status codes and bodies.

- PuppetDB: `mw153.fsslc.wtnet` as the sim's `puppet-after-commit` scenario has it (a `failed` report
  whose `File[/srv/mediawiki/robots.php]` fails and `Service[nginx]` is skipped, an earlier `unchanged`
  one, its facts and a catalog). (mw151 is left to tests/real/test_real_backends.py.) Compared: nodes,
  nodes/<certname>, reports (query + limit + order_by, GET and POST), events, facts; errors: unknown node,
  malformed JSON, unknown operators, unknown field, wrong arity, a query that is not an array.
- Icinga2: host `mw152` (short name, as the sim names hosts) with passive services as in `php-fpm-down`
  (PHP-FPM, MediaWiki Rendering, HTTPS CRITICAL; Disk Space WARNING acknowledged; Puppet in downtime; SSH OK);
  removed again at the end (test_real_backends.py counts the real Icinga's problems). Compared: services
  with attrs + joins (GET, and POST with X-HTTP-Method-Override), full host and service objects; errors:
  malformed filter, bad auth, POST without the override header, unknown attribute, unknown joined field.

The real PuppetDB speaks plain HTTP here; the sim serves HTTPS with its own CA (sim_client_factory).
"""

from __future__ import annotations

import json
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import pytest
import yaml

pytestmark = pytest.mark.real


# --- shapes ---------------------------------------------------------------------------------------------


class OneOf(tuple):
    """The shapes a list's items take when they differ in kind (a fact's `value`: string, number, object...)."""


def shape(value):
    """JSON reduced to its recursive structure: dict -> {key: shape}, list -> [shape of its items merged]
    ([] when empty: nothing to compare), scalars -> their JSON type: "string", "number" (int and float
    alike: Icinga 2.13 writes 2 where the sim may write 2.0, both JSON numbers), "boolean", "null"."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        merged = None
        for item in value:
            merged = shape(item) if merged is None else merge(merged, shape(item))
        return [] if merged is None else [merged]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise TypeError(f"not JSON: {value!r}")


def _kind(s) -> str:
    return "object" if isinstance(s, dict) else "array" if isinstance(s, list) else s


def _alternatives(s) -> dict:
    return {_kind(a): a for a in s} if isinstance(s, OneOf) else {_kind(s): s}


def merge(a, b):
    """One shape for two items of a list: keys united; a null gives way to a value (a field set in some items
    only is nullable, and one sample of it suffices); different kinds become a OneOf."""
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: merge(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return [merge(a[0], b[0])] if a and b else a or b
    kinds = _alternatives(a)
    for kind, alternative in _alternatives(b).items():
        kinds[kind] = merge(kinds[kind], alternative) if kind in kinds else alternative
    kinds.pop("null", None)
    return OneOf(kinds[k] for k in sorted(kinds))


def describe(s) -> str:
    if isinstance(s, dict):
        return "object {" + ", ".join(sorted(s)) + "}"
    if isinstance(s, list):
        return f"array of {describe(s[0])}" if s else "empty array"
    if isinstance(s, OneOf):
        return " | ".join(describe(a) for a in s)
    return s


# Where null on one side against a value on the other is legitimate. Keep it short, say why for each.
# Empty: the servers are filled so that every field the sim sets is set on the real server too (a
# second check result gives Icinga's `vars_before`, a catalog gives PuppetDB's `catalog_*`...).
NULLABLE: dict[str, str] = {}


def shape_diff(real, sim, path: str = "$", nullable: dict[str, str] | None = None) -> list[str]:
    """Missing keys, extra keys and type differences of `sim` against `real`, each with its JSON path."""
    nullable = NULLABLE if nullable is None else nullable
    out: list[str] = []
    if isinstance(real, dict) and isinstance(sim, dict):
        out += [f"{path}.{k}: missing in the sim (real: {describe(real[k])})" for k in sorted(set(real) - set(sim))]
        out += [f"{path}.{k}: extra in the sim (sim: {describe(sim[k])})" for k in sorted(set(sim) - set(real))]
        for key in sorted(set(real) & set(sim)):
            out += shape_diff(real[key], sim[key], f"{path}.{key}", nullable)
        return out
    if isinstance(real, list) and isinstance(sim, list):
        return shape_diff(real[0], sim[0], path + "[]", nullable) if real and sim else []
    ours, theirs = _alternatives(real), _alternatives(sim)
    if set(ours) != set(theirs):
        if "null" in (real, sim) and path in nullable:
            return []
        return [f"{path}: real {describe(real)}, sim {describe(sim)}"]
    for kind in ours:
        if kind in ("object", "array"):
            out += shape_diff(ours[kind], theirs[kind], path, nullable)
    return out


def assert_same_shape(real, sim, what: str) -> None:
    assert real not in ([], {}, None) and sim not in ([], {}, None), f"{what}: nothing to compare ({real!r}, {sim!r})"
    problems = shape_diff(shape(real), shape(sim))
    assert not problems, f"{what}: the sim's answer is not shaped like the real server's\n  " + "\n  ".join(problems)


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


def assert_same_error(real: httpx.Response, sim: httpx.Response, what: str) -> None:
    """Same status, same media type, same body (JSON compared parsed: 404 and 404.0 are the same number)."""
    assert (sim.status_code, media_type(sim)) == (real.status_code, media_type(real)), (
        f"{what}: real {real.status_code} {media_type(real)}, sim {sim.status_code} {media_type(sim)}")
    if media_type(real) == "application/json":
        assert sim.json() == real.json(), f"{what}: bodies differ"
    else:
        assert sim.text == real.text, f"{what}: bodies differ"


def test_shape_reduces_json_to_its_structure():
    assert shape({"a": [1, 2.5], "b": None, "c": [{"x": "s"}, {"x": None, "y": True}], "d": []}) == {
        "a": ["number"], "b": "null", "c": [{"x": "string", "y": "boolean"}], "d": []}
    assert shape([{"value": "s"}, {"value": 1}, {"value": {"k": 1}}]) == [
        {"value": OneOf(["number", {"k": "number"}, "string"])}]


def test_shape_diff_names_paths_and_only_allowed_nulls_pass():
    real = shape({"results": [{"attrs": {"state": 2, "gone": "x", "when": None}}]})
    sim = shape({"results": [{"attrs": {"state": "2", "new": 1, "when": 1.5}}]})
    assert shape_diff(real, sim) == [
        "$.results[].attrs.gone: missing in the sim (real: string)",
        "$.results[].attrs.new: extra in the sim (sim: number)",
        "$.results[].attrs.state: real number, sim string",
        "$.results[].attrs.when: real null, sim number",
    ]
    assert shape_diff(real, sim, nullable={"$.results[].attrs.when": "test"})[-1].endswith("real number, sim string")


# --- the sides -----------------------------------------------------------------------------------------


@dataclass
class Side:
    """One server (real or simulated) behind a base URL."""

    name: str
    base: str
    client: httpx.Client
    verify: ssl.SSLContext | bool = True  # for more clients to this server (other credentials)

    def __call__(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.client.request(method, self.base + path, **kwargs)


@pytest.fixture(scope="module")
def clients():
    made: list[httpx.Client] = []

    def make(**kwargs) -> httpx.Client:
        made.append(httpx.Client(timeout=30, **kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- PuppetDB ----------------------------------------------------------------------------------------------

CERTNAME = "mw153.fsslc.wtnet"
CODE = "/etc/puppetlabs/code/environments/production/modules"
ROBOTS = "Could not evaluate: Could not retrieve information from environment production source(s) " \
         "puppet:///modules/mediawiki/robots.php"
FACTS = {  # what facter 4 on a Debian 12 guest sends for these names (the sim's set of facts)
    "hostname": "mw153", "fqdn": CERTNAME, "domain": "fsslc.wtnet",
    "networking": {"hostname": "mw153", "fqdn": CERTNAME, "ip": "10.0.15.103"}, "ipaddress": "10.0.15.103",
    "os": {"family": "Debian", "name": "Debian", "release": {"full": "12.11", "major": "12", "minor": "11"}},
    "kernelrelease": "6.1.0-37-amd64", "virtual": "kvm", "is_virtual": True, "processorcount": 4,
    "memorysize": "16.00 GiB", "uptime_seconds": 1234567, "puppetversion": "8.10.0", "role": "mediawiki",
}


def store_report(status: str, at: datetime, resources: list, logs: list) -> dict:
    """A store_report v8 command (PuppetDB's report wire format v8), as puppetserver's terminus sends it."""
    return {
        "certname": CERTNAME, "environment": "production", "puppet_version": "8.10.0", "report_format": 12,
        "configuration_version": f"({int(at.timestamp())}) 7e6bf88", "start_time": stamp(at),
        "end_time": stamp(at + timedelta(seconds=31)), "producer_timestamp": stamp(at + timedelta(seconds=32)),
        "producer": "puppet181.fsslc.wtnet", "resources": resources, "logs": logs,
        "metrics": [{"category": "resources", "name": "total", "value": 1248},
                    {"category": "time", "name": "total", "value": 30.7}],
        "transaction_uuid": str(uuid.uuid4()), "catalog_uuid": str(uuid.uuid4()),
        "code_id": "7e6bf88313fc6ccf3035233e660185b4abccef50", "job_id": None, "cached_catalog_status": "not_used",
        "status": status, "noop": False, "corrective_change": False, "noop_pending": False, "type": "agent",
    }  # fmt: skip


def failed_run(at: datetime) -> dict:
    """The sim's puppet-after-commit failure: the moved file cannot be fetched, nginx is skipped."""
    failure = {
        "skipped": False, "timestamp": stamp(at + timedelta(seconds=8)), "resource_type": "File",
        "resource_title": "/srv/mediawiki/robots.php", "file": f"{CODE}/mediawiki/manifests/init.pp", "line": 212,
        "containment_path": ["Stage[main]", "Mediawiki", "File[/srv/mediawiki/robots.php]"], "corrective_change": False,
        "events": [{"status": "failure", "timestamp": stamp(at + timedelta(seconds=8)), "name": None, "property": None,
                    "old_value": None, "new_value": None, "message": ROBOTS, "corrective_change": False}],
    }
    skipped = {  # a skipped resource has no events of its own: PuppetDB makes its "skipped" event
        "skipped": True, "timestamp": stamp(at + timedelta(seconds=10)), "resource_type": "Service",
        "resource_title": "nginx", "file": f"{CODE}/nginx/manifests/init.pp", "line": 64,
        "containment_path": ["Stage[main]", "Nginx", "Service[nginx]"], "corrective_change": False, "events": [],
    }
    logs = [
        {"file": f"{CODE}/mediawiki/manifests/init.pp", "line": 212, "level": "err", "message": ROBOTS,
         "source": "/Stage[main]/Mediawiki/File[/srv/mediawiki/robots.php]", "tags": ["err", "file"],
         "time": stamp(at + timedelta(seconds=8))},
        {"file": None, "line": None, "level": "notice", "message": "Applied catalog in 15.96 seconds",
         "source": "Puppet", "tags": ["notice"], "time": stamp(at + timedelta(seconds=31))},
    ]  # fmt: skip
    return store_report("failed", at, [failure, skipped], logs)


@pytest.fixture(scope="module")
def pdb_real(real_puppetdb, clients):
    """The real PuppetDB with mw153: facts, a catalog, an unchanged run 70 min ago and a failed one 40 min ago
    (older than what test_real_backends.py stores, so the two modules do not step on each other)."""
    now = datetime.now(timezone.utc)
    failed_at, earlier = now - timedelta(minutes=40), now - timedelta(minutes=70)
    real_puppetdb.command("replace_facts", 5, CERTNAME, {
        "certname": CERTNAME, "environment": "production", "producer_timestamp": stamp(failed_at),
        "producer": "puppet181.fsslc.wtnet", "values": FACTS,
    })  # fmt: skip
    real_puppetdb.command("replace_catalog", 9, CERTNAME, {
        "certname": CERTNAME, "version": str(int(failed_at.timestamp())), "environment": "production",
        "transaction_uuid": str(uuid.uuid4()), "catalog_uuid": str(uuid.uuid4()), "producer": "puppet181.fsslc.wtnet",
        "producer_timestamp": stamp(failed_at + timedelta(seconds=4)), "code_id": None, "job_id": None, "edges": [],
        "resources": [{"type": "Class", "title": "Main", "exported": False, "tags": ["class"], "parameters": {}}],
    })  # fmt: skip
    real_puppetdb.command("store_report", 8, CERTNAME, store_report("unchanged", earlier, [], []))
    real_puppetdb.command("store_report", 8, CERTNAME, failed_run(failed_at))
    yield Side("real PuppetDB", real_puppetdb.url, clients())
    real_puppetdb.command("deactivate_node", 3, CERTNAME, {"certname": CERTNAME, "producer_timestamp": stamp(
        datetime.now(timezone.utc))})


@pytest.fixture(scope="module")
def pdb_sim(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory("puppet-after-commit")
    return Side("sim PuppetDB", farm.urls["puppetdb"], sim_client_factory(farm))


@pytest.fixture(scope="module")
def pdb(pdb_real, pdb_sim):
    """get(path, **params) / post(path, body) -> (real answer, sim answer)"""

    def get(path: str, **params):
        return tuple(side("GET", "/pdb/query/v4/" + path, params=params) for side in (pdb_real, pdb_sim))

    def post(path: str, body: dict):
        return tuple(side("POST", "/pdb/query/v4/" + path, json=body) for side in (pdb_real, pdb_sim))

    return get, post


def _ok(answers) -> tuple:
    for answer in answers:
        assert answer.status_code == 200, f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    return tuple(answer.json() for answer in answers)


LATEST_FIRST = json.dumps([{"field": "receive_time", "order": "desc"}])


def test_pdb_nodes(pdb):
    real, sim = _ok(pdb[0]("nodes"))
    assert CERTNAME in {n["certname"] for n in real} and CERTNAME in {n["certname"] for n in sim}
    assert_same_shape(real, sim, "GET /pdb/query/v4/nodes")


def test_pdb_one_node(pdb):
    real, sim = _ok(pdb[0](f"nodes/{CERTNAME}"))
    assert real["latest_report_status"] == sim["latest_report_status"] == "failed"
    assert_same_shape(real, sim, f"GET /pdb/query/v4/nodes/{CERTNAME}")


def test_pdb_reports_with_query_limit_and_order_by(pdb):
    get, post = pdb
    query = json.dumps(["=", "certname", CERTNAME])
    real, sim = _ok(get("reports", query=query, limit="1", order_by=LATEST_FIRST))
    assert len(real) == len(sim) == 1 and real[0]["status"] == sim[0]["status"] == "failed"
    assert_same_shape(real, sim, "GET /pdb/query/v4/reports?query&limit&order_by")
    by_post = _ok(post("reports", {"query": json.loads(query), "limit": 1, "order_by": json.loads(LATEST_FIRST)}))
    assert by_post == (real, sim), "POST with the same query, limit and order_by answers as GET"
    real_events, sim_events = (r[0]["resource_events"]["data"] for r in (real, sim))
    _assert_same_events(real_events, sim_events, "reports[].resource_events.data")


def _assert_same_events(real: list[dict], sim: list[dict], what: str) -> None:
    """Event by event (merging over items would let a null in one hide behind a value in another)."""
    def key(event):
        return event["resource_type"], event["resource_title"]

    assert sorted(map(key, real)) == sorted(map(key, sim)), f"{what}: not the same resources"
    real_by, sim_by = {key(e): e for e in real}, {key(e): e for e in sim}
    for resource in real_by:
        assert_same_shape(real_by[resource], sim_by[resource], f"{what} {resource[0]}[{resource[1]}]")


def test_pdb_events(pdb):
    query = json.dumps(["and", ["=", "certname", CERTNAME], ["=", "latest_report?", True]])
    real, sim = _ok(pdb[0]("events", query=query))
    assert {e["status"] for e in real} == {e["status"] for e in sim} == {"failure", "skipped"}
    assert_same_shape(real, sim, "GET /pdb/query/v4/events")
    _assert_same_events(real, sim, "events")


def test_pdb_facts(pdb):
    real, sim = _ok(pdb[0]("facts", query=json.dumps(["=", "certname", CERTNAME])))
    assert_same_shape(real, sim, "GET /pdb/query/v4/facts")
    real_values, sim_values = ({f["name"]: f["value"] for f in answer} for answer in (real, sim))
    assert_same_shape(real_values, sim_values, "GET /pdb/query/v4/facts (values by name)")


# Errors: (what, method, entity, query); the same certname on both sides, so bodies compare exactly.
PDB_ERRORS = [
    ("unknown node", "GET", "nodes/nosuch.fsslc.wtnet", None),
    ("unknown node's facts", "GET", "nodes/nosuch.fsslc.wtnet/facts", None),
    ("unknown operator", "GET", "nodes", ["foo", "certname", "x"]),
    ("unknown operator heading an events query", "GET", "events", ["==", "certname", "x"]),
    ("unknown operator heading a POSTed reports query", "POST", "reports", [1, {"a": [True, None]}]),
    ("unknown operator inside a query", "GET", "reports", ["and", ["~~", "certname", "x"]]),
    ("unknown field", "GET", "nodes", ["=", "report_status", "failed"]),
    ("wrong arity", "GET", "facts", ["=", "certname"]),  # (["=", "name"] on facts: 500, empty body: not modelled)
    ("a query that is not an array", "GET", "events", {"certname": "x"}),
]


@pytest.mark.parametrize("what, method, path, query", PDB_ERRORS, ids=[e[0] for e in PDB_ERRORS])
def test_pdb_errors(pdb_real, pdb_sim, what, method, path, query):
    if method == "GET":
        params = {"query": json.dumps(query)} if query is not None else None
        real, sim = (side("GET", "/pdb/query/v4/" + path, params=params) for side in (pdb_real, pdb_sim))
    else:
        real, sim = (side("POST", "/pdb/query/v4/" + path, json={"query": query}) for side in (pdb_real, pdb_sim))
    assert real.status_code >= 400, f"{what}: the real PuppetDB accepted it ({real.status_code})"
    assert_same_error(real, sim, what)
    if "nosuch" in path:
        assert sim.json() == {"error": "No information is known about node nosuch.fsslc.wtnet"}


def test_pdb_malformed_json_query(pdb):
    """Status, media type and the body's first paragraphs (where, the line at fault, a caret); the last
    paragraph is the JSON parser's own message (Jackson's there, Python's here) and is not compared."""
    for text in ('["=", "certname"', '["and", ["=", "certname", "x"],\n ["=", "certname"'):
        real, sim = pdb[0]("nodes", query=text)
        assert (sim.status_code, media_type(sim)) == (real.status_code, media_type(real)) == (400, "text/plain")
        real_parts, sim_parts = (answer.text.split("\n\n") for answer in (real, sim))
        assert len(sim_parts) == len(real_parts) == 3, (real.text, sim.text)
        assert sim_parts[:2] == real_parts[:2]
        assert real_parts[0].startswith("Json parse error at line ")


# --- Icinga2 -----------------------------------------------------------------------------------------------

HOST = "mw152"
GROUPS = ("mediawiki", "linux-servers")
SERVICES = {  # name -> (exit status, output, performance data): php-fpm-down on mw152
    "PHP-FPM": (2, "PROCS CRITICAL: 0 processes with command name 'php-fpm8.4'", ["procs=0;1:;1:;0;"]),
    "MediaWiki Rendering": (2, "HTTP CRITICAL: HTTP/1.1 502 Bad Gateway - 166 bytes in 0.004 second response time",
                            ["time=0.004s;;;0.000000", "size=166B;;;0"]),
    "HTTPS": (2, "HTTP CRITICAL: HTTP/1.1 502 Bad Gateway - 166 bytes in 0.005 second response time",
              ["time=0.005s;;;0.000000", "size=166B;;;0"]),
    "Disk Space": (1, "DISK WARNING - free space: / 4096 MB (9% inode=91%)", ["/=41000MB;36000;40000;0;45000"]),
    "Puppet": (0, "OK: Puppet is currently enabled, last run 12 minutes ago with 0 failures", []),
    "SSH": (0, "SSH OK - OpenSSH_9.2p1 Debian-2+deb12u6 (protocol 2.0)", ["time=0.005301s;;;0.000000;10.000000"]),
}
SERVICE_ATTRS = ["state", "state_type", "acknowledgement", "downtime_depth", "last_state_change",
                 "last_check_result", "handled", "problem", "severity"]
OVERRIDE = {"X-HTTP-Method-Override": "GET", "Accept": "application/json"}


def _check_result(kind: str, filter_: str, exit_status: int, output: str, perf: list[str], command: list[str]) -> dict:
    return {"type": kind, "filter": filter_, "exit_status": exit_status, "plugin_output": output,
            "performance_data": perf, "check_command": command, "check_source": "mon181.fsslc.wtnet"}


@pytest.fixture(scope="module")
def icinga_real(real_icinga, clients):
    """mw152 and its services on the real Icinga, each with two check results (so `vars_before` is set);
    Disk Space acknowledged, Puppet in downtime. Removed (cascade) at the end of the module."""
    def ok(answer):
        status, body = answer
        assert status == 200, body
        return body

    try:
        for group in GROUPS:
            ok(real_icinga.api("PUT", f"objects/hostgroups/{group}", {"attrs": {}}))
        ok(real_icinga.api("PUT", f"objects/hosts/{HOST}", {"attrs": {
            "check_command": "dummy", "enable_active_checks": False, "address": "10.0.15.102", "groups": list(GROUPS),
            "vars": {"fqdn": "mw152.fsslc.wtnet", "os": "Linux", "role": "mediawiki", "hypervisor": "cloud15"},
        }}))  # fmt: skip
        ping = ["/usr/lib/nagios/plugins/check_ping", "-H", "10.0.15.102", "-w", "3000.0,80%", "-c", "5000.0,100%"]
        for _ in range(2):
            ok(real_icinga.api("POST", "actions/process-check-result", _check_result(
                "Host", f'host.name=="{HOST}"', 0, "PING OK - Packet loss = 0%, RTA = 0.31 ms",
                ["rta=0.310000ms;3000.000000;5000.000000;0.000000", "pl=0%;80;100;0"], ping)))
        for service, (state, output, perf) in SERVICES.items():
            attrs = {"check_command": "passive", "enable_active_checks": False, "max_check_attempts": 1, "vars": {}}
            ok(real_icinga.api("PUT", "objects/services/" + quote(f"{HOST}!{service}"), {"attrs": attrs}))
            nrpe = ["/usr/lib/nagios/plugins/check_nrpe", "-H", "10.0.15.102", "-c", "check_" + service.lower()]
            for _ in range(2):
                ok(real_icinga.api("POST", "actions/process-check-result", _check_result(
                    "Service", f'host.name=="{HOST}" && service.name=="{service}"', state, output, perf, nrpe)))
        ok(real_icinga.api("POST", "actions/acknowledge-problem", {
            "type": "Service", "filter": f'host.name=="{HOST}" && service.name=="Disk Space"',
            "author": "ops", "comment": "cleaning /var/log - T12345",
        }))  # fmt: skip
        start = datetime.now(timezone.utc).timestamp()
        ok(real_icinga.api("POST", "actions/schedule-downtime", {
            "type": "Service", "filter": f'host.name=="{HOST}" && service.name=="Puppet"', "author": "ops",
            "comment": "puppet disabled for the upgrade", "start_time": start - 60, "end_time": start + 3600,
        }))  # fmt: skip
        client = clients(verify=real_icinga.tls_context(), auth=(real_icinga.username, real_icinga.password))
        yield Side("real Icinga", real_icinga.url, client, real_icinga.tls_context())
    finally:
        real_icinga.api("DELETE", f"objects/hosts/{HOST}?cascade=1")
        for group in GROUPS:
            real_icinga.api("DELETE", f"objects/hostgroups/{group}?cascade=1")


@pytest.fixture(scope="module")
def icinga_sim(sim_farm_factory, sim_client_factory):
    """The sim's Icinga with its default float numbers (2.0 where Icinga 2.13 writes 2: both JSON numbers)."""
    farm = sim_farm_factory("php-fpm-down")
    source = yaml.safe_load(farm.config_yaml())["sources"]["icinga"][0]
    client = sim_client_factory(farm)
    client.auth = (source["username"], farm.secret_path("icinga").read_text().strip())
    return Side("sim Icinga", farm.urls["icinga"], client, ssl.create_default_context(cafile=str(farm.ca_path)))


def _both(real: Side, sim: Side, method: str, path: str, **kwargs) -> tuple[httpx.Response, httpx.Response]:
    return real(method, path, **kwargs), sim(method, path, **kwargs)


def test_icinga_services_with_attrs_and_joins(icinga_real, icinga_sim):
    params = {"filter": f'host.name=="{HOST}"', "attrs": SERVICE_ATTRS, "joins": ["host.name"]}
    real, sim = _ok(_both(icinga_real, icinga_sim, "GET", "/v1/objects/services", params=params))
    assert {r["name"] for r in real["results"]} == {f"{HOST}!{s}" for s in SERVICES}
    assert {f"{HOST}!{s}" for s in SERVICES} <= {r["name"] for r in sim["results"]}
    assert_same_shape(real, sim, "GET /v1/objects/services?filter&attrs&joins=host.name")


def test_icinga_services_by_post_with_method_override(icinga_real, icinga_sim):
    body = {"filter": "host.name==name", "filter_vars": {"name": HOST}, "attrs": SERVICE_ATTRS, "joins": ["host.name"]}
    real, sim = _ok(_both(icinga_real, icinga_sim, "POST", "/v1/objects/services", json=body, headers=OVERRIDE))
    assert_same_shape(real, sim, "POST /v1/objects/services with X-HTTP-Method-Override: GET")
    for side, answer in ((icinga_real, real), (icinga_sim, sim)):
        by_get = side("GET", "/v1/objects/services", params={"filter": f'host.name=="{HOST}"', "attrs": ["state"]})
        assert {r["name"] for r in by_get.json()["results"]} == {r["name"] for r in answer["results"]}, side.name


def test_icinga_hosts_full_objects(icinga_real, icinga_sim):
    real, sim = _ok(_both(icinga_real, icinga_sim, "GET", "/v1/objects/hosts", params={"filter": f'host.name=="{HOST}"'}))
    assert [r["name"] for r in real["results"]] == [r["name"] for r in sim["results"]] == [HOST]
    assert_same_shape(real, sim, "GET /v1/objects/hosts (every attribute)")


def test_icinga_services_full_objects(icinga_real, icinga_sim):
    # spaces as %20: Icinga reads a '+' in a query string as a '+' (test_icinga_plus_is_not_a_space)
    path = "/v1/objects/services?filter=" + quote(f'host.name=="{HOST}" && service.name=="PHP-FPM"', safe="")
    real, sim = _ok(_both(icinga_real, icinga_sim, "GET", path))
    assert [r["name"] for r in real["results"]] == [r["name"] for r in sim["results"]] == [f"{HOST}!PHP-FPM"]
    assert_same_shape(real, sim, "GET /v1/objects/services (every attribute)")


def test_icinga_plus_is_not_a_space(icinga_real, icinga_sim):
    """httpx (like most clients) writes a space in `params` as '+'; Icinga's URL parser keeps it a '+', so the
    filter does not parse: 404. A literal "+" (%2B) and a '+' compare equal."""
    spaced = _both(icinga_real, icinga_sim, "GET", "/v1/objects/hosts", params={"filter": f'host.name == "{HOST}"'})
    assert spaced[0].request.url.query.startswith(b"filter=host.name+%3D%3D+")
    assert_same_error(*spaced, "a filter whose spaces were sent as '+'")
    plus = f'/v1/objects/hosts?filter=host.name=="{HOST}"%26%26"a+b"=="a%2Bb"&attrs=name'
    real, sim = _ok(_both(icinga_real, icinga_sim, "GET", plus))
    assert [r["name"] for r in real["results"]] == [r["name"] for r in sim["results"]] == [HOST]


# Errors: (what, method, path, keyword arguments of the request)
ICINGA_ERRORS = [
    ("malformed filter", "GET", "/v1/objects/services", {"params": {"filter": f'host.name=="{HOST}'}}),
    ("malformed filter, POSTed", "POST", "/v1/objects/services",
     {"json": {"filter": f'host.name=="{HOST}" &&', "attrs": ["state"]}, "headers": OVERRIDE}),
    ("filter calling an unknown function", "GET", "/v1/objects/hosts", {"params": {"filter": "nosuch(host.name)"}}),
    ("POST without the override header", "POST", "/v1/objects/services",
     {"json": {"filter": f'host.name=="{HOST}"', "attrs": ["state"]}, "headers": {"Accept": "application/json"}}),
    ("unknown attribute", "GET", "/v1/objects/services", {"params": {"filter": f'host.name=="{HOST}"', "attrs": ["nosuch"]}}),
    ("unknown joined field", "GET", "/v1/objects/services",
     {"params": {"filter": f'host.name=="{HOST}"', "joins": ["host.nosuch"]}}),
    ("unknown object type", "GET", "/v1/objects/nosuch", {}),
]


@pytest.mark.parametrize("what, method, path, kwargs", ICINGA_ERRORS, ids=[e[0] for e in ICINGA_ERRORS])
def test_icinga_errors(icinga_real, icinga_sim, what, method, path, kwargs):
    real, sim = _both(icinga_real, icinga_sim, method, path, **kwargs)
    assert real.status_code >= 400, f"{what}: the real Icinga accepted it ({real.status_code})"
    assert_same_error(real, sim, what)


def test_icinga_malformed_filter_with_verbose(icinga_real, icinga_sim):
    """verbose=1 adds `diagnostic_information`: same keys and the same kind of message (the parsers differ in
    what token they name and where)."""
    params = {"filter": "host.name==", "verbose": "1"}
    real, sim = _both(icinga_real, icinga_sim, "GET", "/v1/objects/hosts", params=params)
    assert (sim.status_code, media_type(sim)) == (real.status_code, media_type(real)) == (404, "application/json")
    assert sorted(sim.json()) == sorted(real.json()) == ["diagnostic_information", "error", "status"]
    assert (sim.json()["error"], sim.json()["status"]) == (real.json()["error"], real.json()["status"])
    for answer in (real, sim):
        assert answer.json()["diagnostic_information"].startswith("Error: syntax error, unexpected ")
        assert "\nLocation: in <API query>: 1:" in answer.json()["diagnostic_information"]


@pytest.mark.parametrize("accept", ["application/json", None], ids=["json", "html"])
@pytest.mark.parametrize("auth", ["wrong password", "unknown user", "no credentials"])
def test_icinga_bad_auth(icinga_real, icinga_sim, clients, auth, accept):
    headers = {"Accept": accept} if accept else {}
    credentials = {"wrong password": ("opsconsole", "not-the-password"), "unknown user": ("nobody", "x"),
                   "no credentials": None}[auth]
    real, sim = (clients(verify=side.verify, auth=credentials).get(side.base + "/v1/objects/hosts", headers=headers)
                 for side in (icinga_real, icinga_sim))
    assert real.status_code == 401
    assert_same_error(real, sim, f"{auth}, Accept: {accept}")
    assert sim.headers["www-authenticate"] == real.headers["www-authenticate"] == 'Basic realm="Icinga 2"'
