"""The log screen's and the error rate's Graylog calls against the simulated farm: the aggregate's counts
are what the sim holds, the streams list, and a live tail that shows every new line exactly once
while the sim's clock moves on."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from console.core.config import parse_config
from console.derive.logtail import LogTail, line_key
from console.sources.base import SourceError
from console.sources.graylog import GraylogSource
from tests.conftest import SIM_NOW

pytestmark = pytest.mark.sim


class MovingClock:
    def __init__(self) -> None:
        self.now = SIM_NOW

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture(scope="module")
def farm(sim_farm_factory, clock):
    return sim_farm_factory("php-fpm-down", clock=clock)


@pytest.fixture
def source(farm, clock):
    config = parse_config(farm.config_yaml(), "<sim>")
    return GraylogSource(config.sources.graylog[0], clock)


@pytest.fixture
def graylog(farm, sim_client_factory):
    client = sim_client_factory(farm)
    auth = (farm.secret_path("graylog").read_text().strip(), "token")

    def call(path: str, method: str = "POST", **kwargs):
        return client.request(method, farm.urls["graylog"] + path, auth=auth, headers={"X-Requested-By": "tests"}, **kwargs)

    return call


async def test_error_counts_per_host_are_what_the_sim_holds(farm, source, clock):
    result = await source.fetch()
    await source.aclose()
    assert result.ok, result.error
    now = farm.model.now()
    held = Counter(line.source for line in farm.model.logbook.lines(farm.model.hosts, now - timedelta(seconds=300), now) if line.level <= 3)
    assert dict(result.data.error_counts) == dict(held)
    assert result.data.error_counts[0][0] == "mw152" and result.data.error_counts[0][1] > 20  # the broken host first


def test_aggregate_shape_from_the_docs(graylog):
    body = {"query": "level:<=3", "timerange": {"type": "relative", "range": 300},
            "group_by": [{"field": "source", "limit": 3}], "metrics": [{"function": "count"}, {"function": "max", "field": "level"}]}
    answer = graylog("/api/search/aggregate", json=body)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["schema"][0] == {"column_type": "grouping", "type": "string", "field": "source", "name": "grouping: source"}
    assert data["schema"][1]["name"] == "metric: count()" and data["schema"][2]["name"] == "metric: max(level)"
    assert len(data["datarows"]) <= 3 and data["datarows"][0][0] == "mw152"
    counts = [row[1] for row in data["datarows"]]
    assert counts == sorted(counts, reverse=True) and all(row[2] <= 3 for row in data["datarows"])
    assert graylog("/api/search/aggregate", json={**body, "group_by": []}).status_code == 400
    assert graylog("/api/search/aggregate", json={**body, "metrics": [{"function": "median"}]}).status_code == 400


def test_streams_list_and_search_in_one_stream(graylog):
    listed = graylog("/api/streams", method="GET").json()
    assert listed["total"] == len(listed["streams"]) >= 2
    default = next(s for s in listed["streams"] if s["is_default"])
    web = next(s for s in listed["streams"] if s["title"] == "Web tier")
    search = {"query": "*", "timerange": {"type": "relative", "range": 300}, "fields": ["source", "application_name"],
              "size": 10000}
    everything = graylog("/api/search/messages", json={**search, "streams": [default["id"]]}).json()["datarows"]
    web_only = graylog("/api/search/messages", json={**search, "streams": [web["id"]]}).json()["datarows"]
    assert 0 < len(web_only) < len(everything)
    assert {row[1] for row in web_only} <= {"nginx", "php-fpm", "mediawiki", "haproxy"}
    assert graylog("/api/search/messages", json={**search, "streams": ["nope"]}).status_code == 400


async def test_tail_shows_new_lines_exactly_once_while_the_sim_logs(farm, source, clock):
    tail = LogTail(backlog=20, page=7)  # a small page: several polls per step
    query = "source:mw152"
    shown: list = []
    start = farm.model.now()
    try:
        for step in range(12):
            if step:
                clock.now += timedelta(seconds=3)
                if step % 4 == 0:  # two lines in the same millisecond as the newest shown: the boundary
                    at = tail.cursor
                    farm.model.add_log("mw152", f"boundary {step} a", level=3, at=at)
                    farm.model.add_log("mw152", f"boundary {step} b", level=3, at=at)
            while True:
                request = tail.next_request(300, clock.now)
                snapshot = await source.search(query, request.timerange, size=request.size, newest_first=request.newest_first)
                update = tail.merge(snapshot.messages, request)
                shown.extend(update.added)
                if not update.full_page:
                    break
    finally:
        await source.aclose()
    first = shown[20]  # the lines after the backlog
    held = [line for line in farm.model.logbook.lines(farm.model.hosts, start - timedelta(seconds=300), farm.model.now())
            if line.source == "mw152" and line.timestamp >= first.timestamp]
    keys = [line_key(m) for m in shown]
    assert len(keys) == len(set(keys)), "a line was shown twice"
    assert {line.id for line in held} <= set(keys), "a line was skipped"
    assert sum(m.message.startswith("boundary") for m in shown) == 4
    assert clock.now - start == timedelta(seconds=33) and len(shown) > 20 + 8  # the tail grew as the sim logged


async def test_a_dead_graylog_is_a_message(farm, source):
    farm.set_fault("graylog", "http503")
    try:
        with pytest.raises(SourceError, match="503"):
            await source.search("*", {"type": "relative", "range": 300})
    finally:
        farm.set_fault("graylog", None)
        await source.aclose()
