"""Text from the farm and from the operator is data on the panes: a `[` in a filter or in a check's
name never ends the console, markup in names is shown as written, escape sequences and bidi controls
show as stand-ins (`⟨U+001B⟩`, `^G`), never as bytes a terminal would act on."""

from __future__ import annotations

import pytest
from rich.text import Text
from ui_helpers import cell_text, console_app, every_pane_has_rows, table, wait_until

pytestmark = pytest.mark.sim

TITLE = "\x1b]0;PWN-output\x07"
HOSTILE_OUTPUT = f"CRITICAL [bold red]spoofed[/] {TITLE} \u202eevil File[/srv"
HOSTILE_CHECK = "Disk [/srv] \x1b[31337m"


def shown_cells(app, table_id: str) -> list[str]:
    keyed = table(app, table_id)
    return [cell_text(cell) for key in keyed.row_keys() for cell in keyed.get_row(key)]


def title_of(widget) -> str:
    return Text.from_markup(widget.border_title or "").plain


async def test_a_filter_with_a_bracket_is_text_and_a_bad_regex_says_so_in_the_prompt(config):
    app = console_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: every_pane_has_rows(app), what="every pane filled")
        await pilot.press("slash", *"File[/srv")  # a substring: no host has it
        assert app.is_running and title_of(app.pane(1)).endswith("/File[/srv")
        assert table(app, "hosts-table").row_count == 0
        await pilot.press("ctrl+u", *"~File[/srv")  # a regex, and a broken one
        error = app.query_one("#prompt-error")
        assert error.display and "bad regex" in str(error.render())
        assert title_of(app.pane(1)).endswith("/~File[/srv (bad regex)")
        await pilot.press("enter")
        assert app.is_running
        await pilot.press("slash", "ctrl+u", *"[bold]mw15", "enter")
        assert app.is_running and title_of(app.pane(1)).endswith("/[bold]mw15")
        await pilot.press("slash", "ctrl+u", *"mw15")
        assert not app.query_one("#prompt-error").display


async def test_hostile_check_names_and_outputs_show_as_stand_ins(farm, config):
    farm.model.set_check("mw152", "PHP-FPM", "CRITICAL", output=HOSTILE_OUTPUT)
    farm.model.set_check("mw153", HOSTILE_CHECK, "WARNING", output="disk [90%]")
    app = console_app(config)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: any("PWN-output" in c for c in shown_cells(app, "alerts-table")), what="the alert")
        cells = shown_cells(app, "alerts-table")
        assert not any("\x1b" in c or "\x07" in c or "\u202e" in c for c in cells)
        assert any("[bold red]spoofed[/] ⟨U+001B⟩]0;PWN-output^G ⟨U+202E⟩evil File[/srv" in c for c in cells)
        assert "Disk [/srv] ⟨U+001B⟩[31337m" in cells
        [output] = [cell for cell in table(app, "alerts-table").get_row("mw152!PHP-FPM") if "PWN" in cell_text(cell)]
        reversed_text = [output.plain[span.start:span.end] for span in output.spans
                         if not isinstance(span.style, str) and span.style.reverse]
        assert reversed_text == ["⟨U+001B⟩", "^G", "⟨U+202E⟩"]  # the stand-ins stand out
        await pilot.press("2", "j", "k")
        assert app.is_running
