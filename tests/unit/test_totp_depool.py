"""TOTP against the RFC 6238 test vectors (Appendix B), and the backend list parser against the
depool service's JSON and varnishadm's text."""

from __future__ import annotations

import base64

import pytest

from console.actions.depool import BackendTable, parse_backend_list
from console.actions.totp import decode_base32, totp, totp_from_base32, verify

SHA1_KEY = b"12345678901234567890"
SHA256_KEY = b"12345678901234567890123456789012"
SHA512_KEY = b"1234567890123456789012345678901234567890123456789012345678901234"

RFC6238 = [  # (time, sha1, sha256, sha512), 8 digits
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(at, sha1, sha256, sha512):
    assert totp(SHA1_KEY, at, digits=8) == sha1
    assert totp(SHA256_KEY, at, digits=8, algorithm="sha256") == sha256
    assert totp(SHA512_KEY, at, digits=8, algorithm="sha512") == sha512


def test_six_digits_are_the_low_digits_and_base32_is_forgiving():
    secret = base64.b32encode(SHA1_KEY).decode()
    assert totp_from_base32(secret, 59) == "287082"
    assert totp_from_base32(secret.lower().rstrip("=")[:8] + " " + secret.lower().rstrip("=")[8:], 59) == "287082"
    with pytest.raises(ValueError) as caught:
        decode_base32("not base32 !!")
    assert "not base32 !!" not in str(caught.value)  # the secret never lands in a message


def test_verify_accepts_one_step_of_drift_only():
    code = totp(SHA1_KEY, 1111111111)
    assert verify(SHA1_KEY, code, 1111111111 + 30)
    assert not verify(SHA1_KEY, code, 1111111111 + 90)


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
