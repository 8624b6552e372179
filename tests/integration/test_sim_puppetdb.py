"""The simulated PuppetDB v4 query API, read with httpx: AST queries, paging, errors."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

pytestmark = pytest.mark.sim

NODE_FIELDS = {
    "certname", "deactivated", "expired", "catalog_timestamp", "facts_timestamp", "report_timestamp",
    "catalog_environment", "facts_environment", "report_environment", "latest_report_status", "latest_report_noop",
    "latest_report_noop_pending", "latest_report_hash", "latest_report_job_id", "latest_report_corrective_change",
    "cached_catalog_status",
}


@pytest.fixture(scope="module")
def farm(sim_farm_factory):
    return sim_farm_factory("puppet-after-commit")


@pytest.fixture(scope="module")
def pdb(farm, sim_client_factory):
    client = sim_client_factory(farm)

    def get(entity: str, query=None, raw_query: str | None = None, **params):
        if query is not None:
            params["query"] = json.dumps(query)
        if raw_query is not None:
            params["query"] = raw_query
        return client.get(f"{farm.urls['puppetdb']}/pdb/query/v4/{entity}", params=params)

    def post(entity: str, body: dict):
        return client.post(f"{farm.urls['puppetdb']}/pdb/query/v4/{entity}", json=body)

    return get, post


def test_nodes_have_exactly_the_documented_fields(pdb):
    get, _ = pdb
    nodes = get("nodes").json()
    assert len(nodes) == 68 + 7
    assert all(set(n) == NODE_FIELDS for n in nodes)
    assert all("report_status" not in n for n in nodes)
    assert {n["latest_report_status"] for n in nodes} <= {"changed", "unchanged", "failed"}
    datetime.fromisoformat(nodes[0]["report_timestamp"].replace("Z", "+00:00"))


def test_every_mw_host_failed_after_the_commit(pdb, farm):
    get, _ = pdb
    failed = get("nodes", ["=", "latest_report_status", "failed"]).json()
    mw = sorted(h.fqdn for h in farm.model.hosts.values() if h.name.startswith("mw"))
    assert sorted(n["certname"] for n in failed) == mw
    commit_at = farm.model.anchor.timestamp() - 20 * 60
    for node in failed:
        assert datetime.fromisoformat(node["report_timestamp"].replace("Z", "+00:00")).timestamp() > commit_at
    events = get("events", ["and", ["=", "latest_report?", True], ["=", "status", "failure"],
                            ["=", "certname", "mw152.fsslc.wtnet"]]).json()
    assert len(events) == 1
    event = events[0]
    assert event["resource_type"] == "File" and event["resource_title"] == "/srv/mediawiki/robots.php"
    assert "Could not retrieve information from environment production" in event["message"]
    assert event["containing_class"] == "Mediawiki"
    assert "latest_report?" not in event


def test_ast_operators(pdb):
    get, _ = pdb
    names = lambda answer: sorted(n["certname"] for n in answer.json())  # noqa: E731
    assert names(get("nodes", ["~", "certname", "^db17"])) == ["db171.fsslc.wtnet", "db172.fsslc.wtnet"]
    assert names(get("nodes", ["in", "certname", ["array", ["cp161.fsslc.wtnet", "nope"]]])) == ["cp161.fsslc.wtnet"]
    assert names(get("nodes", ["and", ["~", "certname", "^cp"], ["not", ["=", "certname", "cp161.fsslc.wtnet"]]])) == \
        ["cp171.fsslc.wtnet", "cp191.fsslc.wtnet", "cp201.fsslc.wtnet"]
    assert names(get("nodes", ["or", ["=", "certname", "ldap171.fsslc.wtnet"], ["=", "certname", "dns001.vps.wtnet"]])) == \
        ["dns001.vps.wtnet", "ldap171.fsslc.wtnet"]
    assert get("nodes", ["null?", "deactivated", False]).json() == []
    all_nodes = get("nodes").json()
    middle = sorted(n["report_timestamp"] for n in all_nodes)[len(all_nodes) // 2]
    older = get("nodes", ["<", "report_timestamp", middle]).json()
    assert 0 < len(older) < len(all_nodes)
    assert all(n["report_timestamp"] < middle for n in older)


def test_order_by_limit_offset_and_total(pdb):
    get, post = pdb
    order = json.dumps([{"field": "certname", "order": "desc"}])
    everything = [n["certname"] for n in get("nodes", order_by=order).json()]
    assert everything == sorted(everything, reverse=True)
    page = get("nodes", order_by=order, limit=5, offset=3, include_total="true")
    assert [n["certname"] for n in page.json()] == everything[3:8]
    assert page.headers["x-records"] == str(len(everything))
    posted = post("nodes", {"query": ["~", "certname", "^mw"], "order_by": [{"field": "certname"}], "limit": 2, "offset": 1})
    assert [n["certname"] for n in posted.json()] == ["mw152.fsslc.wtnet", "mw153.fsslc.wtnet"]


def test_reports_history_and_extract(pdb):
    get, _ = pdb
    reports = get("reports", ["=", "certname", "mw151.fsslc.wtnet"],
                  order_by=json.dumps([{"field": "start_time", "order": "desc"}])).json()
    assert len(reports) == 12
    assert reports[0]["status"] == "failed" and reports[1]["status"] != "failed"
    starts = [datetime.fromisoformat(r["start_time"].replace("Z", "+00:00")) for r in reports]
    assert all(1700 < (a - b).total_seconds() < 1900 for a, b in zip(starts, starts[1:], strict=False))  # every 30 minutes
    assert {"metrics", "logs", "resource_events"} <= reports[0].keys()
    assert reports[0]["resource_events"]["data"][0]["status"] == "failure"
    latest = get("reports", ["extract", ["certname", "status"], ["=", "latest_report?", True]]).json()
    assert len(latest) == 75 and set(latest[0]) == {"certname", "status"}


def test_single_node_and_unknown_node(pdb, farm, sim_client_factory):
    get, _ = pdb
    node = get("nodes/mw151.fsslc.wtnet").json()
    assert node["certname"] == "mw151.fsslc.wtnet" and set(node) == NODE_FIELDS
    answer = get("nodes/nosuch.fsslc.wtnet")
    assert answer.status_code == 404
    assert answer.json() == {"error": "No information is known about node nosuch.fsslc.wtnet"}  # as PuppetDB 7.12 says


def test_facts(pdb):
    get, _ = pdb
    facts = get("facts", ["and", ["=", "name", "role"], ["=", "certname", "db171.fsslc.wtnet"]]).json()
    assert facts == [{"certname": "db171.fsslc.wtnet", "environment": "production", "name": "role", "value": "database"}]
    assert len(get("facts/processorcount").json()) == 75


@pytest.mark.parametrize("query, fragment", [
    (["=", "report_status", "failed"], "'report_status' is not a queryable object for nodes. Known queryable objects "
                                       "are 'cached_catalog_status', 'catalog_environment'"),
    (["==", "certname", "x"], "SQLGen found for class: nil"),  # PuppetDB 7.12's words (tests/real/test_conformance.py)
    (["<", "certname", "x"], "not allowed on field certname"),
    (["=", "certname"], "requires exactly two arguments"),
    (["in", "certname", ["a", "b"]], "is not well-formed"),
])
def test_bad_queries_are_400(pdb, query, fragment):
    get, _ = pdb
    answer = get("nodes", query)
    assert answer.status_code == 400
    assert fragment in answer.text


def test_malformed_json_and_bad_paging_are_400(pdb):
    get, _ = pdb
    assert get("nodes", raw_query='["=", ').text.startswith("Json parse error at line 1")
    assert get("nodes", order_by=json.dumps([{"field": "nosuch"}])).status_code == 400
    assert get("nodes", limit="-1").status_code == 400
