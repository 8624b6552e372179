"""The action commands: purge, ban, ack, unack, downtime add/remove, recheck — through the same
engine, guard and audit as the console.

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
    Acknowledge,
    Action,
    ActionEngine,
    ActionEvent,
    AuditError,
    BanPattern,
    Confirmation,
    IcingaTarget,
    PurgeUrls,
    Recheck,
    Refused,
    RemoveAcknowledgement,
    RemoveDowntime,
    Risk,
    ScheduleDowntime,
    Session,
    confirmation_from_flags,
    current_operator,
    parse_duration,
)  # fmt: skip
from console.actions.plan import Plan
from console.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    action_options,
    global_options,
    global_value,
    load_or_exit,
    say,
)


def stdin_is_terminal() -> bool:
    """Whether there is a terminal to ask on (replaced in tests)."""
    return sys.stdin.isatty()


def _targets(values: tuple[str, ...]) -> tuple[IcingaTarget, ...]:
    return tuple(IcingaTarget.parse(value) for value in values)


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
               dry_run: bool, as_json: bool, yes: bool, confirm: str | None, cancel_on_interrupt: bool = False) -> None:
    """Plan, then dry-run or guard + confirm + run; print the plan/result and exit with its code."""
    config = load_or_exit(global_value(ctx, "config"))
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


# --- the commands ------------------------------------------------------------------------------


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@action_options
@click.pass_context
def purge(ctx: click.Context, urls: tuple[str, ...], **options: Any) -> None:
    """Purge URLs from every configured cache, then verify with a GET through each.

    Tier 1 for one URL, tier 2 for several. A cache that refuses (405) or is down is reported,
    and the result is partial (exit 1).
    """
    run_action(ctx, lambda: PurgeUrls(urls), **options)


@click.command()
@click.argument("pattern")
@click.option("--host", "host", required=True, metavar="HOST", help="The site whose objects are banned (Host header).")
@action_options
@click.pass_context
def ban(ctx: click.Context, pattern: str, host: str, **options: Any) -> None:
    """Ban every object of HOST whose URL matches the regex PATTERN, on every cache (tier 3)."""
    run_action(ctx, lambda: BanPattern(host, pattern), **options)


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="HOST[!SERVICE]...")
@click.option("--sticky", is_flag=True, help="Keep the acknowledgement until the check is OK again.")
@click.option("--expire", metavar="DURATION", help="Remove the acknowledgement after DURATION (30m, 2h, 1d).")
@click.option("--notify/--no-notify", default=True, show_default=True, help="Send the acknowledgement notification.")
@action_options
@click.pass_context
def ack(ctx: click.Context, targets: tuple[str, ...], sticky: bool, expire: str | None, notify: bool, **options: Any) -> None:
    """Acknowledge the problem of HOST or HOST!SERVICE in Icinga (the comment is the reason)."""
    run_action(ctx, lambda: Acknowledge(_targets(targets), sticky, parse_duration(expire) if expire else None, notify),
               **options)


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="HOST[!SERVICE]...")
@action_options
@click.pass_context
def unack(ctx: click.Context, targets: tuple[str, ...], **options: Any) -> None:
    """Remove the acknowledgement of HOST or HOST!SERVICE."""
    run_action(ctx, lambda: RemoveAcknowledgement(_targets(targets)), **options)


@click.group()
@global_options
def downtime() -> None:
    """Schedule or remove Icinga downtime."""


@downtime.command("add")
@click.argument("targets", nargs=-1, required=True, metavar="HOST[!SERVICE]...")
@click.option("--duration", required=True, metavar="DURATION", help="How long, from now: 30m, 2h, 1d, 1h30m.")
@click.option("--all-services", is_flag=True, help="For a HOST: its services too (tier 2).")
@action_options
@click.pass_context
def downtime_add(ctx: click.Context, targets: tuple[str, ...], duration: str, all_services: bool, **options: Any) -> None:
    """Schedule a fixed downtime starting now."""
    run_action(ctx, lambda: ScheduleDowntime(_targets(targets), parse_duration(duration), all_services), **options)


@downtime.command("remove")
@click.argument("targets", nargs=-1, required=True, metavar="HOST[!SERVICE]...")
@click.option("--all-services", is_flag=True, help="For a HOST: every downtime on it, its services' too (tier 2).")
@action_options
@click.pass_context
def downtime_remove(ctx: click.Context, targets: tuple[str, ...], all_services: bool, **options: Any) -> None:
    """Remove the downtime of HOST or HOST!SERVICE."""
    run_action(ctx, lambda: RemoveDowntime(_targets(targets), all_services), **options)


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="HOST[!SERVICE]...")
@action_options
@click.pass_context
def recheck(ctx: click.Context, targets: tuple[str, ...], **options: Any) -> None:
    """Re-check HOST or HOST!SERVICE now (reschedule-check with force)."""
    run_action(ctx, lambda: Recheck(_targets(targets)), **options)
