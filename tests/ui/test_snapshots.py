"""What the console looks like (SVG snapshots under __snapshots__/; regenerate with --snapshot-update
and look at them). Fixed clock, seed, identity and latency; taken once every pane has rows."""

from __future__ import annotations

import pytest
from ui_helpers import PANE_TABLES, console_app, every_pane_has_rows, every_source_answered, table, text_of, wait_until

pytestmark = pytest.mark.sim


async def panes_filled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_pane_has_rows(app) and every_source_answered(app), what="every pane filled")
    # The cursor follows its row's key, so where it ends up depends on which commits source answered
    # first; put every cursor on the top row (what `g` does) so the picture never depends on timing.
    for name in PANE_TABLES:
        table(app, name).move_cursor(row=0)
        table(app, name).scroll_home(animate=False)
    await pilot.wait_for_scheduled_animations()  # a loaded machine: let every scroll settle before the picture
    await pilot.pause()


def test_wide_120x40(config, snap_compare):
    assert snap_compare(console_app(config, steady_latency=True), terminal_size=(120, 40), run_before=panes_filled)


def test_narrow_80x24(config, snap_compare):
    assert snap_compare(console_app(config, steady_latency=True), terminal_size=(80, 24), run_before=panes_filled)


def test_icinga_down_80x24(farm, config, snap_compare):
    async def icinga_down_on_alerts(pilot) -> None:
        await panes_filled(pilot)
        farm.set_fault("icinga", "down")
        pilot.app.poller.refresh_now("icinga")
        await pilot.press("2")
        await wait_until(pilot, lambda: "✖ icinga" in text_of(pilot.app.query_one("#status-bar")), what="icinga down")
        await pilot.pause()

    app = console_app(config, steady_latency=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=icinga_down_on_alerts)
