"""`opsconsole locks` (list the per-target locks) and `opsconsole locks break KEY --reason ...`.

Breaking is a write: it needs --write, a reason and a confirmation (typing the key, or --yes),
and is recorded in the audit file (`lock-broken`, with the lock that was removed)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, NoReturn

import click

from console.actions import AuditError, Reason, Refused, Session, current_operator
from console.actions.audit import AuditLog
from console.actions.locks import LockInfo, lock_rows, locks_for
from console.cli.options import EXIT_FAILED, EXIT_REFUSED, global_options, global_value, load_or_exit, say
from console.core.clock import utc_now
from console.core.config import secret_values
from console.core.display import safe

HEADINGS = ("KEY", "HOLDER", "SINCE", "AGE", "ACTION", "REASON", "STATE")


def _fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    say(f"opsconsole: {message}", err=True)
    sys.exit(code)


def render_locks(rows: list[tuple[str, ...]]) -> str:
    """The listing as aligned columns."""
    if not rows:
        return "no locks held"
    table = [HEADINGS, *(tuple(safe(cell, identifier=index == 0) for index, cell in enumerate(row)) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADINGS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in table)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the locks as JSON.")
@global_options
@click.pass_context
def locks(ctx: click.Context, as_json: bool) -> None:
    """List the per-target locks: key, holder, since, age, action, reason, STALE.

    A STALE lock's process is gone: its action never finished. Look at the target, then
    `opsconsole --write locks break KEY --reason ...`.
    """
    if ctx.invoked_subcommand is not None:
        return
    config = load_or_exit(global_value(ctx, "config"))
    store = locks_for(config)
    try:
        found = asyncio.run(store.list())
    except Refused as exc:
        _fail(str(exc), EXIT_FAILED)
    now = utc_now()
    if as_json:
        click.echo(json.dumps({"store": store.describe(), "locks": [info.to_dict(now) for info in found]}, indent=2))
    else:
        say(f"{store.describe()}\n{render_locks(lock_rows(found, now))}")


@locks.command("break")
@click.argument("key")
@click.option("--reason", metavar="TEXT", help="Why (required): recorded in the audit file.")
@click.option("--task", metavar="T123", help="Phabricator task, added to the reason.")
@click.option("--yes", is_flag=True, help="Do not ask: break it.")
@global_options
@click.pass_context
def break_lock(ctx: click.Context, key: str, reason: str | None, task: str | None, yes: bool) -> None:
    """Remove the lock KEY (e.g. host:mw152) whoever holds it; audited."""
    config = load_or_exit(global_value(ctx, "config"))
    if not global_value(ctx, "write"):
        _fail("refused: breaking a lock is a write; add --write (the switch is logged)")
    operator = current_operator()
    try:
        why = Reason.make(reason, operator, task)
    except ValueError as exc:
        _fail(f"refused: {exc}")
    store = locks_for(config)
    now = utc_now()
    current = _current(store, key)
    if current is None:
        _fail(f"no lock {key} ({store.describe()}); `opsconsole locks` lists them", EXIT_FAILED)
    audit = AuditLog(config.actions.audit.path, secret_values(config))
    try:
        Session(operator).enable_write(audit, via="--write", extra={"command": ctx.command_path})
    except AuditError as exc:
        _fail(f"refused: {exc}; nothing was changed")
    say(f"{key}: {current.describe(now)}", err=True)
    if not yes:
        if not sys.stdin.isatty():
            _fail("refused: no terminal to confirm on; give --yes")
        answer = click.prompt(f"break the lock {key}? Type the key to proceed", default="", show_default=False, err=True)
        if answer.strip() != key:
            _fail("refused: not confirmed; nothing was changed")
    try:
        audit.append({"event": "lock-broken", "key": key, "user": operator.user, "host": operator.host,
                      "reason": str(why), "task": why.task, "lock": current.to_dict(now)})
    except AuditError as exc:
        _fail(f"refused: {exc}; nothing was changed")
    try:
        removed = asyncio.run(store.break_lock(key))
    except Refused as exc:
        _fail(str(exc), EXIT_FAILED)
    if removed is None:
        say(f"{key}: already released", err=True)
    else:
        say(f"broke {key} (was {removed.holder}: {removed.title or 'no action'})")


def _current(store: Any, key: str) -> LockInfo | None:
    try:
        found = asyncio.run(store.list())
    except Refused as exc:
        _fail(str(exc), EXIT_FAILED)
    return next((info for info in found if info.key == key), None)

