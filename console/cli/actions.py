"""The action commands, one per ActionSpec (console.actions.specs): purge, ban, ack, unack, ack-downtime,
downtime add/remove, recheck, restart, depool, repool, guest start|shutdown|reboot|stop, puppet
run|disable|enable — made from the specs' parameters and run by console/cli/act.py through the same
engine, guard and audit as the console. `opsconsole locks break` keeps its own command
(console/cli/locks.py). Making them loads no engine: `opsconsole --help` stays light.

Exit codes: 0 the action succeeded (or a dry run printed its plan), 1 it ran but partly or wholly
failed, 2 it was refused before anything was sent (read-only, no reason, not confirmed, bad
arguments or config).
"""

from __future__ import annotations

from typing import Any, Callable

import click

from console.actions.specs import GROUPS, SPECS, ActionSpec, MakeContext, Param
from console.cli.options import action_options, global_options, global_value, load_or_exit, refuse

# --- the commands, from the specs ------------------------------------------------------------------

ACTION_OPTIONS = ("reason", "task", "dry_run", "as_json", "yes", "confirm")


def _click_param(param: Param) -> Callable[[Any], Any]:
    if param.option is None:
        return click.argument(param.name, nargs=-1 if param.many else 1, required=param.required,
                              metavar=param.metavar)
    kwargs: dict[str, Any] = {"help": param.help, "required": param.required}
    if param.flag:
        kwargs["default"] = bool(param.default)
        if "/" in param.option:
            kwargs["show_default"] = True
        else:
            kwargs["is_flag"] = True
    else:
        kwargs["metavar"] = param.metavar
        if param.int_range is not None:
            kwargs["type"] = click.IntRange(*param.int_range)
    return click.option(param.option, param.name, **kwargs)


def command_for(spec: ActionSpec) -> click.Command:
    """The click command of `spec`: its parameters, the action options, and a callback that makes the
    action from the values (reading the host inventory first when the spec needs it) and runs it."""

    def callback(**values: Any) -> None:
        ctx = click.get_current_context()
        options = {name: values.pop(name) for name in ACTION_OPTIONS}
        config = load_or_exit(global_value(ctx, "config"))
        directory: list[Any] = []

        def read_inventory() -> Any:
            if not directory:
                from console.cli.restart import inventory

                directory.append(inventory(config))
            return directory[0]

        from console.actions.guard import Refused
        from console.cli.act import run_action

        try:
            action = spec.make_action(values, MakeContext(config, read_inventory))
        except Refused as exc:  # a bad value, no inventory, a service not allow-listed
            refuse(str(exc), options["as_json"])
        run_action(ctx, lambda: action, cancel_on_interrupt=spec.cancellable, config=config, **options)

    function: Callable[..., Any] = action_options(callback)
    for param in reversed(spec.params):  # the spec's own first, as --help lists them
        function = _click_param(param)(function)
    assert spec.command is not None
    return click.command(spec.command[-1], help=spec.help)(function)


def commands(specs: tuple[ActionSpec, ...] | None = None) -> dict[str, click.Command]:
    """Every spec's command by its top-level name; a group for the specs that share one (downtime)."""
    found: dict[str, click.Command] = {}
    for spec in SPECS if specs is None else specs:
        if spec.command is None:
            continue
        command = command_for(spec)
        if len(spec.command) == 1:
            found[spec.command[0]] = command
            continue
        group = found.get(spec.command[0])
        if not isinstance(group, click.Group):
            group = click.Group(spec.command[0], help=GROUPS.get(spec.command[0]))
            global_options(group)  # the global options at this level too (click adds them to the group's params)
            found[spec.command[0]] = group
        group.add_command(command)
    return found


def __getattr__(name: str) -> click.Command:
    """`console.cli.actions:<command>` (console.cli.lazy): built from the specs when loaded."""
    from console.actions import specs

    found = commands(specs.SPECS).get(name)
    if found is None:
        raise AttributeError(f"module 'console.cli.actions' has no attribute {name!r}")
    return found
