"""RFC 6238 time-based one-time passwords (TOTP), as the farm's depool service expects in `X-TOTP`.

    totp(secret_bytes, at=time.time())                 # "287082"
    totp_from_base32("JBSWY3DPEHPK3PXP")               # the config's totp_secret is base32

HMAC-SHA-1 by default (the authenticator-app default), 30-second steps, 6 digits (RFC 4226 §5.3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time

DEFAULT_STEP = 30
DEFAULT_DIGITS = 6
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def hotp(key: bytes, counter: int, digits: int = DEFAULT_DIGITS, algorithm: str = "sha1") -> str:
    """RFC 4226: HMAC of the 8-byte counter, dynamic truncation, the low `digits` decimal digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), _DIGESTS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def totp(key: bytes, at: float | None = None, step: int = DEFAULT_STEP, digits: int = DEFAULT_DIGITS,
         algorithm: str = "sha1") -> str:
    """RFC 6238: the HOTP of the number of `step`-second periods since the Unix epoch (T0 = 0)."""
    moment = time.time() if at is None else at
    return hotp(key, int(moment // step), digits, algorithm)


def decode_base32(secret: str) -> bytes:
    """A base32 secret as authenticator apps print it: spaces, lower case and missing padding allowed.
    ValueError (without the secret in it) when it is not base32."""
    cleaned = "".join(secret.split()).upper().rstrip("=")
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("the TOTP secret is not valid base32") from None


def totp_from_base32(secret: str, at: float | None = None, step: int = DEFAULT_STEP, digits: int = DEFAULT_DIGITS) -> str:
    return totp(decode_base32(secret), at, step, digits)


def verify(key: bytes, code: str, at: float | None = None, step: int = DEFAULT_STEP, window: int = 1,
           digits: int = DEFAULT_DIGITS) -> bool:
    """Whether `code` is the TOTP of now or of `window` steps either side (clock drift), compared in constant time."""
    moment = time.time() if at is None else at
    counter = int(moment // step)
    return any(hmac.compare_digest(hotp(key, counter + delta, digits), code) for delta in range(-window, window + 1))
