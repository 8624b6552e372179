"""Two console processes contending for the same target's file lock, on the simulated farm: the
second is refused, told who holds it, and sends nothing; after the holder is killed the lock is
STALE, `opsconsole locks` says so, and `locks break` (audited) frees it."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest

from tests.harness.hanging_action import MAIN_PAGE, cli, patient_config, records, start, wait_for_intent

pytestmark = pytest.mark.sim


def sent(farm) -> list[tuple[str, str, str]]:
    return [request for state in farm.model.caches.values() for request in state.requests]


def test_second_process_is_refused_naming_the_holder_then_the_stale_lock_is_broken(sim_farm_factory, tmp_path):
    farm = sim_farm_factory()
    config = patient_config(farm, tmp_path / "farm.yaml")
    audit = farm.state_dir / "audit.jsonl"
    farm.set_fault("cp161", "hang")  # the holder's purge waits on cp161 while holding the lock
    holder = start(config, "--write", "purge", MAIN_PAGE, "--reason", "vandalism cleanup", "--yes",
                   env={"SUDO_USER": "alice"})
    try:
        intent = wait_for_intent(audit, holder)
        # the holder's PURGEs reach the three other caches; its verify GETs wait for cp161, forever
        deadline = time.monotonic() + 30
        while len(sent(farm)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(sent(farm)) == [("PURGE", "meta.miraheze.org", "/wiki/Main_Page")] * 3

        refused = cli(config, "--write", "purge", MAIN_PAGE, "--reason", "me too", "--yes", env={"SUDO_USER": "bob"})
        assert refused.returncode == 2, refused.stderr
        message = refused.stderr.strip()
        assert re.match(rf"opsconsole: refused: {re.escape(MAIN_PAGE)} is locked by alice@\S+ \(pid {holder.pid}\) "
                        r"since \d\d:\d\d UTC \(\d+ s ago\): purge https://meta\.miraheze\.org/wiki/Main_Page from "
                        r"4 caches — vandalism cleanup; nothing was sent$", message), message
        assert "STALE" not in message
        # refused before anything was sent or recorded: no second intent, no new request at a cache
        assert [r["id"] for r in records(audit) if r["event"] == "intent"] == [intent["id"]]
        assert len(sent(farm)) == 3

        listed = json.loads(cli(config, "locks", "--json").stdout)
        assert [(lock["key"], lock["pid"], lock["plan"], lock["stale"]) for lock in listed["locks"]] == \
            [(f"url:{MAIN_PAGE}", holder.pid, intent["id"], False)]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    farm.set_fault("cp161", None)

    stale = cli(config, "--write", "purge", MAIN_PAGE, "--reason", "me too", "--yes", env={"SUDO_USER": "bob"})
    assert stale.returncode == 2 and f"STALE: pid {holder.pid} no longer runs" in stale.stderr
    table = cli(config, "locks").stdout
    assert f"url:{MAIN_PAGE}" in table and "STALE" in table and "vandalism cleanup" in table

    read_only = cli(config, "locks", "break", f"url:{MAIN_PAGE}", "--reason", "holder killed", "--yes")
    assert read_only.returncode == 2 and "--write" in read_only.stderr
    broken = cli(config, "--write", "locks", "break", f"url:{MAIN_PAGE}", "--reason", "holder was killed",
                 "--yes", env={"SUDO_USER": "bob"})
    assert broken.returncode == 0, broken.stderr
    record = [r for r in records(audit) if r["event"] == "lock-broken"][-1]
    assert record["key"] == f"url:{MAIN_PAGE}" and record["user"] == "bob" and record["lock"]["pid"] == holder.pid
    assert record["reason"].startswith("holder was killed - bob@")

    done = cli(config, "--write", "purge", MAIN_PAGE, "--reason", "me too", "--yes", env={"SUDO_USER": "bob"})
    assert done.returncode == 0, done.stderr
    assert cli(config, "locks").stdout.strip().endswith("no locks held")
