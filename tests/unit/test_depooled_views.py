"""Depooled hosts on screen (#26 item 2), from a store filled by hand: the Hosts pane's `depooled 4/4`,
the Services pane's count, the status bar's `⊘ N depooled` (only when there are any), the backends
source's quiet health; and the backends source turning the caches' table into a snapshot."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from rich.text import Text

from console.actions.depool import Backend, BackendTable
from console.core.config import parse_config
from console.core.model import (
    BackendSnapshot,
    CacheBackend,
    Guest,
    HypervisorNode,
    IcingaSnapshot,
    ProxmoxInventory,
    SourceResult,
)  # fmt: skip
from console.core.state import Store
from console.derive.hosts_pane import depooled_hosts, hosts_view
from console.derive.services_pane import services_view
from console.derive.status_bar import status_items, status_line
from console.sources import build_sources
from console.sources.backends import BackendsSource

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
CACHES = ("cp161", "cp171", "cp191", "cp201")
CONFIG = parse_config(
    """
farm: {name: wikitide, environment: production, domains: [fsslc.wtnet]}
services:
  - {name: php-fpm, hosts: "mw*", checks: [PHP-FPM]}
  - {name: varnish, hosts: "cp*", checks: [Varnish Backends]}
  - {name: jobrunner, hosts: "mwtask*", checks: [JobRunner Service]}
actions:
  caches:
    - {name: cp161, url: "http://10.0.0.161:81"}
    - {name: cp171, url: "http://10.0.0.171:81"}
    - {name: cp191, url: "http://10.0.0.191:81"}
    - {name: cp201, url: "http://10.0.0.201:81"}
"""
)


def backends(*, sick: dict[str, tuple[str, ...]] | None = None, probe_sick: tuple[str, ...] = (),
             unanswered: tuple[str, ...] = ()) -> BackendSnapshot:
    """mw151..mw153 on every cache that answered; `sick`: host -> caches where an operator set it sick;
    `probe_sick`: hosts whose probe fails (sick, not depooled)."""
    sick = sick or {}
    cells = []
    for cache in CACHES:
        if cache in unanswered:
            continue
        for host in ("mw151", "mw152", "mw153"):
            admin = "sick" if cache in sick.get(host, ()) else "probe"
            health = "sick" if admin == "sick" or host in probe_sick else "healthy"
            cells.append(CacheBackend(cache, host, admin, health, "0/5" if host in probe_sick else "5/5"))
    return BackendSnapshot(CACHES, tuple(cells), tuple(f"{c}: HTTP 500" for c in unanswered), unanswered)


def store_with(**data) -> Store:
    store = Store(clock=lambda: NOW)
    for kind, value in data.items():
        store.register(kind, kind, 30)
        store.put(SourceResult(kind, kind, NOW, 3.0, data=value))
    return store


def inventory() -> ProxmoxInventory:
    guests = tuple(Guest(name, 100 + i, "cloud15", "qemu", "running", 0.1, 4, 1 << 30, 4 << 30, 3600)
                   for i, name in enumerate(("mw151", "mw152", "mw153", "mwtask171", "cp161")))
    return ProxmoxInventory((HypervisorNode("cloud15", "online", 0.2, 32, 1 << 34, 1 << 36, 86400),), guests)


def status_cell(view, key: str) -> str:
    row = next(r for r in view.rows if r.key == key)
    at = next(i for i, c in enumerate(view.columns) if c.key == "status")
    cell = row.cells[at]
    return cell.plain if isinstance(cell, Text) else str(cell)


def state_cell(view, key: str) -> str:
    row = next(r for r in view.rows if r.key == key)
    cell = row.cells[2]
    return cell.plain if isinstance(cell, Text) else str(cell)


# --- the Hosts pane ---------------------------------------------------------------------------------


def test_a_host_depooled_on_every_cache_says_depooled_4_of_4_in_its_status():
    store = store_with(proxmox=inventory(), backends=backends(sick={"mw152": CACHES}))
    view = hosts_view(store, CONFIG, NOW)
    assert status_cell(view, "guest:mw152") == "running · depooled 4/4"
    assert status_cell(view, "guest:mw151") == "running"
    assert status_cell(view, "node:cloud15") == "online"
    assert [c.key for c in view.columns][:3] == ["host", "status", "puppet"]  # no new column: narrow order kept


def test_a_host_depooled_on_some_caches_says_how_many_of_how_many():
    store = store_with(proxmox=inventory(), backends=backends(sick={"mw153": ("cp161", "cp171")}))
    assert status_cell(hosts_view(store, CONFIG, NOW), "guest:mw153") == "running · depooled 2/4"


def test_a_backend_whose_probe_fails_is_not_called_depooled():
    store = store_with(proxmox=inventory(), backends=backends(probe_sick=("mw152",)))
    view = hosts_view(store, CONFIG, NOW)
    assert "depooled" not in status_cell(view, "guest:mw152")
    assert depooled_hosts(store, CONFIG.farm.domains) == {}


def test_without_the_backends_source_the_hosts_pane_is_as_before():
    with_source = hosts_view(store_with(proxmox=inventory(), backends=backends()), CONFIG, NOW)
    without = hosts_view(store_with(proxmox=inventory()), CONFIG, NOW)
    assert [r.cells for r in with_source.rows] == [r.cells for r in without.rows]
    assert with_source.columns == without.columns


# --- the Services pane ------------------------------------------------------------------------------


def test_services_count_the_depooled_hosts_they_serve():
    snapshot = IcingaSnapshot(hosts=(), services=())
    store = store_with(icinga=snapshot, backends=backends(sick={"mw152": CACHES, "mw153": ("cp161",)}))
    view = services_view(store, CONFIG, NOW)
    assert state_cell(view, "php-fpm").endswith(" · depooled 2")
    assert "depooled" not in state_cell(view, "varnish")
    assert "depooled" not in state_cell(view, "jobrunner")  # mwtask* does not match mw152


def test_services_without_a_depooled_host_are_unchanged():
    snapshot = IcingaSnapshot(hosts=(), services=())
    with_source = services_view(store_with(icinga=snapshot, backends=backends(probe_sick=("mw152",))), CONFIG, NOW)
    without = services_view(store_with(icinga=snapshot), CONFIG, NOW)
    assert [r.cells for r in with_source.rows] == [r.cells for r in without.rows]


# --- the status bar ----------------------------------------------------------------------------------


def test_the_status_bar_says_nothing_of_the_backends_when_all_is_well():
    store = store_with(proxmox=inventory(), backends=backends(probe_sick=("mw152",)))
    items = status_items(store, NOW)
    assert [item.name for item in items] == ["proxmox"]
    assert "backends" not in status_line(items, 200).plain and "depooled" not in status_line(items, 200).plain


def test_the_status_bar_counts_depooled_hosts_and_keeps_the_count_when_narrow():
    store = store_with(proxmox=inventory(), backends=backends(sick={"mw152": CACHES, "mw153": ("cp161",)}))
    items = status_items(store, NOW)
    assert "⊘ 2 depooled" in status_line(items, 200).plain
    assert "⊘ 2 depooled" in status_line(items, 20).plain  # narrow: healthy sources counted, this kept


def test_the_status_bar_names_a_cache_that_did_not_answer_and_a_failing_backends_source():
    store = store_with(backends=backends(unanswered=("cp171",)))
    assert "cp171: HTTP 500" in status_line(status_items(store, NOW), 200).plain
    store.put(SourceResult("backends", "backends", NOW, 3.0,
                           error="no cache answered its backend list: cp161: connection refused; cp171: HTTP 500"))
    line = status_line(status_items(store, NOW), 200).plain
    assert "✖ backends: no cache answered its backend list" in line


def test_the_status_bar_is_quiet_until_the_backends_source_answers():
    store = Store(clock=lambda: NOW)
    store.register("backends", "backends", 30)
    assert status_items(store, NOW) == []


# --- the source ---------------------------------------------------------------------------------------


def with_depool(**changes) -> object:
    """CONFIG with actions.depool changed."""
    depool = CONFIG.actions.depool.model_copy(update=changes)
    return CONFIG.model_copy(update={"actions": CONFIG.actions.model_copy(update={"depool": depool})})


def test_build_sources_adds_one_backends_source_from_actions_caches():
    sources = build_sources(CONFIG)
    assert [(s.name, s.kind, s.interval) for s in sources] == [("backends", "backends", 30.0)]
    assert [s.interval for s in build_sources(with_depool(list_interval=10.0))] == [10.0]
    assert build_sources(with_depool(list_interval=0.0)) == []
    assert build_sources(with_depool(method="varnishadm")) == []  # needs a read-write session: no background reader
    assert build_sources(parse_config("farm: {name: x}\n")) == []  # no caches, no source
    assert parse_config("farm: {name: x}\nactions: {depool: {list_interval: 15}}\n").actions.depool.list_interval == 15


def test_the_source_turns_the_caches_table_into_a_snapshot_and_a_cache_failing_into_a_partial_error(monkeypatch):
    from console.actions import depool

    table = BackendTable(CACHES, ("mw151", "mw152"),
                         {("cp161", "mw152"): Backend("mw152", "sick", "sick", "0/5"),
                          ("cp161", "mw151"): Backend("mw151", "probe", "healthy", "5/5")},
                         {"cp171": "HTTP 500", "cp191": "timed out", "cp201": "refused (HTTP 401)"})

    async def read(config, session, commands=None, clients=None):
        return table

    monkeypatch.setattr(depool, "read_backend_health", read)
    result = asyncio.run(BackendsSource(CONFIG, lambda: NOW).fetch())
    assert result.ok, result.error
    snapshot = result.data
    assert snapshot.depooled() == {"mw152": ("cp161",)}
    assert snapshot.answered == ("cp161",) and snapshot.names() == {"mw151", "mw152"}
    assert snapshot.partial_errors == ("cp171: HTTP 500", "cp191: timed out", "cp201: refused (HTTP 401)")

    monkeypatch.setattr(depool, "read_backend_health",
                        lambda *a, **k: _value(BackendTable(CACHES, (), {}, {c: "down" for c in CACHES})))
    failed = asyncio.run(BackendsSource(CONFIG, lambda: NOW).fetch())
    assert failed.error == "no cache answered its backend list: cp161: down; cp171: down; cp191: down; cp201: down"


async def _value(value):
    return value
