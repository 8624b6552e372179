"""One client per backend. `build_sources` turns the config's `sources:` section into Source objects."""

from __future__ import annotations

from typing import Any, Callable

from console.core.clock import Clock, utc_now
from console.core.config import AppConfig, CommitsConfig, SourceConfig
from console.sources.backends import BackendsSource, backends_source
from console.sources.base import MalformedAnswer, Source, SourceError, describe_error
from console.sources.commits import GitHubCommitsSource, LocalGitCommitsSource
from console.sources.graylog import GraylogSource
from console.sources.icinga import IcingaSource
from console.sources.icinga_stream import event_streams
from console.sources.probes import ProbesSource
from console.sources.proxmox import ProxmoxSource
from console.sources.puppetdb import PuppetDBSource

BUILDERS: dict[str, Callable[[Any, Clock], Source[Any]]] = {
    "proxmox": ProxmoxSource,
    "puppetdb": PuppetDBSource,
    "icinga": IcingaSource,
    "graylog": GraylogSource,
}


def build_source(kind: str, item: SourceConfig, clock: Clock = utc_now) -> Source[Any]:
    """The Source for one configured item of `sources.<kind>`."""
    if kind == "commits":
        assert isinstance(item, CommitsConfig)
        return GitHubCommitsSource(item, clock) if item.github else LocalGitCommitsSource(item, clock)
    return BUILDERS[kind](item, clock)


def build_sources(config: AppConfig, clock: Clock = utc_now) -> list[Source[Any]]:
    """One source per configured item, in the order proxmox, puppetdb, icinga, graylog, commits; then
    one "probes" source when any service has probes; then one "backends" source (the caches' backend
    lists) when `actions.caches` is set, with the depool service (console/sources/backends.py)."""
    sources = [build_source(kind, item, clock) for kind, item in config.sources.all()]
    if any(service.probes for service in config.services):
        sources.append(ProbesSource(config.services, clock))
    sources += backends_source(config, clock)
    return sources


__all__ = [
    "BackendsSource",
    "GitHubCommitsSource",
    "GraylogSource",
    "IcingaSource",
    "LocalGitCommitsSource",
    "MalformedAnswer",
    "ProxmoxSource",
    "ProbesSource",
    "PuppetDBSource",
    "Source",
    "SourceError",
    "build_source",
    "build_sources",
    "describe_error",
    "event_streams",
]
