"""The harness brings up real servers that answer; later tests build on these fixtures."""

from __future__ import annotations

import pytest

from tests.harness.realservers import ServerFailed, port_holder, require_free

pytestmark = pytest.mark.real


def test_puppetdb_answers(real_puppetdb):
    status, nodes = __import__("tests.harness.realservers", fromlist=["http"]).http(
        "GET", f"{real_puppetdb.url}/pdb/query/v4/nodes"
    )
    assert status == 200 and isinstance(nodes, list)


def test_icinga_answers_over_tls_verified_with_its_own_ca(real_icinga):
    status, body = real_icinga.api("GET", "status/IcingaApplication")
    assert status == 200
    assert body["results"][0]["name"] == "IcingaApplication"


def test_a_taken_port_names_its_holder(real_icinga):
    assert "icinga2" in port_holder(real_icinga.port)
    with pytest.raises(ServerFailed, match=r"already taken by icinga2 \(pid \d+\)"):
        require_free(real_icinga.port, "Icinga2")


def test_three_varnish_caches_two_purge_one_refuses(real_varnish):
    import urllib.error
    import urllib.request

    for name in real_varnish.ports:
        status, headers = real_varnish.get(name, "harness.test", "/x")
        assert status == 200 and "varnish" in headers["via"].lower()
        assert "varnishd" in (port_holder(real_varnish.ports[name]) or "") or "cache-" in port_holder(real_varnish.ports[name])
    answers = {}
    for name in real_varnish.ports:
        request = urllib.request.Request(real_varnish.url(name) + "/x", method="PURGE", headers={"Host": "harness.test"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answers[name] = response.status
        except urllib.error.HTTPError as exc:
            answers[name] = exc.code
    assert answers == {"cache-a": 200, "cache-b": 200, "cache-refusing": 405}
