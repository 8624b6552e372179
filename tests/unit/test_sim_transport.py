"""The sim's transport (console/sim/server.py _SimTransport): an answer written before its ANSWER_AT
leaves at ANSWER_AT, whole, never overtaken by later bytes; a close waits for held bytes; and a
request's latency counts from when its bytes were read. Its HTTP server (SimConnection): reason phrases,
keep-alive and pipelining, HEAD, a request it cannot read."""

from __future__ import annotations

import asyncio
import contextvars

from console.sim.server import ANSWER_AT, _SimTransport


class Recorder:
    def __init__(self) -> None:
        self.writes: list[tuple[float, bytes]] = []
        self.closed_at: float | None = None
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append((asyncio.get_running_loop().time(), data))

    def is_closing(self) -> bool:
        return self.closed_at is not None or self.aborted

    def close(self) -> None:
        self.closed_at = asyncio.get_running_loop().time()

    def abort(self) -> None:
        self.aborted = True


def write_due_at(transport: _SimTransport, data: bytes, answer_at: float) -> None:
    """A write from a request's task, as SimConnection makes it (ANSWER_AT is the task's context)."""
    context = contextvars.copy_context()
    context.run(lambda: (ANSWER_AT.set(answer_at), transport.write(data)))


async def test_an_answer_leaves_at_its_time_whole_and_in_order():
    loop = asyncio.get_running_loop()
    raw = Recorder()
    transport = _SimTransport(raw)  # type: ignore[arg-type]
    start = loop.time()
    write_due_at(transport, b"HTTP/1.1 200 OK\r\n\r\n", start + 0.05)
    write_due_at(transport, b"first body", start + 0.05)
    write_due_at(transport, b"second answer", start + 0.02)  # due earlier, but behind the first: never overtakes
    transport.write(b"late bytes")  # no deadline of its own: behind what is held
    assert raw.writes == []
    await asyncio.sleep(0.08)
    assert [data for _, data in raw.writes] == [b"HTTP/1.1 200 OK\r\n\r\nfirst bodysecond answerlate bytes"]
    assert raw.writes[0][0] >= start + 0.05
    transport.write(b"now")  # nothing held, no deadline: straight through
    assert raw.writes[-1][1] == b"now"


async def test_a_close_waits_for_the_held_answer_and_an_abort_drops_it():
    loop = asyncio.get_running_loop()
    raw = Recorder()
    transport = _SimTransport(raw)  # type: ignore[arg-type]
    write_due_at(transport, b"answer", loop.time() + 0.03)
    transport.close()
    assert raw.closed_at is None
    await asyncio.sleep(0.05)
    assert [data for _, data in raw.writes] == [b"answer"] and raw.closed_at is not None

    dropped = Recorder()
    transport = _SimTransport(dropped)  # type: ignore[arg-type]
    write_due_at(transport, b"never sent", loop.time() + 0.03)
    transport.abort()
    await asyncio.sleep(0.05)
    assert dropped.writes == [] and dropped.aborted


async def _app(scope, receive, send):
    """Echoes the request's method, path and body; /proxmox-401 answers with Proxmox's reason phrase."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/proxmox-401":
        headers = [(b"x-sim-reason", b"invalid token value!"), (b"content-length", b"13")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"data":null}'})
        return
    text = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} {body.decode()}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(text)).encode())]})
    await send({"type": "http.response.body", "body": text})


async def _exchange(server, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)  # the server closes the connection at the end
    writer.close()
    return answer


async def test_the_server_speaks_http_1_1():
    from console.sim.server import ApiServer

    server = ApiServer("test", _app, scheme="http")
    await server.open(None)
    try:
        answer = await _exchange(server, b"GET /proxmox-401 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 401 invalid token value!\r\n") and b"x-sim-reason" not in answer
        assert answer.endswith(b'{"data":null}')
        pipelined = (b"POST /a%20b?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
                     b"HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await _exchange(server, pipelined)
        assert answer.count(b"HTTP/1.1 200 OK\r\n") == 3
        assert b"POST /a b x=1 body" in answer and b"HEAD /c" not in answer and answer.endswith(b"GET /d  ")
        answer = await _exchange(server, b"NOT HTTP\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert server.requests == 4 and not server.connections
    finally:
        await server.close()


async def test_latency_counts_from_when_the_request_was_read_not_from_when_its_app_ran(monkeypatch):
    """One process stands for many servers: when its loop is busy right after reading a request (here
    150 ms, blocking), the answer still leaves L after the read, as a server of its own would send it."""
    import time

    import httpx

    from console.sim.server import ApiServer, SimConnection

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    reads = SimConnection.data_received

    def read_then_stay_busy(self, data: bytes) -> None:
        reads(self, data)
        time.sleep(0.15)  # the loop kept from the request's task (other connections, other servers)

    server = ApiServer("test", app, scheme="http")
    server.latency = 0.2
    await server.open(None)
    monkeypatch.setattr(SimConnection, "data_received", read_then_stay_busy)
    try:
        async with httpx.AsyncClient() as client:
            started = time.monotonic()
            answer = await client.get(server.url + "/x")
            took = time.monotonic() - started
    finally:
        await server.close()
    assert answer.text == "ok"
    assert 0.2 <= took < 0.3  # not 0.35: the 150 ms after the read are inside L, not added to it
