"""The console's first frame comes before the heavy parts load (issue #10, first paint): the config's
models (pydantic), the action engine, the clients (httpx), the screens opened by a key. Checked in a
fresh interpreter, at the app's first screen update, then again once it polls."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Loaded on first use only: a key, an action, the poller's first round.
LATE = ("pydantic", "console.core.config", "console.core.model", "console.derive.cells", "console.derive.hosts_pane", "console.derive.alerts_pane", "console.core.hosts", "console.derive.alerts",
        "console.ui.incident", "console.derive.incident", "httpx", "console.actions", "console.actions.engine",
        "console.actions.specs", "console.sources", "console.ui.desk", "console.ui.dialogs", "console.ui.screens.action",
        "console.ui.screens.detail", "console.ui.screens.logs", "console.ui.screens.help", "console.ui.screens.leftovers",
        "console.ui.screens.tasks", "console.ui.screens.backends", "console.ui.screens.timeline", "console.ui.unfinished",
        "console.derive.detail", "console.derive.logtail")

SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from console.core.config_file import parse_document
    from console.ui.app import OpsConsoleApp

    config = parse_document('''
    farm: {name: wikitide, environment: test}
    sources:
      puppetdb: [{name: puppetdb, url: "https://127.0.0.1:9", verify: true}]
    ''')
    app = OpsConsoleApp(config, identity="ops@bast161", user_themes=None)
    at_first_paint = {}
    display = app._display

    def spy(*args, **kwargs):
        if not at_first_paint:
            at_first_paint["modules"] = sorted(sys.modules)
            at_first_paint["header"] = str(app.query_one("#farm-name").render())
        return display(*args, **kwargs)

    app._display = spy

    async def main():
        async with app.run_test() as pilot:
            while not app.poller.sources:  # the config validated, the clients built
                await pilot.pause(0.01)
            polled = sorted(app.poller.sources)
        print(json.dumps({**at_first_paint, "later": sorted(sys.modules), "polled": polled}))

    asyncio.run(main())
""")


def test_first_frame_loads_neither_the_engine_nor_the_clients() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["header"] == "wikitide"  # the first frame was composed
    assert [name for name in LATE if name in seen["modules"]] == []
    # and the app does build its clients right after: the check above could fail
    assert seen["polled"] == ["puppetdb"]
    assert "httpx" in seen["later"] and "console.sources" in seen["later"] and "pydantic" in seen["later"]
