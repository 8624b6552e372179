"""Whatever the operator types or pastes into the `/` filter or the `:` line, the console stays: no
markup is parsed, a broken regex is a message, an unknown command says what exists. One app serves
every example (hypothesis drives it, 50 examples a property)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ui_helpers import FIXED, console_app, every_pane_has_rows, wait_until

from console.core.config import parse_config
from console.derive.jump import parse_jump
from console.sim import SimFarm

pytestmark = [pytest.mark.sim, pytest.mark.asyncio(loop_scope="module")]

FRAGMENTS = ["[bold]", "[/]", "File[/srv", "[@click=app.quit]", "[link=https://x]", "~(", "!~[", "\x1b]52;c;UFdO\x07",
             "\x1b[2J", "\u202e", "\u200b", "\udcff", "\\", "host ", "logs ", "theme ", "mw152"]
TYPED = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(FRAGMENTS)), max_size=6).map("".join)
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pilot(tmp_path_factory):
    farm = SimFarm(tmp_path_factory.mktemp("typed") / "farm", scenario="php-fpm-down", seed=1, clock=FIXED)
    farm.start()
    try:
        app = console_app(parse_config(farm.config_yaml(), "<sim farm>"))
        async with app.run_test(size=(80, 24)) as pilot:  # one pane on screen: less to repaint per example
            await wait_until(pilot, lambda: every_pane_has_rows(app), what="every pane filled")
            yield pilot
    finally:
        farm.stop()


async def back_to_the_panes(pilot) -> None:
    while len(pilot.app.screen_stack) > 1:
        await pilot.press("escape")
    if pilot.app.prompt.is_open:
        await pilot.press("escape")


@PROPERTY
@given(text=TYPED)
async def test_any_text_in_the_filter_keeps_the_console(pilot, text):
    app = pilot.app
    app.panes_screen.action_filter()  # `/`
    app.prompt.input.insert_text_at_cursor(text)  # as a paste would: every character, controls included
    await pilot.press("enter")
    assert app.is_running and not app.prompt.is_open
    app.panes_screen.action_filter()
    app.prompt.input.value = ""
    await pilot.press("enter")


@PROPERTY
@given(text=TYPED)
async def test_any_text_on_the_colon_line_keeps_the_console(pilot, text):
    app = pilot.app
    if parse_jump(text).what == "quit":
        return  # `:q` ends the console, as it should
    await pilot.press("colon")
    app.prompt.input.insert_text_at_cursor(text)
    await pilot.press("enter")
    assert app.is_running
    await back_to_the_panes(pilot)
    assert app.is_running
