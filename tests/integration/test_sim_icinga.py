"""The simulated Icinga 2 API, read with httpx: filters, attrs, joins, method override, auth."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest

pytestmark = pytest.mark.sim


def _q(params: dict) -> str:
    """?query with spaces as %20: Icinga reads a '+' as a '+', not a space (tests/real/test_conformance.py)."""
    return "?" + urlencode(params, doseq=True, quote_via=quote)


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    return sim_farm_factory("php-fpm-down")


@pytest.fixture(scope="module")
def icinga(farm, sim_client_factory):
    client = sim_client_factory(farm)
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())

    def call(path: str, method: str = "GET", **kwargs):
        if "params" in kwargs:
            path += _q(kwargs.pop("params"))
        return client.request(method, farm.urls["icinga"] + path, auth=kwargs.pop("auth", auth), **kwargs)

    return call


def test_problems_with_get_query_params(icinga):
    answer = icinga("/v1/objects/services", params={
        "filter": "service.state!=ServiceOK", "attrs": ["name", "state", "state_type", "last_check_result",
                                                         "acknowledgement", "downtime_depth", "handled", "last_state_change"],
        "joins": ["host.name", "host.address"]})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    results = answer.json()["results"]
    names = {r["name"] for r in results}
    assert {"mw152!PHP-FPM", "mw152!MediaWiki Rendering", "cp171!HTTP 4xx/5xx ERROR Rate"} <= names
    fpm = next(r for r in results if r["name"] == "mw152!PHP-FPM")
    assert fpm["type"] == "Service" and fpm["meta"] == {}
    assert fpm["attrs"]["state"] == 2.0 and isinstance(fpm["attrs"]["state"], float)
    assert fpm["attrs"]["state_type"] == 1.0
    assert fpm["attrs"]["last_check_result"]["output"].startswith("PROCS CRITICAL")
    assert fpm["joins"] == {"host": {"name": "mw152", "address": fpm["joins"]["host"]["address"]}}
    assert set(fpm["attrs"]) == {"name", "state", "state_type", "last_check_result", "acknowledgement",
                                 "downtime_depth", "handled", "last_state_change"}
    rate = next(r for r in results if r["name"] == "cp171!HTTP 4xx/5xx ERROR Rate")
    assert rate["attrs"]["state"] == 1.0 and "Error Rate is" in rate["attrs"]["last_check_result"]["output"]


def test_raw_answer_has_float_numbers(icinga, farm):
    params = {"filter": 'host.name=="mw152" && service.name=="PHP-FPM"', "attrs": ["state", "last_check"]}
    assert '"state":2.0' in icinga("/v1/objects/services", params=params).text
    farm.model.icinga_float_numbers = False  # the way Icinga 2.13 writes them
    try:
        assert '"state":2}' in icinga("/v1/objects/services", params=params).text
    finally:
        farm.model.icinga_float_numbers = True


def test_post_with_method_override_and_json_body(icinga):
    body = {"filter": 'match("mw*", host.name) && service.state == ServiceCritical',
            "attrs": ["name", "state"], "joins": ["host.name"]}
    answer = icinga("/v1/objects/services", "POST", json=body,
                    headers={"X-HTTP-Method-Override": "GET", "Accept": "application/json"})
    assert answer.status_code == 200
    names = sorted(r["name"] for r in answer.json()["results"])
    assert names == ["mw152!HTTPS", "mw152!MediaWiki Rendering", "mw152!PHP-FPM"]


def test_filter_vars_parentheses_and_not(icinga):
    body = {"filter": "(service.state == ServiceWarning || service.state == ServiceCritical) && !service.handled "
                      "&& host.name == h", "filter_vars": {"h": "cp201"}, "attrs": ["name"]}
    answer = icinga("/v1/objects/services", "POST", json=body, headers={"X-HTTP-Method-Override": "GET"})
    assert sorted(r["name"] for r in answer.json()["results"]) == ["cp201!HTTP 4xx/5xx ERROR Rate", "cp201!Varnish Backends"]


def test_noise_has_an_acknowledged_and_a_downtimed_problem(icinga):
    handled = icinga("/v1/objects/services", params={
        "filter": "service.state != ServiceOK && service.handled", "attrs": ["acknowledgement", "downtime_depth"]}).json()["results"]
    assert len(handled) == 2
    assert sorted((r["attrs"]["acknowledgement"], r["attrs"]["downtime_depth"]) for r in handled) == [(0.0, 1.0), (1.0, 0.0)]
    comments = icinga("/v1/objects/comments", params={"attrs": ["author", "text", "entry_type"]}).json()["results"]
    assert len(comments) == 1 and comments[0]["attrs"]["entry_type"] == 4.0
    downtimes = icinga("/v1/objects/downtimes", params={"attrs": ["author", "start_time", "end_time"]}).json()["results"]
    assert len(downtimes) == 1
    load = icinga("/v1/objects/services", params={"filter": 'service.name == "Current Load" && service.state == 1',
                                                  "attrs": ["name"]}).json()["results"]
    assert len(load) == 1


def test_hosts(icinga):
    answer = icinga("/v1/objects/hosts", params={"attrs": ["name", "address", "state"]})
    hosts = {r["name"]: r["attrs"] for r in answer.json()["results"]}
    assert len(hosts) == 68 + 7  # the inventory plus the hypervisors
    assert hosts["cp161"]["address"] == "10.0.16.137"
    assert all(h["state"] == 0.0 for h in hosts.values())
    single = icinga("/v1/objects/hosts/mw152", params={"attrs": ["name"]}).json()["results"]
    assert [r["name"] for r in single] == ["mw152"]
    slash = icinga("/v1/objects/services/cp171!HTTP%204xx%2F5xx%20ERROR%20Rate", params={"attrs": ["state"]})
    assert [r["name"] for r in slash.json()["results"]] == ["cp171!HTTP 4xx/5xx ERROR Rate"]


def test_bad_filter_is_answered_like_icinga(icinga):
    for broken in ("service.state ==", "service.nosuchfield == 1", "nosuchvar == 1", "exit(1)"):
        answer = icinga("/v1/objects/services", params={"filter": broken, "verbose": "1"})
        assert answer.status_code == 404, broken  # Icinga answers filter errors with 404 "No objects found."
        assert answer.json()["status"] == "No objects found."
        assert answer.json()["error"] == 404.0
        assert "diagnostic_information" in answer.json()


def test_unknown_attrs_type_and_object(icinga):
    answer = icinga("/v1/objects/services", params={"attrs": ["nosuch"]})
    assert answer.status_code == 400 and answer.json()["status"] == "Invalid field specified: nosuch"
    assert icinga("/v1/objects/toasters").status_code == 400
    assert icinga("/v1/objects/services/mw152!Nope").status_code == 404


def test_post_without_override_is_not_a_query(icinga):
    body = {"filter": "service.state != ServiceOK"}
    answer = icinga("/v1/objects/services", "POST", json=body, headers={"Accept": "application/json"})
    assert answer.status_code == 400  # Icinga takes it for an object modification (seen on 2.13.6)
    assert "missed adding a 'X-HTTP-Method-Override: GET' header" in answer.json()["status"]
    answer = icinga("/v1/objects/services", "POST", content=json.dumps(body))  # and no Accept header
    assert answer.status_code == 400
    assert "Accept header is missing" in answer.text


def test_auth(icinga):
    answer = icinga("/v1/objects/hosts", auth=("opsconsole", "wrong"), headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Basic realm="Icinga 2"'
    assert answer.json()["status"] == "Unauthorized. Please check your user credentials."
    assert icinga("/v1/objects/hosts", auth=None).status_code == 401


def test_mutators_show_up(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory("healthy")
    client = sim_client_factory(farm)
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())
    url = farm.urls["icinga"] + "/v1/objects/services"
    problems = client.get(url + _q({"filter": "service.state != ServiceOK"}), auth=auth).json()["results"]
    assert problems == []  # healthy means healthy
    farm.model.set_check("mem151", "memcached", "CRITICAL", "connect to address 10.0.15.106 and port 11211: Connection refused")
    farm.model.acknowledge("mem151", "memcached", author="bob", comment="on it")
    farm.model.set_puppet_status("db151", "failed")
    farm.model.set_guest_status("os151", "stopped")
    got = {r["name"]: r["attrs"] for r in client.get(url + _q({"filter": "service.state != ServiceOK",
                                                                "attrs": ["state", "acknowledgement", "handled"]}), auth=auth).json()["results"]}
    assert got == {"mem151!memcached": {"state": 2.0, "acknowledgement": 1.0, "handled": True},
                   "db151!Puppet": {"state": 2.0, "acknowledgement": 0.0, "handled": False}}
    hosts = client.get(farm.urls["icinga"] + "/v1/objects/hosts" + _q({"filter": "host.state == HostDown"}), auth=auth)
    assert [r["name"] for r in hosts.json()["results"]] == ["os151"]
