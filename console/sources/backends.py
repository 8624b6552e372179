"""The caches' backend lists, polled: which app servers an operator depooled, and what each cache's
health probe says of them. Built from `actions.caches` (no section of its own under `sources:`).

One Source ("backends", kind "backends") reads every cache's list at once, as `:backends` and
`opsconsole backends` do (console/actions/depool.py `read_backend_health`: the depool service's
`GET /backend/list` with its X-TOTP header, each answer bounded by console/sources/bounded.py under
`actions.depool.timeout`). A cache that does not answer is a partial error (the others' lists still
show); none answering is the source's error. Every `actions.depool.list_interval` seconds (30).

Only for `actions.depool.method: service`: varnishadm runs through the command executor, which runs
nothing in a read-only session, so a background reader would only ever be refused.

Also here: `IcingaHostChecks`, the checks and state of a few hosts with their outputs, for a repool's
plan when no store is at hand (the CLI).
"""

from __future__ import annotations

from typing import Any, Sequence

from console.core.clock import Clock, utc_now
from console.core.config import AppConfig
from console.core.model import BackendSnapshot, CacheBackend, IcingaSnapshot
from console.sources.base import Source, SourceError
from console.sources.httpclient import gather_or_cancel, redact
from console.sources.icinga import (
    HOST_ATTRS,
    PROBLEM_ATTRS,
    IcingaSource,
    build_snapshot,
    parse_hosts_answer,
    parse_services_answer,
)  # fmt: skip

BACKENDS = "backends"  # the source's name and kind
MAX_ERROR = 160  # of one cache's error in the status bar


def backends_configured(config: AppConfig) -> bool:
    """True when the console polls the caches' backend lists (caches, the service method, an interval)."""
    depool = config.actions.depool
    return bool(config.actions.caches) and depool.method == "service" and depool.list_interval > 0


class BackendsSource(Source[BackendSnapshot]):
    """Every cache's backend list, read concurrently; one entry in the status bar (shown when it fails)."""

    kind = BACKENDS

    def __init__(self, config: AppConfig, clock: Clock = utc_now) -> None:
        depool = config.actions.depool
        # each cache's read is bounded by depool.timeout on its own; the whole fetch a little longer
        super().__init__(BACKENDS, timeout=depool.timeout + 1.0, interval=depool.list_interval, clock=clock)
        self.config = config
        self._session: Any = None
        self._clients: dict[str, Any] = {}  # each cache's depool client, kept between fetches

    def _secret_values(self) -> list[str]:
        secret = self.config.actions.depool.totp_secret
        return [secret.reveal()] if secret is not None else []

    async def _fetch(self) -> BackendSnapshot:
        # the reader and its session live with the actions (the same code as `:backends`); loaded on the
        # first fetch, after the first frame, like the engine
        from console.actions.depool import read_backend_health
        from console.actions.guard import Refused, Session
        from console.actions.plan import current_operator

        if self._session is None:
            self._session = Session(current_operator())  # read-only: GET /backend/list writes nothing
        try:
            table = await read_backend_health(self.config, self._session, clients=self._clients)
        except Refused as exc:
            raise SourceError(self._clean(str(exc).removeprefix("refused: "))) from None
        errors = {cache: self._clean(error) for cache, error in table.errors.items()}
        if errors and len(errors) == len(table.caches):
            raise SourceError("no cache answered its backend list: "
                              + "; ".join(f"{cache}: {error}" for cache, error in errors.items()))
        backends = tuple(CacheBackend(cache, name, cell.admin, cell.health, cell.probe)
                         for (cache, name), cell in sorted(table.cells.items()))
        return BackendSnapshot(caches=table.caches, backends=backends,
                               partial_errors=tuple(f"{cache}: {error}" for cache, error in errors.items()),
                               unanswered=tuple(errors))

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
        await super().aclose()

    def _clean(self, message: str) -> str:
        return redact(message, self._secret_values())[:MAX_ERROR]


def backends_source(config: AppConfig, clock: Clock = utc_now) -> list[Source[Any]]:
    """The backends source when the config asks for one (see `backends_configured`), else none."""
    return [BackendsSource(config, clock)] if backends_configured(config) else []


class IcingaHostChecks(IcingaSource):
    """A few hosts' service checks (outputs included) and host states, in two filtered queries."""

    async def of_hosts(self, names: Sequence[str]) -> IcingaSnapshot:
        """Raises SourceError (redacted, under the source's timeout)."""
        wanted = {"filter": "host.name in opsconsole_names", "filter_vars": {"opsconsole_names": list(names)}}
        services, hosts = await self._guard(gather_or_cancel(
            self._records("services", {"attrs": PROBLEM_ATTRS, **wanted}, parse_services_answer),
            self._records("hosts", {"attrs": HOST_ATTRS, **wanted}, parse_hosts_answer),
        ))
        return build_snapshot(services, (), hosts)


__all__ = ["BACKENDS", "BackendsSource", "IcingaHostChecks", "backends_configured", "backends_source"]
