"""Ten URLs at once on real varnishd: every PURGE on its own connection opened ahead, every verify
GET over the same connections (console/actions/cachehttp.py), each answer checked."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from console.actions import ActionEngine, Confirmation, Operator, PurgeUrls, Session, challenge_for
from console.core.config import parse_config

pytestmark = pytest.mark.real


def test_ten_urls_purged_and_verified_on_every_real_cache(real_varnish, tmp_path):
    host = "meta.miraheze.org"
    paths = [f"/wiki/Many_{uuid.uuid4().hex[:8]}_{i}" for i in range(10)]
    for name in real_varnish.ports:
        for path in paths:
            real_varnish.get(name, host, path)
            assert real_varnish.get(name, host, path)[1]["x-cache"] == "HIT"
    caches = "".join(f"    - {{name: {name}, url: '{real_varnish.url(name)}'}}\n" for name in real_varnish.ports)
    config = parse_config(f"farm: {{name: wikitide, environment: test}}\nactions:\n  caches:\n{caches}"
                          f"  audit: {{path: '{tmp_path}/audit.jsonl'}}\n  locks: {{dir: '{tmp_path}/locks'}}\n")
    engine = ActionEngine(config, Session(Operator("alice", "bast161")))
    engine.session.enable_write(engine.audit, via="test")
    plan = engine.plan(PurgeUrls(tuple(f"https://{host}{path}" for path in paths)), "real test")

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected))
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    purging = [name for name in real_varnish.ports if name != "cache-refusing"]
    for step in result.steps:
        if step.target in purging:
            assert (step.status, step.http_status, step.verify.hit) == ("ok", 200, False), step
        else:
            assert (step.status, step.http_status, step.verify.hit) == ("refused", 405, True), step
    assert result.verified == 10 * len(purging)
    for name in purging:
        assert all(real_varnish.get(name, host, path)[1]["x-cache"] == "HIT" for path in paths)  # fetched again by the verify
