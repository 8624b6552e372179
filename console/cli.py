"""The `opsconsole` command. Global options (--config, --theme, --write) work before or after a subcommand."""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from console import __version__
from console.config_file import ConfigDocument, ConfigError, find_config_path, read_document
from console.lazy_group import LazyGroup

if TYPE_CHECKING:
    from console.config import AppConfig

# Subcommand -> the module that registers it; the console itself starts without importing them (and
# the action engine and clients behind them). tests/unit/test_lazy_cli.py keeps this map complete.
_ACTIONS, _INCIDENT = "console.cli_actions", "console.cli_incident"
LAZY_COMMANDS = {
    **dict.fromkeys(("purge", "ban", "ack", "unack", "recheck", "downtime", "restart", "depool", "repool",
                     "backends", "guest", "puppet", "locks"), _ACTIONS),
    "incident": _INCIDENT,
}

SCENARIOS_HELP = "incident to simulate: healthy, php-fpm-down, puppet-after-commit, db-disk-full"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        ctx.meta.setdefault("opsconsole.globals", {})[param.name] = value
    return value


def _remember_flag(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        ctx.meta.setdefault("opsconsole.globals", {})[param.name] = True
    return value


def global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Accept the global options at this level too; the value given last wins."""
    command = click.option(
        "--write", is_flag=True, expose_value=False, callback=_remember_flag,
        help="Make this session read-write (recorded in the audit log); without it every action is refused.",
    )(command)  # fmt: skip
    command = click.option(
        "--theme", metavar="NAME", expose_value=False, callback=_remember, help="Textual theme to start with."
    )(command)
    command = click.option(
        "--config",
        "config",
        metavar="PATH",
        expose_value=False,
        callback=_remember,
        help="Config file (else $OPSCONSOLE_CONFIG, ~/.config/opsconsole/config.yaml, /etc/opsconsole/config.yaml).",
    )(command)
    return command


def _global(ctx: click.Context, name: str) -> Any:
    return ctx.meta.get("opsconsole.globals", {}).get(name)


def fail(message: str, code: int = 2) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def read_or_exit(path: str | Path | None) -> ConfigDocument:
    """The config file found and parsed as YAML (not validated yet: see load_or_exit)."""
    resolved = find_config_path(path)
    if resolved is None:
        fail(
            "opsconsole: no config found (looked at --config, $OPSCONSOLE_CONFIG, "
            "~/.config/opsconsole/config.yaml, /etc/opsconsole/config.yaml).\n"
            "Try the simulated farm: opsconsole demo"
        )
    try:
        return read_document(resolved)
    except ConfigError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def load_or_exit(path: str | Path | None) -> AppConfig:
    """The config file found, parsed and validated; every problem printed (exit 2) otherwise."""
    document = read_or_exit(path)
    from console.config import validate_document

    try:
        return validate_document(document)
    except ConfigError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def require_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            "opsconsole: the console needs a terminal, and stdin or stdout is not one.\n"
            "Run it from an interactive shell (ssh -t for a remote one); "
            "`opsconsole check-config` and `opsconsole sim` work without a terminal."
        )


def run_console(config: AppConfig | ConfigDocument, theme: str, write: bool = False) -> None:
    """The console on `config`; a ConfigDocument is validated by the app right after its first paint
    (the config's models are the slowest part of a start), and a broken one ends it: every problem is
    printed once the terminal is back (exit 2), as `check-config` prints them."""
    require_terminal()
    from console.ui.app import OpsConsoleApp  # Textual loads only when a screen is needed

    app = OpsConsoleApp(config, write=write)  # --write: read-write from the start, recorded in the audit file
    if theme not in app.available_themes:
        broken = "".join(f"\n  skipped {problem}" for problem in app.theme_problems)
        fail(f"opsconsole: unknown theme {theme!r}; available: {', '.join(sorted(app.available_themes))}{broken}")
    app.start_with_theme(theme)
    app.run()
    if app.config_error is not None:
        fail(str(app.config_error))


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="opsconsole")
@global_options
@click.pass_context
def main(ctx: click.Context) -> None:
    """A keyboard-driven console for the ops team of a wiki farm.

    Without a subcommand, opens the console on the configured farm.
    """
    if ctx.invoked_subcommand is None:
        document = read_or_exit(_global(ctx, "config"))
        run_console(document, _global(ctx, "theme") or document.theme, bool(_global(ctx, "write")))


@main.command("check-config")
@click.argument("path", required=False)
@global_options
@click.pass_context
def check_config(ctx: click.Context, path: str | None) -> None:
    """Validate a config file: print `ok` (exit 0) or every error as FILE:LINE: key.path: message (exit 2)."""
    load_or_exit(path or _global(ctx, "config"))
    click.echo("ok")


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


@main.command()
@_scenario_options
@_scale_options
@global_options
@click.pass_context
def demo(ctx: click.Context, scenario: str, seed: int, **scale: Any) -> None:
    """Start the simulated farm in-process and the console on it."""
    require_terminal()
    from console.config import parse_config
    from console.sim import SimFarm

    with tempfile.TemporaryDirectory(prefix="opsconsole-demo-") as state_dir:
        farm = _start_farm_or_exit(SimFarm, Path(state_dir) / "farm", scenario, seed, **_scale_args(scale))
        try:
            config = parse_config(farm.config_yaml(), "<demo farm>")
            run_console(config, _global(ctx, "theme") or config.ui.theme, bool(_global(ctx, "write")))
        finally:
            farm.stop()


@main.command()
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

    # The farm's servers share one process: its event loops (the APIs', the probe targets') take the GIL
    # back from the thread building answers after 1 ms, not 5, as the servers they stand for would not
    # wait for each other at all (measured: a refresh at L = 300 ms ~8 ms shorter)
    sys.setswitchinterval(0.001)
    directory = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="opsconsole-sim-"))
    knobs = _scale_args(scale)
    farm = _start_farm_or_exit(SimFarm, directory, scenario, seed, **knobs)
    from console.sim.clusters import cluster_scenario, cluster_seed, clustered_config_yaml

    extra = [_start_farm_or_exit(SimFarm, directory / f"cluster{n}", cluster_scenario(scenario, n), cluster_seed(seed, n),
                                 **knobs) for n in range(2, clusters + 1)]
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (console/status.schema.json) instead of a table.")
@global_options
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Refresh every configured source once and print the farm's state.

    Exit 0 when every source answered, 1 when one failed (the output is printed either way),
    2 for a broken config.
    """
    import json

    from console.status import render_table, run_status

    report, code = run_status(load_or_exit(_global(ctx, "config")))
    click.echo(json.dumps(report, indent=2) if as_json else render_table(report).rstrip("\n"))
    sys.exit(code)


# The subcommands in LAZY_COMMANDS register themselves on `main` (defined above) when their module
# loads, which LazyGroup does only for the subcommand invoked (or for --help and completion).
