"""What every simulated API server shares: an ASGI app answering from the farm's state."""

from __future__ import annotations

from abc import ABC, abstractmethod

from starlette.requests import Request
from starlette.responses import Response

from console.sim.farm import Farm


class FarmApi(ABC):
    """Reads the whole request first, then builds the answer under the farm's lock, so the servers'
    thread and a test's mutators never interleave inside one answer."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        with self.farm.lock:
            response = self.handle(request, body)
        await response(scope, receive, send)

    @abstractmethod
    def handle(self, request: Request, body: bytes) -> Response:
        """The answer to one request, as the real server gives it."""
