"""Service probes against the simulated farm: every demo service has probe results, mw152's api.php
fails in php-fpm-down, and probe traffic stays out of the API request counters."""

from __future__ import annotations

import asyncio

from console.core.config import parse_config
from console.sources.probes import ProbesSource, soa_serial


def probe_results(farm):
    config = parse_config(farm.config_yaml(), "<sim farm>")

    async def run():
        source = ProbesSource(config.services)
        try:
            return await source.fetch()
        finally:
            await source.aclose()

    return config, asyncio.run(run())


def test_every_demo_service_has_probe_results_and_only_mw152_fails(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    config, result = probe_results(farm)
    assert result.ok, result.error
    by_service = {s.name: result.data.of_service(s.name) for s in config.services}
    assert all(by_service.values()), [name for name, results in by_service.items() if not results]
    failing = [(r.service, r.label, r.detail) for r in result.data.results if not r.ok]
    assert failing == [("php-fpm", "mw152 api.php", "HTTP 502")]
    kinds = {r.kind for r in result.data.results}
    assert kinds == {"http", "tcp", "redis", "memcached", "dns"}
    gdnsd = by_service["gdnsd"]
    assert all(r.detail.startswith("SOA ") and str(farm.probe_targets.dns_serial) in r.detail for r in gdnsd)


def test_healthy_farm_passes_every_probe(sim_farm_factory):
    _, result = probe_results(sim_farm_factory("healthy"))
    assert result.data.results and all(r.ok for r in result.data.results), [r for r in result.data.results if not r.ok]


def test_probe_traffic_is_counted_apart_from_the_api_requests(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    before, probes_before = farm.request_counts(), farm.probe_request_count()
    _, result = probe_results(farm)
    assert farm.request_counts() == before  # Varnish /check and Graylog lbstatus included
    assert farm.probe_request_count() - probes_before >= len(result.data.results)


def test_mw152_recovers_when_its_php_fpm_check_clears(sim_farm_factory):
    farm = sim_farm_factory("php-fpm-down")
    farm.model.clear_check("mw152", "PHP-FPM")
    _, result = probe_results(farm)
    assert all(r.ok for r in result.data.results if r.service == "php-fpm")


def test_sim_dns_refuses_other_zones(sim_farm_factory):
    farm = sim_farm_factory("healthy")
    port = next(port for (host, kind), port in farm.probe_targets.ports.items() if kind == "dns")
    try:
        asyncio.run(soa_serial("127.0.0.1", port, "example.org", 2.0))
    except Exception as exc:  # noqa: BLE001 - the message is what is checked
        assert str(exc) == "DNS REFUSED for example.org"
    else:
        raise AssertionError("the sim answered a zone it does not serve")
