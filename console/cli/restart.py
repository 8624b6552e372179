"""`opsconsole backends` (the caches' view of their backends), and the host inventory the action
commands that need one read first (console/cli/actions.py: restart, guest, puppet)."""

from __future__ import annotations

import asyncio
import json
import sys

import click

from console.actions import NotConfigured, Session, current_operator
from console.cli.options import EXIT_FAILED, EXIT_OK, global_options, global_value, load_or_exit, refuse, say
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
