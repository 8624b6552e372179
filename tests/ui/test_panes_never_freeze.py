"""Panes never freeze (issue 26, item 6), over the simulated farm. A redraw waits for the paint of one
pane before the next; here paints are lost (their callback never runs, as if the paint never came).
The wait is bounded, so a change in the farm still shows up; and when a redraw is stuck for longer
than that (the bound made huge here), the watchdog finds the panes behind their sources, derives them
again and says so on the status bar."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_helpers import FIXED, IDENTITY, every_pane_has_rows, every_source_answered, table, wait_until

from console.ui import app as app_module
from console.ui.app import OpsConsoleApp

pytestmark = pytest.mark.sim

ALERT = "mw152!PHP-FPM"


class LosingPaints(OpsConsoleApp):
    """The console, with a switch that loses the paints a redraw waits for (the future never resolves)."""

    CSS_PATH = str(Path(app_module.__file__).with_name(OpsConsoleApp.CSS_PATH))  # a subclass's is read from its own folder
    lose = 0  # how many paints to lose from now on (-1: every one)
    lost = 0
    frame_seconds = -1.0  # every pane waits for the paint of the one before, as a big farm's do

    def call_after_refresh(self, callback, *args, **kwargs) -> bool:
        if self.lose and getattr(callback, "__name__", "") == "paint_done":
            self.lose -= 1 if self.lose > 0 else 0
            self.lost += 1
            return True
        return super().call_after_refresh(callback, *args, **kwargs)


class StuckForAnHour(LosingPaints):
    paint_wait = 3600.0  # a redraw stuck far longer than the bound: only the watchdog gets it going again


def icinga_every_second(config):
    icinga = [item.model_copy(update={"interval": 1.0}) for item in config.sources.icinga]
    return config.model_copy(update={"sources": config.sources.model_copy(update={"icinga": icinga})})


async def settled(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), timeout=20,
                     what="every pane filled")


def alerts(app) -> list[str]:
    return table(app, "alerts-table").row_keys()


async def test_lost_paints_do_not_stop_the_redraws(farm, config):
    app = LosingPaints(config, clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert ALERT in alerts(app)
        app.lose = -1  # from now on no paint ever comes
        await pilot.press("r")  # every source answers again: the redraws wait for paints that are lost
        await wait_until(pilot, lambda: app.lost >= 1, timeout=20, what="a redraw waiting for a lost paint")
        farm.model.set_check("mw152", "PHP-FPM", "OK", output="PROCS OK: 8 processes with command name 'php-fpm8.4'")
        await pilot.press("r")
        await wait_until(pilot, lambda: ALERT not in alerts(app), timeout=20, what="the recovered alert to leave Alerts")
        farm.model.set_guest_status("mw151", "stopped")
        await pilot.press("r")
        hosts = table(app, "hosts-table")
        await wait_until(pilot, lambda: "stopped" in str(hosts.get_row(next(k for k in hosts.row_keys() if k.endswith(":mw151")))[1]),
                         timeout=20, what="the stopped guest in Hosts")


async def test_a_pane_behind_its_source_is_derived_again_and_the_status_bar_says_so(farm, config):
    app = StuckForAnHour(icinga_every_second(config), clock=FIXED, identity=IDENTITY)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot)
        assert getattr(app.status_bar, "note_text", None) is None
        app.lose = 1  # one paint lost: the redraw waiting for it would wait an hour
        await wait_until(pilot, lambda: app.lost == 1, timeout=20, what="a redraw stuck on a lost paint")
        farm.model.set_check("mw152", "PHP-FPM", "OK", output="PROCS OK: 8 processes with command name 'php-fpm8.4'")
        await wait_until(pilot, lambda: ALERT not in alerts(app), timeout=20, what="the recovered alert to leave Alerts")
        note = app.status_bar.note_text or ""
        assert note.startswith("▲ ") and note.endswith("behind; redrawn") and "Alerts" in note, note
        assert note in str(app.status_bar.render())  # on screen, first on the line
