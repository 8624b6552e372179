"""The incident report is Markdown that others render (a task, a wiki page): an incident's title, notes,
check names, plugin output and other operators' reasons are data there — escaped so they never
format, link, inject HTML or break the tables, and display-safe (no control character; issue 20)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

from markdown_it import MarkdownIt

from console.core.display import safe
from console.derive.incident import ALERT, Incident, TimelineEntry, actions_from_audit, export_markdown, with_note

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
ESCAPE = "\x1b]0;PWN\x07"
TITLE = (f"db *down* _now_ [click](https://evil.example) <img src=x onerror=alert(1)> `rm -rf` ~~no~~ $x$ "
         f"| cell &amp; #tag {ESCAPE} #")
HOST = "mw[1]<b>52</b>"
CHECK = "HTTPS [x](evil.example)"  # no colon: the timeline's refs are colon-separated
OUTPUT = "out | put\nline two <script>alert(1)</script> **bold**"
NOTE = "**called** the DBA <b>now</b>\n# not a heading\n- [ ] not a task"
REASON = f"vandal [a](http://evil.example) ![i](http://evil.example/i.png) {ESCAPE} - eve@bast181"


def hostile_incident() -> Incident:
    inc = Incident.start(TITLE, "ops@bast161", T0, "T12345")
    key = f"{HOST}!{CHECK}"
    inc.add([TimelineEntry(T0 + timedelta(minutes=1), ALERT, f"{key} went CRITICAL", None,
                           f"alert:{key}:CRITICAL:{T0.isoformat()}", OUTPUT)])
    with_note(inc, NOTE, "ops@bast161", T0 + timedelta(minutes=2))
    at = (T0 + timedelta(minutes=3)).isoformat()
    inc.add(actions_from_audit([
        {"event": "intent", "id": "e" * 32, "time": at, "user": "eve", "host": "bast181", "action": "purge",
         "title": "purge <u>x</u> from 4 caches", "reason": REASON},
        {"event": "result", "id": "e" * 32, "time": at, "outcome": "success"},
    ], T0))
    return inc


def rendered_html(report: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(report)


def test_the_report_escapes_markdown_html_and_control_characters_in_data():
    report = export_markdown(hostile_incident(), T0 + timedelta(minutes=30), follow_ups=["[ ] <b>check</b> it"])
    assert "\x1b" not in report and "\x07" not in report
    assert "⟨U+001B⟩\\]0;PWN^G" in report  # the stand-in, its bracket escaped too

    page = rendered_html(report)
    for tag in ("<a ", "<img", "<script", "<b>", "<u>", "<em>", "<code>", "<s>", "<h2>not"):
        assert tag not in page, (tag, page)
    assert page.count("<strong>") == 4  # the report's own: Task, Started, Ended, Impact window
    assert page.count("<h1>") == 1 and page.count("<h2>") == 4  # Summary, Timeline, Actions, Open follow-ups
    assert page.count("<li>") == 4 + 2  # those four, and the two follow-ups: the note made no list item
    # every table row keeps its four cells: a `|` in the data does not open a fifth
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        assert row.count("<td>") + row.count("<th>") == 4, row

    # what a reader sees is the data itself, literally (display-safe), not what it would have formatted into
    def text(fragment: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", fragment))

    assert text(re.search(r"<h1>(.*?)</h1>", page).group(1)) == f"Incident: {safe(TITLE)}"
    cells = [text(cell) for cell in re.findall(r"<td>(.*?)</td>", page, flags=re.S)]
    assert f"alert: {HOST}!{CHECK} went CRITICAL" in cells
    assert safe(OUTPUT.replace("\n", " ")) in cells
    assert safe(NOTE.replace("\n", " ")) in [cell.removeprefix("note: ") for cell in cells]
    assert safe(REASON) in cells and "purge <u>x</u> from 4 caches: success" in cells
    assert f"Still failing at the time of this report: {HOST}!{CHECK}." in text(page)
    assert f"{HOST}!{CHECK} is still failing" in text(page) and "[ ] <b>check</b> it" in text(page)

    # and names without Markdown in them read as they are, unescaped
    plain = export_markdown(Incident.start("PHP-FPM down on mw152.fsslc.wtnet (HTTP/1.1 502!)", "ops@bast161", T0),
                            T0 + timedelta(minutes=5))
    assert plain.startswith("# Incident: PHP-FPM down on mw152.fsslc.wtnet (HTTP/1.1 502!)\n")
