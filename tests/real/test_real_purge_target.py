"""Real varnishd keys an object by the request target a browser sent: a purge of a title with `%2F`
or beyond ASCII must name that object byte for byte (console/actions/executors.py request_target)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from console.actions import ActionEngine, Confirmation, Operator, PurgeUrls, Session, challenge_for
from console.core.config import parse_config

pytestmark = pytest.mark.real

HOST = "meta.miraheze.org"


def test_a_purge_removes_the_object_a_browser_stored(real_varnish, tmp_path):
    tag = uuid.uuid4().hex[:8]
    pages = {  # as the operator gives it -> as a browser requests it (and Varnish keys it)
        f"https://{HOST}/wiki/Äpfel_{tag}": f"/wiki/%C3%84pfel_{tag}",
        f"https://{HOST}/wiki/AC%2FDC_{tag}": f"/wiki/AC%2FDC_{tag}",
    }
    purging = [name for name in real_varnish.ports if name != "cache-refusing"]
    for name in purging:
        for path in pages.values():
            real_varnish.get(name, HOST, path)
            assert real_varnish.get(name, HOST, path)[1]["x-cache"] == "HIT"
    caches = "".join(f"    - {{name: {name}, url: '{real_varnish.url(name)}'}}\n" for name in purging)
    config = parse_config(f"farm: {{name: wikitide, environment: test}}\nactions:\n  caches:\n{caches}"
                          f"  audit: {{path: '{tmp_path}/audit.jsonl'}}\n  locks: {{dir: '{tmp_path}/locks'}}\n")
    engine = ActionEngine(config, Session(Operator("alice", "bast161")))
    engine.session.enable_write(engine.audit, via="test")
    plan = engine.plan(PurgeUrls(tuple(pages)), "real test")

    async def go():
        try:
            return await engine.run(plan, Confirmation(challenge_for(plan).expected))
        finally:
            await engine.aclose()

    result = asyncio.run(go())
    assert result.outcome == "success" and result.verified == len(pages) * len(purging)
    assert {(step.status, step.verify.hit) for step in result.steps} == {("ok", False)}
    # the backend saw each browser path once per cache before the purge and once per cache after it
    # (the verify GET): the PURGE named the object the browser stored, not a spelling of its own
    assert real_varnish.backend is not None
    fetched = [path for host, path in real_varnish.backend.hits if host == HOST and tag in path]
    assert sorted(fetched) == sorted(list(pages.values()) * 2 * len(purging))
