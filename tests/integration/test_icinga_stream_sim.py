"""The Icinga event stream against the simulated farm: changes reach the store between polls (polling
set to 300 s), the sim checks subscriptions as Icinga 2.13 does, and after the stream drops polling
carries on while the stream reconnects by itself."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import httpx
import pytest

from console.core.config import parse_config
from console.core.model import CheckState, IcingaSnapshot, ServiceCheck
from console.core.state import Poller, Store
from console.sim import SimFarm
from console.sources import build_source, event_streams
from console.sources.icinga_stream import Backoff

pytestmark = pytest.mark.sim

POLL_SECONDS = 300.0  # the poller never polls again on its own during a test


def icinga_poller(farm: SimFarm, **changes) -> tuple[Poller, Store]:
    item = parse_config(farm.config_yaml(), "<sim>").sources.icinga[0]
    source = build_source("icinga", item.model_copy(update={"interval": POLL_SECONDS, **changes}))
    store = Store()
    poller = Poller([source], store, streams=event_streams([source]))
    for stream in poller.streams.values():
        stream.backoff = Backoff(first=0.2, cap=1.0, healthy_after=30)  # quick retries for the test
    return poller, store


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def snapshot(store: Store) -> IcingaSnapshot:
    return store.get("icinga").data


def find(store: Store, host: str, service: str) -> ServiceCheck | None:
    data = snapshot(store)
    return next((c for c in data.services if (c.host, c.service) == (host, service)), None) if data else None


def icinga_requests(farm: SimFarm) -> int:
    return farm.request_counts()["icinga"]


def action(client: httpx.Client, farm: SimFarm, name: str, body: dict) -> httpx.Response:
    password = farm.secret_path("icinga").read_text().strip()
    response = client.post(f"{farm.urls['icinga']}/v1/actions/{name}", json=body, auth=("opsconsole", password),
                           headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response


async def started(poller: Poller, store: Store) -> None:
    poller.start()
    await until(lambda: snapshot(store) is not None and (store.get("icinga").stream or None) is not None
                and store.get("icinga").stream.live, "the first poll and a live stream")


async def test_state_changes_acks_and_downtimes_reach_the_store_without_a_poll(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    client = sim_client_factory(farm)
    poller, store = icinga_poller(farm)
    await started(poller, store)
    try:
        requests = icinga_requests(farm)
        assert find(store, "mw151", "SSH").state == CheckState.OK
        farm.model.set_check("mw151", "SSH", "CRITICAL", "SSH CRITICAL - connection refused")
        await until(lambda: find(store, "mw151", "SSH").state == CheckState.CRITICAL, "the new CRITICAL")
        assert find(store, "mw151", "SSH").output == "SSH CRITICAL - connection refused"

        target = {"type": "Service", "filter": 'host.name=="mw151" && service.name=="SSH"'}
        await asyncio.to_thread(action, client, farm, "acknowledge-problem", {**target, "author": "ops", "comment": "T1"})
        await until(lambda: find(store, "mw151", "SSH").acknowledged, "the acknowledgement")
        now = farm.model.now().timestamp()
        await asyncio.to_thread(action, client, farm, "schedule-downtime",
                                {**target, "author": "ops", "comment": "T1", "start_time": now, "end_time": now + 3600})
        await until(lambda: find(store, "mw151", "SSH").in_downtime, "the downtime")
        await asyncio.to_thread(action, client, farm, "remove-downtime", target)
        await until(lambda: not find(store, "mw151", "SSH").in_downtime, "the downtime's end")

        await asyncio.to_thread(action, client, farm, "process-check-result",
                                {**target, "exit_status": 0, "plugin_output": "SSH OK"})
        await until(lambda: find(store, "mw151", "SSH").state == CheckState.OK, "the recovery")
        assert not find(store, "mw151", "SSH").acknowledged  # a recovery clears the acknowledgement
        # the stream brought all of it: the only requests since were the four actions, no poll
        assert icinga_requests(farm) - requests == 4
    finally:
        await poller.stop()


async def test_after_a_drop_polling_carries_on_and_the_stream_comes_back(sim_farm_factory):
    farm = sim_farm_factory()
    poller, store = icinga_poller(farm, timeout=2.0)
    await started(poller, store)
    try:
        farm.set_fault("icinga", "down")  # cuts the stream
        await until(lambda: not store.get("icinga").stream.live, "the stream to drop")
        stream = store.get("icinga").stream
        assert stream.error and stream.retry_at is not None
        farm.set_fault("icinga", "hang")  # accepted, never answered: the reconnect must time out
        await until(lambda: "timed out" in (store.get("icinga").stream.error or ""), "the hung subscription to time out")
        farm.set_fault("icinga", None)
        before = store.get("icinga").last
        poller.refresh_now("icinga")  # polling works while the stream is still waiting to retry
        await until(lambda: store.get("icinga").last is not before and store.get("icinga").ok, "a poll")
        await until(lambda: store.get("icinga").stream.live, "the stream to come back")
        farm.model.set_check("mw151", "SSH", "CRITICAL", "SSH CRITICAL - after the drop")
        await until(lambda: find(store, "mw151", "SSH").state == CheckState.CRITICAL, "a change through the new stream")
    finally:
        await poller.stop()


async def test_pausing_the_source_pauses_the_stream_too(sim_farm_factory):
    farm = sim_farm_factory()
    poller, store = icinga_poller(farm)
    await started(poller, store)
    try:
        poller.pause("icinga")
        farm.model.set_check("mw151", "SSH", "CRITICAL", "SSH CRITICAL - while paused")
        await asyncio.sleep(0.5)  # the stream has it by now; it must not reach the screen
        assert find(store, "mw151", "SSH").state == CheckState.OK
        poller.resume("icinga")
        await until(lambda: find(store, "mw151", "SSH").state == CheckState.CRITICAL, "the change after resuming")
    finally:
        await poller.stop()


@pytest.mark.parametrize(("body", "status"), [
    ({"types": ["StateChange"]}, "'queue' query parameter is required."),
    ({"queue": "q"}, "'types' query parameter is required."),
    ({"types": ["StateChanged"], "queue": "q"}, "Invalid event type(s) specified: StateChanged"),
])
def test_the_sim_checks_subscriptions_as_icinga_does(sim_farm_factory, sim_client_factory, body, status):
    farm = sim_farm_factory()
    password = farm.secret_path("icinga").read_text().strip()
    response = sim_client_factory(farm).post(f"{farm.urls['icinga']}/v1/events", json=body,
                                             auth=("opsconsole", password), headers={"Accept": "application/json"})
    assert (response.status_code, response.json()["status"]) == (400, status)
