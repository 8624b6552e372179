"""Every shipped theme at 80×24 (SVG snapshots under __snapshots__/; regenerate with
--snapshot-update and look at them), on the fixed clock, seed, identity and latency."""

from __future__ import annotations

import pytest
from test_snapshots import panes_filled
from ui_helpers import console_app

pytestmark = pytest.mark.sim


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast", "colorblind"])
def test_theme_80x24(config, snap_compare, theme):
    app = console_app(config, steady_latency=True)
    app.theme = theme
    assert snap_compare(app, terminal_size=(80, 24), run_before=panes_filled)


def test_filtered_and_sorted_80x24(config, snap_compare):
    async def filter_mw(pilot) -> None:
        await panes_filled(pilot)
        await pilot.press("slash", "m", "w", "1", "5", "enter", "S", "S")

    app = console_app(config, steady_latency=True)
    app.theme = "dark"
    assert snap_compare(app, terminal_size=(80, 24), run_before=filter_mw)
