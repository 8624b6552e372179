"""What the host detail looks like (SVG snapshot under __snapshots__/; regenerate on purpose with
`--snapshot-update tests/ui/test_detail_snapshot.py` and look at it). Fixed clock, seed, identity
and latency; taken once every section has loaded."""

from __future__ import annotations

import pytest
from ui_helpers import console_app, every_pane_has_rows, every_source_answered, table, wait_until

from console.ui.screens.detail import HostDetailScreen

pytestmark = pytest.mark.sim


async def php_fpm_alert_opened(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_pane_has_rows(app) and every_source_answered(app), what="every pane filled")
    await pilot.press("2")
    alerts = table(app, "alerts-table")
    alerts.move_cursor(row=alerts.get_row_index("mw152!PHP-FPM"))
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, HostDetailScreen) and not app.screen.pending, what="the detail loaded")
    await pilot.pause()


def test_host_detail_120x40(config, snap_compare):
    assert snap_compare(console_app(config, steady_latency=True), terminal_size=(120, 40), run_before=php_fpm_alert_opened)
