"""Safe actions (spicerack-style): plan → guard → audit → execute → audit. No Textual here, ever.

The public API the CLI (console/cli/actions.py) and the TUI build on:

    from console.actions import (ActionEngine, Session, current_operator, Confirmation,
                                 PurgeUrls, BanPattern, Acknowledge, RemoveAcknowledgement,
                                 ScheduleDowntime, RemoveDowntime, Recheck, IcingaTarget, parse_duration)
"""

from console.actions.audit import AuditError, AuditLog, GelfSender, SalRelay, sal_line
from console.actions.catalog import (
    Acknowledge,
    Action,
    BanPattern,
    IcingaTarget,
    PurgeUrls,
    Recheck,
    RemoveAcknowledgement,
    RemoveDowntime,
    ScheduleDowntime,
    format_duration,
    icinga_filter,
    parse_duration,
)
from console.actions.engine import (
    CANCELLED,
    FAILURE,
    INTERRUPTED,
    PARTIAL,
    SUCCESS,
    ActionEngine,
    ActionEvent,
    ActionResult,
    RunContext,
    StepResult,
    sal_message,
)
from console.actions.executors import CacheCheck, cache_age, cache_hit
from console.actions.guard import (
    AlreadyRunning,
    Challenge,
    Confirmation,
    InvalidAction,
    MissingReason,
    NotConfigured,
    NotConfirmed,
    ReadOnlySession,
    Refused,
    Session,
    challenge_for,
    confirmation_from_flags,
)
from console.actions.plan import Command, HttpRequest, Operator, Plan, Reason, Risk, Step, current_operator
from console.actions.remote import CommandExecutor, CommandResult, command_executor

__all__ = [
    "CANCELLED", "Command", "CommandExecutor", "CommandResult", "RunContext", "command_executor",
    "Acknowledge", "Action", "ActionEngine", "ActionEvent", "ActionResult", "AlreadyRunning", "AuditError", "AuditLog",
    "BanPattern", "CacheCheck", "Challenge", "Confirmation", "FAILURE", "GelfSender", "HttpRequest", "INTERRUPTED",
    "IcingaTarget", "InvalidAction", "MissingReason", "NotConfigured", "NotConfirmed", "Operator", "PARTIAL", "Plan",
    "PurgeUrls", "ReadOnlySession", "Reason", "Recheck", "Refused", "RemoveAcknowledgement", "RemoveDowntime", "Risk",
    "SUCCESS", "SalRelay", "ScheduleDowntime", "Session", "Step", "StepResult", "cache_age", "cache_hit",
    "challenge_for", "confirmation_from_flags", "current_operator", "format_duration", "icinga_filter",
    "parse_duration", "sal_line", "sal_message",
]

# registered actions (console.actions.registry): importing them registers their plan builders and runners
from console.actions.lockbreak import BreakLock  # noqa: E402
from console.actions.power import GuestPower  # noqa: E402
from console.actions.puppet import PuppetDisable, PuppetEnable, PuppetRun  # noqa: E402
from console.actions.restart import HELD, Depool, Repool, RestartService  # noqa: E402

__all__ += ["GuestPower", "PuppetDisable", "PuppetEnable", "PuppetRun"]
__all__ += ["Depool", "HELD", "Repool", "RestartService"]
__all__ += ["BreakLock"]
