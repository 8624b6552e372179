"""The farm's depool service, one per cache host (FARM.md: `:5001`, TOTP; APIS.md's Varnish section).

Plain HTTP on its own loopback port per cache. Every request needs an `X-TOTP` header: the RFC 6238
code (HMAC-SHA-1, 30 s, 6 digits) of the secret the farm writes to `<state>/depool.secret` (base32),
now or one step either side; anything else is `401 {"error": "invalid TOTP"}`.

- `POST /backend/<host>/sick` (the name percent-decoded) — the cache stops sending the app server traffic (depooled);
  `.../healthy` forces it in whatever its probe says; `.../auto` hands it back to the probe (repool).
  Answer `200 {"backend", "admin", "cache"}`; an unknown backend `404`, another state `400`.
- `GET /backend/list` — `200 {"cache", "backends": [{"name", "admin", "probe", "health"}]}`, one per
  app server (role mediawiki), then the backends of `farm.foreign_backends` (no farm host; the `hostile`
  scenario): `admin` auto|sick|healthy (what was set), `probe` `5/5` or `0/5` (the host's PHP-FPM check),
  `health` what the cache does now (sick when set sick, or auto and the probe fails).

Written from the description, never from the console's client. State lives in the farm model:
`farm.backend_admin[cache][host]` (absent = auto) and `farm.depool_log` [(cache, host, state)] in
the order the services got them, for tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import struct
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from console.sim.checks import OK, evaluate

if TYPE_CHECKING:
    from console.sim.farm import Farm

STATES = ("sick", "healthy", "auto")
_SET = re.compile(r"/backend/([^/]+)/([a-z]+)/?")  # on the raw path: the name is percent-decoded after
STEP = 30


def _code(key: bytes, counter: int) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def totp_ok(secret_base32: str, code: str, at: float | None = None) -> bool:
    """RFC 6238 with one step of drift either way."""
    key = base64.b32decode(secret_base32 + "=" * (-len(secret_base32) % 8))
    counter = int((time.time() if at is None else at) // STEP)
    return any(hmac.compare_digest(_code(key, counter + d), code.strip()) for d in (-1, 0, 1))


def app_servers(farm: Farm) -> list[str]:
    return sorted(name for name, spec in farm.hosts.items() if spec.role == "mediawiki")


def backends(farm: Farm) -> list[str]:
    """Every backend a cache lists: the app servers, then any it knows that is no farm host (`foreign_backends`)."""
    return app_servers(farm) + sorted(set(farm.foreign_backends) - set(farm.hosts))


def probe_healthy(farm: Farm, host: str) -> bool:
    """The cache's probe of an app server: its PHP-FPM answers (the check is OK) and the guest runs."""
    guest = farm.guests.get(host)
    if guest is not None and guest.status_at(farm.now()) != "running":
        return False
    slot = farm.slots.get((host, "PHP-FPM"))
    return slot is None or evaluate(farm, slot, farm.now()).state == OK


def backend_health(farm: Farm, cache: str, host: str) -> str:
    admin = farm.backend_admin.get(cache, {}).get(host, "auto")
    if admin != "auto":
        return admin
    return "healthy" if probe_healthy(farm, host) else "sick"


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body) + "\n", status, media_type="application/json")


class DepoolApi:
    """The ASGI app of one cache's depool service."""

    def __init__(self, farm: Farm, cache: str, secret_base32: str) -> None:
        self.farm = farm
        self.cache = cache
        self.secret = secret_base32

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        await request.body()
        response = self.handle(request)
        await response(scope, receive, send)

    def handle(self, request: Request) -> Response:
        if not totp_ok(self.secret, request.headers.get("x-totp", "")):
            return _json(401, {"error": "invalid TOTP"})
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1").split("?")[0]
        farm = self.farm
        if path.rstrip("/") == "/backend/list":
            if request.method != "GET":
                return _json(405, {"error": "method not allowed"})
            with farm.lock:
                listed = [{"name": host, "admin": farm.backend_admin.get(self.cache, {}).get(host, "auto"),
                             "probe": "5/5" if probe_healthy(farm, host) else "0/5",
                             "health": backend_health(farm, self.cache, host)} for host in backends(farm)]
            return _json(200, {"cache": self.cache, "backends": listed})
        found = _SET.fullmatch(path)
        if found is None:
            return _json(404, {"error": "not found"})
        if request.method != "POST":
            return _json(405, {"error": "method not allowed"})
        host, state = unquote(found.group(1)), found.group(2)
        if state not in STATES:
            return _json(400, {"error": f"state must be one of {', '.join(STATES)}"})
        with farm.lock:
            if host not in backends(farm):
                return _json(404, {"error": f"no backend {host}"})
            admin = farm.backend_admin.setdefault(self.cache, {})
            if state == "auto":
                admin.pop(host, None)
            else:
                admin[host] = state
            farm.depool_log.append((self.cache, host, state))
        return _json(200, {"backend": host, "admin": state, "cache": self.cache})


def depooled(farm: Farm) -> dict[str, list[str]]:
    """{host: [caches where it is set sick]} — what an operator left out."""
    found: dict[str, list[str]] = {}
    with farm.lock:
        for cache, admin in farm.backend_admin.items():
            for host, state in admin.items():
                if state == "sick":
                    found.setdefault(host, []).append(cache)
    return found
