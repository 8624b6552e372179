"""The simulated Graylog API, read with httpx: tabular and legacy search, events, auth and CSRF."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    return sim_farm_factory("php-fpm-down")


@pytest.fixture(scope="module")
def graylog(farm, sim_client_factory):
    client = sim_client_factory(farm)
    auth = (farm.secret_path("graylog").read_text().strip(), "token")

    def call(path: str, method: str = "POST", **kwargs):
        headers = kwargs.pop("headers", {"X-Requested-By": "opsconsole-tests"})
        return client.request(method, farm.urls["graylog"] + path, auth=kwargs.pop("auth", auth), headers=headers, **kwargs)

    return call


def _search(graylog, **body):
    request = {"query": "*", "streams": [], "timerange": {"type": "relative", "range": 300},
               "fields": ["timestamp", "source", "message", "level"], "sort": "timestamp", "sort_order": "Descending",
               "from": 0, "size": 100}
    request.update(body)
    return graylog("/api/search/messages", json=request)


def test_tabular_answer_shape(graylog):
    answer = _search(graylog)
    assert answer.status_code == 200
    data = answer.json()
    assert [c["field"] for c in data["schema"]] == ["timestamp", "source", "message", "level"]
    assert data["schema"][1] == {"column_type": "field", "type": "string", "field": "source", "name": "field: source"}
    assert data["datarows"] and all(len(row) == 4 for row in data["datarows"])
    times = [row[0] for row in data["datarows"]]
    assert times == sorted(times, reverse=True)
    assert data["metadata"]["effective_timerange"]["type"] == "absolute"


def test_errors_from_mw152(graylog):
    rows = _search(graylog, query="source:mw152 AND level:<=3").json()["datarows"]
    assert len(rows) > 20  # a line every ~4 s for 5 minutes
    assert all(row[1] == "mw152" and row[3] <= 3 for row in rows)
    assert any("connect() to unix:/run/php/fpm-www.sock failed (111: Connection refused)" in row[2] for row in rows)
    caches = _search(graylog, query='application_name:"haproxy" AND backend:mw152').json()["datarows"]
    assert caches and {row[1] for row in caches} <= {"cp161", "cp171", "cp191", "cp201"}


def test_query_forms(graylog):
    count = lambda q, **kw: len(_search(graylog, query=q, size=10000, **kw).json()["datarows"])  # noqa: E731
    everything = count("*")
    assert count("source:mw152") + count("NOT source:mw152") == everything
    assert count('"Connection refused"') >= count("source:mw152 AND application_name:nginx")
    assert count("level:<=3 OR level:>3") == everything
    assert count("source:mw15*") >= count("source:mw152")
    assert count("(source:cp161 OR source:cp171) AND level:<=4") <= count("source:cp161 OR source:cp171")


def test_paging_sorting_and_fields(graylog):
    first = _search(graylog, size=5).json()["datarows"]
    second = _search(graylog, size=5, **{"from": 5}).json()["datarows"]
    both = _search(graylog, size=10).json()["datarows"]
    assert first + second == both
    ascending = _search(graylog, sort_order="Ascending", size=10).json()["datarows"]
    assert [r[0] for r in ascending] == sorted(r[0] for r in ascending)
    custom = _search(graylog, fields=["source", "application_name", "_id"], size=3).json()
    assert [c["field"] for c in custom["schema"]] == ["source", "application_name", "_id"]
    assert all(len(row) == 3 for row in custom["datarows"])


def test_legacy_relative_search(graylog):
    answer = graylog("/api/search/universal/relative", "GET", headers={},
                     params={"query": "source:mw152", "range": 300, "limit": 5, "sort": "timestamp:desc",
                             "fields": "timestamp,source,message"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["total_results"] > 5 and len(data["messages"]) == 5
    message = data["messages"][0]
    assert message["index"].startswith("graylog_")
    assert message["message"]["source"] == "mw152" and "_id" in message["message"]


def test_events_alert_filter(graylog):
    def events(alerts: str):
        return graylog("/api/events/search", json={"query": "", "page": 1, "per_page": 100,
                                                    "timerange": {"type": "relative", "range": 86400 * 2},
                                                    "filter": {"alerts": alerts}, "sort_by": "timestamp",
                                                    "sort_direction": "desc"}).json()
    only, exclude, include = events("only"), events("exclude"), events("include")
    assert only["total_events"] > 0 and exclude["total_events"] > 0
    assert only["total_events"] + exclude["total_events"] == include["total_events"]
    assert all(e["event"]["alert"] for e in only["events"])
    assert not any(e["event"]["alert"] for e in exclude["events"])
    event = only["events"][0]["event"]
    assert {"id", "event_definition_id", "timestamp", "message", "source", "key", "priority", "alert", "fields"} <= event.keys()
    assert event["event_definition_id"] in only["context"]["event_definitions"]


def test_lbstatus_needs_no_auth(graylog):
    answer = graylog("/api/system/lbstatus", "GET", auth=None, headers={})
    assert answer.status_code == 200 and answer.text == "ALIVE"


def test_auth_and_csrf(graylog):
    assert graylog("/api/search/messages", json={"query": "*"}, auth=("wrong", "token")).status_code == 401
    assert graylog("/api/system", "GET", auth=None, headers={}).status_code == 401
    answer = graylog("/api/search/messages", json={"query": "*"}, headers={})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("CSRF protection header is missing")
    assert graylog("/api/system", "GET", headers={}).json()["lb_status"] == "alive"


def test_bad_query_is_400(graylog):
    answer = _search(graylog, query="(source:mw152")
    assert answer.status_code == 400 and answer.json()["type"] == "ApiError"


def test_added_log_line_is_found(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory("healthy")
    farm.model.add_log("ldap171", "slapd[812]: conn=1042 fd=12 closed (connection lost)", level=3, application_name="slapd")
    client = sim_client_factory(farm)
    answer = client.post(farm.urls["graylog"] + "/api/search/messages",
                         auth=(farm.secret_path("graylog").read_text().strip(), "token"),
                         headers={"X-Requested-By": "t"}, json={"query": "application_name:slapd", "fields": ["source", "message"]})
    assert answer.json()["datarows"] == [["ldap171", "slapd[812]: conn=1042 fd=12 closed (connection lost)"]]
