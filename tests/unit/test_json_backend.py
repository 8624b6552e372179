"""Big answers decoded by ijson's C parser (httpclient.answer_items): its backend, the answer's shape
checked with the caller's own messages, broken JSON as "not JSON" wherever the body is cut, the depth
bound, and the chunks let go as they are fed."""

from __future__ import annotations

import json
from typing import Any

import ijson
import pytest

from console.sources.base import MalformedAnswer
from console.sources.httpclient import MAX_DEPTH, answer_items
from console.sources.icinga import parse_services_answer, results
from console.sources.parsing import as_list


def test_ijson_uses_its_c_backend():
    assert ijson.backend == "yajl2_c"


def icinga_list(payload: Any) -> list[Any]:
    return results(payload, "services")


def top_list(payload: Any) -> list[Any]:
    return as_list(payload, "nodes")


def outcome(content: Any, key: str | None = "results") -> tuple[str, Any]:
    """("ok", items) or ("error", message)."""
    try:
        return "ok", list(answer_items(content, icinga_list if key else top_list, key=key))
    except MalformedAnswer as exc:
        return "error", str(exc)


def cuts(body: bytes) -> list[list[bytes]]:
    """The body as two chunks cut at every point (empty chunks too), and as chunks of one byte."""
    return [[body[:n], body[n:]] for n in range(len(body) + 1)] + [[body[i : i + 1] for i in range(len(body))]]


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'{"results": [{"a": 1}, [2], "three", 4.5, null, true]}', [{"a": 1}, [2], "three", 4.5, None, True]),
        (b' \n{ "other" : {"results": 0} , "results" : [ ] , "x": [1] }\r\n', []),
        (b'{"results":[{"nested":{"results":[1]}}], "after": {"results": {"item": 2}}}', [{"nested": {"results": [1]}}]),
        ('{"results": ["caf\u00e9 \U0001f600", "\\u00e9\\ud83d\\ude00", 12, -0.25E-3]}'.encode(),
         ["caf\u00e9 \U0001f600", "\u00e9\U0001f600", 12, -0.25e-3]),
        (b'\xef\xbb\xbf{"results": [1]}', [1]),  # a UTF-8 BOM
    ],
)
def test_items_under_a_key_however_cut(body, expected):
    assert outcome(body) == ("ok", expected)
    for chunks in cuts(body):
        assert outcome(chunks) == ("ok", expected), chunks


def test_items_of_a_top_level_list():
    body = b'[{"certname": "a"}, {"item": "b"}, [1, 2]]'
    assert outcome(body, key=None) == ("ok", [{"certname": "a"}, {"item": "b"}, [1, 2]])
    assert outcome(b"[]", key=None) == ("ok", [])


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"results": null}', "malformed answer: services.results should be a list, got null"),
        (b'{"results": {"item": 1}}', "malformed answer: services.results should be a list, got object"),
        (b'{"results": "x"}', "malformed answer: services.results should be a list, got string"),
        (b'{"status": "fine"}', "malformed answer: services.results should be a list, got null"),
        (b"{}", "malformed answer: services.results should be a list, got null"),
        (b"[1, 2]", "malformed answer: services should be an object, got list"),
        (b'"results"', "malformed answer: services should be an object, got string"),
        (b"12", "malformed answer: services should be an object, got number"),
    ],
)
def test_wrong_shapes_get_the_dict_parsers_message(body, message):
    with pytest.raises(MalformedAnswer) as again:  # what json.loads + the dict-based check says
        icinga_list(json.loads(body))
    assert str(again.value) == message
    for chunks in [[body], *cuts(body)]:
        assert outcome(chunks) == ("error", message), chunks


def test_an_object_where_a_top_level_list_is_expected_is_validated_whole():
    def puppetdb_records(payload: Any) -> list[Any]:
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            raise MalformedAnswer(f"PuppetDB: {payload['error']}")
        return as_list(payload, "nodes")

    for chunks in cuts(b'{"error": "query failed", "x": [1]}'):
        with pytest.raises(MalformedAnswer, match="^PuppetDB: query failed$"):
            list(answer_items(chunks, puppetdb_records))


BROKEN = [
    b"",
    b"   ",
    b"<html>502 Bad Gateway</html>",
    b'{"results": [1, 2',
    b'{"results": [1 2]}',
    b'{"results": [1,]}',
    b'{"results": [1]} trailing',
    b'{"results": [1]}{"results": [2]}',
    b'{"results": [{"a": 1}], "x": tru}',
    b'{"results": [1.]}',
    b'{"results": [01]}',
    b'{"results": ["unterminated]}',
    b'{"a": 1,}',
    b'{"results": [1, "\xc3\x28"]}',  # invalid UTF-8 after a valid item
    b'{"results": [1, "\xe2\x82',  # a character cut short at the very end
    '{"results": [1]}'.encode("utf-16"),  # JSON between systems is UTF-8 (RFC 8259)
    b'{"results": [NaN, Infinity]}',  # json.loads would take them
    b'{"results": [1e999]}',
    b'{"results": [123456789012345678901234567890]}',  # beyond 64 bits
]


@pytest.mark.parametrize("body", BROKEN)
def test_broken_answers_are_not_json_however_cut(body):
    kind, message = outcome(body)
    assert kind == "error" and message.startswith("malformed answer: not JSON (") and "\n" not in message, message
    for chunks in cuts(body):
        assert outcome(chunks) == (kind, message), chunks


def test_every_truncation_of_a_valid_answer_is_malformed_never_another_exception():
    body = json.dumps({"results": [{"name": "mw151!SSH", "attrs": {"state": 0.0, "x": [1, "a\\"]}}] * 3}).encode()
    for end in range(len(body)):
        with pytest.raises(MalformedAnswer):
            list(answer_items(body[:end], icinga_list, key="results"))


def test_a_deep_answer_is_refused_before_ijson_builds_it():
    """ijson's memory grows with the square of the depth: 100,000 levels (200 kB) would take ~25 GB."""
    deep = b'{"results": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    message = f"malformed answer: nested deeper than {MAX_DEPTH} levels"
    assert outcome(deep) == ("error", message)
    assert outcome([deep[i : i + 4096] for i in range(0, len(deep), 4096)]) == ("error", message)
    fine = b'{"results": [' + b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2) + b"]}"
    assert outcome(fine)[0] == "ok"


def test_the_items_path_of_ijson_is_not_taken_for_a_key():
    """ijson names a list's items `results.item`, as it names a top-level key "results.item"."""
    assert outcome(b'{"results.item": 5, "results": []}') == ("error", "malformed answer: unexpected key results.item")


def test_items_come_as_the_chunks_are_fed_and_each_chunk_is_let_go():
    body = json.dumps({"results": [{"n": i, "pad": "x" * 50} for i in range(2_000)]}).encode()
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    count = len(chunks)
    items = answer_items(chunks, icinga_list, key="results")
    assert next(items) == {"n": 0, "pad": "x" * 50}
    assert 0 < len(chunks) < count  # decoded before the rest of the answer was fed
    assert [item["n"] for item in items] == list(range(1, 2_000))
    assert chunks == []


def test_a_value_spanning_many_chunks():
    big = {"output": "\u00e9" * 100_000, "numbers": list(range(5_000))}
    body = json.dumps({"results": [big, 1, big]}, ensure_ascii=False).encode()
    assert outcome([body[i : i + 1000] for i in range(0, len(body), 1000)]) == ("ok", [big, 1, big])


def test_a_whole_body_is_fed_in_pieces():
    body = json.dumps({"results": [{"name": f"mw{i}!SSH", "attrs": {"state": 0}} for i in range(20_000)]}).encode()
    assert len(body) > 10 * 64 * 1024
    assert [check.host for check in parse_services_answer(body)] == [f"mw{i}" for i in range(20_000)]
