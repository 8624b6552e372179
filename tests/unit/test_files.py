"""Files are typed and bounded (console/core/files.py and its users): a FIFO, a device, a directory or a
huge file where the console reads a config, a secret, a certificate, a lock, the audit, the incident
state or a theme is a message naming the file and why — never a hang, never a traceback.

Inputs that would hang the code before this (a FIFO opened blocking) run in a thread joined with a
timeout, and the FIFO is then opened for writing and closed so a stuck reader ends. Inputs that would
make it read without end (/dev/zero, a 3 GB file) are only given to code that cannot read them
unchecked here; tests/integration/test_hostile_files.py runs those in memory-limited subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from console.actions.audit import AuditError, AuditLog, tail_records
from console.actions.locks import FileLocks, LockHeld, lock_rows
from console.actions.plan import Operator, Plan, Reason, Risk, Step
from console.core import files
from console.core.clock import fixed_clock
from console.core.config import ConfigError, load_config, parse_config
from console.core.config_file import parse_document, read_document
from console.derive.incident import IncidentFile
from console.ui.themes import load_themes

NOW = datetime(2026, 8, 14, 10, 14, tzinfo=timezone.utc)
ALICE = Operator("alice", "bast161")
MINIMAL = "farm: {name: wikitide}\n"
ICINGA_WITH = """\
farm:
  name: wikitide
sources:
  icinga:
    - name: icinga
      url: https://mon181.fsslc.wtnet:5665
      username: opsconsole
      password: SECRET
"""
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)  # 9^9 strings once aliases are expanded: a billion laughs


def within(seconds: float, call: Callable[[], Any], fifo: Path | None = None) -> Any:
    """call() in a thread; fail (instead of hanging the suite) when it has not returned in time."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:  # end a reader stuck on the FIFO: a writer comes and goes
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        pytest.fail(f"still running after {seconds} s (hung)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def fifo_at(path: Path, mode: int = 0o600) -> Path:
    os.mkfifo(path, mode)
    return path


def sparse(path: Path, size: int, mode: int = 0o600) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
    path.chmod(mode)
    return path


def config_errors(path: Path, fifo: Path | None = None) -> list[str]:
    def load() -> str:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        return str(caught.value)

    return within(10, load, fifo).splitlines()


# --- the helper ----------------------------------------------------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = fifo_at(tmp_path / "x.secret")
    with pytest.raises(files.FileRefused) as caught:
        within(5, lambda: files.read_text(fifo, files.SECRET_MAX), fifo)
    assert str(caught.value) == f"{fifo}: not a regular file (a FIFO)"
    assert isinstance(caught.value, OSError)  # what callers already catch


def test_a_symlink_to_a_device_or_a_directory_is_refused(tmp_path):
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "dir").symlink_to(tmp_path)
    with pytest.raises(files.FileRefused, match=r"zero: not a regular file \(a character device\)$"):
        files.read_bytes(tmp_path / "zero", files.CONFIG_MAX)
    with pytest.raises(files.FileRefused, match=r"dir: not a regular file \(a directory\)$"):
        files.read_bytes(tmp_path / "dir", files.CONFIG_MAX)
    with pytest.raises(files.FileRefused, match=r"zero: not a regular file \(a symbolic link to a character device\)$"):
        files.read_bytes(tmp_path / "zero", files.LOCK_MAX, follow_symlinks=False)
    with pytest.raises(FileNotFoundError):
        files.read_bytes(tmp_path / "absent", files.LOCK_MAX)


def test_a_huge_sparse_file_is_refused_without_reading_it(tmp_path):
    huge = sparse(tmp_path / "huge", 3 * 1024**3)
    started = time.monotonic()
    with pytest.raises(files.FileRefused) as caught:
        files.read_bytes(huge, files.CONFIG_MAX)
    assert str(caught.value) == f"{huge}: larger than 4 MiB" and time.monotonic() - started < 1
    exact = sparse(tmp_path / "exact", files.SECRET_MAX)
    assert len(files.read_bytes(exact, files.SECRET_MAX)) == files.SECRET_MAX
    with pytest.raises(files.FileRefused, match="larger than 64 KiB"):
        files.read_bytes(sparse(tmp_path / "over", files.SECRET_MAX + 1), files.SECRET_MAX)


def test_a_pipe_is_read_only_when_asked_and_within_its_deadline(tmp_path):
    fifo = fifo_at(tmp_path / "config.fifo")

    def writer() -> None:
        with open(fifo, "w") as handle:
            handle.write(MINIMAL)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert within(5, lambda: files.read_text(fifo, files.CONFIG_MAX, allow_pipe=True), fifo) == MINIMAL
    thread.join(5)
    started = time.monotonic()  # no writer ever: the deadline, not a hang
    with pytest.raises(files.FileRefused, match=r"config.fifo: a pipe that did not end within 0.3 s$"):
        within(5, lambda: files.read_text(fifo, files.CONFIG_MAX, allow_pipe=True, pipe_seconds=0.3), fifo)
    assert time.monotonic() - started < 3


def test_lines_are_streamed_with_a_cap_per_line_and_a_tail(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"first\n" + b"x" * 100 + b"\nlast\n")
    assert list(files.read_lines(path, 10)) == [b"first", b"last"]  # the over-long line is skipped
    assert list(files.read_lines(path, 200, tail=8)) == [b"last"]  # the cut line before is skipped
    with pytest.raises(files.FileRefused, match="a FIFO"):
        within(5, lambda: files.read_lines(fifo_at(tmp_path / "f"), 10), tmp_path / "f")


# --- the config file ---------------------------------------------------------------------------------


def test_a_fifo_config_is_refused_unless_named_on_the_command_line(tmp_path):
    fifo = fifo_at(tmp_path / "config.yaml")
    assert config_errors(fifo, fifo) == [f"{fifo}:0: (file): not a regular file (a FIFO); a pipe is read only when named with --config"]


def test_a_config_that_is_a_directory_or_too_large_is_refused(tmp_path):
    (tmp_path / "dir.yaml").symlink_to(tmp_path)
    assert config_errors(tmp_path / "dir.yaml") == [f"{tmp_path}/dir.yaml:0: (file): not a regular file (a directory)"]
    big = sparse(tmp_path / "big.yaml", files.CONFIG_MAX + 1)
    assert config_errors(big) == [f"{big}:0: (file): larger than 4 MiB"]


def test_a_pipe_named_on_the_command_line_is_read(tmp_path):
    fifo = fifo_at(tmp_path / "sops.fifo")
    threading.Thread(target=lambda: fifo.write_text(MINIMAL), daemon=True).start()
    document = within(10, lambda: read_document(fifo, allow_pipe=True), fifo)
    assert document.farm_name == "wikitide"


def test_an_alias_bomb_is_counted_on_the_event_stream(tmp_path):
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        within(10, lambda: parse_document(BOMB, "bomb.yaml"))
    assert str(caught.value) == "bomb.yaml:6: (yaml): more than 100,000 YAML nodes (aliases counted expanded); refusing to read it"
    assert time.monotonic() - started < 2
    from console.core.config_file import count_nodes

    assert count_nodes("a: &x [1, 2]\nb: [*x, *x]\n") == 1 + (1 + 3) + (1 + 1 + 3 + 3)  # the mapping, a: [1, 2], b: [*x, *x] expanded


def test_an_unsupported_tag_is_a_line_not_a_traceback(tmp_path):
    text = "farm:\n  name: !!python/object/apply:os.system [echo pwned]\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "tag.yaml")
    assert str(caught.value) == "tag.yaml:2: farm.name: unsupported YAML tag !!python/object/apply:os.system"
    with pytest.raises(ConfigError, match=r"^d.yaml:2: \(yaml\): cannot read this YAML value: month must be in 1..12$"):
        parse_config("farm:\n  name: 2026-13-45\n", "d.yaml")


def test_a_huge_list_is_refused_naming_the_file_and_the_limit(tmp_path):
    text = MINIMAL + "extra:\n" + "".join(f"  - host{i}\n" for i in range(200_000))
    with pytest.raises(ConfigError) as caught:
        within(20, lambda: parse_config(text, "big.yaml"))
    assert str(caught.value) == "big.yaml:99996: (yaml): more than 100,000 YAML nodes (aliases counted expanded); refusing to read it"


def test_recursion_and_depth_are_refused_and_duplicate_keys_in_an_anchor_are_said_once():
    with pytest.raises(ConfigError, match=r"^r.yaml:1: \(yaml\): the alias \*x is inside the node it names"):
        parse_document("a: &x [*x]\n", "r.yaml")
    with pytest.raises(ConfigError, match=r"^d.yaml:1: \(yaml\): nested deeper than 100 levels$"):
        parse_document("a: " + "[" * 150 + "]" * 150 + "\n", "d.yaml")
    with pytest.raises(ConfigError) as caught:
        parse_document("x: &a {k: 1, k: 2}\ny: *a\nz: *a\n", "k.yaml")
    assert str(caught.value) == "k.yaml:1: x.k: duplicate key"


# --- secrets and certificates ----------------------------------------------------------------------


def secret_config(tmp_path: Path, where: Path) -> Path:
    path = tmp_path / "farm.yaml"
    path.write_text(ICINGA_WITH.replace("SECRET", f"{{file: {where}}}"))
    return path


def test_a_fifo_secret_is_refused_without_hanging(tmp_path):
    fifo = fifo_at(tmp_path / "icinga.secret")
    assert config_errors(secret_config(tmp_path, fifo), fifo) == [
        f"{tmp_path}/farm.yaml:8: sources.icinga[0].password: secret file {fifo}: not a regular file (a FIFO)"]


def test_a_secret_that_is_a_device_under_proc_or_too_large_is_refused(tmp_path):
    (tmp_path / "zero.secret").symlink_to("/dev/zero")
    (tmp_path / "env.secret").symlink_to("/proc/self/environ")
    big = tmp_path / "big.secret"
    big.write_text("s" * (files.SECRET_MAX + 1))
    big.chmod(0o600)
    prefix = f"{tmp_path}/farm.yaml:8: sources.icinga[0].password: secret file"
    assert config_errors(secret_config(tmp_path, tmp_path / "zero.secret")) == [
        f"{prefix} {tmp_path}/zero.secret: not a regular file (a character device)"]
    assert config_errors(secret_config(tmp_path, tmp_path / "env.secret")) == [
        f"{prefix} {tmp_path}/env.secret: a file under /proc or /dev, which the console does not read"]
    assert config_errors(secret_config(tmp_path, Path("/proc/self/environ"))) == [
        f"{prefix} /proc/self/environ: a file under /proc or /dev, which the console does not read"]
    assert config_errors(secret_config(tmp_path, big)) == [f"{prefix} {big}: larger than 64 KiB"]


def test_a_ca_bundle_must_be_a_regular_file(tmp_path):
    fifo = fifo_at(tmp_path / "ca.pem")
    path = tmp_path / "farm.yaml"
    path.write_text(ICINGA_WITH.replace("SECRET", "{env: HOME}") + f"      verify: {fifo}\n")
    assert config_errors(path, fifo) == [f"{path}:9: sources.icinga[0].verify: CA bundle {fifo}: not a regular file (a FIFO)"]


# --- locks -----------------------------------------------------------------------------------------


def purge_plan(url: str) -> Plan:
    step = Step(0, "x", "cache:cp161", url, url)
    return Plan("p1", "purge", f"purge {url}", (url,), Risk.SEVERAL, (step,), NOW, ALICE, Reason.make("r", ALICE, "T7"))


def test_lock_files_that_are_no_locks_are_listed_as_unreadable_naming_the_file(tmp_path):
    locks = FileLocks(tmp_path / "locks", clock=fixed_clock(NOW), fallback=tmp_path / "private")
    directory = locks.where()[0]
    fifo_at(directory / "host:mw151.lock", 0o644)
    (directory / "host:mw152.lock").symlink_to(tmp_path)
    (directory / "host:mw153.lock").write_text("x" * (files.LOCK_MAX + 1))
    (directory / "host:mw154.lock").write_text("[" * 50_000)  # JSON nested past the recursion limit
    found = within(10, lambda: asyncio.run(locks.list()), directory / "host:mw151.lock")
    states = {row[0]: row[-1] for row in lock_rows(found, NOW)}
    assert states == {
        "host:mw151": f"unreadable: {directory}/host:mw151.lock: not a regular file (a FIFO)",
        "host:mw152": f"unreadable: {directory}/host:mw152.lock: not a regular file (a symbolic link to a directory)",
        "host:mw153": f"unreadable: {directory}/host:mw153.lock: larger than 64 KiB",
        "host:mw154": f"unreadable: {directory}/host:mw154.lock: not the JSON the console writes",
    }


def test_an_unreadable_lock_refuses_its_target_naming_the_file(tmp_path):
    locks = FileLocks(tmp_path / "locks", clock=fixed_clock(NOW), fallback=tmp_path / "private")
    url = "https://meta.miraheze.org/wiki/Main_Page"
    lock = fifo_at(locks.where()[0] / FileLocks.file_name(f"url:{url}"), 0o644)

    async def run() -> None:
        async with locks.hold(purge_plan(url)):
            raise AssertionError("must not run")

    with pytest.raises(LockHeld) as caught:
        within(10, lambda: asyncio.run(run()), lock)
    assert str(caught.value) == (
        f"refused: {url} is locked (url:{url}: unreadable: {lock}: not a regular file (a FIFO)); look at that file, "
        f"then `opsconsole --write locks break url:{url} --reason ...`; nothing was sent")
    assert asyncio.run(locks.break_lock(f"url:{url}")) is not None and not lock.exists()  # break removes it


# --- the audit, the incident state, themes -----------------------------------------------------------------


def test_audit_reads_refuse_a_fifo_and_skip_overlong_lines(tmp_path):
    fifo = fifo_at(tmp_path / "other-operator.jsonl")
    with pytest.raises(files.FileRefused, match="not a regular file"):
        within(5, lambda: tail_records(fifo), fifo)
    with pytest.raises(AuditError, match=rf"cannot open the audit log {fifo}: not a regular file \(a FIFO\)$"):
        within(5, lambda: AuditLog(fifo).append({"event": "intent"}), fifo)
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.append({"event": "intent", "id": "a"})
    with open(audit.path, "a") as handle:
        handle.write(json.dumps({"event": "huge", "pad": "x" * files.AUDIT_LINE_MAX}) + "\n")
        handle.write("[" * 50_000 + "\n")
    audit.append({"event": "result", "id": "a"})
    assert [r["event"] for r in tail_records(audit.path)] == ["intent", "result"]


def test_an_incident_state_that_is_a_fifo_is_an_error_not_a_hang(tmp_path):
    fifo = fifo_at(tmp_path / "incident.json")
    with pytest.raises(OSError, match=r"incident.json: not a regular file \(a FIFO\)$"):
        within(5, lambda: IncidentFile(fifo).load(), fifo)
    sparse(tmp_path / "big.json", files.INCIDENT_MAX + 1)
    with pytest.raises(OSError, match="larger than 16 MiB"):
        IncidentFile(tmp_path / "big.json").load()


def test_hostile_theme_files_are_problems_and_the_others_still_load(tmp_path):
    fifo = fifo_at(tmp_path / "fifo.yaml")
    (tmp_path / "dir.yaml").symlink_to(tmp_path)
    (tmp_path / "big.yaml").write_text("name: big\nprimary: '#fff'\n" + "#" * files.THEME_MAX)
    (tmp_path / "bomb.yaml").write_text(BOMB)
    (tmp_path / "tag.yaml").write_text("name: !!python/name:os.system x\nprimary: '#fff'\n")
    (tmp_path / "mine.yaml").write_text("name: mine\nprimary: '#ff8800'\n")
    themes, problems = within(10, lambda: load_themes(tmp_path), fifo)
    assert "mine" in {t.name for t in themes} and {"dark", "light"} <= {t.name for t in themes}
    assert {Path(p.file).name: p.message for p in problems} == {
        "fifo.yaml": "not a regular file (a FIFO)",
        "dir.yaml": "not a regular file (a directory)",
        "big.yaml": "larger than 1 MiB",
        "bomb.yaml": "not a theme's YAML: more than 100,000 YAML nodes (aliases counted expanded); refusing to read it (line 6)",
        "tag.yaml": "not a theme's YAML: unsupported YAML tag !!python/name:os.system (line 1)",
    }
