"""The Icinga event stream against a real Icinga2 (2.13 requires `queue`): with polling every 300 s, an
injected CRITICAL reaches the store through the stream within 10 s, and so do the acknowledgement,
the downtime and the recovery."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Callable
from urllib.parse import quote

import pytest

from console.core.config import parse_config
from console.core.model import CheckState, ServiceCheck
from console.core.state import Poller, Store
from console.sources import build_sources, event_streams

pytestmark = pytest.mark.real

HOST = "stream161.fsslc.wtnet"
SERVICE = "HTTPS"
TARGET = {"type": "Service", "filter": f'host.name=="{HOST}" && service.name=="{SERVICE}"'}


def ok(answer):
    status, body = answer
    assert status == 200, body
    return body


@pytest.fixture(scope="module")
def icinga_with_passive_check(real_icinga):
    """A host and one passive service (HARD at once), OK to begin with."""
    ok(real_icinga.api("PUT", f"objects/hosts/{HOST}", {"attrs": {"check_command": "dummy", "enable_active_checks": False}}))
    attrs = {"check_command": "passive", "enable_active_checks": False, "max_check_attempts": 1}
    ok(real_icinga.api("PUT", "objects/services/" + quote(f"{HOST}!{SERVICE}"), {"attrs": attrs}))
    ok(real_icinga.api("POST", "actions/process-check-result", {**TARGET, "exit_status": 0, "plugin_output": "HTTP OK"}))
    return real_icinga


def config_text(icinga, secret_file) -> str:
    return (
        "farm: {name: wikitide, environment: test, domains: [fsslc.wtnet]}\nsources:\n"
        f"  icinga:\n    - {{name: icinga, url: '{icinga.url}', username: {icinga.username}, "
        f"password: {{file: '{secret_file}'}}, verify: '{icinga.ca_path}', interval: 300}}\n"
    )


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)


def ours(store: Store) -> ServiceCheck | None:
    data = store.get("icinga").data
    return next((c for c in data.services if (c.host, c.service) == (HOST, SERVICE)), None) if data else None


async def act(icinga, name: str, body: dict) -> None:
    ok(await asyncio.to_thread(icinga.api, "POST", f"actions/{name}", {**TARGET, **body}))


async def test_a_critical_reaches_the_store_through_the_stream_and_leaves_on_recovery(icinga_with_passive_check, tmp_path):
    icinga = icinga_with_passive_check
    secret = tmp_path / "icinga.secret"
    secret.write_text(icinga.password)
    secret.chmod(0o600)
    sources = build_sources(parse_config(config_text(icinga, secret)))
    polls = 0
    fetch = sources[0].fetch

    async def counted_fetch():
        nonlocal polls
        polls += 1
        return await fetch()

    sources[0].fetch = counted_fetch
    store = Store()
    poller = Poller(sources, store, streams=event_streams(sources))
    poller.start()
    try:
        await until(lambda: ours(store) is not None and bool(store.get("icinga").stream)
                    and store.get("icinga").stream.live, "the first poll and a live stream")
        assert ours(store).state == CheckState.OK and polls == 1
        await asyncio.sleep(0.5)  # Icinga registers the subscription's queue as the answer starts

        await act(icinga, "process-check-result", {"exit_status": 2, "plugin_output": "HTTP CRITICAL - 503"})
        await until(lambda: ours(store).state == CheckState.CRITICAL, "the injected CRITICAL")
        check = ours(store)
        assert (check.hard, check.output) == (True, "HTTP CRITICAL - 503")

        await act(icinga, "acknowledge-problem", {"author": "ops", "comment": "T1"})
        await until(lambda: ours(store).acknowledged, "the acknowledgement")
        now = time.time()
        await act(icinga, "schedule-downtime", {"author": "ops", "comment": "T1", "start_time": now - 10,
                                                 "end_time": now + 3600})
        await until(lambda: ours(store).in_downtime, "the downtime")
        await act(icinga, "remove-downtime", {})
        await until(lambda: not ours(store).in_downtime, "the downtime's removal")

        await act(icinga, "process-check-result", {"exit_status": 0, "plugin_output": "HTTP OK"})
        await until(lambda: ours(store).state == CheckState.OK, "the recovery")
        assert not ours(store).acknowledged
        assert polls == 1, "a poll, not the stream, brought a change"
        # what the stream made is what a poll says
        streamed = ours(store)
        await poller.stop()
        fresh = await fetch()
        polled = next(c for c in fresh.data.services if (c.host, c.service) == (HOST, SERVICE))
        assert (polled.state, polled.hard, polled.acknowledged, polled.in_downtime) == (
            streamed.state, streamed.hard, streamed.acknowledged, streamed.in_downtime)
        # a poll carries no output for an OK check: only the problems query asks for it
        assert polled.output == (streamed.output if streamed.state != CheckState.OK else "")
        assert abs((polled.last_state_change - streamed.last_state_change).total_seconds()) < 1
    finally:
        await poller.stop()
        await sources[0].aclose()


def test_a_subscription_without_queue_is_refused_like_the_sim_does(real_icinga):
    status, body = real_icinga.api("POST", "events", {"types": ["StateChange"]}, headers={"Accept": "application/json"})
    assert status == 400, body
    assert "queue" in json.dumps(body)
