"""Breaking a per-target lock as an action (the leftovers board's clean-up for an old or STALE lock):
plan → reason → the tier's confirmation → audit, like every action.

    plan = engine.plan(BreakLock("host:mw152"), reason="its restart died an hour ago")

The plan's target is `lock:<key>`, so the engine's own lock for this action (`lock:host:mw152`) never
collides with the lock being broken (`host:mw152`). Tier 2: the holder may still be running, and its
action then continues without the protection of its lock. No Textual here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from console.actions.catalog import PlanContext, new_plan
from console.actions.engine import RunContext, StepResult
from console.actions.executors import FAILED, OK, SKIPPED
from console.actions.guard import InvalidAction, Refused
from console.actions.locks import locks_for, target_of
from console.actions.plan import Plan, Risk, Step
from console.actions.specs import MakeContext, text

MAX_KEY = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOCK_TARGET_PREFIX = "lock:"


@dataclass(frozen=True)
class BreakLock:
    """Remove the lock `key` (`host:mw152`, `icinga:mw152!PHP-FPM`, `url:https://...`) whoever holds it."""

    key: str
    spec: ClassVar[str] = "break-lock"


def check_lock_key(key: str) -> str:
    """A lock key as `opsconsole locks` lists it; InvalidAction for anything else."""
    cleaned = key.strip()
    if not cleaned or len(cleaned) > MAX_KEY or _CONTROL.search(cleaned):
        raise InvalidAction("refused: give the lock's key as `opsconsole locks` lists it (host:mw152), "
                            f"at most {MAX_KEY} characters, without control characters")
    if ":" not in cleaned:
        raise InvalidAction(f"refused: {cleaned[:60]!r} is not a lock key (KIND:TARGET, e.g. host:mw152)")
    return cleaned


def make_break_lock(values: Mapping[str, Any], context: MakeContext) -> BreakLock:
    return BreakLock(text(values.get("key")) or "")


def plan_break_lock(action: BreakLock, context: PlanContext) -> Plan:
    key = check_lock_key(action.key)
    target = LOCK_TARGET_PREFIX + key
    where = "Redis" if context.config.actions.locks.redis else "the lock directory"
    step = Step(index=0, kind="break-lock", executor=f"locks:{'redis' if context.config.actions.locks.redis else 'file'}",
                target=target, subject=key, note=f"remove the lock {key} from {where}, whoever holds it")
    return new_plan(
        context, action="break-lock", title=f"break the lock {key}", targets=(target,), risk=Risk.SEVERAL,
        steps=(step,), key=f"break-lock:{key}", log_summary=f"broke the lock {key}",
        notes=(f"{target_of(key)} becomes free for any operator's action; if the holder is still running, it "
               "continues without its lock (look at the target first)",),
    )  # fmt: skip


async def run_break_lock(run: RunContext) -> list[StepResult]:
    results = []
    store = locks_for(run.config, run.engine.clock)
    for step in run.plan.steps:
        await run.emit("step-started", f"break {step.subject}", step=step)
        try:
            removed = await store.break_lock(step.subject)
        except Refused as exc:  # LockError: Redis unreachable, a file that is not ours
            status, detail = FAILED, str(exc).removeprefix("refused: ")
        else:
            if removed is None:
                status, detail = SKIPPED, "already released: nothing to break"
            else:
                what = removed.title or "no action"
                stale = ", STALE" if removed.stale else ""
                status, detail = OK, f"broke it (was {removed.holder}{stale}: {what})"
        await run.emit("step-finished", f"{step.subject}: {status} {detail}", step=step, status=status)
        results.append(run.result(step, status, detail))
    return results


__all__ = ["BreakLock", "check_lock_key"]
