"""HTTP Basic credentials as Graylog and Icinga read them, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) from the Authorization header, or None when it is absent or malformed."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
