"""The log screen's logic without Textual: the tail's cursor, its boundary dedupe and its bound; the
aggregate's parsing; the Hosts pane's err/5m column; `:logs`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from console.core.config import parse_config
from console.core.model import Guest, LogMessage, LogSnapshot, ProxmoxInventory, SourceResult
from console.core.state import Store
from console.derive.hosts_pane import hosts_view
from console.derive.jump import parse_jump
from console.derive.logtail import LogTail, TailRequest, host_log_query, line_key, range_after, tail_row
from console.sources.base import MalformedAnswer
from console.sources.graylog import parse_aggregate, parse_streams

T0 = datetime(2026, 8, 20, 12, 0, tzinfo=timezone.utc)
CONFIG = parse_config("farm: {name: test, environment: demo, domains: [fsslc.wtnet]}\nsources: {}\n")


def line(n: int, at_ms: int | None = None, source: str = "mw152", level: int = 3) -> LogMessage:
    at = T0 + timedelta(milliseconds=at_ms if at_ms is not None else n * 100)
    return LogMessage(at, source, f"line {n}", level, message_id=f"id-{n}", application="nginx")


def answer(lines: list[LogMessage], request: TailRequest) -> list[LogMessage]:
    """What Graylog answers `request` from `lines`: the range (both ends inclusive), ordered, cut at size."""
    timerange = request.timerange
    if timerange["type"] == "absolute":
        start = datetime.fromisoformat(timerange["from"].replace("Z", "+00:00"))
        found = [m for m in lines if m.timestamp >= start]
    else:
        found = list(lines)
    found.sort(key=lambda m: (m.timestamp, m.message_id), reverse=request.newest_first)
    return found[: request.size]


# --- the tail ------------------------------------------------------------------------------------


def test_first_poll_takes_the_newest_backlog_then_polls_from_the_cursor():
    tail = LogTail(backlog=3)
    first = tail.next_request(900, T0)
    assert first.timerange == {"type": "relative", "range": 900} and first.newest_first and first.size == 3
    lines = [line(n) for n in range(5)]
    update = tail.merge(answer(lines, first), first)
    assert [m.message for m in update.added] == ["line 2", "line 3", "line 4"]  # oldest first
    assert tail.cursor == lines[4].timestamp
    second = tail.next_request(900, T0 + timedelta(minutes=1))
    assert second.timerange["type"] == "absolute" and not second.newest_first
    assert second.timerange["from"] == "2026-08-20T12:00:00.400Z"


def test_lines_at_the_cursor_come_back_and_are_dropped_once_shown():
    tail = LogTail()
    same_ms = [line(1, 500), line(2, 500)]
    request = tail.next_request(300, T0)
    assert len(tail.merge(same_ms, request).added) == 2
    # the next answer starts at the cursor (inclusive): both again, plus a third at the same millisecond
    request = tail.next_request(300, T0)
    update = tail.merge([*same_ms, line(3, 500), line(4, 900)], request)
    assert [m.message for m in update.added] == ["line 3", "line 4"]
    assert tail.merge([line(4, 900)], tail.next_request(300, T0)).added == ()


def test_lines_older_than_the_cursor_are_never_shown_again():
    tail = LogTail()
    tail.merge([line(5)], tail.next_request(300, T0))
    update = tail.merge([line(1), line(5), line(6)], tail.next_request(300, T0))
    assert [m.message for m in update.added] == ["line 6"]


def test_the_buffer_is_bounded_and_says_which_lines_left():
    tail = LogTail(limit=4, backlog=10, page=10)
    tail.merge([line(n) for n in range(3)], tail.next_request(300, T0))
    update = tail.merge([line(n) for n in range(3, 6)], tail.next_request(300, T0))
    assert [m.message for m in tail.lines] == ["line 2", "line 3", "line 4", "line 5"]
    assert [m.message for m in update.dropped] == ["line 0", "line 1"]
    flood = tail.merge([line(n) for n in range(6, 16)], tail.next_request(300, T0))
    assert len(tail.lines) == 4 and [m.message for m in flood.added] == [f"line {n}" for n in range(12, 16)]
    assert [m.message for m in flood.dropped] == ["line 2", "line 3", "line 4", "line 5"]


def test_a_full_page_asks_for_more_at_once():
    tail = LogTail(page=2)
    tail.merge([line(0)], tail.next_request(300, T0))
    assert tail.merge([line(0), line(1)], tail.next_request(300, T0)).full_page
    assert not tail.merge([line(2)], tail.next_request(300, T0)).full_page


def test_a_page_full_of_one_millisecond_grows_instead_of_sticking():
    tail = LogTail(page=2)
    same_ms = [line(n, 500) for n in range(5)]
    tail.merge(same_ms[:1], tail.next_request(300, T0))
    request = tail.next_request(300, T0)
    assert tail.merge(same_ms[:2], request).full_page  # line 1 is new
    request = tail.next_request(300, T0)
    update = tail.merge(same_ms[:2], request)  # nothing new in a full page: ask again, more at once
    assert update.full_page and not update.added and tail.next_request(300, T0).size == 4
    update = tail.merge(same_ms[:4], tail.next_request(300, T0))
    assert [m.message for m in update.added] == ["line 2", "line 3"] and tail.next_request(300, T0).size == 2


def test_reset_starts_over():
    tail = LogTail()
    tail.merge([line(1)], tail.next_request(300, T0))
    tail.reset()
    assert not tail.lines and tail.cursor is None and tail.next_request(300, T0).newest_first


@given(
    arrivals=st.lists(st.lists(st.integers(min_value=0, max_value=30), max_size=6), min_size=1, max_size=12),
    page=st.integers(min_value=1, max_value=5),
)
def test_every_line_is_shown_exactly_once_in_order(arrivals: list[list[int]], page: int):
    """Lines arrive in bursts (often several in one millisecond, timestamps never going back); after
    each burst the screen polls until a page is not full. Every line after the first answer's backlog
    (and those sharing its newest millisecond) shows exactly once, in timestamp order."""
    tail = LogTail(limit=10_000, backlog=page, page=page)
    received: list[LogMessage] = []
    expected: set[str] = set()
    shown: list[LogMessage] = []
    clock_ms = 0
    for burst in [*arrivals, []]:  # a last poll after the last burst, as the screen keeps polling
        for step in sorted(burst):
            clock_ms += step // 10
            received.append(line(len(received), clock_ms))
            if tail.cursor is not None:
                expected.add(line_key(received[-1]))
        while True:
            request = tail.next_request(86400, T0)
            got = answer(received, request)
            if request.newest_first:
                expected.update(map(line_key, got))  # the backlog: the newest `page` lines
            update = tail.merge(got, request)
            if request.newest_first and tail.cursor is not None:  # and what shares the newest millisecond
                expected.update(line_key(m) for m in received if m.timestamp == tail.cursor)
            shown.extend(update.added)
            if not update.full_page:
                break
    keys = [line_key(m) for m in shown]
    assert len(keys) == len(set(keys)) and set(keys) == expected
    assert [m.timestamp for m in shown] == sorted(m.timestamp for m in shown)


# --- rows ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "word", "style"), [(0, "emerg", "bold red"), (3, "err", "red"), (4, "warn", "yellow"),
                                                       (6, "info", ""), (7, "debug", "dim")])
def test_rows_colour_by_level_and_always_say_it(level, word, style):
    row = tail_row(line(1, level=level))
    cells = [c.plain if isinstance(c, Text) else c for c in row.cells]
    assert cells[1:4] == ["mw152", word, "nginx"] and row.key == "id-1"
    assert row.cells[4].style == style


def test_range_cycle_and_host_query():
    assert [range_after(r) for r in ("5m", "15m", "1h", "1d")] == ["15m", "1h", "1d", "5m"]
    assert host_log_query(["mw152", "mw152.fsslc.wtnet"]) == 'source:mw152 OR source:"mw152.fsslc.wtnet"'
    assert host_log_query(["we ird"]) == 'source:"we ird"'


def test_jump_to_the_logs():
    assert parse_jump("logs") == parse_jump(":logs").__class__("logs", "*")
    assert parse_jump("logs source:mw152 AND level:<=3").arg == "source:mw152 AND level:<=3"


# --- the aggregate -------------------------------------------------------------------------------


def test_aggregate_columns_are_found_by_type_and_counts_sorted():
    payload = {
        "schema": [{"column_type": "metric", "type": "numeric", "function": "count", "name": "metric: count()"},
                   {"column_type": "grouping", "type": "string", "field": "source", "name": "grouping: source"}],
        "datarows": [[3, "mw151"], [41.0, "mw152"], [7, None], [1, "mw151"]],
    }
    assert parse_aggregate(payload) == (("mw152", 41), ("mw151", 4))


@pytest.mark.parametrize("payload", [{"schema": [], "datarows": []}, {"datarows": []},
                                     {"schema": [{"column_type": "grouping"}, {"column_type": "metric"}],
                                      "datarows": [["mw1", -2]]},
                                     {"schema": [{"column_type": "grouping"}, {"column_type": "metric"}],
                                      "datarows": [["mw1"]]}])
def test_aggregate_malformed(payload):
    with pytest.raises(MalformedAnswer):
        parse_aggregate(payload)


def test_streams_default_first_then_by_title():
    streams = parse_streams({"total": 3, "streams": [{"id": "b", "title": "web"}, {"id": "a", "title": "Auth"},
                                                     {"id": "d", "title": "Default Stream", "is_default": True}]})
    assert [s.title for s in streams] == ["Default Stream", "Auth", "web"]
    with pytest.raises(MalformedAnswer):
        parse_streams({"streams": [{"title": "no id"}]})


# --- the Hosts pane's err/5m ---------------------------------------------------------------------


def hosts_store(graylog: LogSnapshot | None) -> Store:
    store = Store(clock=lambda: T0)
    guests = tuple(Guest(name, 100 + i, "cloud15", "qemu", "running", cpu=0.1, maxcpu=2, mem=1, maxmem=2, uptime=60)
                   for i, name in enumerate(("mw151", "mw152")))
    store.register("pve", "proxmox", 30)
    store.put(SourceResult("pve", "proxmox", T0, 1.0, data=ProxmoxInventory((), guests)))
    if graylog is not None:
        store.register("graylog", "graylog", 30)
        store.put(SourceResult("graylog", "graylog", T0, 1.0, data=graylog))
    return store


def error_cells(store: Store) -> dict[str, Text | str]:
    view = hosts_view(store, CONFIG, T0)
    at = [c.label for c in view.columns].index("err/5m")
    return {row.key: row.cells[at] for row in view.rows}


def test_error_column_counts_per_host_highlighted_when_above_zero():
    cells = error_cells(hosts_store(LogSnapshot((), error_counts=(("mw152.fsslc.wtnet", 41),))))
    assert cells["guest:mw152"].plain == "41" and "red" in str(cells["guest:mw152"].style)
    assert cells["guest:mw151"].plain == "0" and "red" not in str(cells["guest:mw151"].style)


def test_error_column_blank_without_graylog():
    assert set(map(str, error_cells(hosts_store(None)).values())) == {""}
