"""At start: warn about actions that began and never ended (the console was killed between the
audit's intent and result records), once — then record that they were shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.actions.audit import AuditError, AuditLog, acknowledge_unfinished
from console.actions.locks import find_unfinished
from console.core.config import secret_values
from console.core.display import safe

if TYPE_CHECKING:
    from console.ui.app import OpsConsoleApp

SHOWN_AT_ONCE = 5  # more would fill the screen; `opsconsole status` lists every one


async def warn_unfinished(app: OpsConsoleApp) -> None:
    """Notify the unfinished actions not shown before, then record `acknowledged-unfinished`."""
    try:
        found = await find_unfinished(app.config, app.clock)
    except OSError as exc:
        app.notify(safe(f"the audit file could not be read for unfinished actions: {exc}"), severity="warning", timeout=10)
        return
    if not found:
        return
    # one line per action, each display-safe on its own: a title or target from the audit (maybe another
    # operator's) holding a line break cannot pass for one more unfinished action
    lines = [safe(u.describe()) for u in found[:SHOWN_AT_ONCE]]
    if len(found) > SHOWN_AT_ONCE:
        lines.append(f"... and {len(found) - SHOWN_AT_ONCE} more: opsconsole status lists them")
    app.notify("\n".join(lines), title="Unfinished actions", severity="warning", timeout=30)
    user, _, host = app.identity.partition("@")
    try:
        audit = AuditLog(app.config.actions.audit.path, secret_values(app.config), app.clock)
        acknowledge_unfinished(audit, found, user, host or "?", via="tui")
    except AuditError:
        pass  # not recorded: they are shown again next time, which is the safe side
