"""The Icinga refresh's merge of its answers (merge_checks) and the objects kept across refreshes
(KnownObjects)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from console.core.model import CheckState, IcingaHostState, IcingaSnapshot, ServiceCheck
from console.sources.icinga import KnownObjects, merge_checks, parse_services_answer

T0 = datetime(2026, 8, 20, 12, 0, tzinfo=timezone.utc)


def check(host, service, state=CheckState.OK, output="", **fields):
    return ServiceCheck(host=host, service=service, state=state, hard=True, acknowledged=False, in_downtime=False,
                        output=output, last_state_change=T0, **fields)  # fmt: skip


def test_problems_are_authoritative_for_their_checks():
    every = [
        check("mw152", "PHP-FPM", CheckState.CRITICAL),
        check("mw151", "SSH"),
        check("db171", "MariaDB", CheckState.WARNING),  # recovered... or not yet in the problems answer
        check("mw151", "Disk Space"),  # became a problem between the two queries
    ]
    problems = [
        check("mw152", "PHP-FPM", CheckState.CRITICAL, "PROCS CRITICAL: 0 processes"),
        check("mw151", "Disk Space", CheckState.WARNING, "DISK WARNING"),
        check("cp161", "Varnish", CheckState.UNKNOWN, "created in between"),  # not in the first answer
    ]
    merged = merge_checks(every, problems)
    assert [(c.key, c.state, c.output) for c in merged] == [
        ("cp161!Varnish", CheckState.UNKNOWN, "created in between"),
        ("db171!MariaDB", CheckState.WARNING, ""),
        ("mw151!Disk Space", CheckState.WARNING, "DISK WARNING"),
        ("mw151!SSH", CheckState.OK, ""),
        ("mw152!PHP-FPM", CheckState.CRITICAL, "PROCS CRITICAL: 0 processes"),
    ]


def test_merge_sorts_by_host_then_service_like_a_tuple():
    names = [("mw1", "b"), ("mw1", "a b"), ("mw", "z"), ("mw1-x", "a"), ("mw10", "a")]
    merged = merge_checks([check(h, s) for h, s in names], [])
    assert [(c.host, c.service) for c in merged] == sorted(names)


def test_known_objects_swap_equal_checks_only():
    old_ok, old_bad = check("mw151", "SSH"), check("mw152", "PHP-FPM", CheckState.CRITICAL, "down")
    known = KnownObjects(IcingaSnapshot(hosts=(IcingaHostState("mw151", True),), services=(old_ok, old_bad)))
    body = json.dumps({"results": [
        {"name": "mw151!SSH", "attrs": {"state": 0, "state_type": 1, "last_state_change": T0.timestamp()}},
        {"name": "mw152!PHP-FPM", "attrs": {"state": 2, "state_type": 1, "last_state_change": T0.timestamp(),
                                            "last_check_result": {"output": "still down"}}},
    ]}).encode()  # fmt: skip
    ssh, php = parse_services_answer(body, reuse=known.check)
    assert ssh is old_ok
    assert php == check("mw152", "PHP-FPM", CheckState.CRITICAL, "still down") and php is not old_bad
    assert known.host(IcingaHostState("mw151", True)) is known.hosts["mw151"]
    assert known.host(IcingaHostState("mw151", False)).up is False
