"""What an action will do, before it does anything: a Plan of steps, each with its exact request.

Plain data (frozen dataclasses), no I/O: the dry run prints it, the guard judges it, the audit
records it, the executors carry it out, and a future TUI screen shows it.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from console.core.display import refuse_controls, safe

TASK_PATTERN = re.compile(r"T[1-9][0-9]{0,8}")
MAX_REASON = 300  # one SAL line has to carry it


class Risk(IntEnum):
    """How careful the confirmation must be (spicerack-style tiers)."""

    REVERSIBLE = 1  # one target, reversible: y/N, No by default
    SEVERAL = 2  # several targets, or a restart: type `go`
    IRREVERSIBLE = 3  # irreversible or the whole fleet: type the target's name

    @property
    def label(self) -> str:
        return {1: "tier 1 (reversible, one target)", 2: "tier 2 (several targets)",
                3: "tier 3 (irreversible or whole fleet)"}[int(self)]


@dataclass(frozen=True)
class Operator:
    """Who acts, from where: `user@host` as the server admin log writes it."""

    user: str
    host: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}"


def current_operator() -> Operator:
    """The person at the keyboard (SUDO_USER behind sudo) and the short name of this host."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    return Operator(user, socket.gethostname().split(".")[0] or "localhost")


@dataclass(frozen=True)
class Reason:
    """Why: recorded everywhere as `<reason> - <user>@<host> - T123` (the task is optional)."""

    text: str
    operator: Operator
    task: str | None = None

    @classmethod
    def make(cls, text: str | None, operator: Operator, task: str | None = None) -> Reason:
        """Validate and build a reason; raise ValueError saying what is wrong."""
        cleaned = " ".join((text or "").split())
        if not cleaned:
            raise ValueError("a reason is required for every write (--reason TEXT)")
        if any(ch in (text or "") for ch in "\r\n\x00"):
            raise ValueError("the reason must be one line")
        # ESC, IRC formatting codes (C0), C1 and bidi controls would reach SAL's channel, the audit and
        # Icinga's comments as formatting or as terminal commands
        refuse_controls((text or "").replace("\t", " "), "the reason")
        if len(cleaned) > MAX_REASON:
            raise ValueError(f"the reason is too long ({len(cleaned)} characters; at most {MAX_REASON})")
        task_id = None
        if task:
            task_id = task.strip().upper()
            task_id = task_id if task_id.startswith("T") else "T" + task_id
            if not TASK_PATTERN.fullmatch(task_id):
                raise ValueError(f"the task must look like T123 (got {task.strip()[:20]!r})")
        return cls(cleaned, operator, task_id)

    def __str__(self) -> str:
        return " - ".join([self.text, str(self.operator), *([self.task] if self.task else [])])

    def for_log(self) -> str:
        """What follows the action in a SAL line: `<reason> - T123` (user@host is already in front)."""
        return " - ".join([self.text, *([self.task] if self.task else [])])


@dataclass(frozen=True)
class HttpRequest:
    """One request exactly as it will be sent; credentials are added by the executor, never here."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None  # JSON-able, sent as application/json

    def header_dict(self) -> dict[str, str]:
        return dict(self.headers)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "url": self.url, "headers": dict(self.headers)}
        if self.body is not None:
            data["body"] = self.body
        return data

    def render(self) -> str:
        lines = [f"{self.method} {self.url}"] + [f"  {k}: {v}" for k, v in self.headers]
        if self.body is not None:
            lines.append("  " + json.dumps(self.body, sort_keys=True))
        return "\n".join(lines)


@dataclass(frozen=True)
class Command:
    """One allow-listed command on one host, exactly as it will run (over SSH, or through Salt).

    `line` comes from the config's allow-list, never from operator input. With Salt, `salt_function`
    (e.g. service.restart + salt_args) is called instead of `cmd.run line` when the config gives one."""

    host: str  # the short host name (mw152)
    address: str  # what the executor connects to / targets: the FQDN or the minion id
    line: str
    timeout: float
    salt_function: str | None = None
    salt_args: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"host": self.host, "address": self.address, "line": self.line, "timeout": self.timeout}
        if self.salt_function:
            data["salt"] = {"function": self.salt_function, "args": list(self.salt_args)}
        return data

    def render(self) -> str:
        salt = f"  (salt: {self.salt_function} {' '.join(self.salt_args)})" if self.salt_function else ""
        return f"on {self.address}: {self.line}{salt}"


@dataclass(frozen=True)
class Step:
    """One request to one target. `executor` names who sends it (a cache name or `icinga:<source>`);
    `precheck` re-reads the state right before (the alert still exists); `verify` reads after."""

    index: int
    kind: str  # purge | ban | acknowledge-problem | remove-acknowledgement | schedule-downtime | remove-downtime | reschedule-check
    executor: str
    target: str
    subject: str  # the URL, the pattern, or the Icinga object
    request: HttpRequest | None = None  # an HTTP step ...
    precheck: HttpRequest | None = None
    verify: HttpRequest | None = None
    command: Command | None = None  # ... or a command step
    batch: int | None = None  # rolling actions: the batch this step belongs to (0-based)
    note: str = ""  # what a step without a request or command does ("wait for the health check")

    @property
    def http_request(self) -> HttpRequest:
        """The request of an HTTP step (the plan builders give every such step one)."""
        if self.request is None:
            raise ValueError(f"step {self.index} ({self.kind} {self.target}) has no request")
        return self.request

    @property
    def host_command(self) -> Command:
        """The command of a command step (the plan builders give every such step one)."""
        if self.command is None:
            raise ValueError(f"step {self.index} ({self.kind} {self.target}) has no command")
        return self.command

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "kind": self.kind, "executor": self.executor, "target": self.target,
                                "subject": self.subject}
        if self.request is not None:
            data["request"] = self.request.to_dict()
        if self.command is not None:
            data["command"] = self.command.to_dict()
        if self.batch is not None:
            data["batch"] = self.batch
        if self.note:
            data["note"] = self.note
        if self.precheck is not None:
            data["precheck"] = self.precheck.to_dict()
        if self.verify is not None:
            data["verify"] = self.verify.to_dict()
        return data


@dataclass(frozen=True)
class Plan:
    """An action made concrete: what, on which targets, how risky, and every request in order."""

    id: str
    action: str  # purge | ban | ack | unack | downtime-add | downtime-remove | recheck
    title: str  # "purge 1 URL from 4 caches"
    targets: tuple[str, ...]
    risk: Risk
    steps: tuple[Step, ...]
    created_at: datetime
    operator: Operator
    reason: Reason | None = None
    confirm_word: str | None = None  # tier 3: what the operator must type
    key: str = ""  # the same key = the same action (a second start while running is refused)
    log_summary: str = ""  # the SAL line's verb phrase, completed with the outcome
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def executors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.executor for step in self.steps))

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-able data (`--dry-run --json`, the audit intent record)."""
        return {
            "id": self.id,
            "action": self.action,
            "title": self.title,
            "targets": list(self.targets),
            "risk": {"tier": int(self.risk), "label": self.risk.label},
            "confirm": self.confirm_word,
            "operator": str(self.operator),
            "reason": str(self.reason) if self.reason else None,
            "task": self.reason.task if self.reason else None,
            "created_at": self.created_at.isoformat(),
            "notes": list(self.notes),
            "steps": [step.to_dict() for step in self.steps],
        }

    def render(self) -> str:
        """The plan for a terminal: title, tier, reason, then each step's request. Display-safe
        (console.core.display): names, URLs and requests as identifiers, the title, reason and notes as
        prose; no control character and no line break that is not the plan's own."""
        lines = [
            f"plan {self.id[:8]}: {safe(self.title)}",
            f"  risk:    {self.risk.label}",
            f"  targets: {', '.join(safe(target, identifier=True) for target in self.targets)}",
            f"  reason:  {safe(self.reason) if self.reason else '(none given; required to run)'}",
        ]
        lines += [f"  note:    {safe(note)}" for note in self.notes]
        for step in self.steps:
            batch = f"[batch {step.batch + 1}] " if step.batch is not None else ""
            lines.append(f"step {step.index + 1}: {batch}{safe(step.kind)} {safe(step.subject, identifier=True)} "
                         f"on {safe(step.target, identifier=True)}")
            if step.precheck is not None:
                lines.append("  re-read first: " + _request_lines(step.precheck))
            if step.request is not None:
                lines.append("  " + _request_lines(step.request))
            if step.command is not None:
                lines.append("  " + safe(step.command.render(), identifier=True))
            if step.note:
                lines.append("  " + safe(step.note))
            if step.verify is not None:
                lines.append("  then verify: " + _request_lines(step.verify))
        return "\n".join(lines)


def _request_lines(request: HttpRequest) -> str:
    """A request as Plan.render shows it: each of its lines display-safe, indented under the step."""
    return "\n  ".join(safe(line, identifier=True) for line in request.render().split("\n"))
