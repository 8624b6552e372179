"""Scratch measure of KeyedTable at 20,000 rows (prints medians; asserts nothing).

    .venv/bin/python bench/keyed_table.py [--rows 20000] [--repeat 7]

reconcile (first and repeated, with and without precomputed widths), a filter-like shrink to 100 rows
and back, a refresh's new-but-equal Row objects, one screen rendered with a cold and a warm line
cache, and reconcile -> repainted screen through Textual (pilot.pause).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.text import Text  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402

from console.core.rows import Column, Row
from console.ui.widgets import KeyedTable  # noqa: E402
from console.ui.widgets.keyed_table import row_widths  # noqa: E402

COLUMNS = tuple(Column(key, key) for key in ("state", "flags", "host", "service", "for", "from", "cluster", "output"))
STATES = [Text("✖ CRITICAL", style="bold red"), Text("▲ WARNING", style="yellow"), Text("? UNKNOWN", style="magenta")]


def alert_rows(count: int, generation: int = 0) -> list[Row]:
    return [Row(f"mw{n}!check{n % 7}", (STATES[n % 3], "ACK" if n % 5 == 0 else "", f"mw{n}.wikitide.net",
                                        f"check{n % 7}", f"{n % 59}m", "icinga", "pve",
                                        f"output line {n} generation {generation}")) for n in range(count)]


class BenchApp(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable()


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def report(name: str, samples: list[float]) -> None:
    print(f"{name:<58} median {statistics.median(samples):8.2f} ms   max {max(samples):8.2f} ms   (n={len(samples)})")


async def main(count: int, repeat: int) -> None:
    async with BenchApp().run_test(size=(160, 50)) as pilot:
        table = pilot.app.query_one(KeyedTable)
        table.focus()
        every = alert_rows(count)
        widths = [row_widths(row) for row in every]
        first = timed(lambda: table.reconcile(COLUMNS, every))
        print(f"{'reconcile ' + str(count) + ' rows, first (widths measured)':<58} {first:8.2f} ms")
        await pilot.pause()
        table.move_cursor(row=count * 3 // 4)
        await pilot.pause()
        report("reconcile, same rows again (widths measured, reused)", [timed(lambda: table.reconcile(COLUMNS, every)) for _ in range(repeat)])
        report("reconcile, same rows, widths given", [timed(lambda: table.reconcile(COLUMNS, every, widths)) for _ in range(repeat)])
        fresh = alert_rows(count, 1)
        report("reconcile, new Row objects (a refresh), widths measured",
               [timed(lambda: table.reconcile(COLUMNS, fresh)) for _ in range(1)])
        kept, kept_widths = every[::count // 100][:100], widths[::count // 100][:100]
        table.reconcile(COLUMNS, every)  # measured again: the rows a filter hides keep theirs
        shrink, grow = [], []
        for _ in range(repeat):
            shrink.append(timed(lambda: table.reconcile(COLUMNS, kept)))
            grow.append(timed(lambda: table.reconcile(COLUMNS, every)))
        report("filter: shrink to 100 rows (widths measured)", shrink)
        report("filter: back to every row (widths measured)", grow)
        shrink, grow = [], []
        for _ in range(repeat):
            shrink.append(timed(lambda: table.reconcile(COLUMNS, kept, kept_widths)))
            grow.append(timed(lambda: table.reconcile(COLUMNS, every, widths)))
        report("filter: shrink to 100 rows (widths given)", shrink)
        report("filter: back to every row (widths given)", grow)
        await pilot.pause()
        cold, warm = [], []
        lines = range(table.size.height)
        for _ in range(repeat):
            table.clear_caches()
            cold.append(timed(lambda: [table.render_line(y) for y in lines]))
            warm.append(timed(lambda: [table.render_line(y) for y in lines]))
        report(f"render one screen ({table.size.width}x{table.size.height}), cold line cache", cold)
        report("render one screen, warm line cache", warm)
        idle = []
        for _ in range(repeat):
            started = time.perf_counter()
            table.refresh()
            await pilot.pause()
            idle.append((time.perf_counter() - started) * 1000)
        report("refresh -> screen repainted (pilot.pause), nothing changed", idle)
        painted = []
        for index in range(repeat):
            rows = kept if index % 2 == 0 else every
            started = time.perf_counter()
            table.reconcile(COLUMNS, rows, kept_widths if index % 2 == 0 else widths)
            await pilot.pause()
            painted.append((time.perf_counter() - started) * 1000)
        report("filter reconcile -> screen repainted (pilot.pause), 100 <-> all", painted)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    asyncio.run(main(options.rows, options.repeat))
