"""`method: varnishadm` against a real varnishd: the backend.list parser reads real output, and a
backend set sick (depool) and back to auto (repool) shows as such — and a sick backend gets no traffic."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from console.actions.depool import parse_backend_list

pytestmark = pytest.mark.real


def varnishadm(real_varnish, cache: str, *words: str) -> str:
    workdir = real_varnish.base / "varnish" / cache / "work"
    done = subprocess.run(["varnishadm", "-n", str(workdir), *words], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_backend_list_parses_real_output_and_set_health_depools(real_varnish):
    listed = parse_backend_list(varnishadm(real_varnish, "cache-a", "backend.list"))
    assert "default" in listed and not listed["default"].depooled
    assert listed["default"].health == "healthy"  # no probe: Varnish calls it healthy

    varnishadm(real_varnish, "cache-a", "backend.set_health", "boot.default", "sick")
    try:
        listed = parse_backend_list(varnishadm(real_varnish, "cache-a", "backend.list"))
        assert listed["default"].depooled and listed["default"].health == "sick"
        status, _ = real_varnish.get("cache-a", "depool.test", f"/{uuid.uuid4().hex}")
        assert status == 503  # depooled: the cache sends it nothing
        assert not parse_backend_list(varnishadm(real_varnish, "cache-b", "backend.list"))["default"].depooled
    finally:
        varnishadm(real_varnish, "cache-a", "backend.set_health", "boot.default", "auto")
    listed = parse_backend_list(varnishadm(real_varnish, "cache-a", "backend.list"))
    assert not listed["default"].depooled and listed["default"].health == "healthy"
    assert real_varnish.get("cache-a", "depool.test", f"/{uuid.uuid4().hex}")[0] == 200
