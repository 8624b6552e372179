"""Fixtures of the integration tests that drive the CLI against the simulated farm."""

from __future__ import annotations

from typing import Callable

import pytest


@pytest.fixture
def cli_farm(sim_farm_factory, tmp_path, monkeypatch):
    """make(edit=None) -> (farm, path of its config): HOME is a temp dir, the operator is alice, the
    audit file is in the farm's state dir; `edit` may change the config text first."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SUDO_USER", "alice")

    def make(edit: Callable[[str], str] | None = None):
        farm = sim_farm_factory()
        path = tmp_path / "farm.yaml"
        text = farm.config_yaml()
        path.write_text(edit(text) if edit else text)
        return farm, path

    return make


@pytest.fixture
def farm_config(cli_farm):
    """(farm, path of its config), as written by the farm."""
    return cli_farm()
