"""Service probes against real servers from Debian packages: redis-server, memcached, gdnsd."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

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


@pytest.fixture(scope="module")
def redis_with_password(tmp_path_factory):
    """A redis-server of this module's own with `requirepass` (the harness's shared one has no password,
    and other tests use it meanwhile): (port, password)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/test installs the redis-server package)"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    password = "probe-pässword-17"
    directory = tmp_path_factory.mktemp("redis-auth")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(directory), "--requirepass", password],
                               stdout=(directory / "redis.log").open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (directory / "redis.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if sock.recv(100).startswith(b"-NOAUTH"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server with requirepass did not start"
            time.sleep(0.1)
        yield port, password
    finally:
        process.terminate()
        process.wait(10)


async def test_redis_ping_with_its_password_and_without(redis_with_password, monkeypatch):
    port, password = redis_with_password
    monkeypatch.setenv("TEST_REDIS_PROBE_PASSWORD", password)
    monkeypatch.setenv("TEST_REDIS_PROBE_WRONG", "not-the-password-42")
    right, missing, wrong = await run_probes(
        f"      - {{kind: redis, host: 127.0.0.1, port: {port}, password: {{env: TEST_REDIS_PROBE_PASSWORD}}}}\n"
        f"      - {{kind: redis, host: 127.0.0.1, port: {port}, name: no password}}\n"
        f"      - {{kind: redis, host: 127.0.0.1, port: {port}, password: {{env: TEST_REDIS_PROBE_WRONG}}, name: wrong}}\n")
    assert right.ok and right.detail.startswith("PONG "), right
    assert (missing.ok, missing.detail) == (False, "needs a password (NOAUTH); set the probe's password")
    assert not wrong.ok and wrong.detail.startswith("AUTH refused: WRONGPASS "), wrong.detail
    assert not any(secret in r.detail for r in (right, missing, wrong) for secret in (password, "not-the-password-42"))


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
