"""A console process whose action hangs on the simulated farm (its `hang` fault): it holds its locks
and has written its audit intent, until it is killed. For the lock contention and kill -9 tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MAIN_PAGE = "https://meta.miraheze.org/wiki/Main_Page"


def patient_config(farm, path: Path) -> Path:
    """The farm's config with long action timeouts, so a hanging request outlasts the test."""
    config = yaml.safe_load(farm.config_yaml())
    for cache in config["actions"]["caches"]:
        cache["timeout"] = 120
    config["actions"]["timeout"] = 120
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def cli(config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", "--config", str(config), *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=timeout)


def start(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "console", "--config", str(config), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def records(audit: Path) -> list[dict]:
    return [json.loads(line) for line in audit.read_text().splitlines() if line.strip()] if audit.exists() else []


def wait_for_intent(audit: Path, process: subprocess.Popen, timeout: float = 30) -> dict:
    """The intent record the process wrote (it is fsynced before the first request is sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        intents = [r for r in records(audit) if r.get("event") == "intent"]
        if intents:
            return intents[-1]
        if process.poll() is not None:
            raise AssertionError(f"the action ended before its intent: {process.communicate()}")
        time.sleep(0.05)
    raise AssertionError("no intent record within the timeout")
