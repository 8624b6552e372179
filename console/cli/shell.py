"""Running a program in the operator's terminal (ssh to a host) while the console is suspended. No Textual."""

from __future__ import annotations

import shlex
import subprocess
import sys


def run_in_terminal(argv: list[str]) -> int:
    """Run `argv` (no shell) on this terminal with the user's environment (ssh-agent, ~/.ssh/config)
    and return its exit status. After a failure the message stays on screen until Enter, so ssh's own
    error ("Could not resolve hostname ...") is read before the console comes back."""
    try:
        code = subprocess.run(argv, check=False).returncode
    except OSError as exc:
        print(f"opsconsole: cannot run {shlex.join(argv)}: {exc.strerror or exc}", file=sys.stderr)
        code = 127
    if code != 0 and sys.stdin is not None and sys.stdin.isatty():
        print(f"\nopsconsole: {shlex.join(argv)} exited with status {code}; press Enter to return to the console")
        try:
            input()
        except EOFError:
            pass
    return code
