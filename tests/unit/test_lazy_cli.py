"""`opsconsole` registers its subcommands lazily (console/lazy_group.py): the console starts without
the action engine, and every subcommand still resolves, lists in --help and completes."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from console.cli import LAZY_COMMANDS, main


def _fresh(code: str) -> object:
    """Run `code` in a fresh interpreter (this one has imported everything already); its last line is JSON."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_subcommand_module_nor_the_engine() -> None:
    loaded = _fresh("import sys, json, console.cli; print(json.dumps(sorted(sys.modules)))")
    heavy = [m for m in loaded if m in set(LAZY_COMMANDS.values()) or m.startswith(("console.actions", "console.sources"))]
    assert heavy == []


def test_each_lazy_command_is_registered_by_its_module_alone() -> None:
    for module in set(LAZY_COMMANDS.values()):
        registered = _fresh(f"import json, console.cli, {module}; print(json.dumps(sorted(console.cli.main.commands)))")
        expected = sorted(name for name, owner in LAZY_COMMANDS.items() if owner == module)
        assert [name for name in expected if name not in registered] == [], module


def test_every_registered_command_is_in_the_map() -> None:
    code = ("import json, console.cli\n"
            "before = set(console.cli.main.commands)\n"
            "console.cli.main.load_all()\n"
            "print(json.dumps(sorted(set(console.cli.main.commands) - before)))")
    assert sorted(_fresh(code)) == sorted(LAZY_COMMANDS)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1].split()
    assert [name for name in [*LAZY_COMMANDS, "status", "sim", "demo", "check-config"] if name not in listed] == []


def test_a_lazy_subcommand_resolves_and_an_unknown_one_is_refused() -> None:
    assert CliRunner().invoke(main, ["incident", "--help"]).exit_code == 0
    unknown = CliRunner().invoke(main, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output


def test_shell_completion_offers_lazy_commands() -> None:
    from click.shell_completion import ShellComplete

    offered = [item.value for item in ShellComplete(main, {}, "opsconsole", "_OPSCONSOLE_COMPLETE")
               .get_completions([], "pu")]
    assert sorted(offered) == ["puppet", "purge"]
