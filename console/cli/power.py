"""`opsconsole guest start|shutdown|reboot|stop HOST` and `opsconsole puppet run|disable|enable HOST...`
— on the same engine, guard and audit as the console (console/actions/power.py, console/actions/puppet.py).
Same flags and exit codes as purge/ack (console/cli/actions.py)."""

from __future__ import annotations

from typing import Any

import click

from console.actions import NotConfigured, PuppetDisable, PuppetEnable, PuppetRun
from console.actions.guard import InvalidAction
from console.actions.power import guest_power_for
from console.cli.actions import run_action
from console.cli.options import action_options, global_options, global_value, load_or_exit, refuse
from console.cli.restart import inventory


@click.group()
@global_options
def guest() -> None:
    """Power a Proxmox guest: start (tier 1), shutdown and reboot (tier 2), stop (tier 3, --confirm HOST).

    The node and VM id come from the Proxmox inventory; the task is followed until it stops and its
    exit status and log are printed."""


def _guest_command(command: str, help_text: str) -> None:
    @guest.command(command, help=help_text)
    @click.argument("host")
    @action_options
    @click.pass_context
    def power(ctx: click.Context, host: str, **options: Any) -> None:
        config = load_or_exit(global_value(ctx, "config"))
        try:
            action = guest_power_for(inventory(config), host, command)
        except (InvalidAction, NotConfigured) as exc:
            refuse(str(exc), options.get("as_json", False))
        run_action(ctx, lambda: action, **options)


for _command, _help in (("start", "Start the guest HOST (tier 1)."),
                        ("shutdown", "ACPI shutdown of the guest HOST (tier 2)."),
                        ("reboot", "ACPI reboot of the guest HOST (tier 2)."),
                        ("stop", "Hard stop of the guest HOST, like pulling the plug (tier 3: --confirm HOST).")):
    _guest_command(_command, _help)


@click.group()
@global_options
def puppet() -> None:
    """Run, disable or enable the Puppet agent on HOSTs through the command executor (actions.puppet)."""


def _puppet_command(which: str, make: Any, help_text: str) -> None:
    @puppet.command(which, help=help_text)
    @click.argument("hosts", nargs=-1, required=True, metavar="HOST...")
    @action_options
    @click.pass_context
    def command(ctx: click.Context, hosts: tuple[str, ...], **options: Any) -> None:
        config = load_or_exit(global_value(ctx, "config"))
        try:
            directory = inventory(config)
        except (InvalidAction, NotConfigured) as exc:
            refuse(str(exc), options.get("as_json", False))
        run_action(ctx, lambda: make(hosts, directory), cancel_on_interrupt=True, **options)


_puppet_command("run", PuppetRun, "`puppet agent -tv` on each HOST; its output is streamed. Exit codes 0 (no "
                "changes) and 2 (changes) are success; 4 and 6 (failures) and 1 (disabled) are not.")
_puppet_command("disable", PuppetDisable, "`puppet agent --disable` with the reason (and who, and the task) as "
                "its message.")
_puppet_command("enable", PuppetEnable, "`puppet agent --enable`.")
