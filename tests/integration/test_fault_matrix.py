"""Every source kind × every fault the simulated farm can inject, over real TLS, with short timeouts:
`fetch()` never raises, the failure is an error value with a clear message that carries no secret,
and the same source object recovers by itself on its next fetch once the fault is cleared."""

from __future__ import annotations

import time
from typing import Any

import pytest

from console.core.config import AppConfig, parse_config, secret_values
from console.sim import APIS, FAULTS, SimFarm
from console.sources import Source, build_source

pytestmark = pytest.mark.sim

TIMEOUT = 0.6  # every source's timeout here: hang and slow cost this much, no more (Icinga answers in ~0.15 s)
KINDS = {"proxmox": "proxmox", "puppetdb": "puppetdb", "icinga": "icinga", "graylog": "graylog", "commits": "github"}
SLOW = "slow:1000"  # longer than TIMEOUT: a timeout; see test_a_slow_answer_within_the_timeout_is_fine

# fault -> what the error message starts with (per kind when the backends differ)
EXPECTED: dict[str, str | dict[str, str]] = {
    "down": "cannot connect to 127.0.0.1:",
    "hang": f"timed out after {TIMEOUT:g}s",
    SLOW: f"timed out after {TIMEOUT:g}s",
    "http500": "HTTP 500 Internal Server Error",
    "http502": "HTTP 502 Bad Gateway",
    "http503": "HTTP 503 Service Unavailable",
    "malformed": "malformed answer",
    "wrong-shape": "malformed answer: ",
    "unauthorized": "authentication failed (HTTP 401): ",
    "tls-mismatch": "TLS error talking to 127.0.0.1:",
}
# what the message must also say, so the operator knows what to do
ALSO: dict[str, str] = {
    "tls-mismatch": "certificate verify failed",
}
MATRIX_FAULTS = [f for f in FAULTS if f is not None and f != "slow"] + [SLOW]


def test_the_matrix_covers_every_fault_the_farm_knows():
    assert set(EXPECTED) == set(MATRIX_FAULTS)
    assert set(KINDS.values()) == set(APIS) - {"salt"}  # salt-api serves the executor (tests/integration/test_executors_sim.py)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    farm = SimFarm(tmp_path_factory.mktemp("faultfarm") / "state", scenario="php-fpm-down").start()
    yield farm
    farm.stop()


@pytest.fixture(scope="module")
def config(farm: SimFarm) -> AppConfig:
    return parse_config(farm.config_yaml(), "<sim>")


@pytest.fixture(scope="module")
def secrets(farm: SimFarm, config: AppConfig) -> list[str]:
    """Every secret of the farm: from its secret files, and as the config reads them."""
    values = {farm.secret_path(api).read_text().strip() for api in ("proxmox", "icinga", "graylog", "github")}
    return sorted(values | set(secret_values(config)))


@pytest.fixture(autouse=True)
def no_faults(farm: SimFarm):
    yield
    for api in APIS:
        farm.set_fault(api, None)


def source_of(config: AppConfig, kind: str) -> Source[Any]:
    item = getattr(config.sources, kind)[0]
    return build_source(kind, item.model_copy(update={"timeout": TIMEOUT}))


@pytest.mark.parametrize("fault", MATRIX_FAULTS)
@pytest.mark.parametrize("kind", list(KINDS))
async def test_fault_is_an_error_value_without_secrets_and_recovers(
    farm: SimFarm, config: AppConfig, secrets: list[str], kind: str, fault: str
):
    source = source_of(config, kind)
    try:
        await source.fetch()  # a kept-alive connection exists when the fault strikes (not asserted: load)
        farm.set_fault(KINDS[kind], fault)
        started = time.monotonic()
        result = await source.fetch()  # never raises
        elapsed = time.monotonic() - started
        assert result.data is None and not result.ok
        expected = EXPECTED[fault]
        assert result.error.startswith(expected), f"{kind}/{fault}: {result.error}"
        assert fault not in ALSO or ALSO[fault] in result.error, result.error
        assert "\n" not in result.error and len(result.error) < 300
        assert "Traceback" not in result.error
        for secret in secrets:
            assert secret not in result.error
        assert elapsed < TIMEOUT + 1.0, f"{kind}/{fault} took {elapsed:.2f}s"
        assert result.source == source.name and result.kind == source.kind

        farm.set_fault(KINDS[kind], None)
        again = await source.fetch()  # the same object, no restart, no aclose in between
        assert again.ok, f"{kind} did not recover from {fault}: {again.error}"
        assert again.data is not None
    finally:
        await source.aclose()


@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_slow_answer_within_the_timeout_is_fine(farm: SimFarm, config: AppConfig, kind: str):
    farm.set_fault(KINDS[kind], "slow", delay_ms=150)
    source = source_of(config, kind)
    try:
        result = await source.fetch()
    finally:
        await source.aclose()
    assert result.ok, result.error
    assert result.latency_ms >= 150


def test_slow_delay_forms_and_bad_faults(farm: SimFarm):
    farm.set_fault("puppetdb", "slow:250")
    assert farm.faults()["puppetdb"] == "slow"
    farm.set_fault("puppetdb", "slow", delay_ms=10)
    farm.set_fault("puppetdb", None)
    for bad in ("slow:soon", "http418", "tls"):
        with pytest.raises(ValueError):
            farm.set_fault("puppetdb", bad)
    with pytest.raises(ValueError):
        farm.set_fault("puppetdb", "hang", delay_ms=100)  # a delay only makes sense for slow
    with pytest.raises(ValueError):
        farm.set_fault("puppetdb", "slow:100", delay_ms=100)


def test_the_new_faults_on_the_wire(farm: SimFarm):
    """What a client sees of http502, wrong-shape, unauthorized and tls-mismatch, below any source."""
    import ssl

    import httpx
    from cryptography import x509

    with httpx.Client(verify=ssl.create_default_context(cafile=str(farm.ca_path)), timeout=5) as client:
        farm.set_fault("puppetdb", "http502")
        assert client.get(farm.urls["puppetdb"] + "/pdb/query/v4/nodes").status_code == 502
        farm.set_fault("github", "wrong-shape")
        answer = client.get(farm.urls["github"] + "/repos/miraheze/dns/commits")
        assert answer.status_code == 200 and isinstance(answer.json(), list)
        farm.set_fault("icinga", "unauthorized")
        answer = client.get(farm.urls["icinga"] + "/v1/objects/hosts", headers={"Accept": "application/json"})
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == 'Basic realm="Icinga 2"'
        farm.set_fault("proxmox", "unauthorized")
        answer = client.get(farm.urls["proxmox"] + "/api2/json/version")
        assert (answer.status_code, answer.reason_phrase, answer.json()) == (401, "invalid token value!", {"data": None})
    farm.set_fault("graylog", "tls-mismatch")
    pem = ssl.get_server_certificate(("127.0.0.1", farm.ports["graylog"]))
    names = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == ["impostor.invalid"]
    farm.set_fault("graylog", None)
    pem = ssl.get_server_certificate(("127.0.0.1", farm.ports["graylog"]))
    names = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert "localhost" in names.value.get_values_for_type(x509.DNSName)
