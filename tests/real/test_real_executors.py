"""The command executors against real servers: OpenSSH's sshd (asyncssh, host keys always checked)
and Salt (master + minion mw151 + salt-api, rest_cherrypy). The "restart" is a harmless fixture
script (tests/harness/remote_servers.py) that prints, leaves a mark, sleeps and exits as told."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import datetime, timezone

import pytest

from console.actions import Operator, Session
from console.actions.commands import service_command
from console.actions.plan import Command
from console.actions.remote import DOWN, FAILED, NO_RETURN, OK, REFUSED, TIMEOUT
from console.actions.salt import HTTP_MARGIN, SaltExecutor
from console.actions.ssh import SshExecutor
from console.core.config import parse_config
from console.core.hosts import HostDirectory
from console.core.model import PuppetInventory, PuppetNodeStatus
from tests.harness.realservers import free_port

pytestmark = pytest.mark.real

ALICE = Operator("alice", "bast161")


def writable() -> Session:
    session = Session(ALICE)
    session.enable_write(None, via="test")
    return session


def directory(*names: str) -> HostDirectory:
    found = HostDirectory(["fsslc.wtnet"])
    now = datetime.now(timezone.utc)
    found.add_puppet("puppetdb", PuppetInventory(tuple(PuppetNodeStatus(f"{n}.fsslc.wtnet", "unchanged", now) for n in names)))
    return found


# --- SSH -------------------------------------------------------------------------------------------


def ssh_config(sshd, *, known_hosts=None, key=None, port=None, restart="php8.4-fpm 0", timeout=30):
    return parse_config(f"""
farm: {{name: test, domains: [fsslc.wtnet]}}
actions:
  executor: ssh
  ssh: {{user: root, port: {port or sshd.port}, key: "{key or sshd.client_key}", known_hosts: "{known_hosts or sshd.known_hosts}",
        target: "127.0.0.1", connect_timeout: 5}}
  services:
    php-fpm: {{hosts: "mw*", restart: "{sshd.fixture} {restart}", timeout: {timeout}}}
""")


async def run_ssh(config, host: str = "mw151", lines: list[str] | None = None):
    executor = SshExecutor(config, writable())
    try:
        command = service_command(config, "php-fpm", host, directory(host))
        return await executor.run(command, on_output=lines.append if lines is not None else None)
    finally:
        await executor.aclose()


async def test_ssh_restart_captures_exit_status_stdout_and_stderr(real_sshd):
    lines: list[str] = []
    mark = f"php8.4-fpm-{uuid.uuid4().hex[:8]}"
    result = await run_ssh(ssh_config(real_sshd, restart=f"{mark} 0"), lines=lines)
    assert (result.status, result.exit_status) == (OK, 0), result.detail
    assert result.stdout == f"restarting {mark}\ndone\n"
    assert result.stderr == f"warning: {mark} is only a test fixture\n"
    assert sorted(lines) == sorted([f"restarting {mark}", "done", f"warning: {mark} is only a test fixture"])
    assert f"{mark} restarted by root with status 0" in real_sshd.marks.read_text()


async def test_ssh_non_zero_exit_is_failed_with_stderr_in_the_detail(real_sshd):
    result = await run_ssh(ssh_config(real_sshd, restart="php8.4-fpm 3"))
    assert (result.status, result.exit_status) == (FAILED, 3)
    assert "exit 3" in result.detail and "failed to restart php8.4-fpm (status 3)" in result.detail


async def test_ssh_timeout_kills_the_command(real_sshd):
    started = time.monotonic()
    result = await run_ssh(ssh_config(real_sshd, restart="php8.4-fpm 0 60", timeout=1))
    assert result.status == TIMEOUT and result.exit_status is None and "no end after 1 s" in result.detail
    assert result.stdout == "restarting php8.4-fpm\n"  # what came before the timeout is kept
    assert time.monotonic() - started < 30


async def test_ssh_one_connection_per_host_is_reused(real_sshd):
    config = ssh_config(real_sshd)
    executor = SshExecutor(config, writable())
    try:
        command = service_command(config, "php-fpm", "mw151", directory("mw151"))
        first, second = await executor.run(command), await executor.run(command)
        assert first.ok and second.ok
        assert len(executor._connections) == 1  # noqa: SLF001
    finally:
        await executor.aclose()
    assert executor._connections == {}  # noqa: SLF001


async def test_ssh_unknown_host_key_is_refused(real_sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[127.0.0.1]:2022 " + real_sshd.host_key_line().split(" ", 1)[1])  # another port's entry only
    result = await run_ssh(ssh_config(real_sshd, known_hosts=known_hosts))
    assert result.status == REFUSED
    assert "host key of 127.0.0.1 is unknown" in result.detail and str(known_hosts) in result.detail
    assert not result.stdout


async def test_ssh_changed_host_key_is_refused(real_sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(real_sshd.host_key_line("other_hostkey_ed25519.pub"))
    before = real_sshd.marks.read_text() if real_sshd.marks.exists() else ""
    result = await run_ssh(ssh_config(real_sshd, known_hosts=known_hosts, restart="changed-key-test 0"))
    assert result.status == REFUSED and "CHANGED" in result.detail and str(known_hosts) in result.detail
    assert "changed-key-test" not in (real_sshd.marks.read_text() if real_sshd.marks.exists() else before)


async def test_ssh_missing_known_hosts_file_is_refused(real_sshd, tmp_path):
    result = await run_ssh(ssh_config(real_sshd, known_hosts=tmp_path / "nope"))
    assert result.status == REFUSED and "does not exist" in result.detail


async def test_ssh_a_key_the_server_does_not_know_is_refused(real_sshd, tmp_path):
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    result = await run_ssh(ssh_config(real_sshd, key=key))
    assert result.status == REFUSED and "authentication as root failed" in result.detail


async def test_ssh_nothing_listening_is_down(real_sshd):
    result = await run_ssh(ssh_config(real_sshd, port=free_port()))
    assert result.status == DOWN and "cannot connect" in result.detail


# --- Salt ------------------------------------------------------------------------------------------


def salt_config(salt, tmp_path, *, password=None, timeout=30, restart="php8.4-fpm 0"):
    secret = tmp_path / "salt.secret"
    secret.write_text((password or salt.password) + "\n")
    secret.chmod(0o600)
    return parse_config(f"""
farm: {{name: test, domains: [fsslc.wtnet]}}
actions:
  executor: salt
  salt: {{url: "{salt.url}", username: {salt.username}, password: {{file: "{secret}"}}, eauth: sharedsecret,
         target: "{{host}}", timeout: {timeout}}}
  services:
    php-fpm: {{hosts: "mw*", restart: "{salt.fixture} {restart}", timeout: {timeout}}}
""")


async def run_salt(config, host: str = "mw151", executor: SaltExecutor | None = None):
    own = executor is None
    executor = executor or SaltExecutor(config, writable())
    try:
        return await executor.run(service_command(config, "php-fpm", host, directory(host)))
    finally:
        if own:
            await executor.aclose()


async def test_salt_restart_reaches_the_minion(real_salt, tmp_path):
    mark = f"php8.4-fpm-{uuid.uuid4().hex[:8]}"
    result = await run_salt(salt_config(real_salt, tmp_path, restart=f"{mark} 0"))
    assert (result.status, result.exit_status) == (OK, 0), result.detail
    assert result.stdout.splitlines() == [f"restarting {mark}", "done"]
    assert f"{mark} restarted by root with status 0" in real_salt.marks.read_text()


async def test_salt_non_zero_exit_is_failed_with_stderr(real_salt, tmp_path):
    result = await run_salt(salt_config(real_salt, tmp_path, restart="php8.4-fpm 4"))
    assert (result.status, result.exit_status) == (FAILED, 4)
    assert "failed to restart php8.4-fpm (status 4)" in result.detail and "test fixture" in result.stderr


async def test_salt_token_is_reused_and_renewed_on_401(real_salt, tmp_path):
    config = salt_config(real_salt, tmp_path)
    executor = SaltExecutor(config, writable())
    try:
        assert (await run_salt(config, executor=executor)).ok
        token = executor._token  # noqa: SLF001
        assert (await run_salt(config, executor=executor)).ok
        assert executor._token == token  # reused  # noqa: SLF001
        executor._token = "0" * 40  # noqa: SLF001 - as if the master had forgotten it: the API answers 401
        assert (await run_salt(config, executor=executor)).ok
        assert executor._token not in (None, "0" * 40, token)  # noqa: SLF001 - a fresh login
    finally:
        await executor.aclose()


async def test_salt_accepted_minion_that_is_not_running_is_no_return(real_salt, tmp_path):
    config = salt_config(real_salt, tmp_path, timeout=2)
    started = time.monotonic()
    result = await run_salt(config, host="mw159")  # its key is accepted; no minion runs with it
    took = time.monotonic() - started
    assert result.status == NO_RETURN and "mw159" in result.detail and "did not return within 2 s" in result.detail
    assert took < 2 + HTTP_MARGIN + 5  # Salt adds gather_job_timeout; the executor bounds the wait


async def test_salt_unknown_minion_says_so(real_salt, tmp_path):
    result = await run_salt(salt_config(real_salt, tmp_path), host="mw999")
    assert result.status == NO_RETURN and "unknown minion" in result.detail


async def test_salt_wrong_password_is_refused_without_showing_it(real_salt, tmp_path):
    wrong = "wrong-" + uuid.uuid4().hex
    result = await run_salt(salt_config(real_salt, tmp_path, password=wrong))
    assert result.status == REFUSED and "refused the login of saltapi" in result.detail
    assert wrong not in str(result.to_dict()) and real_salt.password not in str(result.to_dict())


async def test_salt_read_only_session_sends_nothing(real_salt, tmp_path):
    from console.actions.guard import ReadOnlySession

    config = salt_config(real_salt, tmp_path)
    executor = SaltExecutor(config, Session(ALICE))
    with pytest.raises(ReadOnlySession):
        await executor.run(Command("mw151", "mw151", "true", 5))
    assert executor._client is None  # noqa: SLF001 - not even a connection
    await executor.aclose()


async def test_ssh_through_the_agent_when_no_key_file_is_configured(real_sshd, tmp_path, monkeypatch):
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {"SSH_AUTH_SOCK": str(socket_path), "PATH": "/usr/bin:/bin"}
        subprocess.run(["ssh-add", str(real_sshd.client_key)], check=True, env=env, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* to fall back on: only the agent can log in
        config = ssh_config(real_sshd)
        config = config.model_copy(update={"actions": config.actions.model_copy(
            update={"ssh": config.actions.ssh.model_copy(update={"key": None})})})
        result = await run_ssh(config)
        assert result.status == OK, result.detail
    finally:
        agent.terminate()
        agent.wait(timeout=10)
