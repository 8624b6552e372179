"""Running one action from the command line: plan, then a dry run, or guard + confirm + run, and the
plan or the result printed — through the same engine, guard and audit as the console. The commands
themselves are made from the specs (console/cli/actions.py).

Exit codes: 0 the action succeeded (or a dry run printed its plan), 1 it ran but partly or wholly
failed, 2 it was refused before anything was sent (read-only, no reason, not confirmed, bad
arguments or config).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Callable

import click

from console.actions import (
    SUCCESS,
    Action,
    ActionEngine,
    ActionEvent,
    AuditError,
    Confirmation,
    Refused,
    Risk,
    Session,
    confirmation_from_flags,
    current_operator,
)  # fmt: skip
from console.actions.plan import Plan
from console.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    global_value,
    load_or_exit,
    say,
)
from console.core.config import AppConfig


def stdin_is_terminal() -> bool:
    """Whether there is a terminal to ask on (replaced in tests)."""
    return sys.stdin.isatty()


def _emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _refuse(message: str, as_json: bool, plan: Plan | None = None) -> None:
    if as_json:
        _emit_json({"outcome": "refused", "message": f"refused: {message}", "plan": plan.to_dict() if plan else None})
    say(f"opsconsole: refused: {message}", err=True)
    sys.exit(EXIT_REFUSED)


def _ask(plan: Plan, engine: ActionEngine) -> Confirmation | None:
    """Show the plan and ask on the terminal; None when there is no terminal."""
    if not stdin_is_terminal():
        return None
    say(plan.render(), err=True)
    challenge = engine.challenge(plan)
    answer = click.prompt(challenge.prompt, default="", show_default=False, err=True, prompt_suffix=" ")
    return Confirmation(answer, via="terminal")


def _progress(as_json: bool) -> Callable[[ActionEvent], None]:
    def show(event: ActionEvent) -> None:
        if not as_json and event.kind in ("step-finished", "verified", "batch", "notice", "output"):
            say(f"  {event.message}", err=True)

    return show


def run_action(ctx: click.Context, build: Callable[[], Action], *, reason: str | None, task: str | None,
               dry_run: bool, as_json: bool, yes: bool, confirm: str | None, cancel_on_interrupt: bool = False,
               config: AppConfig | None = None) -> None:
    """Plan, then dry-run or guard + confirm + run; print the plan/result and exit with its code."""
    config = config or load_or_exit(global_value(ctx, "config"))
    engine = ActionEngine(config, Session(current_operator()))
    try:
        plan = engine.plan(build(), reason, task)
    except Refused as exc:
        _refuse(str(exc).removeprefix("refused: "), as_json)
    if dry_run:
        engine.dry_run(plan)
        _emit_json({"dry_run": True, "plan": plan.to_dict()}) if as_json else say(plan.render())
        sys.exit(EXIT_OK)
    if not global_value(ctx, "write"):
        _refuse("this session is read-only, so the action was refused and nothing was sent; "
                "add --write to allow changes (the switch is logged), or --dry-run to see the plan", as_json, plan)
    if plan.reason is None:
        _refuse("a reason is required for every write: --reason TEXT", as_json, plan)
    try:
        engine.session.enable_write(engine.audit, via="--write", extra={"command": ctx.command_path})
    except AuditError as exc:
        _refuse(f"{exc}; nothing was sent", as_json, plan)
    confirmation = confirmation_from_flags(plan, yes, confirm)
    if confirmation is None and yes and plan.risk is Risk.IRREVERSIBLE:
        _refuse(f"{plan.risk.label}: --yes also needs --confirm {plan.confirm_word}", as_json, plan)
    if confirmation is None:
        confirmation = _ask(plan, engine)
        if confirmation is None:
            _refuse("no terminal to confirm on; give --yes (and --confirm TARGET for tier 3) to run without one",
                    as_json, plan)

    async def go():
        if cancel_on_interrupt:  # a rolling action: Ctrl-C asks it to stop between batches, never mid-host
            _cancel_on_interrupt(engine, plan)
        try:
            return await engine.run(plan, confirmation, on_event=_progress(as_json))
        finally:
            await engine.aclose()

    try:
        result = asyncio.run(go())
    except Refused as exc:
        _refuse(str(exc).removeprefix("refused: "), as_json, plan)
    if as_json:
        _emit_json({"dry_run": False, "plan": plan.to_dict(), "result": result.to_dict()})
    else:
        say(result.render())
    sys.exit(EXIT_OK if result.outcome == SUCCESS else EXIT_FAILED)


def _cancel_on_interrupt(engine: ActionEngine, plan: Plan) -> None:
    import signal

    def interrupted() -> None:
        engine.cancel(plan.id)
        say("  Ctrl-C: stopping after the batch in hand (its hosts finish and are repooled); "
                   "the remaining batches are skipped", err=True)

    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupted)


