"""A Varnish cache of the simulated farm (one per cp host), from APIS.md's Varnish section.

Plain HTTP on loopback, like Varnish's own port behind HAProxy's TLS:
- `GET`/`HEAD` — a hit for an object in the cache (`X-Cache: HIT`, `X-Varnish: <id> <id of the
  request that stored it>`, `Age` > 0 once a second has passed), else a miss (`X-Cache: MISS`, one
  id, `Age: 0`) that stores the object. Objects are keyed by Host + path + query.
- `PURGE` → `200 Purged` and the object is gone; `BAN` with `X-Ban-Url: <regex>` → `200 Banned`
  and every object of that Host whose path matches is gone (without the header: that exact URL).
- `refusing = True` answers PURGE and BAN with `405 PURGE not allowed` / `405 BAN not allowed`, like
  a cache whose `acl purge` does not list the sender. Other methods → `405 Method not allowed`.
- `GET /check` with `Host: health.wikitide.net` → `204` (the farm's health probe).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

SERVER = "Varnish"
REASON = "x-sim-reason"  # server.py turns it into the status line's reason phrase
POPULAR = (  # cached on every cache when the farm starts, so a purge has something to drop
    ("meta.miraheze.org", "/wiki/Main_Page"),
    ("meta.miraheze.org", "/wiki/Special:RecentChanges"),
    ("login.miraheze.org", "/wiki/Special:UserLogin"),
    ("static.wikitide.net", "/metawiki/6/64/Favicon.ico"),
)


@dataclass
class CachedObject:
    xid: int  # the id of the request that stored it
    stored: float  # time.monotonic() when it was stored
    hits: int = 0


@dataclass
class CacheState:
    """One cache's objects and mode; `lock` guards both (the server runs in another thread)."""

    name: str
    objects: dict[tuple[str, str], CachedObject] = field(default_factory=dict)
    refusing: bool = False
    next_xid: int = 32768
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, host, path), for tests

    def new_xid(self) -> int:
        self.next_xid += 1
        return self.next_xid

    def store(self, host: str, path: str, age: float = 0.0) -> None:
        """Put an object in the cache (as if fetched `age` seconds ago)."""
        with self.lock:
            self.objects[(host.lower(), path)] = CachedObject(self.new_xid(), time.monotonic() - age)

    def has(self, host: str, path: str) -> bool:
        with self.lock:
            return (host.lower(), path) in self.objects


def _host(request: Request) -> str:
    return request.headers.get("host", "").lower()


def _key(request: Request) -> tuple[str, str]:
    path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return _host(request), path + (f"?{query}" if query else "")


class CacheApi:
    """The ASGI app of one simulated cache."""

    def __init__(self, state: CacheState) -> None:
        self.state = state

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        await request.body()
        response = self.handle(request)
        await response(scope, receive, send)

    def _text(self, status: int, reason: str, xid: int, extra: dict | None = None) -> Response:
        headers = {"server": SERVER, "x-varnish": str(xid), REASON: reason, **(extra or {})}
        return Response(f"{status} {reason}\n", status, headers=headers, media_type="text/plain")

    def handle(self, request: Request) -> Response:
        state = self.state
        host, path = _key(request)
        method = request.method.upper()
        with state.lock:
            state.requests.append((method, host, path))
            xid = state.new_xid()
            if method in ("PURGE", "BAN") and state.refusing:
                return self._text(405, f"{method} not allowed", xid)
            if method == "PURGE":
                state.objects.pop((host, path), None)
                return self._text(200, "Purged", xid)
            if method == "BAN":
                return self._ban(request, host, path, xid)
            if method not in ("GET", "HEAD"):
                return self._text(405, "Method not allowed", xid)
            if host == "health.wikitide.net" and path == "/check":
                return Response(b"", 204, headers={"server": SERVER, "x-varnish": str(xid)})
            return self._deliver(method, host, path, xid)

    def _ban(self, request: Request, host: str, path: str, xid: int) -> Response:
        pattern = request.headers.get("x-ban-url")
        if pattern is None:
            self.state.objects.pop((host, path), None)
            return self._text(200, "Banned", xid)
        try:
            compiled = re.compile(pattern)
        except re.error:
            return self._text(400, "Bad ban expression", xid)
        for key in [k for k in self.state.objects if k[0] == host and compiled.search(k[1])]:
            del self.state.objects[key]
        return self._text(200, "Banned", xid)

    def _deliver(self, method: str, host: str, path: str, xid: int) -> Response:
        cached = self.state.objects.get((host, path))
        if cached is None:
            self.state.objects[(host, path)] = CachedObject(xid, time.monotonic())
            headers = {"x-cache": "MISS", "x-varnish": str(xid), "age": "0"}
        else:
            cached.hits += 1
            age = int(time.monotonic() - cached.stored)
            headers = {"x-cache": "HIT", "x-cache-hits": str(cached.hits), "x-varnish": f"{xid} {cached.xid}",
                       "age": str(age)}
        body = f"<!DOCTYPE html><html><body><p>{host}{path} (simulated MediaWiki page)</p></body></html>\n"
        headers.update({"server": SERVER, "via": "1.1 varnish (Varnish/7.1)", "cache-control": "s-maxage=86400"})
        response = Response(body if method == "GET" else b"", 200, headers=headers, media_type="text/html")
        if method == "HEAD":
            response.headers["content-length"] = str(len(body.encode()))
        return response


def new_caches(names: list[str]) -> dict[str, CacheState]:
    """One CacheState per cache host, each holding the popular pages already."""
    caches = {}
    for name in names:
        state = CacheState(name)
        for host, path in POPULAR:
            state.store(host, path, age=120.0)
        caches[name] = state
    return caches
