"""Hostile strings: what the `hostile` scenario serves in every string field, and what must never reach a terminal.

Each field of FIELDS gets its own string, `hostile(field)`, made of:

- escape sequences: CSI `ESC[31337m`, OSC 0 (window title) `ESC]0;PWN-<field> BEL`, an OSC 8 hyperlink to
  `https://pwn.invalid/<field>`, OSC 52 (clipboard) `ESC]52;c;UFdO BEL`, a DCS `ESC P 0;1|PWN-<field> ESC \\`;
- C1 controls (U+009B CSI `\\x9b31337m`, U+0085 NEL), BEL, bidi controls (U+202E RLO, U+2066 LRI, never
  closed), zero-width characters (U+200B, U+200D, U+FEFF);
- Rich/Textual markup and stray brackets: `[bold red]`, `[/]`, `[link=x]`, `File[/srv/x`, `[@click=app.quit]`;
- a lone surrogate U+D800 where the wire format allows it (JSON: the sim's encoders write `\\ud800`), that is
  in every field but the names (a name is also sent in URLs, where UTF-8 cannot carry one);
- `hostile(field, long=True)`: the same with a 20,000-character line added (LONG_LINE).

The OSC 0 title, the OSC 8 target and the DCS name their field: SENTINELS[field] holds the raw sequences that
must never reach a terminal, so a test can tell which field leaked (`leaks(text)`); CSI, OSC 52 and the C1 CSI
are the same in every field (COMMON_SENTINELS).

Names (host, service, VM, certname, backend, log source and app, GitHub login, lock key, audit target) have no
\n and no lone surrogate (U+0085 NEL is there) and a plain prefix (`pwn-host-name...`): they are sent in URL paths
(percent-encoded), Icinga filters, Graylog queries and Salt targets, and the sim's own lookups must find them. `write_hostile_locks` and
`write_hostile_audit` write hostile files in the formats of console/actions/locks.py and audit.py (read, never
imported: the sim must not import the console's actions).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"  # string terminator
CSI_SENTINEL = ESC + "[31337m"  # an SGR no program writes
OSC52_SENTINEL = ESC + "]52;c;UFdO" + BEL  # put "PWN" on the clipboard
C1_CSI_SENTINEL = "\x9b31337m"  # the same SGR with the 8-bit CSI
COMMON_SENTINELS = (CSI_SENTINEL, OSC52_SENTINEL, C1_CSI_SENTINEL)
LONE_SURROGATE = "\ud800"
LONG_LINE_CHARS = 20_000
LONG_LINE = ("PWN-LONG-LINE:" + "0123456789" * (LONG_LINE_CHARS // 10))[:LONG_LINE_CHARS]
MARKUP = ("[bold red]", "[/]", "[link=x]", "File[/srv/x", "[@click=app.quit]")
# single characters a sanitised terminal line should not carry either (raw): NEL, BEL, C1 CSI, bidi, zero-width
CONTROL_CHARS = ("\x85", BEL, "\x9b", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff")

NAME = "name"  # one line, no lone surrogate (also sent in URLs)
LINE = "line"  # one line
TEXT = "text"  # one line; long=True adds LONG_LINE
LINES = "lines"  # several lines (\n, one \r\n, a tab)

# field -> kind. Where the `hostile` scenario serves each one: PLACES.
FIELDS: dict[str, str] = {
    # Icinga
    "host-name": NAME, "service-name": NAME, "plugin-output": TEXT, "plugin-output-multiline": LINES,
    "ack-author": LINE, "ack-comment": TEXT, "downtime-author": LINE, "downtime-comment": TEXT,
    # Graylog
    "log-message": TEXT, "log-source": NAME, "log-app": NAME, "stream-title": LINE, "stream-description": TEXT,
    "event-title": LINE, "event-description": TEXT, "event-message": TEXT,
    # GitHub
    "commit-message": LINES, "commit-author": LINE, "commit-login": NAME,
    # Proxmox
    "vm-name": NAME, "task-log": TEXT,
    # PuppetDB
    "certname": NAME, "puppet-resource": LINE, "puppet-message": TEXT, "disabled-message": TEXT,
    # the caches' depool services, the hosts' commands (SSH and Salt: console/sim/hostcmds.py)
    "backend-name": NAME, "command-output": LINES,
    # files another operator left (write_hostile_locks, write_hostile_audit)
    "lock-key": NAME, "lock-user": LINE, "lock-host": LINE, "lock-title": LINE, "lock-reason": TEXT,
    "audit-user": LINE, "audit-host": LINE, "audit-title": LINE, "audit-reason": TEXT, "audit-target": NAME,
    "audit-detail": LINES,
}

PLACES: dict[str, str] = {
    "host-name": "the extra host HOSTILE_HOST: Icinga host (name, display_name, host_name of its services, comments, "
                 "downtimes, event stream), Proxmox VM name, PuppetDB certname (+ .fsslc.wtnet), Graylog source of its "
                 "lines and the key/source of the hostile Graylog events, Salt minion id (+ .fsslc.wtnet)",
    "service-name": "Icinga service (CRITICAL) on HOSTILE_HOST and on bast181",
    "plugin-output": "Icinga output of os161 `Disk Space` (CRITICAL, long=True) and of HOSTILE_HOST's hostile service",
    "plugin-output-multiline": "Icinga output of os202 `Current Load` (WARNING, several lines)",
    "ack-author": "the acknowledgement of os161 `Disk Space` (Icinga comment author, event stream)",
    "ack-comment": "the acknowledgement of os161 `Disk Space` (long=True)",
    "downtime-author": "the downtime of os202 `Current Load`",
    "downtime-comment": "the downtime of os202 `Current Load` (long=True)",
    "log-message": "Graylog lines (level 3) from HOSTILE_HOST, os161 and the sender hostile('log-source') every 30 s; "
                   "os161 every 10 min with long=True",
    "log-source": "Graylog source of lines from a sender that is no farm host",
    "log-app": "Graylog application_name of the hostile lines (and the hostile stream's rule)",
    "stream-title": "a Graylog stream's title (/api/streams)", "stream-description": "that stream's description",
    "event-title": "a Graylog event definition's title (events search context)",
    "event-description": "that definition's description",
    "event-message": "its events' message, every 5 min, key HOSTILE_HOST",
    "commit-message": "the newest commit of miraheze/puppet (long=True: subject line, body)",
    "commit-author": "that commit's author and committer name", "commit-login": "that commit's GitHub login",
    "vm-name": "Proxmox VM name of the extra guest SPLIT_HOST (pwn9002 in Icinga and Graylog)",
    "task-log": "the first two lines of every Proxmox power task's log (the second long=True)",
    "certname": "PuppetDB certname and Salt minion id of SPLIT_HOST (+ .fsslc.wtnet), its Icinga vars.fqdn",
    "puppet-resource": "resource title of the failed/skipped events of swiftac171 and HOSTILE_HOST (reports, events, "
                       "report logs, Icinga Puppet output, `puppet agent -t` output)",
    "puppet-message": "message of the failed event (long=True)",
    "disabled-message": "mon181's Puppet is disabled with it: the fact puppet_agent_disabled_message, Icinga Puppet "
                        "output, `puppet agent -t` output",
    "backend-name": "a backend in every cache's depool list (GET /backend/list), set sick on cp161",
    "command-output": "appended to the stdout (several lines) and stderr (long=True) of every shell command on every "
                      "host (Salt cmd.run_all/cmd.run, hostcmds.run_line)",
    "lock-key": "write_hostile_locks", "lock-user": "write_hostile_locks", "lock-host": "write_hostile_locks",
    "lock-title": "write_hostile_locks", "lock-reason": "write_hostile_locks (long=True)",
    "audit-user": "write_hostile_audit", "audit-host": "write_hostile_audit", "audit-title": "write_hostile_audit",
    "audit-reason": "write_hostile_audit (long=True)", "audit-target": "write_hostile_audit",
    "audit-detail": "write_hostile_audit (a result's step detail and notices)",
}


def osc_title(field: str) -> str:
    return f"{ESC}]0;PWN-{field}{BEL}"


def osc_link(field: str) -> str:
    """The opening of the OSC 8 hyperlink (the link's text and the closing `ESC]8;; ESC\\` follow it)."""
    return f"{ESC}]8;;https://pwn.invalid/{field}{ST}"


def dcs(field: str) -> str:
    """A DCS (DECUDK: it would program the terminal's function keys)."""
    return f"{ESC}P0;1|PWN-{field}{ST}"


def _check(field: str) -> str:
    try:
        return FIELDS[field]
    except KeyError:
        raise KeyError(f"no hostile field {field!r}; fields are {', '.join(FIELDS)}") from None


SENTINELS: dict[str, tuple[str, ...]] = {
    field: (osc_title(field), osc_link(field), dcs(field), *COMMON_SENTINELS) for field in FIELDS
}
SENTINEL_BYTES: dict[str, tuple[bytes, ...]] = {
    field: tuple(s.encode("utf-8") for s in sentinels) for field, sentinels in SENTINELS.items()
}


def _sequences(field: str) -> str:
    return (CSI_SENTINEL + osc_title(field) + osc_link(field) + "click" + f"{ESC}]8;;{ST}" + OSC52_SENTINEL + dcs(field)
            + C1_CSI_SENTINEL + "\x85" + BEL + "\u202e" + "\u2066" + "z\u200bw\u200dj\ufeff" + "".join(MARKUP))


def hostile(field: str, *, long: bool = False) -> str:
    """The hostile string of `field` (one of FIELDS), exactly as the scenario serves it; `long=True` adds a
    20,000-character line (where PLACES says so, the farm serves that variant)."""
    kind = _check(field)
    head = f"pwn-{field}"
    if kind == NAME:
        text = head + _sequences(field)
    elif kind in (LINE, TEXT):
        text = head + " " + _sequences(field) + " " + LONE_SURROGATE + " end"
    else:
        text = (f"{head}: {CSI_SENTINEL}{osc_title(field)} first line\n"
                f"second line {osc_link(field)}click{ESC}]8;;{ST} {OSC52_SENTINEL}\r\n"
                f"\tthird line {dcs(field)} {C1_CSI_SENTINEL}\x85{BEL}\u202e\u2066\n"
                f"z\u200bw\u200dj\ufeff {''.join(MARKUP)} {LONE_SURROGATE}\n"
                "last line")
    if long:
        text += ("\n" if kind == LINES else " ") + LONG_LINE
    return text


def host_fqdn(field: str, domain: str = "fsslc.wtnet") -> str:
    """A hostile name with the farm's domain: what PuppetDB and Salt call that host."""
    return f"{hostile(field)}.{domain}"


def leaks(text: str) -> list[str]:
    """The fields whose own sentinels (OSC 0 title, OSC 8 target, DCS) appear raw in `text`."""
    return [field for field in FIELDS if any(s in text for s in SENTINELS[field][:3])]


def raw_sequences(text: str) -> list[str]:
    """Every sentinel (common ones too) that appears raw in `text`: empty for a terminal that is safe."""
    found = [s for s in COMMON_SENTINELS if s in text]
    for field in leaks(text):
        found += [s for s in SENTINELS[field][:3] if s in text]
    return found


# --- files another operator left: locks and an audit log ----------------------------------------------

_SAFE_KEY = re.compile(r"[A-Za-z0-9._:!@+-]")  # what console/actions/locks.py keeps of a key in its file name


def lock_file_name(key: str) -> str:
    """The file name the console's FileLocks gives a key (its format, written from reading locks.py)."""
    if all(_SAFE_KEY.fullmatch(ch) for ch in key) and 0 < len(key) <= 120 and not key.startswith("."):
        return key + ".lock"
    readable = "".join(ch if _SAFE_KEY.fullmatch(ch) else "_" for ch in key)[:60].lstrip(".")
    return f"{readable}~{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}.lock"


def _json_line(data: Any) -> str:
    return json.dumps(data, sort_keys=True)  # ensure_ascii: a lone surrogate is written \ud800


def write_hostile_locks(directory: str | os.PathLike[str], now: datetime | None = None) -> dict[str, Path]:
    """Hostile lock files in a lock directory (created if missing): what each is -> its path.

    - "fifo": a FIFO named like a lock (`host:pwn-fifo.lock`): a reader that opens it blocks forever
    - "zero": a symlink to /dev/zero (`host:pwn-zero.lock`): a reader that reads it all never ends
    - "garbage": bytes that are neither UTF-8 nor JSON, escape sequences among them (`host:pwn-garbage.lock`)
    - "escapes": a well-formed lock whose key, user, host, title and reason are hostile (the lock-* fields),
      held by a dead pid on another host since 2 hours before `now`
    - "huge": a well-formed lock of 1 MiB (a reason of 1 MiB of escape sequences; `host:pwn-huge.lock`)
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    when = (now or datetime.now(timezone.utc)) - timedelta(hours=2)
    paths: dict[str, Path] = {}
    fifo = root / lock_file_name("host:pwn-fifo")
    if not fifo.exists():
        os.mkfifo(fifo, 0o644)
    paths["fifo"] = fifo
    zero = root / lock_file_name("host:pwn-zero")
    if not zero.is_symlink():
        zero.symlink_to("/dev/zero")
    paths["zero"] = zero
    garbage = root / lock_file_name("host:pwn-garbage")
    garbage.write_bytes(b"\xff\xfe\x00{\"key\": \x1b[31337m\x1b]0;PWN-lock-garbage\x07\x9b\xc3(" + bytes(range(256)) + b"\n")
    paths["garbage"] = garbage
    key = "host:" + hostile("lock-key")
    record = {
        "key": key, "user": hostile("lock-user"), "host": hostile("lock-host"), "pid": 2 ** 22 + 7, "pid_start": 1,
        "since": when.isoformat(), "reason": hostile("lock-reason", long=True), "plan": "0" * 32,
        "title": hostile("lock-title"), "token": "f" * 32,
    }
    escapes = root / lock_file_name(key)
    escapes.write_text(_json_line(record) + "\n", encoding="ascii")
    paths["escapes"] = escapes
    huge = root / lock_file_name("host:pwn-huge")
    chunk = CSI_SENTINEL + osc_title("lock-reason") + "[bold red]"
    big = {**record, "key": "host:pwn-huge", "user": "pwn", "host": "pwn", "title": "huge lock",
           "reason": chunk * (2 ** 20 // len(chunk))}
    huge.write_text(_json_line(big) + "\n", encoding="ascii")
    paths["huge"] = huge
    return paths


def hostile_audit_records(now: datetime | None = None) -> list[dict[str, Any]]:
    """Another operator's audit records (console/actions/audit.py's JSONL, engine.py's intent and result):
    an unfinished restart (intent, no result) and a finished purge whose result carries hostile details."""
    at = now or datetime.now(timezone.utc)
    who = {"user": hostile("audit-user"), "host": hostile("audit-host"), "tier": 2, "task": "T31337"}
    target = hostile("audit-target")
    step = {"index": 0, "kind": "restart", "executor": "command:salt", "target": target, "subject": "php-fpm",
            "command": {"host": target, "address": target + ".fsslc.wtnet", "line": "sudo systemctl restart php8.4-fpm",
                        "timeout": 60.0}, "note": hostile("audit-detail")}
    unfinished = {"time": (at - timedelta(minutes=50)).isoformat(), **who, "id": "a" * 32, "action": "restart",
                  "title": hostile("audit-title"), "targets": [target, "mw151"], "reason": hostile("audit-reason", long=True),
                  "event": "intent", "dry_run": False, "confirmed_via": hostile("audit-detail"), "steps": [step]}
    purge = {**who, "id": "b" * 32, "action": "purge", "title": hostile("audit-title"), "targets": [target],
             "reason": hostile("audit-reason"), "dry_run": False}
    purge_step = {"index": 0, "kind": "purge", "executor": "cp161", "target": target, "subject": target}
    return [
        {"time": (at - timedelta(minutes=40)).isoformat(), **purge, "event": "intent", "confirmed_via": "y",
         "steps": [purge_step]},
        {"time": (at - timedelta(minutes=39)).isoformat(), **purge, "event": "result", "outcome": "partial",
         "duration_s": 0.2, "results": [{"step": 0, "kind": "purge", "target": target, "subject": target, "status": "failed",
                                         "detail": hostile("audit-detail", long=True), "http_status": 500}],
         "notices": [hostile("audit-detail")]},
        unfinished,
    ]


def write_hostile_audit(path: str | os.PathLike[str], now: datetime | None = None) -> Path:
    """Write (append) hostile_audit_records() to an audit file, one JSON line each (`\\u` escapes, so a lone
    surrogate survives), plus a line cut mid-record as a crash leaves it. Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = [_json_line(record) for record in hostile_audit_records(now)]
    cut = lines[0][: len(lines[0]) // 2]
    with open(target, "a", encoding="ascii") as handle:
        handle.write(lines[0] + "\n" + cut + "\n" + "\n".join(lines[1:]) + "\n")
    return target
