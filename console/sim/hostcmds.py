"""What commands do on the simulated hosts: a table of shell lines and Salt functions, and their
effect on the farm model (`run(farm, host, function, args) -> (retcode, stdout, stderr)`).

Restarting PHP-FPM on a host whose PHP-FPM is down brings it back: its checks go OK from now on
(an Icinga state change now), and the caches stop calling it a sick backend. `systemctl is-active`
answers from the checks. Anything not in the table exits 127 like a shell would.

To add a command: decorate a handler with `@shell_command("systemctl restart {unit}")` (each
`{name}` matches one word; a leading `sudo` is dropped) or `@salt_function("module.function")`.
A handler gets (farm, host, **words) / (farm, host, args) and returns (retcode, stdout, stderr).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Callable

from console.sim.checks import OK, OK_OUTPUT, Override, evaluate

if TYPE_CHECKING:
    from console.sim.farm import Farm

Outcome = tuple[int, str, str]
ShellHandler = Callable[..., Outcome]
SaltHandler = Callable[["Farm", str, list[str]], Outcome]

SHELL_COMMANDS: list[tuple[tuple[str, ...], ShellHandler]] = []
SALT_FUNCTIONS: dict[str, SaltHandler] = {}


def shell_command(template: str) -> Callable[[ShellHandler], ShellHandler]:
    """Register a handler for a command line: words match literally, `{name}` matches any one word."""
    words = tuple(template.split())

    def register(handler: ShellHandler) -> ShellHandler:
        SHELL_COMMANDS.append((words, handler))
        return handler

    return register


def salt_function(name: str) -> Callable[[SaltHandler], SaltHandler]:
    def register(handler: SaltHandler) -> SaltHandler:
        SALT_FUNCTIONS[name] = handler
        return handler

    return register


def run(farm: Farm, host: str, function: str, args: list[str] | tuple[str, ...]) -> Outcome:
    """Run a Salt function (`cmd.run_all`/`cmd.run` run `args[0]` as a shell line) on one host."""
    if host not in farm.hosts:
        return 255, "", f"ssh: Could not resolve hostname {host}: Name or service not known"
    if function in ("cmd.run_all", "cmd.run", "cmd.shell"):
        return run_line(farm, host, " ".join(str(a) for a in args[:1]))
    handler = SALT_FUNCTIONS.get(function)
    if handler is None:
        return 1, "", f"'{function}' is not available."
    return handler(farm, host, [str(a) for a in args])


def run_line(farm: Farm, host: str, line: str) -> Outcome:
    """One shell line on one host, as `sh -c` would run it (but only what the table knows); what the farm's
    `command_noise` says every command prints (the `hostile` scenario) is added to its stdout and stderr."""
    code, stdout, stderr = _run_line(farm, host, line)
    if farm.command_noise is not None:
        extra_out, extra_err = farm.command_noise
        stdout, stderr = _after(stdout, extra_out), _after(stderr, extra_err)
    return code, stdout, stderr


def _after(text: str, extra: str) -> str:
    return text + ("\n" if text and not text.endswith("\n") else "") + extra if extra else text


def _run_line(farm: Farm, host: str, line: str) -> Outcome:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        return 2, "", f"sh: 1: Syntax error: {exc}"
    if words[:1] == ["sudo"]:
        words = words[1:]
    if not words:
        return 0, "", ""
    for template, handler in SHELL_COMMANDS:
        found = _match(template, words)
        if found is not None:
            return handler(farm, host, **found)
    return 127, "", f"sh: 1: {words[0]}: not found"


def _match(template: tuple[str, ...], words: list[str]) -> dict[str, str] | None:
    if len(template) != len(words):
        return None
    found: dict[str, str] = {}
    for pattern, word in zip(template, words, strict=False):
        if pattern.startswith("{") and pattern.endswith("}"):
            found[pattern[1:-1]] = word
        elif pattern != word:
            return None
    return found


# --- services -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimService:
    """A systemd unit of the simulated hosts: the roles that run it and the Icinga checks that tell its state."""

    roles: tuple[str, ...]
    checks: tuple[str, ...] = ()  # on the host itself
    cache_checks: tuple[str, ...] = ()  # on every cache, when they name this host


SERVICES: dict[str, SimService] = {
    "php8.4-fpm": SimService(("mediawiki", "jobrunner"), ("PHP-FPM", "MediaWiki Rendering", "HTTPS"),
                             ("Varnish Backends", "HTTP 4xx/5xx ERROR Rate")),
    "nginx": SimService(("mediawiki", "jobrunner", "cache"), ("HTTPS",)),
    "varnish": SimService(("cache",), ("Varnish Backends",)),
    "memcached": SimService(("memcached",), ("memcached",)),
    "mariadb": SimService(("database",), ("MariaDB",)),
    "jobrunner": SimService(("jobrunner",), ("JobRunner Service",)),
    "jobchron": SimService(("jobrunner",), ("JobChron Service",)),
}


def _unit(name: str) -> str:
    return name.removesuffix(".service")


def _runs_here(farm: Farm, host: str, unit: str) -> bool:
    service = SERVICES.get(unit)
    if service is None:
        return False
    spec = farm.hosts[host]
    return spec.role in service.roles or any((host, check) in farm.slots for check in service.checks)


def _healthy(farm: Farm, host: str, unit: str) -> bool:
    service = SERVICES[unit]
    now = farm.now()
    slots = [farm.slots[(host, check)] for check in service.checks if (host, check) in farm.slots]
    return all(evaluate(farm, slot, now).state == OK for slot in slots[:1])  # the first check is the service's own


def restart(farm: Farm, host: str, unit: str) -> Outcome:
    """The unit restarts; a failed one comes back: its checks turn OK now, the caches forget the sick backend."""
    unit = _unit(unit)
    if not _runs_here(farm, host, unit):
        return 5, "", f"Failed to restart {unit}.service: Unit {unit}.service not found."
    with farm.lock:
        now = farm.now()
        spec = farm.hosts[host]
        service = SERVICES[unit]
        for check in service.checks:
            _recover(farm, host, check, now, spec)
        for cache, cache_spec in farm.hosts.items():
            if cache_spec.role != "cache":
                continue
            for check in service.cache_checks:
                slot = farm.slots.get((cache, check))
                if slot is not None and slot.override is not None and slot.override.state != OK:
                    if check != "Varnish Backends" or host in slot.override.output:
                        _recover(farm, cache, check, now, cache_spec)
        guest = farm.guests.get(host)
        if guest is not None:
            guest.cpu = guest.mem = None  # back to its natural load
    return 0, "", ""


def _recover(farm: Farm, host: str, check: str, now, spec) -> None:
    slot = farm.slots.get((host, check))
    if slot is None or slot.override is None or slot.override.state == OK:
        return
    output, perf = OK_OUTPUT[check](farm, spec, now) if check in OK_OUTPUT else (f"OK - {check}", ())
    slot.override = Override(OK, output, now, True, tuple(perf))
    slot.rechecked_at = now  # the check ran just now and saw it


@shell_command("systemctl restart {unit}")
def _systemctl_restart(farm: Farm, host: str, unit: str) -> Outcome:
    return restart(farm, host, unit)


@shell_command("service {unit} restart")
def _service_restart(farm: Farm, host: str, unit: str) -> Outcome:
    return restart(farm, host, unit)


@shell_command("systemctl is-active {unit}")
def _systemctl_is_active(farm: Farm, host: str, unit: str) -> Outcome:
    unit = _unit(unit)
    if not _runs_here(farm, host, unit):
        return 4, "inactive", ""
    with farm.lock:
        healthy = _healthy(farm, host, unit)
    return (0, "active", "") if healthy else (3, "failed", "")


@salt_function("service.restart")
def _salt_service_restart(farm: Farm, host: str, args: list[str]) -> Outcome:
    if not args:
        return 1, "", "Passed invalid arguments: restart() missing 1 required positional argument: 'name'"
    code, _, _ = restart(farm, host, args[0])
    return (0, "True", "") if code == 0 else (1, "False", "")


@salt_function("service.status")
def _salt_service_status(farm: Farm, host: str, args: list[str]) -> Outcome:
    code, _, _ = _systemctl_is_active(farm, host, args[0] if args else "")
    return (0, "True", "") if code == 0 else (1, "False", "")


@salt_function("test.ping")
def _salt_ping(farm: Farm, host: str, args: list[str]) -> Outcome:
    return 0, "True", ""


# the Puppet agent's commands live in their own module; importing it registers them in this table
import_module("console.sim.hostcmds_puppet")
