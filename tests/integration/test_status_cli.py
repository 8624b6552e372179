"""`opsconsole status` over the simulated farm, as a script or a bot would run it."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from console.cli.status import load_schema
from console.core.config import parse_config, secret_values

pytestmark = pytest.mark.sim


def run_status(config_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", "status", *args, "--config", str(config_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def farm_config(sim_farm_factory, tmp_path):
    farm = sim_farm_factory(scenario="php-fpm-down")
    path = tmp_path / "farm.yaml"
    path.write_text(farm.config_yaml())
    yield farm, path
    farm.stop()


def test_status_json_validates_and_shows_the_incident(farm_config):
    farm, path = farm_config
    done = run_status(path, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, load_schema())
    assert all(source["ok"] for source in report["sources"].values())
    assert set(report["sources"]) >= {"pve", "puppetdb", "icinga", "graylog"}
    names = {host["name"] for host in report["hosts"]}
    assert {"cloud15", "mw151", "mw152", "db171", "cp161"} <= names
    php = [a for a in report["alerts"] if (a["host"], a["service"]) == ("mw152", "PHP-FPM")]
    assert php and php[0]["state"] == "CRITICAL"
    php_fpm = next(s for s in report["services"] if s["name"] == "php-fpm")
    assert {"host": "mw152", "state": "CRITICAL"} in php_fpm["problems"]
    assert report["commits"] and report["commits"][0]["date"] >= report["commits"][-1]["date"]
    config = parse_config(path.read_text())
    for secret in secret_values(config):
        assert secret not in done.stdout and secret not in done.stderr


def test_a_failed_source_exits_1_and_is_the_only_one_marked(farm_config):
    farm, path = farm_config
    farm.set_fault("icinga", "down")
    done = run_status(path, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    jsonschema.validate(report, load_schema())
    failed = {name for name, source in report["sources"].items() if not source["ok"]}
    assert failed == {"icinga"}
    assert report["sources"]["icinga"]["error"]
    assert report["alerts"] == []


def test_a_hanging_source_is_bounded_by_its_timeout(farm_config, tmp_path):
    farm, path = farm_config
    farm.set_fault("graylog", "hang")
    short = tmp_path / "short.yaml"
    short.write_text(path.read_text().replace("name: graylog\n", "name: graylog\n    timeout: 1\n", 1))
    done = run_status(short, "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert report["sources"]["graylog"]["error"] == "timed out after 1s"
    assert report["sources"]["graylog"]["latency_ms"] < 3000


def test_status_table_for_humans(farm_config):
    farm, path = farm_config
    done = run_status(path)
    assert done.returncode == 0, done.stderr
    assert "CRITICAL mw152" in done.stdout
    assert "SOURCE" in done.stdout and "icinga" in done.stdout


def short_timeouts(path, tmp_path, seconds: float = 1.0):
    """The farm's config with every source's timeout set to `seconds`."""
    import yaml

    document = yaml.safe_load(path.read_text())
    for items in document["sources"].values():
        for item in items:
            item["timeout"] = seconds
    for service in document.get("services", []):  # the service probes too (Graylog's lbstatus is slow with it)
        for probe in service.get("probes", []):
            probe["timeout"] = seconds
    short = tmp_path / "short-timeouts.yaml"
    short.write_text(yaml.safe_dump(document, sort_keys=False))
    return short


@pytest.mark.parametrize(
    "api, fault, failed, error",
    [
        ("github", "unauthorized", {"mw-config", "puppet", "dns"}, "authentication failed (HTTP 401)"),
        ("proxmox", "tls-mismatch", {"pve"}, "TLS error talking to 127.0.0.1:"),
        ("puppetdb", "wrong-shape", {"puppetdb"}, "malformed answer: "),
        ("graylog", "slow:5000", {"graylog"}, "timed out after 1s"),
    ],
)
def test_status_json_marks_exactly_the_faulted_sources_within_the_timeouts(
    farm_config, tmp_path, api, fault, failed, error
):
    import time

    farm, path = farm_config
    farm.set_fault(api, fault)
    started = time.monotonic()
    done = run_status(short_timeouts(path, tmp_path), "--json")
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, load_schema())
    assert {name for name, source in report["sources"].items() if not source["ok"]} == failed
    for name in failed:
        assert report["sources"][name]["error"].startswith(error), report["sources"][name]["error"]
    assert elapsed < 15  # interpreter start-up + one refresh bounded by the 1 s timeouts
    assert max(source["latency_ms"] for source in report["sources"].values()) < 2500
