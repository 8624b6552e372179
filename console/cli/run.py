"""Starting the console (the Textual app) from a command: the terminal check, the theme, a broken config's exit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from console.cli.options import fail

if TYPE_CHECKING:
    from console.core.config import AppConfig
    from console.core.config_file import ConfigDocument


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
    if app.crash is not None:
        from console.core.crash import crash_line

        error, path = app.crash
        fail(crash_line(error, path, app.secrets()), 1)
    if app.config_error is not None:
        fail(str(app.config_error))
