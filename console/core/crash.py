"""A crash leaves a log, never a traceback on the operator's terminal: the exception (no local
variables: they may hold secrets or whole answers), scrubbed of every configured secret, written 0600
under $XDG_STATE_HOME/opsconsole/ (~/.local/state/opsconsole/). The caller prints one line naming it and
exits 1."""

from __future__ import annotations

import os
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "opsconsole"


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "[secret]")
    return text


def write_crash_log(error: BaseException, secrets: Iterable[str] = (), *, now: datetime | None = None) -> Path:
    """Write the crash log of `error` and return its path; OSError when it cannot be written."""
    secrets = list(secrets)
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    at = now or datetime.now(timezone.utc)
    path = directory / f"crash-{at:%Y%m%d-%H%M%S}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(error))  # frames and lines only, never their locals
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", errors="backslashreplace") as out:
        out.write(f"opsconsole crashed at {at:%Y-%m-%d %H:%M:%S} UTC\n\n{scrub(text, secrets)}")
    return path


def crash_line(error: BaseException, path: Path | None, secrets: Iterable[str] = ()) -> str:
    """The one line the operator sees (display-safe when printed through cli.options.say)."""
    what = scrub(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", secrets)[:300]
    where = f"the details are in {path}" if path else "no crash log could be written"
    return f"opsconsole: crashed ({what.rstrip(': ')}); {where}"
