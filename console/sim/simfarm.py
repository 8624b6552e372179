"""SimFarm: the whole simulated farm — model, TLS, secrets and one HTTPS server per API."""

from __future__ import annotations

import base64
import os
import secrets
import shlex
import string
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from console.core.clock import Clock
from console.sim.depool import DepoolApi
from console.sim.farm import Farm
from console.sim.farm_api import FarmApi
from console.sim.github_api import GitHubApi
from console.sim.graylog_api import GraylogApi
from console.sim.hostile import write_hostile_audit, write_hostile_locks
from console.sim.icinga_api import USERNAME as ICINGA_USER
from console.sim.icinga_api import IcingaApi
from console.sim.probe_targets import ProbeTargets
from console.sim.proxmox_api import TOKEN_ID, ProxmoxApi
from console.sim.puppet import DISABLED_FACT
from console.sim.puppetdb_api import PuppetDbApi
from console.sim.sal import close_relay, open_relay
from console.sim.salt_api import EAUTH as SALT_EAUTH
from console.sim.salt_api import USERNAME as SALT_USER
from console.sim.salt_api import SaltApi
from console.sim.scale import Scale
from console.sim.scenarios import DEFAULT_SCENARIO
from console.sim.server import ApiServer, ASGIApp, LoopThread, parse_fault
from console.sim.tls import FarmTLS, make_tls, write_private
from console.sim.varnish import CacheApi

APIS = ("proxmox", "icinga", "puppetdb", "graylog", "github", "salt")
REPOS = ("miraheze/mw-config", "miraheze/puppet", "miraheze/dns")
SERVICES = (
    ("php-fpm", "mw*", ("PHP-FPM",)),
    ("mediawiki", "mw*", ("MediaWiki Rendering", "HTTPS")),
    ("jobrunner", "mwtask*", ("JobRunner Service", "JobChron Service")),
    ("varnish", "cp*", ("Varnish Backends", "HTTP 4xx/5xx ERROR Rate", "HTTPS")),
    ("varnish-depool", "cp*", ("varnish-depool service",)),
    ("mariadb", "db*", ("MariaDB", "MariaDB Connections")),
    ("memcached", "mem*", ("memcached",)),
    ("swift", "swift*", ("Swift Proxy", "Swift Object Service")),
    ("gdnsd", "dns*", ("Auth DNS", "GDNSD Datacenters")),
    ("ldap", "ldap*", ("LDAP",)),
    ("ircecho", "bots*", ("IRCEcho", "IRC Log Bot")),
    ("puppet", "*", ("Puppet",)),
    ("redis", "rdb*", ()),  # every check of the host; these three are here for their probes
    ("graylog", "graylog*", ()),
    ("grafana", "mon*", ()),
)
LINKS = {
    "proxmox": "https://{node}.fsslc.wtnet:8006/#v1:0:=qemu%2F{vmid}:4:::::::",
    "graylog": "https://logging.wikitide.net/search?q=source%3A{host}&rangetype=relative&relative=3600",
    "icinga": "https://icinga.wikitide.net/icingaweb2/monitoring/host/show?host={host}",
    "grafana": "https://grafana.wikitide.net/d/rYdddlPWk/node-exporter-full?var-instance={fqdn}:9100",
}


def _new_secrets() -> dict[str, str]:
    alnum = string.ascii_letters + string.digits
    return {
        "proxmox": str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)),  # PVE token secrets are UUIDs
        "icinga": secrets.token_urlsafe(24),
        "graylog": "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(52)),
        "github": "ghp_" + "".join(secrets.choice(alnum) for _ in range(36)),
        "depool": base64.b32encode(secrets.token_bytes(20)).decode(),  # the depool services' TOTP secret (RFC 6238)
        "salt": secrets.token_urlsafe(18),  # the salt-api user's (PAM) password
    }


class SimFarm:
    """The simulated farm. `start()` serves it; `model` is the state tests mutate (console/sim/README.md)."""

    def __init__(self, state_dir: str | os.PathLike[str], scenario: str = DEFAULT_SCENARIO, seed: int = 1,
                 clock: Clock | None = None, ports: dict[str, int] | None = None, *,
                 scale: Scale | None = None, latency_ms: float | dict[str, float] | None = None) -> None:
        unknown = set(ports or {}) - set(APIS) - {"sal"} - {h for h in (ports or {}) if h.startswith("cp")}
        if unknown:
            raise ValueError(f"unknown API in ports: {', '.join(sorted(unknown))}; APIs are {', '.join(APIS)}")
        self.state_dir = Path(state_dir)
        self.scenario = scenario
        self.seed = seed
        self.scale = scale or Scale()
        self.model = Farm(scenario=scenario, seed=seed, clock=clock, scale=self.scale)
        unknown = {h for h in (ports or {}) if h.startswith("cp")} - set(self.model.caches)
        if unknown:
            raise ValueError(f"unknown cache in ports: {', '.join(sorted(unknown))}; caches are {', '.join(self.cache_names)}")
        self._ports = dict(ports or {})
        self._faults: dict[str, str | None] = {name: None for name in (*APIS, *self.cache_names)}
        self._delays: dict[str, float | None] = {}  # delay_ms of a "slow" fault
        self._servers: dict[str, ApiServer] = {}
        self._sal: Any = None
        self._sal_port: int | None = None
        self.probe_targets: ProbeTargets | None = None  # what the services' probes reach (console/sim/probe_targets.py)
        self._loop: LoopThread | None = None
        self._answers: ThreadPoolExecutor | None = None
        # The probe targets (53 fresh connections per probe round) on a loop of their own: on the APIs'
        # loop they would delay reading the API requests that come in meanwhile (and so their latency).
        self._probe_loop: LoopThread | None = None
        self._secrets: dict[str, str] = {}
        self.tls: FarmTLS | None = None
        self._latency: dict[str, float] = {name: 0.0 for name in self._faults}
        if isinstance(latency_ms, dict):
            for name, ms in latency_ms.items():
                self.set_latency(name, ms)
        elif latency_ms:
            for name in self._latency:
                self.set_latency(name, latency_ms)

    # --- life cycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> SimFarm:
        if self.running:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.state_dir, 0o700)
        self._secrets = _new_secrets()
        for api, value in self._secrets.items():
            write_private(self.secret_path(api), value + "\n", 0o600)
        self.tls = make_tls(self.state_dir)
        if self.scenario == "hostile":  # the files a hostile neighbour on the bastion could plant
            write_hostile_locks(self.state_dir / "locks")
            write_hostile_audit(self.state_dir / "audit.jsonl")
        apps: dict[str, ASGIApp] = {
            "proxmox": ProxmoxApi(self.model, self._secrets["proxmox"]),
            "icinga": IcingaApi(self.model, self._secrets["icinga"]),
            "puppetdb": PuppetDbApi(self.model),
            "graylog": GraylogApi(self.model, self._secrets["graylog"]),
            "github": GitHubApi(self.model, self._secrets["github"]),
            "salt": SaltApi(self.model, self._secrets["salt"]),
        }
        # one worker builds every answer (they take the farm's lock anyway): a fixed thread, not a pool that grows
        self._answers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsconsole-sim-answers")
        for app in apps.values():
            if isinstance(app, FarmApi):
                app.executor = self._answers
        servers: dict[str, ApiServer] = {}
        try:
            for api in APIS:
                server = ApiServer(api, apps[api], self._ports.get(api, 0), clock=self.model.now)
                server.fault, server.slow_seconds = parse_fault(self._faults[api], self._delays.get(api))
                server.latency = self._latency[api] / 1000
                servers[api] = server
            for name in self.cache_names:  # plain HTTP, like Varnish behind HAProxy's TLS
                server = ApiServer(name, CacheApi(self.model.caches[name]), self._ports.get(name, 0), scheme="http")
                server.fault, server.slow_seconds = parse_fault(self._faults[name], self._delays.get(name))
                server.latency = self._latency[name] / 1000
                servers[name] = server
            for name in self.cache_names:  # each cache's depool service, on its own port (plain HTTP, TOTP)
                servers[f"depool-{name}"] = ApiServer(f"depool-{name}", DepoolApi(self.model, name, self._secrets["depool"]),
                                                      scheme="http")
        except OSError:
            for server in servers.values():
                if server._sock is not None:  # noqa: SLF001 - not started yet
                    server._sock.close()
            raise
        self._servers = servers
        self._loop = LoopThread(f"opsconsole-sim-{servers['proxmox'].port}")
        try:
            for server in servers.values():
                https = server.scheme == "https"
                self._loop.call(server.open(self.tls.context if https else None, self.tls.impostor if https else None))
            self._sal, self._sal_port = self._loop.call(open_relay(self.model, self._ports.get("sal", 0)))
            servers["graylog"].probe_paths = frozenset({"/api/system/lbstatus"})
            for name in self.cache_names:
                servers[name].probe_paths = frozenset({"/check"})
            self.probe_targets = ProbeTargets(self.model)
            self._probe_loop = LoopThread(f"opsconsole-sim-probes-{servers['proxmox'].port}")
            self._probe_loop.call(self.probe_targets.open(self.tls.context))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        answers, self._answers = self._answers, None
        if answers is not None:
            answers.shutdown(wait=False, cancel_futures=True)
        loop, self._loop = self._loop, None
        if loop is None:
            return
        for server in self._servers.values():
            try:
                loop.call(server.close(), timeout=5)
            except Exception:  # noqa: BLE001 - stop the rest anyway
                pass
        probe_loop, self._probe_loop = self._probe_loop, None
        if probe_loop is not None:
            if self.probe_targets is not None:
                try:
                    probe_loop.call(self.probe_targets.close(), timeout=5)
                except Exception:  # noqa: BLE001 - stopping anyway
                    pass
            probe_loop.stop()
        if self._sal is not None:
            try:
                loop.call(close_relay(self._sal), timeout=5)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
            self._sal = None
        loop.stop()

    def __enter__(self) -> SimFarm:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- what clients need ---------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        self._require_started()
        return {api: self._servers[api].url for api in APIS}

    @property
    def ports(self) -> dict[str, int]:
        self._require_started()
        return {api: self._servers[api].port for api in APIS}

    @property
    def cache_names(self) -> list[str]:
        """The cache hosts (cp161, cp171, cp191, cp201), each with its own simulated Varnish."""
        return list(self.model.caches)

    @property
    def cache_urls(self) -> dict[str, str]:
        """{"cp161": "http://127.0.0.1:PORT", ...}: each cache's own address (plain HTTP)."""
        self._require_started()
        return {name: self._servers[name].url for name in self.cache_names}

    @property
    def sal_address(self) -> str:
        """HOST:PORT of the server admin log relay (UDP); its lines land in `model.sal_log`."""
        self._require_started()
        return f"127.0.0.1:{self._sal_port}"

    def set_cache_refusing(self, name: str, refusing: bool = True) -> None:
        """Make one cache answer PURGE and BAN with 405, as if its ACL did not list us."""
        state = self.model.caches[name]
        with state.lock:
            state.refusing = refusing

    @property
    def depool_urls(self) -> dict[str, str]:
        """{"cp161": "http://127.0.0.1:PORT", ...}: each cache's depool service (console/sim/depool.py)."""
        self._require_started()
        return {name: self._servers[f"depool-{name}"].url for name in self.cache_names}

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    def secret_path(self, api: str) -> Path:
        if api == "puppetdb" or api not in (*APIS, "depool"):
            raise KeyError(f"no secret for {api!r}")
        return self.state_dir / f"{api}.secret"

    def config_yaml(self) -> str:
        """The opsconsole config for this farm (secrets by file, TLS verified with the farm's CA)."""
        self._require_started()
        urls, ca = self.urls, str(self.ca_path)
        assert self.probe_targets is not None
        probes = self.probe_targets.probes(self.cache_urls, urls["graylog"], ca)
        config = {
            "farm": {"name": self.model.inventory.farm_name, "environment": "demo", "domains": list(self.model.inventory.domains)},
            "sources": {
                "proxmox": [{"name": "pve", "url": urls["proxmox"], "token_id": TOKEN_ID,
                             "token_secret": {"file": str(self.secret_path("proxmox"))}, "verify": ca}],
                "puppetdb": [{"name": "puppetdb", "url": urls["puppetdb"], "verify": ca, "disabled_fact": DISABLED_FACT}],
                "icinga": [{"name": "icinga", "url": urls["icinga"], "username": ICINGA_USER,
                            "password": {"file": str(self.secret_path("icinga"))}, "verify": ca}],
                "graylog": [{"name": "graylog", "url": urls["graylog"], "token": {"file": str(self.secret_path("graylog"))},
                             "verify": ca, "query": "level:<=3", "range": 300}],
                "commits": [{"name": repo.split("/")[1], "github": repo, "api_url": urls["github"],
                             "token": {"file": str(self.secret_path("github"))}, "verify": ca} for repo in REPOS],
            },
            "services": [{"name": name, "hosts": hosts, "checks": list(checks), **({"probes": probes[name]} if name in probes else {})}
                         for name, hosts, checks in SERVICES],
            "actions": {
                "caches": [{"name": name, "url": url, "depool": self.depool_urls[name]} for name, url in self.cache_urls.items()],
                "depool": {"method": "service", "totp_secret": {"file": str(self.secret_path("depool"))}},
                "rolling": {"batch": 2, "failure_budget": 1, "downtime": 900, "settle": 1},
                "icinga": "icinga",
                "audit": {"path": str(self.state_dir / "audit.jsonl")},
                "locks": {"dir": str(self.state_dir / "locks")},  # this farm's own, never the bastion's
                "executor": "salt",
                "salt": {"url": urls["salt"], "username": SALT_USER, "password": {"file": str(self.secret_path("salt"))},
                         "eauth": SALT_EAUTH, "verify": ca, "timeout": 10},
                "services": {"php-fpm": {"hosts": "mw[0-9]*", "restart": "sudo systemctl restart php8.4-fpm",
                                         "salt": {"function": "service.restart", "args": ["php8.4-fpm"]}, "depool": True,
                                         "check": {"command": "systemctl is-active php8.4-fpm", "attempts": 3, "interval": 1}}},
                "sal": {"udp": self.sal_address},
            },
            "links": dict(LINKS),
            "incident": {"state": str(self.state_dir / "incident.json")},  # this farm's own incident
        }
        header = (f"# opsconsole config for the simulated farm (scenario {self.scenario}, seed {self.seed}).\n"
                  f"# Secrets and the CA live in {self.state_dir}; they change every time the farm starts.\n")
        if not self.scale.is_default or any(self._latency.values()):
            header += f"# scale: {self.scale.describe()}; latency_ms: {max(self._latency.values()):g}\n"
        return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False, width=200)

    def curl_examples(self) -> list[str]:
        """One curl command per API (in APIS order); secrets are read from their files, never written out."""
        self._require_started()
        urls = self.urls
        ca = shlex.quote(str(self.ca_path))

        def cat(api: str) -> str:
            return f'"$(cat {shlex.quote(str(self.secret_path(api)))})"'

        examples = {
            "proxmox": (f"curl --cacert {ca} -H 'Authorization: PVEAPIToken={TOKEN_ID}='{cat('proxmox')} "
                        f"{urls['proxmox']}/api2/json/cluster/resources?type=vm"),
            "icinga": (f"curl --cacert {ca} -u {ICINGA_USER}:{cat('icinga')} -H 'Accept: application/json' "
                       f"-H 'X-HTTP-Method-Override: GET' -X POST "
                       "-d '{\"filter\": \"service.state != ServiceOK\", \"attrs\": [\"name\", \"state\", \"last_check_result\"], "
                       f"\"joins\": [\"host.name\"]}}' {urls['icinga']}/v1/objects/services"),
            "puppetdb": (f"curl --cacert {ca} -G {urls['puppetdb']}/pdb/query/v4/nodes "
                         "--data-urlencode 'query=[\"=\", \"latest_report_status\", \"failed\"]'"),
            "graylog": (f"curl --cacert {ca} -u {cat('graylog')}:token -H 'X-Requested-By: curl' "
                        "-H 'Content-Type: application/json' -X POST "
                        "-d '{\"query\": \"level:<=3\", \"timerange\": {\"type\": \"relative\", \"range\": 300}, "
                        f"\"fields\": [\"timestamp\", \"source\", \"message\"], \"size\": 20}}' {urls['graylog']}/api/search/messages"),
            "github": (f"curl -i --cacert {ca} -H \"Authorization: Bearer $(cat {shlex.quote(str(self.secret_path('github')))})\" "
                       f"'{urls['github']}/repos/miraheze/mw-config/commits?per_page=5'"),
            "salt": (f"curl --cacert {ca} -H 'Accept: application/json' {urls['salt']}/login "
                     f"-d username={SALT_USER} -d eauth={SALT_EAUTH} --data-urlencode password={cat('salt')}"),
        }
        return [examples[api] for api in APIS]

    def set_fault(self, api: str, fault: str | None, *, delay_ms: float | None = None) -> None:
        """One fault of console.sim.server.FAULTS (None clears) for one API or one cache (cp161...):
        None | "down" | "hang" | "slow" | "http500" | "http502" | "http503" | "malformed" | "wrong-shape" |
        "unauthorized" | "tls-mismatch". "slow" waits 2 s, or `delay_ms` ("slow:800" says the same)."""
        if api not in self._faults:
            raise ValueError(f"unknown API {api!r}; APIs are {', '.join(APIS)}; caches are {', '.join(self.cache_names)}")
        fault, seconds = parse_fault(fault, delay_ms)  # ValueError for an unknown fault or a bad delay
        self._faults[api] = fault
        self._delays[api] = seconds * 1000 if fault == "slow" else None
        if self._loop is not None:
            self._loop.call(self._servers[api].set_fault(fault, self._delays[api]))

    def set_latency(self, api: str, ms: float) -> None:
        """Every answer of one API or cache comes `ms` milliseconds late (0: at once); may be set before start()."""
        if api not in self._latency:
            raise ValueError(f"unknown API {api!r}; APIs are {', '.join(APIS)}; caches are {', '.join(self.cache_names)}")
        if ms < 0:
            raise ValueError("latency must be >= 0 ms")
        self._latency[api] = float(ms)
        if api in self._servers:
            self._servers[api].latency = ms / 1000

    def request_counts(self) -> dict[str, int]:
        """Requests each API and cache got since start() (what `GET /__sim/stats` answers, in-process)."""
        return {name: server.requests for name, server in self._servers.items()}

    def probe_request_count(self) -> int:
        """Requests the services' probes made (health endpoints and probe targets), kept out of request_counts()."""
        targets = self.probe_targets.requests() if self.probe_targets is not None else 0
        return targets + sum(server.probe_requests for server in self._servers.values())

    def faults(self) -> dict[str, str | None]:
        return dict(self._faults)

    def _require_started(self) -> None:
        if not self.running:
            raise RuntimeError("the simulated farm is not running; call start() first")
