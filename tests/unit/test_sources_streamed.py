"""Big answers read as the chunks that arrive (HttpSource._request_chunks): the parser gets the chunks,
never a joined copy; statuses, transport failures and timeouts read as before; the response is closed
on every path. Over httpx's MockTransport with a body delivered chunk by chunk (the real-server
paths are in test_sources_http.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable

import httpx
import pytest

from console.core.config import IcingaConfig, PuppetDBConfig, Secret
from console.core.model import IcingaSnapshot
from console.sources import IcingaSource, PuppetDBSource, SourceError
from console.sources.puppetdb import parse_nodes_answer

URL = "http://127.0.0.1:8081"


class Body(httpx.AsyncByteStream):
    """A response body handed out in pieces; `fail` is raised (or awaited) after them; records aclose."""

    def __init__(self, pieces: list[bytes], fail: BaseException | Callable[[], Any] | None = None) -> None:
        self.pieces = pieces
        self.fail = fail
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            await asyncio.sleep(0)
            yield piece
        if isinstance(self.fail, BaseException):
            raise self.fail
        if self.fail is not None:
            await self.fail()

    async def aclose(self) -> None:
        self.closed = True


def pieces_of(payload: Any, size: int = 100) -> list[bytes]:
    data = json.dumps(payload).encode()
    return [data[i : i + size] for i in range(0, len(data), size)]


def with_transport(source: Any, handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    source._http = httpx.AsyncClient(base_url=URL, transport=httpx.MockTransport(handler))
    return source


def puppetdb(timeout: float = 2.0) -> PuppetDBSource:
    return PuppetDBSource(PuppetDBConfig(name="puppetdb", url=URL, verify=False, timeout=timeout))


def icinga() -> IcingaSource:
    return IcingaSource(IcingaConfig(name="icinga", url=URL, username="u", password=Secret("p", "test"), verify=False))


NODES = [{"certname": f"mw{i}.example", "latest_report_status": "unchanged", "report_timestamp": None,
          "latest_report_noop": False, "deactivated": None, "expired": None} for i in range(50)]  # fmt: skip


async def test_the_parser_gets_the_chunks_not_a_joined_copy():
    body = Body(pieces_of(NODES))
    source = with_transport(puppetdb(), lambda request: httpx.Response(200, stream=body))
    seen: list[Any] = []

    def parse(content: Any) -> Any:
        seen.append((type(content), len(content)))
        return parse_nodes_answer(content)

    inventory = await source._parsed("POST", "/pdb/query/v4/nodes", parse, json={})
    await source.aclose()
    assert [n.certname for n in inventory.nodes] == sorted(n["certname"] for n in NODES)
    assert seen == [(list, len(body.pieces))] and len(body.pieces) > 10
    assert body.closed


async def test_a_gzipped_answer_is_decoded():
    import gzip

    data = gzip.compress(json.dumps(NODES).encode())
    body = Body([data[i : i + 64] for i in range(0, len(data), 64)])
    source = with_transport(puppetdb(), lambda request: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=body))
    result = await source.fetch()
    await source.aclose()
    assert result.ok and len(result.data.nodes) == 50, result.error


@pytest.mark.parametrize(
    "status, headers, payload, expected",
    [
        (500, {}, b'{"error": "Internal error"}', "HTTP 500 Internal Server Error: Internal error"),
        (400, {"Content-Type": "text/plain"}, b"'x' is not a queryable object", "HTTP 400 Bad Request: 'x' is not"),
        (401, {}, b"{}", "authentication failed (HTTP 401)"),
        (302, {"Location": "/elsewhere"}, b"", "HTTP 302 Found: unexpected for this request"),
        (200, {}, b"{not json", "malformed answer: not JSON ("),
    ],
)
async def test_statuses_and_bodies_read_as_before(status, headers, payload, expected):
    body = Body([payload[:3], payload[3:]])
    source = with_transport(puppetdb(), lambda request: httpx.Response(status, headers=headers, stream=body))
    result = await source.fetch()
    await source.aclose()
    assert result.error and result.error.startswith(expected), result.error
    assert body.closed


async def test_icinga_no_objects_404_is_still_empty():
    bodies: list[Body] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(Body(pieces_of({"error": 404.0, "status": "No objects found."}, size=7)))
        return httpx.Response(404, stream=bodies[-1])

    source = with_transport(icinga(), handler)
    result = await source.fetch()
    await source.aclose()
    assert result.ok and result.data == IcingaSnapshot(hosts=(), services=()), result.error
    assert len(bodies) == 3 and all(body.closed for body in bodies)


@pytest.mark.parametrize(
    "failure, expected",
    [
        (httpx.RemoteProtocolError("peer closed connection"), "127.0.0.1:8081 closed the connection without a proper answer"),
        (httpx.ReadError("reset"), "127.0.0.1:8081 closed the connection without a proper answer"),
        (httpx.ReadTimeout("read timed out"), "timed out after 2s"),
    ],
)
async def test_a_body_failing_midway(failure, expected):
    body = Body(pieces_of(NODES)[:3], fail=failure)
    source = with_transport(puppetdb(), lambda request: httpx.Response(200, stream=body))
    result = await source.fetch()
    await source.aclose()
    assert result.error == expected
    assert body.closed


async def test_a_body_that_stalls_is_cut_by_the_timeout_and_closed():
    body = Body(pieces_of(NODES)[:3], fail=lambda: asyncio.sleep(30))
    source = with_transport(puppetdb(timeout=0.3), lambda request: httpx.Response(200, stream=body))
    result = await source.fetch()
    await source.aclose()
    # the request's own deadline (a little under the source's) names what was late: the body
    assert result.error in ("no complete answer in 0.3 s", "timed out after 0.3s")  # the latter: a loop woken late
    assert body.closed


async def test_a_connection_failure_names_the_host():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    source = with_transport(puppetdb(), handler)
    with pytest.raises(SourceError, match="^cannot connect to 127.0.0.1:8081: connection refused$"):
        await source._parsed("POST", "/pdb/query/v4/nodes", parse_nodes_answer, json={})
    await source.aclose()


@pytest.mark.parametrize("streamed", [True, False])
@pytest.mark.parametrize("closed", [httpx.RemoteProtocolError("Server disconnected without sending a response."),
                                    httpx.ReadError("reset"), httpx.WriteError("broken pipe")])
async def test_a_connection_closed_under_the_request_is_tried_once_more(streamed, closed):
    """The server's idle timeout closing a kept-alive connection as a refresh reuses it: the read goes
    again on a new connection, once; a second such failure is the source's error."""
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise closed
        return httpx.Response(200, json=NODES)

    source = with_transport(puppetdb(), flaky)
    if streamed:
        inventory = await source._parsed("POST", "/pdb/query/v4/nodes", parse_nodes_answer, json={})
    else:
        inventory = parse_nodes_answer(json.dumps(await source._json("POST", "/pdb/query/v4/nodes", json={})).encode())
    assert len(inventory.nodes) == 50 and calls == ["/pdb/query/v4/nodes"] * 2

    calls.clear()

    def broken(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise closed

    with_transport(source, broken)
    with pytest.raises(SourceError, match="127.0.0.1:8081"):
        await (source._parsed("POST", "/x", parse_nodes_answer) if streamed else source._json("POST", "/x"))
    assert len(calls) == 2
    await source.aclose()


async def test_a_body_cut_after_the_answer_began_is_not_sent_again():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, stream=Body(pieces_of(NODES)[:3], fail=httpx.RemoteProtocolError("peer closed")))

    source = with_transport(puppetdb(), handler)
    result = await source.fetch()
    await source.aclose()
    assert result.error == "127.0.0.1:8081 closed the connection without a proper answer" and len(calls) == 1


async def test_a_big_answer_is_decoded_while_its_chunks_are_fed(monkeypatch):
    """A refresh's big answer goes to ijson chunk by chunk: the first records are parsed while most of
    the chunks are still to be fed (and each one fed is let go), never after a whole-answer decode."""
    import console.sources.puppetdb as puppetdb_module

    nodes = [{**NODES[0], "certname": f"mw{i}.example"} for i in range(5_000)]
    body = Body(pieces_of(nodes, size=4096))
    count = len(body.pieces)
    handed: list[list[bytes]] = []
    left_at_each_record: list[int] = []
    record = puppetdb_module.parse_node

    def parse(content: Any) -> Any:
        handed.append(content)
        return puppetdb_module.parse_nodes_answer(content)

    def watched(item: Any, at: str) -> Any:
        left_at_each_record.append(len(handed[0]))
        return record(item, at)

    monkeypatch.setattr(puppetdb_module, "parse_node", watched)
    source = with_transport(puppetdb(), lambda request: httpx.Response(200, stream=body))
    inventory = await source._parsed("POST", "/pdb/query/v4/nodes", parse, json={})
    await source.aclose()
    assert len(inventory.nodes) == 5_000 and count > 100
    assert left_at_each_record[0] > count - 5  # the first record: only the first chunks fed
    assert left_at_each_record[-1] < 5 and handed[0] == []


@pytest.mark.parametrize("make", [
    lambda: PuppetDBSource(PuppetDBConfig(name="puppetdb", url=URL, verify=False, max_answer_mib=1)),
    lambda: IcingaSource(IcingaConfig(name="icinga", url=URL, username="u", password=Secret("p", "test"), verify=False,
                                      max_answer_mib=1)),
], ids=["puppetdb", "icinga"])  # fmt: skip
async def test_an_answer_over_the_cap_is_refused_before_it_is_parsed(make):
    source = make()
    big = json.dumps({"results": [{"name": f"mw{i}!SSH", "pad": "x" * 100} for i in range(12_000)]}).encode()
    assert len(big) > 1024 * 1024
    with_transport(source, lambda request: httpx.Response(200, stream=Body([big[i : i + 65536] for i in range(0, len(big), 65536)])))
    result = await source.fetch()
    await source.aclose()
    assert result.error == "answer larger than 1 MiB"
