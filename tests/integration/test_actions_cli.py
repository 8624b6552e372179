"""`opsconsole purge/ban/ack/unack/downtime/recheck` against the simulated farm: dry runs, --json,
read-only refusals, confirmations and exit codes (0 ok, 1 partial/failed, 2 refused)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

import console.cli.act
from tests.integration.cli_helpers import invoke

pytestmark = pytest.mark.sim

MAIN_PAGE = "https://meta.miraheze.org/wiki/Main_Page"


def sent(farm) -> list:
    return [request for state in farm.model.caches.values() for request in state.requests]


def audit_events(farm) -> list[str]:
    path = farm.state_dir / "audit.jsonl"
    return [json.loads(line)["event"] for line in path.read_text().splitlines()] if path.exists() else []


def test_dry_run_prints_the_plan_and_sends_nothing(farm_config):
    farm, config = farm_config
    result = invoke(config, "purge", MAIN_PAGE, "--reason", "vandalism", "--task", "T12345", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "purge https://meta.miraheze.org/wiki/Main_Page from 4 caches" in result.stdout
    assert "tier 1" in result.stdout and "vandalism - alice@" in result.stdout
    assert result.stdout.count("PURGE http://127.0.0.1:") == 4
    assert sent(farm) == []
    assert audit_events(farm) == ["dry-run"]


def test_dry_run_json(farm_config):
    farm, config = farm_config
    result = invoke(config, "ban", "^/wiki/", "--host", "meta.miraheze.org", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dry_run"] is True
    assert data["plan"]["risk"]["tier"] == 3 and data["plan"]["confirm"] == "meta.miraheze.org"
    assert [s["request"]["method"] for s in data["plan"]["steps"]] == ["BAN"] * 4
    assert data["plan"]["reason"] is None  # a dry run may leave it out; running may not
    assert sent(farm) == []


def test_without_write_a_write_is_refused(farm_config):
    farm, config = farm_config
    result = invoke(config, "purge", MAIN_PAGE, "--reason", "vandalism", "--yes")
    assert result.exit_code == 2
    assert "read-only" in result.stderr and "--write" in result.stderr
    assert sent(farm) == [] and audit_events(farm) == []


def test_without_a_terminal_and_without_yes_it_is_refused(farm_config):
    farm, config = farm_config
    result = invoke(config, "--write", "purge", MAIN_PAGE, "--reason", "vandalism")
    assert result.exit_code == 2
    assert "no terminal to confirm on" in result.stderr
    assert sent(farm) == []


def test_without_a_reason_it_is_refused(farm_config):
    farm, config = farm_config
    result = invoke(config, "purge", MAIN_PAGE, "--write", "--yes")
    assert result.exit_code == 2 and "a reason is required" in result.stderr
    assert sent(farm) == []


def test_write_and_yes_run_it(farm_config):
    farm, config = farm_config
    result = invoke(config, "purge", MAIN_PAGE, "--reason", "vandalism cleanup", "--task", "T12345", "--write", "--yes")
    assert result.exit_code == 0, result.output
    assert "SUCCESS" in result.stdout and result.stdout.count("verify: 200 MISS age 0") == 4
    assert audit_events(farm) == ["write-enabled", "intent", "result"]
    audit = farm.state_dir / "audit.jsonl"
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert records[1]["user"] == "alice" and records[1]["reason"].startswith("vandalism cleanup - alice@")
    assert records[1]["confirmed_via"] == "--yes" and records[2]["outcome"] == "success"
    assert farm.model.sal_log[-1].startswith("!log [alice@")
    assert farm.model.sal_log[-1].endswith("] purged https://meta.miraheze.org/wiki/Main_Page from 4 caches "
                                           "(4 verified) - vandalism cleanup - T12345")


def test_json_result_and_partial_exit_code(farm_config):
    farm, config = farm_config
    farm.set_cache_refusing("cp201")
    result = invoke(config, "--write", "purge", MAIN_PAGE, "--reason", "vandalism", "--yes", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["result"]["outcome"] == "partial"
    statuses = {s["target"]: s["status"] for s in data["result"]["steps"]}
    assert statuses == {"cp161": "ok", "cp171": "ok", "cp191": "ok", "cp201": "refused"}


def test_interactive_confirmation(farm_config, monkeypatch):
    farm, config = farm_config
    monkeypatch.setattr(console.cli.act, "stdin_is_terminal", lambda: True)
    no = invoke(config, "--write", "purge", MAIN_PAGE, "--reason", "vandalism", input="\n")  # No is the default
    assert no.exit_code == 2 and "not confirmed" in no.stderr
    assert "[y/N]" in no.stderr and "PURGE http://" in no.stderr  # the plan is shown before the question
    assert sent(farm) == []
    yes = invoke(config, "--write", "purge", MAIN_PAGE, "--reason", "vandalism", input="y\n")
    assert yes.exit_code == 0, yes.output
    two = invoke(config, "--write", "purge", MAIN_PAGE, "https://meta.miraheze.org/", "--reason", "x", input="y\n")
    assert two.exit_code == 2 and "type 'go'" in two.stderr.lower()
    two = invoke(config, "--write", "purge", MAIN_PAGE, "https://meta.miraheze.org/", "--reason", "x", input="go\n")
    assert two.exit_code == 0, two.output


def test_tier_3_needs_the_targets_name(farm_config, monkeypatch):
    farm, config = farm_config
    args = ["ban", "^/wiki/", "--host", "meta.miraheze.org", "--reason", "bad deploy", "--write"]
    only_yes = invoke(config, *args, "--yes")
    assert only_yes.exit_code == 2 and "--confirm meta.miraheze.org" in only_yes.stderr
    wrong = invoke(config, *args, "--yes", "--confirm", "login.miraheze.org")
    assert wrong.exit_code == 2 and "does not match" in wrong.stderr
    assert sent(farm) == []
    monkeypatch.setattr(console.cli.act, "stdin_is_terminal", lambda: True)
    typed_go = invoke(config, *args, input="go\n")
    assert typed_go.exit_code == 2 and sent(farm) == []
    right = invoke(config, *args, "--yes", "--confirm", "meta.miraheze.org")
    assert right.exit_code == 0, right.output
    assert {m for m, _, _ in sent(farm)} == {"BAN"}


def test_icinga_commands(farm_config):
    farm, config = farm_config
    w = ["--write", "--yes", "--json"]
    ack = invoke(config, "ack", "mw152!PHP-FPM", "--reason", "OOM", "--sticky", "--expire", "2h", *w)
    assert ack.exit_code == 0, ack.output
    assert json.loads(ack.stdout)["result"]["steps"][0]["status"] == "ok"
    assert farm.model.slot("mw152", "PHP-FPM").ack.sticky
    assert invoke(config, "unack", "mw152!PHP-FPM", "--reason", "wrong one", *w).exit_code == 0
    assert farm.model.slot("mw152", "PHP-FPM").ack is None
    add = invoke(config, "downtime", "add", "mw152", "--duration", "2h", "--all-services", "--reason", "reboot", *w)
    assert add.exit_code == 0, add.output
    assert json.loads(add.stdout)["plan"]["risk"]["tier"] == 2
    assert farm.model.slot("mw152", "PHP-FPM").downtime is not None
    assert invoke(config, "downtime", "remove", "mw152", "--reason", "done", *w).exit_code == 0
    assert farm.model.slot("mw152").downtime is None
    assert invoke(config, "recheck", "mw152!PHP-FPM", "--reason", "after fix", *w).exit_code == 0
    failed = invoke(config, "recheck", "mw999", "--reason", "typo", *w)
    assert failed.exit_code == 1 and json.loads(failed.stdout)["result"]["outcome"] == "failed"


@pytest.mark.parametrize("args, message", [
    (["downtime", "add", "mw152", "--duration", "soon", "--reason", "x"], "is not a duration"),
    (["ack", "mw152!", "--reason", "x"], "is not HOST or HOST!SERVICE"),
    (["purge", "ftp://x/", "--reason", "x"], "is not an http(s) URL"),
    (["ban", "(", "--host", "meta.miraheze.org", "--reason", "x"], "not a valid regex"),
    (["downtime", "add", "mw152!SSH", "--duration", "1h", "--all-services", "--reason", "x"], "applies to a HOST"),
])  # fmt: skip
def test_bad_arguments_exit_2(farm_config, args, message):
    farm, config = farm_config
    result = invoke(config, "--write", *args, "--yes")
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert sent(farm) == []


def test_write_works_before_or_after_the_subcommand_in_a_real_process(farm_config):
    farm, config = farm_config
    for args in (["--write", "recheck", "mw152"], ["recheck", "mw152", "--write"], ["recheck", "--write", "mw152"]):
        done = subprocess.run([sys.executable, "-m", "console", "--config", str(config), *args, "--reason", "x", "--yes"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    refused = subprocess.run([sys.executable, "-m", "console", "--config", str(config), "recheck", "mw152", "--reason",
                              "x", "--yes"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "read-only" in refused.stderr


def test_no_actions_configured(tmp_path):
    config = tmp_path / "bare.yaml"
    config.write_text("farm: {name: x}\n")
    result = invoke(config, "--write", "purge", MAIN_PAGE, "--reason", "x", "--yes")
    assert result.exit_code == 2 and "no caches are configured (actions.caches)" in result.stderr
