"""Where actions are recorded: the local audit file (append-only JSONL, fsynced), the server admin
log (one `!log` line over UDP) and Graylog (GELF over HTTP). Secrets are scrubbed from all three."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import stat
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx

from console.core import files
from console.core.display import safe
from console.sources.bounded import DEFAULT_MAX_ANSWER, bounded_request
from console.sources.httpclient import redact, ssl_verify, transport_timeout

SAL_MAX = 480  # bytes of one SAL line (an IRC line carries about 510)


class AuditError(OSError):
    """The audit file cannot be written: no action may start."""


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, secrets) for v in value]
    return value


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class AuditLog:
    """An append-only JSONL file (default ~/.local/state/opsconsole/audit.jsonl): created 0600, its
    missing parent directories 0700; every record is flushed and fsynced before `append` returns."""

    def __init__(self, path: str | os.PathLike[str], secrets: list[str] | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = Path(path).expanduser()
        self._secrets = [s for s in (secrets or []) if s]
        # each secret as it would appear inside a JSON string: found in a record's line = found in the record
        self._in_json = [json.dumps(s, ensure_ascii=False)[1:-1] for s in self._secrets]
        self._clock = clock
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one record (a `time` is added when absent) and fsync it; raise AuditError on failure."""
        record = {"time": self._clock().isoformat(), **record}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        if any(secret in line for secret in self._in_json):  # rare: scrub value by value (~2 ms for a purge's intent)
            record = _scrub(record, self._secrets)
            line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            try:
                self._ensure_parent()
                # O_NONBLOCK: a FIFO in its place fails at once (ENXIO) or below, instead of waiting for a reader
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                             | os.O_NONBLOCK | os.O_NOCTTY, 0o600)
            except OSError as exc:
                why = "not a regular file (a FIFO)" if exc.errno == errno.ENXIO else exc.strerror  # no reader
                raise AuditError(exc.errno or errno.EIO, f"cannot open the audit log {self.path}: {why}") from None
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise AuditError(errno.EINVAL, f"the audit log {self.path} is not a regular file")
                if info.st_size == 0:
                    os.fchmod(fd, 0o600)  # a new file: owner only whatever the umask
                os.write(fd, line.encode())
                os.fsync(fd)
            except AuditError:
                raise
            except OSError as exc:
                raise AuditError(exc.errno or errno.EIO, f"cannot write the audit log {self.path}: {exc.strerror}") from None
            finally:
                os.close(fd)
        return record

    def _ensure_parent(self) -> None:
        missing = []
        parent = self.path.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            directory.mkdir(mode=0o700)
            directory.chmod(0o700)  # mkdir's mode goes through the umask

    def records(self) -> list[dict[str, Any]]:
        """Every record in the file (for tests and for a future history view), read line by line (a
        line longer than AUDIT_LINE_MAX is skipped); FileRefused when the path is no regular file."""
        try:
            lines = files.read_lines(self.path, files.AUDIT_LINE_MAX)
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


# --- unfinished actions: an intent without a result ---------------------------------------------

UNFINISHED_TAIL = 8 * 1024 * 1024  # bytes of the audit file's end that are read at start


def tail_records(path: str | os.PathLike[str], max_bytes: int = UNFINISHED_TAIL) -> list[dict[str, Any]]:
    """The records in the last `max_bytes` of an audit file (a cut first line, damaged lines and lines
    longer than AUDIT_LINE_MAX skipped), streamed line by line. A path that is no regular file (a
    FIFO, a device: another operator's shared file) raises FileRefused (an OSError), never hangs."""
    path = Path(path).expanduser()
    try:
        lines = files.read_lines(path, files.AUDIT_LINE_MAX, tail=max_bytes)
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a line cut by a crash mid-write
        if isinstance(record, dict):
            records.append(record)
    return records


class UnfinishedAction:
    """An action whose intent is on record but whose result is not: the console died while it ran."""

    def __init__(self, intent: dict[str, Any], acknowledged: bool = False) -> None:
        self.intent = intent
        self.plan_id = str(intent.get("id") or "")
        self.title = str(intent.get("title") or intent.get("action") or "an action")
        self.targets = [str(t) for t in intent.get("targets") or []]
        self.user = str(intent.get("user") or "?")
        self.host = str(intent.get("host") or "?")
        self.started = str(intent.get("time") or "")
        self.acknowledged = acknowledged

    def started_label(self) -> str:
        try:
            return f"{datetime.fromisoformat(self.started).astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
        except ValueError:
            return self.started or "at an unknown time"

    def describe(self) -> str:
        """`unfinished: purge X started 10:02 UTC by alice@bast161 — its result is unknown; check ...`."""
        targets = ", ".join(self.targets[:5]) + (f" and {len(self.targets) - 5} more" if len(self.targets) > 5 else "")
        return (f"unfinished: {self.title} started {self.started_label()} by {self.user}@{self.host} "
                f"(plan {self.plan_id[:8]}) — its result is unknown; check the targets: {targets or '-'}")

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan_id, "action": self.intent.get("action"), "title": self.title,
                "targets": self.targets, "user": self.user, "host": self.host, "started_at": self.started,
                "reason": self.intent.get("reason"), "acknowledged": self.acknowledged}


def unfinished_actions(path: str | os.PathLike[str], *, running: set[str] | frozenset[str] = frozenset(),
                       max_bytes: int = UNFINISHED_TAIL, include_acknowledged: bool = False) -> list[UnfinishedAction]:
    """Intents without a result in the audit file's tail, oldest first. `running`: plan ids still held
    by a live process (their result is still to come). An `acknowledged-unfinished` record (written
    once the console has shown them) hides them unless `include_acknowledged`."""
    intents: dict[str, dict[str, Any]] = {}
    acknowledged: set[str] = set()
    for record in tail_records(path, max_bytes):
        event, plan_id = record.get("event"), record.get("id")
        if event == "intent" and plan_id:
            intents[str(plan_id)] = record
        elif event == "result" and plan_id:
            intents.pop(str(plan_id), None)
        elif event == "acknowledged-unfinished":
            acknowledged.update(str(p) for p in record.get("plans") or [])
    found = [UnfinishedAction(intent, plan_id in acknowledged) for plan_id, intent in intents.items()
             if plan_id not in running]
    return [u for u in found if include_acknowledged or not u.acknowledged]


def acknowledge_unfinished(audit: AuditLog, unfinished: list[UnfinishedAction], user: str, host: str,
                           via: str = "tui") -> None:
    """Record that the operator was shown these unfinished actions (they are not shown again)."""
    if unfinished:
        audit.append({"event": "acknowledged-unfinished", "plans": [u.plan_id for u in unfinished],
                      "titles": [u.title for u in unfinished], "user": user, "host": host, "via": via})


def sal_line(operator: str, message: str) -> str:
    """`!log [user@host] message`, one line, cut to what the relay carries."""
    text = " ".join(safe(message).split())  # names from the farm: no control character reaches IRC
    line = f"!log [{safe(operator)}] {text}"
    encoded = line.encode()
    if len(encoded) > SAL_MAX:
        line = encoded[: SAL_MAX - 3].decode(errors="ignore") + "..."
    return line


class SalRelay:
    """The server admin log relay: one UDP datagram per line to HOST:PORT."""

    def __init__(self, address: str, secrets: list[str] | None = None) -> None:
        host, _, port = address.rpartition(":")
        self.host = host[1:-1] if host.startswith("[") else host
        self.port = int(port)
        self._secrets = [s for s in (secrets or []) if s]

    def _send(self, line: str) -> None:
        data = redact(line, self._secrets).encode()
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.sendto(data, address)

    async def send(self, line: str) -> None:
        """Send one line; raise OSError when it cannot (the caller reports it, the action stands)."""
        await asyncio.to_thread(self._send, line)


class GelfSender:
    """GELF 1.1 over HTTP: one JSON message per action, POSTed to a Graylog GELF HTTP input."""

    def __init__(self, url: str, verify: bool | str = True, timeout: float = 5.0, secrets: list[str] | None = None) -> None:
        self.url = url
        self.verify = verify
        self.timeout = timeout  # the whole request, answer included
        self.max_answer = DEFAULT_MAX_ANSWER  # bytes of its answer (Graylog's is empty)
        self._secrets = [s for s in (secrets or []) if s]

    async def send(self, short_message: str, host: str, fields: dict[str, Any], at: datetime) -> None:
        """POST one message; raise on a transport error or a non-2xx answer."""
        message: dict[str, Any] = {"version": "1.1", "host": host, "short_message": safe(short_message),
                                   "timestamp": round(at.timestamp(), 3), "level": 5}
        for key, value in fields.items():
            if value is None:
                continue
            message["_" + key] = value if isinstance(value, (int, float, str)) else json.dumps(value, default=str)
        message = _scrub(message, self._secrets)
        async with httpx.AsyncClient(verify=ssl_verify(self.verify), timeout=transport_timeout(self.timeout),
                                     follow_redirects=False) as client:
            response = await bounded_request(client, "POST", self.url, json=message, max_bytes=self.max_answer,
                                             deadline=self.timeout)
        if not 200 <= response.status_code < 300:
            raise OSError(f"GELF input answered HTTP {response.status_code}")
