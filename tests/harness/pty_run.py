"""Run a command on a new pseudo-terminal, as an operator's shell would, and keep every byte it wrote."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[2]


def run_on_a_pty(argv: list[str], timeout: float = 60.0, env: dict[str, str] | None = None,
                 keys: Sequence[tuple[float, bytes]] = (), size: tuple[int, int] = (80, 24)) -> tuple[int, str]:
    """Run `argv` on a new pty of `size` (columns, lines) as an operator would, typing `keys` at their
    times; its exit status and everything it printed. The slave end stays open here until the end:
    Linux drops what the master has not read yet once the last slave descriptor closes (the child's
    exit), and the errors come last."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", **(env or {})}
    env.pop("TEXTUAL", None)
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    seen = b""
    deadline = time.monotonic() + timeout
    waiting = select.poll()  # not select(): a long test session has descriptors above FD_SETSIZE
    waiting.register(master, select.POLLIN)
    started, to_type = time.monotonic(), list(keys)  # (seconds after the start, bytes): what the operator types
    try:
        while time.monotonic() < deadline:
            while to_type and time.monotonic() - started >= to_type[0][0]:
                os.write(master, to_type.pop(0)[1])
            if waiting.poll(200):
                seen += os.read(master, 65536)
            elif process.poll() is not None:
                break  # exited, and nothing more to read
        return process.wait(timeout=10), seen.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(slave)
        os.close(master)
