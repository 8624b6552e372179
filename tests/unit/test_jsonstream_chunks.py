"""jsonstream.iter_items over an answer cut into chunks (as a streamed HTTP body arrives): wherever the
cuts fall — inside a number, a string, an escape, a multi-byte character, the encoding's first bytes —
the items are json.loads's, and a broken answer raises the very message the whole answer raises."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.sources.base import MalformedAnswer
from console.sources.icinga import results
from console.sources.jsonstream import iter_items
from console.sources.parsing import as_list


def icinga_list(payload: Any) -> list[Any]:
    return results(payload, "services")


def top_list(payload: Any) -> list[Any]:
    return as_list(payload, "nodes")


def outcome(content: Any, key: str | None = "results") -> tuple[str, Any]:
    """("ok", items) or ("error", message) — items yielded before an error are not compared."""
    validate = icinga_list if key else top_list
    try:
        return "ok", list(iter_items(content, validate, key=key))
    except MalformedAnswer as exc:
        return "error", str(exc)


def two_chunks(body: bytes) -> Iterator[list[bytes]]:
    """[body[:n], body[n:]] for every n (empty chunks included: a transport may hand one out)."""
    for n in range(len(body) + 1):
        yield [body[:n], body[n:]]


def even_chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


TEXT = (
    '{"results": [{"name": "mw151!SSH", "attrs": {"state": 2.0, "n": -12, "big": 123456789012345678901234567890,'
    ' "f": 1.5e10, "g": -0.25E-3, "h": 0, "ok": true, "no": false, "none": null}},\n'
    '  "caf\u00e9 \u20ac \U0001f600 \\u00e9 \\ud83d\\ude00 \\"quoted\\" back\\\\slash \\n \\t \\/", 12, 3.25,'
    " [], {}, [[1], {\"a\": []}], -Infinity, NaN, Infinity ] ,\r\n \"other\": [1, 2]}\n"
)


@pytest.mark.parametrize(
    "body",
    [
        TEXT.encode(),
        TEXT.encode("utf-8-sig"),  # a BOM
        TEXT.encode("utf-16"),  # BOM + little endian
        TEXT.encode("utf-16-be"),
        TEXT.encode("utf-16-le"),
        TEXT.encode("utf-32"),
        TEXT.encode("utf-32-be"),
        TEXT.encode("utf-32-le"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le"],
)
def test_every_split_point_gives_json_loads_items(body):
    expected = json.loads(body)["results"]
    assert outcome(body) == ("ok", expected)
    for chunks in two_chunks(body):
        assert outcome(chunks) == ("ok", expected), chunks
    for size in (1, 2, 3, 5, 7):
        assert outcome(even_chunks(body, size)) == ("ok", expected), size


@pytest.mark.parametrize(
    "body",
    [
        b"[12, 123, 1234]",
        b"[1.5, -0.25, 1e9, 1E+9, 1.5e-3, -0]",
        b'[1, "12", 3]',
        b"[true, false, null, -Infinity, Infinity, NaN]",
        b'["\\u00e9\\ud83d\\ude00", "\\\\", "\\"", "x\\ny"]',
        '["\u00e9", "\u20ac", "\U0001f600"]'.encode(),  # 2, 3 and 4 UTF-8 bytes
        b"  [ 1 ,\n 2 ,\r\n\t3 ]  ",
        b"[]",
        b"[[], {}, [[]], {\"a\": {\"b\": [1, 2]}}]",
    ],
)
def test_a_top_level_list_cut_anywhere(body):
    expected = json.loads(body)
    for chunks in two_chunks(body):
        assert outcome(chunks, key=None) == ("ok", expected), chunks
    assert outcome(even_chunks(body, 1), key=None) == ("ok", expected)


@pytest.mark.parametrize(
    "cut",
    [
        [b"[12", b"3]"],  # a number is not taken before what follows it has arrived
        [b"[1", b".5]"],
        [b"[1.", b"5]"],
        [b"[1e", b"9]"],
        [b"[1.5E", b"+3]"],
        [b"[1.5E+", b"3]"],
        [b"[-", b"1]"],
        [b"[-Inf", b"inity]"],
        [b"[tr", b"ue]"],
        [b'["a\\', b'"b"]'],
        [b'["\\u00', b'e9"]'],
        [b'["\\ud83d', b'\\ude00"]'],
        [b'["\xc3', b'\xa9"]'],
        [b'["\xf0\x9f', b'\x98\x80"]'],
    ],
)
def test_values_cut_by_a_chunk_boundary(cut):
    expected = json.loads(b"".join(cut))
    assert outcome(cut, key=None) == ("ok", expected)


BROKEN = [
    b"",
    b"   ",
    b"<html>502 Bad Gateway</html>",
    b'{"results": [1, 2',
    b'{"results": [1 2]}',
    b'{"results": [1,]}',
    b'{"results": [1]',
    b'{"results": [1]} trailing',
    b'{"results" [1]}',
    b"{results: [1]}",
    b'{"results": [1]}{"results": [2]}',
    b'{"results": [{"a": 1}], "x": tru}',
    b'{"results":\n [1,\n  2 x]}',
    b'{"results": [1.]}',
    b'{"results": [1.5e]}',
    b'{"results": [01]}',
    b'{"results": [-]}',
    b'{"results": ["unterminated]}',
    b'{"a": 1,}',
    b'{"a": 1 "results": []}',
    b'\xff\xfe\xfa{"results": []}',  # not valid in any encoding JSON allows
    b'{"results": [1, "\xc3\x28"]}',  # invalid UTF-8 after a valid item
    b'{"results": [1, "\xe2\x82"]}',  # a character cut short
    b'{"results": [1, "\xe2\x82',  # ... at the very end
    b'\xef\xbb\xbf{"results": [1, "\xff"]}',
    '{"results": [1, 2'.encode("utf-16"),
    '{"results": [1, 2]}'.encode("utf-16")[:-1],  # half a UTF-16 code unit at the end
]


@pytest.mark.parametrize("body", BROKEN)
def test_broken_answers_raise_the_same_message_however_cut(body):
    kind, message = outcome(body)
    assert kind == "error" and message.startswith("malformed answer: not JSON ("), message
    for chunks in two_chunks(body):
        assert outcome(chunks) == (kind, message), chunks
    assert outcome(even_chunks(body, 1)) == (kind, message)


def test_positions_in_messages_count_in_the_whole_answer():
    body = b'{"results": [\n  1,\n  2,\n  oops]}'
    expected = "malformed answer: not JSON (Expecting value: line 4 column 3 (char 26))"
    with pytest.raises(json.JSONDecodeError, match=r"line 4 column 3 \(char 26\)"):
        json.loads(body)
    assert outcome(body) == ("error", expected)
    assert outcome(even_chunks(body, 4)) == ("error", expected)


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"results": null}', "malformed answer: services.results should be a list, got null"),
        (b'{"results": {"a": 1}}', "malformed answer: services.results should be a list, got object"),
        (b'{"status": "fine"}', "malformed answer: services.results should be a list, got null"),
        (b"[1, 2]", "malformed answer: services should be an object, got list"),
    ],
)
def test_wrong_shapes_however_cut(body, message):
    for chunks in two_chunks(body):
        assert outcome(chunks) == ("error", message)


def test_a_list_of_chunks_is_emptied_as_it_is_decoded():
    """Each chunk is let go once decoded: the list handed over does not keep the answer alive."""
    body = json.dumps({"results": [{"n": i, "pad": "x" * 50} for i in range(200)]}).encode()
    chunks = even_chunks(body, 256)
    count = len(chunks)
    items = iter_items(chunks, icinga_list, key="results")
    assert next(items) == {"n": 0, "pad": "x" * 50}
    assert 0 < len(chunks) < count
    assert [item["n"] for item in items] == list(range(1, 200))
    assert chunks == []


def test_any_iterable_of_chunks_and_text():
    body = b'{"results": [1, "two", {"three": 3}]}'
    assert list(iter_items((body[i : i + 3] for i in range(0, len(body), 3)), icinga_list, key="results")) == [
        1, "two", {"three": 3}
    ]  # fmt: skip
    assert list(iter_items(body.decode(), icinga_list, key="results")) == [1, "two", {"three": 3}]
    assert list(iter_items(bytearray(body), icinga_list, key="results")) == [1, "two", {"three": 3}]


def test_a_value_spanning_many_chunks():
    big = {"output": "\u00e9" * 100_000, "numbers": list(range(5_000))}
    body = json.dumps({"results": [big, 1, big]}, ensure_ascii=False).encode()
    assert list(iter_items(even_chunks(body, 1000), icinga_list, key="results")) == [big, 1, big]


def test_too_deep_nesting_across_chunks_is_not_json():
    body = b'{"results": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    kind, message = outcome(even_chunks(body, 4096))
    assert kind == "error" and message.startswith("malformed answer: not JSON ("), message


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(
    items=st.lists(JSON_VALUES, max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32-be"]),
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 0, 2]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_random_answers_cut_at_random_points(items, encoding, ascii_only, indent, cuts):
    body = json.dumps({"results": items, "x": 1}, ensure_ascii=ascii_only, indent=indent).encode(encoding)
    points = sorted({c % (len(body) + 1) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=False)]
    assert outcome(chunks) == ("ok", json.loads(body)["results"])
