"""No state is signalled by colour alone: every state cell, rendered as plain text, carries its word
or symbol (the colour only repeats it)."""

from __future__ import annotations

import pytest
from ui_helpers import FIXED, console_app, every_pane_has_rows, every_source_answered, wait_until

from console.core.model import CheckState
from console.derive.alerts_pane import alerts_view
from console.derive.cells import STATE_SYMBOL
from console.derive.commits_pane import commits_view
from console.derive.filtering import cell_plain
from console.derive.hosts_pane import hosts_view
from console.derive.services_pane import services_view

pytestmark = pytest.mark.sim

WORDS = {state.name for state in CheckState}
RUN_WORDS = {"running", "stopped", "paused", "online", "offline", "unknown"}


async def test_every_state_has_a_word_or_symbol_in_plain_text(config):
    app = console_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: every_pane_has_rows(app) and every_source_answered(app))
        now = FIXED()
        alerts = alerts_view(app.store, config, now)
        assert alerts.rows
        for row in alerts.rows:
            state = cell_plain(row.cells[0])
            symbol, word = state.split(" ", 1)
            assert symbol in STATE_SYMBOL.values() and word in WORDS, state
        for row in services_view(app.store, config, now).rows:
            plain = " ".join(cell_plain(c) for c in row.cells)
            assert any(symbol in plain for symbol in STATE_SYMBOL.values()) or "no checks" in plain or "—" in plain, plain
        for row in hosts_view(app.store, config, now).rows:
            status, puppet = cell_plain(row.cells[1]), cell_plain(row.cells[2])
            assert status.split()[0] in RUN_WORDS or status == "no VM", row
            assert puppet == "—" or puppet.split()[0].isalpha(), row  # "failed 3m", "stale", "changed 7m"
        suspects = commits_view(app.store, config, now)
        for row in suspects.rows:
            repo = row.cells[0]
            if getattr(repo, "style", "") and "yellow" in str(repo.style):  # the suspect colour …
                assert cell_plain(repo).startswith("◆")  # … always with its mark


async def test_no_color_turns_the_whole_screen_monochrome(config, monkeypatch):
    from textual.filter import Monochrome, NoColor

    monkeypatch.setenv("NO_COLOR", "1")
    app = console_app(config)
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: every_pane_has_rows(app))
        # Every line, our own rich styles included, goes through Textual's colour filter.
        assert any(isinstance(f, (Monochrome, NoColor)) for f in app._filters)
        assert "cloud15" in app.export_screenshot()
