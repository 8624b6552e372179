"""Locks per target, shared by every operator: a held lock refuses the action before anything is
sent or recorded as intent. No Textual here.

    locks = locks_for(config)                 # FileLocks (a directory on the bastion) or RedisLocks
    async with locks.hold(plan) as held:      # LockHeld (a Refused) when another operator holds one
        ...                                   # the action runs; Redis locks are renewed meanwhile
    held.notices                              # e.g. "lock not released: Redis unreachable" — never an exception

Keys (`lock_keys`): a purge locks `url:<URL>`, a ban `site:<host>`, an Icinga action
`icinga:<host>[!service]`, everything else (restart, depool, power, puppet) `host:<short name>`;
a target that already names its kind (`cache:cp161`) is kept as it is.

**Stale locks.** A lock whose process is gone (same host: the pid is dead, or reused by another
process) is *stale*: its action was interrupted (kill -9, a crash, a reboot of the laptop it ran
from), so its targets may be half-done (a host left depooled). A stale lock still refuses — with
STALE in the message and the command that breaks it — because the operator must look at the
target first; `opsconsole --write locks break KEY --reason ...` removes it and is audited.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import re
import socket
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Iterable

from console.actions.guard import Refused
from console.actions.specs import spec_named
from console.core import files
from console.core.clock import Clock, utc_now
from console.core.retry import Ticker

if TYPE_CHECKING:
    from console.actions.plan import Plan
    from console.core.config import AppConfig

FALLBACK_DIR = "~/.local/state/opsconsole/locks"
REDIS_PREFIX = "opsconsole:lock:"
SAFE_NAME = re.compile(r"[A-Za-z0-9._:!@+-]")

Notify = Callable[[str], Awaitable[None] | None]


class LockHeld(Refused):
    """Another operator (or an interrupted action) holds a lock on one of the plan's targets."""

    def __init__(self, message: str, held: list[LockInfo]) -> None:
        super().__init__(message)
        self.held = held


class LockError(Refused):
    """The locks cannot be taken or changed at all (Redis unreachable, a lock that is not ours)."""


# --- what a lock says ------------------------------------------------------------------------------


def _this_host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def process_start(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot (/proc), to tell a reused pid; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of stat(5); the first two fields were cut with the ")"
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, started: int | None = None) -> bool:
    """Whether `pid` runs here (and is the same process when its start time was recorded)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    if started is not None:
        now = process_start(pid)
        if now is not None and now != started:
            return False  # the pid was reused by another process
    return True


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h ago"


def target_of(key: str) -> str:
    """What the operator calls the target: host:mw152 -> mw152, url:https://... -> the URL."""
    return key.split(":", 1)[1] if ":" in key else key


@dataclass(frozen=True)
class LockInfo:
    """One lock: who holds it, since when, for what. `stale`: its process is gone (same host only)."""

    key: str
    user: str
    host: str
    pid: int
    since: datetime
    reason: str = ""
    plan_id: str = ""
    title: str = ""
    token: str = ""
    pid_start: int | None = None
    stale: bool = False
    expires_in: float | None = None  # Redis: seconds left before the lock expires by itself
    problem: str = ""  # an unreadable lock file: what is wrong with it

    @property
    def holder(self) -> str:
        return f"{self.user}@{self.host} (pid {self.pid})"

    def to_record(self) -> dict[str, Any]:
        """What is written into the lock (JSON)."""
        return {"key": self.key, "user": self.user, "host": self.host, "pid": self.pid, "pid_start": self.pid_start,
                "since": self.since.isoformat(), "reason": self.reason, "plan": self.plan_id, "title": self.title,
                "token": self.token}

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """For listings and the audit: everything but the token."""
        data = {k: v for k, v in self.to_record().items() if k != "token"}
        return {**data, "age_s": round((now - self.since).total_seconds(), 1), "stale": self.stale,
                "expires_in_s": None if self.expires_in is None else round(self.expires_in, 1),
                "problem": self.problem or None}

    @classmethod
    def from_record(cls, key: str, data: Any) -> LockInfo:
        """A lock as read back; a damaged one keeps its key and says what is wrong."""
        try:
            since = datetime.fromisoformat(str(data["since"]))
            if since.tzinfo is None:
                since = since.replace(tzinfo=timezone.utc)
            return cls(key=key, user=str(data["user"]), host=str(data["host"]), pid=int(data["pid"]), since=since,
                       reason=str(data.get("reason") or ""), plan_id=str(data.get("plan") or ""),
                       title=str(data.get("title") or ""), token=str(data.get("token") or ""),
                       pid_start=int(data["pid_start"]) if data.get("pid_start") is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls(key=key, user="?", host="?", pid=0, since=datetime.now(timezone.utc),
                       problem="the lock is unreadable (not the JSON the console writes)")

    def judged(self, this_host: str) -> LockInfo:
        """The same lock with `stale` set: only a holder on this host can be checked."""
        if self.problem or self.host != this_host:
            return self
        stale = not pid_alive(self.pid, self.pid_start)
        return self if stale == self.stale else _replace(self, stale=stale)

    def describe(self, now: datetime) -> str:
        """`mw152 is locked by alice@bast161 (pid 4242) since 10:02 UTC (12 min ago): restart php-fpm — reason`."""
        target = target_of(self.key)
        if self.problem.startswith("unreadable: "):  # a lock file that is no lock (FileLocks._read)
            return (f"{target} is locked ({self.key}: {self.problem}); look at that file, then "
                    f"`opsconsole --write locks break {self.key} --reason ...`")
        if self.problem:
            return f"{target} is locked ({self.key}: {self.problem})"
        text = (f"{target} is locked by {self.holder} since {self.since.astimezone(timezone.utc):%H:%M} UTC "
                f"({_ago((now - self.since).total_seconds())})")
        if self.title:
            text += f": {self.title}"
        if self.reason:
            text += f" — {self.reason}"
        if self.stale:
            text += (f" — STALE: pid {self.pid} no longer runs on {self.host}, so that action never finished; "
                     f"check {target}, then `opsconsole --write locks break {self.key} --reason ...`")
        return text


def _replace(info: LockInfo, **changes: Any) -> LockInfo:
    from dataclasses import replace

    return replace(info, **changes)


def lock_keys(plan: Plan, domains: Iterable[str] = ()) -> list[str]:
    """The lock keys of a plan's targets, normalised and sorted (always taken in the same order)."""
    from console.core.hosts import short_name

    kind = spec_named(plan.action).locks
    icinga = bool(plan.steps) and all(step.executor.startswith("icinga:") for step in plan.steps)
    keys = []
    for target in plan.targets:
        if kind == "url":
            keys.append(f"url:{target}")
        elif kind == "site":
            keys.append(f"site:{target.lower()}")
        elif icinga:
            host, bang, service = target.partition("!")
            keys.append(f"icinga:{short_name(host.lower(), domains)}{bang}{service}")
        elif re.match(r"^[a-z]+:[^/]", target):
            keys.append(target)  # already a key (cache:cp161, guest:101)
        else:
            keys.append(f"host:{short_name(target.lower(), domains)}")
    return sorted(set(keys))


def _holders_for(plan: Plan, keys: list[str], clock: Clock) -> list[LockInfo]:
    """What this run writes into each of its locks (one token per lock)."""
    pid = os.getpid()
    started, host, since = process_start(pid), _this_host(), clock()
    reason = plan.reason.for_log() if plan.reason else ""
    return [LockInfo(key=key, user=plan.operator.user, host=host, pid=pid, since=since, reason=reason, plan_id=plan.id,
                     title=plan.title, token=uuid.uuid4().hex, pid_start=started) for key in keys]


def refusal(held: list[LockInfo], now: datetime) -> LockHeld:
    """`refused: mw152 is locked by ...` (every held lock, one after the other)."""
    return LockHeld("refused: " + "; ".join(info.describe(now) for info in held) + "; nothing was sent", held)


@dataclass
class HeldLocks:
    """The locks a run holds; `notices` collects what the operator should know (never raised)."""

    keys: list[str]
    locks: list[LockInfo] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


async def _tell(notify: Notify | None, text: str) -> None:
    if notify is None:
        return
    answer = notify(text)
    if asyncio.iscoroutine(answer):
        await answer


# --- one file per key in a shared directory ---------------------------------------------------------


class FileLocks:
    """Locks as files in a directory every operator of the bastion shares (default /run/lock/opsconsole).

    A lock is a complete JSON file written under a temporary name, then hard-linked to its key's
    name: link() fails atomically when the name exists, and a reader never sees half a lock. It is
    not fsynced: exclusion is between live processes, whom the page cache serves, and what must
    survive a crash is the run's intent in the audit file (fsynced, and reported as unfinished at
    the next start); /run/lock is a tmpfs that a reboot empties anyway.

    The file outlives its process on purpose (flock would let the kernel drop it silently):
    a lock left by a killed action is how the next operator learns that action never finished.

    The directory is created 1777 (sticky, writable by all, like /run/lock itself): the console
    cannot know the operators' group. An administrator may create it `root:ops 3775` instead; an
    existing directory is used as it is. Sticky means only a lock's owner (or root) can remove it.
    When the directory cannot be created or written, the locks go to ~/.local/state/opsconsole/locks
    and every run says that other operators cannot see them.
    """

    kind = "file"

    def __init__(self, directory: str | os.PathLike[str], *, clock: Clock = utc_now, domains: Iterable[str] = (),
                 fallback: str | os.PathLike[str] = FALLBACK_DIR) -> None:
        self.directory = Path(directory).expanduser()
        self.fallback = Path(fallback).expanduser()
        self.clock = clock
        self.domains = tuple(domains)
        self._chosen: tuple[Path, str | None] | None = None

    def where(self) -> tuple[Path, str | None]:
        """The directory in use, and a notice when it is the private fallback."""
        if self._chosen is None or not self._chosen[0].is_dir():  # a cleared /run (reboot, tmpfiles) is made again
            self._chosen = self._choose()
        return self._chosen

    def _choose(self) -> tuple[Path, str | None]:
        try:
            if not self.directory.is_dir():
                self.directory.mkdir(parents=True, mode=0o1777)
                os.chmod(self.directory, 0o1777)  # mkdir's mode goes through the umask
            if not os.access(self.directory, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "not writable by this user")
            return self.directory, None
        except OSError as exc:
            why = exc.strerror or str(exc)
        self.fallback.mkdir(parents=True, mode=0o700, exist_ok=True)
        return self.fallback, (f"locks: cannot use {self.directory} ({why}); using {self.fallback}, "
                               f"which other operators do not see")

    @staticmethod
    def file_name(key: str) -> str:
        """A file name for a key: the key itself when it is plain, else a readable part and a hash."""
        if all(SAFE_NAME.fullmatch(ch) for ch in key) and 0 < len(key) <= 120 and not key.startswith("."):
            return key + ".lock"
        readable = "".join(ch if SAFE_NAME.fullmatch(ch) else "_" for ch in key)[:60].lstrip(".")
        return f"{readable}~{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"

    def _path(self, key: str) -> Path:
        return self.where()[0] / self.file_name(key)

    def _read(self, path: Path, key: str | None = None) -> LockInfo | None:
        """The lock in `path`, None when there is none. Anything that is not a lock the console wrote
        (a FIFO, a device, a symbolic link, a directory, garbage, more than LOCK_MAX bytes: the
        directory is writable by all) is a lock that says it is unreadable and names its file:
        it refuses its target and is listed, and nothing hangs on it (console/core/files.py)."""
        try:
            raw = files.read_bytes(path, files.LOCK_MAX, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except files.FileRefused as exc:
            return self._unreadable(path, key, exc.why)
        except OSError as exc:
            return self._unreadable(path, key, exc.strerror or type(exc).__name__)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        found_key = key or (data.get("key") if isinstance(data, dict) else None) or path.stem
        info = LockInfo.from_record(str(found_key), data)
        if info.problem:
            return self._unreadable(path, key, "not the JSON the console writes")
        return info.judged(_this_host())

    def _unreadable(self, path: Path, key: str | None, why: str) -> LockInfo:
        return LockInfo(key=key or path.stem, user="?", host="?", pid=0, since=self.clock(),
                        problem=f"unreadable: {path}: {why}")

    def _create(self, path: Path, info: LockInfo) -> bool:
        """Write the lock whole, then link it into place; False when the name is taken."""
        directory = path.parent
        temporary = directory / f".{path.name}.{os.getpid()}.{info.token[:8]}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (json.dumps(info.to_record(), sort_keys=True) + "\n").encode())
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
            return True
        except FileExistsError:
            return False
        finally:
            temporary.unlink(missing_ok=True)

    def _take(self, plan: Plan, keys: list[str]) -> HeldLocks:
        directory, notice = self.where()
        held = HeldLocks(keys=[], notices=[notice] if notice else [])
        taken_by_others: list[LockInfo] = []
        for key, info in zip(keys, _holders_for(plan, keys, self.clock), strict=False):
            path = directory / self.file_name(key)
            try:
                created = self._create(path, info)
            except OSError as exc:
                self._release_now(held)
                raise LockError(f"refused: cannot write the lock {path} ({exc.strerror}); nothing was sent") from None
            if created:
                held.keys.append(key)
                held.locks.append(info)
            else:
                taken_by_others.append(self._read(path, key) or _replace(info, problem="held a moment ago"))
        if taken_by_others:
            self._release_now(held)
            raise refusal(taken_by_others, self.clock())
        return held

    def _release_now(self, held: HeldLocks) -> list[str]:
        notices = []
        for info in held.locks:
            path = self._path(info.key)
            now = self._read(path, info.key)
            if now is None or now.token != info.token:
                notices.append(f"lock {info.key} was broken by someone else while the action ran")
                continue
            try:
                path.unlink()
            except OSError as exc:
                notices.append(f"lock {info.key} not released: {exc.strerror}; remove {path}")
        held.locks, held.keys = [], []
        return notices

    @asynccontextmanager
    async def hold(self, plan: Plan, notify: Notify | None = None) -> AsyncIterator[HeldLocks]:
        """Hold every lock of the plan for the block; LockHeld when one is taken (nothing held then)."""
        held = await asyncio.to_thread(self._take, plan, lock_keys(plan, self.domains))
        for notice in held.notices:
            await _tell(notify, notice)
        try:
            yield held
        finally:
            for notice in await asyncio.shield(asyncio.to_thread(self._release_now, held)):
                held.notices.append(notice)
                await _tell(notify, notice)

    def _list(self) -> list[LockInfo]:
        directory, _ = self.where()
        found = []
        for path in sorted(directory.glob("*.lock")):
            info = self._read(path)
            if info is not None:
                found.append(info)
        return sorted(found, key=lambda info: info.key)

    async def list(self) -> list[LockInfo]:
        return await asyncio.to_thread(self._list)

    def _break(self, key: str) -> LockInfo | None:
        path = self._path(key)
        info = self._read(path, key)
        if info is None:
            return None
        try:
            path.unlink()
        except FileNotFoundError:
            return None
        except PermissionError:
            raise LockError(f"refused: {path} belongs to another user and {path.parent} is sticky: only its owner "
                            f"or root can break it (sudo opsconsole ...)") from None
        except OSError as exc:
            raise LockError(f"refused: cannot remove {path} ({exc.strerror})") from None
        return info

    async def break_lock(self, key: str) -> LockInfo | None:
        """Remove the lock of `key` whoever holds it; the lock that was there, or None."""
        return await asyncio.to_thread(self._break, key)

    def describe(self) -> str:
        return f"file locks in {self.where()[0]}"


# --- Redis: several bastions -------------------------------------------------------------------------

if TYPE_CHECKING:
    from redis.asyncio.lock import Lock as RedisLock


class RedisLocks:
    """Locks in Redis for several bastions, on redis-py's `Lock` (redis.asyncio.lock): taken without
    waiting, with the holder's JSON (a token of its own inside) as the lock's token, so the key's
    value says who holds it; released only while that token is still there, and `reacquire`d (the
    expiry reset to `ttl`) every ttl/3 while the action runs. A holder that dies stops renewing and
    its lock expires after `ttl`. Redis unreachable when an action starts refuses it; unreachable at
    the end is a notice (the lock then expires). `break_lock` deletes a key whoever holds it."""

    kind = "redis"

    def __init__(self, url: str, password: str | None = None, *, ttl: float = 3600.0, clock: Clock = utc_now,
                 domains: Iterable[str] = (), timeout: float = 5.0, prefix: str = REDIS_PREFIX) -> None:
        self.url = url
        self._password = password
        self.ttl_ms = max(1, int(ttl * 1000))
        self.clock = clock
        self.domains = tuple(domains)
        self.timeout = timeout
        self.prefix = prefix

    def _client(self) -> Any:
        import redis.asyncio as redis_asyncio

        return redis_asyncio.Redis.from_url(self.url, password=self._password, socket_timeout=self.timeout,
                                            socket_connect_timeout=self.timeout, decode_responses=True)

    def _where(self) -> str:
        return self.url.split("@")[-1]  # never the password of a redis://:pass@host URL

    def _unreachable(self, exc: BaseException) -> str:
        return f"Redis at {self._where()} unreachable ({type(exc).__name__}: {str(exc)[:120]})"

    async def _read(self, client: Any, key: str) -> LockInfo | None:
        value = await client.get(self.prefix + key)
        if value is None:
            return None
        left = await client.pttl(self.prefix + key)
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        info = LockInfo.from_record(key, data).judged(_this_host())
        return _replace(info, expires_in=left / 1000 if left and left > 0 else None)

    @asynccontextmanager
    async def hold(self, plan: Plan, notify: Notify | None = None) -> AsyncIterator[HeldLocks]:
        """As FileLocks.hold."""
        client = self._client()
        held = HeldLocks(keys=[])
        mine: list[tuple[LockInfo, RedisLock]] = []  # held.locks with their redis-py locks
        try:
            try:
                taken: list[LockInfo] = []
                keys = lock_keys(plan, self.domains)
                for key, info in zip(keys, _holders_for(plan, keys, self.clock), strict=False):
                    lock = self._lock(client, key)
                    if await lock.acquire(blocking=False, token=self._value(info)):
                        held.keys.append(key)
                        held.locks.append(info)
                        mine.append((info, lock))
                    else:
                        taken.append(await self._read(client, key) or _replace(info, problem="held a moment ago"))
                if taken:
                    await self._release(held, mine)
                    raise refusal(taken, self.clock())
            except LockHeld:
                raise
            except Exception as exc:  # noqa: BLE001 - redis raises its own errors and OSError
                await self._release(held, mine)
                raise LockError(f"refused: cannot take the locks: {self._unreachable(exc)}; nothing was sent") from None
            renewing = asyncio.ensure_future(self._renew(mine, notify))
            try:
                yield held
            finally:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
                for notice in await asyncio.shield(self._release(held, mine)):
                    held.notices.append(notice)
                    await _tell(notify, notice)
        finally:
            await self._close(client)

    def _lock(self, client: Any, key: str) -> RedisLock:
        """redis-py's lock on `key`: expires after ttl, refuses at once when held (no waiting). Not
        thread-local: the token belongs to this run's Lock object, whichever task releases it."""
        from redis.asyncio.lock import Lock

        return Lock(client, self.prefix + key, timeout=self.ttl_ms / 1000, blocking=False, thread_local=False)

    @staticmethod
    def _value(info: LockInfo) -> str:
        """The lock's token: the holder record `list` reads back (its own `token` makes it unique)."""
        return json.dumps(info.to_record(), sort_keys=True)

    async def _renew(self, mine: list[tuple[LockInfo, RedisLock]], notify: Notify | None) -> None:
        from redis.exceptions import LockNotOwnedError

        lost: set[str] = set()
        async for _ in Ticker(self.ttl_ms / 3000):  # until the action ends (it cancels this task)
            for info, lock in mine:
                if info.key in lost:
                    continue  # another token is there now, or none: it never becomes ours again
                try:
                    await lock.reacquire()  # the expiry back to ttl, only while the token is ours
                except LockNotOwnedError:
                    lost.add(info.key)
                    await _tell(notify, f"lock {info.key} was lost (expired or broken) while the action ran")
                except Exception as exc:  # noqa: BLE001 - keep trying; the lock lasts ttl meanwhile
                    await _tell(notify, f"lock {info.key} not renewed: {self._unreachable(exc)}")

    async def _release(self, held: HeldLocks, mine: list[tuple[LockInfo, RedisLock]]) -> list[str]:
        from redis.exceptions import LockNotOwnedError

        notices = []
        for info, lock in mine:
            try:
                await lock.release()  # deletes the key only while our token is its value
            except LockNotOwnedError:
                notices.append(f"lock {info.key} had expired or was broken before the action ended")
            except Exception as exc:  # noqa: BLE001 - never a crash at the end of an action
                notices.append(f"lock {info.key} not released: {self._unreachable(exc)}; it expires by itself "
                               f"within {self.ttl_ms // 1000} s")
        mine.clear()
        held.locks, held.keys = [], []
        return notices

    @staticmethod
    async def _close(client: Any) -> None:
        try:
            await client.aclose()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass

    async def list(self) -> list[LockInfo]:
        client = self._client()
        try:
            found = []
            async for name in client.scan_iter(match=self.prefix + "*", count=200):
                info = await self._read(client, name[len(self.prefix):])
                if info is not None:
                    found.append(info)
            return sorted(found, key=lambda info: info.key)
        except Exception as exc:  # noqa: BLE001
            raise LockError(f"cannot list the locks: {self._unreachable(exc)}") from None
        finally:
            await self._close(client)

    async def break_lock(self, key: str) -> LockInfo | None:
        client = self._client()
        try:
            info = await self._read(client, key)
            if info is None:
                return None
            await client.delete(self.prefix + key)
            return info
        except Exception as exc:  # noqa: BLE001
            raise LockError(f"refused: cannot break the lock: {self._unreachable(exc)}") from None
        finally:
            await self._close(client)

    def describe(self) -> str:
        return f"Redis locks at {self._where()}"


Locks = FileLocks | RedisLocks


def locks_for(config: AppConfig, clock: Clock = utc_now) -> Locks:
    """The configured locks: Redis when `actions.locks.redis` is set, else the shared directory."""
    settings = config.actions.locks
    domains = config.farm.domains
    if settings.redis:
        password = settings.redis_password.reveal() if settings.redis_password is not None else None
        return RedisLocks(settings.redis, password, ttl=settings.ttl, clock=clock, domains=domains)
    return FileLocks(settings.dir, clock=clock, domains=domains)


def lock_rows(locks: list[LockInfo], now: datetime) -> list[tuple[str, ...]]:
    """Plain rows for a table (the CLI listing, a later leftovers board): key, holder, since, age,
    what, reason, state (`STALE`, `expires in N s`, or empty)."""
    rows: list[tuple[str, ...]] = []
    for info in locks:
        age = _ago((now - info.since).total_seconds()).removesuffix(" ago")
        state = "STALE" if info.stale else (info.problem or "")
        if not state and info.expires_in is not None:
            state = f"expires in {int(info.expires_in)} s"
        rows.append((info.key, info.holder, f"{info.since.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC", age,
                     info.title, info.reason, state))
    return rows


async def current_lock_rows(config: AppConfig, clock: Clock = utc_now) -> list[tuple[str, ...]]:
    """The current locks of the configured store as plain rows (see lock_rows)."""
    return lock_rows(await locks_for(config, clock).list(), clock())


def running_plan_ids(locks: list[LockInfo]) -> set[str]:
    """Plans whose locks are held by a live process (their intent without a result is not unfinished)."""
    return {info.plan_id for info in locks if info.plan_id and not info.stale and not info.problem}


async def find_unfinished(config: AppConfig, clock: Clock = utc_now, include_acknowledged: bool = False) -> list[Any]:
    """The actions the audit file says started and never ended (console/actions/audit.py), minus
    those whose locks a live process still holds (they are running now, elsewhere)."""
    from console.actions.audit import unfinished_actions

    try:
        held = await locks_for(config, clock).list()
    except Exception:  # noqa: BLE001 - no lock listing (Redis down): every open intent is shown
        held = []
    return await asyncio.to_thread(unfinished_actions, config.actions.audit.path, running=running_plan_ids(held),
                                   include_acknowledged=include_acknowledged)
