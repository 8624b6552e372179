"""The executors' refusals that need no server: read-only sessions, no key and no agent, no known_hosts."""

from __future__ import annotations

import pytest

from console.actions import Operator, Session
from console.actions.guard import NotConfigured, ReadOnlySession
from console.actions.plan import Command
from console.actions.remote import REFUSED, command_executor
from console.actions.ssh import SshExecutor
from console.core.config import parse_config

COMMAND = Command("mw151", "mw151.fsslc.wtnet", "sudo systemctl restart php8.4-fpm", 5)


def ssh_config(tmp_path, key: bool = False):
    known = tmp_path / "known_hosts"
    known.write_text("")
    key_line = f", key: {tmp_path / 'id'}" if key else ""
    return parse_config(f"farm: {{name: t}}\nactions:\n  executor: ssh\n  ssh: {{known_hosts: {known}{key_line}}}\n")


def writable() -> Session:
    session = Session(Operator("alice", "bast161"))
    session.enable_write(None, via="test")
    return session


async def test_a_read_only_session_runs_nothing(tmp_path):
    executor = SshExecutor(ssh_config(tmp_path), Session(Operator("alice", "bast161")))
    with pytest.raises(ReadOnlySession):
        await executor.run(COMMAND)


async def test_no_key_and_no_agent_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    result = await SshExecutor(ssh_config(tmp_path), writable()).run(COMMAND)
    assert result.status == REFUSED and "no ssh-agent" in result.detail


async def test_a_missing_known_hosts_file_is_refused_before_connecting(tmp_path):
    config = ssh_config(tmp_path, key=True)
    (tmp_path / "known_hosts").unlink()
    result = await SshExecutor(config, writable()).run(COMMAND)
    assert result.status == REFUSED and "known_hosts" in result.detail and "always checked" in result.detail


def test_the_target_may_carry_a_user(tmp_path):
    executor = SshExecutor(ssh_config(tmp_path), writable())
    assert executor._user_and_host("root@mw151.fsslc.wtnet") == ("root", "mw151.fsslc.wtnet")  # noqa: SLF001
    assert executor._user_and_host("mw151.fsslc.wtnet") == ("opsconsole", "mw151.fsslc.wtnet")  # noqa: SLF001


def test_no_executor_configured():
    with pytest.raises(NotConfigured):
        command_executor(parse_config("farm: {name: t}\n"), writable())


async def test_a_key_file_that_is_not_a_key_is_refused(tmp_path):
    config = ssh_config(tmp_path, key=True)
    (tmp_path / "id").write_text("not a key\n")
    (tmp_path / "id").chmod(0o600)
    (tmp_path / "known_hosts").write_text("127.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    result = await SshExecutor(config, writable()).run(Command("mw151", "127.0.0.1", "true", 5))
    assert result.status == REFUSED and "key file" in result.detail
