"""`opsconsole restart/depool/repool/backends` against the simulated farm: dry runs, refusals,
tiers, the run, the backend table and exit codes."""

from __future__ import annotations

import json

import pytest

from tests.integration.cli_helpers import invoke

pytestmark = pytest.mark.sim


@pytest.fixture
def farm_config(cli_farm):
    return cli_farm(lambda text: text.replace("settle: 1", "settle: 0"))


def test_restart_without_hosts_is_the_whole_glob_and_tier_3(farm_config):
    farm, config = farm_config
    result = invoke(config, "restart", "php-fpm", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["risk"]["tier"] == 3 and plan["confirm"] == "php-fpm"
    assert plan["targets"][:3] == ["mw151", "mw152", "mw153"] and len(plan["targets"]) == 18
    assert farm.model.depool_log == []


def test_restart_refusals(farm_config):
    farm, config = farm_config
    assert invoke(config, "restart", "mysql", "mw151", "--dry-run").exit_code == 2
    refused = invoke(config, "restart", "php-fpm", "mw151", "mw152", "--reason", "x", "--yes")
    assert refused.exit_code == 2 and "read-only" in refused.stderr
    assert invoke(config, "restart", "php-fpm", "mw151", "--downtime", "soon", "--dry-run").exit_code == 2


def test_restart_two_hosts_runs_and_repools(farm_config):
    farm, config = farm_config
    result = invoke(config, "--write", "restart", "php-fpm", "mw152", "mw153", "--batch", "1", "--downtime", "0",
                    "--reason", "php-fpm died", "--yes")
    assert result.exit_code == 0, result.output
    assert "batch 1/2: mw152" in result.stderr and "batch 2/2: mw153" in result.stderr
    assert [who for _, who, state in farm.model.depool_log if state == "sick"] == ["mw152"] * 4 + ["mw153"] * 4
    assert not any(farm.model.backend_admin.values())


def test_depool_backends_repool(farm_config):
    farm, config = farm_config
    result = invoke(config, "--write", "depool", "mw151", "--reason", "disk check", "--yes")
    assert result.exit_code == 0, result.output
    table = invoke(config, "backends", "--json")
    assert table.exit_code == 0, table.output
    data = json.loads(table.stdout)
    assert data["caches"] == farm.cache_names
    assert set(data["backends"]["mw151"].values()) == {"DEPOOLED"}
    assert set(data["backends"]["mw152"].values()) == {"sick"}  # php-fpm down: its probe fails
    text = invoke(config, "backends").stdout
    assert text.splitlines()[0].split() == ["backend", *farm.cache_names]
    result = invoke(config, "--write", "repool", "mw151", "--reason", "disk fine", "--yes")
    assert result.exit_code == 0, result.output
    assert not any(farm.model.backend_admin.values())


def test_backends_says_which_cache_did_not_answer(farm_config, sim_farm_factory):
    farm, config = farm_config
    text = config.read_text().replace(farm.depool_urls["cp171"], "http://127.0.0.1:9")
    config.write_text(text)
    result = invoke(config, "backends")
    assert result.exit_code == 1
    assert "cp171:" in result.stdout and "error" in result.stdout
