"""The `hostile` scenario (console/sim/hostile.py): escape sequences, C1 and bidi controls, markup and
very long lines in every field the farm serves, in lock files and in another operator's audit file.
Nothing of it reaches a terminal raw — not the console's (run on a pseudo-terminal, its screens
visited with the keys an operator presses), not any command's output."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from console.cli.main import main
from console.sim import SimFarm
from console.sim.hostile import CONTROL_CHARS, leaks, raw_sequences
from console.sim.hostile_scenario import BACKEND, HOSTILE_HOST, HOSTILE_SERVICE
from tests.harness.pty_run import run_on_a_pty

pytestmark = pytest.mark.sim

URL = "https://meta.miraheze.org/wiki/Main_Page"
RAW = tuple(c for c in CONTROL_CHARS if c not in "\x07\u200d")  # BEL: the terminal's own bell; ZWJ: prose keeps it


def nothing_raw(text: str) -> list[str]:
    return raw_sequences(text) + leaks(text) + [f"U+{ord(c):04X}" for c in RAW if c in text]


@pytest.fixture(scope="module")
def hostile_farm(tmp_path_factory):
    farm = SimFarm(tmp_path_factory.mktemp("hostile") / "farm", scenario="hostile", seed=1)
    farm.start()
    path = farm.state_dir / "farm.yaml"
    path.write_text(farm.config_yaml())
    try:
        yield farm, path
    finally:
        farm.stop()


def test_the_console_on_the_hostile_farm_writes_no_sequence_of_the_farm_to_the_terminal(tmp_path):
    step = 1.2  # seconds between steps: time for each screen to load its data; a step's keys one by one
    keys = [b"2", b"j", b"\r", b"\x1b", b"L", b"\x1b", b"1", b"G", b"\r", b"\x1b", b"3", b"4",
            b":leftovers\r", b"\x1b", b":backends\r", b"\x1b", b":logs\r", b"\x1b", b"?", b"\x1b",
            b"/pwn\r", b"q"]
    typed = [(6.0 + step * i + 0.15 * j, bytes([char])) for i, key in enumerate(keys) for j, char in enumerate(key)]
    code, output = run_on_a_pty([sys.executable, "-m", "console", "demo", "--scenario", "hostile"], timeout=120,
                                size=(160, 50), keys=typed,
                                env={"XDG_STATE_HOME": str(tmp_path)})
    assert code == 0, output[-3000:]
    assert "pwn-host-name" in output  # the hostile host was on screen
    assert "⟨U+001B⟩" in output  # as stand-ins
    assert nothing_raw(output) == []


def run(config, *args: str, write: bool = False) -> str:
    argv = ["--config", str(config), *(["--write"] if write else []), *args]
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.exit_code in (0, 1, 2), result.output
    return result.stdout + result.stderr


@pytest.mark.parametrize("args", [
    ("status",), ("status", "--json"), ("locks",), ("locks", "--json"), ("backends",), ("backends", "--json"),
    ("purge", URL, "--dry-run"), ("ban", "^/wiki/", "--host", "meta.miraheze.org", "--dry-run"),
    ("ack", f"{HOSTILE_HOST}!{HOSTILE_SERVICE}", "--reason", "looking", "--dry-run"),
    ("unack", HOSTILE_HOST, "--dry-run"), ("recheck", f"{HOSTILE_HOST}!{HOSTILE_SERVICE}", "--dry-run"),
    ("downtime", "add", HOSTILE_HOST, "--duration", "1h", "--dry-run"), ("downtime", "remove", HOSTILE_HOST, "--dry-run"),
    ("restart", "php-fpm", HOSTILE_HOST, "--dry-run"), ("depool", BACKEND, "--dry-run"), ("repool", BACKEND, "--dry-run"),
    ("guest", "start", HOSTILE_HOST, "--dry-run"), ("puppet", "run", HOSTILE_HOST, "--dry-run"),
    ("locks", "break", "host:pwn-garbage", "--reason", "cleanup", "--yes"),
])
def test_no_command_prints_a_sequence_of_the_farm(hostile_farm, args):
    farm, config = hostile_farm
    assert nothing_raw(run(config, *args)) == []


def test_the_incident_commands_print_no_sequence_of_the_farm(hostile_farm, tmp_path):
    farm, config = hostile_farm
    outputs = [run(config, "incident", "start", "hostile farm \x1b]0;PWN-incident\x07 [bold]x[/]"),
               run(config, "incident", "note", "saw \x1b[31337m on mw152"),
               run(config, "incident", "show"),
               run(config, "incident", "export"),
               run(config, "incident", "end", "--yes")]
    assert [nothing_raw(out) for out in outputs] == [[]] * 5
