"""A click group whose subcommands live in modules imported only when one of theirs is invoked.

Those modules pull in the action engine and the clients; the console itself (no subcommand) needs
neither, so `opsconsole` starts without them. `--help` and shell completion list every command: they
import every module first (neither is on the start-up path). Nothing registers itself by being
imported: the map names each command's module and attribute.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import click


class LazyGroup(click.Group):
    """`lazy_commands` maps a command name to "module:attribute", the click command it loads; a function
    returning that map is called when a command is looked up or listed (not before)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy_commands or {}

    @property
    def lazy_commands(self) -> dict[str, str]:
        return dict(self._lazy() if callable(self._lazy) else self._lazy)

    def load(self, name: str) -> click.Command:
        module, _, attribute = self.lazy_commands[name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[name]} is not a click command")
        return command

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            return self.load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})
