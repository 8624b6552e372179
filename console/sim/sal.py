"""The server admin log relay of the simulated farm: takes `!log ...` lines over UDP (like the
farm's relay on bots171) and keeps them in `farm.sal_log`, newest last."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.sim.farm import Farm


class SalRelay(asyncio.DatagramProtocol):
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.transport: asyncio.BaseTransport | None = None  # a DatagramTransport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        line = data.decode("utf-8", errors="replace").strip()
        if line:
            with self.farm.lock:
                self.farm.sal_log.append(line)


async def open_relay(farm: Farm, port: int = 0) -> tuple[asyncio.DatagramTransport, int]:
    """Listen on 127.0.0.1:port (0: any free port); return the transport and the port."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: SalRelay(farm), local_addr=("127.0.0.1", port))
    return transport, transport.get_extra_info("sockname")[1]


async def close_relay(transport: asyncio.DatagramTransport) -> None:
    transport.close()
    await asyncio.sleep(0)
