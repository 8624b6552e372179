"""Where the actions beyond purge/ban/Icinga plug in: a module defines its action type, a plan
builder and a runner, and registers both here (console/actions/__init__.py imports the modules).

    @plan_builder(RestartService)
    def _plan_restart(action: RestartService, context: PlanContext) -> Plan: ...

    @runner("restart")            # Plan.action
    async def _run_restart(run: RunContext) -> list[StepResult]: ...
"""

from __future__ import annotations

from typing import Any, Callable

PLAN_BUILDERS: dict[type, Callable[..., Any]] = {}
RUNNERS: dict[str, Callable[..., Any]] = {}
SAL_START_END: set[str] = set()  # long actions: a `START - ...` SAL line first, the end line `END (PASS|FAIL) - ...`


def plan_builder(action_type: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `function(action, context) -> Plan` for actions of `action_type`."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        PLAN_BUILDERS[action_type] = function
        return function

    return register


def runner(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `async function(run: RunContext) -> list[StepResult]` for plans whose `action` is `action`."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        RUNNERS[action] = function
        return function

    return register
