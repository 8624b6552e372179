"""Commands over SSH with asyncssh (actions.executor: ssh).

Host keys are always checked against `actions.ssh.known_hosts`: an unknown or changed key refuses
the command and names the host and the file (there is no switch to turn checking off). The user's
key file, or the ssh-agent when none is configured. ~/.ssh/config is not read: what runs is what the
opsconsole config says. One connection per host, reused until `aclose`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from pathlib import Path
from typing import Any, Callable

import asyncssh

from console.actions.guard import Session
from console.actions.plan import Command
from console.actions.remote import DOWN, FAILED, OK, REFUSED, TIMEOUT, CommandExecutor, CommandResult, OutputCallback
from console.core.config import AppConfig

Result = Callable[..., CommandResult]  # (status, detail, exit_status, stdout, stderr) -> the command's result

KILL_GRACE = 2.0  # seconds a killed command gets to close its channel before we drop it


class SshExecutor(CommandExecutor):
    name = "ssh"

    def __init__(self, config: AppConfig, session: Session) -> None:
        super().__init__(config, session)
        self.settings = config.actions.ssh
        self.known_hosts = str(Path(self.settings.known_hosts).expanduser())
        self._connections: dict[tuple[str, str], asyncssh.SSHClientConnection] = {}
        self._connecting: dict[tuple[str, str], asyncio.Lock] = {}

    async def run(self, command: Command, on_output: OutputCallback | None = None) -> CommandResult:
        self.session.require_writable()
        started = time.monotonic()
        user, host = self._user_and_host(command.address)

        def result(status: str, detail: str, exit_status: int | None = None, stdout: str = "", stderr: str = "") -> CommandResult:
            return CommandResult(command.host, status, exit_status, stdout, stderr, detail, time.monotonic() - started)

        for attempt in (1, 2):  # a reused connection may have died meanwhile: reconnect once
            try:
                conn, fresh = await self._connection(user, host)
            except _Unavailable as problem:
                return result(problem.status, problem.detail)
            try:
                return await self._execute(conn, command, on_output, result)
            except (asyncssh.Error, OSError) as exc:  # the connection broke (or a reused one was stale)
                self._forget(user, host)
                if fresh or attempt == 2:
                    return result(DOWN, f"{host}: the SSH connection failed: {_reason(exc)}")
        raise AssertionError("unreachable")

    async def _execute(self, conn: asyncssh.SSHClientConnection, command: Command, on_output: OutputCallback | None,
                       result: Result) -> CommandResult:
        process = await conn.create_process(command.line, stdin=asyncssh.DEVNULL)
        out: list[str] = []
        err: list[str] = []
        readers = asyncio.gather(_pump(process.stdout, out, on_output), _pump(process.stderr, err, on_output))
        readers.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved: no warning
        try:
            await asyncio.wait_for(asyncio.shield(readers), command.timeout)
            completed = await asyncio.wait_for(process.wait(check=False), KILL_GRACE + command.timeout)
        except asyncio.TimeoutError:
            await _kill(process)
            readers.cancel()
            return result(TIMEOUT, f"{command.host}: no end after {command.timeout:g} s; the command was killed",
                          None, "".join(out), "".join(err))
        except BaseException:
            readers.cancel()
            process.close()
            raise
        stdout, stderr = "".join(out), "".join(err)
        status = completed.exit_status
        if status == 0:
            return result(OK, f"{command.host}: exit 0", 0, stdout, stderr)
        if status is None or status < 0:
            signal = completed.exit_signal[0] if completed.exit_signal else "unknown"
            return result(FAILED, f"{command.host}: killed by signal {signal}", None, stdout, stderr)
        last = _last_line(stderr) or _last_line(stdout)
        return result(FAILED, f"{command.host}: exit {status}" + (f": {last}" if last else ""), status, stdout, stderr)

    def _user_and_host(self, address: str) -> tuple[str, str]:
        """`target` may carry a user (`root@{fqdn}`); otherwise actions.ssh.user."""
        user, sep, host = address.rpartition("@")
        return (user if sep and user else self.settings.user), host

    async def _connection(self, user: str, host: str) -> tuple[asyncssh.SSHClientConnection, bool]:
        key = (user, host)
        lock = self._connecting.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self._connections.get(key)
            if conn is not None and not conn.is_closed():
                return conn, False
            conn = await self._connect(user, host)
            self._connections[key] = conn
            return conn, True

    async def _connect(self, user: str, host: str) -> asyncssh.SSHClientConnection:
        settings = self.settings
        if not os.path.isfile(self.known_hosts):
            raise _Unavailable(REFUSED, f"refused: {host}: the known_hosts file {self.known_hosts} does not exist; "
                                        "host keys are always checked")
        options: dict[str, Any] = {"username": user, "port": settings.port, "known_hosts": self.known_hosts, "config": None,
                         "connect_timeout": settings.connect_timeout, "login_timeout": settings.connect_timeout}
        if settings.key:
            options.update(client_keys=[str(Path(settings.key).expanduser())], agent_path=None)
        else:
            if not os.environ.get("SSH_AUTH_SOCK"):
                raise _Unavailable(REFUSED, "refused: no key file (actions.ssh.key) and no ssh-agent (SSH_AUTH_SOCK is unset)")
            # client_keys left at its default: the agent's keys (and ~/.ssh/id_* as ssh would); None would disable the agent too
        try:
            return await asyncio.wait_for(asyncssh.connect(host, **options), settings.connect_timeout + 1)
        except asyncssh.HostKeyNotVerifiable:
            raise _Unavailable(REFUSED, self._host_key_problem(host)) from None
        except asyncssh.PermissionDenied:
            raise _Unavailable(REFUSED, f"refused: {host}: authentication as {user} failed (key or agent not accepted)") from None
        except (asyncio.TimeoutError, TimeoutError):
            raise _Unavailable(DOWN, f"{host}:{settings.port}: no SSH answer within {settings.connect_timeout:g} s") from None
        except (OSError, asyncssh.Error, asyncssh.KeyImportError) as exc:
            if isinstance(exc, (asyncssh.KeyImportError, FileNotFoundError, PermissionError)) and settings.key:
                raise _Unavailable(REFUSED, f"refused: the key file {settings.key} cannot be used: {_reason(exc)}") from None
            raise _Unavailable(DOWN, f"{host}:{settings.port}: cannot connect: {_reason(exc)}") from None

    def _host_key_problem(self, host: str) -> str:
        """Unknown (no entry for the host) or changed (an entry with another key)."""
        try:
            known = asyncssh.read_known_hosts(self.known_hosts).match(host, "", self.settings.port)[0]
        except (OSError, ValueError):
            known = []
        if known:
            return (f"refused: the host key of {host} has CHANGED: it does not match {self.known_hosts}; "
                    "check with the host's owner before updating the file")
        return f"refused: the host key of {host} is unknown: {host} is not in {self.known_hosts}; add its key first"

    def _forget(self, user: str, host: str) -> None:
        conn = self._connections.pop((user, host), None)
        if conn is not None:
            conn.abort()

    async def aclose(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()
        for conn in connections:
            try:
                await asyncio.wait_for(conn.wait_closed(), 5)
            except (asyncio.TimeoutError, OSError, asyncssh.Error):
                conn.abort()


class _Unavailable(Exception):
    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


async def _pump(stream: asyncssh.SSHReader[str], into: list[str], on_output: OutputCallback | None) -> None:
    """Collect a stream, handing each line to on_output as it arrives (a callback failure stops nothing)."""
    async for line in stream:
        if not line:  # end of the stream
            break
        into.append(line)
        if on_output is not None:
            try:
                outcome = on_output(line.rstrip("\r\n"))
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:  # noqa: BLE001 - the screen showing output must not break the command
                pass


async def _kill(process: asyncssh.SSHClientProcess[str]) -> None:
    """Signal the remote command, then close the channel whatever the server does with the signal."""
    try:
        process.kill()
    except (OSError, asyncssh.Error):
        pass
    process.close()
    try:
        await asyncio.wait_for(process.wait_closed(), KILL_GRACE)
    except (asyncio.TimeoutError, OSError, asyncssh.Error):
        pass


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "reason", "") or getattr(exc, "strerror", "") or str(exc) or type(exc).__name__
    return str(text).splitlines()[0][:200]
