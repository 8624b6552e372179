"""Session-wide test setup: real servers start in the background as soon as a test that needs
them is collected, and tests marked `real` run last so the slow starts overlap the fast tests."""

from __future__ import annotations

import pytest

from tests.harness.realservers import RealServers

_servers: RealServers | None = None


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
