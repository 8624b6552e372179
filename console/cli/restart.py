"""`opsconsole restart`, `depool`, `repool` and `backends` — on the same engine, guard and audit as
the console (console/actions/restart.py, console/actions/depool.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from typing import Any

import click

from console.actions import Depool, NotConfigured, Repool, RestartService, Session, current_operator, parse_duration
from console.actions.guard import InvalidAction
from console.cli.actions import run_action
from console.cli.options import EXIT_FAILED, EXIT_OK, action_options, global_options, global_value, load_or_exit, refuse, say
from console.core.config import AppConfig
from console.core.hosts import HostDirectory


def inventory(config: AppConfig) -> HostDirectory:
    """Every host Proxmox and PuppetDB know (one refresh of those sources): names → addresses."""
    from console.core.state import Poller, Store
    from console.sources import build_sources

    async def fetch() -> Store:
        store = Store()
        sources = [s for s in build_sources(config) if s.kind in ("proxmox", "puppetdb")]
        poller = Poller(sources, store)
        try:
            await poller.refresh_all_once()
        finally:
            await poller.stop()
        return store

    store = asyncio.run(fetch())
    directory = HostDirectory.from_store(store, config)
    if not directory.names():
        errors = [f"{state.name}: {state.last.error}" for state in store.states() if state.last and state.last.error]
        raise NotConfigured("refused: no host inventory (Proxmox and PuppetDB gave no hosts"
                            + (f": {'; '.join(errors)}" if errors else "") + ")")
    return directory


def _downtime(text: str | None) -> timedelta | None:
    if text is None:
        return None
    if text.strip() == "0":
        return timedelta(0)
    return parse_duration(text)


@click.command()
@click.argument("service")
@click.argument("hosts", nargs=-1, metavar="[HOST]...")
@click.option("--batch", type=click.IntRange(1, 100), metavar="N", help="Hosts restarted at once (default actions.rolling.batch).")
@click.option("--failure-budget", type=click.IntRange(0, 100), metavar="N",
              help="Failed hosts allowed before the run stops (default actions.rolling.failure_budget).")
@click.option("--downtime", metavar="15m|0", help="Icinga downtime per host around its restart; 0 = none "
              "(default actions.rolling.downtime).")
@action_options
@click.pass_context
def restart(ctx: click.Context, service: str, hosts: tuple[str, ...], batch: int | None, failure_budget: int | None,
            downtime: str | None, **options: Any) -> None:
    """Restart the allow-listed SERVICE on HOSTs — no HOST: every host of its glob — in batches.

    Per host: [Icinga downtime] → depool from every cache → restart → health check → repool →
    [remove the downtime]. A host whose restart or check fails stays DEPOOLED. Ctrl-C stops between
    batches: the hosts in hand finish (and are repooled), the rest is skipped. Tier 2 (`go`); the
    whole fleet of the service is tier 3 (--confirm SERVICE).
    """
    from console.actions.commands import allowed_service, service_hosts

    config = load_or_exit(global_value(ctx, "config"))
    try:
        allowed_service(config, service)
        wait = _downtime(downtime)
        directory = inventory(config)
        targets = hosts or tuple(service_hosts(config, service, directory))
        if not targets:
            raise InvalidAction(f"refused: no known host matches {service}'s hosts")
    except (InvalidAction, NotConfigured) as exc:
        refuse(str(exc), options.get("as_json", False))
    run_action(ctx, lambda: RestartService(service, targets, batch, failure_budget, wait, directory),
               cancel_on_interrupt=True, **options)


@click.command()
@click.argument("hosts", nargs=-1, required=True, metavar="HOST...")
@action_options
@click.pass_context
def depool(ctx: click.Context, hosts: tuple[str, ...], **options: Any) -> None:
    """Take app servers out of every cache (backend set `sick`). Tier 1 for one host, 2 for several."""
    run_action(ctx, lambda: Depool(hosts), **options)


@click.command()
@click.argument("hosts", nargs=-1, required=True, metavar="HOST...")
@action_options
@click.pass_context
def repool(ctx: click.Context, hosts: tuple[str, ...], **options: Any) -> None:
    """Put app servers back in every cache: backend `auto`, so the caches' health probe decides again
    (a server still broken stays out on its own; `healthy` would force traffic to it)."""
    run_action(ctx, lambda: Repool(hosts), **options)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine output: caches, backends, health, errors.")
@global_options
@click.pass_context
def backends(ctx: click.Context, as_json: bool) -> None:
    """Backend health as each cache sees it (GET /backend/list of the depool service, or varnishadm
    backend.list): healthy, sick (its probe fails), DEPOOLED (set sick by an operator). Exit 1 when a
    cache did not answer."""
    from console.actions.depool import read_backend_health

    config = load_or_exit(global_value(ctx, "config"))
    try:
        table = asyncio.run(read_backend_health(config, Session(current_operator())))
    except NotConfigured as exc:
        refuse(str(exc), as_json)
    if as_json:
        click.echo(json.dumps(table.to_dict(), indent=2))
    else:
        say(table.render())
    sys.exit(EXIT_FAILED if table.errors else EXIT_OK)
