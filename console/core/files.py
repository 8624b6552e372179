"""Reading the files the console is pointed at: only regular files, never more than a cap.

A FIFO, a device or a directory (or a symbolic link to one) planted where the console reads a config,
a secret, a lock or a theme would hang it (a FIFO without a writer, /dev/zero read "whole") or crash
it; a 3 GB file would be read whole. So every such read goes through here:

- the path is looked at first (`stat`): anything but a regular file is refused without opening it
  (opening a device can have effects of its own);
- it is then opened non-blocking (O_NONBLOCK, O_NOCTTY) and the *opened* descriptor is checked
  again (`fstat`), so a file swapped in between is refused as well (no time-of-check race);
- at most `limit` bytes are read: a larger file is refused, whatever its size says (files under
  /proc say 0).

Errors are `FileRefused` (an OSError: callers that already catch OSError stay correct) whose text
names the file and why: `/etc/x.secret: not a regular file (a FIFO)`, `/x: larger than 64 KiB`.
A missing or unreadable file raises the OSError `os.open` raised (FileNotFoundError, ...).

Only the config file named on the command line may be a pipe (`--config <(sops -d farm.yaml)`): it
is read with the same cap and a deadline (`PIPE_SECONDS`).
"""

from __future__ import annotations

import errno
import os
import select
import stat
import time
from pathlib import Path
from typing import BinaryIO, Iterator

KiB = 1024
MiB = 1024 * KiB

CONFIG_MAX = 4 * MiB  # the config file
SECRET_MAX = 64 * KiB  # a secret {file: PATH}
LOCK_MAX = 64 * KiB  # one lock file (the console writes ~400 bytes)
CERT_MAX = 1 * MiB  # a CA bundle or a client certificate named in the config (verify: PATH)
THEME_MAX = 1 * MiB  # one theme file
INCIDENT_MAX = 16 * MiB  # the incident state and its archive (MAX_ENTRIES bounds what is written)
AUDIT_LINE_MAX = 1 * MiB  # one record of an audit file (read line by line: the file itself grows forever)
PIPE_SECONDS = 5.0  # a config read from a pipe must be complete within this
SPECIAL_ROOTS = ("/proc", "/dev")  # never a secret: /proc/self/environ, /dev/zero ...

_CHUNK = 64 * KiB


class FileRefused(OSError):
    """A file the console will not read: what it is and why, naming the file."""

    def __init__(self, path: str | os.PathLike[str], why: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, why, str(path))
        self.path = str(path)
        self.why = why

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


def size_label(limit: int) -> str:
    """64 KiB, 4 MiB, 100 bytes."""
    if limit >= MiB and limit % MiB == 0:
        return f"{limit // MiB} MiB"
    if limit >= KiB and limit % KiB == 0:
        return f"{limit // KiB} KiB"
    return f"{limit} bytes"


def kind_of(mode: int) -> str:
    """What a non-regular file is, for a message: `a FIFO`, `a character device`, `a directory` ..."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a file"


def _not_regular(path: str | os.PathLike[str], mode: int) -> FileRefused:
    return FileRefused(path, f"not a regular file ({kind_of(mode)})")


def _link_kind(path: str | os.PathLike[str]) -> str:
    """`a symbolic link to a character device` (looked at, never opened)."""
    try:
        target = os.stat(path).st_mode
    except OSError:
        return "a symbolic link"
    return "a symbolic link to " + ("a regular file" if stat.S_ISREG(target) else kind_of(target))


def _acceptable(mode: int, allow_pipe: bool) -> bool:
    return stat.S_ISREG(mode) or (allow_pipe and stat.S_ISFIFO(mode))


def open_regular(path: str | os.PathLike[str], *, follow_symlinks: bool = True, allow_pipe: bool = False,
                 forbidden: tuple[str, ...] = ()) -> int:
    """A descriptor on `path`, opened O_RDONLY | O_NONBLOCK, known (by fstat) to be a regular file
    (or, with `allow_pipe`, a FIFO/pipe). The caller closes it. `follow_symlinks=False`: a symbolic
    link is refused too (the lock directory, where the console never writes one). `forbidden`:
    directories (/proc, /dev) whose files are refused, by path and by the filesystem opened."""
    try:
        seen = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError:
        seen = None  # let open() say what is wrong (ENOENT, EACCES ...)
    if seen is not None and stat.S_ISLNK(seen.st_mode):
        raise FileRefused(path, f"not a regular file ({_link_kind(path)})")
    if seen is not None and not _acceptable(seen.st_mode, allow_pipe):
        raise _not_regular(path, seen.st_mode)  # not even opened: opening a device can do things
    if forbidden and under(path, *forbidden):
        raise FileRefused(path, f"a file under {' or '.join(forbidden)}, which the console does not read", errno.EPERM)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise FileRefused(path, "not a regular file (a symbolic link)") from None
        raise
    try:
        info = os.fstat(fd)  # the file actually opened, whatever the path names now
        if not _acceptable(info.st_mode, allow_pipe):
            raise _not_regular(path, info.st_mode)
        if forbidden and info.st_dev in _devices(forbidden):
            raise FileRefused(path, f"a file under {' or '.join(forbidden)}, which the console does not read", errno.EPERM)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _devices(roots: tuple[str, ...]) -> set[int]:
    """The filesystems mounted at `roots` (a link elsewhere that ends in /proc is still /proc); a root
    that is no mount point of its own (a chroot's plain /dev) is left to the path check."""
    found = set()
    for root in roots:
        try:
            device = os.stat(root).st_dev
            if device != os.stat(os.path.dirname(os.path.abspath(root))).st_dev:
                found.add(device)
        except OSError:
            continue
    return found


def read_open(fd: int, path: str | os.PathLike[str], limit: int) -> bytes:
    """The content of a regular file opened by open_regular, at most `limit` bytes (FileRefused beyond)."""
    if os.fstat(fd).st_size > limit:
        raise FileRefused(path, f"larger than {size_label(limit)}", errno.EFBIG)
    chunks: list[bytes] = []
    total = 0
    while True:  # the size said may be wrong (a file growing, a file under /proc): count what comes
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise FileRefused(path, f"larger than {size_label(limit)}", errno.EFBIG)
    return b"".join(chunks)


def _read_pipe(fd: int, path: str | os.PathLike[str], limit: int, seconds: float) -> bytes:
    """A pipe's whole content until its writer closes it, within `seconds` and `limit` bytes."""
    deadline = time.monotonic() + seconds
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    chunks: list[bytes] = []
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(max(1, int(left * 1000))):
            raise FileRefused(path, f"a pipe that did not end within {seconds:g} s", errno.ETIMEDOUT)
        try:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        except BlockingIOError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise FileRefused(path, f"larger than {size_label(limit)}", errno.EFBIG)


def read_bytes(path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True, allow_pipe: bool = False,
               pipe_seconds: float = PIPE_SECONDS, forbidden: tuple[str, ...] = ()) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; FileRefused otherwise."""
    fd = open_regular(path, follow_symlinks=follow_symlinks, allow_pipe=allow_pipe, forbidden=forbidden)
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            return _read_pipe(fd, path, limit, pipe_seconds)
        return read_open(fd, path, limit)
    finally:
        os.close(fd)


def check_file(path: str | os.PathLike[str], limit: int) -> None:
    """That `path` is a regular file of at most `limit` bytes the console can open (a CA bundle that
    the TLS library reads later): FileRefused or the OSError of open() otherwise."""
    fd = open_regular(path)
    try:
        if os.fstat(fd).st_size > limit:
            raise FileRefused(path, f"larger than {size_label(limit)}", errno.EFBIG)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True, allow_pipe: bool = False,
              pipe_seconds: float = PIPE_SECONDS, forbidden: tuple[str, ...] = ()) -> str:
    """As read_bytes, decoded as UTF-8 (FileRefused when it is not)."""
    data = read_bytes(path, limit, follow_symlinks=follow_symlinks, allow_pipe=allow_pipe, pipe_seconds=pipe_seconds,
                      forbidden=forbidden)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(path, f"not UTF-8 text (byte {exc.start})") from None


def read_lines(path: str | os.PathLike[str], line_limit: int, *, tail: int | None = None) -> Iterator[bytes]:
    """The lines of a regular file (without their newline), streamed: for files that only grow (the
    audit file). A line longer than `line_limit` is skipped; `tail`: only the last `tail` bytes are
    read (the first, cut line skipped). The file is checked and opened before the first line."""
    handle = os.fdopen(open_regular(path), "rb", buffering=_CHUNK)  # closed by the generator (or with it)
    return _lines(handle, line_limit, tail)


def _lines(handle: BinaryIO, line_limit: int, tail: int | None) -> Iterator[bytes]:
    with handle:
        skipping = False
        if tail is not None:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - tail)
            handle.seek(start)
            skipping = start > 0  # the line the tail starts in is cut
        while True:
            line = handle.readline(line_limit + 1)
            if not line:
                return
            ended = line.endswith(b"\n")
            content = line[:-1] if ended else line
            if skipping or len(content) > line_limit:
                skipping = not ended  # the rest of an over-long (or cut) line comes next
                continue
            yield content


def under(path: str | os.PathLike[str], *roots: str) -> bool:
    """Whether `path`, or the file it resolves to, lies under one of `roots` (/proc, /dev)."""
    candidates = {os.path.abspath(os.fspath(path)), os.path.realpath(path)}
    return any(Path(candidate).is_relative_to(root) for candidate in candidates for root in roots)
