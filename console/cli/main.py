"""The `opsconsole` command: the click group and `check-config`. Every other command lives in the module
LAZY_COMMANDS names and is imported only when invoked (or listed by --help and completion), so the
console itself starts without the action engine and the clients behind the commands."""

from __future__ import annotations

import click

from console import __version__
from console.cli.lazy import LazyGroup
from console.cli.options import global_options, global_value, load_or_exit, read_or_exit
from console.cli.run import run_console

# command -> "module:attribute" of its click command; tests/unit/test_lazy_cli.py keeps the map complete
LAZY_COMMANDS = {
    "status": "console.cli.status:status",
    "demo": "console.cli.sim:demo",
    "sim": "console.cli.sim:sim",
    **{name: f"console.cli.actions:{name}" for name in ("purge", "ban", "ack", "unack", "downtime", "recheck")},
    **{name: f"console.cli.restart:{name}" for name in ("restart", "depool", "repool", "backends")},
    **{name: f"console.cli.power:{name}" for name in ("guest", "puppet")},
    "locks": "console.cli.locks:locks",
    "incident": "console.cli.incident:incident",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS, invoke_without_command=True,
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
