"""The store keeps the last good answer; the poller never overlaps fetches of one source."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from console.core.model import SourceResult
from console.core.state import Poller, Store, next_delay
from console.sources.base import Source, SourceError

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


class CountingSource(Source[int]):
    """Answers with how many times it was asked; can be told to fail or to be slow."""

    kind = "test"

    def __init__(self, name: str, interval: float = 0.05, delay: float = 0.0) -> None:
        super().__init__(name, timeout=2, interval=interval)
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.failing = False

    async def _fetch(self) -> int:
        self.calls += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            if self.failing:
                raise SourceError("backend down")
            return self.calls
        finally:
            self.running -= 1


def result(source: str, data=None, error=None, at=T0) -> SourceResult:
    return SourceResult(source=source, kind="test", fetched_at=at, latency_ms=1.0, data=data, error=error)


def test_store_keeps_last_good_data_when_a_source_fails():
    store = Store()
    store.register("pve", "test", 10)
    changed = []
    store.subscribe(changed.append)
    store.put(result("pve", data="inventory"))
    store.put(result("pve", error="timed out after 5s", at=T0 + timedelta(seconds=30)))
    state = store.get("pve")
    assert state.data == "inventory"
    assert state.error == "timed out after 5s"
    assert state.failures == 1
    assert state.age(T0 + timedelta(seconds=45)) == timedelta(seconds=45)
    assert changed == ["pve", "pve"]


def test_backoff_doubles_up_to_eight_times_the_interval():
    assert [next_delay(10, n) for n in range(6)] == [10, 10, 20, 40, 80, 80]


async def test_fetches_of_one_source_never_overlap_even_when_slower_than_the_interval():
    slow = CountingSource("slow", interval=0.01, delay=0.05)
    poller = Poller([slow], Store())
    poller.start()
    for _ in range(5):
        await asyncio.sleep(0.03)
        poller.refresh_now()
    await poller.stop()
    assert slow.calls >= 2
    assert slow.most_at_once == 1


async def test_sources_refresh_independently_and_failures_stay_values():
    good, bad = CountingSource("good"), CountingSource("bad")
    bad.failing = True
    store = Store()
    poller = Poller([good, bad], store)
    poller.start()
    await asyncio.sleep(0.3)
    await poller.stop()
    assert store.get("good").ok and store.get("good").data >= 2
    assert store.get("bad").error == "backend down"
    assert store.get("bad").data is None


async def test_refresh_now_wakes_a_loop_early_and_pause_holds_it():
    source = CountingSource("pve", interval=60)
    poller = Poller([source], Store())
    poller.start()
    await asyncio.sleep(0.05)
    assert source.calls == 1
    poller.refresh_now("pve")
    await asyncio.sleep(0.05)
    assert source.calls == 2
    poller.pause()
    poller.refresh_now()
    await asyncio.sleep(0.05)
    assert source.calls == 2
    poller.resume()
    await asyncio.sleep(0.05)
    await poller.stop()
    assert source.calls == 3


async def test_the_poller_says_which_fetches_are_on_their_way():
    slow, quick = CountingSource("slow", interval=60, delay=0.2), CountingSource("quick", interval=60)
    poller = Poller([slow, quick], Store())
    poller.start()
    await asyncio.sleep(0.05)
    assert poller.fetching == {"slow"}
    await asyncio.sleep(0.25)
    assert poller.fetching == set()
    poller.refresh_now("slow")
    await asyncio.sleep(0.05)
    await poller.stop()  # a fetch cancelled on its way is not left marked
    assert poller.fetching == set()
