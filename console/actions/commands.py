"""The allow-list: the only commands the console ever runs on hosts, built from the config.

    command = service_command(config, "php-fpm", "mw152", directory)         # actions.services
    command = puppet_command(config, "disable", "mw152", directory, reason="T123 upgrading")
    command = check_command(config, "php-fpm", "mw152", directory)           # the service's check: command

Every function returns a `Command` (console/actions/plan.py) or raises `InvalidAction` /
`NotConfigured` saying why. Command lines come from the config as they are; the only thing an
operator types that ever reaches a command line is the Puppet `{reason}`, as ONE shell-quoted
argument. The address (SSH host or Salt minion id) is the executor's `target` template filled from the
host's identity (console/hosts.py), so a name no source knows is refused.
"""

from __future__ import annotations

import re
import shlex
from fnmatch import fnmatchcase

from console.actions.guard import InvalidAction, NotConfigured
from console.actions.plan import MAX_REASON, Command
from console.core.config import AppConfig, ServiceActionConfig
from console.core.config_file import template_fields
from console.core.hosts import SAFE_NAME, HostDirectory, HostIdentity, fill

PUPPET_COMMANDS = ("run", "disable", "enable")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def executor_target(config: AppConfig) -> str:
    """The `target` template of the configured executor ({fqdn} by default); NotConfigured without one."""
    actions = config.actions
    if actions.executor == "ssh":
        return actions.ssh.target
    if actions.executor == "salt" and actions.salt is not None:
        return actions.salt.target
    raise NotConfigured("refused: no command executor is configured (actions.executor: ssh or salt), so nothing can run on hosts")


def allowed_service(config: AppConfig, service: str) -> ServiceActionConfig:
    """The allow-listed service `service`; InvalidAction for any other name."""
    found = config.actions.services.get(service)
    if found is None:
        known = ", ".join(sorted(config.actions.services)) or "none is configured"
        raise InvalidAction(f"refused: service {service[:60]!r} is not in the allow-list (actions.services: {known})")
    return found


def service_hosts(config: AppConfig, service: str, directory: HostDirectory) -> list[str]:
    """The short names of every known host the service may run on (its `hosts` glob), sorted."""
    glob = allowed_service(config, service).hosts
    return sorted(name for name in directory.names() if fnmatchcase(name, glob))


def resolve_host(config: AppConfig, host_name: str, directory: HostDirectory) -> tuple[HostIdentity, str]:
    """(identity, address): the host as the sources know it and what the executor targets."""
    template = executor_target(config)
    if not isinstance(host_name, str) or not SAFE_NAME.fullmatch(host_name) or len(host_name) > 253:
        raise InvalidAction(f"refused: {str(host_name)[:60]!r} is not a plain host name")
    identity = directory.resolve(host_name)
    if not identity.known:
        raise InvalidAction(f"refused: unknown host {host_name!r}: no source knows it, so there is no address to run on")
    address, missing = fill(template, identity)
    if address is None:
        raise InvalidAction(f"refused: no {config.actions.executor} address for {identity.name} "
                            f"(target {template!r}): {missing}")
    return identity, address


def service_command(config: AppConfig, service: str, host_name: str, directory: HostDirectory) -> Command:
    """The restart of an allow-listed service on one host its `hosts` glob matches."""
    allowed = allowed_service(config, service)
    identity, address = resolve_host(config, host_name, directory)
    if not fnmatchcase(identity.name, allowed.hosts):
        raise InvalidAction(f"refused: {service} may only run on hosts matching {allowed.hosts!r}, not on {identity.name}")
    salt = allowed.salt if config.actions.executor == "salt" else None
    return Command(identity.name, address, allowed.restart, allowed.timeout,
                   salt_function=salt.function if salt else None, salt_args=tuple(salt.args) if salt else ())


def check_command(config: AppConfig, service: str, host_name: str, directory: HostDirectory) -> Command:
    """The service's health check command (`check: {command: ...}`) on one host, placeholders filled."""
    allowed = allowed_service(config, service)
    if allowed.check is None or allowed.check.command is None:
        raise NotConfigured(f"refused: service {service} has no check command (actions.services.{service}.check.command)")
    identity, address = resolve_host(config, host_name, directory)
    if not fnmatchcase(identity.name, allowed.hosts):
        raise InvalidAction(f"refused: {service} may only run on hosts matching {allowed.hosts!r}, not on {identity.name}")
    line, missing = fill(allowed.check.command, identity)
    if line is None:
        raise InvalidAction(f"refused: cannot fill the check command of {service} for {identity.name}: {missing}")
    return Command(identity.name, address, line, allowed.check.timeout)


def quote_reason(reason: str | None) -> str:
    """The reason as one shell argument; InvalidAction when it is empty, too long or not one line."""
    text = " ".join((reason or "").split())
    if not text:
        raise InvalidAction("refused: a reason is required (it is recorded in the Puppet agent's disable lock)")
    if _CONTROL.search((reason or "").replace("\t", " ")):
        raise InvalidAction("refused: the reason must be one line without control characters")
    if len(text) > MAX_REASON:
        raise InvalidAction(f"refused: the reason is too long ({len(text)} characters; at most {MAX_REASON})")
    return shlex.quote(text)


def puppet_command(config: AppConfig, which: str, host_name: str, directory: HostDirectory,
                   reason: str | None = None) -> Command:
    """`which` in run|disable|enable from `actions.puppet`; `{reason}` becomes one quoted argument."""
    if which not in PUPPET_COMMANDS:
        raise InvalidAction(f"refused: {str(which)[:30]!r} is not a Puppet command ({', '.join(PUPPET_COMMANDS)})")
    puppet = config.actions.puppet
    template: str = getattr(puppet, which)
    try:
        names = template_fields(template)
    except ValueError:
        raise NotConfigured(f"refused: actions.puppet.{which} has an unbalanced {{ or }}") from None
    if any(name != "reason" for name in names):
        raise NotConfigured(f"refused: actions.puppet.{which} may only use the {{reason}} placeholder")
    identity, address = resolve_host(config, host_name, directory)
    line = template.format(**({"reason": quote_reason(reason)} if names else {}))
    return Command(identity.name, address, line, puppet.timeout)


__all__ = ["PUPPET_COMMANDS", "allowed_service", "check_command", "executor_target", "puppet_command",
           "quote_reason", "resolve_host", "service_command", "service_hosts"]
