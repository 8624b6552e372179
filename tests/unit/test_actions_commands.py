"""console.actions.commands: the allow-list of commands on hosts (service restarts, checks, Puppet).
Only configured lines run, only on hosts their glob matches; the Puppet reason is one quoted argument."""

from __future__ import annotations

import shlex
from datetime import datetime, timezone

import pytest

from console.actions.commands import check_command, puppet_command, quote_reason, service_command, service_hosts
from console.actions.guard import InvalidAction, NotConfigured
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.core.model import PuppetInventory, PuppetNodeStatus

NOW = datetime(2026, 8, 14, 12, 0, tzinfo=timezone.utc)
SERVICES = """
  services:
    php-fpm:
      hosts: "mw*"
      restart: "sudo systemctl restart php8.4-fpm"
      salt: {function: service.restart, args: [php8.4-fpm]}
      depool: true
      check: {command: "systemctl is-active php8.4-fpm", timeout: 7}
      timeout: 60
    nginx:
      hosts: "cp1[56]?"
      restart: "sudo systemctl restart nginx"
"""


def config(executor: str = "ssh", extra: str = ""):
    salt = "  salt: {url: 'https://salt.example:8000', username: opsconsole, password: {env: HOME}, target: '{host}'}\n"
    return parse_config(
        f"farm: {{name: wikitide, domains: [fsslc.wtnet, wikitide.net]}}\n"
        f"actions:\n  executor: {executor}\n  ssh: {{target: 'ops@{{fqdn}}'}}\n" + (salt if executor == "salt" else "")
        + SERVICES + extra
    )


def directory(*certnames: str) -> HostDirectory:
    found = HostDirectory(["fsslc.wtnet", "wikitide.net"])
    found.add_puppet("puppetdb", PuppetInventory(tuple(PuppetNodeStatus(c, "unchanged", NOW) for c in certnames)))
    return found


FARM = directory("mw151.fsslc.wtnet", "mw152.fsslc.wtnet", "cp161.fsslc.wtnet", "cp171.fsslc.wtnet", "db161.fsslc.wtnet")


def test_ssh_restart_is_the_configured_line_on_the_filled_target():
    command = service_command(config(), "php-fpm", "mw152", FARM)
    assert (command.host, command.address, command.line) == ("mw152", "ops@mw152.fsslc.wtnet", "sudo systemctl restart php8.4-fpm")
    assert command.timeout == 60 and command.salt_function is None


def test_a_full_name_resolves_to_the_same_host():
    assert service_command(config(), "php-fpm", "mw152.fsslc.wtnet", FARM).host == "mw152"


def test_salt_uses_the_configured_function_and_its_own_target():
    command = service_command(config("salt"), "php-fpm", "mw151", FARM)
    assert command.address == "mw151"  # actions.salt.target is {host} here
    assert (command.salt_function, command.salt_args) == ("service.restart", ("php8.4-fpm",))


def test_salt_without_a_function_runs_the_line():
    command = service_command(config("salt"), "nginx", "cp161", FARM)
    assert command.salt_function is None and command.line == "sudo systemctl restart nginx"


@pytest.mark.parametrize("service, host", [("php-fpm", "db161"), ("php-fpm", "cp161"), ("nginx", "cp171"), ("nginx", "mw151")])
def test_a_host_outside_the_glob_is_refused(service, host):
    with pytest.raises(InvalidAction, match="may only run on hosts matching"):
        service_command(config(), service, host, FARM)


def test_a_service_not_in_the_allow_list_is_refused_and_the_known_ones_named():
    with pytest.raises(InvalidAction, match=r"'redis' is not in the allow-list.*nginx, php-fpm"):
        service_command(config(), "redis", "mw151", FARM)


def test_no_executor_is_not_configured():
    plain = parse_config("farm: {name: x}\nactions:\n" + SERVICES)
    with pytest.raises(NotConfigured, match="no command executor"):
        service_command(plain, "php-fpm", "mw151", FARM)


def test_an_unknown_host_is_refused():
    with pytest.raises(InvalidAction, match="unknown host 'mw999'"):
        service_command(config(), "php-fpm", "mw999", FARM)


@pytest.mark.parametrize("name", ["mw151; rm -rf /", "mw151 && id", "$(id)", "-oProxyCommand=x", "", "mw1\n"])
def test_a_name_that_is_not_a_plain_host_name_is_refused(name):
    with pytest.raises(InvalidAction, match="not a plain host name"):
        service_command(config(), "php-fpm", name, FARM)


def test_a_target_that_cannot_be_filled_is_refused():
    icinga_only = HostDirectory(["fsslc.wtnet"])
    from console.core.model import IcingaHostState, IcingaSnapshot

    icinga_only.add_icinga(IcingaSnapshot((IcingaHostState("mw153", True),), ()))
    with pytest.raises(InvalidAction, match="no FQDN known"):
        service_command(config(), "php-fpm", "mw153", icinga_only)


def test_service_hosts_lists_the_glob_matches():
    assert service_hosts(config(), "php-fpm", FARM) == ["mw151", "mw152"]
    assert service_hosts(config(), "nginx", FARM) == ["cp161"]


def test_check_command_and_a_service_without_one():
    command = check_command(config(), "php-fpm", "mw151", FARM)
    assert (command.line, command.timeout) == ("systemctl is-active php8.4-fpm", 7)
    with pytest.raises(NotConfigured, match="no check command"):
        check_command(config(), "nginx", "cp161", FARM)


def test_puppet_run_and_enable_are_the_configured_lines():
    cfg = config()
    assert puppet_command(cfg, "run", "db161", FARM).line == "sudo puppet agent -tv"
    assert puppet_command(cfg, "enable", "db161", FARM).line == "sudo puppet agent --enable"
    assert puppet_command(cfg, "run", "db161", FARM).timeout == cfg.actions.puppet.timeout


@pytest.mark.parametrize("reason", ["upgrading php", "it's $(rm -rf /) `id`; echo pwned", "a  b\tc", "--enable"])
def test_the_reason_is_exactly_one_shell_argument(reason):
    line = puppet_command(config(), "disable", "mw151", FARM, reason=reason).line
    words = shlex.split(line)
    assert words[:4] == ["sudo", "puppet", "agent", "--disable"]
    assert words[4:] == [" ".join(reason.split())]


@pytest.mark.parametrize("reason, message", [(None, "reason is required"), ("  ", "reason is required"),
                                             ("one\ntwo", "one line"), ("bell\x07", "one line"), ("x" * 400, "too long")])
def test_a_bad_reason_is_refused(reason, message):
    with pytest.raises(InvalidAction, match=message):
        puppet_command(config(), "disable", "mw151", FARM, reason=reason)


def test_an_unknown_puppet_command_is_refused():
    with pytest.raises(InvalidAction, match="not a Puppet command"):
        puppet_command(config(), "reinstall", "mw151", FARM)


def test_a_puppet_template_with_another_placeholder_is_refused():
    cfg = config(extra="  puppet: {disable: 'sudo puppet agent --disable {reason} {host}'}\n")
    with pytest.raises(NotConfigured, match="only use the {reason} placeholder"):
        puppet_command(cfg, "disable", "mw151", FARM, reason="x")


def test_quote_reason_collapses_whitespace():
    assert quote_reason("  two   words ") == "'two words'"
