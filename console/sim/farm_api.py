"""What every simulated API server shares: an ASGI app answering from the farm's state."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from starlette.requests import Request
from starlette.responses import Response

from console.sim.farm import Farm


class FarmApi(ABC):
    """Reads the whole request first, then builds the answer under the farm's lock, so the servers'
    thread and a test's mutators never interleave inside one answer. The answer is built in a worker
    thread: the servers' event loop stays free to take the next request the moment it comes in (its
    latency runs from then), as a real server's would, however long this one takes to build."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        response = await asyncio.to_thread(self._locked_answer, request, body)
        await response(scope, receive, send)

    def _locked_answer(self, request: Request, body: bytes) -> Response:
        with self.farm.lock:
            return self.handle(request, body)

    @abstractmethod
    def handle(self, request: Request, body: bytes) -> Response:
        """The answer to one request, as the real server gives it."""
