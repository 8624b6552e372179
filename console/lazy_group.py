"""A click group whose subcommands live in modules imported only when one of theirs is invoked.

Those modules pull in the action engine and the clients; the console itself (no subcommand) needs
neither, so `opsconsole` starts without them. `--help` and shell completion list every command: they
import every module first (neither is on the start-up path).
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """`lazy_commands` maps a command name to the module that registers it on this group when it loads."""

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def load_all(self) -> None:
        for module in dict.fromkeys(self.lazy_commands.values()):
            importlib.import_module(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = self.lazy_commands.get(cmd_name)
            if module:
                importlib.import_module(module)
            else:  # not in the map: maybe a module registers it anyway, and click's "No such command" needs the full list
                self.load_all()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)
