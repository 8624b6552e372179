"""The Icinga event stream in the console: a new CRITICAL reaches the Alerts pane, and the status bar
says the stream is live, without waiting for a poll (Icinga polled every 300 s)."""

from __future__ import annotations

import pytest
from ui_helpers import FIXED, IDENTITY, cell_text, every_source_answered, table, text_of, wait_until

from console.sources import build_sources
from console.ui.app import OpsConsoleApp
from console.ui.widgets import StatusBar

pytestmark = pytest.mark.sim


def alert_keys(app: OpsConsoleApp, check: str) -> list[str]:
    return [key for key in table(app, "alerts-table").row_keys() if key.endswith(check)]


async def test_a_new_critical_reaches_the_alerts_pane_through_the_stream(farm, config):
    sources = build_sources(config, FIXED)
    for source in sources:
        if source.kind == "icinga":
            source.interval = 300.0
    app = OpsConsoleApp(config, clock=FIXED, identity=IDENTITY, sources=sources)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app) and bool(app.store.get("icinga").stream)
                         and app.store.get("icinga").stream.live, what="the first answers and a live stream")
        assert "✔ icinga ⚡" in text_of(app.query_one(StatusBar))
        assert alert_keys(app, "mw151!SSH") == []
        requests = farm.request_counts()["icinga"]
        farm.model.set_check("mw151", "SSH", "CRITICAL", "SSH CRITICAL - connection refused")
        await wait_until(pilot, lambda: alert_keys(app, "mw151!SSH") != [], timeout=10, what="the CRITICAL in Alerts")
        row = [cell_text(cell) for cell in table(app, "alerts-table").get_row(alert_keys(app, "mw151!SSH")[0])]
        assert "✖ CRITICAL" in row and any("connection refused" in cell for cell in row)
        assert farm.request_counts()["icinga"] == requests  # no poll brought it
        farm.model.set_check("mw151", "SSH", "OK", "SSH OK")
        await wait_until(pilot, lambda: alert_keys(app, "mw151!SSH") == [], timeout=10, what="the recovery")
