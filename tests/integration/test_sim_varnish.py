"""The simulated caches and Icinga actions on the wire (httpx only, as APIS.md describes them)."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.sim

META = {"Host": "meta.miraheze.org"}


def test_cache_hit_miss_purge_ban(sim_farm_factory):
    farm = sim_farm_factory()
    url = farm.cache_urls["cp161"]
    with httpx.Client(base_url=url, timeout=5) as client:
        hit = client.get("/wiki/Main_Page", headers=META)
        assert (hit.status_code, hit.headers["x-cache"], len(hit.headers["x-varnish"].split())) == (200, "HIT", 2)
        assert int(hit.headers["age"]) > 0
        purged = client.request("PURGE", "/wiki/Main_Page", headers=META)
        assert (purged.status_code, purged.reason_phrase) == (200, "Purged")
        miss = client.get("/wiki/Main_Page", headers=META)
        assert (miss.headers["x-cache"], miss.headers["age"], len(miss.headers["x-varnish"].split())) == ("MISS", "0", 1)
        again = client.get("/wiki/Main_Page", headers=META)
        assert again.headers["x-cache"] == "HIT" and again.headers["x-varnish"].split()[1] == miss.headers["x-varnish"]
        other = client.get("/wiki/Main_Page", headers={"Host": "login.miraheze.org"})
        assert other.headers["x-cache"] == "MISS"  # Host is part of the key
        banned = client.request("BAN", "/", headers={**META, "X-Ban-Url": "^/wiki/"})
        assert (banned.status_code, banned.reason_phrase) == (200, "Banned")
        assert client.get("/wiki/Main_Page", headers=META).headers["x-cache"] == "MISS"
        assert client.get("/wiki/Main_Page", headers={"Host": "login.miraheze.org"}).headers["x-cache"] == "HIT"
        assert client.request("DELETE", "/", headers=META).status_code == 405
        assert client.get("/check", headers={"Host": "health.wikitide.net"}).status_code == 204
    farm.set_cache_refusing("cp171")
    refused = httpx.request("PURGE", farm.cache_urls["cp171"] + "/wiki/Main_Page", headers=META)
    assert (refused.status_code, refused.reason_phrase) == (405, "PURGE not allowed")
    assert farm.model.caches["cp171"].has("meta.miraheze.org", "/wiki/Main_Page")


def test_a_cache_can_be_down(sim_farm_factory):
    farm = sim_farm_factory()
    farm.set_fault("cp201", "down")
    with pytest.raises(httpx.ConnectError):
        httpx.get(farm.cache_urls["cp201"] + "/", timeout=2)
    farm.set_fault("cp201", None)
    assert httpx.get(farm.cache_urls["cp201"] + "/", timeout=2).status_code == 200


def icinga(farm, client, action: str, body: dict) -> httpx.Response:
    auth = ("opsconsole", farm.secret_path("icinga").read_text().strip())
    return client.post(farm.urls["icinga"] + f"/v1/actions/{action}", json=body, auth=auth,
                       headers={"Accept": "application/json"})


def test_icinga_actions_answer_like_icinga(sim_farm_factory, sim_client_factory):
    farm = sim_farm_factory()
    client = sim_client_factory(farm)
    php = {"type": "Service", "filter": "host.name == h && service.name == s", "filter_vars": {"h": "mw152", "s": "PHP-FPM"}}
    ack = icinga(farm, client, "acknowledge-problem", {**php, "author": "alice", "comment": "on it", "sticky": True})
    assert ack.status_code == 200
    assert ack.json() == {"results": [{"code": 200.0, "status": "Successfully acknowledged problem for object 'mw152!PHP-FPM'."}]}
    twice = icinga(farm, client, "acknowledge-problem", {**php, "author": "alice", "comment": "on it"})
    assert twice.status_code == 409 and "already acknowledged" in twice.json()["results"][0]["status"]
    ssh = {**php, "filter_vars": {"h": "mw152", "s": "SSH"}}
    ok = icinga(farm, client, "acknowledge-problem", {**ssh, "author": "alice", "comment": "x"})
    assert ok.status_code == 409 and ok.json()["results"][0]["status"] == "Service mw152!SSH is OK."
    assert icinga(farm, client, "acknowledge-problem", {**php, "author": "a"}).status_code == 403
    past = icinga(farm, client, "acknowledge-problem", {**ssh, "author": "a", "comment": "c", "expiry": time.time() - 60})
    assert past.status_code == 409
    none = icinga(farm, client, "reschedule-check", {"type": "Service", "filter": 'host.name == "nope"'})
    assert none.status_code == 404 and none.json()["status"] == "No objects found."
    assert icinga(farm, client, "frobnicate", php).status_code == 404

    both = icinga(farm, client, "remove-acknowledgement", {"type": "Service", "filter": 'host.name == "mw152" && '
                                                           'service.name in ["PHP-FPM", "SSH"]'})
    assert both.status_code == 200 and len(both.json()["results"]) == 2
    assert farm.model.slot("mw152", "PHP-FPM").ack is None

    start = farm.model.now().timestamp()
    host = {"type": "Host", "filter": "host.name == h", "filter_vars": {"h": "mw152"}}
    scheduled = icinga(farm, client, "schedule-downtime", {**host, "author": "a", "comment": "c", "start_time": start,
                                                            "end_time": start + 3600, "all_services": True})
    result = scheduled.json()["results"][0]
    assert scheduled.status_code == 200 and result["name"].startswith("mw152!")
    assert len(result["service_downtimes"]) == len([k for k in farm.model.slots if k[0] == "mw152" and k[1]])
    missing = icinga(farm, client, "schedule-downtime", {**host, "author": "a", "comment": "c"})
    assert missing.status_code == 400
    removed = icinga(farm, client, "remove-downtime", host)
    assert removed.status_code == 200
    assert removed.json()["results"][0]["status"].endswith(f"and {len(result['service_downtimes'])} child downtimes.")
    assert all(slot.downtime is None for key, slot in farm.model.slots.items() if key[0] == "mw152")
