"""A DOWN host's check output in the host detail: the refresh leaves it out (console/sources/icinga.py),
the detail loads it for that one host. No Textual, no sockets."""

from __future__ import annotations

from datetime import datetime, timezone

from console.core.hosts import HostIdentity
from console.core.model import IcingaHostState, IcingaSnapshot, SourceResult
from console.core.state import Store
from console.derive.detail import alerts_text, load_host_output, needs_host_output
from console.sources.base import SourceError

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
DB171 = HostIdentity("db171", icinga_name="db171")


def store_of(*hosts: IcingaHostState) -> Store:
    store = Store(clock=lambda: NOW)
    store.register("icinga", "icinga", 30)
    store.put(SourceResult("icinga", "icinga", NOW, 1.0, data=IcingaSnapshot(hosts=hosts, services=())))
    return store


class FakeIcinga:
    timeout = 2.0

    def __init__(self, outputs: dict[str, str] | None = None, error: str | None = None) -> None:
        self.outputs, self.error, self.asked = outputs or {}, error, []

    async def host_output(self, host: str) -> str:
        self.asked.append(host)
        if self.error:
            raise SourceError(self.error)
        return self.outputs.get(host, "")


def test_a_down_host_without_output_needs_it_an_up_one_or_one_with_output_does_not():
    assert needs_host_output(store_of(IcingaHostState("db171", up=False)), DB171)
    assert not needs_host_output(store_of(IcingaHostState("db171", up=True)), DB171)
    assert not needs_host_output(store_of(IcingaHostState("db171", up=False, output="from the stream")), DB171)


def test_the_loaded_output_shows_on_the_host_down_line_the_snapshots_own_first():
    down = store_of(IcingaHostState("db171", up=False, acknowledged=True))
    assert alerts_text(down, DB171, NOW, ["fsslc.wtnet"]).plain == "✖ HOST DOWN ACK "
    shown = alerts_text(down, DB171, NOW, ["fsslc.wtnet"], "PING CRITICAL - Packet loss = 100%\nmore")
    assert shown.plain == "✖ HOST DOWN ACK PING CRITICAL - Packet loss = 100%"
    own = store_of(IcingaHostState("db171", up=False, output="CRITICAL - from the snapshot"))
    assert alerts_text(own, DB171, NOW, ["fsslc.wtnet"], "loaded").plain == "✖ HOST DOWN CRITICAL - from the snapshot"


async def test_load_host_output_asks_each_source_until_one_knows_the_host():
    empty, knows = FakeIcinga(), FakeIcinga({"db171": "PING CRITICAL"})
    loaded = await load_host_output([empty, knows], "db171")
    assert (loaded.data, loaded.error) == ("PING CRITICAL", None)
    assert empty.asked == knows.asked == ["db171"]
    failing = await load_host_output([FakeIcinga(error="HTTP 503 Service Unavailable")], "db171")
    assert failing.data is None and failing.error == "HTTP 503 Service Unavailable"
    assert (await load_host_output([], "db171")).data == ""
