"""The Icinga event stream without a server: parsing events, patching the snapshot, the back-off,
the store's patch, the poller's replay of events onto a late poll answer, and the status bar."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from console.core.config import IcingaConfig, Secret
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck, SourceResult, StreamStatus
from console.core.state import EventFeed, Store
from console.derive.status_bar import status_items
from console.sources.base import MalformedAnswer
from console.sources.icinga import IcingaSource
from console.sources.icinga_stream import (
    Backoff,
    CheckableEvent,
    IcingaEventStream,
    apply_events,
    event_streams,
    parse_event,
)

T0 = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)
EPOCH = T0.timestamp()


def check(host: str, service: str, state: CheckState = CheckState.OK, **changes) -> ServiceCheck:
    fields = dict(hard=True, acknowledged=False, in_downtime=False, output="OK", last_state_change=T0 - timedelta(days=1),
                  last_check=T0 - timedelta(minutes=1))
    fields.update(changes)
    return ServiceCheck(host=host, service=service, state=state, **fields)


SNAPSHOT = IcingaSnapshot(
    hosts=(IcingaHostState("mw151", True), IcingaHostState("mw152", True)),
    services=(
        check("mw151", "PHP-FPM"),
        check("mw152", "PHP-FPM", CheckState.CRITICAL, output="PROCS CRITICAL: 0 processes", acknowledged=True),
        check("mw152", "SSH"),
    ),
)


def state_change(host: str, service: str | None, state: float, state_type: float = 1.0, output: str = "x",
                 at: float = EPOCH, **extra) -> dict:
    event = {"type": "StateChange", "timestamp": at, "host": host, "state": state, "state_type": state_type,
             "check_result": {"output": output, "exit_status": state, "execution_end": at - 0.5,
                              "schedule_end": at - 0.4}, **extra}
    if service is not None:
        event["service"] = service
    return event


def downtime_event(kind: str, host: str, service: str = "", fixed: bool = True) -> dict:
    return {"type": kind, "timestamp": EPOCH, "downtime": {"host_name": host, "service_name": service,
                                                           "name": "x", "fixed": fixed}}


def service(snapshot: IcingaSnapshot, host: str, name: str) -> ServiceCheck:
    return next(c for c in snapshot.services if (c.host, c.service) == (host, name))


def patched(*payloads: dict) -> IcingaSnapshot:
    events = [parse_event(p) for p in payloads]
    return apply_events(SNAPSHOT, [e for e in events if e is not None])


# --- parsing ---------------------------------------------------------------------------------------


def test_a_state_change_says_state_hardness_output_and_times():
    event = parse_event(state_change("mw151", "PHP-FPM", 2.0, output="PROCS CRITICAL ", acknowledgement=False,
                                     downtime_depth=0.0))
    assert event == CheckableEvent(
        "StateChange", "mw151", "PHP-FPM", at=T0, state=2, hard=True, output="PROCS CRITICAL",
        last_check=datetime.fromtimestamp(EPOCH - 0.4, timezone.utc),
        changed_at=datetime.fromtimestamp(EPOCH - 0.5, timezone.utc), acknowledged=False, in_downtime=False,
    )


def test_integral_numbers_as_icinga_2_13_writes_them_are_the_same_event():
    assert parse_event(state_change("mw151", "SSH", 2, 0)) == parse_event(state_change("mw151", "SSH", 2.0, 0.0))
    assert parse_event(state_change("mw151", "SSH", 2, 0)).hard is False


def test_a_host_event_has_no_service_and_a_host_check_exit_2_is_down():
    event = parse_event(state_change("mw151", None, 2.0))
    assert (event.service, event.state) == (None, 1)


@pytest.mark.parametrize(("kind", "acknowledged"), [("AcknowledgementSet", True), ("AcknowledgementCleared", False)])
def test_acknowledgement_events_flip_the_flag(kind, acknowledged):
    event = parse_event({"type": kind, "timestamp": EPOCH, "host": "mw152", "service": "PHP-FPM",
                         "state": 2.0, "state_type": 1.0})
    assert (event.acknowledged, event.state) == (acknowledged, None)  # the state comes with StateChange only


def test_downtime_events_name_their_checkable_and_a_flexible_start_is_not_in_effect():
    assert parse_event(downtime_event("DowntimeTriggered", "mw151", "SSH")).in_downtime is True
    assert parse_event(downtime_event("DowntimeStarted", "mw151", "SSH", fixed=True)).in_downtime is True
    assert parse_event(downtime_event("DowntimeStarted", "mw151", "SSH", fixed=False)) is None
    removed = parse_event(downtime_event("DowntimeRemoved", "mw151"))
    assert (removed.service, removed.in_downtime) == (None, False)


def test_other_types_change_nothing_and_bad_shapes_are_malformed():
    assert parse_event({"type": "CommentAdded", "timestamp": EPOCH, "comment": {}}) is None
    for bad in ([1], {"type": "StateChange", "timestamp": EPOCH}, {"type": "StateChange", "host": "h", "state": 7},
                {"type": "DowntimeRemoved", "downtime": "x"}):
        with pytest.raises(MalformedAnswer):
            parse_event(bad)


# --- patching --------------------------------------------------------------------------------------


def test_a_new_problem_appears_with_its_output_and_state_change_time():
    after = patched(state_change("mw151", "PHP-FPM", 2.0, output="PROCS CRITICAL"))
    php = service(after, "mw151", "PHP-FPM")
    assert (php.state, php.hard, php.output) == (CheckState.CRITICAL, True, "PROCS CRITICAL")
    assert php.last_state_change == datetime.fromtimestamp(EPOCH - 0.5, timezone.utc)
    assert service(after, "mw152", "SSH") is service(SNAPSHOT, "mw152", "SSH")


def test_a_soft_to_hard_change_keeps_when_the_state_changed():
    soft = patched(state_change("mw151", "PHP-FPM", 2.0, 0.0, at=EPOCH))
    hard = apply_events(soft, [parse_event(state_change("mw151", "PHP-FPM", 2.0, 1.0, at=EPOCH + 60))])
    assert service(hard, "mw151", "PHP-FPM").hard is True
    assert service(hard, "mw151", "PHP-FPM").last_state_change == service(soft, "mw151", "PHP-FPM").last_state_change


def test_a_recovery_leaves_the_problems_and_clears_the_acknowledgement():
    after = patched(state_change("mw152", "PHP-FPM", 0.0, output="PROCS OK"))
    php = service(after, "mw152", "PHP-FPM")
    assert (php.state, php.acknowledged) == (CheckState.OK, False)
    assert [c.key for c in after.services if c.state != CheckState.OK] == []


def test_acknowledgement_and_downtime_flip_the_flags():
    after = patched({"type": "AcknowledgementCleared", "host": "mw152", "service": "PHP-FPM", "timestamp": EPOCH},
                    downtime_event("DowntimeTriggered", "mw152", "PHP-FPM"))
    php = service(after, "mw152", "PHP-FPM")
    assert (php.acknowledged, php.in_downtime) == (False, True)
    back = apply_events(after, [parse_event(downtime_event("DowntimeRemoved", "mw152", "PHP-FPM"))])
    assert service(back, "mw152", "PHP-FPM").in_downtime is False


def test_a_host_going_down_and_a_check_the_poll_did_not_list():
    after = patched(state_change("mw152", None, 1.0, output="PING CRITICAL"),
                    state_change("mw151", "Disk", 1.0, output="DISK WARNING"))
    mw152 = next(h for h in after.hosts if h.name == "mw152")
    assert mw152 == IcingaHostState("mw152", False, output="PING CRITICAL", last_state_change=mw152.last_state_change)
    assert mw152.last_state_change is not None  # when it went DOWN: the Alerts row's age
    assert [c.key for c in after.services] == ["mw151!Disk", "mw151!PHP-FPM", "mw152!PHP-FPM", "mw152!SSH"]


def test_nothing_new_is_the_same_snapshot_and_events_apply_idempotently():
    assert patched({"type": "AcknowledgementSet", "host": "mw152", "service": "PHP-FPM", "timestamp": EPOCH}) is SNAPSHOT
    assert patched({"type": "AcknowledgementSet", "host": "nohost", "service": "X", "timestamp": EPOCH}) is SNAPSHOT
    once = patched(state_change("mw151", "PHP-FPM", 2.0))
    assert apply_events(once, [parse_event(state_change("mw151", "PHP-FPM", 2.0))]) is once


# --- back-off --------------------------------------------------------------------------------------


def test_back_off_doubles_from_one_second_to_a_minute():
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(0, 10)] == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert Backoff(first=0.5, cap=3).delay(4) == 3


# --- the store and the poller's feed -----------------------------------------------------------------


def result(data, error: str | None = None) -> SourceResult:
    return SourceResult(source="icinga", kind="icinga", fetched_at=T0, latency_ms=12, data=None if error else data,
                        error=error)


def test_a_patch_replaces_the_data_and_tells_listeners_but_keeps_an_error_on_screen():
    store = Store()
    store.register("icinga", "icinga", 15)
    changes = []
    store.subscribe(changes.append)
    store.patch("icinga", SNAPSHOT)  # nothing polled yet: nothing to patch
    assert store.get("icinga").data is None and changes == []
    store.put(result(SNAPSHOT))
    newer = patched(state_change("mw151", "PHP-FPM", 2.0))
    store.patch("icinga", newer)
    assert store.get("icinga").data is newer and store.get("icinga").ok and len(changes) == 2
    store.put(result(None, error="timed out after 10s"))
    newest = apply_events(newer, [parse_event(state_change("mw151", "SSH", 2.0))])
    store.patch("icinga", newest)
    state = store.get("icinga")
    assert (state.data, state.error, state.failures) == (newest, "timed out after 10s", 1)


def test_events_received_while_a_poll_was_on_its_way_are_replayed_onto_its_answer():
    clock = iter([1.0, 5.0])
    feed = EventFeed(apply_events, timer=lambda: next(clock))
    feed.add(parse_event(state_change("mw151", "PHP-FPM", 2.0)))  # before the poll: in its answer already
    feed.add(parse_event(state_change("mw152", "SSH", 2.0)))  # during the poll: maybe not in it
    replayed = feed.replay(SNAPSHOT, since=3.0)
    assert service(replayed, "mw152", "SSH").state == CheckState.CRITICAL
    assert service(replayed, "mw151", "PHP-FPM").state == CheckState.OK
    assert len(feed.take_pending()) == 2 and feed.take_pending() == []


def icinga_source(**changes) -> IcingaSource:
    config = IcingaConfig(name="icinga", url="https://icinga.example:5665", username="opsconsole",
                          password=Secret("s3cret-pass", "test"), **changes)
    return IcingaSource(config)


def test_only_icinga_sources_with_stream_on_get_a_stream():
    assert [s.source_name for s in event_streams([icinga_source()])] == ["icinga"]
    assert event_streams([icinga_source(stream=False)]) == []
    assert event_streams([icinga_source(stream=False)]) == []


# --- the status bar -----------------------------------------------------------------------------------


def status_text(stream: StreamStatus | None) -> str:
    store = Store()
    store.register("icinga", "icinga", 15)
    store.put(result(SNAPSHOT))
    if stream is not None:
        store.set_stream("icinga", stream)
    return status_items(store, T0)[0].text.plain


def test_the_status_bar_says_live_or_when_the_stream_retries():
    assert "⚡" not in status_text(None)
    assert status_text(StreamStatus(live=False)) == status_text(None)  # still connecting: nothing to say
    assert status_text(StreamStatus(live=True)).startswith("✔ icinga ⚡")
    down = StreamStatus(live=False, error="cannot connect", retry_at=T0 + timedelta(seconds=8))
    assert "▲ stream down, retrying in 8s" in status_text(down)


# --- the stream against a fake transport ----------------------------------------------------------------


async def test_the_stream_delivers_events_reconnects_with_back_off_and_asks_for_a_resync():
    requests: list[dict] = []
    answers = [
        httpx.Response(200, content=(json.dumps(state_change("mw151", "PHP-FPM", 2.0)) + "\nnot json\n\n").encode()),
        httpx.Response(403, json={"error": 403, "status": "No permission to access events/StateChange"}),
        httpx.Response(200, content=b""),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return answers.pop(0) if answers else httpx.Response(503)

    stream = IcingaEventStream(icinga_source(), backoff=Backoff(first=0.01, cap=0.02, healthy_after=60),
                               transport=httpx.MockTransport(answer))
    events, statuses, resyncs = [], [], []
    task = asyncio.create_task(stream.run(events.append, statuses.append, lambda: resyncs.append(True)))
    try:
        for _ in range(200):
            if len(requests) >= 4:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stream.aclose()
    assert [e.key for e in events] == ["mw151!PHP-FPM"] and stream.malformed == 1
    assert requests[0]["types"] == list(stream.types) and requests[0]["queue"].startswith("opsconsole-")
    assert "CheckResult" not in requests[0]["types"]
    assert statuses[0] == StreamStatus(live=True)
    assert statuses[1].live is False and statuses[1].error == "the event stream ended"
    assert "HTTP 403" in statuses[2].error and "s3cret-pass" not in statuses[2].error
    assert resyncs  # back after failures: the owner re-polls what the gap may have hidden
