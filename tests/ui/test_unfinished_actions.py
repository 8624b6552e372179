"""kill -9 between the audit's intent and result: the intent stays on record, and the next start
shows the unfinished action — `status --json` (every time, with `acknowledged`) and the console
(once: it then records `acknowledged-unfinished`)."""

from __future__ import annotations

import json
import signal

import jsonschema
import pytest

from console.cli.status import load_schema
from console.core.config import parse_config
from tests.harness.hanging_action import cli, patient_config, records, start, wait_for_intent
from tests.ui.ui_helpers import console_app, wait_until

pytestmark = pytest.mark.sim


def unfinished_in_status(config) -> list[dict]:
    done = cli(config, "status", "--json")
    report = json.loads(done.stdout)
    jsonschema.validate(report["unfinished_actions"], load_schema()["properties"]["unfinished_actions"])
    return report["unfinished_actions"]


async def test_an_action_killed_mid_run_is_shown_at_the_next_start(sim_farm_factory, tmp_path):
    farm = sim_farm_factory()
    config = patient_config(farm, tmp_path / "farm.yaml")
    audit = farm.state_dir / "audit.jsonl"
    farm.set_fault("icinga", "hang")  # the ack's re-read of the alert never answers
    action = start(config, "--write", "ack", "mw152!PHP-FPM", "--reason", "php-fpm OOM", "--yes",
                   env={"SUDO_USER": "alice"})
    try:
        intent = wait_for_intent(audit, action)
    finally:
        action.send_signal(signal.SIGKILL)
        action.wait(timeout=30)
    farm.set_fault("icinga", None)
    assert action.returncode == -signal.SIGKILL
    assert [r["event"] for r in records(audit)] == ["write-enabled", "intent"]  # no result: it never ended

    listed = unfinished_in_status(config)
    assert [(u["plan"], u["title"], u["user"], u["targets"], u["acknowledged"]) for u in listed] == \
        [(intent["id"], "acknowledge mw152!PHP-FPM", "alice", ["mw152!PHP-FPM"], False)]
    assert listed[0]["message"].startswith("unfinished: acknowledge mw152!PHP-FPM started ")
    assert "by alice@" in listed[0]["message"] and "its result is unknown; check the targets: mw152!PHP-FPM" in \
        listed[0]["message"]
    assert "unfinished: acknowledge mw152!PHP-FPM" in cli(config, "status").stdout

    app = console_app(parse_config(config.read_text(), str(config)))
    async with app.run_test(size=(120, 40)) as pilot:
        def shown() -> list[str]:
            return [n.message for n in app._notifications if "unfinished:" in n.message]

        await wait_until(pilot, lambda: bool(shown()), what="the unfinished-action warning")
        assert shown()[0].startswith("unfinished: acknowledge mw152!PHP-FPM started")
        assert f"(plan {intent['id'][:8]})" in shown()[0]
        await wait_until(pilot, lambda: any(r["event"] == "acknowledged-unfinished" for r in records(audit)),
                         what="the acknowledgement record")

    acknowledged = [r for r in records(audit) if r["event"] == "acknowledged-unfinished"]
    assert acknowledged[0]["plans"] == [intent["id"]] and acknowledged[0]["via"] == "tui"
    assert [u["acknowledged"] for u in unfinished_in_status(config)] == [True]  # still listed, marked as shown

    again = console_app(parse_config(config.read_text(), str(config)))
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all(s.last is not None for s in again.store.states()), what="a refresh")
        await pilot.pause(0.2)
        assert not [n for n in again._notifications if "unfinished:" in n.message]  # shown once, not forever
