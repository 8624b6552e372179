"""The Salt executor against the simulated farm's salt-api: restarting PHP-FPM on the broken mw152
makes the sim's Icinga show it OK; a wrong password, an unknown or a stopped minion, and a dead or
hanging API are clear results, never tracebacks."""

from __future__ import annotations

import time

import pytest

from console.actions import Operator, Session
from console.actions.commands import check_command, service_command
from console.actions.guard import ReadOnlySession
from console.actions.plan import Command
from console.actions.remote import DOWN, FAILED, NO_RETURN, OK, REFUSED, TIMEOUT, command_executor
from console.actions.salt import SaltExecutor
from console.core.config import Secret, parse_config, secret_values
from console.core.hosts import HostDirectory
from console.sources import IcingaSource, PuppetDBSource

pytestmark = pytest.mark.sim

ALICE = Operator("alice", "bast161")


@pytest.fixture
def farm(sim_farm_factory):
    return sim_farm_factory()


def config_of(farm, **salt):
    config = parse_config(farm.config_yaml(), "<sim>")
    if salt:
        actions = config.actions
        config = config.model_copy(update={"actions": actions.model_copy(update={"salt": actions.salt.model_copy(update=salt)})})
    return config


def writable() -> Session:
    session = Session(ALICE)
    session.enable_write(None, via="test")
    return session


async def directory_of(config) -> HostDirectory:
    source = PuppetDBSource(config.sources.puppetdb[0])
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.error is None, result.error
    directory = HostDirectory(config.farm.domains)
    directory.add_puppet("puppetdb", result.data)
    return directory


async def php_fpm_state(config, host: str) -> tuple[int, str]:
    source = IcingaSource(config.sources.icinga[0])
    try:
        result = await source.fetch_all() if hasattr(source, "fetch_all") else await source.fetch()
    finally:
        await source.aclose()
    assert result.error is None, result.error
    found = {(s.host, s.service): s for s in result.data.services}.get((host, "PHP-FPM"))
    return (0, "OK") if found is None else (int(found.state), found.output)  # the source lists problems only


async def test_the_sim_config_chooses_salt_and_allow_lists_php_fpm(farm):
    config = config_of(farm)
    assert config.actions.executor == "salt" and config.actions.salt.url == farm.urls["salt"]
    assert isinstance(config.actions.salt.password, Secret)
    assert isinstance(command_executor(config, writable()), SaltExecutor)
    command = service_command(config, "php-fpm", "mw152", await directory_of(config))
    assert command.address == "mw152.fsslc.wtnet" and command.salt_function == "service.restart"


async def test_restarting_php_fpm_on_mw152_recovers_its_alert(farm):
    config = config_of(farm)
    directory = await directory_of(config)
    assert (await php_fpm_state(config, "mw152"))[0] == 2  # the scenario: PHP-FPM down on mw152
    executor = SaltExecutor(config, writable())
    try:
        probe = await executor.run(check_command(config, "php-fpm", "mw152", directory))
        assert (probe.status, probe.exit_status, probe.stdout) == (FAILED, 3, "failed")
        lines: list[str] = []
        result = await executor.run(service_command(config, "php-fpm", "mw152", directory), on_output=lines.append)
        assert result.status == OK and result.host == "mw152", result.detail
        assert lines == ["True"]
        after = await executor.run(check_command(config, "php-fpm", "mw152", directory))
        assert (after.status, after.stdout) == (OK, "active")
    finally:
        await executor.aclose()
    state, output = await php_fpm_state(config, "mw152")
    assert state == 0, output
    assert farm.model.slot("mw152", "PHP-FPM").override.since == farm.model.now()  # a state change now, not days ago


async def test_cmd_run_all_without_a_salt_function_gives_exit_status_and_output(farm):
    config = config_of(farm)
    executor = SaltExecutor(config, writable())
    try:
        unknown = await executor.run(Command("mw151", "mw151.fsslc.wtnet", "sudo rm -rf /srv", 5))
        known = await executor.run(Command("mw151", "mw151.fsslc.wtnet", "sudo systemctl restart php8.4-fpm", 5))
    finally:
        await executor.aclose()
    assert (unknown.status, unknown.exit_status) == (FAILED, 127) and "not found" in unknown.stderr
    assert "exit 127" in unknown.detail
    assert (known.status, known.exit_status) == (OK, 0)


async def test_the_token_is_reused_and_renewed_after_expiry(farm):
    config = config_of(farm)
    api = farm._servers["salt"].app  # noqa: SLF001 - the sim's own counter of logins
    executor = SaltExecutor(config, writable())
    command = Command("mw151", "mw151.fsslc.wtnet", "systemctl is-active php8.4-fpm", 5)
    try:
        assert (await executor.run(command)).ok
        assert (await executor.run(command)).ok
        assert api.logins == 1
        api.expire_tokens()  # the server forgets it: the next call gets 401 and logs in again, once
        assert (await executor.run(command)).ok
        assert api.logins == 2
    finally:
        await executor.aclose()


async def test_a_wrong_password_is_refused_without_showing_it(farm):
    wrong = Secret("not-the-password-4711", "test")
    config = config_of(farm, password=wrong)
    executor = SaltExecutor(config, writable())
    try:
        result = await executor.run(Command("mw151", "mw151.fsslc.wtnet", "systemctl is-active php8.4-fpm", 5))
    finally:
        await executor.aclose()
    assert result.status == REFUSED and "refused the login of opsconsole" in result.detail
    for secret in [wrong.reveal(), *secret_values(config_of(farm))]:
        assert secret not in str(result.to_dict())


async def test_an_unknown_minion_says_so(farm):
    executor = SaltExecutor(config_of(farm), writable())
    try:
        result = await executor.run(Command("mw999", "mw999.fsslc.wtnet", "systemctl is-active php8.4-fpm", 5))
    finally:
        await executor.aclose()
    assert result.status == NO_RETURN and "unknown minion" in result.detail and "mw999.fsslc.wtnet" in result.detail


async def test_a_stopped_minion_is_no_return_within_the_timeout(farm):
    farm.model.set_guest_status("mw153", "stopped")
    executor = SaltExecutor(config_of(farm), writable())
    started = time.monotonic()
    try:
        result = await executor.run(Command("mw153", "mw153.fsslc.wtnet", "systemctl is-active php8.4-fpm", 1))
    finally:
        await executor.aclose()
    assert result.status == NO_RETURN and "did not return within 1 s" in result.detail
    assert time.monotonic() - started < 15  # generous: the sim waits the 1 s timeout


@pytest.mark.parametrize("fault, status, words", [("down", DOWN, "cannot be reached"), ("http503", DOWN, "HTTP 503"),
                                                  ("unauthorized", REFUSED, "refused")])
async def test_api_faults_are_results(farm, fault, status, words):
    farm.set_fault("salt", fault)
    executor = SaltExecutor(config_of(farm), writable())
    try:
        result = await executor.run(Command("mw151", "mw151.fsslc.wtnet", "systemctl is-active php8.4-fpm", 5))
    finally:
        await executor.aclose()
        farm.set_fault("salt", None)
    assert result.status == status and words in result.detail, result.detail


async def test_a_hanging_api_times_out(farm, monkeypatch):
    monkeypatch.setattr("console.actions.salt.HTTP_MARGIN", 0.5)
    farm.set_fault("salt", "hang")
    executor = SaltExecutor(config_of(farm), writable())
    try:
        executor._token, executor._expires_at = "fresh", time.time() + 3600  # skip the login: the call itself hangs
        result = await executor.run(Command("mw151", "mw151.fsslc.wtnet", "systemctl is-active php8.4-fpm", 1))
    finally:
        farm.set_fault("salt", None)
        await executor.aclose()
    assert result.status == TIMEOUT and "no answer within" in result.detail


async def test_a_read_only_session_runs_nothing(farm):
    api = farm._servers["salt"].app  # noqa: SLF001
    executor = SaltExecutor(config_of(farm), Session(ALICE))
    with pytest.raises(ReadOnlySession):
        await executor.run(Command("mw152", "mw152.fsslc.wtnet", "sudo systemctl restart php8.4-fpm", 5))
    await executor.aclose()
    assert api.logins == 0 and farm.model.slot("mw152", "PHP-FPM").override.state == 2
