"""Fixtures of the UI tests: a simulated farm served on loopback, and the config pointing at it."""

from __future__ import annotations

import pytest
from ui_helpers import FIXED

from console.core.config import AppConfig, parse_config
from console.sim import SimFarm


@pytest.fixture
def farm(tmp_path):
    farm = SimFarm(tmp_path / "farm", scenario="php-fpm-down", seed=1, clock=FIXED)
    farm.start()
    try:
        yield farm
    finally:
        farm.stop()


@pytest.fixture
def config(farm) -> AppConfig:
    return parse_config(farm.config_yaml(), "<sim farm>")
