"""Running `opsconsole` commands in-process against a simulated farm's config (CliRunner)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from console.cli.main import main


def invoke(config, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], input=input, catch_exceptions=False)
