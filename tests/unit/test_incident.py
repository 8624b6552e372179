"""Incident mode without Textual: the timeline's entries from snapshots and the audit, dedupe across
restarts, the state file, and the Markdown report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from console.core.model import (
    CheckState,
    Commit,
    IcingaSnapshot,
    LogSnapshot,
    PuppetInventory,
    PuppetNodeStatus,
    ServiceCheck,
)  # fmt: skip
from console.derive.incident import (
    ACTION,
    ALERT,
    COMMIT,
    LOGS,
    PUPPET,
    RECOVERY,
    START,
    Incident,
    IncidentFile,
    TimelineObserver,
    actions_from_audit,
    export_markdown,
    refresh_actions,
    with_note,
)  # fmt: skip

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


def check(key: str, state: CheckState, changed: datetime, acknowledged: bool = False) -> ServiceCheck:
    host, service = key.split("!")
    return ServiceCheck(host, service, state, True, acknowledged, False, f"{service} says {state.name}", changed)


def icinga(*checks: ServiceCheck) -> IcingaSnapshot:
    return IcingaSnapshot((), checks)


def incident() -> Incident:
    return Incident.start("PHP-FPM down on mw152", "alice@bast161", T0, task="T12345")


def test_start_validates_title_and_task():
    assert incident().task == "T12345"
    assert Incident.start("x", "a@b", T0, task="999").task == "T999"
    with pytest.raises(ValueError):
        Incident.start("   ", "a@b", T0)
    with pytest.raises(ValueError):
        Incident.start("x", "a@b", T0, task="TABC")


def test_alert_change_recovery_and_handled_in_order():
    inc = incident()
    observer = TimelineObserver(inc)
    observer.observe(icinga(check("mw152!PHP-FPM", CheckState.OK, T0 - timedelta(days=1))), now=T0)
    observer.observe(icinga(check("mw152!PHP-FPM", CheckState.CRITICAL, T0 + timedelta(minutes=1))),
                     now=T0 + timedelta(minutes=2))
    observer.observe(icinga(check("mw152!PHP-FPM", CheckState.CRITICAL, T0 + timedelta(minutes=1), acknowledged=True)),
                     now=T0 + timedelta(minutes=3))
    observer.observe(icinga(check("mw152!PHP-FPM", CheckState.OK, T0 + timedelta(minutes=9))),
                     now=T0 + timedelta(minutes=10))
    kinds = [(e.kind, e.text) for e in inc.entries]
    assert kinds == [
        (START, "incident started: PHP-FPM down on mw152"),
        (ALERT, "mw152!PHP-FPM went CRITICAL"),
        ("handled", "mw152!PHP-FPM acknowledged"),
        (RECOVERY, "mw152!PHP-FPM recovered (OK)"),
    ]
    assert inc.entries[1].at == T0 + timedelta(minutes=1)  # Icinga's own time of the change, not the poll's


def test_a_restarted_observer_adds_nothing_twice():
    inc = incident()
    snapshot = icinga(check("mw152!PHP-FPM", CheckState.CRITICAL, T0 + timedelta(minutes=1)))
    TimelineObserver(inc).observe(snapshot, now=T0 + timedelta(minutes=2))
    before = list(inc.entries)
    assert TimelineObserver(inc).observe(snapshot, now=T0 + timedelta(minutes=5)) == []
    assert inc.entries == before


def test_problem_older_than_the_incident_says_so():
    inc = incident()
    TimelineObserver(inc).observe(icinga(check("db151!MariaDB", CheckState.WARNING, T0 - timedelta(hours=1))), now=T0)
    assert inc.entries[0].text == "db151!MariaDB was already WARNING"


def test_puppet_failures_commits_and_spikes():
    inc = incident()
    observer = TimelineObserver(inc)
    node = PuppetNodeStatus("mw152.fsslc.wtnet", "failed", T0 + timedelta(minutes=4))
    old = Commit("miraheze/mw-config", "a" * 40, "bob", T0 - timedelta(hours=3), "too old")
    recent = Commit("miraheze/mw-config", "b" * 40, "bob", T0 - timedelta(minutes=30), "Raise PHP memory")
    observer.observe(puppet=PuppetInventory((node,)), commits=(old, recent),
                     logs=LogSnapshot((), error_counts=(("mw152", 2),)), now=T0 + timedelta(minutes=5))
    observer.observe(logs=LogSnapshot((), error_counts=(("mw152", 140), ("mw151", 3))), now=T0 + timedelta(minutes=6))
    texts = {e.kind: e.text for e in inc.entries}
    assert texts[PUPPET] == "Puppet run failed on mw152.fsslc.wtnet"
    assert texts[COMMIT] == "miraheze/mw-config bbbbbbbb Raise PHP memory"
    assert texts[LOGS].startswith("log error spike on mw152: 140 errors")
    assert len([e for e in inc.entries if e.kind == COMMIT]) == 1


def audit_records() -> list[dict]:
    base = {"user": "alice", "host": "bast161", "action": "restart", "title": "restart php-fpm on mw152",
            "reason": "php-fpm hung - alice@bast161 - T12345", "dry_run": False}
    return [
        {**base, "id": "p1", "event": "intent", "time": (T0 + timedelta(minutes=5)).isoformat()},
        {**base, "id": "p1", "event": "result", "outcome": "success", "time": (T0 + timedelta(minutes=6)).isoformat()},
        {**base, "id": "p0", "event": "intent", "time": (T0 - timedelta(minutes=5)).isoformat()},  # before the incident
        {**base, "id": "p2", "user": "bob", "event": "intent", "time": (T0 + timedelta(minutes=7)).isoformat()},
        {**base, "id": "dry", "event": "dry-run", "dry_run": True, "time": (T0 + timedelta(minutes=7)).isoformat()},
    ]


def test_actions_from_the_shared_audit():
    entries = actions_from_audit(audit_records(), T0)
    assert [(e.text, e.who) for e in entries] == [
        ("restart php-fpm on mw152: success", "alice@bast161"),
        ("restart php-fpm on mw152: unfinished", "bob@bast161"),
    ]
    assert entries[0].detail == "php-fpm hung - alice@bast161 - T12345"


def test_unfinished_action_is_replaced_when_it_finishes(tmp_path):
    audit = tmp_path / "audit.jsonl"
    records = audit_records()
    audit.write_text("".join(json.dumps(r) + "\n" for r in records[:4]) + "not json\n")
    inc = incident()
    refresh_actions(inc, [audit])
    assert [e.text for e in inc.entries if e.kind == ACTION][-1].endswith("unfinished")
    with audit.open("a") as handle:
        handle.write(json.dumps({**records[3], "event": "result", "outcome": "failed"}) + "\n")
    refresh_actions(inc, [audit])
    actions = [e.text for e in inc.entries if e.kind == ACTION]
    assert actions == ["restart php-fpm on mw152: success", "restart php-fpm on mw152: failed"]


def test_state_file_round_trip_and_archive(tmp_path):
    store = IncidentFile(tmp_path / "incident.json")
    assert store.load() is None
    inc = incident()
    with_note(inc, "called the DBA", "alice@bast161", T0 + timedelta(minutes=1))
    store.save(inc)
    loaded = store.load()
    assert loaded is not None and loaded.to_dict() == inc.to_dict()
    loaded.end("alice@bast161", T0 + timedelta(hours=1))
    archived = store.archive(loaded)
    assert store.load() is None and archived.exists()
    assert store.latest_archived().ended_at == T0 + timedelta(hours=1)
    (tmp_path / "incident.json").write_text("{broken")
    with pytest.raises(ValueError, match="not an incident state file"):
        store.load()


def test_report_lists_window_timeline_actions_and_follow_ups():
    inc = incident()
    observer = TimelineObserver(inc)
    observer.observe(icinga(check("mw152!PHP-FPM", CheckState.CRITICAL, T0 + timedelta(minutes=1)),
                            check("mw151!PHP-FPM", CheckState.WARNING, T0 + timedelta(minutes=2))),
                     now=T0 + timedelta(minutes=2))
    inc.add(actions_from_audit(audit_records()[:2], T0))
    report = export_markdown(inc, T0 + timedelta(minutes=30), follow_ups=["downtime on mw152 expires in 10m"])
    assert report.startswith("# Incident: PHP-FPM down on mw152\n")
    assert "- **Task:** T12345" in report
    assert "- **Impact window:** 2026-11-25 03:01:00 UTC – ongoing" in report
    assert "| 11-25 03:05:00 | restart php-fpm on mw152: success | alice@bast161 | php-fpm hung - alice@bast161 - T12345 |" in report
    assert "- [ ] mw151!PHP-FPM is still failing" in report
    assert "- [ ] downtime on mw152 expires in 10m" in report
    observer.observe(icinga(check("mw152!PHP-FPM", CheckState.OK, T0 + timedelta(minutes=20)),
                            check("mw151!PHP-FPM", CheckState.OK, T0 + timedelta(minutes=21))),
                     now=T0 + timedelta(minutes=22))
    report = export_markdown(inc, T0 + timedelta(minutes=30))
    assert "- **Impact window:** 2026-11-25 03:01:00 UTC – 2026-11-25 03:21:00 UTC (20m00s)" in report
    assert "Still failing at the time of this report: nothing." in report
