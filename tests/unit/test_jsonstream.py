"""The record-by-record JSON walk of big answers (console/sources/jsonstream.py) and the Icinga merge."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from test_jsonstream_chunks import BROKEN

from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck
from console.sources.base import MalformedAnswer
from console.sources.icinga import KnownObjects, merge_checks, parse_services_answer, results
from console.sources.jsonstream import iter_items
from console.sources.parsing import as_list

T0 = datetime(2026, 8, 20, 12, 0, tzinfo=timezone.utc)


def icinga_list(payload):
    return results(payload, "services")


def top_list(payload):
    return as_list(payload, "nodes")


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'{"results": [{"a": 1}, [2], "three", 4.5, null]}', [{"a": 1}, [2], "three", 4.5, None]),
        (b' \n{ "other" : {"results": 0} , "results" : [ ] , "x": [1] }\r\n', []),
        (b'{"results":[{"nested":{"results":[1]}}]}', [{"nested": {"results": [1]}}]),
        ('{"results": ["caf\u00e9"]}'.encode("utf-16"), ["caf\u00e9"]),  # json.loads(bytes) reads UTF-16 too
        (b'\xef\xbb\xbf{"results": [1]}', [1]),  # a UTF-8 BOM
    ],
)
def test_items_under_a_key(body, expected):
    assert list(iter_items(body, icinga_list, key="results")) == expected


def test_items_of_a_top_level_list():
    assert list(iter_items(b'[{"certname": "a"}, {"certname": "b"}]', top_list)) == [{"certname": "a"}, {"certname": "b"}]
    assert list(iter_items(b"[]", top_list)) == []


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"results": null}', "malformed answer: services.results should be a list, got null"),
        (b'{"results": {"a": 1}}', "malformed answer: services.results should be a list, got object"),
        (b'{"status": "fine"}', "malformed answer: services.results should be a list, got null"),
        (b"{}", "malformed answer: services.results should be a list, got null"),
        (b"[1, 2]", "malformed answer: services should be an object, got list"),
        (b'"results"', "malformed answer: services should be an object, got string"),
    ],
)
def test_wrong_shapes_get_the_dict_parsers_message(body, message):
    with pytest.raises(MalformedAnswer) as caught:
        list(iter_items(body, icinga_list, key="results"))
    assert str(caught.value) == message
    with pytest.raises(MalformedAnswer) as again:  # the same words as json.loads + the dict-based check
        icinga_list(json.loads(body))
    assert str(again.value) == message


def test_a_top_level_object_where_a_list_is_expected_goes_to_validate():
    def puppetdb_records(payload):
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            raise MalformedAnswer(f"PuppetDB: {payload['error']}")
        return as_list(payload, "nodes")

    with pytest.raises(MalformedAnswer, match="^PuppetDB: query failed$"):
        list(iter_items(b'{"error": "query failed"}', puppetdb_records))


@pytest.mark.parametrize("body", [*BROKEN, b'{"results": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"])  # the last: deeper than the decoder's recursion
def test_broken_json_is_not_json(body):
    with pytest.raises(MalformedAnswer, match=r"^malformed answer: not JSON \("):
        list(iter_items(body, icinga_list, key="results"))


def test_every_truncation_of_a_valid_answer_is_malformed_never_another_exception():
    body = json.dumps({"results": [{"name": "mw151!SSH", "attrs": {"state": 0.0, "x": [1, "a\\"]}}] * 3}).encode()
    for end in range(len(body)):
        with pytest.raises(MalformedAnswer):
            list(iter_items(body[:end], icinga_list, key="results"))


def test_items_are_decoded_one_at_a_time():
    """The first item is handed out before a broken tail is even read (nothing decodes the whole body)."""
    items = iter_items(b'{"results": [{"a": 1}, {"b": 2}, oops', icinga_list, key="results")
    assert next(items) == {"a": 1}
    assert next(items) == {"b": 2}
    with pytest.raises(MalformedAnswer, match="not JSON"):
        next(items)


# --- the Icinga merge ----------------------------------------------------------------------------


def check(host, service, state=CheckState.OK, output="", **fields):
    return ServiceCheck(host=host, service=service, state=state, hard=True, acknowledged=False, in_downtime=False,
                        output=output, last_state_change=T0, **fields)  # fmt: skip


def test_problems_are_authoritative_for_their_checks():
    every = [
        check("mw152", "PHP-FPM", CheckState.CRITICAL),
        check("mw151", "SSH"),
        check("db171", "MariaDB", CheckState.WARNING),  # recovered... or not yet in the problems answer
        check("mw151", "Disk Space"),  # became a problem between the two queries
    ]
    problems = [
        check("mw152", "PHP-FPM", CheckState.CRITICAL, "PROCS CRITICAL: 0 processes"),
        check("mw151", "Disk Space", CheckState.WARNING, "DISK WARNING"),
        check("cp161", "Varnish", CheckState.UNKNOWN, "created in between"),  # not in the first answer
    ]
    merged = merge_checks(every, problems)
    assert [(c.key, c.state, c.output) for c in merged] == [
        ("cp161!Varnish", CheckState.UNKNOWN, "created in between"),
        ("db171!MariaDB", CheckState.WARNING, ""),
        ("mw151!Disk Space", CheckState.WARNING, "DISK WARNING"),
        ("mw151!SSH", CheckState.OK, ""),
        ("mw152!PHP-FPM", CheckState.CRITICAL, "PROCS CRITICAL: 0 processes"),
    ]


def test_merge_sorts_by_host_then_service_like_a_tuple():
    names = [("mw1", "b"), ("mw1", "a b"), ("mw", "z"), ("mw1-x", "a"), ("mw10", "a")]
    merged = merge_checks([check(h, s) for h, s in names], [])
    assert [(c.host, c.service) for c in merged] == sorted(names)


def test_known_objects_swap_equal_checks_only():
    old_ok, old_bad = check("mw151", "SSH"), check("mw152", "PHP-FPM", CheckState.CRITICAL, "down")
    known = KnownObjects(IcingaSnapshot(hosts=(IcingaHostState("mw151", True),), services=(old_ok, old_bad)))
    body = json.dumps({"results": [
        {"name": "mw151!SSH", "attrs": {"state": 0, "state_type": 1, "last_state_change": T0.timestamp()}},
        {"name": "mw152!PHP-FPM", "attrs": {"state": 2, "state_type": 1, "last_state_change": T0.timestamp(),
                                            "last_check_result": {"output": "still down"}}},
    ]}).encode()  # fmt: skip
    ssh, php = parse_services_answer(body, reuse=known.check)
    assert ssh is old_ok
    assert php == check("mw152", "PHP-FPM", CheckState.CRITICAL, "still down") and php is not old_bad
    assert known.host(IcingaHostState("mw151", True)) is known.hosts["mw151"]
    assert known.host(IcingaHostState("mw151", False)).up is False
