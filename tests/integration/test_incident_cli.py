"""`opsconsole incident`: start, an action recorded in the audit, note, export (Markdown), end."""

from __future__ import annotations

import pytest

from tests.integration.cli_helpers import invoke

pytestmark = pytest.mark.sim


def test_start_act_note_export_and_end(farm_config, tmp_path):
    _, config = farm_config
    assert invoke(config, "incident", "export").exit_code == 2  # nothing open yet: said, not a traceback
    started = invoke(config, "incident", "start", "PHP-FPM down on mw152", "--task", "T12345")
    assert started.exit_code == 0, started.output
    assert invoke(config, "incident", "start", "another").exit_code == 2  # one incident at a time
    acked = invoke(config, "--write", "ack", "mw152!PHP-FPM", "--reason", "restarting php-fpm", "--yes")
    assert acked.exit_code == 0, acked.output
    assert invoke(config, "incident", "note", "called the DBA").exit_code == 0
    shown = invoke(config, "incident", "show")
    assert "action    acknowledge mw152!PHP-FPM: success  [alice@" in shown.output
    assert "note      called the DBA" in shown.output
    report_path = tmp_path / "report.md"
    exported = invoke(config, "incident", "export", "--format", "md", "--output", str(report_path))
    assert exported.exit_code == 0, exported.output
    report = report_path.read_text()
    assert report.startswith("# Incident: PHP-FPM down on mw152\n") and "- **Task:** T12345" in report
    assert "| acknowledge mw152!PHP-FPM: success | alice@" in report and "restarting php-fpm - alice@" in report
    ended = invoke(config, "incident", "end")
    assert ended.exit_code == 0 and "archived in" in ended.output
    assert "**Ended:** " in invoke(config, "incident", "export").output  # the last one ended, from the archive
