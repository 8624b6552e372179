"""Real servers for the tests: PostgreSQL + PuppetDB, Icinga2, three Varnish caches — on loopback, on
ports that differ from the packages' defaults, each in its own fresh directory, stopped by the pid we started.

Installed from Debian packages by scripts/test. A server that cannot start is an error, never a skip.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

POSTGRES_PORT = 15433
PUPPETDB_PORT = 18080
ICINGA_PORT = 15665
VARNISH_PORTS = {"cache-a": 16081, "cache-b": 16082, "cache-refusing": 16083}
REDIS_PORT = 16379
MEMCACHED_PORT = 11311
GDNSD_PORT = 15353


class ServerFailed(RuntimeError):
    """A real server could not be started; the message says which and why (with its log's tail)."""


def port_holder(port: int) -> str | None:
    """Who listens on 127.0.0.1:port (TCP), as 'name (pid N)', or None when the port is free."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A":  # 0A = LISTEN
                inodes.add(cols[9])
    if not inodes:
        return None
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (pid_dir / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    name = (pid_dir / "comm").read_text().strip()
                    return f"{name} (pid {pid_dir.name})"
        except OSError:
            continue
    return "an unknown process"


def require_free(port: int, server: str) -> None:
    holder = port_holder(port)
    if holder:
        raise ServerFailed(f"{server}: port 127.0.0.1:{port} is already taken by {holder}")


def wait_until(check, timeout: float, what: str, log: Path | None = None, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServerFailed(f"{what} exited with status {process.returncode}{_tail(log)}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ssl.SSLError):
            pass
        time.sleep(0.25)
    raise ServerFailed(f"{what} not ready after {timeout:.0f}s{_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()[-15:]
    return "\n--- last lines of " + str(log) + " ---\n" + "\n".join(lines)


def http(method: str, url: str, body=None, *, auth: str | None = None, context=None, headers=None, timeout=30):
    """(status, parsed JSON or text) — small stdlib client so the harness does not depend on our code."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Accept": "application/json", **(headers or {})})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", "Basic " + b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _stop_group(process: subprocess.Popen | None, timeout: float = 20) -> None:
    """Stop the process group we started (by its pid, never by name)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


@dataclass
class PuppetDB:
    """PostgreSQL 15 on POSTGRES_PORT and PuppetDB 7 (plain HTTP) on PUPPETDB_PORT."""

    base: Path
    port: int = PUPPETDB_PORT
    pg_port: int = POSTGRES_PORT
    process: subprocess.Popen | None = None
    _pg_data: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start PostgreSQL (waits) and PuppetDB (does not wait: call wait_ready)."""
        require_free(self.pg_port, "PostgreSQL")
        require_free(self.port, "PuppetDB")
        self._start_postgres()
        root = self.base / "puppetdb"
        (root / "conf.d").mkdir(parents=True)
        (root / "var").mkdir()
        (root / "log").mkdir()
        etc = Path("/etc/puppetdb")
        shutil.copy(_package_file(etc / "conf.d/auth.conf"), root / "conf.d/auth.conf")
        shutil.copy(_package_file(etc / "bootstrap.cfg"), root / "bootstrap.cfg")
        logback = _package_file(etc / "logback.xml").read_text().replace("/var/log/puppetdb", str(root / "log"))
        (root / "logback.xml").write_text(logback)
        (root / "conf.d/config.ini").write_text(
            f"[global]\nvardir = {root}/var\nlogging-config = {root}/logback.xml\n\n[command-processing]\nthreads = 1\n"
        )
        (root / "conf.d/jetty.ini").write_text(f"[jetty]\nhost = 127.0.0.1\nport = {self.port}\n")
        (root / "conf.d/database.ini").write_text(
            f"[database]\nsubname = //127.0.0.1:{self.pg_port}/puppetdb\nusername = puppetdb\n"
            "password = puppetdb\nmaximum-pool-size = 5\n"
        )
        self.log = root / "stdout.log"
        command = [
            "java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Djava.security.egd=/dev/urandom",
            "-cp", "/usr/share/puppetdb/puppetdb.jar", "clojure.main", "-m", "puppetlabs.puppetdb.core", "services",
            "--config", str(root / "conf.d"), "--bootstrap-config", str(root / "bootstrap.cfg"),
        ]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def _start_postgres(self) -> None:
        pg = self.base / "pg"
        pg.mkdir(parents=True)
        shutil.chown(pg, "postgres", "postgres")
        self._pg_data = pg / "data"
        bindir = _postgres_bindir()
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*as_postgres, f"{bindir}/initdb", "-D", str(self._pg_data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*as_postgres, f"{bindir}/pg_ctl", "-D", str(self._pg_data), "-l", str(pg / "pg.log"), "-w", "-t", "60",
             "-o", f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {pg}", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        psql = ["psql", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres"]
        subprocess.run(
            [*psql, "-c", "CREATE ROLE puppetdb LOGIN PASSWORD 'puppetdb'", "-c", "CREATE DATABASE puppetdb OWNER puppetdb"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run([*psql, "-d", "puppetdb", "-c", "CREATE EXTENSION pg_trgm"], check=True, capture_output=True)

    def wait_ready(self, timeout: float = 180) -> None:
        def ready() -> bool:
            return http("GET", f"{self.url}/status/v1/services/puppetdb-status", timeout=5)[0] == 200

        wait_until(ready, timeout, "PuppetDB", self.log, self.process)

    def command(self, command: str, version: int, certname: str, payload: dict) -> None:
        """Submit a PuppetDB command and wait until it is processed."""
        url = (
            f"{self.url}/pdb/cmd/v1?command={command}&version={version}&certname={certname}"
            "&secondsToWaitForCompletion=20"
        )
        status, body = http("POST", url, payload)
        if status != 200 or not (isinstance(body, dict) and body.get("processed")):
            raise ServerFailed(f"PuppetDB command {command} for {certname}: HTTP {status} {body}")

    def stop(self) -> None:
        _stop_group(self.process)
        if self._pg_data and self._pg_data.exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", f"{_postgres_bindir()}/pg_ctl", "-D", str(self._pg_data), "-m",
                 "fast", "-w", "stop"],
                capture_output=True,
            )  # fmt: skip


@dataclass
class Icinga2:
    """Icinga2's API on ICINGA_PORT with its own CA; the certificate is for `localhost`."""

    base: Path
    port: int = ICINGA_PORT
    username: str = "opsconsole"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca_path(self) -> Path:
        return self.base / "icinga2/data/certs/ca.crt"

    def _dirs(self) -> list[str]:
        root = self.base / "icinga2"
        return [
            f"-DConfigDir={root}/etc", f"-DDataDir={root}/data", f"-DLogDir={root}/log", f"-DCacheDir={root}/cache",
            f"-DSpoolDir={root}/spool", f"-DInitRunDir={root}/run", "-DRunAsUser=root", "-DRunAsGroup=root",
        ]  # fmt: skip

    def start(self) -> None:
        require_free(self.port, "Icinga2")
        root = self.base / "icinga2"
        for sub in ("etc", "data/certs", "log", "cache", "spool", "run"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        certs = root / "data/certs"
        pki = ["icinga2", "pki"]
        subprocess.run([*pki, "new-ca", *self._dirs()], check=True, capture_output=True)
        subprocess.run(
            [*pki, "new-cert", *self._dirs(), "--cn", "localhost", "--key", str(certs / "localhost.key"), "--csr",
             str(certs / "localhost.csr")],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*pki, "sign-csr", *self._dirs(), "--csr", str(certs / "localhost.csr"), "--cert",
             str(certs / "localhost.crt")],
            check=True, capture_output=True,
        )  # fmt: skip
        shutil.copy(root / "data/ca/ca.crt", self.ca_path)
        (root / "etc/icinga2.conf").write_text(
            'const NodeName = "localhost"\nconst ZoneName = NodeName\nconst TicketSalt = ""\n'
            "object Endpoint NodeName { }\nobject Zone ZoneName { endpoints = [ NodeName ] }\n"
            "include <itl>\n"
            f'object ApiListener "api" {{ bind_host = "127.0.0.1"; bind_port = {self.port} }}\n'
            f'object ApiUser "{self.username}" {{ password = "{self.password}"; permissions = [ "*" ] }}\n'
            'object CheckerComponent "checker" { }\n'
            f'object FileLogger "main-log" {{ severity = "information"; path = "{root}/log/icinga2.log" }}\n'
        )
        self.log = root / "stdout.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["icinga2", "daemon", *self._dirs(), "-c", str(root / "etc/icinga2.conf")],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    def api(self, method: str, path: str, body=None, headers=None):
        return http(
            method, f"{self.url}/v1/{path}", body, auth=f"{self.username}:{self.password}",
            context=self.tls_context(), headers=headers,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until(lambda: self.api("GET", "status/IcingaApplication")[0] == 200, timeout, "Icinga2", self.log, self.process)

    def stop(self) -> None:
        _stop_group(self.process)


# --- Varnish ---------------------------------------------------------------------------------------

VCL = """vcl 4.1;
backend default {{ .host = "127.0.0.1"; .port = "{backend_port}"; }}
acl purgers {{ {acl} }}
sub vcl_recv {{
    if (req.method == "PURGE") {{
        if (client.ip !~ purgers) {{ return (synth(405, "PURGE not allowed")); }}
        return (purge);
    }}
    if (req.method == "BAN") {{
        if (client.ip !~ purgers) {{ return (synth(405, "BAN not allowed")); }}
        if (req.http.X-Ban-Url) {{
            ban("req.http.host == " + req.http.host + " && req.url ~ " + req.http.X-Ban-Url);
        }} else {{
            ban("req.http.host == " + req.http.host + " && req.url == " + req.url);
        }}
        return (synth(200, "Banned"));
    }}
    if (req.method !~ "^(GET|HEAD)$") {{ return (synth(405, "Method not allowed")); }}
}}
sub vcl_backend_response {{ set beresp.ttl = 120s; }}
sub vcl_deliver {{
    if (obj.hits > 0) {{ set resp.http.X-Cache = "HIT"; }} else {{ set resp.http.X-Cache = "MISS"; }}
    set resp.http.X-Cache-Hits = obj.hits;
}}
"""


class _Backend(BaseHTTPRequestHandler):
    """The app server behind the caches: any path is a small page; it counts what reaches it."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.hits.append((self.headers.get("Host", ""), self.path))  # type: ignore[attr-defined]
        body = f"<p>{self.headers.get('Host', '')}{self.path} from the backend</p>\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@dataclass
class Varnish:
    """Three varnishd on loopback with their own -n work dirs, in front of one threaded backend:
    `cache-a` and `cache-b` allow PURGE/BAN from 127.0.0.1; `cache-refusing`'s ACL lists only
    127.0.0.2, so it answers 405."""

    base: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(VARNISH_PORTS))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    backend: ThreadingHTTPServer | None = None
    _backend_thread: threading.Thread | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self) -> None:
        """Start the backend and the three caches (does not wait: call wait_ready)."""
        if shutil.which("varnishd") is None:
            raise ServerFailed("varnishd is not installed (scripts/test installs the varnish package)")
        for name, port in self.ports.items():
            require_free(port, f"Varnish {name}")
        self.backend = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
        self.backend.daemon_threads = True
        self.backend.hits = []  # type: ignore[attr-defined]
        self._backend_thread = threading.Thread(target=self.backend.serve_forever, name="varnish-backend", daemon=True)
        self._backend_thread.start()
        for name, port in self.ports.items():
            root = self.base / "varnish" / name
            root.mkdir(parents=True)
            acl = '"127.0.0.2";' if name == "cache-refusing" else '"127.0.0.1"; "::1";'
            (root / "default.vcl").write_text(VCL.format(backend_port=self.backend.server_address[1], acl=acl))
            log = root / "varnishd.log"
            command = ["varnishd", "-F", "-a", f"127.0.0.1:{port}", "-T", "127.0.0.1:0", "-S", "none",
                       "-n", str(root / "work"), "-f", str(root / "default.vcl"), "-s", "malloc,32m"]
            with log.open("wb") as out:
                self.processes[name] = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                                        start_new_session=True)

    def get(self, name: str, host: str, path: str) -> tuple[int, dict[str, str]]:
        """GET through one cache with a Host header: (status, headers lowercased)."""
        request = urllib.request.Request(self.url(name) + path, headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                return response.status, {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}

    def wait_ready(self, timeout: float = 60) -> None:
        for name in self.ports:
            log = self.base / "varnish" / name / "varnishd.log"
            ready = partial(lambda name: self.get(name, "ready.test", "/")[0] == 200, name)
            wait_until(ready, timeout, f"Varnish {name}", log, self.processes[name])

    def stop(self) -> None:
        for process in self.processes.values():
            _stop_group(process)
        if self.backend is not None:
            self.backend.shutdown()
            self.backend.server_close()
            self.backend = None


def _package_file(path: Path) -> Path:
    """A package's config file, or its .dpkg-new twin when the package was unpacked but not configured."""
    if path.exists():
        return path
    twin = path.with_name(path.name + ".dpkg-new")
    if twin.exists():
        return twin
    raise ServerFailed(f"{path} is missing: is the puppetdb package installed? (scripts/test installs it)")


def _postgres_bindir() -> str:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise ServerFailed("PostgreSQL is not installed (scripts/test installs the postgresql package)")
    return str(found[-1].parent)


@dataclass
class Redis:
    """redis-server on REDIS_PORT, no persistence (probes, and the locks shared by several bastions)."""

    base: Path
    port: int = REDIS_PORT
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        require_free(self.port, "redis")
        directory = self.base / "redis"
        directory.mkdir()
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerFailed("redis-server is not installed (scripts/test installs the redis-server package)")
        self.log = directory / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(directory)],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def command(self, *words: str) -> bytes:
        """One command over a raw socket (RESP), the answer's first line — no client library needed."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"".join([f"*{len(words)}\r\n".encode()] + [f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words]))
            return sock.recv(65536).split(b"\r\n")[0]

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(lambda: self.command("PING") == b"+PONG", timeout, "redis", self.log, self.process)

    def stop(self) -> None:
        _stop_group(self.process)


@dataclass
class Memcached:
    """memcached on MEMCACHED_PORT (the service probes' `stats`)."""

    base: Path
    port: int = MEMCACHED_PORT
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        require_free(self.port, "memcached")
        binary = shutil.which("memcached")
        if binary is None:
            raise ServerFailed("memcached is not installed (scripts/test installs the memcached package)")
        self.log = self.base / "memcached.log"
        self.process = subprocess.Popen([binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-u", "nobody"],
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def stats(self) -> dict[str, str]:
        """`stats` over a raw socket: {"uptime": "12", ...}."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return {parts[1]: parts[2] for parts in (line.split(" ", 2) for line in data.decode().splitlines()) if parts[0] == "STAT"}

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(lambda: "uptime" in self.stats(), timeout, "memcached", self.log, self.process)

    def stop(self) -> None:
        _stop_group(self.process)


GDNSD_SERIAL = 2026112501


@dataclass
class Gdnsd:
    """gdnsd 3 (the farm's DNS server) on GDNSD_PORT, authoritative for wikitide.net with GDNSD_SERIAL."""

    base: Path
    port: int = GDNSD_PORT
    zone: str = "wikitide.net"
    serial: int = GDNSD_SERIAL
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        require_free(self.port, "gdnsd")
        binary = shutil.which("gdnsd") or ("/usr/sbin/gdnsd" if Path("/usr/sbin/gdnsd").exists() else None)
        if binary is None:
            raise ServerFailed("gdnsd is not installed (scripts/test installs the gdnsd package)")
        directory = self.base / "gdnsd"
        for sub in ("zones", "run", "state"):
            (directory / sub).mkdir(parents=True)
        (directory / "config").write_text(
            f"options => {{\n  listen => [ 127.0.0.1:{self.port} ]\n  run_dir => {directory / 'run'}\n"
            f"  state_dir => {directory / 'state'}\n}}\n")
        (directory / "zones" / self.zone).write_text(
            "$TTL 3600\n"
            f"@ SOA ns1.{self.zone}. hostmaster.{self.zone}. ( {self.serial} 7200 1800 1209600 1800 )\n"
            f"@ NS ns1.{self.zone}.\n@ NS ns2.{self.zone}.\nns1 A 127.0.0.1\nns2 A 127.0.0.1\n")
        self.log = directory / "gdnsd.log"
        check = subprocess.run([binary, "-c", str(directory), "checkconf"], capture_output=True, text=True)
        if check.returncode != 0:
            raise ServerFailed(f"gdnsd checkconf failed: {(check.stderr or check.stdout).strip()[-600:]}")
        self.process = subprocess.Popen([binary, "-c", str(directory), "start"], stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def answers(self) -> bool:
        """A SOA query over UDP gets any answer (readiness only; the tests parse it with our client)."""
        query = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"".join(
            bytes([len(p)]) + p.encode() for p in self.zone.split(".")) + b"\x00\x00\x06\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(1)
            sock.sendto(query, ("127.0.0.1", self.port))
            try:
                return sock.recv(4096)[:2] == b"\x12\x34"
            except OSError:
                return False

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(self.answers, timeout, "gdnsd", self.log, self.process)

    def stop(self) -> None:
        _stop_group(self.process)


def _executor_servers(base: Path) -> dict:
    """sshd and Salt (tests/harness/remote_servers.py imports this module, hence the late import)."""
    from tests.harness.remote_servers import Salt, Sshd

    return {"sshd": Sshd(base), "salt": Salt(base)}


class RealServers:
    """Starts the servers once per test session, in the background, and stops what it started.

    To add a server: a class with start(), wait_ready() and stop(), one entry in `self.servers`,
    and a session fixture in tests/conftest.py that returns `real_servers.ready(NAME)`."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="opsconsole-real-"))
        self.base.chmod(0o755)  # the postgres user must reach its data directory
        self.servers = {
            "puppetdb": PuppetDB(self.base),
            "icinga": Icinga2(self.base),
            "varnish": Varnish(self.base),
            "redis": Redis(self.base),
            "memcached": Memcached(self.base),
            "gdnsd": Gdnsd(self.base),
            **_executor_servers(self.base),
        }
        self._errors: dict[str, BaseException] = {}
        self._threads: dict[str, threading.Thread] = {}

    def __getattr__(self, name: str):
        servers = self.__dict__.get("servers", {})
        if name in servers:
            return servers[name]
        raise AttributeError(name)

    def start_in_background(self) -> None:
        for name, server in self.servers.items():
            thread = threading.Thread(target=self._start, args=(name, server), daemon=True)
            self._threads[name] = thread
            thread.start()

    def _start(self, name: str, server) -> None:
        try:
            server.start()
            server.wait_ready()
        except BaseException as exc:  # noqa: BLE001 - reported when a test asks for this server
            self._errors[name] = exc

    def ready(self, name: str):
        """Block until the named server is ready; raise ServerFailed if it could not start."""
        self._threads[name].join(timeout=300)
        if name in self._errors:
            error = self._errors[name]
            raise ServerFailed(f"{name} could not start: {error}") from error
        return self.servers[name]

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            try:
                server.stop()
            except Exception:  # noqa: BLE001 - stop the others anyway
                pass
        shutil.rmtree(self.base, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
