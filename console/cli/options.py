"""What every command shares: the global options (--config, --theme, --write, accepted before or after a
subcommand), reading the config or exiting with its errors, the refusal helper, the exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import click

from console.core.config_file import ConfigDocument, ConfigError, find_config_path, read_document
from console.core.display import safe

if TYPE_CHECKING:
    from console.core.config import AppConfig

# 0 the command (or action) succeeded, 1 it ran but failed (partly or wholly), 2 it was refused or
# its arguments or config are broken: nothing was sent.
EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.meta.setdefault("opsconsole.globals", {})[param.name] = value
    return value


def _remember_flag(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        ctx.meta.setdefault("opsconsole.globals", {})[param.name] = True
    return value


def global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Accept the global options at this level too; the value given last wins."""
    command = click.option(
        "--write", is_flag=True, expose_value=False, callback=_remember_flag,
        help="Make this session read-write (recorded in the audit log); without it every action is refused.",
    )(command)  # fmt: skip
    command = click.option(
        "--theme", metavar="NAME", expose_value=False, callback=_remember, help="Textual theme to start with."
    )(command)
    command = click.option(
        "--config",
        "config",
        metavar="PATH",
        expose_value=False,
        callback=_remember,
        help="Config file (else $OPSCONSOLE_CONFIG, ~/.config/opsconsole/config.yaml, /etc/opsconsole/config.yaml).",
    )(command)
    return command


def global_value(ctx: click.Context, name: str) -> Any:
    return ctx.meta.get("opsconsole.globals", {}).get(name)


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print text for a human: display-safe (console.core.display) — names, errors and output from the
    farm never reach the terminal as control bytes. JSON goes out through click.echo as it is (escaped)."""
    click.echo(safe(text, multiline=True), err=err, nl=nl)


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    say(message, err=True)
    sys.exit(code)


def read_or_exit(path: str | Path | None) -> ConfigDocument:
    """The config file found and parsed as YAML (not validated yet: see load_or_exit)."""
    resolved = find_config_path(path)
    if resolved is None:
        fail(
            "opsconsole: no config found (looked at --config, $OPSCONSOLE_CONFIG, "
            "~/.config/opsconsole/config.yaml, /etc/opsconsole/config.yaml).\n"
            "Try the simulated farm: opsconsole demo"
        )
    try:  # the path named on the command line may be a pipe: --config <(sops -d farm.yaml)
        return read_document(resolved, allow_pipe=bool(path))
    except ConfigError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def load_or_exit(path: str | Path | None) -> AppConfig:
    """The config file found, parsed and validated; every problem printed (exit 2) otherwise."""
    document = read_or_exit(path)
    from console.core.config import validate_document

    try:
        return validate_document(document)
    except ConfigError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def action_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--reason --task --dry-run --json --yes --confirm, and the global options: every action command's."""
    options = [
        click.option("--reason", metavar="TEXT", help="Why (required to run): logged as '<reason> - user@host - T123'."),
        click.option("--task", metavar="T123", help="Phabricator task of the work, added to the reason."),
        click.option("--dry-run", is_flag=True, help="Print the plan (every request) and exit 0; nothing is sent."),
        click.option("--json", "as_json", is_flag=True, help="Machine output: the plan and the result as JSON."),
        click.option("--yes", is_flag=True, help="Answer the confirmation of tiers 1-2 (tier 3 also needs --confirm)."),
        click.option("--confirm", metavar="TARGET", help="Tier 3: the target's name, as you would type it."),
    ]
    for option in reversed(options):
        command = option(command)
    return global_options(command)


def refuse(message: str, as_json: bool) -> NoReturn:
    """Exit 2 with `opsconsole: refused: ...` (and the same as JSON on stdout with --json)."""
    text = message if message.startswith("refused: ") else f"refused: {message}"
    if as_json:
        click.echo(json.dumps({"outcome": "refused", "message": text}))
    say(f"opsconsole: {text}", err=True)
    sys.exit(EXIT_REFUSED)
