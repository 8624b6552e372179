"""The `hostile` scenario over the wire: every API answers the strings of console/sim/hostile.py intact (the
ESC bytes, C1 and bidi controls, zero-width characters, markup, lone surrogates as JSON `\\ud800` escapes and
20,000-character lines, decoded from JSON), each field of hostile.FIELDS served somewhere, and the hostile
names work in the sim's own lookups (URLs with encoded names, filters, queries, Salt targets). Plain httpx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time
from urllib.parse import quote, urlencode

import pytest

from console.core.config import parse_config
from console.sim import proxmox_tasks
from console.sim.hostile import (
    FIELDS,
    LINES,
    LONE_SURROGATE,
    LONG_LINE,
    NAME,
    SENTINELS,
    host_fqdn,
    hostile,
)
from console.sim.hostile_scenario import (
    BACKEND,
    COMMIT_REPO,
    DEFINITION_ID,
    DISK_HOST,
    HOSTILE_HOST,
    HOSTILE_SERVICE,
    HOSTILE_VMIDS,
    LOAD_HOST,
    LOG_SENDER,
    PUPPET_DISABLED,
    PUPPET_FAILING,
    SERVICE_HOST,
    SPLIT_HOST,
    STREAM_ID,
    stir,
)

pytestmark = pytest.mark.sim

DOMAIN = "fsslc.wtnet"
SERVED = set()  # the fields seen on the wire so far (test_every_field_was_served checks them last)


def seen(text: str, field: str, *, long: bool = False) -> None:
    """`text` (decoded from an answer) holds the field's hostile string intact; the field counts as served."""
    wanted = hostile(field, long=long)
    assert wanted in text, f"{field}: {text[:300]!r}"
    for sentinel in SENTINELS[field]:
        assert sentinel in text
    SERVED.add(field)


def _q(params: dict) -> str:
    return "?" + urlencode(params, doseq=True, quote_via=quote)


def _path(name: str) -> str:
    return quote(name, safe="")


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    return sim_farm_factory("hostile")


@pytest.fixture(scope="module")
def client(farm, sim_client_factory):
    return sim_client_factory(farm, timeout=15)


# --- Icinga ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def icinga(farm, client):
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())

    def call(path: str, method: str = "GET", **kwargs):
        if "params" in kwargs:
            path += _q(kwargs.pop("params"))
        return client.request(method, farm.urls["icinga"] + path, auth=auth, **kwargs)

    return call


def _query(icinga, plural: str, body: dict) -> list[dict]:
    answer = icinga(f"/v1/objects/{plural}", "POST", headers={"Accept": "application/json", "X-HTTP-Method-Override": "GET"},
                    json=body)
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()["results"]


def test_icinga_hostile_host_and_service_by_name_in_the_url(icinga):
    answer = icinga("/v1/objects/hosts/" + _path(HOSTILE_HOST))
    assert answer.status_code == 200
    host = answer.json()["results"][0]
    assert host["name"] == HOSTILE_HOST and host["attrs"]["display_name"] == HOSTILE_HOST
    seen(host["attrs"]["name"], "host-name")
    assert host["attrs"]["vars"]["fqdn"] == host_fqdn("host-name")
    answer = icinga("/v1/objects/services/" + _path(f"{HOSTILE_HOST}!{HOSTILE_SERVICE}"))
    assert answer.status_code == 200
    service = answer.json()["results"][0]
    assert service["attrs"]["host_name"] == HOSTILE_HOST and service["attrs"]["name"] == HOSTILE_SERVICE
    seen(service["attrs"]["display_name"], "service-name")
    assert service["attrs"]["state"] == 2.0
    seen(service["attrs"]["last_check_result"]["output"], "plugin-output")
    assert service["attrs"]["last_check_result"]["output"] == hostile("plugin-output")


def test_icinga_filters_find_hostile_names(icinga):
    results = _query(icinga, "services", {"filter": "host.name == h", "filter_vars": {"h": HOSTILE_HOST},
                                          "attrs": ["name", "state", "last_check_result"], "joins": ["host.name"]})
    by_name = {r["attrs"]["name"]: r for r in results}
    assert HOSTILE_SERVICE in by_name and "Puppet" in by_name and "SSH" in by_name
    assert all(r["joins"]["host"]["name"] == HOSTILE_HOST for r in results)
    puppet = by_name["Puppet"]["attrs"]
    assert puppet["state"] == 2.0
    seen(puppet["last_check_result"]["output"], "puppet-resource")  # "Failed resources: File[...]"
    # a filter with the name as a string literal (escaped as the filter language wants it)
    literal = '"' + HOSTILE_SERVICE.replace("\\", "\\\\").replace('"', '\\"') + '"'
    results = _query(icinga, "services", {"filter": f"service.name == {literal}", "attrs": ["name"]})
    assert sorted(r["name"] for r in results) == sorted([f"{HOSTILE_HOST}!{HOSTILE_SERVICE}",
                                                         f"{SERVICE_HOST}!{HOSTILE_SERVICE}"])


def test_icinga_outputs_comments_and_downtimes(icinga):
    results = _query(icinga, "services", {"filter": "service.state != ServiceOK", "attrs": ["name", "last_check_result"],
                                          "joins": ["host.name"]})
    output = {(r["joins"]["host"]["name"], r["attrs"]["name"]): r["attrs"]["last_check_result"]["output"] for r in results}
    disk = output[(DISK_HOST, "Disk Space")]
    seen(disk, "plugin-output", long=True)
    assert LONG_LINE in disk and len(disk) > 20_000 and LONE_SURROGATE in disk
    load = output[(LOAD_HOST, "Current Load")]
    seen(load, "plugin-output-multiline")
    assert load.count("\n") >= 4 and "\r\n" in load
    seen(output[(PUPPET_DISABLED, "Puppet")], "disabled-message")
    assert output[(SERVICE_HOST, HOSTILE_SERVICE)].startswith("CRITICAL")

    comments = _query(icinga, "comments", {"filter": "host.name == h", "filter_vars": {"h": DISK_HOST}})
    assert len(comments) == 1
    seen(comments[0]["attrs"]["author"], "ack-author")
    seen(comments[0]["attrs"]["text"], "ack-comment", long=True)
    downtimes = _query(icinga, "downtimes", {"filter": "host.name == h", "filter_vars": {"h": LOAD_HOST}})
    assert len(downtimes) == 1 and downtimes[0]["attrs"]["service_name"] == "Current Load"
    seen(downtimes[0]["attrs"]["author"], "downtime-author")
    seen(downtimes[0]["attrs"]["comment"], "downtime-comment", long=True)


def test_icinga_writes_lone_surrogates_as_json_escapes(icinga):
    answer = icinga("/v1/objects/services/" + _path(f"{DISK_HOST}!Disk Space"), params={"attrs": ["last_check_result"]})
    assert answer.status_code == 200
    assert "\\ud800" in answer.text and "\\u001b[31337m" in answer.text
    assert answer.content.isascii()  # every control and surrogate escaped, nothing raw on the wire
    assert LONE_SURROGATE in answer.json()["results"][0]["attrs"]["last_check_result"]["output"]


def test_icinga_actions_select_hostile_objects(icinga):
    """Acknowledge and un-acknowledge bast181's hostile check, by filter and by name: the answer names it."""
    name = f"{SERVICE_HOST}!{HOSTILE_SERVICE}"
    json_headers = {"Accept": "application/json"}
    answer = icinga("/v1/actions/acknowledge-problem", "POST", headers=json_headers, json={
        "type": "Service", "filter": "host.name == h && service.name == s",
        "filter_vars": {"h": SERVICE_HOST, "s": HOSTILE_SERVICE},
        "author": "alice", "comment": "looking"})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["results"][0]["status"] == f"Successfully acknowledged problem for object '{name}'."
    comments = _query(icinga, "comments", {"filter": "service.name == s", "filter_vars": {"s": HOSTILE_SERVICE},
                                           "joins": ["service.name"]})
    assert [c["attrs"]["host_name"] for c in comments] == [SERVICE_HOST]
    assert comments[0]["joins"]["service"]["name"] == HOSTILE_SERVICE and comments[0]["name"].startswith(name + "!")
    answer = icinga("/v1/actions/remove-acknowledgement", "POST", headers=json_headers, json={"type": "Service", "service": name})
    assert answer.status_code == 200, answer.text[:300]
    assert _query(icinga, "comments", {"filter": "service.name == s", "filter_vars": {"s": HOSTILE_SERVICE}}) == []


def test_split_host_is_plain_in_icinga_with_the_hostile_certname_as_fqdn(icinga):
    host = icinga("/v1/objects/hosts/" + SPLIT_HOST).json()["results"][0]
    seen(host["attrs"]["vars"]["fqdn"], "certname")


def test_icinga_event_stream_carries_hostile_strings(farm, client):
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())
    types = ["StateChange", "CheckResult", "AcknowledgementSet", "DowntimeStarted"]
    wanted = set(types)
    got: dict[str, dict] = {}
    with client.stream("POST", farm.urls["icinga"] + "/v1/events", auth=auth, headers={"Accept": "application/json"},
                       json={"types": types, "queue": "hostile"}) as answer:
        assert answer.status_code == 200
        stir(farm.model)
        deadline = time.monotonic() + 10
        for line in answer.iter_lines():
            event = json.loads(line)
            subject = event.get("host") or event.get("downtime", {}).get("host_name")
            if subject == HOSTILE_HOST:
                got.setdefault(event["type"], event)
            if wanted <= set(got) or time.monotonic() > deadline:
                break
    assert wanted <= set(got), sorted(got)
    change = got["StateChange"]
    assert change["service"] == HOSTILE_SERVICE and change["state"] == 1
    seen(change["check_result"]["output"], "plugin-output")
    ack = got["AcknowledgementSet"]
    seen(ack["author"], "ack-author")
    seen(ack["comment"], "ack-comment")
    downtime = got["DowntimeStarted"]["downtime"]
    assert downtime["service_name"] == HOSTILE_SERVICE
    seen(downtime["author"], "downtime-author")
    seen(downtime["comment"], "downtime-comment")


# --- Proxmox --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxmox(farm, client):
    header = {"Authorization": f"PVEAPIToken=root@pam!opsconsole={farm.secret_path('proxmox').read_text().strip()}"}

    def call(path: str, method: str = "GET"):
        return client.request(method, farm.urls["proxmox"] + "/api2/json" + path, headers=header)

    return call


def test_proxmox_vm_names(farm, proxmox):
    guests = proxmox("/cluster/resources?type=vm").json()["data"]
    by_vmid = {g["vmid"]: g for g in guests}
    joined, split = (by_vmid[vmid] for vmid in HOSTILE_VMIDS)
    assert joined["name"] == HOSTILE_HOST and joined["status"] == "running"
    seen(split["name"], "vm-name")
    node = split["node"]
    listed = {g["vmid"]: g["name"] for g in proxmox(f"/nodes/{node}/qemu").json()["data"]}
    assert listed[HOSTILE_VMIDS[1]] == hostile("vm-name") and listed[HOSTILE_VMIDS[0]] == HOSTILE_HOST
    current = proxmox(f"/nodes/{node}/qemu/{HOSTILE_VMIDS[1]}/status/current").json()["data"]
    seen(current["name"], "vm-name")
    assert len([g for g in guests if g["template"] == 0]) == 67 + 2  # the reference farm's guests are all there


def test_proxmox_task_log_lines(farm, proxmox, monkeypatch):
    monkeypatch.setattr(proxmox_tasks, "TASK_SECONDS", {"start": 0.2, "shutdown": 0.2, "reboot": 0.2, "stop": 0.2})
    node = farm.model.hosts[HOSTILE_HOST].node
    answer = proxmox(f"/nodes/{node}/qemu/{HOSTILE_VMIDS[0]}/status/start", "POST")  # running already: the task fails
    assert answer.status_code == 200
    upid = answer.json()["data"]
    first = proxmox(f"/nodes/{node}/tasks/{_path(upid)}/log").json()["data"]
    assert [line["n"] for line in first] == [1, 2, 3]  # the notes are there at once, with the first line
    seen(first[0]["t"], "task-log")
    seen(first[1]["t"], "task-log", long=True)
    time.sleep(0.3)
    log = proxmox(f"/nodes/{node}/tasks/{_path(upid)}/log").json()["data"]
    assert log[-1]["t"] == f"TASK ERROR: VM {HOSTILE_VMIDS[0]} already running"
    assert farm.model.guests[HOSTILE_HOST].status_at(farm.model.now()) == "running"


# --- PuppetDB -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def puppetdb(farm, client):
    def call(path: str, **body):
        if body:  # json.dumps, not httpx's json= (which writes UTF-8 and cannot carry a lone surrogate)
            return client.post(farm.urls["puppetdb"] + "/pdb/query/v4/" + path, content=json.dumps(body),
                               headers={"Content-Type": "application/json"})
        return client.get(farm.urls["puppetdb"] + "/pdb/query/v4/" + path)

    return call


def test_puppetdb_certnames_and_lookups_by_encoded_certname(puppetdb):
    certnames = {node["certname"] for node in puppetdb("nodes").json()}
    assert {host_fqdn("host-name"), host_fqdn("certname"), f"mw151.{DOMAIN}"} <= certnames
    seen(next(c for c in certnames if c == host_fqdn("certname")), "certname")
    for certname in (host_fqdn("host-name"), host_fqdn("certname")):
        answer = puppetdb("nodes/" + _path(certname))
        assert answer.status_code == 200 and answer.json()["certname"] == certname
        facts = puppetdb("nodes/" + _path(certname) + "/facts").json()
        assert {f["certname"] for f in facts} == {certname}
    assert puppetdb("nodes/" + _path(host_fqdn("certname") + "x")).status_code == 404


def test_puppetdb_reports_events_and_the_disabled_fact(puppetdb):
    for host in (PUPPET_FAILING, HOSTILE_HOST):
        certname = f"{host}.{DOMAIN}"
        reports = puppetdb("reports", query=["and", ["=", "certname", certname], ["=", "latest_report?", True]]).json()
        assert len(reports) == 1 and reports[0]["status"] == "failed"
        events = reports[0]["resource_events"]["data"]
        failed = next(e for e in events if e["status"] == "failure")
        seen(failed["resource_title"], "puppet-resource")
        seen(failed["message"], "puppet-message", long=True)
        seen(" ".join(failed["containment_path"]), "puppet-resource")
        logs = reports[0]["logs"]["data"]
        seen(" ".join(log["message"] for log in logs), "puppet-message", long=True)
        seen(" ".join(log["source"] for log in logs), "puppet-resource")
    events = puppetdb("events", query=["=", "resource_title", hostile("puppet-resource")]).json()
    assert {e["certname"] for e in events} == {f"{PUPPET_FAILING}.{DOMAIN}", host_fqdn("host-name")}
    facts = puppetdb("facts/puppet_agent_disabled_message").json()
    disabled = [f["value"] for f in facts if f["certname"] == f"{PUPPET_DISABLED}.{DOMAIN}"]
    assert disabled == [hostile("disabled-message")]
    seen(disabled[0], "disabled-message")


# --- Graylog --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graylog(farm, client):
    auth = (farm.secret_path("graylog").read_text().strip(), "token")

    def call(path: str, body: dict | None = None):
        url = farm.urls["graylog"] + path
        if body is None:
            return client.get(url, auth=auth)
        return client.post(url, auth=auth, json=body, headers={"X-Requested-By": "test"})

    return call


def _phrase(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_graylog_messages_sources_and_apps(graylog):
    fields = ["timestamp", "source", "message", "application_name", "level"]
    answer = graylog("/api/search/messages", {"query": "level:<=3", "timerange": {"type": "relative", "range": 300},
                                              "fields": fields, "size": 500})
    assert answer.status_code == 200
    rows = [dict(zip(fields, row, strict=True)) for row in answer.json()["datarows"]]
    hostile_rows = [r for r in rows if r["message"] == hostile("log-message")]
    assert {r["source"] for r in hostile_rows} == {HOSTILE_HOST, DISK_HOST, LOG_SENDER}
    seen(next(r["source"] for r in hostile_rows if r["source"] == LOG_SENDER), "log-source")
    seen(hostile_rows[0]["message"], "log-message")
    seen(hostile_rows[0]["application_name"], "log-app")
    # the names work in queries (quoted and escaped as Lucene wants them)
    for source in (HOSTILE_HOST, LOG_SENDER):
        answer = graylog("/api/search/messages", {"query": f"source:{_phrase(source)}", "fields": ["source"],
                                                  "timerange": {"type": "relative", "range": 600}})
        assert answer.status_code == 200, answer.text
        assert answer.json()["datarows"] and {row[0] for row in answer.json()["datarows"]} == {source}
    answer = graylog("/api/search/messages", {"query": f"application_name:{_phrase(hostile('log-app'))}",
                                              "fields": ["application_name"], "timerange": {"type": "relative", "range": 600}})
    assert {row[0] for row in answer.json()["datarows"]} == {hostile("log-app")}


def test_graylog_long_lines_and_surrogates(graylog):
    answer = graylog("/api/search/messages", {"query": f"source:{DISK_HOST}", "fields": ["message"],
                                              "timerange": {"type": "relative", "range": 1800}, "size": 500})
    messages = [row[0] for row in answer.json()["datarows"]]
    assert hostile("log-message", long=True) in messages
    seen(hostile("log-message", long=True), "log-message", long=True)
    assert "\\ud800" in answer.text and answer.content.isascii()
    legacy = graylog("/api/search/universal/relative" + _q({"query": f"source:{DISK_HOST}", "range": 1800,
                                                             "fields": "message,source"}))
    assert hostile("log-message", long=True) in [m["message"]["message"] for m in legacy.json()["messages"]]


def test_graylog_streams_and_aggregation(graylog):
    streams = graylog("/api/streams").json()["streams"]
    mine = next(s for s in streams if s["id"] == STREAM_ID)
    seen(mine["title"], "stream-title")
    seen(mine["description"], "stream-description")
    assert {s["title"] for s in streams} >= {"Default Stream", "Web tier", "Authentication"}
    answer = graylog("/api/search/messages", {"query": "*", "streams": [STREAM_ID], "fields": ["message", "source"],
                                              "timerange": {"type": "relative", "range": 300}})
    assert answer.status_code == 200 and answer.json()["datarows"]
    assert {row[0] for row in answer.json()["datarows"]} == {hostile("log-message")}
    answer = graylog("/api/search/aggregate", {"query": "level:<=3", "timerange": {"type": "relative", "range": 300},
                                               "group_by": [{"field": "source", "limit": 100}],
                                               "metrics": [{"function": "count"}]})
    assert answer.status_code == 200
    assert {row[0] for row in answer.json()["datarows"]} >= {HOSTILE_HOST, LOG_SENDER, DISK_HOST}


def test_graylog_events(graylog):
    answer = graylog("/api/events/search", {"query": "", "page": 1, "per_page": 100,
                                            "timerange": {"type": "relative", "range": 3600}, "filter": {"alerts": "only"}})
    assert answer.status_code == 200
    data = answer.json()
    mine = [e["event"] for e in data["events"] if e["event"]["event_definition_id"] == DEFINITION_ID]
    assert mine and all(e["key"] == HOSTILE_HOST and e["group_by_fields"]["source"] == HOSTILE_HOST for e in mine)
    seen(mine[0]["message"], "event-message")
    definition = data["context"]["event_definitions"][DEFINITION_ID]
    seen(definition["title"], "event-title")
    seen(definition["description"], "event-description")


# --- GitHub ---------------------------------------------------------------------------------------


def test_github_commit_message_author_and_login(farm, client):
    headers = {"Authorization": f"Bearer {farm.secret_path('github').read_text().strip()}"}
    answer = client.get(f"{farm.urls['github']}/repos/{COMMIT_REPO}/commits?per_page=5", headers=headers)
    assert answer.status_code == 200
    newest = answer.json()[0]
    seen(newest["commit"]["message"], "commit-message", long=True)
    assert newest["commit"]["message"].count("\n") >= 4
    seen(newest["commit"]["author"]["name"], "commit-author")
    seen(newest["commit"]["committer"]["name"], "commit-author")
    seen(newest["author"]["login"], "commit-login")
    one = client.get(f"{farm.urls['github']}/repos/{COMMIT_REPO}/commits/{newest['sha']}", headers=headers).json()
    assert one["commit"]["message"] == hostile("commit-message", long=True)
    assert one["files"][0]["filename"] == "modules/pwn/manifests/init.pp"
    # the other repositories are the recorded ones
    other = client.get(f"{farm.urls['github']}/repos/miraheze/mw-config/commits?per_page=5", headers=headers).json()
    assert all("pwn" not in c["commit"]["message"] for c in other)


# --- the caches' depool services ------------------------------------------------------------------


def _totp(secret_base32: str) -> str:
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(time.time() // 30)), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def test_depool_backend_names(farm, client):
    secret = farm.secret_path("depool").read_text().strip()
    first, second = farm.cache_names[:2]

    def backends(cache: str) -> dict[str, dict]:
        answer = client.get(farm.depool_urls[cache] + "/backend/list", headers={"X-TOTP": _totp(secret)})
        assert answer.status_code == 200
        return {b["name"]: b for b in answer.json()["backends"]}

    listed = backends(first)
    assert listed[BACKEND]["admin"] == "sick" and listed[BACKEND]["health"] == "sick"
    seen(next(name for name in listed if name == BACKEND), "backend-name")
    assert backends(second)[BACKEND]["admin"] == "auto"
    assert {"mw151", "mw152"} <= set(listed)
    url = f"{farm.depool_urls[first]}/backend/{_path(BACKEND)}/auto"
    answer = client.post(url, headers={"X-TOTP": _totp(secret)})
    assert answer.status_code == 200 and answer.json()["backend"] == BACKEND
    assert backends(first)[BACKEND]["admin"] == "auto"
    assert client.post(f"{farm.depool_urls[first]}/backend/{_path(BACKEND)}/sick",
                       headers={"X-TOTP": _totp(secret)}).status_code == 200
    assert client.post(f"{farm.depool_urls[first]}/backend/{_path(BACKEND + 'x')}/sick",
                       headers={"X-TOTP": _totp(secret)}).status_code == 404


# --- Salt (and the hosts' commands) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def salt(farm, client):
    login = client.post(farm.urls["salt"] + "/login", json={"username": "opsconsole", "eauth": "pam",
                                                            "password": farm.secret_path("salt").read_text().strip()})
    assert login.status_code == 200
    token = login.json()["return"][0]["token"]

    def call(**lowstate):
        answer = client.post(farm.urls["salt"] + "/", json=[{"client": "local", **lowstate}],
                             headers={"X-Auth-Token": token, "Accept": "application/json"})
        assert answer.status_code == 200, answer.text[:300]
        assert answer.content.isascii()
        return answer.json()["return"][0]

    return call


def test_salt_minion_ids_and_command_output(salt):
    every = salt(tgt="*", fun="test.ping")
    assert {host_fqdn("host-name"), host_fqdn("certname"), f"mw151.{DOMAIN}"} <= set(every)
    assert all(every.values())
    answer = salt(tgt=[host_fqdn("host-name"), f"mw151.{DOMAIN}"], tgt_type="list", fun="cmd.run_all",
                  arg=["systemctl is-active php8.4-fpm"])
    assert set(answer) == {host_fqdn("host-name"), f"mw151.{DOMAIN}"}
    mw151 = answer[f"mw151.{DOMAIN}"]
    assert mw151["retcode"] == 0 and mw151["stdout"].startswith("active\n")  # the command still answers
    seen(mw151["stdout"], "command-output")
    seen(mw151["stderr"], "command-output", long=True)
    plain = salt(tgt=host_fqdn("certname"), tgt_type="list", fun="cmd.run", arg=["true"])
    seen(plain[host_fqdn("certname")], "command-output")
    # as a glob, "[bold red]" in the id is a character class: the id does not match itself (Salt's globbing)
    assert salt(tgt=host_fqdn("certname"), fun="test.ping") == {}


def test_salt_puppet_runs_print_hostile_resources_and_reasons(salt):
    failing = salt(tgt=f"{PUPPET_FAILING}.{DOMAIN}", tgt_type="list", fun="cmd.run_all", arg=["puppet agent -tv"])
    result = failing[f"{PUPPET_FAILING}.{DOMAIN}"]
    assert result["retcode"] == 4
    seen(result["stdout"], "puppet-resource")
    seen(result["stderr"], "puppet-message", long=True)
    disabled = salt(tgt=f"{PUPPET_DISABLED}.{DOMAIN}", tgt_type="list", fun="cmd.run_all", arg=["puppet agent -t"])
    result = disabled[f"{PUPPET_DISABLED}.{DOMAIN}"]
    assert result["retcode"] == 1
    seen(result["stdout"], "disabled-message")


def test_the_farm_stays_usable(salt, icinga, farm):
    """The reference farm is all there and works: restarting php-fpm on an app server answers True."""
    assert salt(tgt=f"mw151.{DOMAIN}", tgt_type="list", fun="service.restart", arg=["php8.4-fpm"]) == {f"mw151.{DOMAIN}": True}
    results = _query(icinga, "services", {"filter": "host.name == \"mw151\"", "attrs": ["name", "state"]})
    assert results and all(r["attrs"]["state"] == 0.0 for r in results)
    assert len(farm.model.hosts) == 75 + 2
    config = parse_config(farm.config_yaml(), "<sim>")  # the farm's config is the usual one
    assert [s.name for s in config.sources.icinga] == ["icinga"]


# --- last: every field was on the wire (the files' fields: tests/unit/test_sim_hostile_strings.py) ---


def test_every_field_was_served():
    assert SERVED, "this test counts what the tests above it saw: run the whole module"
    on_the_wire = {field for field in FIELDS if not field.startswith(("lock-", "audit-"))}
    assert on_the_wire - SERVED == set()


def test_field_kinds():
    assert all(LONE_SURROGATE not in hostile(f) and "\n" not in hostile(f) for f, kind in FIELDS.items() if kind == NAME)
    assert all("\n" in hostile(f) for f, kind in FIELDS.items() if kind == LINES)
