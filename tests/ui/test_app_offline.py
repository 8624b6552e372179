"""App behaviour that needs no sockets: the loading state and merged store notifications."""

from __future__ import annotations

import asyncio

from ui_fakes import NOW, FakeFarm, fake_config
from ui_helpers import text_of, wait_until

from console.core.model import SourceResult
from console.ui.app import OpsConsoleApp, StoreChanged
from console.ui.panes import HostsPane


def make_app(farm: FakeFarm, sources=None) -> OpsConsoleApp:
    sources = farm.sources() if sources is None else sources
    return OpsConsoleApp(fake_config(), sources=sources, clock=lambda: NOW, identity="ops@bast161")


async def test_panes_say_loading_until_their_sources_answer():
    farm = FakeFarm()
    sources = farm.sources()
    gate = asyncio.Event()
    proxmox = sources[0]
    produce = proxmox.produce

    async def slow_fetch():
        await gate.wait()
        return produce()

    proxmox._fetch = slow_fetch
    app = make_app(farm, sources)
    async with app.run_test(size=(80, 24)) as pilot:
        note = app.query_one("#hosts .pane-note")
        await wait_until(pilot, lambda: note.display and text_of(note) == "waiting for pve…",  # puppetdb has answered
                         what="the note to wait for pve only")
        assert "… pve" in text_of(app.query_one("#status-bar"))
        gate.set()
        await wait_until(pilot, lambda: not note.display, what="the note to go")
        assert app.query_one(HostsPane).table.row_count == 10


async def test_a_flood_of_store_updates_redraws_a_few_times_not_once_each():
    farm = FakeFarm()
    app = make_app(farm)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(HostsPane)
        await wait_until(pilot, lambda: pane.table.row_count == 10)
        shows = []
        original = pane.show
        pane.show = lambda view, layout=None: (shows.append(view), original(view, layout))[1]
        data = app.store.get("pve").data
        for _ in range(200):
            app.store.put(SourceResult("pve", "proxmox", NOW, 1.0, data=data))
        await pilot.pause(1.5)  # new data is shown at the clock's next tick, with it
        assert 1 <= len(shows) < 10


def test_store_changes_merge_in_the_queue():
    assert StoreChanged().can_replace(StoreChanged())
