"""Decode a big JSON answer one record at a time (meant for a worker thread).

`json.loads` of a 30 MB answer holds the GIL for the whole decode (close to a second at 40,000
Icinga checks) and builds every dict before the first is used. `iter_items` walks the answer with
`JSONDecoder.raw_decode`, one list item per call: no single C call holds the GIL for more than a
record, and each record's dict can be dropped as soon as the caller has turned it into a model object.

Only the expected container is walked item by item (a top-level list, or the list under one key of a
top-level object). Anything else is decoded whole and handed to `validate`, the caller's own shape
check, so a wrong-shape answer raises exactly the message the dict-based parser would.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator

from console.sources.base import MalformedAnswer
from console.sources.parsing import first_line

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")

Validate = Callable[[Any], list[Any]]


def decode_text(content: bytes | str) -> str:
    """The answer as text, as json.loads(bytes) reads it (UTF-8/16/32, a BOM allowed)."""
    if isinstance(content, str):
        return content
    try:
        return content.decode(json.detect_encoding(content), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise not_json(exc) from exc


def not_json(exc: BaseException) -> MalformedAnswer:
    """The same words answer_json uses for an answer that does not decode."""
    return MalformedAnswer(f"malformed answer: not JSON ({first_line(str(exc), 80)})")


def loads(content: bytes | str) -> Any:
    """json.loads with its failures as MalformedAnswer (for the small, whole-answer fallbacks)."""
    try:
        return json.loads(decode_text(content))
    except (ValueError, RecursionError) as exc:
        raise not_json(exc) from exc


def iter_items(content: bytes | str, validate: Validate, key: str | None = None) -> Iterator[Any]:
    """Yield the items of the answer's list — the top-level list when `key` is None, else the list
    under `key` of the top-level object — decoding one item per step.

    `validate(payload)` is the caller's shape check on a whole decoded payload: it is called (and
    expected to raise) when the answer is not the expected container; the list it returns is used
    otherwise. Invalid JSON anywhere raises MalformedAnswer "not JSON (...)", also after some items
    were yielded. With `key` repeated in the object, the items of every occurrence are yielded (json.loads
    would keep the last; no API here sends a key twice)."""
    text = decode_text(content)
    try:
        yield from _walk(text, validate, key)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise not_json(exc) from exc


def _walk(text: str, validate: Validate, key: str | None) -> Iterator[Any]:
    pos = _skip(text, 0)
    opening = "[" if key is None else "{"
    if not text.startswith(opening, pos):
        yield from validate(loads(text))
        return
    if key is None:
        pos = yield from _list_items(text, pos)
    else:
        pos = yield from _object_list(text, pos, validate, key)
    if _skip(text, pos) != len(text):
        raise json.JSONDecodeError("Extra data", text, _skip(text, pos))


def _object_list(text: str, pos: int, validate: Validate, key: str) -> Iterator[Any]:
    """Walk `{... "key": [items] ...}` from its "{"; yields the items, returns the position after "}"."""
    found = False
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        yield from validate({})  # no `key` at all: the caller's message for a missing list
        return pos + 1
    while True:
        if not text.startswith('"', pos):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
        name, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if not text.startswith(":", pos):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _skip(text, pos + 1)
        if name == key and text.startswith("[", pos):
            found = True
            pos = yield from _list_items(text, pos)
        else:
            value, pos = _DECODER.raw_decode(text, pos)
            if name == key:
                yield from validate({key: value})  # not a list: the caller's message for it
                found = True
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
            continue
        if text.startswith("}", pos):
            break
        raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
    if not found:
        yield from validate({})
    return pos + 1


def _list_items(text: str, pos: int) -> Iterator[Any]:
    """Walk `[item, ...]` from its "["; yields each item, returns the position after "]"."""
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return pos + 1
    while True:
        item, pos = _DECODER.raw_decode(text, pos)
        yield item
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif text.startswith("]", pos):
            return pos + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _skip(text: str, pos: int) -> int:
    """The position of the next non-whitespace character (JSON's four whitespace characters only)."""
    match = _SPACE.match(text, pos)
    return match.end() if match else pos
