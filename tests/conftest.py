"""Session-wide test setup: real servers start in the background as soon as a test that needs
them is collected, and tests marked `real` run last so the slow starts overlap the fast tests."""

from __future__ import annotations

import os
import ssl
import tempfile
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import settings

from console.core.clock import fixed_clock
from console.sim import SimFarm
from tests.harness.realservers import RealServers

_servers: RealServers | None = None

# configs without actions.locks lock in the shared default directory: give the test session (and the
# console processes it starts) a directory of its own, so a test killed mid-action leaves no stale lock behind
os.environ.setdefault("OPSCONSOLE_LOCK_DIR", tempfile.mkdtemp(prefix="opsconsole-test-locks-"))

# loopback servers make timings noisy: no per-example deadline (HYPOTHESIS_PROFILE=default restores it).
# `ci` (chosen when the CI environment variable is set) runs 1,000 examples per property, `dev` (the
# local default) 100; a test that sets its own max_examples keeps it.
settings.register_profile("ci", deadline=None, max_examples=1000)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.hookimpl(trylast=True)  # after `-m "not real"` has deselected: the fast loop starts no server
def pytest_collection_modifyitems(session, config, items):
    global _servers
    real = [item for item in items if item.get_closest_marker("real")]
    if real and _servers is None:
        _servers = RealServers()
        _servers.start_in_background()
    items[:] = [item for item in items if not item.get_closest_marker("real")] + real


def pytest_sessionfinish(session, exitstatus):
    if _servers is not None:
        _servers.stop()


@pytest.fixture(scope="session")
def real_servers() -> RealServers:
    assert _servers is not None, "the real servers start only when a test marked `real` is collected"
    return _servers


@pytest.fixture(scope="session")
def real_puppetdb(real_servers):
    """A running PuppetDB 7 + PostgreSQL (fails, never skips, when it cannot start)."""
    return real_servers.ready("puppetdb")


@pytest.fixture(scope="session")
def real_icinga(real_servers):
    """A running Icinga2 API with its own CA (fails, never skips, when it cannot start)."""
    return real_servers.ready("icinga")


# --- the simulated farm (console.sim): tests/integration, and tests/real's conformance tests ---

SIM_NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)  # just after the newest recorded commit


@pytest.fixture(scope="session")
def sim_farm_factory(tmp_path_factory):
    """make(scenario="php-fpm-down", seed=1, clock=fixed SIM_NOW, ports=None, start=True) -> SimFarm.

    Every farm made is stopped at the end of the session; stop one earlier if the test wants.
    """
    farms: list[SimFarm] = []

    def make(scenario: str = "php-fpm-down", seed: int = 1, clock=None, ports=None, start: bool = True) -> SimFarm:
        farm = SimFarm(tmp_path_factory.mktemp("simfarm") / "state", scenario=scenario, seed=seed,
                       clock=clock or fixed_clock(SIM_NOW), ports=ports)
        farms.append(farm)
        return farm.start() if start else farm

    yield make
    for farm in farms:
        farm.stop()


@pytest.fixture(scope="session")
def sim_client_factory():
    """client(farm, timeout=5) -> httpx.Client verifying TLS with the farm's CA (closed at session end)."""
    clients: list[httpx.Client] = []

    def make(farm: SimFarm, timeout: float = 5.0) -> httpx.Client:
        client = httpx.Client(verify=ssl.create_default_context(cafile=str(farm.ca_path)), timeout=timeout)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def real_redis(real_servers):
    """A running redis-server on loopback (fails, never skips, when it cannot start)."""
    return real_servers.ready("redis")


@pytest.fixture(scope="session")
def real_sshd(real_servers):
    """OpenSSH's sshd on 127.0.0.1:2222 with its own host key and a client key (fails, never skips)."""
    return real_servers.ready("sshd")


@pytest.fixture(scope="session")
def real_salt(real_servers):
    """salt-master + minion mw151 + salt-api from .venv-salt (fails, never skips)."""
    return real_servers.ready("salt")


@pytest.fixture(scope="session")
def real_memcached(real_servers):
    """A running memcached on loopback (fails, never skips, when it cannot start)."""
    return real_servers.ready("memcached")


@pytest.fixture(scope="session")
def real_gdnsd(real_servers):
    """A running gdnsd, authoritative for wikitide.net (fails, never skips, when it cannot start)."""
    return real_servers.ready("gdnsd")


@pytest.fixture(scope="session")
def real_varnish(real_servers):
    """Three real varnishd (two allow PURGE/BAN from 127.0.0.1, one refuses) in front of one backend."""
    return real_servers.ready("varnish")
