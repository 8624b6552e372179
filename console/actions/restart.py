"""Service restarts — one host, or rolling over a group in batches — and depool/repool as actions.

    directory = HostDirectory.from_store(store, config)               # names -> addresses
    action = RestartService("php-fpm", ("mw151", "mw152"), batch=2, directory=directory)
    plan = engine.plan(action, reason="php-fpm leak", task="T123")
    plan = engine.plan(Depool(("mw152",)), reason="disk check")       # from every cache
    plan = engine.plan(Repool(("mw152",)), reason="disk fixed")

The farm's habit (FARM.md), per batch and per host, the hosts of a batch at once:
  [Icinga downtime] → depool from EVERY cache (if the service says `depool: true`) → restart →
  health check (HTTP status or a command's exit 0, `attempts` × `interval`) → repool → [remove the downtime]

- Failure budget: after a batch, when more hosts failed than `failure_budget`, the run stops and the
  remaining batches are `skipped`.
- A host whose restart or health check failed is NOT repooled: its repool steps are `held`, the
  result says `LEFT DEPOOLED`, and the operator repools it by hand once it is fixed.
- Cancel (`engine.cancel(plan.id)`) is honoured between batches: the hosts in hand finish (and are
  repooled), the rest is skipped, the outcome is `cancelled`.
- Events: `batch` ("batch 2/5: mw153, mw154"), `step-started` / `step-finished` per step,
  `output` (command lines), `notice`. A rolling restart sends a SAL `START - ...` line first; the
  engine's end line then reads `END (PASS) - ...` or `END (FAIL) - ...`.

No Textual here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

import httpx

from console.actions.audit import sal_line
from console.actions.catalog import (
    JSON,
    MAX_DURATION,
    IcingaTarget,
    PlanContext,
    format_duration,
    icinga_filter,
    icinga_source,
    new_plan,
)  # fmt: skip
from console.actions.depool import (
    AUTO,
    HEALTHY,
    SICK,
    BackendTable,
    DepoolServiceExecutor,
    PoolFacts,
    cache_probe_failing,
    check_backend,
    host_fqdn,
    host_probes,
    pool_facts_now,
    read_backend_health,
    set_health_steps,
)  # fmt: skip
from console.actions.engine import RunContext, StepResult
from console.actions.executors import DOWN, FAILED, OK, REFUSED, SKIPPED, ClientExecutor, IcingaExecutor, Sent
from console.actions.guard import InvalidAction, NotConfigured, Refused
from console.actions.plan import HttpRequest, Plan, Risk, Step
from console.actions.specs import MakeContext, Offer, PrepareContext, Selection, Use, text, words
from console.core.config import AppConfig, HealthCheckConfig
from console.core.model import ProbeResult
from console.core.retry import Attempts, pause
from console.sources.httpclient import ssl_verify, transport_failure, transport_timeout
from console.sources.parsing import first_line

if TYPE_CHECKING:
    from console.core.hosts import HostDirectory

HELD = "held"  # a repool deliberately not done: the host's restart or check failed, it stays depooled
STILL_SICK = "sick"  # after a repool: the caches' probe (or the console's own) still fails, it gets no traffic
MAX_HOSTS = 500
LEFT_DEPOOLED = "LEFT DEPOOLED"


# --- the actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestartService:
    """Restart an allow-listed service (`actions.services`) on `hosts`, in batches.

    batch / failure_budget / downtime: None = the `actions.rolling` defaults; downtime is a timedelta
    (timedelta(0) = no Icinga downtime). `directory` resolves names to addresses (from the store);
    every host of the service's glob that it knows = the whole fleet (tier 3)."""

    service: str
    hosts: tuple[str, ...]
    batch: int | None = None
    failure_budget: int | None = None
    downtime: timedelta | None = None
    directory: HostDirectory | None = field(default=None, compare=False, repr=False)
    spec: ClassVar[str] = "restart"


@dataclass(frozen=True)
class Depool:
    """Set each host's backend `sick` on every cache: the caches stop sending it traffic.

    Only a backend of the caches: `facts` holds their backend lists, read just before planning
    (console.actions.depool.gather_pool_facts: the console reads them when the action screen opens);
    None = the plan reads them itself, blocking and bounded (the CLI)."""

    hosts: tuple[str, ...]
    facts: PoolFacts | None = field(default=None, compare=False, repr=False)
    spec: ClassVar[str] = "depool"


@dataclass(frozen=True)
class Repool:
    """Set each host's backend back to `auto` on every cache (its health probe decides again).

    `facts` as for Depool, with each host's open problems and probe results: a host still failing
    (a CRITICAL check of a service it serves, Icinga DOWN, a failing probe) makes the plan tier 2."""

    hosts: tuple[str, ...]
    facts: PoolFacts | None = field(default=None, compare=False, repr=False)
    spec: ClassVar[str] = "repool"


# --- planning --------------------------------------------------------------------------------------


def _hosts(hosts: tuple[str, ...]) -> list[str]:
    unique = list(dict.fromkeys(h.strip() for h in hosts if h and h.strip()))
    if not unique:
        raise InvalidAction("refused: give at least one host")
    if len(unique) > MAX_HOSTS:
        raise InvalidAction(f"refused: at most {MAX_HOSTS} hosts at once (got {len(unique)})")
    return unique


def _describe(hosts: list[str] | tuple[str, ...]) -> str:
    if len(hosts) == 1:
        return hosts[0]
    shown = ", ".join(hosts[:5]) + (" ..." if len(hosts) > 5 else "")
    return f"{len(hosts)} hosts ({shown})"


def _downtime_steps(context: PlanContext, host: str, seconds: int, start: int, batch: int) -> tuple[Step, Step]:
    """Schedule a fixed host downtime (all services) now; remove exactly that one afterwards."""
    source = icinga_source(context.config)
    kind, text, variables = icinga_filter(IcingaTarget(host))
    now = round(context.now.timestamp())
    comment = str(context.reason) if context.reason else "<reason>"
    body = {"type": kind, "filter": text, "filter_vars": variables, "author": context.operator.user,
            "comment": comment, "start_time": now, "end_time": now + seconds, "fixed": True, "duration": seconds,
            "all_services": True}
    schedule = Step(index=start, kind="schedule-downtime", executor=f"icinga:{source.name}", target=host, subject=host,
                    request=HttpRequest("POST", f"{source.url}/v1/actions/schedule-downtime", JSON, body), batch=batch)
    remove_body = {"type": "Downtime",
                   "filter": "downtime.host_name == opsconsole_host && downtime.author == opsconsole_author "
                             "&& downtime.comment == opsconsole_comment",
                   "filter_vars": {"opsconsole_host": host, "opsconsole_author": context.operator.user,
                                   "opsconsole_comment": comment},
                   "author": context.operator.user}
    remove = Step(index=start + 1, kind="remove-downtime", executor=f"icinga:{source.name}", target=host, subject=host,
                  request=HttpRequest("POST", f"{source.url}/v1/actions/remove-downtime", JSON, remove_body), batch=batch)
    return schedule, remove


def fill_check_url(config: AppConfig, check: HealthCheckConfig, host: str) -> str:
    assert check.http is not None
    try:
        return check.http.format(host=host, fqdn=host_fqdn(config, host))
    except (KeyError, IndexError):
        raise NotConfigured("refused: a health check URL may use {host} and {fqdn} only") from None


def _check_step(context: PlanContext, action: RestartService, host: str, index: int, batch: int) -> Step | None:
    from console.actions.commands import allowed_service, check_command

    check = allowed_service(context.config, action.service).check
    if check is None:
        return None
    tries = f"up to {check.attempts} attempts, {check.interval:g}s apart"
    if check.http is not None:
        headers = (("Host", check.host_header),) if check.host_header else ()
        request = HttpRequest("GET", fill_check_url(context.config, check, host), headers)
        return Step(index=index, kind="health-check", executor="http-check", target=host, subject=f"expect {check.expect}",
                    request=request, batch=batch, note=f"expect HTTP {check.expect}; {tries}")
    assert action.directory is not None
    command = check_command(context.config, action.service, host, action.directory)
    return Step(index=index, kind="health-check", executor=f"command:{context.config.actions.executor}", target=host,
                subject="exit 0", command=command, batch=batch, note=f"expect exit 0; {tries}")


def plan_restart(action: RestartService, context: PlanContext) -> Plan:
    from console.actions.commands import allowed_service, service_command, service_hosts

    config = context.config
    allowed = allowed_service(config, action.service)
    hosts = _hosts(action.hosts)
    rolling = config.actions.rolling
    batch_size = rolling.batch if action.batch is None else action.batch
    budget = rolling.failure_budget if action.failure_budget is None else action.failure_budget
    downtime = timedelta(seconds=rolling.downtime) if action.downtime is None else action.downtime
    if not 1 <= batch_size <= 100:
        raise InvalidAction("refused: the batch size must be between 1 and 100")
    if not 0 <= budget <= 100:
        raise InvalidAction("refused: the failure budget must be between 0 and 100")
    if not timedelta(0) <= downtime <= MAX_DURATION:
        raise InvalidAction("refused: the downtime must be 0 (none) or at most 366 days")
    if action.directory is None:
        raise NotConfigured("refused: no host inventory to resolve the hosts (the sources have not answered yet)")
    seconds = round(downtime.total_seconds())
    steps: list[Step] = []
    batches = [hosts[i:i + batch_size] for i in range(0, len(hosts), batch_size)]
    for number, batch_hosts in enumerate(batches):
        for host in batch_hosts:
            command = service_command(config, action.service, host, action.directory)
            host = command.host
            remove = None
            if seconds:
                schedule, remove = _downtime_steps(context, host, seconds, len(steps), number)
                steps.append(schedule)
            if allowed.depool:
                steps += set_health_steps(config, host, SICK, "depool", len(steps), number)
            steps.append(Step(index=len(steps), kind="restart", executor=f"command:{config.actions.executor}",
                              target=host, subject=action.service, command=command, batch=number))
            check = _check_step(context, action, host, len(steps), number)
            if check is not None:
                steps.append(check)
            if allowed.depool:
                steps += set_health_steps(config, host, AUTO, "repool", len(steps), number)
            if remove is not None:
                steps.append(replace(remove, index=len(steps)))
    targets = tuple(dict.fromkeys(s.target for s in steps))
    fleet = service_hosts(config, action.service, action.directory)
    whole_fleet = len(targets) > 1 and set(fleet) <= set(targets)
    rolling_word = "rolling restart" if len(batches) > 1 else "restart"
    what = _describe(targets)
    title = f"{rolling_word} of {action.service} on {what}"
    if len(batches) > 1:
        title += f" in {len(batches)} batches of {batch_size}"
    notes = [f"failure budget {budget}: the run stops when more than {budget} host(s) failed",
             "a host whose restart or health check fails is left DEPOOLED (never repooled broken)"
             if allowed.depool else "the service is not depooled around its restart (depool: false)",
             f"Icinga downtime {format_duration(downtime)} per host, removed after" if seconds else "no Icinga downtime"]
    if len(batches) > 1:
        notes.append("cancel stops between batches: the hosts in hand finish and are repooled")
        if rolling.settle:
            notes.append(f"waits {rolling.settle:g}s after each batch before the next")
    if whole_fleet:
        notes.append(f"this is every known host of {action.service} ({allowed.hosts})")
    return new_plan(
        context, action="restart", title=title, targets=targets,
        risk=Risk.IRREVERSIBLE if whole_fleet else Risk.SEVERAL, steps=tuple(steps),
        confirm_word=action.service if whole_fleet else None,
        key=f"restart:{action.service}:" + "\n".join(sorted(targets)),
        log_summary=f"{rolling_word} of {action.service} on {what}", notes=tuple(notes),
    )  # fmt: skip


def plan_pool(action: Depool | Repool, context: PlanContext) -> Plan:
    depool = isinstance(action, Depool)
    config = context.config
    hosts = [check_backend(h) for h in _hosts(action.hosts)]
    if not config.actions.caches:
        raise NotConfigured("refused: no caches are configured (actions.caches), so nothing can be depooled")
    verb, past = ("depool", "depooled") if depool else ("repool", "repooled")
    facts = action.facts if action.facts is not None else \
        pool_facts_now(config, context.operator, hosts, repool=not depool)
    notes = _backends_checked(facts.backends, hosts, verb)  # refuses a host that is no backend
    steps: list[Step] = []
    for host in hosts:
        steps += set_health_steps(config, host, SICK if depool else AUTO, verb, len(steps))
    caches = len(config.actions.caches)
    what = _describe(hosts)
    failing: list[str] = []
    if depool:
        notes.append("the caches stop sending these app servers traffic until they are repooled")
    else:
        warnings, health = _repool_health(facts, hosts)
        failing = [host for host, _ in warnings]
        notes[:0] = [f"{host} IS STILL FAILING: {why}; a repool now puts it back behind the caches' probe only — "
                     "type `go` if that is what you mean (tier 2)" for host, why in warnings]
        notes += health
        notes += ["repool sets the backend to `auto`: the caches' health probe decides again, so a server that is "
                  "still broken stays out on its own",
                  "after the repool every cache's backend list is read again: a server the caches' probe still "
                  "fails (or whose own probe fails) is reported `sick`"]
    title = f"{verb} {what} {'from' if depool else 'on'} {caches} caches"
    if failing:
        title += f" (still failing: {', '.join(failing[:5])}{' ...' if len(failing) > 5 else ''})"
    return new_plan(
        context, action=verb, title=title, targets=tuple(hosts),
        risk=Risk.REVERSIBLE if len(hosts) == 1 and not failing else Risk.SEVERAL, steps=tuple(steps),
        key="pool:" + "\n".join(sorted(hosts)),
        log_summary=f"{past} {what} {'from' if depool else 'on'} {caches} caches", notes=tuple(notes),
    )  # fmt: skip


def _backends_checked(table: BackendTable, hosts: list[str], verb: str) -> list[str]:
    """Refuse (InvalidAction) when a host is on no cache's backend list; notes for what was not checked."""
    answered = [cache for cache in table.caches if cache not in table.errors]
    unread = [f"{cache}: {error}" for cache, error in table.errors.items()]
    if not answered:
        return [f"NOT CHECKED that {_describe(hosts)} {'is a backend' if len(hosts) == 1 else 'are backends'} of the "
                f"caches: no cache's backend list could be read ({'; '.join(unread)})"]
    listed = {name for _, name in table.cells}
    strangers = [host for host in hosts if host not in listed]
    if strangers:
        many = len(strangers) > 1
        raise InvalidAction(
            f"refused: {', '.join(strangers[:10])}{' ...' if len(strangers) > 10 else ''} "
            f"{'are not backends' if many else 'is not a backend'} of the caches (checked the backend lists of "
            f"{', '.join(answered)}"
            + (f"; not read: {'; '.join(unread)}" if unread else "")
            + f"); {verb} is only for the caches' app servers, so nothing was sent")
    notes = []
    for host in hosts:
        missing = [cache for cache in answered if (cache, host) not in table.cells]
        if missing:
            notes.append(f"{host} is not a backend of {', '.join(missing)}: that cache will answer 404")
    if unread:
        notes.append(f"backend lists not read: {'; '.join(unread)}")
    return notes


def _repool_health(facts: PoolFacts, hosts: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """([(host, why it is still failing)], notes: each host's open problems and probe results)."""
    table = facts.backends
    warnings: list[tuple[str, str]] = []
    notes: list[str] = []
    for host in hosts:
        health = facts.health.get(host)
        cells = [(cache, table.cells[(cache, host)]) for cache in table.caches if (cache, host) in table.cells]
        why = []
        bad = [cache for cache, cell in cells if cache_probe_failing(cell)]
        if bad:
            why.append(f"the caches' probe fails ({', '.join(bad)})")
        if health is not None:
            if health.state is not None and not health.state.up:
                why.append(f"Icinga says the host is {health.state.state_name}")
            if health.critical:
                why.append(f"{', '.join(check.service for check in health.critical)} CRITICAL")
            if health.failing_probes:
                why.append(f"probe {', '.join(probe.label for probe in health.failing_probes)} fails")
            problems = [f"{check.service} {check.state.name}"
                        + (f" ({first_line(check.output, 100)})" if check.output else "")
                        + (" [handled]" if check.handled else "") for check in health.problems]
            if health.state is not None and not health.state.up:
                problems.insert(0, f"host {health.state.state_name}"
                                   + (f" ({first_line(health.state.output, 100)})" if health.state.output else ""))
            served = ", ".join(health.services) or "none configured"
            notes.append(f"{host} open problems of its services ({served}): "
                         + ("; ".join(problems) if problems else "none"))
        probes = [f"{cache} {cell.probe or '-'} {cell.health}" for cache, cell in cells]
        if health is not None:
            probes += [f"{probe.label}: {first_line(probe.detail, 80) or ('ok' if probe.ok else 'failed')}"
                       for probe in health.probes]
        notes.append(f"{host} probes: " + ("; ".join(probes) if probes else "none read"))
        if why:
            warnings.append((host, "; ".join(why)))
    notes += [f"not read: {what}" for what in facts.unread]
    return warnings, notes


# --- from a spec's values (console.actions.specs), and where the `a` menu offers them ------------------


def _whole_number(value: Any, what: str, lowest: int) -> int | None:
    """An int option: the CLI's int, the form's text; None when left empty (the config's default)."""
    if value is None or isinstance(value, int):
        return value
    given = str(value).strip()
    if not given:
        return None
    try:
        number = int(given)
    except ValueError:
        raise InvalidAction(f"refused: the {what} must be a whole number (got {given[:20]!r})") from None
    if number < lowest:
        raise InvalidAction(f"refused: the {what} must be at least {lowest}")
    return number


def downtime_of(value: Any) -> timedelta | None:
    """`15m`; `0`, `none` or `no`: no downtime; None when not given (actions.rolling.downtime)."""
    from console.actions.catalog import parse_duration

    given = text(value)
    if given is None:
        return None
    return timedelta(0) if given.lower() in ("0", "none", "no") else parse_duration(given)


def form_defaults(config: AppConfig) -> dict[str, str]:
    """The restart form's batch, failure budget and downtime, from `actions.rolling`."""
    rolling = config.actions.rolling
    return {"batch": str(rolling.batch), "budget": str(rolling.failure_budget),
            "downtime": format_duration(timedelta(seconds=rolling.downtime)) if rolling.downtime else "0"}


def make_restart(values: Mapping[str, Any], context: MakeContext) -> RestartService:
    """SERVICE on HOSTs; no HOST: every host of the service's glob the inventory knows."""
    from console.actions.commands import allowed_service, service_hosts

    service = text(values.get("service")) or ""
    allowed_service(context.config, service)
    batch = _whole_number(values.get("batch"), "batch size", 1)
    budget = _whole_number(values.get("budget"), "failure budget", 0)
    downtime = downtime_of(values.get("downtime"))
    directory = context.directory()
    hosts = words(values.get("hosts")) or tuple(service_hosts(context.config, service, directory))
    if not hosts:
        raise InvalidAction(f"refused: no known host matches {service}'s hosts")
    return RestartService(service, hosts, batch, budget, downtime, directory)


def make_depool(values: Mapping[str, Any], context: MakeContext) -> Depool:
    return Depool(words(values.get("hosts")))


def make_repool(values: Mapping[str, Any], context: MakeContext) -> Repool:
    return Repool(words(values.get("hosts")))


def offer_restart(spec: Any, use: Use, selection: Selection) -> list[Offer]:
    """On Hosts rows: a restart of each allow-listed service whose hosts' glob holds every row."""
    from fnmatch import fnmatchcase

    config = selection.config
    if not config.actions.executor or not selection.hosts:
        return []
    return [Offer(f"restart:{service}", f"restart {service}", spec, {"service": service, "hosts": selection.hosts})
            for service, allowed in config.actions.services.items()
            if all(fnmatchcase(name, allowed.hosts) for name in selection.hosts)]


def offer_rolling_restart(spec: Any, use: Use, selection: Selection) -> list[Offer]:
    """On a Services row: a rolling restart of the service over every host of its glob, when allow-listed."""
    from console.actions.commands import service_hosts
    from console.core.hosts import HostDirectory

    config = selection.config
    service = selection.service
    if not config.actions.executor or service not in config.actions.services:
        return []
    try:
        hosts = tuple(service_hosts(config, service, HostDirectory.from_store(selection.store, config)))
    except Refused:
        return []
    if not hosts:
        return []
    return [Offer(f"rolling:{service}", f"rolling restart of {service} ({len(hosts)} hosts)", spec,
                  {"service": service, "hosts": hosts})]


def offer_pool(spec: Any, use: Use, selection: Selection) -> list[Offer]:
    """Depool and repool only for the caches' backends: every row must be in each `backends` source's
    lists once it has answered (a job runner or a hypervisor is not offered them)."""
    from console.core.model import BackendSnapshot

    if not selection.config.actions.caches or not selection.hosts:
        return []
    names = {name.lower() for name in selection.hosts}
    for snapshot in selection.store.data_of_kind("backends"):
        if isinstance(snapshot, BackendSnapshot) and not names <= snapshot.names():
            return []
    return [Offer(use.id or spec.name, spec.label, spec, {"hosts": selection.hosts})]


async def prepare_pool(action: Depool | Repool, context: PrepareContext) -> Depool | Repool:
    """Before the form: every cache's backend list read afresh, and for a repool the hosts' checks and
    probes from the store (console.actions.depool.gather_pool_facts)."""
    from console.actions.depool import gather_pool_facts

    commands = None
    if context.config.actions.depool.method == "varnishadm" and context.writable:
        try:
            commands = context.engine.command_executor()
        except Refused:
            commands = None
    names = tuple(name.lower() for name in action.hosts)
    facts = await gather_pool_facts(context.config, names, session=context.engine.session,
                                    repool=isinstance(action, Repool), commands=commands, store=context.store)
    return replace(action, hosts=names, facts=facts)


# --- running ---------------------------------------------------------------------------------------


class _Runner:
    """Carries out one plan's steps; every step goes through `step()` (events + a StepResult)."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.config = run.config

    async def step(self, step: Step) -> StepResult:
        await self.run.emit("step-started", _started(step), step=step)
        try:
            sent = await self._execute(step)
        except Refused as exc:
            sent = Sent(REFUSED, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - one step's surprise is its failure, never the run's
            sent = Sent(FAILED, None, f"{type(exc).__name__}: {exc}"[:200])
        detail = _first_of(sent.detail)
        await self.run.emit("step-finished", f"{step.target}: {step.kind} {sent.status} {detail}", step=step,
                            status=sent.status)
        return self.run.result(step, sent.status, detail, sent.http_status)

    async def skip(self, step: Step, why: str, status: str = SKIPPED) -> StepResult:
        await self.run.emit("step-finished", f"{step.target}: {step.kind} {status}: {why}", step=step, status=status)
        return self.run.result(step, status, why)

    async def _execute(self, step: Step) -> Sent:
        if step.executor.startswith("icinga:"):
            executor = self._icinga()
            return await executor.execute(step)
        if step.executor.startswith("depool:"):
            return await self._depool(step.executor).set_health(step)
        if step.kind == "health-check":
            return await self._health_check(step)
        assert step.command is not None
        return await self._command(step)

    async def _command(self, step: Step) -> Sent:
        assert step.command is not None

        async def output(line: str) -> None:
            await self.run.emit("output", f"{step.target}: {line}", step=step)

        result = await self.run.commands().run(step.command, on_output=output)
        detail = result.detail or result.status
        if step.executor.startswith("command:") and step.kind in ("depool", "repool"):
            detail = f"{step.subject}: {detail}"
        return Sent(OK if result.ok else result.status, result.exit_status, detail)

    async def _health_check(self, step: Step) -> Sent:
        from console.actions.commands import allowed_service

        service = next(s.subject for s in self.run.plan.steps if s.kind == "restart")
        check = allowed_service(self.config, service).check
        assert check is not None
        last = Sent(FAILED, None, "not checked")
        async for attempt in Attempts(check.attempts, check.interval):
            if step.request is not None:
                last = await self._http_check(step.request, check)
            else:
                assert step.command is not None
                result = await self.run.commands().run(step.command)
                last = Sent(OK if result.ok else FAILED, result.exit_status, result.detail or result.status)
            if last.status == OK:
                return Sent(OK, last.http_status, f"healthy ({last.detail}) after {attempt} attempt(s)")
            if attempt < check.attempts:
                await self.run.emit("output", f"{step.target}: check {attempt}/{check.attempts}: {last.detail}", step=step)
        return Sent(FAILED, last.http_status, f"unhealthy after {check.attempts} attempts: {last.detail}")

    async def _http_check(self, request: HttpRequest, check: HealthCheckConfig) -> Sent:
        client = self.run.http("http-check", lambda: _HttpCheck(self.run.engine.session, check.timeout))
        assert isinstance(client, _HttpCheck)
        try:
            response = await client.read(request)
        except (httpx.HTTPError, OSError) as exc:
            if isinstance(exc, httpx.TimeoutException):
                return Sent(DOWN, None, f"timed out after {check.timeout:g}s")
            return Sent(DOWN, None, transport_failure(request.url, exc))
        if response.status_code == check.expect:
            return Sent(OK, response.status_code, f"HTTP {response.status_code}")
        return Sent(FAILED, response.status_code, f"HTTP {response.status_code}, expected {check.expect}")

    def _icinga(self) -> IcingaExecutor:
        source = icinga_source(self.config)
        made = self.run.http(f"icinga:{source.name}",
                             lambda: IcingaExecutor(source, self.run.engine.session, self.config.actions.timeout))
        assert isinstance(made, IcingaExecutor)
        return made

    def _depool(self, name: str) -> DepoolServiceExecutor:
        cache = next(c for c in self.config.actions.caches if f"depool:{c.name}" == name)
        made = self.run.http(name, lambda: DepoolServiceExecutor(self.config, cache, self.run.engine.session))
        assert isinstance(made, DepoolServiceExecutor)
        return made


class _HttpCheck(ClientExecutor):
    """Plain GETs of the health check URL (a read: no session check needed)."""

    name = "http-check"

    def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=ssl_verify(True), timeout=transport_timeout(self.timeout), follow_redirects=False)


def _first_of(detail: str) -> str:
    """Icinga answers one message per object (a host downtime and each of its services'): keep the first."""
    parts = detail.split("; ")
    return parts[0] if len(parts) == 1 else f"{parts[0]} (+{len(parts) - 1} more)"


def _started(step: Step) -> str:
    if step.kind in ("depool", "repool"):
        return f"{step.target}: {step.kind} on {step.subject}"
    if step.kind == "restart":
        return f"{step.target}: restart {step.subject}"
    return f"{step.target}: {step.kind}"


async def _run_host(runner: _Runner, steps: list[Step]) -> tuple[list[StepResult], bool, bool]:
    """One host's steps in order. Returns (results, failed, left_depooled)."""
    results: list[StepResult] = []
    by_kind: dict[str, list[Step]] = {}
    for step in steps:
        by_kind.setdefault(step.kind, []).append(step)
    host = steps[0].target

    async def skip_all(kinds: tuple[str, ...], why: str, status: str = SKIPPED) -> None:
        for kind in kinds:
            for step in by_kind.get(kind, []):
                results.append(await runner.skip(step, why, status))

    async def remove_downtime() -> None:
        for step in by_kind.get("remove-downtime", []):
            results.append(await runner.step(step))

    for step in by_kind.get("schedule-downtime", []):
        done = await runner.step(step)
        results.append(done)
        if not done.good:
            await skip_all(("depool", "restart", "health-check", "repool", "remove-downtime"),
                           "not started: the Icinga downtime could not be scheduled")
            return results, True, False
    depools = by_kind.get("depool", [])
    depooled = list(await asyncio.gather(*(runner.step(s) for s in depools)))
    results += depooled
    if any(not r.good for r in depooled):
        # out of some caches only: put it back where it went out, restart nothing
        went_out = {r.index for r in depooled if r.good}
        for depool_step, repool_step in zip(depools, by_kind.get("repool", []), strict=False):
            if depool_step.index in went_out:
                results.append(await runner.step(repool_step))
            else:
                results.append(await runner.skip(repool_step, "was not depooled from this cache"))
        await skip_all(("restart", "health-check"), "not started: the depool failed on a cache")
        await remove_downtime()
        return results, True, False
    broken = None
    for kind in ("restart", "health-check"):
        for step in by_kind.get(kind, []):
            if broken is not None:
                results.append(await runner.skip(step, f"not started: the {broken} failed"))
                continue
            done = await runner.step(step)
            results.append(done)
            if not done.good:
                broken = "restart" if kind == "restart" else "health check"
    if broken is not None:
        repools = by_kind.get("repool", [])
        if repools:
            why = (f"{LEFT_DEPOOLED}: {host} is NOT repooled because its {broken} failed; fix it, then "
                   f"`opsconsole repool {host}`")
            await skip_all(("repool",), why, HELD)
            await runner.run.emit("notice", why)
        await remove_downtime()
        return results, True, bool(repools)
    repooled = list(await asyncio.gather(*(runner.step(s) for s in by_kind.get("repool", []))))
    results += repooled
    await remove_downtime()
    failed_repool = any(not r.good for r in repooled)
    if failed_repool:
        await runner.run.emit("notice", f"{LEFT_DEPOOLED}: {host} could not be repooled on every cache; "
                                        f"`opsconsole repool {host}`")
    return results, failed_repool, failed_repool


async def run_restart(run: RunContext) -> list[StepResult]:
    runner_ = _Runner(run)
    plan = run.plan
    budget = _budget(plan)
    batches: dict[int, dict[str, list[Step]]] = {}
    for step in plan.steps:
        batches.setdefault(step.batch or 0, {}).setdefault(step.target, []).append(step)
    order = sorted(batches)
    if run.engine.sal is not None:  # every restart: the engine closes it with END (PASS|FAIL)
        try:
            await run.engine.sal.send(sal_line(str(plan.operator), f"START - {plan.log_summary}"
                                               + (f" - {plan.reason.for_log()}" if plan.reason else "")))
        except OSError as exc:
            await run.emit("notice", f"server admin log START line not written: {exc}")
    results: list[StepResult] = []
    failed_hosts: list[str] = []
    left_depooled: list[str] = []
    stop_why = None
    settle = run.config.actions.rolling.settle
    for position, number in enumerate(order):
        hosts = batches[number]
        if stop_why is None and position > 0 and run.cancelled.is_set():
            stop_why = "not started: cancelled by the operator"
            run.stopped_by_cancel = True
        if stop_why is not None:
            for steps in hosts.values():
                for step in steps:
                    results.append(await runner_.skip(step, stop_why))
            continue
        await run.emit("batch", f"batch {position + 1}/{len(order)}: {', '.join(hosts)}")
        outcomes = await asyncio.gather(*(_run_host(runner_, steps) for steps in hosts.values()))
        for host, (host_results, failed, held) in zip(hosts, outcomes, strict=False):
            results += host_results
            if failed:
                failed_hosts.append(host)
            if held:
                left_depooled.append(host)
        if len(failed_hosts) > budget:
            stop_why = (f"not started: {len(failed_hosts)} host(s) failed ({', '.join(failed_hosts)}), "
                        f"over the failure budget of {budget}")
            await run.emit("notice", f"stopping: {stop_why.removeprefix('not started: ')}")
            continue
        if position + 1 < len(order) and settle and not run.cancelled.is_set():
            await pause(settle, run.cancelled)  # let the caches' probes see the repooled hosts; a cancel cuts it short
    if left_depooled:
        await run.emit("notice", f"{LEFT_DEPOOLED}: {', '.join(left_depooled)} (repool once fixed)")
    return sorted(results, key=lambda r: r.index)


def _budget(plan: Plan) -> int:
    for note in plan.notes:
        if note.startswith("failure budget "):
            return int(note.split()[2].rstrip(":"))
    return 0


async def run_depool(run: RunContext) -> list[StepResult]:
    """Every cache's backend set `sick` at once."""
    runner_ = _Runner(run)
    return list(await asyncio.gather(*(runner_.step(step) for step in run.plan.steps)))


async def run_repool(run: RunContext) -> list[StepResult]:
    """Every cache's backend back to `auto` at once, then whether the host is still sick (_after_repool)."""
    results = await run_depool(run)
    return results + await _after_repool(run, results)


async def _after_repool(run: RunContext, results: list[StepResult]) -> list[StepResult]:
    """One result per repooled host (its index after the plan's steps; it is a read, not a step):
    every cache's backend list read again, and the console's own probes of the host. `sick` when the
    caches' probe (or one of ours) still fails: repooled, but it gets no traffic — said, not hidden."""
    from console.sources.probes import ProbesSource

    config = run.config
    hosts = [host for host in run.plan.targets if any(r.target == host and r.status == OK for r in results)]
    if not hosts:
        return []
    commands = None
    if config.actions.depool.method == "varnishadm":
        try:
            commands = run.commands()
        except Refused:
            commands = None
    prober = ProbesSource([])
    wanted = {host: host_probes(config, host) for host in hosts}

    async def probe(host: str) -> list[ProbeResult]:
        return list(await asyncio.gather(*(prober.run(service, probe) for service, probe in wanted[host])))

    async def probe_all() -> list[list[ProbeResult]]:
        return list(await asyncio.gather(*(probe(host) for host in hosts)))

    table, probed = await asyncio.gather(read_backend_health(config, run.engine.session, commands), probe_all())
    out: list[StepResult] = []
    for offset, (host, probes) in enumerate(zip(hosts, probed, strict=True)):
        cells = [(cache, table.cells[(cache, host)]) for cache in table.caches if (cache, host) in table.cells]
        sick = [f"{cache} {cell.probe}".strip() for cache, cell in cells if cell.admin == "probe" and cell.health == SICK]
        healthy = [cache for cache, cell in cells if cell.admin == "probe" and cell.health == HEALTHY]
        failing = [f"{probe.label}: {first_line(probe.detail, 80)}" for probe in probes if not probe.ok]
        if sick:
            status, detail = STILL_SICK, (f"repooled (auto) but STILL FAILING: the caches' probe says sick on "
                                          f"{', '.join(sick)}" + "".join(f"; {f}" for f in failing)
                                          + ": they send it no traffic until their probe passes; fix it (no need "
                                          "to repool again)")
        elif failing:
            status, detail = STILL_SICK, (f"repooled (auto), the caches' probe passes, but STILL FAILING: "
                                          f"{'; '.join(failing)}")
        elif healthy:
            status, detail = OK, f"healthy on {len(healthy)}/{len(table.caches)} caches" + (
                f"; {', '.join(probe.label for probe in probes)} ok" if probes else "")
        else:
            unread = "; ".join(f"{cache}: {error}" for cache, error in table.errors.items())
            status, detail = SKIPPED, "not checked: " + (unread or "no cache lists it")
        await run.emit("step-finished", f"{host}: after the repool: {status}: {detail}", status=status)
        out.append(StepResult(len(run.plan.steps) + offset, "after-repool", host, "the caches' probe", status, detail))
    return out


def left_depooled(steps: list[StepResult] | tuple[StepResult, ...]) -> list[str]:
    """The hosts a result left out of the caches on purpose (their repool is `held`)."""
    return list(dict.fromkeys(s.target for s in steps if s.status == HELD))


__all__ = ["Depool", "HELD", "LEFT_DEPOOLED", "Repool", "RestartService", "STILL_SICK", "left_depooled"]
