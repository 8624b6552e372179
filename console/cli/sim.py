"""`opsconsole demo` (the simulated farm in-process, the console on it) and `opsconsole sim` (the farm
served on loopback until interrupted)."""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import click

from console.cli.options import fail, global_options, global_value
from console.cli.run import require_terminal, run_console
from console.core.runtime import tune_sim_process

SCENARIOS_HELP = ("incident to simulate: healthy, php-fpm-down, puppet-after-commit, db-disk-full, hostile (escape "
                  "sequences, markup and very long lines in every field the farm serves)")


def _scale_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--guests --nodes --alerts --log-lines --commits --latency-ms: a bigger or slower farm (console/sim/scale.py)."""
    for name, text in reversed((
        ("guests", "Proxmox guests in all (reference farm: 67); extra ones mw1001, db1003 ... spread over the nodes."),
        ("nodes", "Proxmox nodes in all (reference farm: 7); extra ones cloud22, cloud23 ..."),
        ("alerts", "Non-OK Icinga service checks in all, spread over the hosts."),
        ("log-lines", "Extra Graylog lines over the last day."),
        ("commits", "Commits per repository (reference farm: 200)."),
    )):
        command = click.option(f"--{name}", type=click.IntRange(min=0), default=None, help=text)(command)
    return click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True,
                        help="Every API and cache answers this many milliseconds late.")(command)


def _scale_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    from console.sim.scale import Scale

    return {"scale": Scale(**{k: kwargs.pop(k) for k in ("guests", "nodes", "alerts", "log_lines", "commits")}),
            "latency_ms": kwargs.pop("latency_ms")}


def _scenario_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--seed", type=int, default=1, show_default=True, help="Seed of the farm's randomness.")(
        command
    )
    return click.option("--scenario", default="php-fpm-down", show_default=True, help=SCENARIOS_HELP)(command)


@click.command()
@_scenario_options
@_scale_options
@global_options
@click.pass_context
def demo(ctx: click.Context, scenario: str, seed: int, **scale: Any) -> None:
    """Start the simulated farm in-process and the console on it."""
    require_terminal()
    from console.core.config import parse_config
    from console.sim import SimFarm

    with tempfile.TemporaryDirectory(prefix="opsconsole-demo-") as state_dir:
        farm = _start_farm_or_exit(SimFarm, Path(state_dir) / "farm", scenario, seed, **_scale_args(scale))
        try:
            config = parse_config(farm.config_yaml(), "<demo farm>")
            run_console(config, global_value(ctx, "theme") or config.ui.theme, bool(global_value(ctx, "write")))
        finally:
            farm.stop()


@click.command()
@_scenario_options
@click.option("--state-dir", type=click.Path(file_okay=False), help="Where secrets and the CA go (default: a new temp dir).")
@click.option("--clusters", type=click.IntRange(1, 9), default=1, show_default=True,
              help="Proxmox clusters, each with its own Icinga (the others run another incident).")
@_scale_options
@global_options
def sim(scenario: str, seed: int, state_dir: str | None, clusters: int, **scale: Any) -> None:
    """Serve the simulated farm on loopback until interrupted.

    Prints only the config that points at it on stdout (`opsconsole sim > farm.yaml`) and one curl
    example per API on stderr.
    """
    from console.sim import SimFarm

    tune_sim_process()
    directory = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="opsconsole-sim-"))
    knobs = _scale_args(scale)
    farm = _start_farm_or_exit(SimFarm, directory, scenario, seed, **knobs)
    from console.sim.clusters import cluster_scenario, cluster_seed, clustered_config_yaml

    extra = [_start_farm_or_exit(SimFarm, directory / f"cluster{n}", cluster_scenario(scenario, n), cluster_seed(seed, n),
                                 **knobs) for n in range(2, clusters + 1)]
    for each in (farm, *extra):
        each.model.own_process = True  # this process is the farms' own (console/core/runtime.py)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        click.echo(clustered_config_yaml([farm, *extra]) if extra else farm.config_yaml(), nl=False)
        sys.stdout.flush()
        click.echo(f"# simulated farm '{scenario}' (seed {seed}); state in {directory}", err=True)
        for example in farm.curl_examples():
            click.echo(example, err=True)
        click.echo(f"# requests counted per API: curl --cacert {farm.ca_path} {farm.urls['proxmox']}/__sim/stats"
                   " (every API and cache answers GET /__sim/stats)", err=True)
        click.echo("# serving until interrupted (Ctrl-C)", err=True)
        stopped.wait()
    finally:
        for other in extra:
            other.stop()
        farm.stop()


def _start_farm_or_exit(factory: Any, state_dir: Path, scenario: str, seed: int, **knobs: Any) -> Any:
    try:
        farm = factory(state_dir, scenario=scenario, seed=seed, **knobs)
        farm.start()
    except ValueError as exc:  # unknown scenario and the like
        fail(f"opsconsole: {exc}")
    except OSError as exc:
        fail(f"opsconsole: cannot start the simulated farm: {exc}")
    return farm
