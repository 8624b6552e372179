"""`opsconsole` registers its subcommands lazily (console/cli/lazy.py): the console starts without
the action engine, and every subcommand still resolves, lists in --help and completes."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from console.cli.main import command_map, main

LAZY_COMMANDS = command_map()  # every command, the action specs' included


def _fresh(code: str) -> object:
    """Run `code` in a fresh interpreter (this one has imported everything already); its last line is JSON."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_subcommand_module_nor_the_engine() -> None:
    loaded = _fresh("import sys, json, console.cli.main; print(json.dumps(sorted(sys.modules)))")
    modules = {target.partition(":")[0] for target in LAZY_COMMANDS.values()}
    heavy = [m for m in loaded if m in modules or m.startswith(("console.actions", "console.sources", "textual"))]
    assert heavy == []


def test_each_lazy_command_is_the_click_command_its_module_defines() -> None:
    names = json.dumps(sorted(LAZY_COMMANDS))
    code = ("import json, click, console.cli.main as m\n"
            f"print(json.dumps({{n: m.main.get_command(click.Context(m.main), n).name for n in {names}}}))")
    assert _fresh(code) == {name: name for name in LAZY_COMMANDS}


def test_importing_a_command_module_registers_nothing() -> None:
    modules = sorted({target.partition(":")[0] for target in LAZY_COMMANDS.values()})
    code = (f"import json, importlib, console.cli.main as m\nbefore = set(m.main.commands)\n"
            f"[importlib.import_module(n) for n in {modules!r}]\n"
            "print(json.dumps(sorted(set(m.main.commands) - before)))")
    assert _fresh(code) == []


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1].split()
    assert [name for name in [*LAZY_COMMANDS, "check-config"] if name not in listed] == []


def test_a_lazy_subcommand_resolves_and_an_unknown_one_is_refused() -> None:
    assert CliRunner().invoke(main, ["incident", "--help"]).exit_code == 0
    unknown = CliRunner().invoke(main, ["no-such-command"])
    assert unknown.exit_code == 2 and "No such command" in unknown.output


def test_shell_completion_offers_lazy_commands() -> None:
    from click.shell_completion import ShellComplete

    offered = [item.value for item in ShellComplete(main, {}, "opsconsole", "_OPSCONSOLE_COMPLETE")
               .get_completions([], "pu")]
    assert sorted(offered) == ["puppet", "purge"]


def test_help_is_built_from_the_specs_without_the_engine() -> None:
    code = ("import sys, json\nfrom click.testing import CliRunner\nimport console.cli.main as m\n"
            "out = CliRunner().invoke(m.main, ['--help']).output\n"
            "print(json.dumps({'out': out, 'modules': sorted(sys.modules)}))")
    seen = _fresh(code)
    assert "ack-downtime" in seen["out"] and "restart" in seen["out"]
    assert "console.actions.specs" in seen["modules"]  # the commands came from the spec list ...
    heavy = [m for m in seen["modules"] if m in ("console.actions.engine", "console.actions.catalog",
                                                 "console.actions.executors", "console.cli.act")]
    assert heavy == []  # ... and nothing that plans or runs them was loaded
