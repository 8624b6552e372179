"""The `opsconsole` command: the click group and `check-config`. Every other command lives in the module
LAZY_COMMANDS names and is imported only when invoked (or listed by --help and completion), so the
console itself starts without the action engine and the clients behind the commands."""

from __future__ import annotations

import sys

import click

from console import __version__
from console.cli.lazy import LazyGroup
from console.cli.options import EXIT_REFUSED, fail, global_options, global_value, load_or_exit, read_or_exit
from console.cli.run import run_console

# command -> "module:attribute" of its click command; the action commands come from the specs
# (command_map); tests/unit/test_lazy_cli.py keeps the map complete
LAZY_COMMANDS = {
    "status": "console.cli.status:status",
    "demo": "console.cli.sim:demo",
    "sim": "console.cli.sim:sim",
    "backends": "console.cli.restart:backends",
    "locks": "console.cli.locks:locks",
    "incident": "console.cli.incident:incident",
}


def command_map() -> dict[str, str]:
    """Every command's "module:attribute": LAZY_COMMANDS and one per action spec (console.actions.specs,
    read when a command is looked up or listed, never on the console's start-up path)."""
    from console.actions import specs

    return {**LAZY_COMMANDS, **{name: f"console.cli.actions:{name}" for name in specs.commands()}}


@click.group(cls=LazyGroup, lazy_commands=command_map, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="opsconsole")
@global_options
@click.pass_context
def main(ctx: click.Context) -> None:
    """A keyboard-driven console for the ops team of a wiki farm.

    Without a subcommand, opens the console on the configured farm.
    """
    if ctx.invoked_subcommand is None:
        document = read_or_exit(global_value(ctx, "config"))
        run_console(document, global_value(ctx, "theme") or document.theme, bool(global_value(ctx, "write")))


@main.command("check-config")
@click.argument("path", required=False)
@global_options
@click.pass_context
def check_config(ctx: click.Context, path: str | None) -> None:
    """Validate a config file: print `ok` (exit 0) or every error as FILE:LINE: key.path: message (exit 2)."""
    load_or_exit(path or global_value(ctx, "config"))
    click.echo("ok")


def entry() -> None:
    """The `opsconsole` console script: `main`, with two things no command should meet raw. An argument
    that is not UTF-8 (the terminal sent bytes that are no text) is refused before anything runs
    (exit 2); an exception nothing handled becomes one line and a crash log (exit 1), never a traceback."""
    for number, argument in enumerate(sys.argv[1:], 1):
        if any(0xD800 <= ord(char) < 0xE000 for char in argument):
            fail(f"opsconsole: argument {number} is not valid UTF-8; type it again as text", EXIT_REFUSED)
    try:
        main()
    except Exception as error:  # noqa: BLE001 - the last resort: a log, one line, exit 1
        from console.core.crash import crash_line, write_crash_log

        try:
            path = write_crash_log(error)
        except OSError:
            path = None
        fail(crash_line(error, path), 1)
