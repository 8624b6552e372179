"""`opsconsole incident`: start, note, show, export and end the incident the console's timeline
collects (the same state file as `i` in the console: `incident.state`).

    opsconsole incident start "PHP-FPM down on mw152" --task T12345
    opsconsole incident export [--format md] [--output FILE]     # the Markdown report (stdout by default)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from console.actions import current_operator
from console.cli.options import global_options, global_value, load_or_exit, say
from console.core.clock import utc_now
from console.core.config import AppConfig
from console.derive.incident import Incident, IncidentFile, export_markdown, refresh_actions, with_note


def _fail(message: str, code: int = 2) -> NoReturn:
    say(f"opsconsole: {message}", err=True)
    sys.exit(code)


def _load(config: AppConfig, archived: bool = False) -> tuple[IncidentFile, Incident]:
    """The open incident (or, with `archived`, the last ended one when none is open)."""
    store = IncidentFile(config.incident.state)
    try:
        incident = store.load() or (store.latest_archived() if archived else None)
    except (ValueError, OSError) as exc:
        _fail(f"cannot read the incident state: {exc}", 1)
    if incident is None:
        _fail(f"no incident is open ({store.path}); start one with `opsconsole incident start TITLE` or `i` in the console")
    refresh_actions(incident, [config.actions.audit.path, *config.incident.audit])
    return store, incident


@click.group()
def incident() -> None:
    """Incident mode: the timeline the console collects, and the report."""


@incident.command("start")
@click.argument("title")
@click.option("--task", help="The task of the incident, e.g. T12345.")
@global_options
@click.pass_context
def start(ctx: click.Context, title: str, task: str | None) -> None:
    """Start an incident called TITLE; the console's timeline collects from now on."""
    config = load_or_exit(global_value(ctx, "config"))
    store = IncidentFile(config.incident.state)
    try:
        if store.load() is not None:
            _fail(f"an incident is already open ({store.path}); end it first: opsconsole incident end")
        new = Incident.start(title, str(current_operator()), utc_now(), task)
        store.save(new)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    say(f"incident {new.id} started: {new.title}")


@incident.command("note")
@click.argument("text")
@global_options
@click.pass_context
def note(ctx: click.Context, text: str) -> None:
    """Add a line of your own to the open incident's timeline."""
    config = load_or_exit(global_value(ctx, "config"))
    store, current = _load(config)
    with_note(current, text, str(current_operator()), utc_now())
    store.save(current)


@incident.command("show")
@global_options
@click.pass_context
def show(ctx: click.Context) -> None:
    """Print the open incident's timeline."""
    config = load_or_exit(global_value(ctx, "config"))
    _, current = _load(config)
    say(f"{current.title}" + (f" ({current.task})" if current.task else ""))
    for entry in current.entries:
        who = f"  [{entry.who}]" if entry.who else ""
        say(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.kind:<8}  {entry.text}{who}")


@incident.command("export")
@click.option("--format", "fmt", type=click.Choice(["md"]), default="md", show_default=True, help="Report format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@global_options
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Write the incident report (the open incident, else the last one ended)."""
    config = load_or_exit(global_value(ctx, "config"))
    _, current = _load(config, archived=True)
    report = export_markdown(current, utc_now())
    if output is None:
        say(report, nl=False)
        return
    try:
        output.write_text(report, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}", 1)
    say(f"incident report written to {output}", err=True)


@incident.command("end")
@global_options
@click.pass_context
def end(ctx: click.Context) -> None:
    """End the open incident and archive its timeline."""
    config = load_or_exit(global_value(ctx, "config"))
    store, current = _load(config)
    current.end(str(current_operator()), utc_now())
    try:
        archived = store.archive(current)
    except OSError as exc:
        _fail(f"cannot archive the incident: {exc}", 1)
    say(f"incident ended; archived in {archived}")
