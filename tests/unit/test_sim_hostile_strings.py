"""console.sim.hostile: the hostile strings and sentinels, the hostile lock and audit files, and the `hostile`
scenario's model (no servers: the wire is tests/integration/test_sim_hostile.py)."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone

import pytest

from console.actions.audit import tail_records, unfinished_actions
from console.actions.locks import FileLocks
from console.core.clock import fixed_clock
from console.sim.farm import Farm
from console.sim.hostcmds import run, run_line
from console.sim.hostile import (
    COMMON_SENTINELS,
    CONTROL_CHARS,
    FIELDS,
    LINES,
    LONE_SURROGATE,
    LONG_LINE,
    LONG_LINE_CHARS,
    MARKUP,
    NAME,
    PLACES,
    SENTINEL_BYTES,
    SENTINELS,
    hostile,
    hostile_audit_records,
    leaks,
    lock_file_name,
    raw_sequences,
    write_hostile_audit,
    write_hostile_locks,
)
from console.sim.hostile_scenario import HOSTILE_HOST, SPLIT_HOST, stir
from console.sim.scale import Scale

NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)


def test_every_field_has_its_string_with_every_kind_of_hostile_text():
    assert set(PLACES) == set(FIELDS)
    for field, kind in FIELDS.items():
        text = hostile(field)
        for sentinel in SENTINELS[field]:
            assert sentinel in text, (field, sentinel)
        assert all(ch in text for ch in CONTROL_CHARS)
        assert all(mark in text for mark in MARKUP)
        assert text.startswith(f"pwn-{field}")
        assert (LONE_SURROGATE in text) == (kind != NAME)
        assert ("\n" in text) == (kind == LINES)
        assert len(text) < 1000 and LONG_LINE not in text
        long = hostile(field, long=True)
        assert long.startswith(text) and long.endswith(LONG_LINE) and len(LONG_LINE) == LONG_LINE_CHARS
        assert SENTINEL_BYTES[field] == tuple(s.encode() for s in SENTINELS[field])
    with pytest.raises(KeyError, match="no hostile field"):
        hostile("nope")


def test_sentinels_tell_the_fields_apart():
    assert leaks(hostile("host-name") + " and " + hostile("commit-message")) == ["host-name", "commit-message"]
    assert leaks("plain text [bold red] ]0;PWN-host-name") == []  # the text of a sequence is no sequence
    assert raw_sequences("all fine") == []
    found = raw_sequences(hostile("vm-name"))
    assert set(COMMON_SENTINELS) <= set(found) and set(SENTINELS["vm-name"]) <= set(found)
    assert len({s for field in FIELDS for s in SENTINELS[field][:3]}) == 3 * len(FIELDS)  # unique per field


def test_json_carries_the_strings_escaped_and_back_intact():
    for field in FIELDS:
        wire = json.dumps({"v": hostile(field, long=True)})
        assert wire.isascii()
        assert json.loads(wire)["v"] == hostile(field, long=True)
    assert "\\ud800" in json.dumps(hostile("log-message")) and "\\u001b[31337m" in json.dumps(hostile("host-name"))


def test_hostile_lock_files(tmp_path):
    paths = write_hostile_locks(tmp_path / "locks", now=NOW)
    assert set(paths) == {"fifo", "zero", "garbage", "escapes", "huge"}
    assert stat.S_ISFIFO(os.lstat(paths["fifo"]).st_mode)
    assert paths["zero"].is_symlink() and os.readlink(paths["zero"]) == "/dev/zero"
    garbage = paths["garbage"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        garbage.decode("utf-8")
    record = json.loads(paths["escapes"].read_text(encoding="ascii"))
    assert record["key"] == "host:" + hostile("lock-key")
    assert (record["user"], record["host"], record["title"]) == \
        (hostile("lock-user"), hostile("lock-host"), hostile("lock-title"))
    assert record["reason"] == hostile("lock-reason", long=True)
    assert datetime.fromisoformat(record["since"]) < NOW and isinstance(record["pid"], int)
    assert paths["huge"].stat().st_size >= 2 ** 20
    assert all(path.name.endswith(".lock") and path.parent == tmp_path / "locks" for path in paths.values())
    assert write_hostile_locks(tmp_path / "locks", now=NOW) == paths  # again: the same files (a FIFO stays)


@pytest.mark.parametrize("key", ["host:mw152", "host:" + hostile("lock-key"), "url:https://meta.example/wiki/Main_Page",
                                 ".hidden", "x" * 130])
def test_lock_file_names_are_the_consoles(key):
    assert lock_file_name(key) == FileLocks.file_name(key)


def test_hostile_audit_file(tmp_path):
    path = write_hostile_audit(tmp_path / "audit" / "audit.jsonl", now=NOW)
    records = tail_records(path)  # the cut line is skipped, as after a crash
    assert records == json.loads(json.dumps(hostile_audit_records(NOW)))
    assert len(path.read_text(encoding="ascii").splitlines()) == 4
    unfinished = unfinished_actions(path)
    assert [u.plan_id for u in unfinished] == ["a" * 32]
    assert (unfinished[0].user, unfinished[0].host, unfinished[0].title) == \
        (hostile("audit-user"), hostile("audit-host"), hostile("audit-title"))
    assert hostile("audit-target") in unfinished[0].targets
    result = next(r for r in records if r["event"] == "result")
    assert result["results"][0]["detail"] == hostile("audit-detail", long=True)


# --- the scenario's model -------------------------------------------------------------------------


def farm(scenario: str = "hostile", **kwargs) -> Farm:
    return Farm(scenario=scenario, seed=1, clock=fixed_clock(NOW), **kwargs)


def test_the_scenario_adds_hosts_and_keeps_the_reference_farm():
    model = farm()
    reference = farm("php-fpm-down")
    assert set(model.hosts) == set(reference.hosts) | {HOSTILE_HOST, SPLIT_HOST}
    assert model.hosts[SPLIT_HOST].vm_name == hostile("vm-name") and model.hosts[HOSTILE_HOST].vm_name is None
    assert reference.command_noise is None and reference.task_notes == () and reference.foreign_backends == []
    assert not reference.logbook.senders and not reference.logbook.graylog_streams
    scaled = farm(scale=Scale(guests=100, alerts=400, log_lines=1000))
    assert {HOSTILE_HOST, SPLIT_HOST} <= set(scaled.hosts) and len(scaled.guests) == 100 + 2


def test_commands_print_the_hostile_output_and_keep_their_status():
    model = farm()
    code, stdout, stderr = run_line(model, "mw151", "systemctl is-active php8.4-fpm")
    assert code == 0 and stdout == "active\n" + hostile("command-output") + "\n"
    assert stderr == hostile("command-output", long=True) + "\n"
    code, stdout, stderr = run_line(model, HOSTILE_HOST, "no-such-command")
    assert code == 127 and stderr.startswith("sh: 1: no-such-command: not found\n") and hostile("command-output") in stdout
    assert run(model, "mw151", "service.restart", ["php8.4-fpm"]) == (0, "True", "")


def test_stir_flips_the_hostile_check_and_handles_it():
    model = farm()
    slot = model.slot(HOSTILE_HOST, hostile("service-name"))
    assert slot.override is not None and slot.override.state == 2 and slot.ack is None and slot.downtime is None
    stir(model)
    assert slot.override.state == 1 and slot.ack is not None and slot.downtime is not None
    assert slot.ack.author == hostile("ack-author") and slot.downtime.comment == hostile("downtime-comment")
    stir(model)
    assert slot.override.state == 2
