"""TOTP against the RFC 6238 test vectors (Appendix B), and the backend list parser against the
depool service's JSON and varnishadm's text."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pyotp
import pytest

from console.actions.depool import BackendTable, DepoolServiceExecutor, parse_backend_list
from console.actions.guard import NotConfigured
from console.core.config import Secret
from console.sim.depool import totp_ok

SHA1_KEY = b"12345678901234567890"

RFC6238 = [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"),
           (2000000000, "279037"), (20000000000, "353130")]  # RFC 6238 Appendix B, SHA-1, the low 6 digits


@pytest.mark.parametrize(("at", "code"), RFC6238)
def test_the_simulators_own_totp_meets_the_rfc_vectors_and_pyotp(at, code):
    """The depool service's check (written from the RFC, not from pyotp) and the console's client
    (pyotp) agree: each checks the other."""
    secret = base64.b32encode(SHA1_KEY).decode()
    assert totp_ok(secret, code, at)
    assert pyotp.TOTP(secret).at(at) == code
    assert not totp_ok(secret, code, at + 90)  # one step of drift, no more


def test_the_client_sends_the_totp_of_a_forgiving_base32_secret():
    secret = base64.b32encode(SHA1_KEY).decode()
    spaced = " ".join(secret.lower().rstrip("=")[k:k + 4] for k in range(0, 32, 4))
    client = DepoolServiceExecutor.__new__(DepoolServiceExecutor)
    client.settings = SimpleNamespace(totp_secret=Secret(spaced, "test"))
    assert totp_ok(secret, client._totp()["X-TOTP"])
    client.settings = SimpleNamespace(totp_secret=Secret("not base32 !!", "test"))
    with pytest.raises(NotConfigured) as caught:
        client._totp()
    assert "not valid base32" in str(caught.value) and "not base32 !!" not in str(caught.value)


VARNISH7 = """Backend name                   Admin      Probe    Health     Last change
boot.mw151                     probe      5/5      healthy    Fri, 14 Aug 2026 11:58:01 GMT
boot.mw152                     sick       5/5      healthy    Fri, 14 Aug 2026 11:59:40 GMT
boot.mw153                     probe      0/5      sick       Fri, 14 Aug 2026 11:50:12 GMT
"""

VARNISH60 = """Backend name                   Admin      Probe                Last updated
boot.mw151                     probe      Healthy 5/5          Fri, 14 Aug 2026 11:58:01 GMT
boot.mw152                     sick       Healthy 5/5          Fri, 14 Aug 2026 11:59:40 GMT
"""


def test_varnishadm_backend_list_both_formats():
    seven = parse_backend_list(VARNISH7)
    assert [(b.name, b.admin, b.health, b.probe) for b in seven.values()] == [
        ("mw151", "probe", "healthy", "5/5"), ("mw152", "sick", "sick", "5/5"), ("mw153", "probe", "sick", "0/5")]
    assert seven["mw152"].depooled and not seven["mw153"].depooled
    six = parse_backend_list(VARNISH60)
    assert six["mw152"].depooled and six["mw151"].health == "healthy"


def test_json_backend_list_and_garbage():
    found = parse_backend_list('{"backends": {"mw151": {"admin": "auto", "health": "healthy"}, '
                               '"mw152": {"admin": "sick", "health": "sick"}}}')
    assert not found["mw151"].depooled and found["mw152"].depooled
    for garbage in ("<html>502</html>", '{"backends": 3}', "[{}]"):
        with pytest.raises(ValueError):
            parse_backend_list(garbage)


def test_the_table_marks_depooled_unknown_and_unreachable():
    a = parse_backend_list(VARNISH7)
    cells = {("cp161", name): backend for name, backend in a.items()}
    table = BackendTable(("cp161", "cp171"), ("mw151", "mw152", "mw153"), cells, {"cp171": "connection refused"})
    assert table.rows() == [("mw151", "healthy", "error"), ("mw152", "DEPOOLED", "error"), ("mw153", "sick", "error")]
    assert table.depooled() == {"mw152": ["cp161"]}
    assert "cp171: connection refused" in table.render()
