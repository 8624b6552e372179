"""The action engine against real servers: three varnishd (two purge, one refuses) and Icinga2."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest

from console.actions import (
    Acknowledge,
    ActionEngine,
    BanPattern,
    Confirmation,
    IcingaTarget,
    Operator,
    PurgeUrls,
    Recheck,
    RemoveAcknowledgement,
    RemoveDowntime,
    ScheduleDowntime,
    Session,
    challenge_for,
)  # fmt: skip
from console.core.config import parse_config
from console.sources import IcingaSource

pytestmark = pytest.mark.real

ALICE = Operator("alice", "bast161")


def run(engine: ActionEngine, action, reason: str = "real test", task: str | None = None):
    plan = engine.plan(action, reason, task)

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected))
        finally:
            await engine.aclose()

    return asyncio.run(go())


# --- Varnish ---------------------------------------------------------------------------------------


@pytest.fixture
def varnish_engine(real_varnish, tmp_path):
    caches = "".join(f"    - {{name: {name}, url: '{real_varnish.url(name)}'}}\n" for name in real_varnish.ports)
    text = f"farm: {{name: wikitide, environment: test}}\nactions:\n  caches:\n{caches}  audit: {{path: '{tmp_path}/audit.jsonl'}}\n"
    engine = ActionEngine(parse_config(text), Session(ALICE))
    engine.session.enable_write(engine.audit, via="test")
    return engine


def test_purge_on_real_varnish(real_varnish, varnish_engine):
    host, path = "meta.miraheze.org", f"/wiki/Page_{uuid.uuid4().hex[:8]}"
    for name in real_varnish.ports:  # cached everywhere: a miss, then a hit
        assert real_varnish.get(name, host, path)[1]["x-cache"] == "MISS"
        status, headers = real_varnish.get(name, host, path)
        assert (status, headers["x-cache"], len(headers["x-varnish"].split())) == (200, "HIT", 2)
    fetched = len(real_varnish.backend.hits)

    result = run(varnish_engine, PurgeUrls((f"https://{host}{path}",)), "vandalism cleanup", "T12345")

    by_cache = {s.target: s for s in result.steps}
    assert result.outcome == "partial"
    for name in ("cache-a", "cache-b"):
        step = by_cache[name]
        assert (step.status, step.http_status) == ("ok", 200), step
        assert step.verify.hit is False and step.verify.age == 0  # the next GET is a miss on both
        assert len(step.verify.x_varnish.split()) == 1
    refused = by_cache["cache-refusing"]
    assert (refused.status, refused.http_status) == ("refused", 405)
    assert "PURGE not allowed" in refused.detail
    assert refused.verify.hit is True  # still cached there
    assert len(real_varnish.backend.hits) == fetched + 2  # the two purged caches fetched it again
    assert result.verified == 2


def test_ban_on_real_varnish(real_varnish, varnish_engine):
    host, prefix = "ban.miraheze.org", f"/wiki/{uuid.uuid4().hex[:8]}"
    paths = [f"{prefix}_A", f"{prefix}_B", "/w/load.php?modules=site"]
    for name in real_varnish.ports:
        for path in paths:
            real_varnish.get(name, host, path)
    result = run(varnish_engine, BanPattern(host, f"^{prefix}"), "bad deploy")
    assert result.outcome == "partial"
    assert {s.target: s.status for s in result.steps} == {"cache-a": "ok", "cache-b": "ok", "cache-refusing": "refused"}
    for name in ("cache-a", "cache-b"):
        assert real_varnish.get(name, host, paths[0])[1]["x-cache"] == "MISS"
        assert real_varnish.get(name, host, paths[1])[1]["x-cache"] == "MISS"
        assert real_varnish.get(name, host, paths[2])[1]["x-cache"] == "HIT"  # not matched: kept
        assert real_varnish.get(name, "other.miraheze.org", "/")[0] == 200
    assert real_varnish.get("cache-refusing", host, paths[0])[1]["x-cache"] == "HIT"


# --- Icinga2 ---------------------------------------------------------------------------------------


@pytest.fixture
def icinga_setup(real_icinga, tmp_path):
    """A fresh host with PHP-FPM CRITICAL and SSH OK (passive), and an engine acting on this Icinga."""
    host = f"act{uuid.uuid4().hex[:6]}.fsslc.wtnet"

    def ok(answer):
        status, body = answer
        assert status == 200, body
        return body

    ok(real_icinga.api("PUT", f"objects/hosts/{host}", {"attrs": {"check_command": "dummy", "enable_active_checks": False}}))
    for service, state in (("PHP-FPM", 2), ("SSH", 0)):
        attrs = {"check_command": "passive", "enable_active_checks": False, "max_check_attempts": 1}
        ok(real_icinga.api("PUT", "objects/services/" + quote(f"{host}!{service}", safe=""), {"attrs": attrs}))
        ok(real_icinga.api("POST", "actions/process-check-result", {
            "type": "Service", "filter": f'host.name=="{host}" && service.name=="{service}"',
            "exit_status": state, "plugin_output": "PROCS CRITICAL: 0 processes" if state else "SSH OK",
        }))  # fmt: skip
    secret = tmp_path / "icinga.secret"
    secret.write_text(real_icinga.password)
    secret.chmod(0o600)
    text = (
        "farm: {name: wikitide, environment: test}\nsources:\n  icinga:\n"
        f"    - {{name: icinga, url: '{real_icinga.url}', username: {real_icinga.username}, "
        f"password: {{file: '{secret}'}}, verify: '{real_icinga.ca_path}'}}\n"
        f"actions:\n  audit: {{path: '{tmp_path}/audit.jsonl'}}\n"
    )
    config = parse_config(text)

    def engine() -> ActionEngine:
        made = ActionEngine(config, Session(ALICE))
        made.session.enable_write(made.audit, via="test")
        return made

    yield real_icinga, host, engine, config
    # the Icinga is shared by the session: leave no host behind for the other tests' alert lists
    status, body = real_icinga.api("DELETE", f"objects/hosts/{host}?cascade=1")
    assert status == 200, body


def service_attrs(icinga, host: str, service: str) -> dict:
    status, body = icinga.api("GET", "objects/services/" + quote(f"{host}!{service}", safe=""))
    assert status == 200, body
    return body["results"][0]["attrs"]


def downtimes(icinga, host: str) -> list[dict]:
    status, body = icinga.api("POST", "objects/downtimes", {
        "filter": "downtime.host_name == h", "filter_vars": {"h": host},
        "attrs": ["host_name", "service_name", "comment", "author", "start_time", "end_time"],
    }, headers={"X-HTTP-Method-Override": "GET"})  # fmt: skip
    assert status == 200, body
    return [r["attrs"] for r in body["results"]]


def test_acknowledge_and_remove_on_real_icinga(icinga_setup):
    icinga, host, engine, config = icinga_setup
    target = IcingaTarget(host, "PHP-FPM")
    result = run(engine(), Acknowledge((target,), sticky=True, expire=timedelta(hours=2)), "OOM, restarting", "T15")
    assert result.outcome == "success", result.render()
    attrs = service_attrs(icinga, host, "PHP-FPM")
    assert attrs["acknowledgement"] == 2  # sticky
    assert attrs["acknowledgement_expiry"] > 0

    async def fetch():
        source = IcingaSource(config.sources.icinga[0])
        try:
            return await source.fetch()
        finally:
            await source.aclose()

    snapshot = asyncio.run(fetch())
    assert snapshot.error is None, snapshot.error
    assert next(s for s in snapshot.data.services if (s.host, s.service) == (host, "PHP-FPM")).acknowledged

    status, comments = icinga.api("POST", "objects/comments", {"filter": "comment.host_name == h", "filter_vars": {"h": host}},
                                  headers={"X-HTTP-Method-Override": "GET"})
    assert status == 200
    assert [c["attrs"]["text"] for c in comments["results"]] == ["OOM, restarting - alice@bast161 - T15"]

    again = run(engine(), Acknowledge((target,)), "twice")
    assert again.steps[0].status == "skipped"
    ok = run(engine(), Acknowledge((IcingaTarget(host, "SSH"),)), "not a problem")
    assert ok.steps[0].status == "skipped" and "no longer a problem" in ok.steps[0].detail

    removed = run(engine(), RemoveAcknowledgement((target,)), "wrong one")
    assert removed.outcome == "success", removed.render()
    assert service_attrs(icinga, host, "PHP-FPM")["acknowledgement"] == 0


def test_downtime_and_removal_on_real_icinga(icinga_setup):
    icinga, host, engine, _ = icinga_setup
    result = run(engine(), ScheduleDowntime((IcingaTarget(host),), timedelta(hours=2), all_services=True), "reboot", "T77")
    assert result.outcome == "success", result.render()
    found = downtimes(icinga, host)
    assert sorted(d["service_name"] for d in found) == ["", "PHP-FPM", "SSH"]
    assert {d["comment"] for d in found} == {"reboot - alice@bast161 - T77"} and {d["author"] for d in found} == {"alice"}
    assert {round(d["end_time"] - d["start_time"]) for d in found} == {7200}

    removed = run(engine(), RemoveDowntime((IcingaTarget(host),)), "done")
    assert removed.outcome == "success", removed.render()
    assert downtimes(icinga, host) == []  # the service downtimes were its children

    one = run(engine(), ScheduleDowntime((IcingaTarget(host, "PHP-FPM"),), timedelta(minutes=30)), "php only")
    assert one.outcome == "success", one.render()
    assert [d["service_name"] for d in downtimes(icinga, host)] == ["PHP-FPM"]
    gone = run(engine(), RemoveDowntime((IcingaTarget(host, "PHP-FPM"),)), "php done")
    assert gone.outcome == "success" and downtimes(icinga, host) == []
    nothing = run(engine(), RemoveDowntime((IcingaTarget(host, "PHP-FPM"),)), "again")
    assert nothing.steps[0].status == "skipped"


def test_recheck_and_injection_on_real_icinga(icinga_setup):
    icinga, host, engine, _ = icinga_setup
    result = run(engine(), Recheck((IcingaTarget(host, "PHP-FPM"),)), "after the fix")
    assert result.outcome == "success", result.render()
    assert "rescheduled check" in result.steps[0].detail
    sneaky = run(engine(), Acknowledge((IcingaTarget(host, 'PHP-FPM" || service.name != "'),)), "injection")
    assert sneaky.outcome == "failed" and "does not exist" in sneaky.steps[0].detail
    assert service_attrs(icinga, host, "PHP-FPM")["acknowledgement"] == 0
    assert service_attrs(icinga, host, "SSH")["acknowledgement"] == 0
