"""What the operator types on the command line is checked before anything is written or sent: a
purge URL (length, control and invisible characters, bytes that are not UTF-8, international host
names), a reason or a comment (no control character: ESC, IRC formatting codes, C1, bidi). A refusal
exits 2 and names the problem; the audit file and the caches see nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.cli_helpers import invoke

pytestmark = pytest.mark.sim

MAIN_PAGE = "https://meta.miraheze.org/wiki/Main_Page"


def sent(farm) -> list:
    return [request for state in farm.model.caches.values() for request in state.requests]


def audit_events(farm) -> list[str]:
    path = farm.state_dir / "audit.jsonl"
    return [json.loads(line)["event"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize(("url", "says"), [
    ("https://meta.miraheze.org/wiki/\u202eMain_Page", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("https://meta.miraheze.org/wiki/A\x9bB", "U+009B"),
    ("https://meta.miraheze.org/wiki/A\u200bB", "invisible"),
    ("https://meta.miraheze.org/wiki/A\x1b]52;c;UFdO\x07", "U+001B ESC"),
    ("https://meta.miraheze.org/wiki/" + "A" * 5000, "at most 4096 characters"),
])
def test_a_hostile_purge_url_is_refused_before_anything_is_written(farm_config, url, says):
    farm, config = farm_config
    result = invoke(config, "--write", "purge", url, "--reason", "vandalism", "--yes")
    assert result.exit_code == 2, result.output
    assert "refused" in result.stderr and says in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr  # the refusal itself is display-safe
    assert sent(farm) == [] and audit_events(farm) == []


def test_an_international_host_is_purged_by_its_ascii_name(farm_config):
    farm, config = farm_config
    result = invoke(config, "purge", "https://bücher.miraheze.org/wiki/Äpfel", "--reason", "cache", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["plan"]["steps"]
    assert {s["request"]["headers"]["Host"] for s in steps} == {"xn--bcher-kva.miraheze.org"}


@pytest.mark.parametrize(("reason", "says"), [
    ("vandalism \x1b[31mred", "U+001B ESC"),
    ("\x02bold\x02 on IRC", "U+0002 IRC bold"),
    ("\x0304colour", "U+0003 IRC colour"),
    ("spoof \u202eevil", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("c1 \x85 next line", "U+0085"),
])
def test_a_reason_with_control_characters_is_refused_naming_them(farm_config, reason, says):
    farm, config = farm_config
    result = invoke(config, "--write", "purge", MAIN_PAGE, "--reason", reason, "--yes")
    assert result.exit_code == 2, result.output
    assert "control characters" in result.stderr and says in result.stderr
    assert sent(farm) == [] and audit_events(farm) == []


def test_an_argument_that_is_not_utf8_is_refused_without_a_traceback(farm_config):
    farm, config = farm_config
    done = subprocess.run([sys.executable, "-m", "console", "--config", str(config), "--write", "purge", MAIN_PAGE,
                           "--reason", b"caf\xe9".decode("utf-8", "surrogateescape"), "--yes"],
                          capture_output=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert b"argument 7 is not valid UTF-8" in done.stderr and b"Traceback" not in done.stderr
    assert sent(farm) == [] and audit_events(farm) == []
