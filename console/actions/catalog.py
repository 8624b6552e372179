"""The actions an operator can take, and how each becomes a Plan (pure: no network, no clock but the one given).

Varnish: purge URLs from every configured cache, ban by pattern. Icinga: acknowledge, remove the
acknowledgement, schedule and remove downtime, re-check now. Names travel to Icinga as `filter_vars`,
never spliced into the filter text, so no host or service name can change what a filter selects.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Mapping, Protocol
from urllib.parse import urlsplit

import idna

from console.actions.guard import InvalidAction, NotConfigured
from console.actions.plan import HttpRequest, Operator, Plan, Reason, Risk, Step
from console.actions.specs import MakeContext, spec_named, text, words
from console.core.config import AppConfig, CacheConfig, IcingaConfig
from console.core.display import control_characters, safe

MAX_URLS = 100
MAX_URL_LENGTH = 4096  # longer request lines are refused by caches and servers anyway (8 KiB header limits)
MAX_DURATION = timedelta(days=366)
_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
JSON = (("Accept", "application/json"),)
QUERY = (("Accept", "application/json"), ("X-HTTP-Method-Override", "GET"))


# --- the actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IcingaTarget:
    """A host (`mw152`) or a service on a host (`mw152!PHP-FPM`)."""

    host: str
    service: str | None = None

    @classmethod
    def parse(cls, text: str) -> IcingaTarget:
        """`HOST` or `HOST!SERVICE`; raise InvalidAction for anything else."""
        host, sep, service = text.strip().partition("!")
        host, service = host.strip(), service.strip()
        if not host or (sep and not service):
            raise InvalidAction(f"refused: {text!r} is not HOST or HOST!SERVICE")
        for part in (host, service):
            if _CONTROL.search(part) or len(part) > 255:
                raise InvalidAction(f"refused: {text[:60]!r} contains control characters or is too long")
        if "!" in service:
            raise InvalidAction(f"refused: {text!r} has more than one '!'")
        return cls(host, service or None)

    @property
    def is_host(self) -> bool:
        return self.service is None

    def __str__(self) -> str:
        return self.host if self.service is None else f"{self.host}!{self.service}"


@dataclass(frozen=True)
class PurgeUrls:
    """HTTP PURGE of each URL on every configured cache, then a GET through each to verify."""

    spec: ClassVar[str] = "purge"
    urls: tuple[str, ...]


@dataclass(frozen=True)
class BanPattern:
    """HTTP BAN on every cache: objects of `host` whose URL matches the regex `pattern` (X-Ban-Url)."""

    spec: ClassVar[str] = "ban"
    host: str
    pattern: str


@dataclass(frozen=True)
class Acknowledge:
    spec: ClassVar[str] = "ack"
    targets: tuple[IcingaTarget, ...]
    sticky: bool = False
    expire: timedelta | None = None
    notify: bool = True


@dataclass(frozen=True)
class RemoveAcknowledgement:
    spec: ClassVar[str] = "unack"
    targets: tuple[IcingaTarget, ...]


@dataclass(frozen=True)
class ScheduleDowntime:
    spec: ClassVar[str] = "downtime-add"
    targets: tuple[IcingaTarget, ...]
    duration: timedelta
    all_services: bool = False  # for a host: its services too


@dataclass(frozen=True)
class RemoveDowntime:
    spec: ClassVar[str] = "downtime-remove"
    targets: tuple[IcingaTarget, ...]
    all_services: bool = False  # for a host: every downtime on it, its services' too


@dataclass(frozen=True)
class Recheck:
    spec: ClassVar[str] = "recheck"
    targets: tuple[IcingaTarget, ...]


@dataclass(frozen=True)
class AcknowledgeAndDowntime:
    """Acknowledge and schedule a fixed downtime, one comment for both: one plan, two requests per target."""

    spec: ClassVar[str] = "ack-downtime"
    targets: tuple[IcingaTarget, ...]
    duration: timedelta


class Action(Protocol):
    """What the engine plans: a frozen dataclass of one action's parameters; `spec` names its
    ActionSpec (console.actions.specs), which says how it becomes a plan and how that plan runs."""

    @property
    def spec(self) -> str: ...


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `1d`, `1h30m`, `1w`; raise InvalidAction otherwise (or when 0 or over a year)."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or _DURATION_PART.sub("", cleaned):
        raise InvalidAction(f"refused: {text!r} is not a duration like 30m, 2h, 1d or 1h30m")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION_PART.findall(cleaned))
    duration = timedelta(seconds=seconds)
    if not timedelta(0) < duration <= MAX_DURATION:
        raise InvalidAction(f"refused: the duration {text!r} must be more than 0 and at most 366 days")
    return duration


def format_duration(duration: timedelta) -> str:
    """2h, 1h30m, 45s — the shortest exact way to write it."""
    seconds = int(duration.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


# --- planning --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanContext:
    config: AppConfig
    operator: Operator
    reason: Reason | None
    now: datetime


def icinga_source(config: AppConfig) -> IcingaConfig:
    """The icinga source actions go through: `actions.icinga`, else the first configured."""
    sources = config.sources.icinga
    if not sources:
        raise NotConfigured("refused: no icinga source is configured (sources.icinga), so no Icinga action can run")
    wanted = config.actions.icinga
    for source in sources:
        if wanted is None or source.name == wanted:
            return source
    raise NotConfigured(f"refused: actions.icinga names {wanted!r}, which is not a configured icinga source")


def caches(config: AppConfig) -> list[CacheConfig]:
    if not config.actions.caches:
        raise NotConfigured("refused: no caches are configured (actions.caches), so nothing can be purged or banned")
    return list(config.actions.caches)


def build_plan(action: Action, context: PlanContext) -> Plan:
    """The plan of `action` by its spec: every request, the targets, the tier. Raise InvalidAction/NotConfigured."""
    try:
        spec = spec_named(action.spec)
    except (KeyError, AttributeError):
        raise InvalidAction(f"refused: unknown action {type(action).__name__}") from None
    return spec.build_plan(action, context)


def new_plan(context: PlanContext, **fields: Any) -> Plan:
    """A Plan with a new id, made now by the context's operator for its reason; `fields` give the rest."""
    if "title" in fields:  # built from names a backend or the operator gave: display-safe in the audit, SAL, GELF
        fields["title"] = safe(fields["title"])
    return Plan(id=uuid.uuid4().hex, created_at=context.now, operator=context.operator, reason=context.reason, **fields)


def _cache_url(cache: CacheConfig, path: str) -> str:
    return cache.url.rstrip("/") + path


def normalise_url(text: str) -> tuple[str, str, str]:
    """(url, Host header, path+query) of a URL to purge; raise InvalidAction when it is not one."""
    url = text.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidAction(f"refused: a URL to purge has at most {MAX_URL_LENGTH} characters (got {len(url)})")
    if any(0xD800 <= ord(char) < 0xE000 for char in url):  # bytes that were not UTF-8 (surrogate-escaped argv)
        raise InvalidAction(f"refused: {url[:80]!r} is not valid UTF-8")
    if safe(url, identifier=True) != url.replace(" ", ""):  # C0, C1, DEL, bidi, zero-width: spaces below
        found = ", ".join(control_characters(url)[:3]) or "an invisible character"
        raise InvalidAction(f"refused: {url[:80]!r} contains control or invisible characters ({found})")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidAction(f"refused: {url[:80]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidAction(f"refused: {url[:80]!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise InvalidAction("refused: a URL to purge must not carry credentials")
    if _CONTROL.search(url) or " " in url:
        raise InvalidAction(f"refused: {url[:80]!r} contains spaces or control characters")
    host = _ascii_host(parts.hostname.lower())
    if not _HOSTNAME.fullmatch(host):
        raise InvalidAction(f"refused: {host[:80]!r} is not a host name")
    host_header = f"{host}:{port}" if port else host
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts._replace(netloc=host_header, fragment="").geturl(), host_header, path


def _ascii_host(host: str) -> str:
    """An internationalised host name in its ASCII form (punycode, UTS 46), as the caches see it."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidAction(f"refused: {host[:80]!r} is not a valid international domain name ({exc})") from None


def plan_purge(action: PurgeUrls, context: PlanContext) -> Plan:
    targets = list(dict.fromkeys(normalise_url(url) for url in action.urls))
    if not targets:
        raise InvalidAction("refused: give at least one URL to purge")
    if len(targets) > MAX_URLS:
        raise InvalidAction(f"refused: at most {MAX_URLS} URLs per purge (got {len(targets)})")
    all_caches = caches(context.config)
    steps: list[Step] = []
    for url, host, path in targets:
        for cache in all_caches:
            headers = (("Host", host),)
            steps.append(Step(
                index=len(steps), kind="purge", executor=f"cache:{cache.name}", target=cache.name, subject=url,
                request=HttpRequest("PURGE", _cache_url(cache, path), headers),
                verify=HttpRequest("GET", _cache_url(cache, path), headers),
            ))  # fmt: skip
    urls = tuple(url for url, _, _ in targets)
    what = urls[0] if len(urls) == 1 else f"{len(urls)} URLs"
    return new_plan(
        context, action="purge", title=f"purge {what} from {len(all_caches)} caches", targets=urls,
        risk=Risk.REVERSIBLE if len(urls) == 1 else Risk.SEVERAL, steps=tuple(steps),
        key="purge:" + "\n".join(sorted(urls)), log_summary=f"purged {what}",
        notes=("a purged object is fetched again from the app servers on its next request",),
    )  # fmt: skip


def _check_pattern(pattern: str) -> str:
    pattern = pattern.strip()
    if not pattern:
        raise InvalidAction("refused: the ban pattern is empty")
    if len(pattern) > 200 or _CONTROL.search(pattern) or any(c.isspace() for c in pattern) or '"' in pattern:
        raise InvalidAction("refused: the ban pattern must be one regex without spaces or quotes, at most 200 characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidAction(f"refused: the ban pattern is not a valid regex: {exc}") from None
    return pattern


def plan_ban(action: BanPattern, context: PlanContext) -> Plan:
    host = action.host.strip().lower()
    if not _HOSTNAME.fullmatch(host):
        raise InvalidAction(f"refused: --host {action.host[:80]!r} is not a host name")
    pattern = _check_pattern(action.pattern)
    all_caches = caches(context.config)
    steps = tuple(
        Step(index=i, kind="ban", executor=f"cache:{cache.name}", target=cache.name, subject=f"{host} {pattern}",
             request=HttpRequest("BAN", _cache_url(cache, "/"), (("Host", host), ("X-Ban-Url", pattern))))
        for i, cache in enumerate(all_caches)
    )
    return new_plan(
        context, action="ban", title=f"ban {pattern} on {host} from {len(all_caches)} caches", targets=(host,),
        risk=Risk.IRREVERSIBLE, steps=steps, confirm_word=host, key=f"ban:{host}:{pattern}",
        log_summary=f"banned {pattern} on {host}",
        notes=("a ban cannot be undone: every matching object is fetched again from the app servers",),
    )  # fmt: skip


# --- Icinga ------------------------------------------------------------------------------------


def icinga_filter(target: IcingaTarget) -> tuple[str, str, dict[str, str]]:
    """(type, filter, filter_vars) selecting exactly `target`; the names are data, not filter text."""
    if target.is_host:
        return "Host", "host.name == opsconsole_host", {"opsconsole_host": target.host}
    return ("Service", "host.name == opsconsole_host && service.name == opsconsole_service",
            {"opsconsole_host": target.host, "opsconsole_service": target.service or ""})


def _state_query(source: IcingaConfig, target: IcingaTarget) -> HttpRequest:
    kind, text, variables = icinga_filter(target)
    body = {"filter": text, "filter_vars": variables, "attrs": ["name", "state", "acknowledgement", "downtime_depth"]}
    return HttpRequest("POST", f"{source.url}/v1/objects/{kind.lower()}s", QUERY, body)


def _downtime_query(source: IcingaConfig, target: IcingaTarget, all_services: bool) -> HttpRequest:
    variables = {"opsconsole_host": target.host}
    text = "downtime.host_name == opsconsole_host"
    if target.service is not None:
        text += " && downtime.service_name == opsconsole_service"
        variables["opsconsole_service"] = target.service
    elif not all_services:
        text += ' && downtime.service_name == ""'
    body = {"filter": text, "filter_vars": variables, "attrs": ["name", "host_name", "service_name"]}
    return HttpRequest("POST", f"{source.url}/v1/objects/downtimes", QUERY, body)


def _icinga_steps(context: PlanContext, targets: tuple[IcingaTarget, ...], kind: str,
                  body_for: Any, precheck_for: Any = None) -> tuple[Step, ...]:
    source = icinga_source(context.config)
    unique = list(dict.fromkeys(targets))
    if not unique:
        raise InvalidAction("refused: give at least one HOST or HOST!SERVICE")
    steps: list[Step] = []
    for target in unique:
        object_type, text, variables = icinga_filter(target)
        body = {"type": object_type, "filter": text, "filter_vars": variables, **body_for(target)}
        precheck = precheck_for(source, target) if precheck_for else _state_query(source, target)
        steps.append(Step(
            index=len(steps), kind=kind, executor=f"icinga:{source.name}", target=str(target), subject=str(target),
            request=HttpRequest("POST", f"{source.url}/v1/actions/{kind}", JSON, body), precheck=precheck,
        ))  # fmt: skip
    return tuple(steps)


def _comment(context: PlanContext) -> dict[str, str]:
    return {"author": context.operator.user, "comment": str(context.reason) if context.reason else ""}


def _icinga_plan(context: PlanContext, action: str, verbs: tuple[str, str], steps: tuple[Step, ...],
                 wide: bool = False, detail: str = "", notes: tuple[str, ...] = ()) -> Plan:
    """verbs: (imperative for the title, past tense for the SAL line)."""
    targets = tuple(step.target for step in steps)
    what = targets[0] if len(targets) == 1 else f"{len(targets)} objects ({', '.join(targets)})"
    return new_plan(
        context, action=action, title=f"{verbs[0]} {what}{detail}", targets=targets,
        risk=Risk.REVERSIBLE if len(targets) == 1 and not wide else Risk.SEVERAL, steps=steps,
        key=f"{action}:" + "\n".join(sorted(targets)), log_summary=f"{verbs[1]} {what}{detail}", notes=notes,
    )  # fmt: skip


def plan_ack(action: Acknowledge, context: PlanContext) -> Plan:
    expiry = context.now + action.expire if action.expire else None
    if action.expire is not None and not timedelta(0) < action.expire <= MAX_DURATION:
        raise InvalidAction("refused: --expire must be more than 0 and at most 366 days")

    def body(target: IcingaTarget) -> dict[str, Any]:
        extra: dict[str, Any] = {**_comment(context), "sticky": action.sticky, "notify": action.notify}
        if expiry is not None:
            extra["expiry"] = round(expiry.timestamp())
        return extra

    steps = _icinga_steps(context, action.targets, "acknowledge-problem", body)
    flags = [word for word, on in (("sticky", action.sticky),) if on]
    if action.expire:
        flags.append(f"expires in {format_duration(action.expire)}")
    detail = f" ({', '.join(flags)})" if flags else ""
    return _icinga_plan(context, "ack", ("acknowledge", "acknowledged"), steps, detail=detail)


def plan_unack(action: RemoveAcknowledgement, context: PlanContext) -> Plan:
    steps = _icinga_steps(context, action.targets, "remove-acknowledgement", lambda target: {"author": context.operator.user})
    return _icinga_plan(context, "unack", ("remove the acknowledgement of", "removed the acknowledgement of"), steps)


def plan_downtime_add(action: ScheduleDowntime, context: PlanContext) -> Plan:
    if not timedelta(0) < action.duration <= MAX_DURATION:
        raise InvalidAction("refused: --duration must be more than 0 and at most 366 days")
    if action.all_services and any(not t.is_host for t in action.targets):
        raise InvalidAction("refused: --all-services applies to a HOST, not to HOST!SERVICE")
    start = round(context.now.timestamp())
    seconds = round(action.duration.total_seconds())

    def body(target: IcingaTarget) -> dict[str, Any]:
        extra: dict[str, Any] = {**_comment(context), "start_time": start, "end_time": start + seconds,
                                 "fixed": True, "duration": seconds}
        if target.is_host:
            extra["all_services"] = action.all_services
        return extra

    steps = _icinga_steps(context, action.targets, "schedule-downtime", body)
    detail = f" for {format_duration(action.duration)}" + (" (and all its services)" if action.all_services else "")
    return _icinga_plan(context, "downtime-add", ("schedule downtime of", "scheduled downtime of"), steps,
                        wide=action.all_services, detail=detail)


def plan_downtime_remove(action: RemoveDowntime, context: PlanContext) -> Plan:
    if action.all_services and any(not t.is_host for t in action.targets):
        raise InvalidAction("refused: --all-services applies to a HOST, not to HOST!SERVICE")
    source = icinga_source(context.config)
    steps = []
    for step in _icinga_steps(context, action.targets, "remove-downtime", lambda target: {"author": context.operator.user},
                              lambda src, target: _downtime_query(src, target, action.all_services)):
        target = IcingaTarget.parse(step.target)
        if target.is_host and action.all_services:
            # every downtime on the host, its services' included: select the Downtime objects themselves
            query = _downtime_query(source, target, True).body
            body = {"type": "Downtime", "filter": query["filter"], "filter_vars": query["filter_vars"],
                    "author": context.operator.user}
            step = Step(index=step.index, kind=step.kind, executor=step.executor, target=step.target,
                        subject=step.subject, request=HttpRequest("POST", step.http_request.url, JSON, body),
                        precheck=step.precheck)
        steps.append(step)
    detail = " (and all its services)" if action.all_services else ""
    return _icinga_plan(context, "downtime-remove", ("remove the downtime of", "removed the downtime of"), tuple(steps),
                        wide=action.all_services,
                        detail=detail)


def plan_recheck(action: Recheck, context: PlanContext) -> Plan:
    steps = _icinga_steps(context, action.targets, "reschedule-check", lambda target: {"force": True})
    return _icinga_plan(context, "recheck", ("re-check now", "forced a re-check of"), steps)


def plan_ack_downtime(action: AcknowledgeAndDowntime, context: PlanContext) -> Plan:
    """Per target, the acknowledgement and then the downtime, with the same comment (the reason)."""
    if not timedelta(0) < action.duration <= MAX_DURATION:
        raise InvalidAction("refused: --duration must be more than 0 and at most 366 days")
    start = round(context.now.timestamp())
    seconds = round(action.duration.total_seconds())
    acks = _icinga_steps(context, action.targets, "acknowledge-problem",
                         lambda target: {**_comment(context), "sticky": False, "notify": True})
    downtimes = _icinga_steps(context, action.targets, "schedule-downtime",
                              lambda target: {**_comment(context), "start_time": start, "end_time": start + seconds,
                                              "fixed": True, "duration": seconds})
    steps = tuple(dataclasses.replace(step, index=index)
                  for index, step in enumerate(step for pair in zip(acks, downtimes, strict=True) for step in pair))
    targets = tuple(dict.fromkeys(step.target for step in steps))
    what = targets[0] if len(targets) == 1 else f"{len(targets)} objects ({', '.join(targets)})"
    detail = f" and downtime for {format_duration(action.duration)}"
    return new_plan(
        context, action="ack-downtime", title=f"acknowledge {what}{detail}", targets=targets,
        risk=Risk.REVERSIBLE if len(targets) == 1 else Risk.SEVERAL, steps=steps,
        key="ack-downtime:" + "\n".join(sorted(targets)), log_summary=f"acknowledged {what}{detail}",
    )  # fmt: skip


# --- from a spec's values (console.actions.specs): the CLI's, or what the console's form holds ---------


def icinga_targets(values: Mapping[str, Any]) -> tuple[IcingaTarget, ...]:
    """The targets typed (HOST or HOST!SERVICE, parsed: no control character) or given by the rows
    (IcingaTargets as Icinga names them, whatever they hold: they travel as filter_vars, never as text)."""
    given = values.get("targets")
    if isinstance(given, (tuple, list)) and all(isinstance(item, IcingaTarget) for item in given):
        return tuple(given)
    return tuple(IcingaTarget.parse(value) for value in words(given))


def duration_of(values: Mapping[str, Any], name: str = "duration") -> timedelta:
    given = text(values.get(name))
    if given is None:
        raise InvalidAction(f"refused: give a --{name} like 30m, 2h, 1d")
    return parse_duration(given)


def make_purge(values: Mapping[str, Any], context: MakeContext) -> PurgeUrls:
    return PurgeUrls(words(values.get("urls")))


def make_ban(values: Mapping[str, Any], context: MakeContext) -> BanPattern:
    return BanPattern(text(values.get("host")) or "", text(values.get("pattern")) or "")


def make_ack(values: Mapping[str, Any], context: MakeContext) -> Acknowledge:
    expire = text(values.get("expire"))
    notify = values.get("notify")
    return Acknowledge(icinga_targets(values), bool(values.get("sticky")), parse_duration(expire) if expire else None,
                       True if notify is None else bool(notify))


def make_unack(values: Mapping[str, Any], context: MakeContext) -> RemoveAcknowledgement:
    return RemoveAcknowledgement(icinga_targets(values))


def make_ack_downtime(values: Mapping[str, Any], context: MakeContext) -> AcknowledgeAndDowntime:
    return AcknowledgeAndDowntime(icinga_targets(values), duration_of(values))


def make_downtime_add(values: Mapping[str, Any], context: MakeContext) -> ScheduleDowntime:
    return ScheduleDowntime(icinga_targets(values), duration_of(values), bool(values.get("all_services")))


def make_downtime_remove(values: Mapping[str, Any], context: MakeContext) -> RemoveDowntime:
    return RemoveDowntime(icinga_targets(values), bool(values.get("all_services")))


def make_recheck(values: Mapping[str, Any], context: MakeContext) -> Recheck:
    return Recheck(icinga_targets(values))
