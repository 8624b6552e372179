"""`opsconsole status` over the simulated farm with a host Icinga reports DOWN (issue 26, item 1): the
JSON lists it as an alert (`kind: host`, `service: null`) with its check output, schema-valid; the
table shows it with its service problems folded under it."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from console.cli.status import load_schema

pytestmark = pytest.mark.sim

OUTPUT = "CRITICAL - Host Unreachable (10.0.0.52)"


def run_status(config_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", "status", *args, "--config", str(config_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def down_farm(sim_farm_factory, tmp_path):
    farm = sim_farm_factory(scenario="php-fpm-down")
    farm.model.set_host_state("mw152", "DOWN", OUTPUT)
    path = tmp_path / "farm.yaml"
    path.write_text(farm.config_yaml())
    yield farm, path
    farm.stop()


def test_status_json_lists_the_down_host_as_a_host_alert(down_farm):
    _, path = down_farm
    done = run_status(path, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, load_schema())
    hosts = [alert for alert in report["alerts"] if alert["kind"] == "host"]
    assert len(hosts) == 1
    (host,) = hosts
    assert {k: host[k] for k in ("host", "kind", "service", "state", "output", "acknowledged", "in_downtime")} == {
        "host": "mw152", "kind": "host", "service": None, "state": "DOWN", "output": OUTPUT,
        "acknowledged": False, "in_downtime": False}  # fmt: skip
    services = [a for a in report["alerts"] if a["kind"] == "service"]
    assert services and all(a["service"] for a in services)
    assert {a["service"] for a in services if a["host"] == "mw152"} >= {"PHP-FPM", "HTTPS"}  # listed for scripts


def test_status_table_shows_the_down_host_with_its_service_problems_folded(down_farm):
    _, path = down_farm
    done = run_status(path)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith("DOWN"))
    assert "mw152" in line and "service problems" in line and OUTPUT in line
    assert not [line for line in done.stdout.splitlines() if "mw152" in line and "PHP-FPM" in line]
