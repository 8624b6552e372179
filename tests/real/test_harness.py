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
