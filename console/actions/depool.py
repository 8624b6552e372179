"""Taking an app server out of the caches and back: the farm's depool service, or varnishadm.

Two methods (`actions.depool.method`):
- `service`: on each cache host, `POST /backend/<host>/<sick|healthy|auto>` and `GET /backend/list`,
  every request with an `X-TOTP` header (RFC 6238, console/actions/totp.py). The service is at the
  cache's `depool:` URL, else at the host of the cache's `url` on `actions.depool.port`.
- `varnishadm`: `varnishadm backend.set_health <host> sick|auto` run on each cache host through the
  command executor (SSH or Salt); `backend.list` for the table.

Repool means `auto`, not `healthy`: `auto` hands the backend back to Varnish's health probe, so a
server that is still broken stays out on its own; `healthy` would force traffic to it whatever the
probe says.

No Textual here. `read_backend_health(config, session)` gives the UI and `opsconsole backends`
a plain table: cache × backend → health.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlsplit

import httpx
import pyotp

from console.actions.executors import DOWN, FAILED, OK, REFUSED, ClientExecutor, Sent
from console.actions.guard import InvalidAction, NotConfigured, Refused, Session
from console.actions.plan import Command, HttpRequest, Operator, Step
from console.core.config import AppConfig, CacheConfig, ProbeConfig, ServiceConfig
from console.core.hosts import short_name
from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ProbeResult, ProbeSnapshot, ServiceCheck
from console.sources.bounded import bounded_request
from console.sources.httpclient import ssl_verify, transport_timeout
from console.sources.parsing import first_line

if TYPE_CHECKING:
    from console.core.state import Store

SICK, HEALTHY, AUTO = "sick", "healthy", "auto"
DEPOOL_STATE = SICK
REPOOL_STATE = AUTO  # back to probe-driven health: a still-broken server stays out on its own
BACKEND_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def check_backend(host: str) -> str:
    """A short host name usable as a backend name (it goes into a URL path and a command line)."""
    name = host.strip().lower()
    if not BACKEND_NAME.fullmatch(name):
        raise InvalidAction(f"refused: {host[:60]!r} is not a short host name (mw151)")
    return name


def depool_url(config: AppConfig, cache: CacheConfig) -> str:
    """Where the depool service of `cache` answers: its `depool:` URL, else its host on actions.depool.port."""
    if cache.depool:
        return cache.depool.rstrip("/")
    settings = config.actions.depool
    host = urlsplit(cache.url).hostname or cache.name
    if ":" in host:
        host = f"[{host}]"
    return f"{settings.scheme}://{host}:{settings.port}"


def host_fqdn(config: AppConfig, host: str) -> str:
    """mw151 → mw151.fsslc.wtnet (the first of farm.domains); a name with a dot is kept."""
    if "." in host or not config.farm.domains:
        return host
    return f"{host}.{config.farm.domains[0]}"


def command_address(config: AppConfig, host: str) -> str:
    """What the command executor targets for a cache host (its `target` template with {host} {fqdn});
    caches come from the config, not from the inventory, so {node} and {vmid} cannot be filled."""
    from console.actions.commands import executor_target

    template = executor_target(config)
    try:
        return template.format(host=host, fqdn=host_fqdn(config, host))
    except (KeyError, IndexError):
        raise NotConfigured(f"refused: the {config.actions.executor} target {template!r} needs {{node}} or {{vmid}}, "
                            "which a cache host has not; use {host} or {fqdn}") from None


def set_health_steps(config: AppConfig, host: str, state: str, kind: str, start: int, batch: int | None = None) -> list[Step]:
    """One step per cache that sets `host`'s backend to `state` (sick for a depool, auto for a repool)."""
    settings = config.actions.depool
    caches = list(config.actions.caches)
    if not caches:
        raise NotConfigured("refused: no caches are configured (actions.caches), so nothing can be depooled")
    backend = check_backend(host)
    steps: list[Step] = []
    for cache in caches:
        common: dict[str, Any] = {"index": start + len(steps), "kind": kind, "target": backend, "subject": cache.name,
                                  "batch": batch}
        if settings.method == "service":
            url = f"{depool_url(config, cache)}/backend/{backend}/{state}"
            steps.append(Step(executor=f"depool:{cache.name}", request=HttpRequest("POST", url), **common,
                              note="with an X-TOTP header (RFC 6238)"))
        else:
            line = shlex.join([*settings.varnishadm, "backend.set_health", backend, state])
            command = Command(cache.name, command_address(config, cache.name), line, settings.timeout)
            steps.append(Step(executor=f"command:{config.actions.executor}", command=command, **common))
    return steps


# --- the depool service over HTTP ------------------------------------------------------------------


class DepoolServiceExecutor(ClientExecutor):
    """One cache's depool service. Writes need a read-write session; every request carries X-TOTP."""

    def __init__(self, config: AppConfig, cache: CacheConfig, session: Session) -> None:
        settings = config.actions.depool
        super().__init__(session, settings.timeout)
        self.settings = settings
        self.cache = cache
        self.url = depool_url(config, cache)
        self.name = f"depool:{cache.name}"

    def _secrets(self) -> list[str]:
        secret = self.settings.totp_secret
        return [secret.reveal()] if secret is not None else []

    def _make_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(verify=ssl_verify(self.settings.verify), timeout=transport_timeout(self.timeout),
                                 follow_redirects=False)

    def _totp(self) -> dict[str, str]:
        secret = self.settings.totp_secret
        if secret is None:
            raise NotConfigured("refused: actions.depool.totp_secret is not set; the depool service wants an X-TOTP header")
        # authenticator apps print the base32 secret in groups, some in lower case, often without padding
        cleaned = "".join(secret.reveal().split()).upper().rstrip("=")
        try:
            code = pyotp.TOTP(cleaned + "=" * (-len(cleaned) % 8)).now()  # RFC 6238: SHA-1, 30 s, 6 digits
        except (binascii.Error, ValueError):
            raise NotConfigured("refused: actions.depool.totp_secret: the TOTP secret is not valid base32") from None
        return {"X-TOTP": code}

    async def set_health(self, step: Step) -> Sent:
        """POST /backend/<host>/<state>: 2xx = ok; 401/403 = refused (a wrong TOTP); no answer = down."""
        assert step.request is not None
        started = time.monotonic()
        try:
            self.session.require_writable()
            headers = {**step.request.header_dict(), **self._totp()}
            response = await bounded_request(self._client(), step.request.method, step.request.url, headers=headers,
                                             max_bytes=self.max_answer, deadline=self.timeout)
        except Refused as exc:
            return Sent(REFUSED, None, str(exc))
        except (httpx.HTTPError, OSError) as exc:
            status, message = self.describe(exc, self.url)
            return Sent(status, None, f"{self.cache.name}: {message}")
        took = f"{(time.monotonic() - started) * 1000:.0f} ms"
        body = first_line(response.text, 160)
        if 200 <= response.status_code < 300:
            return Sent(OK, response.status_code, f"{self.cache.name}: {response.status_code} in {took}")
        if response.status_code in (401, 403):
            return Sent(REFUSED, response.status_code,
                        f"{self.cache.name}: refused (HTTP {response.status_code}): check actions.depool.totp_secret "
                        "and the bastion's clock")
        return Sent(FAILED, response.status_code, f"{self.cache.name}: HTTP {response.status_code} {body}".strip())

    async def backend_list(self) -> dict[str, Backend]:
        """GET /backend/list → {backend: Backend}; raise DepoolError with a message on any failure."""
        try:
            response = await bounded_request(self._client(), "GET", f"{self.url}/backend/list", headers=self._totp(),
                                             max_bytes=self.max_answer, deadline=self.timeout)
        except Refused as exc:
            raise DepoolError(str(exc).removeprefix("refused: ")) from None
        except (httpx.HTTPError, OSError) as exc:
            raise DepoolError(self.describe(exc, self.url)[1]) from None
        if response.status_code in (401, 403):
            raise DepoolError(f"refused (HTTP {response.status_code}): check actions.depool.totp_secret and the clock")
        if response.status_code != 200:
            raise DepoolError(f"HTTP {response.status_code}")
        try:
            return parse_backend_list(response.text)
        except ValueError as exc:
            raise DepoolError(str(exc)) from None


class DepoolError(Exception):
    """A cache's backend list could not be read; the message is for the operator."""


# --- the backend list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """One backend as a cache sees it: admin (probe|sick|healthy: what was set), probe result, health."""

    name: str
    admin: str
    health: str
    probe: str = ""

    @property
    def depooled(self) -> bool:
        return self.admin == SICK


def _backend_name(raw: str) -> str:
    # varnishadm says `boot.mw151` (VCL name.backend) or `reload_2024...mw151`; the table keys on mw151
    return raw.rsplit(".", 1)[-1]


def parse_backend_list(text: str) -> dict[str, Backend]:
    """The depool service's JSON, or `varnishadm backend.list` text (Varnish 6/7 columns:
    `Backend name  Admin  Probe  Health  Last change`). ValueError when neither."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(stripped)
        except ValueError:
            raise ValueError("the backend list is not valid JSON") from None
        items = data.get("backends") if isinstance(data, dict) else data
        if isinstance(items, dict):
            items = [{"name": name, **(value if isinstance(value, dict) else {"health": value})}
                     for name, value in items.items()]
        if not isinstance(items, list):
            raise ValueError("the backend list has no `backends`")
        backends = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise ValueError("a backend without a name in the backend list")
            name = _backend_name(item["name"])
            admin = str(item.get("admin", AUTO)).lower()
            backends[name] = Backend(name, "probe" if admin == AUTO else admin, str(item.get("health", "?")).lower(),
                                     str(item.get("probe", "")))
        return backends
    lines = [line for line in stripped.splitlines() if line.strip()]
    if not lines or not lines[0].lower().startswith("backend name"):
        raise ValueError("the backend list is neither JSON nor varnishadm backend.list output")
    backends = {}
    for line in lines[1:]:
        words = line.split()
        if len(words) < 3:
            continue
        name = _backend_name(words[0])
        admin = words[1].lower()
        # Varnish 7: Admin Probe Health ...; Varnish 6.0: Admin Probe (`Healthy 5/5` or `0/0`) ...
        rest = [w.lower() for w in words[2:]]
        health = next((w for w in rest if w in ("healthy", "sick")), "")
        if not health:
            health = admin if admin in ("healthy", "sick") else "?"
        probe = next((w for w in rest if re.fullmatch(r"\d+/\d+", w)), "")
        if admin in (SICK, HEALTHY):  # Varnish 7's Health column is the probe's; a forced admin state wins
            health = admin
        backends[name] = Backend(name, "probe" if admin == AUTO else admin, health, probe)
    return backends


@dataclass(frozen=True)
class BackendTable:
    """Backend health per cache: `cells[(cache, backend)]` and, for a cache that did not answer, its error."""

    caches: tuple[str, ...]
    backends: tuple[str, ...]
    cells: dict[tuple[str, str], Backend] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def health(self, cache: str, backend: str) -> str:
        """`healthy`, `sick`, `DEPOOLED` (set sick by an operator), `?` (unknown to that cache) or `error`."""
        if cache in self.errors:
            return "error"
        cell = self.cells.get((cache, backend))
        if cell is None:
            return "?"
        return "DEPOOLED" if cell.depooled else cell.health

    def depooled(self) -> dict[str, list[str]]:
        """{backend: [caches where it is set sick]}."""
        found: dict[str, list[str]] = {}
        for (cache, backend), cell in self.cells.items():
            if cell.depooled:
                found.setdefault(backend, []).append(cache)
        return found

    def rows(self) -> list[tuple[str, ...]]:
        """One row per backend: name, then its health on each cache."""
        return [(backend, *(self.health(cache, backend) for cache in self.caches)) for backend in self.backends]

    def to_dict(self) -> dict[str, Any]:
        return {"caches": list(self.caches), "errors": dict(self.errors),
                "backends": {b: {c: self.health(c, b) for c in self.caches} for b in self.backends}}

    def render(self) -> str:
        header = ("backend", *self.caches)
        rows = [header, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        lines += [f"{cache}: {error}" for cache, error in self.errors.items()]
        return "\n".join(lines)


async def read_backend_health(config: AppConfig, session: Session, commands: Any = None,
                              clients: dict[str, DepoolServiceExecutor] | None = None) -> BackendTable:
    """Read the backend list of every cache at once. Never raises for a cache's failure: it is in `errors`.

    `service` method: GET /backend/list. `varnishadm` method: `varnishadm backend.list` through
    `commands` (a CommandExecutor; it runs only in a read-write session). `clients`, when given, keeps
    each cache's client from one read to the next (a poller's: no new TLS context every 30 s); its
    owner closes them."""
    caches = list(config.actions.caches)
    if not caches:
        raise NotConfigured("refused: no caches are configured (actions.caches)")
    settings = config.actions.depool

    async def one(cache: CacheConfig) -> dict[str, Backend] | str:
        if settings.method == "service":
            executor = clients.get(cache.name) if clients is not None else None
            if executor is None:
                executor = DepoolServiceExecutor(config, cache, session)
                if clients is not None:
                    clients[cache.name] = executor
            try:
                return await executor.backend_list()
            except DepoolError as exc:
                return str(exc)
            finally:
                if clients is None:
                    await executor.aclose()
        if commands is None:
            return "varnishadm needs the command executor (actions.executor)"
        try:
            line = shlex.join([*settings.varnishadm, "backend.list"])
            result = await commands.run(Command(cache.name, command_address(config, cache.name), line, settings.timeout))
        except Refused as exc:
            return str(exc).removeprefix("refused: ")
        if not result.ok:
            return f"{result.status}: {result.detail}"
        try:
            return parse_backend_list(result.stdout)
        except ValueError as exc:
            return str(exc)

    answers = await asyncio.gather(*(one(cache) for cache in caches))
    cells: dict[tuple[str, str], Backend] = {}
    errors: dict[str, str] = {}
    for cache, answer in zip(caches, answers, strict=False):
        if isinstance(answer, str):
            errors[cache.name] = answer
            continue
        for name, backend in answer.items():
            cells[(cache.name, name)] = backend
    names = sorted({backend for _, backend in cells}, key=_natural)
    return BackendTable(tuple(c.name for c in caches), tuple(names), cells, errors)


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


# --- what a depool or repool looks at before it leaps ------------------------------------------------

VARNISHADM_UNREAD = ("varnishadm backend.list runs through the command executor, which a read-only session "
                     "(a plan made before the write switch) cannot use")


@dataclass(frozen=True)
class HostHealth:
    """One host as a repool's plan shows it: the configured services it serves (their `hosts` glob),
    the Icinga checks of those services that are not OK, Icinga's state of the host, and the console's
    own probes of it (a service's probe whose name or target is the host)."""

    host: str
    services: tuple[str, ...] = ()
    problems: tuple[ServiceCheck, ...] = ()  # worst first
    state: IcingaHostState | None = None  # None: Icinga does not know it (or was not read)
    probes: tuple[ProbeResult, ...] = ()

    @property
    def critical(self) -> tuple[ServiceCheck, ...]:
        return tuple(check for check in self.problems if check.state == CheckState.CRITICAL)

    @property
    def failing_probes(self) -> tuple[ProbeResult, ...]:
        return tuple(probe for probe in self.probes if not probe.ok)


@dataclass(frozen=True)
class PoolFacts:
    """Read just before a depool or repool is planned: every cache's backend list (fresh), and for a
    repool each host's health (from the console's store, else fresh). `unread` says what could not be
    read, in words ("Icinga: timed out after 10s")."""

    backends: BackendTable
    health: dict[str, HostHealth] = field(default_factory=dict)
    unread: tuple[str, ...] = ()


def served_by(config: AppConfig, host: str) -> list[ServiceConfig]:
    """The configured services whose `hosts` glob matches `host` (a short name)."""
    return [service for service in config.services if fnmatchcase(host, service.hosts)]


def probe_target(probe: ProbeConfig) -> str | None:
    """The host a probe talks to: its URL's host, its `host`, or its DNS `server`."""
    url = getattr(probe, "url", None)
    if isinstance(url, str):
        return urlsplit(url).hostname
    target = getattr(probe, "host", None) or getattr(probe, "server", None)
    return target if isinstance(target, str) else None


def host_probes(config: AppConfig, host: str) -> list[tuple[str, ProbeConfig]]:
    """(service, probe) for the probes of `host`'s services that are about `host`: the probe's name
    starts with the host's name ("mw152 api.php"), or its target is the host."""
    from console.sources.probes import probe_label

    found = []
    for service in served_by(config, host):
        for probe in service.probes:
            target = probe_target(probe)
            if probe_label(probe).split(" ", 1)[0] == host or (
                    target is not None and short_name(target, config.farm.domains) == host):
                found.append((service.name, probe))
    return found


def host_health(config: AppConfig, host: str, icinga: IcingaSnapshot | None, probes: Sequence[ProbeResult]) -> HostHealth:
    """`host`'s health from an Icinga snapshot (None: not read) and probe results already of that host."""
    domains = config.farm.domains
    services = served_by(config, host)
    every_check = any(not service.checks for service in services)  # a service without checks: all of the host's
    names = {name for service in services for name in service.checks}
    problems: list[ServiceCheck] = []
    state = None
    if icinga is not None:
        problems = [check for check in icinga.services
                    if check.state != CheckState.OK and short_name(check.host, domains) == host
                    and services and (every_check or check.service in names)]
        state = next((h for h in icinga.hosts if short_name(h.name, domains) == host), None)
    order = {CheckState.CRITICAL: 0, CheckState.UNKNOWN: 1, CheckState.WARNING: 2}
    problems.sort(key=lambda check: (order.get(check.state, 3), check.service))
    return HostHealth(host, tuple(s.name for s in services), tuple(problems), state, tuple(probes))


def cache_probe_failing(backend: Backend) -> bool:
    """The cache's health probe fails for this backend: `sick` while the probe decides, or — set by hand
    (depooled, forced) — a probe window that is not all good (`2/5`)."""
    if backend.admin == "probe":
        return backend.health == SICK
    window = re.fullmatch(r"(\d+)/(\d+)", backend.probe)
    return window is not None and int(window.group(2)) > 0 and int(window.group(1)) < int(window.group(2))


def _merged_icinga(snapshots: Sequence[Any]) -> IcingaSnapshot | None:
    found = [s for s in snapshots if isinstance(s, IcingaSnapshot)]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    return IcingaSnapshot(hosts=tuple(h for s in found for h in s.hosts), services=tuple(c for s in found for c in s.services))


async def gather_pool_facts(config: AppConfig, hosts: Sequence[str], *, session: Session, repool: bool,
                            commands: Any = None, store: Store | None = None) -> PoolFacts:
    """Read every cache's backend list now; for a repool also each host's Icinga checks and probes —
    from `store` when it holds them (the console), else fresh (the CLI). Never raises for a backend's
    failure: the table's `errors` and `unread` say what was not read."""
    from console.sources.base import SourceError

    unread: list[str] = []

    async def backends() -> BackendTable:
        if config.actions.depool.method == "varnishadm" and commands is None:
            return BackendTable(tuple(c.name for c in config.actions.caches), (),
                                errors={c.name: VARNISHADM_UNREAD for c in config.actions.caches})
        return await read_backend_health(config, session, commands)

    async def icinga() -> IcingaSnapshot | None:
        held = _merged_icinga(store.data_of_kind("icinga")) if store is not None else None
        if held is not None:
            return held
        if not config.sources.icinga:
            unread.append("Icinga: no icinga source is configured (sources.icinga)")
            return None
        from console.actions.catalog import icinga_source
        from console.sources.backends import IcingaHostChecks

        source = IcingaHostChecks(icinga_source(config))
        names = list(dict.fromkeys([*hosts, *(host_fqdn(config, host) for host in hosts)]))
        try:
            return await source.of_hosts(names)
        except SourceError as exc:
            unread.append(f"Icinga ({source.name}): {exc}")
            return None
        finally:
            await source.aclose()

    async def probes() -> list[ProbeResult]:
        wanted = {host: host_probes(config, host) for host in hosts}
        labels = {(service, probe_label_of(probe)) for found in wanted.values() for service, probe in found}
        held = [s for s in store.data_of_kind("probes") if isinstance(s, ProbeSnapshot)] if store is not None else []
        if held:
            return [r for snapshot in held for r in snapshot.results if (r.service, r.label) in labels]
        if not labels:
            return []
        from console.sources.probes import ProbesSource

        runner = ProbesSource([])
        return list(await asyncio.gather(*(runner.run(service, probe) for found in wanted.values()
                                           for service, probe in found)))

    if not repool:
        return PoolFacts(await backends())
    table, snapshot, results = await asyncio.gather(backends(), icinga(), probes())
    health = {}
    for host in hosts:
        mine = {(service, probe_label_of(probe)) for service, probe in host_probes(config, host)}
        health[host] = host_health(config, host, snapshot, [r for r in results if (r.service, r.label) in mine])
    return PoolFacts(table, health, tuple(unread))


def probe_label_of(probe: ProbeConfig) -> str:
    from console.sources.probes import probe_label

    return probe_label(probe)


def facts_deadline(config: AppConfig) -> float:
    """How long reading the facts may take in all: the slowest of its reads, and a little more."""
    icinga = max((source.timeout for source in config.sources.icinga), default=0.0)
    probes = max((probe.timeout for service in config.services for probe in service.probes), default=0.0)
    return max(config.actions.depool.timeout, icinga, probes) + 1.0


def pool_facts_now(config: AppConfig, operator: Operator, hosts: Sequence[str], *, repool: bool) -> PoolFacts:
    """The facts for a plan builder given none (the CLI): read now, blocking, under `facts_deadline`, on
    a thread of its own with its own event loop (so it also works when called from a running loop), in
    a read-only session of `operator` (reads only)."""
    deadline = facts_deadline(config)
    answer: list[PoolFacts | BaseException] = []

    async def read() -> PoolFacts:
        async with asyncio.timeout(deadline):
            return await gather_pool_facts(config, hosts, session=Session(operator), repool=repool)

    def work() -> None:
        try:
            answer.append(asyncio.run(read()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller as "not read"
            answer.append(exc)

    thread = threading.Thread(target=work, name="opsconsole-pool-facts", daemon=True)
    thread.start()
    thread.join(deadline + 2.0)
    if answer and isinstance(answer[0], PoolFacts):
        return answer[0]
    why = "timed out" if not answer or isinstance(answer[0], TimeoutError) else \
        f"{type(answer[0]).__name__}: {first_line(str(answer[0]), 120)}"
    caches = tuple(c.name for c in config.actions.caches)
    return PoolFacts(BackendTable(caches, (), errors={c: f"not read ({why})" for c in caches}),
                     unread=(f"the host's checks and probes: not read ({why})",) if repool else ())


__all__ = [
    "AUTO", "Backend", "BackendTable", "DOWN", "DepoolError", "DepoolServiceExecutor", "HEALTHY", "SICK",
    "command_address", "depool_url", "host_fqdn", "parse_backend_list", "read_backend_health", "set_health_steps",
    "HostHealth", "PoolFacts", "cache_probe_failing", "gather_pool_facts", "host_health", "host_probes",
    "pool_facts_now", "served_by",
]
