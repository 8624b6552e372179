"""The Services pane's probe column on the simulated farm, with and without the sim's Icinga."""

from __future__ import annotations

import pytest
from ui_helpers import cell_text, console_app, every_source_answered, table, text_of, wait_until

from console.derive.services_pane import SERVICE_COLUMNS
from console.ui.widgets import StatusBar

pytestmark = pytest.mark.sim


def probe_cells(app) -> dict[str, str]:
    services = table(app, "services-table")
    column = [c.key for c in SERVICE_COLUMNS].index("probe")
    return {key: cell_text(services.get_row(key)[column]) for key in services.row_keys()}


async def test_services_pane_shows_every_services_probes(farm, config):
    app = console_app(config)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app) and table(app, "services-table").row_count > 0)
        await wait_until(pilot, lambda: "loading…" not in probe_cells(app).values(), what="probe results")
        cells = probe_cells(app)
        assert cells.keys() == {s.name for s in config.services}
        assert cells["php-fpm"] == "✖ mw152 api.php: HTTP 502"
        assert all(text.startswith("✔ ") for name, text in cells.items() if name != "php-fpm"), cells
        assert "✔ probes" in text_of(app.query_one(StatusBar))


async def test_probe_results_still_show_with_icinga_down(farm, config):
    farm.set_fault("icinga", "down")
    app = console_app(config)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: every_source_answered(app))
        await wait_until(pilot, lambda: "loading…" not in probe_cells(app).values(), what="probe results")
        services = table(app, "services-table")
        php = [cell_text(c) for c in services.get_row("php-fpm")]
        assert php[2] == "no data"  # Icinga has said nothing ...
        assert probe_cells(app)["php-fpm"] == "✖ mw152 api.php: HTTP 502"  # ... the probes still do
        assert probe_cells(app)["varnish"].startswith("✔ 4/4")
        assert "✖ icinga" in text_of(app.query_one(StatusBar))
