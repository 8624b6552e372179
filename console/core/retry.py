"""Waiting in one place: back-off after failures, tries every interval, ticks until stopped.

    Backoff(first=1, cap=60).delay(failures)        # 0, 1, 2, 4, ... 60 s (jitter: off unless asked)
    await pause(delay, wake)                         # `delay` seconds, or until `wake` is set: True if woken
    async for attempt in Attempts(5, interval=2):    # 1 at once, then one every 2 s, at most 5 (a health check)
        if await healthy():
            break
    polls = Attempts(None, interval=0.5, timeout=600)  # until the caller stops, or 600 s have passed
    async for tick in Ticker(ttl / 3):               # after each ttl/3 s, until cancelled or `stop` is set

Used by the poller (console.core.state), the Icinga event stream's reconnects, the restart health
checks, the guest-power task polling and the lock renewal: no other module of console/ sleeps. Every
wait here is an asyncio sleep, so cancelling the task stops it at once. No Textual, nothing above core.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait after `failures` consecutive failures: none after none, `first` after one,
    multiplied by `factor` per further failure, never more than `cap`.

    `jitter` (0..1) shortens each delay by up to that fraction, drawn from `rng` (a callable answering
    [0, 1): `random.Random(seed).random` makes it repeatable), so clients that failed together do not
    retry together; the delay stays within [delay x (1 - jitter), delay], hence never over `cap`."""

    first: float = 1.0
    cap: float = 60.0
    factor: float = 2.0
    jitter: float = 0.0
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.first < 0 or self.cap < self.first:
            raise ValueError(f"back-off needs 0 <= first <= cap (first={self.first:g}, cap={self.cap:g})")
        if self.factor < 1:
            raise ValueError(f"back-off factor below 1: {self.factor:g}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"back-off jitter outside 0..1: {self.jitter:g}")

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        try:
            grown = self.first * self.factor ** (failures - 1)
        except OverflowError:  # thousands of failures in a row: long past the cap
            grown = self.cap
        delay = min(self.cap, grown)
        if self.jitter:
            delay *= 1.0 - self.jitter * self.rng()
        return delay


async def pause(seconds: float, wake: asyncio.Event | None = None) -> bool:
    """Wait `seconds`, or less when `wake` is set (or already is): True when woken, False when the
    time ran out. Cancelling the caller cancels the wait."""
    if wake is None:
        await asyncio.sleep(max(0.0, seconds))
        return False
    if wake.is_set():
        return True
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, seconds)):
            await wake.wait()
        return True
    return False


class Attempts:
    """`async for attempt in Attempts(count, interval)`: attempt 1 at once, then one every `interval`
    seconds (the wait starts when the caller asks for the next one), until one of:

    - the caller leaves the loop (`break`, `return`): it succeeded;
    - `count` attempts were made (`count=None`: no limit);
    - `timeout` seconds have passed since the Attempts was made: checked before each wait, so the
      attempt that found them passed is the last one (`expired` then says so);
    - the task is cancelled (during a wait too).

    After the loop, `made` is the number of attempts handed out."""

    def __init__(self, count: int | None, interval: float, *, timeout: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if count is not None and count < 0:
            raise ValueError(f"attempts: a negative count ({count})")
        self.count = count
        self.interval = interval
        self.timeout = timeout
        self.clock = clock
        self.started = clock()
        self.made = 0
        self.expired = False

    def __aiter__(self) -> Attempts:
        return self

    async def __anext__(self) -> int:
        if self.count is not None and self.made >= self.count:
            raise StopAsyncIteration
        if self.made:
            if self.timeout is not None and self.clock() - self.started >= self.timeout:
                self.expired = True
                raise StopAsyncIteration
            await pause(self.interval)
        self.made += 1
        return self.made


class Ticker:
    """`async for tick in Ticker(interval)`: tick 1, 2, ... each after a wait of `interval` seconds
    (none at once), until the task is cancelled or `stop` is set (which also ends a wait early)."""

    def __init__(self, interval: float, *, stop: asyncio.Event | None = None) -> None:
        self.interval = interval
        self.stop = stop
        self.ticks = 0

    def __aiter__(self) -> Ticker:
        return self

    async def __anext__(self) -> int:
        if await pause(self.interval, self.stop):
            raise StopAsyncIteration
        self.ticks += 1
        return self.ticks
