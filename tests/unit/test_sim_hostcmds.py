"""console.sim.hostcmds: what commands do to the simulated farm (no servers needed)."""

from __future__ import annotations

from datetime import datetime, timezone

from console.core.clock import fixed_clock
from console.sim.checks import evaluate
from console.sim.farm import Farm
from console.sim.hostcmds import run, run_line

NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)


def farm(scenario: str = "php-fpm-down") -> Farm:
    return Farm(scenario=scenario, seed=1, clock=fixed_clock(NOW))


def state(model: Farm, host: str, service: str) -> int:
    return evaluate(model, model.slot(host, service), model.now()).state


def test_restarting_php_fpm_recovers_the_broken_host_and_the_caches():
    model = farm()
    assert run_line(model, "mw152", "systemctl is-active php8.4-fpm") == (3, "failed", "")
    assert state(model, "mw152", "PHP-FPM") == 2 and state(model, "cp161", "Varnish Backends") == 2
    assert run_line(model, "mw152", "sudo systemctl restart php8.4-fpm") == (0, "", "")
    assert state(model, "mw152", "PHP-FPM") == 0 and state(model, "mw152", "MediaWiki Rendering") == 0
    assert state(model, "cp161", "Varnish Backends") == 0
    assert model.slot("mw152", "PHP-FPM").override.since == NOW
    assert run_line(model, "mw152", "systemctl is-active php8.4-fpm") == (0, "active", "")


def test_salt_service_restart_is_the_same_restart():
    model = farm()
    assert run(model, "mw152", "service.restart", ["php8.4-fpm"]) == (0, "True", "")
    assert state(model, "mw152", "PHP-FPM") == 0


def test_a_restart_on_a_healthy_host_changes_no_state():
    model = farm()
    assert run_line(model, "mw151", "sudo systemctl restart php8.4-fpm")[0] == 0
    assert model.slot("mw151", "PHP-FPM").override is None


def test_unknown_commands_units_and_functions():
    model = farm()
    assert run_line(model, "mw151", "rm -rf /")[0] == 127
    assert run_line(model, "db161", "systemctl restart php8.4-fpm")[0] == 5  # not an app server
    assert run(model, "mw151", "state.apply", [])[0] == 1
    assert run(model, "nohost", "cmd.run_all", ["true"])[0] == 255
