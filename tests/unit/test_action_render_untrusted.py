"""Plan.render and ActionResult.render (the CLI prints them, the TUI shows them) are display-safe: names,
URLs and a backend's words holding escapes, line breaks or bidi overrides are shown as stand-ins, one
line where one line was meant — while the plan's requests keep the exact values (issue 20)."""

from __future__ import annotations

from datetime import datetime, timezone

from console.actions.engine import ActionResult, StepResult
from console.actions.plan import Command, HttpRequest, Operator, Plan, Reason, Risk, Step

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
ESCAPE = "\x1b]0;PWN\x07"
SHOWN = "⟨U+001B⟩]0;PWN^G"
URL = f"https://meta.miraheze.org/wiki/{ESCAPE}"
HOST = "mw152\u202egnp.exe"  # a right-to-left override: the name would read otherwise
CHECK = "mw152!HTTPS\nstep 9: purge https://example.org on cp161"  # a forged line


def hostile_plan() -> Plan:
    operator = Operator("ops", "bast161")
    steps = (
        Step(0, "purge", "cache:cp161", "cp161", URL, request=HttpRequest("PURGE", URL, (("Host", f"meta{ESCAPE}"),))),
        Step(1, "acknowledge-problem", "icinga:icinga", CHECK, CHECK,
             request=HttpRequest("POST", "https://icinga/v1/actions/acknowledge-problem", body={"filter": CHECK})),
        Step(2, "restart", "ssh", HOST, "php-fpm", command=Command(HOST, f"{HOST}.fsslc.wtnet", "sudo systemctl restart x", 30),
             note=f"then wait {ESCAPE}"),
    )
    return Plan("p" * 32, "purge", f"purge {URL}", (URL, CHECK, HOST), Risk.SEVERAL, steps, T0, operator,
                Reason("looking", operator), notes=(f"note {ESCAPE}",))


def test_a_plan_with_hostile_names_renders_display_safe():
    plan = hostile_plan()
    text = plan.render()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert f"plan pppppppp: purge https://meta.miraheze.org/wiki/{SHOWN}" in text
    assert "mw152⟨U+202E⟩gnp.exe" in text and f"note:    note {SHOWN}" in text
    assert "mw152!HTTPS^Jstep 9: purge https://example.org on cp161" in text  # no forged step line
    assert not any(line.startswith("step 9") for line in text.splitlines())
    assert f"    Host: meta{SHOWN}" in text.splitlines()
    assert plan.steps[0].request.url == URL and plan.targets[1] == CHECK  # the values themselves stay exact


def test_a_result_with_a_backends_words_renders_display_safe():
    plan = hostile_plan()
    steps = (StepResult(0, "purge", "cp161", URL, "failed", f"HTTP 503 {ESCAPE}\nstep forged"),
             StepResult(1, "acknowledge-problem", CHECK, CHECK, "ok", "acknowledged"),
             StepResult(2, "restart", HOST, "php-fpm", "ok", "restarted"))
    text = ActionResult(plan, "partial", steps, T0, 1.5, notices=(f"SAL not written: {ESCAPE}",)).render()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    lines = text.splitlines()
    assert len(lines) == 1 + 3 + 1  # the title, one line per step, the notice
    assert f"HTTP 503 {SHOWN}^Jstep forged" in lines[1] and f"wiki/{SHOWN}" in lines[1]
    assert lines[2].startswith("  mw152!HTTPS^Jstep 9") and "mw152⟨U+202E⟩gnp.exe" in lines[3]
    assert lines[4] == f"  note: SAL not written: {SHOWN}"
