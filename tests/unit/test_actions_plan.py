"""Plans, tiers, the guard, reasons and the audit file — no network."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.actions import (
    Acknowledge,
    ActionEngine,
    AuditLog,
    BanPattern,
    Confirmation,
    IcingaTarget,
    InvalidAction,
    MissingReason,
    NotConfigured,
    NotConfirmed,
    Operator,
    PurgeUrls,
    ReadOnlySession,
    Reason,
    Recheck,
    RemoveAcknowledgement,
    RemoveDowntime,
    Risk,
    ScheduleDowntime,
    Session,
    challenge_for,
    confirmation_from_flags,
    format_duration,
    icinga_filter,
    parse_duration,
    sal_line,
)  # fmt: skip
from console.actions.engine import ActionResult, StepResult, outcome_of, sal_message
from console.actions.executors import CacheCheck, cache_age, cache_hit
from console.actions.guard import check
from console.core.clock import fixed_clock
from console.core.config import parse_config

NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)
ALICE = Operator("alice", "bast161")
CONFIG = """\
farm: {name: wikitide, environment: test}
sources:
  icinga:
    - {name: icinga, url: "https://mon181.fsslc.wtnet:5665", username: opsconsole, password: {env: TEST_ICINGA_PW}}
actions:
  caches:
    - {name: cp161, url: "http://10.0.0.161:81"}
    - {name: cp171, url: "http://10.0.0.171:81"}
    - {name: cp191, url: "http://10.0.0.191:81"}
    - {name: cp201, url: "http://10.0.0.201:81"}
  audit: {path: AUDIT}
"""


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_ICINGA_PW", "icinga-secret-pw")
    config = parse_config(CONFIG.replace("AUDIT", str(tmp_path / "audit.jsonl")))
    return ActionEngine(config, Session(ALICE), clock=fixed_clock(NOW))


def target(text: str) -> IcingaTarget:
    return IcingaTarget.parse(text)


# --- reasons -----------------------------------------------------------------------------------


def test_reason_is_recorded_with_who_and_task():
    assert str(Reason.make("vandalism cleanup", ALICE, "T12345")) == "vandalism cleanup - alice@bast161 - T12345"
    assert str(Reason.make("  two   spaces ", ALICE)) == "two spaces - alice@bast161"
    assert Reason.make("x", ALICE, "12345").task == "T12345"


@pytest.mark.parametrize("text, task, message", [
    ("", None, "a reason is required"),
    ("   ", None, "a reason is required"),
    ("two\nlines", None, "one line"),
    ("x" * 301, None, "too long"),
    ("ok", "TX1", "the task must look like T123"),
])  # fmt: skip
def test_bad_reasons_are_refused(text, task, message):
    with pytest.raises(ValueError, match=message):
        Reason.make(text, ALICE, task)


def test_sal_line_format():
    assert sal_line("alice@bast161", "purged https://x/ from 4 caches (4 verified) - why - T1") == (
        "!log [alice@bast161] purged https://x/ from 4 caches (4 verified) - why - T1"
    )
    assert len(sal_line("a@b", "x" * 2000).encode()) <= 480


# --- durations and targets -----------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
                                           ("1w", 604800), (" 2H ", 7200)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "2x", "0m", "h2", "400d", "2h and more"])
def test_bad_durations(text):
    with pytest.raises(InvalidAction):
        parse_duration(text)


def test_targets_parse():
    assert target("mw152") == IcingaTarget("mw152")
    assert target("mw152!HTTP 4xx/5xx ERROR Rate") == IcingaTarget("mw152", "HTTP 4xx/5xx ERROR Rate")
    for bad in ("", "!PHP-FPM", "mw152!", "a!b!c", "mw\x01152!x"):
        with pytest.raises(InvalidAction):
            target(bad)


@given(st.text(min_size=1, max_size=40), st.one_of(st.none(), st.text(min_size=1, max_size=40)))
def test_icinga_filters_never_contain_the_names(host, service):
    """No filter injection: the filter text is fixed; names only travel as filter_vars."""
    kind, text, variables = icinga_filter(IcingaTarget(host, service))
    assert text in ("host.name == opsconsole_host", "host.name == opsconsole_host && service.name == opsconsole_service")
    assert variables["opsconsole_host"] == host
    assert variables.get("opsconsole_service", None) == service
    assert kind == ("Host" if service is None else "Service")


# --- plans and tiers --------------------------------------------------------------------------------


def test_purge_plan_has_the_exact_requests(engine):
    plan = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page?action=raw#top",)), "vandalism", "T1")
    assert plan.risk is Risk.REVERSIBLE
    assert plan.targets == ("https://meta.miraheze.org/wiki/Main_Page?action=raw",)
    assert plan.title == "purge https://meta.miraheze.org/wiki/Main_Page?action=raw from 4 caches"
    assert [s.target for s in plan.steps] == ["cp161", "cp171", "cp191", "cp201"]
    first = plan.steps[0]
    assert first.request.to_dict() == {"method": "PURGE", "url": "http://10.0.0.161:81/wiki/Main_Page?action=raw",
                                       "headers": {"Host": "meta.miraheze.org"}}
    assert first.verify.method == "GET" and first.verify.url == first.request.url
    assert str(plan.reason) == "vandalism - alice@bast161 - T1"
    rendered = plan.render()
    assert "PURGE http://10.0.0.191:81/wiki/Main_Page?action=raw" in rendered and "Host: meta.miraheze.org" in rendered


def test_several_urls_are_tier_2_and_a_ban_is_tier_3(engine):
    two = engine.plan(PurgeUrls(("https://a.miraheze.org/", "https://b.miraheze.org/x")), "r")
    assert two.risk is Risk.SEVERAL and len(two.steps) == 8
    ban = engine.plan(BanPattern("Meta.Miraheze.org", "^/wiki/"), "r")
    assert ban.risk is Risk.IRREVERSIBLE and ban.confirm_word == "meta.miraheze.org"
    assert ban.steps[0].request.to_dict() == {
        "method": "BAN", "url": "http://10.0.0.161:81/",
        "headers": {"Host": "meta.miraheze.org", "X-Ban-Url": "^/wiki/"},
    }  # fmt: skip


@pytest.mark.parametrize("url", ["ftp://x/", "meta.miraheze.org/wiki", "https://user:pw@x/", "https://x/a b",
                                 "https://bad_host!/"])
def test_bad_urls_are_refused(engine, url):
    with pytest.raises(InvalidAction):
        engine.plan(PurgeUrls((url,)), "r")


@pytest.mark.parametrize("pattern", ["", "a b", 'x"y', "(unclosed", "x" * 201])
def test_bad_ban_patterns_are_refused(engine, pattern):
    with pytest.raises(InvalidAction):
        engine.plan(BanPattern("meta.miraheze.org", pattern), "r")


def test_icinga_plans(engine):
    ack = engine.plan(Acknowledge((target("mw152!PHP-FPM"),), sticky=True, expire=timedelta(hours=2)), "oom", "T9")
    assert ack.risk is Risk.REVERSIBLE
    step = ack.steps[0]
    assert step.request.method == "POST"
    assert step.request.url == "https://mon181.fsslc.wtnet:5665/v1/actions/acknowledge-problem"
    assert step.request.header_dict() == {"Accept": "application/json"}
    assert step.request.body == {
        "type": "Service", "filter": "host.name == opsconsole_host && service.name == opsconsole_service",
        "filter_vars": {"opsconsole_host": "mw152", "opsconsole_service": "PHP-FPM"},
        "author": "alice", "comment": "oom - alice@bast161 - T9", "sticky": True, "notify": True,
        "expiry": round((NOW + timedelta(hours=2)).timestamp()),
    }  # fmt: skip
    assert step.precheck.url.endswith("/v1/objects/services")
    assert step.precheck.header_dict()["X-HTTP-Method-Override"] == "GET"

    downtime = engine.plan(ScheduleDowntime((target("mw152"),), timedelta(hours=2), all_services=True), "maint")
    assert downtime.risk is Risk.SEVERAL  # a host and all its services
    body = downtime.steps[0].request.body
    assert (body["type"], body["all_services"], body["end_time"] - body["start_time"], body["fixed"]) == ("Host", True, 7200, True)

    assert engine.plan(Recheck((target("mw152!PHP-FPM"),)), "x").steps[0].request.body["force"] is True
    several = engine.plan(RemoveAcknowledgement((target("mw152!PHP-FPM"), target("mw153!PHP-FPM"))), "x")
    assert several.risk is Risk.SEVERAL
    everything = engine.plan(RemoveDowntime((target("mw152"),), all_services=True), "x").steps[0].request.body
    assert everything["type"] == "Downtime" and everything["filter"] == "downtime.host_name == opsconsole_host"
    with pytest.raises(InvalidAction, match="--all-services applies to a HOST"):
        engine.plan(ScheduleDowntime((target("mw152!PHP-FPM"),), timedelta(hours=1), all_services=True), "x")


def test_plans_carry_no_secret(engine):
    plan = engine.plan(Acknowledge((target("mw152!PHP-FPM"),)), "r")
    text = json.dumps(plan.to_dict()) + plan.render()
    assert "icinga-secret-pw" not in text and "Authorization" not in text


def test_only_what_is_configured_can_run(tmp_path, monkeypatch):
    config = parse_config("farm: {name: x}\n")
    engine = ActionEngine(config, Session(ALICE))
    with pytest.raises(NotConfigured, match="no caches are configured"):
        engine.plan(PurgeUrls(("https://x.org/",)), "r")
    with pytest.raises(NotConfigured, match="no icinga source"):
        engine.plan(Acknowledge((target("mw152"),)), "r")


def test_an_empty_reason_is_missing(engine):
    with pytest.raises(MissingReason):
        engine.plan(PurgeUrls(("https://x.org/",)), "  ")


# --- the guard --------------------------------------------------------------------------------------


def test_tiers_ask_for_the_right_answer(engine):
    one = engine.plan(PurgeUrls(("https://x.org/",)), "r")
    two = engine.plan(PurgeUrls(("https://x.org/", "https://y.org/")), "r")
    three = engine.plan(BanPattern("x.org", "."), "r")
    assert challenge_for(one).prompt.endswith("[y/N]")
    for answer, ok in (("y", True), ("Yes", True), ("", False), ("n", False), ("go", False)):
        assert challenge_for(one).accepts(answer) is ok
    assert challenge_for(two).accepts("go") and not challenge_for(two).accepts("y")
    assert challenge_for(three).accepts("x.org") and not challenge_for(three).accepts("go")
    assert challenge_for(three).accepts(" x.org ")  # surrounding whitespace is trimmed, case is not
    assert not challenge_for(three).accepts("X.org")


def test_guard_refuses_in_order(engine):
    plan = engine.plan(PurgeUrls(("https://x.org/",)), "r")
    with pytest.raises(ReadOnlySession, match="read-only"):
        check(plan, engine.session, Confirmation("y"))
    engine.session.enable_write(None)
    with pytest.raises(NotConfirmed):
        check(plan, engine.session, None)
    with pytest.raises(NotConfirmed):
        check(plan, engine.session, Confirmation(""))  # No is the default
    check(plan, engine.session, Confirmation("y"))
    unreasoned = engine.plan(PurgeUrls(("https://x.org/",)))
    with pytest.raises(MissingReason):
        check(unreasoned, engine.session, Confirmation("y"))


def test_flags_answer_tiers_1_2_and_tier_3_needs_confirm(engine):
    one = engine.plan(PurgeUrls(("https://x.org/",)), "r")
    three = engine.plan(BanPattern("x.org", "."), "r")
    assert confirmation_from_flags(one, yes=False, confirm=None) is None
    assert challenge_for(one).accepts(confirmation_from_flags(one, yes=True, confirm=None).answer)
    assert confirmation_from_flags(three, yes=True, confirm=None) is None
    assert not challenge_for(three).accepts(confirmation_from_flags(three, yes=True, confirm="y.org").answer)
    assert challenge_for(three).accepts(confirmation_from_flags(three, yes=True, confirm="x.org").answer)


def test_write_switch_is_logged(engine):
    engine.session.enable_write(engine.audit, via="--write")
    assert engine.session.writable
    [record] = engine.audit.records()
    assert (record["event"], record["user"], record["host"], record["via"]) == ("write-enabled", "alice", "bast161", "--write")


# --- outcomes and the SAL message ---------------------------------------------------------------------


def _result(engine, statuses, hits):
    plan = engine.plan(PurgeUrls(("https://meta.miraheze.org/wiki/Main_Page",)), "vandalism cleanup", "T12345")
    steps = tuple(
        StepResult(i, "purge", s.target, s.subject, status, "", 200, CacheCheck(200, hit, 0))
        for i, (s, status, hit) in enumerate(zip(plan.steps, statuses, hits, strict=False))
    )
    return ActionResult(plan, outcome_of(list(steps)), steps, NOW, 0.2)


def test_sal_message_for_a_purge(engine):
    assert sal_message(_result(engine, ["ok"] * 4, [False] * 4)) == (
        "purged https://meta.miraheze.org/wiki/Main_Page from 4 caches (4 verified) - vandalism cleanup - T12345"
    )
    partial = _result(engine, ["ok", "ok", "ok", "refused"], [False, False, False, True])
    assert partial.outcome == "partial"
    assert sal_message(partial) == (
        "purged https://meta.miraheze.org/wiki/Main_Page from 3 of 4 caches (3 verified; cp201 refused) - PARTIAL"
        " - vandalism cleanup - T12345"
    )


def test_outcomes():
    def steps(*statuses):
        return [StepResult(i, "k", "t", "s", status, "") for i, status in enumerate(statuses)]

    assert outcome_of(steps("ok", "skipped")) == "success"
    assert outcome_of(steps("ok", "down")) == "partial"
    assert outcome_of(steps("ok", "unverified")) == "partial"
    assert outcome_of(steps("refused", "down")) == "failed"


@pytest.mark.parametrize("headers, hit, age", [
    ({"x-cache": "HIT", "age": "12"}, True, 12),
    ({"x-cache": "MISS", "x-varnish": "32770"}, False, None),
    ({"x-cache": "cp171 miss, cp161 hit/3"}, True, None),
    ({"x-cache": "cp171 hit/2, cp161 miss"}, False, None),
    ({"x-varnish": "32770 3", "age": "5"}, True, 5),
    ({"x-varnish": "32770"}, False, None),
    ({}, None, None),
])  # fmt: skip
def test_hit_or_miss(headers, hit, age):
    assert cache_hit(headers) is hit
    assert cache_age(headers) == age


# --- the audit file ------------------------------------------------------------------------------------


def test_audit_file_is_private_and_append_only(tmp_path):
    path = tmp_path / "state" / "deeper" / "audit.jsonl"
    log = AuditLog(path, secrets=["hunter2"], clock=fixed_clock(NOW))
    old = os.umask(0o022)
    try:
        log.append({"event": "intent", "reason": "password hunter2 leaked"})
        log.append({"event": "result"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    first, second = log.records()
    assert first == {"event": "intent", "reason": "password [redacted] leaked", "time": NOW.isoformat()}
    assert second["event"] == "result"
    assert "hunter2" not in path.read_text()


def test_audit_refuses_a_symlink(tmp_path):
    from console.actions import AuditError

    (tmp_path / "elsewhere").write_text("")
    (tmp_path / "audit.jsonl").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AuditError):
        AuditLog(tmp_path / "audit.jsonl").append({"event": "x"})


def test_actions_never_import_textual():
    code = "import sys, console.actions, console.cli.actions, console.cli.act; print(sorted(m for m in sys.modules if m.startswith('textual')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_sim_never_imports_the_clients_or_the_actions():
    code = ("import sys, console.sim; print(sorted(m for m in sys.modules "
            "if m.startswith(('console.sources', 'console.actions', 'console.core.model'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
