"""The sim's response writer (console/sim/server.py _ReasonTransport): a head goes out with its body
in one write (one send() per answer), alone when nothing follows in the same turn of the loop, before
a close; and the reason phrase comes from x-sim-reason."""

from __future__ import annotations

import asyncio

from console.sim.server import _ReasonTransport

HEAD = b"HTTP/1.1 200 \r\ncontent-length: 7\r\n\r\n"


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_head_and_body_go_out_in_one_write():
    wire = Recorder()
    transport = _ReasonTransport(wire)  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.write(b"Purged\n")
    await asyncio.sleep(0)
    assert wire.writes == [HEAD + b"Purged\n"]


async def test_a_head_alone_is_sent_in_the_same_turn_of_the_loop():
    wire = Recorder()
    transport = _ReasonTransport(wire)  # type: ignore[arg-type]
    transport.write(HEAD)  # an event stream's head: its chunks come later
    assert wire.writes == []
    await asyncio.sleep(0)
    assert wire.writes == [HEAD]
    transport.write(b"chunk")
    assert wire.writes == [HEAD, b"chunk"]


async def test_close_sends_the_head_first_and_heads_keep_their_order():
    wire = Recorder()
    transport = _ReasonTransport(wire)  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.write(HEAD.replace(b"200", b"204"))  # a second answer before the loop turned: the first goes first
    transport.close()
    assert wire.writes == [HEAD, HEAD.replace(b"200", b"204")] and wire.closed
    assert transport.is_closing()  # everything else is the real transport's


async def test_the_reason_phrase_comes_from_the_sim_header():
    wire = Recorder()
    transport = _ReasonTransport(wire)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 401 \r\ncontent-type: application/json\r\nx-sim-reason: invalid token value!\r\n\r\n")
    transport.write(b'{"data":null}')
    assert wire.writes == [b"HTTP/1.1 401 invalid token value!\r\ncontent-type: application/json\r\n\r\n" + b'{"data":null}']
