"""Commands on hosts: the executor contract shared by SSH (console/actions/ssh.py) and the Salt API
(console/actions/salt.py). Which one runs is chosen per farm in `actions.executor`.

    executor = command_executor(config, session)       # NotConfigured when actions.executor is unset
    result = await executor.run(step.command, on_output=print)   # never raises for the target's failures
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

from console.actions.guard import NotConfigured, Session
from console.actions.plan import Command
from console.core.config import AppConfig

# what a command's outcome can be (the engine's OK/FAILED/DOWN/REFUSED, and two of its own)
OK, FAILED, DOWN, REFUSED, TIMEOUT, NO_RETURN = "ok", "failed", "down", "refused", "timeout", "no-return"

OutputCallback = Callable[[str], Any]  # one line of output as it arrives (may return an awaitable)


@dataclass(frozen=True)
class CommandResult:
    """What one command did on one host.

    ok: exit status 0; failed: it ran and exited non-zero; down: could not connect; refused: the
    host key was unknown/changed, or authentication or the allow-list said no; timeout: no end
    within the command's timeout; no-return: (Salt) the minion never answered."""

    host: str
    status: str
    exit_status: int | None
    stdout: str
    stderr: str
    detail: str  # one line for the operator
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "status": self.status, "exit_status": self.exit_status,
                "stdout": self.stdout[-4000:], "stderr": self.stderr[-4000:], "detail": self.detail,
                "duration_s": round(self.duration_s, 3)}


class CommandExecutor(ABC):
    """Runs allow-listed commands. `run` checks the session first: a read-only session runs nothing."""

    name: str = ""

    def __init__(self, config: AppConfig, session: Session) -> None:
        self.config = config
        self.session = session

    @abstractmethod
    async def run(self, command: Command, on_output: OutputCallback | None = None) -> CommandResult:
        """Run `command` (session.require_writable() first). Failures of the host are results, never raised."""

    async def aclose(self) -> None:  # noqa: B027 - optional: an executor without connections has nothing to close
        """Close connections and sessions."""


def command_executor(config: AppConfig, session: Session) -> CommandExecutor:
    """The executor `actions.executor` names; NotConfigured when none is."""
    kind = config.actions.executor
    if kind == "ssh":
        from console.actions.ssh import SshExecutor

        return SshExecutor(config, session)
    if kind == "salt":
        from console.actions.salt import SaltExecutor

        return SaltExecutor(config, session)
    raise NotConfigured("refused: no command executor is configured (actions.executor: ssh or salt), so nothing can run on hosts")
