"""Whether a plan may run: the session is read-write, there is a reason, and the operator confirmed
at the plan's tier. Every refusal is a `Refused` with a message for the operator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.actions.plan import Operator, Plan, Risk

if TYPE_CHECKING:
    from console.actions.audit import AuditLog


class Refused(Exception):
    """The action was not started; the message says why and what to do."""


class ReadOnlySession(Refused):
    """A write in a read-only session."""


class MissingReason(Refused):
    """A write without a reason."""


class NotConfirmed(Refused):
    """No confirmation, or the wrong one for the plan's tier."""


class NotConfigured(Refused):
    """The action needs something the config does not have (caches, an icinga source)."""


class AlreadyRunning(Refused):
    """The same action is running already; it is not started a second time."""


class InvalidAction(Refused):
    """The action's arguments are wrong (a malformed URL, a bad pattern, an unknown duration)."""


class Session:
    """Read-only until `enable_write()` — an explicit switch, recorded in the audit log."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator
        self._writable = False

    @property
    def writable(self) -> bool:
        return self._writable

    def enable_write(self, audit: AuditLog | None, via: str = "--write", extra: dict[str, Any] | None = None) -> None:
        """Make the session read-write, recording who switched, from where and how."""
        if self._writable:
            return
        if audit is not None:
            audit.append({"event": "write-enabled", "user": self.operator.user, "host": self.operator.host,
                          "via": via, **(extra or {})})
        self._writable = True

    def disable_write(self) -> None:
        self._writable = False

    def require_writable(self) -> None:
        """Raise ReadOnlySession unless the session was switched to read-write."""
        if not self._writable:
            raise ReadOnlySession(
                "refused: this session is read-only; run again with --write to allow changes (the switch is logged)"
            )


@dataclass(frozen=True)
class Challenge:
    """What the operator must answer for a plan: y/N (tier 1), `go` (tier 2), the target's name (tier 3)."""

    risk: Risk
    prompt: str
    expected: str  # "y", "go", or the target's name

    def accepts(self, answer: str | None) -> bool:
        """True only for the exact answer of the tier; anything else (the default included) is No."""
        if answer is None:
            return False
        given = answer.strip()
        if self.risk is Risk.REVERSIBLE:
            return given.lower() in ("y", "yes")
        return given == self.expected


@dataclass(frozen=True)
class Confirmation:
    """The operator's answer, and how it was given (terminal, --yes, the TUI dialog)."""

    answer: str
    via: str = "terminal"


def challenge_for(plan: Plan) -> Challenge:
    """The question to ask before running `plan`."""
    if plan.risk is Risk.REVERSIBLE:
        return Challenge(plan.risk, f"{plan.title}? [y/N]", "y")
    if plan.risk is Risk.SEVERAL:
        return Challenge(plan.risk, f"{plan.title}: {len(plan.targets)} targets. Type 'go' to proceed", "go")
    word = plan.confirm_word or (plan.targets[0] if plan.targets else "")
    return Challenge(plan.risk, f"{plan.title}: IRREVERSIBLE. Type '{word}' to proceed", word)


def confirmation_from_flags(plan: Plan, yes: bool, confirm: str | None) -> Confirmation | None:
    """`--yes` answers tiers 1-2; tier 3 also needs `--confirm TARGET`. None when the flags do not answer."""
    if not yes:
        return None
    challenge = challenge_for(plan)
    if plan.risk is Risk.IRREVERSIBLE:
        return Confirmation(confirm or "", via="--yes --confirm") if confirm is not None else None
    return Confirmation(challenge.expected, via="--yes")


def check(plan: Plan, session: Session, confirmation: Confirmation | None) -> None:
    """Raise Refused unless `plan` may run now: read-write session, a reason, the tier's confirmation."""
    session.require_writable()
    if plan.reason is None:
        raise MissingReason("refused: a reason is required for every write (--reason TEXT)")
    if not plan.steps:
        raise InvalidAction("refused: the plan has no step")
    challenge = challenge_for(plan)
    if confirmation is None:
        raise NotConfirmed(f"refused: not confirmed ({plan.risk.label} needs: {challenge.prompt})")
    if not challenge.accepts(confirmation.answer):
        if plan.risk is Risk.IRREVERSIBLE:
            raise NotConfirmed(f"refused: the confirmation does not match; type exactly {challenge.expected!r}")
        raise NotConfirmed("refused: not confirmed")
