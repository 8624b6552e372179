"""console.core.retry: the back-off policy, pause, Attempts and Ticker (real asyncio waits, short ones;
time-outs on an injected clock; jitter from a seeded random)."""

from __future__ import annotations

import asyncio
import random

import pytest

from console.core.retry import Attempts, Backoff, Ticker, pause

SLACK = 0.005  # the event loop may run a timer this much early (its clock resolution, and float sums)


# --- Backoff -------------------------------------------------------------------------------------


def test_backoff_doubles_from_first_up_to_the_cap() -> None:
    assert [Backoff().delay(n) for n in range(10)] == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert [Backoff(first=0.5, cap=3).delay(n) for n in range(6)] == [0, 0.5, 1, 2, 3, 3]
    assert [Backoff(first=2, cap=100, factor=3).delay(n) for n in range(1, 6)] == [2, 6, 18, 54, 100]
    assert [Backoff(first=5, cap=5, factor=1).delay(n) for n in range(1, 4)] == [5, 5, 5]


def test_backoff_never_overflows_after_very_many_failures() -> None:
    assert Backoff(first=1, cap=60).delay(5000) == 60
    assert Backoff(first=1, cap=60).delay(10**9) == 60


def test_backoff_refuses_a_policy_that_makes_no_sense() -> None:
    for bad in ({"first": -1}, {"first": 10, "cap": 5}, {"factor": 0.5}, {"jitter": 1.5}, {"jitter": -0.1}):
        with pytest.raises(ValueError):
            Backoff(**bad)


def test_jitter_is_repeatable_with_a_seeded_random_and_stays_within_its_band() -> None:
    policy = Backoff(first=1, cap=60, jitter=0.5, rng=random.Random(42).random)
    again = Backoff(first=1, cap=60, jitter=0.5, rng=random.Random(42).random)
    delays = [policy.delay(n) for n in range(1, 12)]
    assert delays == [again.delay(n) for n in range(1, 12)]
    draws = random.Random(42)
    plain = [Backoff(first=1, cap=60).delay(n) for n in range(1, 12)]
    assert delays == [d * (1 - 0.5 * draws.random()) for d in plain]
    assert all(d / 2 <= j <= d for d, j in zip(plain, delays, strict=True))
    assert len(set(delays[-4:])) == 4  # at the cap the delays still differ: clients do not retry in step


def test_jitter_shortens_but_never_lengthens() -> None:
    assert Backoff(first=10, cap=10, jitter=0.3, rng=lambda: 0.0).delay(3) == 10
    assert Backoff(first=10, cap=10, jitter=0.3, rng=lambda: 0.5).delay(3) == pytest.approx(8.5)
    assert Backoff(first=10, cap=10, jitter=1.0, rng=lambda: 0.5).delay(1) == pytest.approx(5)
    assert Backoff(first=10, cap=10, jitter=0.3, rng=lambda: 0.5).delay(0) == 0


# --- pause ---------------------------------------------------------------------------------------


async def test_pause_waits_its_time_when_nothing_wakes_it() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await pause(0.05) is False
    assert loop.time() - started >= 0.05 - SLACK
    started = loop.time()
    assert await pause(0.05, asyncio.Event()) is False
    assert loop.time() - started >= 0.05 - SLACK


async def test_pause_ends_early_when_woken() -> None:
    wake = asyncio.Event()
    wake.set()
    async with asyncio.timeout(1):
        assert await pause(30, wake) is True  # already set: no wait at all
    wake.clear()
    asyncio.get_running_loop().call_later(0.02, wake.set)
    async with asyncio.timeout(1):
        assert await pause(30, wake) is True


async def test_pause_with_no_time_left_returns_at_once() -> None:
    async with asyncio.timeout(1):
        assert await pause(-5) is False
        assert await pause(0, asyncio.Event()) is False


@pytest.mark.parametrize("woken_by", [None, "event"])
async def test_cancelling_a_pause_is_not_swallowed(woken_by: str | None) -> None:
    task = asyncio.create_task(pause(30, asyncio.Event() if woken_by else None))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1):
            await task
    assert task.cancelled()


# --- Attempts ------------------------------------------------------------------------------------


async def test_attempts_counts_from_one_and_waits_the_interval_between_two() -> None:
    loop = asyncio.get_running_loop()
    attempts = Attempts(3, 0.03)
    seen: list[tuple[int, float]] = []
    async for attempt in attempts:
        seen.append((attempt, loop.time()))
    assert [n for n, _ in seen] == [1, 2, 3]
    assert all(later - earlier >= 0.03 - SLACK for (_, earlier), (_, later) in zip(seen, seen[1:], strict=False))
    assert (attempts.made, attempts.expired) == (3, False)


async def test_attempts_waits_neither_before_the_first_nor_after_the_last() -> None:
    async with asyncio.timeout(1):  # a wait of the interval (30 s) would time this out
        assert [n async for n in Attempts(1, 30)] == [1]
        assert [n async for n in Attempts(0, 30)] == []


async def test_attempts_stop_when_the_caller_leaves() -> None:
    attempts = Attempts(5, 0)
    async for attempt in attempts:
        if attempt == 2:
            break
    assert (attempts.made, attempts.expired) == (2, False)


async def test_attempts_end_at_the_timeout_the_last_one_finding_it_passed() -> None:
    now = [100.0]
    attempts = Attempts(None, 0, timeout=10, clock=lambda: now[0])
    times = []
    async for _ in attempts:
        times.append(now[0])
        now[0] += 4  # each attempt takes 4 s
    assert times == [100, 104, 108]  # the one started at 108 ended at 112, past 110: no more
    assert (attempts.made, attempts.expired) == (3, True)


async def test_attempts_count_wins_over_a_later_timeout() -> None:
    now = [0.0]
    attempts = Attempts(2, 0, timeout=10, clock=lambda: now[0])
    async for _ in attempts:
        now[0] += 1
    assert (attempts.made, attempts.expired) == (2, False)
    zero = Attempts(None, 30, timeout=0)
    async with asyncio.timeout(1):
        assert [n async for n in zero] == [1]  # one look, however short the timeout
    assert zero.expired


async def test_attempts_cancelled_during_a_wait() -> None:
    made: list[int] = []

    async def forever() -> None:
        async for attempt in Attempts(None, 30):
            made.append(attempt)

    task = asyncio.create_task(forever())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1):
            await task
    assert made == [1]


def test_attempts_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError):
        Attempts(-1, 1)


# --- Ticker --------------------------------------------------------------------------------------


async def test_ticker_waits_before_each_tick() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    ticks = []
    async for tick in Ticker(0.02):
        ticks.append((tick, loop.time() - started))
        if tick == 3:
            break
    assert [n for n, _ in ticks] == [1, 2, 3]
    assert all(at >= 0.02 * n - SLACK for n, at in ticks)


async def test_ticker_ends_when_stopped_even_mid_wait() -> None:
    stop = asyncio.Event()
    ticker = Ticker(0.01, stop=stop)
    async with asyncio.timeout(1):
        async for tick in ticker:
            if tick == 2:
                stop.set()
    assert ticker.ticks == 2
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.02, stop.set)
    async with asyncio.timeout(1):  # a wait of the interval (30 s) would time this out
        assert [n async for n in Ticker(30, stop=stop)] == []


async def test_ticker_cancelled_during_a_wait() -> None:
    ticks: list[int] = []

    async def renew() -> None:
        async for tick in Ticker(0.01):
            ticks.append(tick)

    task = asyncio.create_task(renew())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(1):
            await task
    assert ticks and ticks == list(range(1, len(ticks) + 1))
