"""Soak: the console (the real app, through Pilot) on the simulated farm for 8 simulated hours of churn.

A clock running SPEED times faster than the real one drives both the farm and the console; every
simulated 10-20 minutes one break is healed and the next one made (a CRITICAL check, a host DOWN, a
guest stopped, a failed Puppet run, an ack, a downtime, one API faulted, new logs and events), and
every few steps the log screen is opened and closed again. Sources poll every POLL real seconds, the
Icinga event stream and the probes run, so thousands of refresh cycles happen in about a minute.

From a warm point (after the first simulated hour) to the end, both measured at a quiet moment:
Python's allocated blocks grow <= 10 % (see heap_blocks), the same asyncio tasks and threads by
name, and no exception anywhere (loop, threads, unraisable, ERROR logs, the app itself)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from textual.widgets import DataTable
from ui_helpers import FIXED_AT, IDENTITY, every_pane_has_rows, every_source_answered, wait_until

import console.ui.screens.logs as log_screen
from console.core.config import parse_config
from console.sim import SimFarm
from console.sources import build_sources
from console.ui.app import OpsConsoleApp
from console.ui.screens.logs import LogScreen
from console.ui.widgets import KeyedTable

pytestmark = pytest.mark.sim

SIMULATED = timedelta(hours=8)
SPEED = 480.0  # simulated seconds per real second: 8 hours in 60 s
WARM = timedelta(hours=1)  # caches, the log screen, the backoffs and the stream have all been through once
POLL = 0.2  # real seconds between polls of every source
TIMEOUT = 2.0
STEP = (timedelta(minutes=10), timedelta(minutes=20))  # simulated time between two churn steps
MAX_GROWTH = 0.10


def accelerated_clock():
    started = time.monotonic()
    return lambda: FIXED_AT + timedelta(seconds=(time.monotonic() - started) * SPEED)


def churn_steps(farm, rng: random.Random):
    """(break, heal) pairs, cycled through: each one leaves the farm as it found it once healed."""
    model = farm.model
    app_servers = sorted(h for h in model.hosts if h.startswith("mw") and not h.startswith("mwtask"))
    databases = sorted(h for h in model.hosts if h.startswith("db"))
    pick = rng.choice

    def check(host, service, state, output):
        return lambda: model.set_check(host, service, state, output), lambda: model.clear_check(host, service)

    def fault(api, kind):
        return lambda: farm.set_fault(api, kind), lambda: farm.set_fault(api, None)

    def noise():
        host = pick(app_servers)
        for n in range(5):
            model.add_log(host, f"soak: upstream timed out ({n})", level=3, application_name="nginx")
        model.add_event(f"soak: error rate on {host}", key=host)

    host_down, guest, puppet, acked, downtimed = pick(databases), pick(app_servers), pick(app_servers), pick(app_servers), pick(app_servers)
    return [
        check(pick(app_servers), "PHP-FPM", 2, "PROCS CRITICAL: 0 processes with command name 'php-fpm8.4'"),
        fault("icinga", "http503"),
        (lambda: model.set_host_state(host_down, "DOWN", "PING CRITICAL - Packet loss = 100%"),
         lambda: model.clear_host_state(host_down)),
        fault("proxmox", "malformed"),
        (lambda: model.set_guest_status(guest, "stopped"), lambda: model.set_guest_status(guest, "running")),
        fault("graylog", "down"),
        (lambda: model.set_puppet_status(puppet, "failed"), lambda: model.clear_puppet_status(puppet)),
        fault("puppetdb", "unauthorized"),
        (noise, lambda: None),
        check(pick(databases), "MariaDB", 1, "WARNING - 37 threads waiting"),
        (lambda: model.acknowledge(acked, "HTTPS"), lambda: model.clear_acknowledgement(acked, "HTTPS")),
        fault("github", "http502"),
        (lambda: model.set_downtime(downtimed), lambda: model.clear_downtime(downtimed)),
    ]


def task_names() -> Counter:
    """Every asyncio task by name, but a scrollbar's: Textual creates a table's scrollbars (and their
    corner) the first time its content overflows, once per table and not per refresh, so a wider row
    arriving during the churn adds them without anything leaking."""
    return Counter(name for task in asyncio.all_tasks() if not (name := task.get_name()).startswith("message pump ScrollBar"))


def thread_names() -> Counter:
    return Counter(thread.name for thread in threading.enumerate())


def heap_blocks() -> int:
    """Memory blocks Python's allocator holds, after a full collection.

    Why this measure: RSS after gc grew 19-27 % in runs where the live objects grew 3-5 % (glibc
    keeps freed arenas, fragmentation): it shows a high-water mark, not what is held;
    tracemalloc would count exactly, but it slows every allocation 3-6x and the sources (the farm
    runs in this process) then miss their timeouts. Allocated blocks count the live objects, which
    is what a leak grows, at no cost, and stay within a few % run to run."""
    gc.collect()
    return sys.getallocatedblocks()


def clear_sim_memos() -> None:
    from console.sim import icinga_api, metrics, seeded

    for memo in (icinga_api._slot_static, icinga_api._host_static, metrics._host_load, seeded.wave_shape):
        memo.cache_clear()


def rss_bytes() -> int:  # reported only (see heap_blocks)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def quiet_measure(pilot, app: OpsConsoleApp, farm):
    """Heap, tasks, threads and request counts at a comparable quiet moment: no log screen open, the
    poller paused and its fetches in flight finished, Textual's bounded render caches emptied."""
    while isinstance(app.screen, LogScreen):
        app.pop_screen()
    await wait_until(pilot, lambda: all(state.ok for state in app.store.states()), timeout=30, what="every source ok again")
    app.poller.pause()
    await pilot.pause(TIMEOUT + 0.5)
    for table in app.query(DataTable):
        table._clear_caches()  # bounded LRU caches (1000 lines, 10000 cells per table): filling them is no leak
    for keyed in app.query(KeyedTable):
        keyed.clear_caches()  # its bounded line cache, likewise
    clear_sim_memos()  # the farm (in this process) memoizes pure functions in bounded caches, likewise
    # the 5 s tick derives the panes' views in a worker: not in the middle of one
    await wait_until(pilot, lambda: not app.redraw_pending, timeout=10, what="the panes redrawn")
    measured = (heap_blocks(), rss_bytes(), task_names(), thread_names(), dict(farm.request_counts()))
    app.poller.resume()
    return measured


class Problems(logging.Handler):
    """Everything that would be an unhandled exception: in the loop, in a thread, unraisable, or logged
    at ERROR by anyone (the console, Textual, the farm's servers). A crash of the app itself comes out
    of run_test()."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"log {record.name}: {record.getMessage()} {record.exc_info and record.exc_info[1]!r}")

    def install(self, loop: asyncio.AbstractEventLoop, monkeypatch) -> None:
        default = loop.get_exception_handler()

        def on_loop(loop, context):
            self.seen.append(f"loop: {context.get('message')}: {context.get('exception')!r}")
            if default:
                default(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(on_loop)
        monkeypatch.setattr(threading, "excepthook", lambda args: self.seen.append(f"thread {args.thread}: {args.exc_value!r}"))
        logging.getLogger().addHandler(self)
        unraisable = sys.unraisablehook
        monkeypatch.setattr(sys, "unraisablehook", lambda args: (self.seen.append(f"unraisable: {args.exc_value!r}"), unraisable(args)))


async def test_eight_simulated_hours_of_churn_leak_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(log_screen, "POLL_SECONDS", POLL)  # the log screen tails as fast as the panes poll
    clock = accelerated_clock()
    problems = Problems()
    problems.install(asyncio.get_running_loop(), monkeypatch)
    farm = SimFarm(tmp_path / "farm", scenario="php-fpm-down", seed=1, clock=clock).start()
    try:
        config = parse_config(farm.config_yaml(), "<sim farm>")
        sources = build_sources(config, clock)
        for source in sources:
            source.interval, source.timeout = POLL, max(source.timeout if source.kind == "probes" else 0, TIMEOUT)
        app = OpsConsoleApp(config, sources=sources, clock=clock, identity=IDENTITY)
        steps = churn_steps(farm, random.Random(11))
        rng = random.Random(7)
        start: datetime = clock()
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: every_source_answered(app) and every_pane_has_rows(app), timeout=30, what="first data")
            step, healing, warm = 0, None, None
            next_step = clock() + STEP[0]
            while clock() - start < SIMULATED:
                await pilot.pause(0.05)
                if warm is None and clock() - start >= WARM:
                    healing = healing and healing()
                    warm = await quiet_measure(pilot, app, farm)
                    next_step = clock() + STEP[0]
                if clock() < next_step:
                    continue
                if healing:
                    healing()
                make, healing = steps[step % len(steps)]
                make()
                if step % 5 == 2:
                    app.panes_screen.open_logs("*")
                elif step % 5 == 4 and isinstance(app.screen, LogScreen):
                    app.pop_screen()
                step += 1
                next_step = clock() + STEP[0] + (STEP[1] - STEP[0]) * rng.random()
            healing = healing and healing()
            end = await quiet_measure(pilot, app, farm)
            assert app.is_running
            # from here on, shutting down cancels the stream's long poll: the farm may log that
            logging.getLogger().removeHandler(problems)
            await pilot.press("q")
    finally:
        logging.getLogger().removeHandler(problems)
        farm.stop()

    assert warm is not None
    (warm_heap, warm_rss, warm_tasks, warm_threads, warm_requests), (end_heap, end_rss, end_tasks, end_threads, end_requests) = warm, end
    polls = {name: end_requests[name] - warm_requests.get(name, 0) for name in ("proxmox", "puppetdb", "icinga", "graylog", "github")}
    print(f"\nsoak: {step} churn steps; requests after the warm point {polls}, probe requests {farm.probe_request_count()}; "
          f"allocated blocks {warm_heap} -> {end_heap} ({end_heap / warm_heap - 1:+.1%}); "
          f"RSS {warm_rss / 1e6:.0f} -> {end_rss / 1e6:.0f} MB; tasks {sum(warm_tasks.values())} -> {sum(end_tasks.values())}; "
          f"threads {sum(warm_threads.values())} -> {sum(end_threads.values())}")
    assert step >= SIMULATED // STEP[1] - 2, "the churn ran"
    assert min(polls.values()) >= 40, f"too few refresh cycles to call it a soak: {polls}"
    assert problems.seen == [], problems.seen
    assert end_heap <= warm_heap * (1 + MAX_GROWTH), f"allocated blocks grew {warm_heap} -> {end_heap}"
    assert end_tasks == warm_tasks, f"asyncio tasks at the warm point {dict(warm_tasks)} != at the end {dict(end_tasks)}"
    assert end_threads == warm_threads, f"threads at the warm point {dict(warm_threads)} != at the end {dict(end_threads)}"
