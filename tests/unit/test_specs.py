"""The spec list (console/actions/specs.py): every reference resolves, names and commands are unique,
each spec's tiers are what its plans say, ack + downtime is one plan with two requests per target,
and the values of the CLI and of the console's form make the same action."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.actions import ActionEngine, IcingaTarget, Operator, Session
from console.actions.catalog import Acknowledge, AcknowledgeAndDowntime, ScheduleDowntime
from console.actions.specs import SPECS, MakeContext, commands, load, spec_named
from console.core.clock import fixed_clock
from console.core.config import parse_config

NOW = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)
CONFIG = """\
farm: {name: wikitide, environment: test, domains: [fsslc.wtnet]}
sources:
  icinga: [{name: icinga, url: "https://icinga.fsslc.wtnet:5665", username: opsconsole, password: {env: TEST_ICINGA}}]
actions:
  audit: {path: AUDIT}
  caches: [{name: cp161, url: "http://cp161.fsslc.wtnet:80"}, {name: cp171, url: "http://cp171.fsslc.wtnet:80"}]
"""
PANES = {"hosts", "alerts", "services"}


@pytest.fixture
def engine(tmp_path, monkeypatch) -> ActionEngine:
    monkeypatch.setenv("TEST_ICINGA", "icinga-secret")
    config = parse_config(CONFIG.replace("AUDIT", str(tmp_path / "audit.jsonl")))
    return ActionEngine(config, Session(Operator("alice", "bast161")), clock=fixed_clock(NOW))


def test_every_reference_resolves_and_every_name_is_unique() -> None:
    for spec in SPECS:
        for reference in (spec.make, spec.plan, spec.run, spec.prepare, spec.defaults,
                          *(use.offers for use in spec.uses)):
            if reference is not None:
                assert callable(load(reference)), (spec.name, reference)
        assert {use.pane for use in spec.uses} <= PANES, spec.name
        assert spec.tier[0] <= spec.tier[1] and {*spec.tier} <= {1, 2, 3}, spec.name
    names = [spec.name for spec in SPECS]
    assert len(names) == len(set(names))
    paths = [spec.command for spec in SPECS if spec.command]
    assert len(paths) == len(set(paths))
    assert {"purge", "ban", "ack", "unack", "ack-downtime", "downtime", "recheck", "restart", "depool", "repool",
            "guest", "puppet"} == set(commands())


@pytest.mark.parametrize("name, values", [
    ("purge", {"urls": ("https://meta.miraheze.org/wiki/151",)}),
    ("ack", {"targets": ("mw151!PHP-FPM",)}),
    ("unack", {"targets": ("mw151!PHP-FPM",)}),
    ("ack-downtime", {"targets": ("mw151!PHP-FPM",), "duration": "2h"}),
    ("downtime-add", {"targets": ("mw151!PHP-FPM",), "duration": "2h"}),
    ("downtime-remove", {"targets": ("mw151!PHP-FPM",)}),
    ("recheck", {"targets": ("mw151!PHP-FPM",)}),
])
def test_a_specs_tiers_are_its_plans_tiers(engine, name, values) -> None:
    spec = spec_named(name)
    context = MakeContext(engine.config)
    one = engine.plan(spec.make_action(values, context))
    key = next(iter(values))
    first = values[key][0]
    second = first.replace("151", "152")
    several = engine.plan(spec.make_action({**values, key: (first, second)}, context))
    assert (int(one.risk), int(several.risk)) == spec.tier
    assert one.action == several.action == name


def test_ack_and_downtime_is_one_plan_of_two_requests_per_target_with_one_comment(engine) -> None:
    targets = (IcingaTarget("mw151", "PHP-FPM"), IcingaTarget("mw152", "PHP-FPM"))
    plan = engine.plan(AcknowledgeAndDowntime(targets, timedelta(minutes=30)), reason="php-fpm leak", task="T123")
    assert [(step.kind, step.target) for step in plan.steps] == [
        ("acknowledge-problem", "mw151!PHP-FPM"), ("schedule-downtime", "mw151!PHP-FPM"),
        ("acknowledge-problem", "mw152!PHP-FPM"), ("schedule-downtime", "mw152!PHP-FPM")]
    comments = {step.http_request.body["comment"] for step in plan.steps}
    assert len(comments) == 1 and "php-fpm leak" in comments.pop()
    downtime = plan.steps[1].http_request.body
    assert downtime["end_time"] - downtime["start_time"] == 1800
    assert plan.targets == ("mw151!PHP-FPM", "mw152!PHP-FPM") and "downtime for 30m" in plan.title


def test_the_clis_values_and_the_forms_text_make_the_same_action(engine) -> None:
    context = MakeContext(engine.config)
    ack = spec_named("ack")
    from_cli = ack.make_action({"targets": ("mw151!PHP-FPM",), "sticky": True, "expire": "2h", "notify": False}, context)
    from_form = ack.make_action({"targets": "mw151!PHP-FPM", "sticky": True, "expire": " 2h ", "notify": False}, context)
    assert from_cli == from_form == Acknowledge((IcingaTarget("mw151", "PHP-FPM"),), True, timedelta(hours=2), False)
    downtime = spec_named("downtime-add")
    assert downtime.make_action({"targets": "mw151 mw152", "duration": "1h30m", "all_services": True}, context) == \
        ScheduleDowntime((IcingaTarget("mw151"), IcingaTarget("mw152")), timedelta(minutes=90), True)
    # a row gives its targets as Icinga names them, control characters and all: they are data (filter_vars)
    hostile = IcingaTarget("mw151", "PHP\x1b]0;x")
    assert spec_named("recheck").make_action({"targets": (hostile,)}, context).targets == (hostile,)
