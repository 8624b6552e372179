"""Merged alerts and several clusters against the simulated farm: Graylog's alert events parsed from
the sim's `/api/events/search`, merged with Icinga's problems; two clusters (two farms) in one config."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import yaml

from console.core.config import parse_config
from console.core.model import CheckState, LogSnapshot
from console.core.state import Store
from console.derive.alerts import BOTH, GRAYLOG, merged_alerts
from console.derive.alerts_pane import alerts_view
from console.derive.hosts_pane import hosts_view
from console.derive.status_bar import status_items
from console.sim.clusters import cluster_scenario, clustered_config_yaml
from console.sources import Source, build_sources

pytestmark = pytest.mark.sim


async def refresh(config) -> Store:
    """One fetch of every configured source into a store (the console's first refresh)."""
    sources = build_sources(config)
    store = Store()
    for source in sources:
        store.register(source.name, source.kind, source.interval)
    try:
        for source in sources:
            store.put(await source.fetch())
    finally:
        for source in sources:
            await source.aclose()
    return store


def graylog_source(config) -> Source[Any]:
    return next(s for s in build_sources(config) if s.kind == "graylog")


async def test_graylog_refresh_carries_the_sims_alert_events(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    source = graylog_source(parse_config(farm.config_yaml(), "<sim>"))
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.ok, result.error
    snapshot = result.data
    assert isinstance(snapshot, LogSnapshot) and snapshot.partial_errors == ()
    about = {event.source for event in snapshot.events}
    assert "mw152" in about and {"cp161", "cp171", "cp191", "cp201"} <= about
    upstream = [e for e in snapshot.events if e.source == "mw152"]
    assert upstream[0].title == "nginx upstream errors on app servers" and upstream[0].priority == 3
    assert "graylog161" not in about  # the Graylog node is the event's `source` field, not what it is about
    times = [e.timestamp for e in snapshot.events]
    assert times == sorted(times, reverse=True)


async def test_sim_events_merge_into_icinga_rows(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    config = parse_config(farm.config_yaml(), "<sim>")
    store = await refresh(config)
    alerts = merged_alerts(store, config.farm.domains)
    by_host = {}
    for alert in alerts:
        by_host.setdefault(alert.host, []).append(alert)
    # mw152: the nginx upstream event (high → CRITICAL) joins its first unhandled CRITICAL problem
    mw152 = [a for a in by_host["mw152"] if a.origin == BOTH]
    assert len(mw152) == 1 and mw152[0].state == CheckState.CRITICAL and mw152[0].events[0].source == "mw152"
    assert not [a for a in alerts if a.origin == GRAYLOG and a.host == "mw152"]
    view = alerts_view(store, config, farm.model.now())
    assert any("icinga+graylog" in [getattr(c, "plain", c) for c in row.cells] for row in view.rows)
    # a failing Graylog leaves the Icinga rows and says so in the pane's note
    farm.set_fault("graylog", "http500")
    try:
        store = await refresh(config)
    finally:
        farm.set_fault("graylog", None)
    view = alerts_view(store, config, farm.model.now())
    assert view.rows and "graylog" in view.note.plain


async def test_failing_events_search_is_a_partial_error(sim_farm_factory, monkeypatch):
    farm = sim_farm_factory("php-fpm-down")
    config = parse_config(farm.config_yaml(), "<sim>")
    source = graylog_source(config)
    original = source._json

    async def events_broken(method, path, **kwargs):
        if path == "/api/events/search":  # the sim answers a 404 for an unknown route
            return await original("POST", "/api/events/nowhere", **kwargs)
        return await original(method, path, **kwargs)

    monkeypatch.setattr(source, "_json", events_broken)
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.ok and result.data.events == ()
    (problem,) = result.data.partial_errors
    assert problem.startswith("events: ") and "404" in problem


# --- several clusters ------------------------------------------------------------------------------


async def test_two_clusters_in_one_config(sim_farm_factory):
    first = sim_farm_factory("php-fpm-down", seed=1)
    second = sim_farm_factory(cluster_scenario("php-fpm-down", 2), seed=2)
    config = parse_config(clustered_config_yaml([first, second]), "<clusters>")
    assert [s.name for s in config.sources.proxmox] == ["pve", "pve2"]
    assert [s.name for s in config.sources.icinga] == ["icinga", "icinga2"]
    second.set_fault("proxmox", "down")
    try:
        store = await refresh(config)
    finally:
        second.set_fault("proxmox", None)
    health = {item.name: item.ok for item in status_items(store, first.model.now())}
    assert (health["pve"], health["pve2"], health["icinga"], health["icinga2"]) == (True, False, True, True)
    store = await refresh(config)
    now = first.model.now()
    hosts = hosts_view(store, config, now)
    assert [c.key for c in hosts.columns][:2] == ["host", "cluster"]
    keys = {row.key for row in hosts.rows}
    assert {"guest:mw152@pve", "guest:mw152@pve2"} <= keys and len(keys) == len(hosts.rows)
    alerts = alerts_view(store, config, now)
    cluster_at = [c.key for c in alerts.columns].index("cluster")
    clusters = {getattr(row.cells[cluster_at], "plain", row.cells[cluster_at]) for row in alerts.rows}
    assert {"icinga", "icinga2"} <= clusters
    assert "db171!Disk Space@icinga2" in {row.key for row in alerts.rows}  # the second cluster's own incident


def test_sim_cli_serves_two_clusters(tmp_path):
    config_path, err_path = tmp_path / "farm.yaml", tmp_path / "stderr"
    with config_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen([sys.executable, "-m", "console", "sim", "--clusters", "2",
                                    "--state-dir", str(tmp_path / "state")], stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "serving until interrupted" not in err_path.read_text():
            assert process.poll() is None, err_path.read_text()
            assert time.monotonic() < deadline, "the sim did not start within 60 s"
            time.sleep(0.1)
        config = yaml.safe_load(config_path.read_text())
        assert [s["name"] for s in config["sources"]["proxmox"]] == ["pve", "pve2"]
        assert [s["name"] for s in config["sources"]["icinga"]] == ["icinga", "icinga2"]
        checked = subprocess.run([sys.executable, "-m", "console", "check-config", str(config_path)],
                                 capture_output=True, text=True)
        assert (checked.returncode, checked.stdout.strip()) == (0, "ok"), checked.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
