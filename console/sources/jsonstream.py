"""Decode a big JSON answer one record at a time (meant for a worker thread).

`json.loads` of a 30 MB answer holds the GIL for the whole decode (close to a second at 40,000
Icinga checks) and builds every dict before the first is used. `iter_items` walks the answer with
`JSONDecoder.raw_decode`, one list item per call: no single C call holds the GIL for more than a
record, and each record's dict can be dropped as soon as the caller has turned it into a model object.

The answer may come as the chunks the connection delivered (HttpSource._request_chunks): they are
decoded to text incrementally, a chunk at a time, into a small rolling buffer, and each chunk is let
go as soon as it is decoded. So neither a joined copy of the body nor the whole answer as one str
ever exists: at 20,000 Icinga problems (~18 MB) that is two 18 MB blocks less at the refresh's peak.

Only the expected container is walked item by item (a top-level list, or the list under one key of a
top-level object). Anything else is decoded whole and handed to `validate`, the caller's own shape
check, so a wrong-shape answer raises exactly the message the dict-based parser would.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, Callable, Iterable, Iterator, NoReturn, Union

from console.sources.base import MalformedAnswer
from console.sources.parsing import first_line

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_AFTER_VALUE = ",]}:"  # what may follow a value inside a container: a number before it is complete

Validate = Callable[[Any], list[Any]]
# the answer: whole (bytes or text), or as byte chunks (a list is consumed: each chunk is popped once decoded)
Content = Union[bytes, bytearray, str, Iterable[bytes]]


def decode_text(content: bytes | str) -> str:
    """The answer as text, as json.loads(bytes) reads it (UTF-8/16/32, a BOM allowed)."""
    if isinstance(content, str):
        return content
    try:
        return content.decode(json.detect_encoding(content), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise not_json(exc) from exc


def not_json(exc: BaseException | str) -> MalformedAnswer:
    """The same words answer_json uses for an answer that does not decode."""
    return MalformedAnswer(f"malformed answer: not JSON ({first_line(str(exc), 80)})")


def loads(content: bytes | str) -> Any:
    """json.loads with its failures as MalformedAnswer (for the small, whole-answer fallbacks)."""
    try:
        return json.loads(decode_text(content))
    except (ValueError, RecursionError) as exc:
        raise not_json(exc) from exc


def iter_items(content: Content, validate: Validate, key: str | None = None) -> Iterator[Any]:
    """Yield the items of the answer's list — the top-level list when `key` is None, else the list
    under `key` of the top-level object — decoding one item per step.

    `content` is the whole answer (bytes or str) or its byte chunks in order (a list of them is emptied
    as it is decoded, so each chunk can be freed). `validate(payload)` is the caller's shape check on a
    whole decoded payload: it is called (and expected to raise) when the answer is not the expected
    container; the list it returns is used otherwise. Invalid JSON anywhere raises MalformedAnswer
    "not JSON (...)", also after some items were yielded, with json.loads's words and positions in
    the whole answer however it was cut. With `key` repeated in the object, the items of every
    occurrence are yielded (json.loads would keep the last; no API here sends a key twice)."""
    reader = _Reader(content)
    try:
        yield from _walk(reader, validate, key)
    except RecursionError as exc:
        raise not_json(exc) from exc


def _walk(reader: _Reader, validate: Validate, key: str | None) -> Iterator[Any]:
    opening = "[" if key is None else "{"
    if reader.peek() != opening:
        payload = reader.value()  # decoded whole, as json.loads would
        reader.end()
        yield from validate(payload)
        return
    if key is None:
        yield from _list_items(reader)
    else:
        yield from _object_list(reader, validate, key)
    reader.end()


def _object_list(reader: _Reader, validate: Validate, key: str) -> Iterator[Any]:
    """Walk `{... "key": [items] ...}` from its "{" to after its "}", yielding the items."""
    found = False
    reader.pos += 1
    if reader.peek() == "}":
        reader.pos += 1
        yield from validate({})  # no `key` at all: the caller's message for a missing list
        return
    while True:
        if reader.peek() != '"':
            reader.fail("Expecting property name enclosed in double quotes")
        name = reader.value()
        if reader.peek() != ":":
            reader.fail("Expecting ':' delimiter")
        reader.pos += 1
        if name == key and reader.peek() == "[":
            found = True
            yield from _list_items(reader)
        else:
            value = reader.value()
            if name == key:
                yield from validate({key: value})  # not a list: the caller's message for it
                found = True
            del value
        following = reader.peek()
        if following == ",":
            reader.pos += 1
            continue
        if following == "}":
            reader.pos += 1
            break
        reader.fail("Expecting ',' delimiter")
    if not found:
        yield from validate({})


def _list_items(reader: _Reader) -> Iterator[Any]:
    """Walk `[item, ...]` from its "[" to after its "]", yielding each item."""
    reader.pos += 1
    if reader.peek() == "]":
        reader.pos += 1
        return
    while True:
        yield reader.value()
        following = reader.after
        if following == ",":
            reader.pos += 1
        elif following == "]":
            reader.pos += 1
            return
        else:
            reader.fail("Expecting ',' delimiter")


def _skip(text: str, pos: int) -> int:
    """The position of the next non-whitespace character (JSON's four whitespace characters only)."""
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _drain(chunks: list[bytes]) -> Iterator[bytes]:
    """The list's chunks in order, each removed from the list as it is handed out."""
    chunks.reverse()  # popping from the end is O(1)
    while chunks:
        yield chunks.pop()


class _Reader:
    """The answer's text seen through a rolling buffer: `text[pos:]` is what is still to be walked.
    Reading more drops the walked text and decodes at least one more chunk (as much as the buffer
    already holds when one value spans many chunks, so re-decoding a big value stays linear)."""

    def __init__(self, content: Content) -> None:
        self.text = ""
        self.pos = 0
        self.eof = False
        self.after = ""  # the character after the last value()
        self._chunks: Iterator[bytes] = iter(())
        if isinstance(content, str):
            self.text, self.eof = content, True
        elif isinstance(content, (bytes, bytearray, memoryview)):
            self._chunks = iter((bytes(content),))
        elif isinstance(content, list):
            self._chunks = _drain(content)
        else:
            self._chunks = iter(content)
        self._decoder: codecs.IncrementalDecoder | None = None
        self._head = b""  # the first bytes, until there are enough to tell the encoding
        self._fed = 0  # bytes handed to the decoder so far (after a UTF-8 BOM)
        # where text[0] is in the whole answer (for json.loads's "line L column C (char N)")
        self._base = 0
        self._line = 0  # newlines before text[0]
        self._line_start = 0  # the position in the whole answer where text[0]'s line starts

    # --- walking ---------------------------------------------------------------------------------

    def peek(self) -> str:
        """Skip whitespace; the next character ("" at the end of the answer)."""
        while True:
            text = self.text
            self.pos = pos = _skip(text, self.pos)
            if pos < len(text):
                return text[pos]
            if self.eof:
                return ""
            self._more()

    def value(self) -> Any:
        """Decode the value at the next non-whitespace position and step past it and the whitespace
        after it; `after` is then the next character (as peek() would say). A value is taken only once
        what follows it is in the buffer too: `12` at the buffer's end may be the start of `123`, `1.`
        or `1e` of `1.5` or `1e9`."""
        while True:
            text = self.text
            self.pos = pos = _skip(text, self.pos)
            try:
                value, end = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    self.fail(exc.msg, exc.pos)
                self._more()  # maybe cut short by the chunk's end
                continue
            following = _skip(text, end)
            after = text[following : following + 1]
            if self.eof or (after and after in _AFTER_VALUE):
                self.pos, self.after = following, after
                return value
            del value
            self._more()  # complete only with what follows (or broken: then decided at the end)

    def end(self) -> None:
        """Only whitespace may follow the answer's value."""
        if self.peek():
            self.fail("Extra data")

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        """MalformedAnswer with json.JSONDecodeError's words for `message` at `pos` of the buffer
        (default: the current position), counted in the whole answer."""
        pos = self.pos if pos is None else pos
        lines = self.text.count("\n", 0, pos)
        if lines:
            column = pos - self.text.rindex("\n", 0, pos)
        else:
            column = self._base + pos - self._line_start + 1
        raise not_json(f"{message}: line {self._line + lines + 1} column {column} (char {self._base + pos})")

    # --- reading ---------------------------------------------------------------------------------

    def _more(self) -> None:
        """Drop the walked text and decode more of the answer into the buffer (at the end: eof)."""
        text, pos = self.text, self.pos
        lines = text.count("\n", 0, pos)
        if lines:
            self._line += lines
            self._line_start = self._base + text.rindex("\n", 0, pos) + 1
        self._base += pos
        parts = [text[pos:]]
        del text
        self.text, self.pos = "", 0
        wanted, got = max(len(parts[0]), 1), 0
        while got < wanted:
            decoded = self._decode_next()
            if decoded is None:
                self.eof = True
                break
            parts.append(decoded)
            got += len(decoded)
        parts = [part for part in parts if part]
        self.text = parts[0] if len(parts) == 1 else "".join(parts)  # a lone part is not copied

    def _decode_next(self) -> str | None:
        """The text of the next chunk ("" while a character or the encoding is incomplete); None at the end."""
        chunk = next(self._chunks, None)
        if self._decoder is None:
            if chunk is not None and len(self._head) + len(chunk) < 4:
                self._head += chunk  # json.detect_encoding looks at the first 4 bytes
                return ""
            chunk, self._head = self._head + (chunk or b""), b""  # (b"" + chunk is chunk: no copy)
            encoding = json.detect_encoding(chunk[:4])
            if encoding == "utf-8-sig":  # as bytes.decode("utf-8-sig"): positions count from after the BOM
                encoding, chunk = "utf-8", chunk[len(codecs.BOM_UTF8) :]
            self._decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
        pending = len(self._decoder.getstate()[0])  # bytes of an incomplete character, held back
        try:
            text = self._decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as exc:
            raise not_json(_decode_error(exc, self._fed - pending)) from exc
        if chunk is None:
            return text or None
        self._fed += len(chunk)
        return text


def _decode_error(exc: UnicodeDecodeError, offset: int) -> str:
    """str(exc) with its positions counted in the whole answer (exc's count from `offset`)."""
    start, end = exc.start + offset, exc.end + offset
    if exc.end - exc.start == 1:
        return f"'{exc.encoding}' codec can't decode byte 0x{exc.object[exc.start]:02x} in position {start}: {exc.reason}"
    return f"'{exc.encoding}' codec can't decode bytes in position {start}-{end - 1}: {exc.reason}"
