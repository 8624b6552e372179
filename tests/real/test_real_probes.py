"""Service probes against real servers from Debian packages: redis-server, memcached, gdnsd."""

from __future__ import annotations

import socket

import pytest

from console.core.config import parse_config
from console.sources.probes import ProbesSource

pytestmark = pytest.mark.real


async def run_probes(probes_yaml: str, env: dict[str, str] | None = None):
    config = parse_config("farm: {name: x}\nservices:\n  - name: svc\n    hosts: '*'\n    probes:\n" + probes_yaml)
    source = ProbesSource(config.services)
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.ok, result.error
    return result.data.results


async def test_redis_ping(real_redis):
    (result,) = await run_probes(f"      - {{kind: redis, host: 127.0.0.1, port: {real_redis.port}}}\n")
    assert result.ok and result.detail.startswith("PONG ")


async def test_redis_wrong_password_is_a_clear_error_without_the_password(real_redis, monkeypatch):
    monkeypatch.setenv("TEST_REDIS_PROBE_PASSWORD", "not-the-password-42")
    (result,) = await run_probes(f"      - {{kind: redis, host: 127.0.0.1, port: {real_redis.port}, "
                                 "password: {env: TEST_REDIS_PROBE_PASSWORD}}\n")
    assert not result.ok and result.detail.startswith("AUTH refused: ")
    assert "not-the-password-42" not in result.detail


async def test_memcached_stats(real_memcached):
    (result,) = await run_probes(f"      - {{kind: memcached, host: 127.0.0.1, port: {real_memcached.port}}}\n")
    assert result.ok and result.detail.startswith("up ") and "conns" in result.detail
    connections = int(real_memcached.stats()["curr_connections"])
    assert connections >= 1


async def test_dns_soa_serial_is_the_zone_files(real_gdnsd):
    (result,) = await run_probes(f"      - {{kind: dns, server: 127.0.0.1, port: {real_gdnsd.port}, zone: wikitide.net}}\n")
    assert result.ok and result.detail.split()[:2] == ["SOA", str(real_gdnsd.serial)]
    (other,) = await run_probes(f"      - {{kind: dns, server: 127.0.0.1, port: {real_gdnsd.port}, zone: example.org}}\n")
    assert not other.ok and "REFUSED" in other.detail


async def test_closed_ports_say_connection_refused(real_redis):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = await run_probes(
        f"      - {{kind: redis, host: 127.0.0.1, port: {port}}}\n"
        f"      - {{kind: memcached, host: 127.0.0.1, port: {port}}}\n"
        f"      - {{kind: tcp, host: 127.0.0.1, port: {port}}}\n"
        f"      - {{kind: dns, server: 127.0.0.1, port: {port}, zone: wikitide.net, timeout: 2}}\n")
    assert [(r.ok, r.detail) for r in results] == [(False, "connection refused")] * 4
