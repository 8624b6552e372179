"""Safe actions (spicerack-style): plan → guard → audit → execute → audit. No Textual here, ever.

The public API the CLI (console/cli/actions.py) and the TUI build on:

    from console.actions import (ActionEngine, Session, current_operator, Confirmation,
                                 PurgeUrls, BanPattern, Acknowledge, RemoveAcknowledgement,
                                 ScheduleDowntime, RemoveDowntime, Recheck, IcingaTarget, parse_duration)

Every action is an ActionSpec in console.actions.specs, the one list the engine, the CLI and the console
derive from. Importing this package loads none of it: each name loads its module on first use, so
`opsconsole --help` (built from the specs) and the console's first frame stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `import X as X`: an explicit re-export for the type checker
    from console.actions.audit import (
        AuditError as AuditError,
    )
    from console.actions.audit import (
        AuditLog as AuditLog,
    )
    from console.actions.audit import (
        GelfSender as GelfSender,
    )
    from console.actions.audit import (
        SalRelay as SalRelay,
    )
    from console.actions.audit import (
        sal_line as sal_line,
    )
    from console.actions.catalog import (
        Acknowledge as Acknowledge,
    )
    from console.actions.catalog import (
        AcknowledgeAndDowntime as AcknowledgeAndDowntime,
    )
    from console.actions.catalog import (
        Action as Action,
    )
    from console.actions.catalog import (
        BanPattern as BanPattern,
    )
    from console.actions.catalog import (
        IcingaTarget as IcingaTarget,
    )
    from console.actions.catalog import (
        PurgeUrls as PurgeUrls,
    )
    from console.actions.catalog import (
        Recheck as Recheck,
    )
    from console.actions.catalog import (
        RemoveAcknowledgement as RemoveAcknowledgement,
    )
    from console.actions.catalog import (
        RemoveDowntime as RemoveDowntime,
    )
    from console.actions.catalog import (
        ScheduleDowntime as ScheduleDowntime,
    )
    from console.actions.catalog import (
        format_duration as format_duration,
    )
    from console.actions.catalog import (
        icinga_filter as icinga_filter,
    )
    from console.actions.catalog import (
        parse_duration as parse_duration,
    )
    from console.actions.engine import (
        CANCELLED as CANCELLED,
    )
    from console.actions.engine import (
        FAILURE as FAILURE,
    )
    from console.actions.engine import (
        INTERRUPTED as INTERRUPTED,
    )
    from console.actions.engine import (
        PARTIAL as PARTIAL,
    )
    from console.actions.engine import (
        SUCCESS as SUCCESS,
    )
    from console.actions.engine import (
        ActionEngine as ActionEngine,
    )
    from console.actions.engine import (
        ActionEvent as ActionEvent,
    )
    from console.actions.engine import (
        ActionResult as ActionResult,
    )
    from console.actions.engine import (
        RunContext as RunContext,
    )
    from console.actions.engine import (
        StepResult as StepResult,
    )
    from console.actions.engine import (
        sal_message as sal_message,
    )
    from console.actions.executors import (
        CacheCheck as CacheCheck,
    )
    from console.actions.executors import (
        cache_age as cache_age,
    )
    from console.actions.executors import (
        cache_hit as cache_hit,
    )
    from console.actions.guard import (
        AlreadyRunning as AlreadyRunning,
    )
    from console.actions.guard import (
        Challenge as Challenge,
    )
    from console.actions.guard import (
        Confirmation as Confirmation,
    )
    from console.actions.guard import (
        InvalidAction as InvalidAction,
    )
    from console.actions.guard import (
        MissingReason as MissingReason,
    )
    from console.actions.guard import (
        NotConfigured as NotConfigured,
    )
    from console.actions.guard import (
        NotConfirmed as NotConfirmed,
    )
    from console.actions.guard import (
        ReadOnlySession as ReadOnlySession,
    )
    from console.actions.guard import (
        Refused as Refused,
    )
    from console.actions.guard import (
        Session as Session,
    )
    from console.actions.guard import (
        challenge_for as challenge_for,
    )
    from console.actions.guard import (
        confirmation_from_flags as confirmation_from_flags,
    )
    from console.actions.lockbreak import (
        BreakLock as BreakLock,
    )
    from console.actions.plan import (
        Command as Command,
    )
    from console.actions.plan import (
        HttpRequest as HttpRequest,
    )
    from console.actions.plan import (
        Operator as Operator,
    )
    from console.actions.plan import (
        Plan as Plan,
    )
    from console.actions.plan import (
        Reason as Reason,
    )
    from console.actions.plan import (
        Risk as Risk,
    )
    from console.actions.plan import (
        Step as Step,
    )
    from console.actions.plan import (
        current_operator as current_operator,
    )
    from console.actions.power import (
        GuestPower as GuestPower,
    )
    from console.actions.puppet import (
        PuppetDisable as PuppetDisable,
    )
    from console.actions.puppet import (
        PuppetEnable as PuppetEnable,
    )
    from console.actions.puppet import (
        PuppetRun as PuppetRun,
    )
    from console.actions.remote import (
        CommandExecutor as CommandExecutor,
    )
    from console.actions.remote import (
        CommandResult as CommandResult,
    )
    from console.actions.remote import (
        command_executor as command_executor,
    )
    from console.actions.restart import (
        HELD as HELD,
    )
    from console.actions.restart import (
        Depool as Depool,
    )
    from console.actions.restart import (
        Repool as Repool,
    )
    from console.actions.restart import (
        RestartService as RestartService,
    )

# name -> the module that defines it (loaded on first use)
_HOME = {
    **dict.fromkeys(("AuditError", "AuditLog", "GelfSender", "SalRelay", "sal_line"), "audit"),
    **dict.fromkeys(("Acknowledge", "AcknowledgeAndDowntime", "Action", "BanPattern", "IcingaTarget", "PurgeUrls",
                     "Recheck", "RemoveAcknowledgement", "RemoveDowntime", "ScheduleDowntime", "format_duration",
                     "icinga_filter", "parse_duration"), "catalog"),
    **dict.fromkeys(("CANCELLED", "FAILURE", "INTERRUPTED", "PARTIAL", "SUCCESS", "ActionEngine", "ActionEvent",
                     "ActionResult", "RunContext", "StepResult", "sal_message"), "engine"),
    **dict.fromkeys(("CacheCheck", "cache_age", "cache_hit"), "executors"),
    **dict.fromkeys(("AlreadyRunning", "Challenge", "Confirmation", "InvalidAction", "MissingReason", "NotConfigured",
                     "NotConfirmed", "ReadOnlySession", "Refused", "Session", "challenge_for",
                     "confirmation_from_flags"), "guard"),
    "BreakLock": "lockbreak",
    **dict.fromkeys(("Command", "HttpRequest", "Operator", "Plan", "Reason", "Risk", "Step", "current_operator"), "plan"),
    "GuestPower": "power",
    **dict.fromkeys(("PuppetDisable", "PuppetEnable", "PuppetRun"), "puppet"),
    **dict.fromkeys(("CommandExecutor", "CommandResult", "command_executor"), "remote"),
    **dict.fromkeys(("HELD", "Depool", "Repool", "RestartService"), "restart"),
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'console.actions' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"console.actions.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
