"""The console paints its first frame from the config file's YAML and validates it right after
(console/config_file.py, OpsConsoleApp._validate_document): the farm is on screen at once, the sources
come with the validated config, and a broken config ends the console with every problem (exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path

from ui_helpers import FIXED, IDENTITY, every_pane_has_rows, text_of, wait_until

from console.core.config_file import parse_document
from console.ui.app import OpsConsoleApp
from tests.harness.pty_run import run_on_a_pty

ROOT = Path(__file__).resolve().parents[2]

BROKEN = """\
farm:
  name: wikitide
  environment: production
sources:
  puppetdb:
    - name: puppetdb
      url: ftp://puppetdb.example
ui:
  keys: {filter: q}
"""


async def test_first_frame_from_the_file_then_the_validated_config(farm):
    document = parse_document(farm.config_yaml(), "<sim farm>")
    app = OpsConsoleApp(document, clock=FIXED, identity=IDENTITY, user_themes=None)
    first_frame: dict[str, object] = {}
    display = app._display

    def spy(*args, **kwargs):
        if not first_frame:
            first_frame.update(farm=text_of(app.query_one("#farm-name")), config=app.config,
                               sources=[state.name for state in app.store.states()],
                               filter_allowed=app.screen.check_action("filter", ()), quit_allowed=app.screen.check_action("quit", ()))
        return display(*args, **kwargs)

    app._display = spy
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: every_pane_has_rows(app), what="the panes to fill")
        assert first_frame == {"farm": "wikitide", "config": None, "sources": [], "filter_allowed": False, "quit_allowed": True}
        assert app.config is not None and app.config.farm.name == "wikitide"
        assert {item.name for _, item in app.config.sources.all()} <= {state.name for state in app.store.states()}
        assert app.check_action("filter", ()) is True
        assert app.config_error is None


async def test_a_broken_config_ends_the_console_with_every_problem():
    app = OpsConsoleApp(parse_document(BROKEN, "farm.yaml"), clock=FIXED, identity=IDENTITY, user_themes=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.config_error is not None, what="the config to be refused")
        await pilot.pause()
    assert app.return_code == 2
    assert app.config is None and not app.poller.sources  # nothing was ever asked of the farm
    problems = str(app.config_error).splitlines()
    assert problems[0].startswith("farm.yaml:7: sources.puppetdb[0].url: ")
    assert problems[1].startswith("farm.yaml:9: ui.keys.filter: 'q' is already taken by the console")


def test_the_console_on_a_broken_config_prints_its_problems_and_exits_2(tmp_path):
    path = tmp_path / "farm.yaml"
    path.write_text(BROKEN)
    code, output = run_on_a_pty([sys.executable, "-m", "console", "--config", str(path)])
    assert code == 2, output[-2000:]
    assert f"{path}:7: sources.puppetdb[0].url: " in output
    assert f"{path}:9: ui.keys.filter: 'q' is already taken by the console" in output


def test_a_yaml_error_is_refused_before_the_console_takes_the_terminal(tmp_path):
    path = tmp_path / "farm.yaml"
    path.write_text("farm:\n  name: [wikitide\n")
    code, output = run_on_a_pty([sys.executable, "-m", "console", "--config", str(path)])
    assert code == 2
    assert f"{path}:3: (yaml): YAML syntax error" in output
    assert "\x1b[?1049h" not in output  # the alternate screen was never entered
