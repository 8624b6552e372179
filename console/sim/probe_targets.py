"""What the console's service probes reach in the simulated farm, on loopback, written from each
protocol's documentation (never from our client in console/sources/probes.py):

- HTTP: every MediaWiki app server's `/w/api.php?action=query&meta=siteinfo&format=json` (502 from
  nginx while the host's PHP-FPM check is CRITICAL, as on mw152 in php-fpm-down), Grafana's
  `/api/health`, each Swift proxy's `/healthcheck` (`OK`), Puppetserver's `/status/v1/simple`
  (`running`, over TLS with the farm's CA). Varnish `/check` and Graylog `/api/system/lbstatus` are
  the caches' and the Graylog API's own (console/sim/varnish.py, graylog_api.py).
- Redis (RESP: `PING` → `+PONG`, `AUTH`), Memcached (text protocol: `stats`, `version`, `quit`),
  a DNS server answering the SOA of wikitide.net over UDP (RFC 1035), and plain TCP listeners
  (MariaDB, LDAP, the job runners, the depool service, ircecho) that accept and close.

Each target is one listener per host, so a probe to mw152 reaches "mw152". None of this traffic is in
the API request counters (`/__sim/stats`, `farm.request_counts()`): the probe servers count their own.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from console.sim.checks import evaluate
from console.sim.farm import Farm
from console.sim.inventory import load_inventory
from console.sim.server import ApiServer

ZONE = "wikitide.net"
MEDIAWIKI_VERSION = "MediaWiki 1.43.1"
# TCP services that only need to accept: role -> (label, port on the real farm)
TCP_SERVICES = {"database": ("mariadb", 3306), "ldap": ("ldap", 389), "jobrunner": ("jobrunner", 9005),
                "irc": ("ircecho", 5071)}
DEPOOL_PORT = 5001  # the depool service on each cache


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status, media_type="application/json")


class AppServerApi:
    """One MediaWiki app server (nginx + php-fpm) answering the siteinfo query, from the farm's state."""

    def __init__(self, farm: Farm, host: str) -> None:
        self.farm = farm
        self.host = host

    def php_fpm_down(self) -> bool:
        with self.farm.lock:
            slot = self.farm.slots.get((self.host, "PHP-FPM"))
            return slot is not None and evaluate(self.farm, slot, self.farm.now()).state == 2

    async def __call__(self, scope: dict, receive, send) -> None:
        request = Request(scope, receive)
        await request.body()
        await self.handle(request)(scope, receive, send)

    def handle(self, request: Request) -> Response:
        if request.url.path != "/w/api.php":
            return Response("<html><body><h1>404 Not Found</h1></body></html>\n", 404, media_type="text/html")
        if self.php_fpm_down():  # nginx cannot reach the php-fpm socket
            body = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            return Response(body, 502, media_type="text/html")
        params = request.query_params
        if params.get("action") == "query" and params.get("meta") == "siteinfo" and params.get("format") == "json":
            wiki = (request.headers.get("host") or "meta.miraheze.org").split(":")[0]
            general = {"mainpage": "Main Page", "base": f"https://{wiki}/wiki/Main_Page", "sitename": wiki.split(".")[0].title(),
                       "generator": MEDIAWIKI_VERSION, "phpversion": "8.4.6", "phpsapi": "fpm-fcgi", "dbtype": "mysql",
                       "servername": wiki, "wikiid": wiki.split(".")[0] + "wiki", "time": self.farm.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
            return _json({"batchcomplete": "", "query": {"general": general}})
        return _json({"error": {"code": "badvalue", "info": "Unrecognized parameters."}})


class TextApi:
    """A health endpoint answering `GET path` with a fixed body (Swift /healthcheck, Puppetserver status)."""

    def __init__(self, routes: dict[str, tuple[str, str]]) -> None:
        self.routes = routes  # path -> (media type, body)

    async def __call__(self, scope: dict, receive, send) -> None:
        path = scope.get("path", "")
        if path in self.routes:
            media_type, body = self.routes[path]
            response = Response(body, 200, media_type=media_type)
        else:
            response = Response("Not Found\n", 404, media_type="text/plain")
        await response(scope, receive, send)


# --- Redis, Memcached, TCP ------------------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.requests = 0


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


async def _read_resp_command(reader: asyncio.StreamReader) -> list[str] | None:
    """One command: a RESP array of bulk strings, or an inline command (redis.io/docs/reference/protocol-spec)."""
    line = await reader.readline()
    if not line:
        return None
    line = line.rstrip(b"\r\n")
    if not line.startswith(b"*"):
        return line.decode(errors="replace").split()
    words = []
    for _ in range(int(line[1:])):
        header = (await reader.readline()).rstrip(b"\r\n")
        if not header.startswith(b"$"):
            return None
        data = await reader.readexactly(int(header[1:]) + 2)
        words.append(data[:-2].decode(errors="replace"))
    return words


def redis_handler(counter: Counter, password: str | None):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        authenticated = password is None
        try:
            while (words := await _read_resp_command(reader)) is not None:
                counter.requests += 1
                command = words[0].upper() if words else ""
                if command == "AUTH":
                    if password is None:
                        writer.write(b"-ERR AUTH <password> called without any password configured for the default user. "
                                     b"Are you sure your configuration is correct?\r\n")
                    elif words[-1] == password:
                        authenticated = True
                        writer.write(b"+OK\r\n")
                    else:
                        writer.write(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                elif command == "QUIT":
                    writer.write(b"+OK\r\n")
                    break
                elif not authenticated:
                    writer.write(b"-NOAUTH Authentication required.\r\n")
                elif command == "PING":
                    writer.write(b"+PONG\r\n" if len(words) == 1 else b"$%d\r\n%s\r\n" % (len(words[1].encode()), words[1].encode()))
                else:
                    writer.write(f"-ERR unknown command '{words[0] if words else ''}'\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            await _close(writer)

    return handle


def memcached_handler(counter: Counter, started: datetime, farm: Farm, host: str, connections: dict[str, int]):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[host] = connections.get(host, 0) + 1
        try:
            while line := await reader.readline():
                counter.requests += 1
                command = line.strip().decode(errors="replace")
                if command == "stats":
                    now = farm.now()
                    stats = {"pid": 1200 + len(host), "uptime": int((now - started).total_seconds()),
                             "time": int(now.timestamp()), "version": "1.6.18", "curr_connections": 9 + connections[host],
                             "total_connections": 4000 + connections[host], "threads": 4, "limit_maxbytes": 8 << 30}
                    writer.write(b"".join(f"STAT {k} {v}\r\n".encode() for k, v in stats.items()) + b"END\r\n")
                elif command == "version":
                    writer.write(b"VERSION 1.6.18\r\n")
                elif command == "quit":
                    break
                else:
                    writer.write(b"ERROR\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            connections[host] -= 1
            await _close(writer)

    return handle


def accept_and_close(counter: Counter):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counter.requests += 1
        await _close(writer)

    return handle


# --- DNS (RFC 1035) ---------------------------------------------------------------------------------


def _name(labels: str) -> bytes:
    return b"".join(bytes([len(part)]) + part.encode() for part in labels.split(".")) + b"\0"


class DnsServer(asyncio.DatagramProtocol):
    """Authoritative for wikitide.net: its SOA; NXDOMAIN below it; REFUSED for other zones."""

    def __init__(self, serial: int, counter: Counter) -> None:
        self.serial = serial
        self.counter = counter
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.counter.requests += 1
        answer = self.answer(data)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)

    def answer(self, query: bytes) -> bytes | None:
        if len(query) < 12:
            return None
        query_id, flags, questions = struct.unpack("!HHH", query[:6])
        if flags & 0x8000 or questions != 1:
            return None
        offset, labels = 12, []
        while offset < len(query) and query[offset] != 0:
            length = query[offset]
            labels.append(query[offset + 1:offset + 1 + length].decode(errors="replace").lower())
            offset += 1 + length
        if offset + 5 > len(query):
            return None
        question = query[12:offset + 5]
        qtype = struct.unpack("!H", query[offset + 1:offset + 3])[0]
        name = ".".join(labels)
        answers = b""
        if name == ZONE:
            rcode = 0
            if qtype in (6, 255):  # SOA or ANY
                rdata = _name(f"ns1.{ZONE}") + _name(f"hostmaster.{ZONE}") + struct.pack("!IIIII", self.serial, 7200, 1800, 1209600, 1800)
                answers = b"\xc0\x0c" + struct.pack("!HHIH", 6, 1, 3600, len(rdata)) + rdata  # name: a pointer to the question's
        elif name.endswith("." + ZONE):
            rcode = 3  # NXDOMAIN
        else:
            rcode = 5  # REFUSED: not our zone
        aa = 0x0400 if rcode != 5 else 0
        header = struct.pack("!HHHHHH", query_id, 0x8000 | aa | (flags & 0x0100) | rcode, 1, 1 if answers else 0, 0, 0)
        return header + question + answers


# --- all of them ---------------------------------------------------------------------------------------


@dataclass
class Target:
    host: str
    kind: str  # "http" | "https" | "tcp" | "redis" | "memcached" | "dns"
    port: int = 0


class ProbeTargets:
    """Every probe target of the farm; `open()` and `close()` run on the farm's server loop."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        reference = [h for h in load_inventory().hosts if h.name in farm.hosts]  # scaled extras have no targets
        self.by_role: dict[str, list[str]] = {}
        for spec in reference:
            self.by_role.setdefault(spec.role, []).append(spec.name)
        anchor = farm.anchor
        self.dns_serial = int(f"{anchor:%Y%m%d}01")
        self.http: dict[str, ApiServer] = {}
        for host in self.by_role.get("mediawiki", []):
            self.http[host] = ApiServer(host, AppServerApi(farm, host), scheme="http")
        for host in self.by_role.get("swift-proxy", []):
            self.http[host] = ApiServer(host, TextApi({"/healthcheck": ("text/plain", "OK")}), scheme="http")
        for host in self.by_role.get("monitoring", []):  # grafana-server runs on mon181
            health = json.dumps({"commit": "c5b2d0e1f4", "database": "ok", "version": "11.2.2"}, indent=2)
            self.http[host] = ApiServer(host, TextApi({"/api/health": ("application/json", health)}), scheme="http")
        for host in self.by_role.get("puppetserver", []):
            self.http[host] = ApiServer(host, TextApi({"/status/v1/simple": ("text/plain", "running")}), scheme="https")
        self.counter = Counter()  # requests of the socket targets (HTTP ones count in their ApiServer)
        self.ports: dict[tuple[str, str], int] = {}  # (host, kind) -> port of the socket targets
        self.started = anchor
        self._memcached_connections: dict[str, int] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._transports: list[asyncio.BaseTransport] = []

    async def open(self, tls: ssl.SSLContext | None) -> None:
        for server in self.http.values():
            await server.open(tls if server.scheme == "https" else None)
        for role, (label, _) in TCP_SERVICES.items():
            for host in self.by_role.get(role, []):
                await self._tcp(host, label, accept_and_close(self.counter))
        for host in self.by_role.get("cache", []):
            await self._tcp(host, "depool", accept_and_close(self.counter))
        for host in self.by_role.get("redis", []):
            await self._tcp(host, "redis", redis_handler(self.counter, None))
        for host in self.by_role.get("memcached", []):
            await self._tcp(host, "memcached", memcached_handler(self.counter, self.started, self.farm, host,
                                                                 self._memcached_connections))
        loop = asyncio.get_running_loop()
        for host in self.by_role.get("dns", []):
            transport, _ = await loop.create_datagram_endpoint(lambda: DnsServer(self.dns_serial, self.counter),
                                                               local_addr=("127.0.0.1", 0))
            self._transports.append(transport)
            self.ports[(host, "dns")] = transport.get_extra_info("sockname")[1]

    async def _tcp(self, host: str, kind: str, handler) -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        self._servers.append(server)
        self.ports[(host, kind)] = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for server in self.http.values():
            await server.close()
        for listener in self._servers:
            listener.close()
        for transport in self._transports:
            transport.close()
        self._servers, self._transports = [], []

    def requests(self) -> int:
        """Every probe request the targets got (kept apart from the API counters)."""
        return self.counter.requests + sum(server.requests for server in self.http.values())

    def probes(self, cache_urls: dict[str, str], graylog_url: str, ca: str) -> dict[str, list[dict[str, Any]]]:
        """The `probes:` of each demo service (by the service's name), pointing at these targets."""
        def url(host: str, path: str) -> str:
            return f"{self.http[host].url}{path}"

        def tcp(host: str, kind: str, label: str) -> dict[str, Any]:
            return {"name": f"{host} {label}", "kind": "tcp", "host": "127.0.0.1", "port": self.ports[(host, kind)]}

        siteinfo = "/w/api.php?action=query&meta=siteinfo&format=json"
        mediawiki = self.by_role.get("mediawiki", [])
        probes: dict[str, list[dict[str, Any]]] = {
            "php-fpm": [{"name": f"{host} api.php", "kind": "http", "url": url(host, siteinfo),
                         "host_header": "meta.miraheze.org"} for host in mediawiki],
            "mediawiki": [{"name": "meta api.php", "kind": "http", "url": url(mediawiki[0], siteinfo),
                           "host_header": "meta.miraheze.org", "contains": "batchcomplete"}] if mediawiki else [],
            "jobrunner": [tcp(h, "jobrunner", "jobrunner") for h in self.by_role.get("jobrunner", [])],
            "varnish": [{"name": f"{name} /check", "kind": "http", "url": f"{address}/check",
                         "host_header": "health.wikitide.net", "expect": [200, 204]} for name, address in cache_urls.items()],
            "varnish-depool": [tcp(h, "depool", "depool") for h in self.by_role.get("cache", [])],
            "mariadb": [tcp(h, "mariadb", "mariadb") for h in self.by_role.get("database", [])],
            "memcached": [{"name": f"{h} stats", "kind": "memcached", "host": "127.0.0.1", "port": self.ports[(h, "memcached")]}
                          for h in self.by_role.get("memcached", [])],
            "swift": [{"name": f"{h} healthcheck", "kind": "http", "url": url(h, "/healthcheck"), "contains": "OK"}
                      for h in self.by_role.get("swift-proxy", [])],
            "gdnsd": [{"name": f"{h} {ZONE}", "kind": "dns", "server": "127.0.0.1", "port": self.ports[(h, "dns")], "zone": ZONE}
                      for h in self.by_role.get("dns", [])],
            "ldap": [tcp(h, "ldap", "ldap") for h in self.by_role.get("ldap", [])],
            "ircecho": [tcp(h, "ircecho", "ircecho") for h in self.by_role.get("irc", [])],
            "puppet": [{"name": f"{h} puppetserver", "kind": "http", "url": url(h, "/status/v1/simple"), "verify": ca,
                        "contains": "running"} for h in self.by_role.get("puppetserver", [])],
            "redis": [{"name": f"{h} PING", "kind": "redis", "host": "127.0.0.1", "port": self.ports[(h, "redis")]}
                      for h in self.by_role.get("redis", [])],
            "graylog": [{"name": "lbstatus", "kind": "http", "url": f"{graylog_url}/api/system/lbstatus", "verify": ca,
                         "contains": "ALIVE"}],
            "grafana": [{"name": f"{h} /api/health", "kind": "http", "url": url(h, "/api/health"), "contains": '"database": "ok"'}
                        for h in self.by_role.get("monitoring", [])],
        }
        return {name: items for name, items in probes.items() if items}
