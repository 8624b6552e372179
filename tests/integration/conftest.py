"""Fixtures for tests that talk to the simulated farm over loopback HTTPS (console.sim)."""

from __future__ import annotations

import ssl
from datetime import datetime, timezone

import httpx
import pytest

from console.clock import fixed_clock
from console.sim import SimFarm

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
