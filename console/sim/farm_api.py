"""What every simulated API server shares: an ASGI app answering from the farm's state."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from concurrent.futures import Executor

from starlette.requests import Request
from starlette.responses import Response

from console.core.runtime import collector_paused
from console.sim.farm import Farm


class FarmApi(ABC):
    """Reads the whole request first, then builds the answer under the farm's lock, so the servers'
    thread and a test's mutators never interleave inside one answer. The answer is built in a worker
    thread: the servers' event loop stays free to take the next request the moment it comes in (its
    latency runs from then), as a real server's would, however long this one takes to build."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.executor: Executor | None = None  # SimFarm gives every API of a farm one worker (None: asyncio's default)

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        if self.answers_on_loop(request):
            response = self._locked_answer(request, body)
        else:
            response = await asyncio.get_running_loop().run_in_executor(self.executor, self._locked_answer, request, body)
        await response(scope, receive, send)

    def answers_on_loop(self, request: Request) -> bool:
        """True for a request whose answer needs the servers' event loop (an event stream subscribes
        an asyncio queue): built there, not in a worker thread."""
        return False

    def _locked_answer(self, request: Request, body: bytes) -> Response:
        with self.farm.lock, collector_paused(self.farm.own_process):
            return self.handle(request, body)

    @abstractmethod
    def handle(self, request: Request, body: bytes) -> Response:
        """The answer to one request, as the real server gives it."""
