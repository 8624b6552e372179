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


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope["headers"]:  # h11 gives the names lowercased
        if key == name:
            return value.decode("latin-1")
    return None


def _key(scope: dict) -> tuple[str, str]:
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return (_header(scope, b"host") or "").lower(), path + (f"?{query}" if query else "")


def _answer(status: int, headers: dict[str, str], body: bytes, media_type: str) -> Answer:
    fields = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
    if body or status != 204:
        fields.append((b"content-length", str(len(body)).encode()))
        fields.append((b"content-type", f"{media_type}; charset=utf-8".encode()))
    return status, fields, body


class CacheApi:
    """The ASGI app of one simulated cache. Plain ASGI, without a framework's request and response
    objects: a purge sends 40 requests at once, and the sim's own work per request delays the last
    answers (Varnish, in C with a thread per request, would not)."""

    def __init__(self, state: CacheState) -> None:
        self.state = state

    async def __call__(self, scope: dict, receive, send) -> None:
        more = True
        while more:  # a request body (none is expected) is read and dropped
            message = await receive()
            more = message.get("type") == "http.request" and message.get("more_body", False)
        status, headers, body = self.handle(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _text(self, status: int, reason: str, xid: int) -> Answer:
        headers = {"server": SERVER, "x-varnish": str(xid), REASON: reason}
        return _answer(status, headers, f"{status} {reason}\n".encode(), "text/plain")

    def handle(self, scope: dict) -> Answer:
        state = self.state
        host, path = _key(scope)
        method = scope["method"].upper()
        with state.lock:
            state.requests.append((method, host, path))
            xid = state.new_xid()
            if method in ("PURGE", "BAN") and state.refusing:
                return self._text(405, f"{method} not allowed", xid)
            if method == "PURGE":
                state.objects.pop((host, path), None)
                return self._text(200, "Purged", xid)
            if method == "BAN":
                return self._ban(_header(scope, b"x-ban-url"), host, path, xid)
            if method not in ("GET", "HEAD"):
                return self._text(405, "Method not allowed", xid)
            if host == "health.wikitide.net" and path == "/check":
                return _answer(204, {"server": SERVER, "x-varnish": str(xid)}, b"", "text/plain")
            return self._deliver(method, host, path, xid)

    def _ban(self, pattern: str | None, host: str, path: str, xid: int) -> Answer:
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

    def _deliver(self, method: str, host: str, path: str, xid: int) -> Answer:
        cached = self.state.objects.get((host, path))
        if cached is None:
            self.state.objects[(host, path)] = CachedObject(xid, time.monotonic())
            headers = {"x-cache": "MISS", "x-varnish": str(xid), "age": "0"}
        else:
            cached.hits += 1
            age = int(time.monotonic() - cached.stored)
            headers = {"x-cache": "HIT", "x-cache-hits": str(cached.hits), "x-varnish": f"{xid} {cached.xid}",
                       "age": str(age)}
        body = f"<!DOCTYPE html><html><body><p>{host}{path} (simulated MediaWiki page)</p></body></html>\n".encode()
        headers.update({"server": SERVER, "via": "1.1 varnish (Varnish/7.1)", "cache-control": "s-maxage=86400"})
        status, fields, _ = _answer(200, headers, body, "text/html")
        return status, fields, body if method == "GET" else b""  # HEAD: GET's headers, Content-Length included


def new_caches(names: list[str]) -> dict[str, CacheState]:
    """One CacheState per cache host, each holding the popular pages already."""
    caches = {}
    for name in names:
        state = CacheState(name)
        for host, path in POPULAR:
            state.store(host, path, age=120.0)
        caches[name] = state
    return caches
