"""Typed, validated configuration. Every error names the file, the YAML line and the key path.

Secrets are only ever `{env: NAME}` or `{file: PATH}`; their values are resolved at load time into
`Secret` objects that never print their value, and no error message echoes an input value.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

# pydantic looks up plugins in every installed distribution's metadata when the first model is built
# (~25 ms); the console uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import yaml  # noqa: E402
from pydantic import (  # noqa: E402
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from console.core import files  # noqa: E402
from console.core.config_file import (  # noqa: E402 - re-exported: the file's reading and its errors  # noqa: E402
    DEFAULT_ENVIRONMENT,
    DEFAULT_THEME,
    ConfigDocument,
    ConfigError,
    ConfigIssue,
    Loc,
    dotted,
    find_config_path,
    is_production_environment,
    line_of,
    parse_document,
    read_document,
    template_fields,
)

# --- secrets -----------------------------------------------------------------------------------


class Secret:
    """A resolved secret. `reveal()` is the only way to its value; repr and str show where it came from."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.origin})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.origin)


def _parse_secret(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, dict) or len(value) != 1 or not ({"env", "file"} & value.keys()):
        # Never echo the value: it may be a secret pasted inline.
        raise ValueError("a secret must be {env: NAME} or {file: PATH}, never written inline")
    (how, where), = value.items()
    if not isinstance(where, str) or not where:
        raise ValueError(f"secret {how}: must be a non-empty string")
    if how == "env":
        if where not in os.environ:
            raise ValueError(f"environment variable {where} is not set")
        return Secret(os.environ[where], f"env:{where}")
    path = Path(where).expanduser()
    try:  # a regular file (never a FIFO, a device, /proc or /dev), checked on the opened descriptor
        fd = files.open_regular(path, forbidden=files.SPECIAL_ROOTS)
        try:
            info = os.fstat(fd)
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                mode = stat.S_IMODE(info.st_mode)
                raise ValueError(f"secret file {path} is readable by group or others (mode {mode:04o}); chmod 600 it")
            data = files.read_open(fd, path, files.SECRET_MAX)
        finally:
            os.close(fd)
    except files.FileRefused as exc:
        raise ValueError(f"secret file {exc}") from None
    except OSError as exc:
        raise ValueError(f"secret file {path} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"secret file {path} is empty")
    return Secret(text, f"file:{path}")


SecretValue = Annotated[Secret, PlainValidator(_parse_secret)]


def _parse_verify(value: Any) -> bool | str:
    """`verify`: true (system CAs), false (no verification, shown as a warning), or a CA bundle path."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value:
        path = Path(value).expanduser()
        _check_certificate(path, "CA bundle ")
        return str(path)
    raise ValueError("must be true, false or the path of a CA bundle")


Verify = Annotated[bool | str, PlainValidator(_parse_verify)]


def _check_certificate(path: Path, what: str = "") -> None:
    """A certificate (or key) file the TLS library will read: a regular file of at most CERT_MAX."""
    try:
        files.check_file(path, files.CERT_MAX)
    except FileNotFoundError:
        raise ValueError(f"{what}{path} does not exist") from None
    except files.FileRefused as exc:
        raise ValueError(f"{what}{exc}") from None
    except OSError as exc:
        raise ValueError(f"{what}{path} cannot be read: {exc.strerror}") from None


# --- sections ----------------------------------------------------------------------------------

def _pattern(regex: str, expected: str) -> AfterValidator:
    """A validator with a message that says what is expected (pydantic's would print the regex)."""
    compiled = re.compile(regex)

    def check(value: Any) -> Any:
        if value is not None and not (isinstance(value, str) and compiled.fullmatch(value)):
            raise ValueError(f"must be {expected}")
        return value

    return AfterValidator(check)


SourceName = Annotated[str, _pattern(r"[a-z0-9][a-z0-9_.-]*", "lowercase letters, digits, '-', '_' or '.'")]
TokenId = Annotated[str, _pattern(r"[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9_.-]*", "USER@REALM!TOKENID")]
GitHubRepo = Annotated[str, _pattern(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", "OWNER/REPO")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class FarmConfig(Section):
    name: str = Field(min_length=1)
    environment: str = Field(default=DEFAULT_ENVIRONMENT, min_length=1)
    domains: list[str] = Field(default_factory=list)


# A source's biggest answer at 5,000 guests / 40,000 checks is Icinga's problems query with every check
# failing; the default cap leaves it ample room (a bigger farm raises sources.max_answer_mib).
DEFAULT_MAX_ANSWER_MIB = 160


class SourceConfig(Section):
    name: SourceName
    verify: Verify = True
    timeout: float = Field(default=5.0, gt=0, le=300)
    interval: float = Field(default=30.0, gt=0, le=86400)
    max_answer_mib: int = Field(default=DEFAULT_MAX_ANSWER_MIB, ge=1, le=4096)  # a bigger answer fails the request


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
    if not parts.hostname:
        raise ValueError("URL has no host")
    if parts.username or parts.password:
        raise ValueError("URL must not carry credentials; use the source's secret keys")
    try:
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise ValueError("URL has an invalid port") from None
    return value.rstrip("/")


class HttpSourceConfig(SourceConfig):
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"))


class ProxmoxConfig(HttpSourceConfig):
    token_id: TokenId
    token_secret: SecretValue
    interval: float = Field(default=10.0, gt=0, le=86400)

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        return _check_url(value, ("https",))  # proxmoxer always speaks HTTPS


class PuppetDBConfig(HttpSourceConfig):
    stale_after: float = Field(default=3600.0, gt=0)  # seconds without a report before a node is stale
    client_cert: str | None = None  # PuppetDB's TLS port (8081) wants a client certificate ...
    client_key: str | None = None  # ... and its key (owner-only, like any secret file)
    # A fact whose value, when set (a message, or true), says the agent is disabled and why,
    # e.g. a custom fact reading the agent's disable lock: `puppet_agent_disabled_message`.
    disabled_fact: str | None = Field(default=None, min_length=1)

    @field_validator("client_cert", "client_key")
    @classmethod
    def _exists(cls, value: str | None) -> str | None:
        if value is not None:
            _check_certificate(Path(value).expanduser())
        return value

    @field_validator("client_key")
    @classmethod
    def _private(cls, value: str | None) -> str | None:
        if value is not None and Path(value).expanduser().stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"{value} is readable by group or others; chmod 600 it")
        return value

    @model_validator(mode="after")
    def _cert_and_key(self) -> PuppetDBConfig:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("give both client_cert and client_key, or neither")
        return self


class IcingaConfig(HttpSourceConfig):
    username: str = Field(min_length=1)
    password: SecretValue
    interval: float = Field(default=15.0, gt=0, le=86400)
    stream: bool = True  # follow /v1/events between polls (state changes, acks, downtimes at once)


class GraylogConfig(HttpSourceConfig):
    token: SecretValue
    query: str = "level:<=3"  # what the error-level messages look like on this farm
    range: int = Field(default=300, gt=0)  # seconds of messages per refresh
    events: bool = True  # also fetch Graylog's alert events (/api/events/search) for the Alerts pane
    events_range: int = Field(default=1800, gt=0)  # seconds of alert events per refresh


class CommitsConfig(SourceConfig):
    github: GitHubRepo | None = None
    git: str | None = None
    api_url: str = "https://api.github.com"
    token: SecretValue | None = None
    branch: str | None = None
    limit: int = Field(default=30, gt=0, le=100)
    interval: float = Field(default=60.0, gt=0, le=86400)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"))

    @field_validator("git")
    @classmethod
    def _git(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_dir():
            raise ValueError(f"git repository {value} does not exist")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> CommitsConfig:
        if (self.github is None) == (self.git is None):
            raise ValueError("give exactly one of github: OWNER/REPO or git: PATH")
        return self

    @property
    def repo_label(self) -> str:
        return self.github or Path(self.git or "").name


class SourcesConfig(Section):
    proxmox: list[ProxmoxConfig] = Field(default_factory=list)
    puppetdb: list[PuppetDBConfig] = Field(default_factory=list)
    icinga: list[IcingaConfig] = Field(default_factory=list)
    graylog: list[GraylogConfig] = Field(default_factory=list)
    commits: list[CommitsConfig] = Field(default_factory=list)

    def all(self) -> list[tuple[str, SourceConfig]]:
        """Every configured source as (kind, config), in a stable order."""
        return [(kind, item) for kind in type(self).model_fields for item in getattr(self, kind)]


# --- service probes (console/sources/probes.py): what Icinga does not cover, or when it is down ---

PROBE_KINDS = ("http", "tcp", "redis", "memcached", "dns")


def _parse_expect(value: Any) -> tuple[int, ...]:
    """`expect`: one HTTP status or a list of them (e.g. [200, 204])."""
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in values):
        raise ValueError("must be an HTTP status (100-599) or a list of them")
    return tuple(values)


Port = Annotated[int, Field(gt=0, lt=65536)]


class ProbeBase(Section):
    name: str | None = Field(default=None, min_length=1)  # the label shown; default: from the target
    timeout: float = Field(default=3.0, gt=0, le=60)


class HttpProbeConfig(ProbeBase):
    """GET `url`; healthy when the status is one of `expect` (and the body contains `contains`)."""

    kind: Literal["http"]
    url: str
    host_header: str | None = Field(default=None, min_length=1)  # e.g. health.wikitide.net for Varnish /check
    expect: Annotated[tuple[int, ...], PlainValidator(_parse_expect)] = (200,)
    contains: str | None = Field(default=None, min_length=1)  # e.g. ALIVE (Graylog), running (Puppetserver)
    verify: Verify = True

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"))


class TcpProbeConfig(ProbeBase):
    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: Port


class RedisProbeConfig(ProbeBase):
    """AUTH (when a password is given), then PING: healthy on +PONG."""

    kind: Literal["redis"]
    host: str = Field(min_length=1)
    port: Port = 6379
    password: SecretValue | None = None


class MemcachedProbeConfig(ProbeBase):
    kind: Literal["memcached"]
    host: str = Field(min_length=1)
    port: Port = 11211


class DnsProbeConfig(ProbeBase):
    """A SOA query for `zone` over UDP to `server`: healthy on an answer with the zone's serial."""

    kind: Literal["dns"]
    server: str = Field(min_length=1)
    port: Port = 53
    zone: str = Field(min_length=1)


ProbeConfig = Annotated[
    HttpProbeConfig | TcpProbeConfig | RedisProbeConfig | MemcachedProbeConfig | DnsProbeConfig,
    Field(discriminator="kind"),
]


class ServiceConfig(Section):
    name: str = Field(min_length=1)
    hosts: str = Field(min_length=1)  # a glob over host names, "mw*"
    checks: list[str] = Field(default_factory=list)  # Icinga service names that tell its state
    probes: list[ProbeConfig] = Field(default_factory=list)  # run by the console itself (console/sources/probes.py)


HOST_PLACEHOLDERS = ("host", "fqdn", "node", "vmid")


def _check_host_template(value: str | None) -> str | None:
    """A template naming only {host} {fqdn} {node} {vmid} (a typo would make every link fail)."""
    if value is None:
        return value
    try:
        names = template_fields(value)
    except ValueError:
        raise ValueError("unbalanced { or } (write {{ or }} for a literal brace)") from None
    unknown = [name for name in names if name not in HOST_PLACEHOLDERS]
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; use {{host}} {{fqdn}} {{node}} {{vmid}}")
    return value


HostTemplate = Annotated[str, AfterValidator(_check_host_template)]


class LinksConfig(Section):
    """URL templates; placeholders: {host} {fqdn} {node} {vmid}."""

    proxmox: HostTemplate | None = None
    graylog: HostTemplate | None = None
    icinga: HostTemplate | None = None
    grafana: HostTemplate | None = None


class SshConfig(Section):
    """`s` on a host: the console suspends and runs `command` + the filled `target` (no shell), with
    the user's own ssh-agent and ~/.ssh/config."""

    command: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=lambda: ["ssh"], min_length=1)
    target: HostTemplate = Field(default="{fqdn}", min_length=1)


class CacheConfig(Section):
    """One Varnish cache that purges and bans go to (e.g. cp161 on :81, behind HAProxy's TLS)."""

    name: SourceName
    url: str  # the cache's own address: requests go here, with the purged URL's Host header
    verify: Verify = True
    timeout: float = Field(default=5.0, gt=0, le=300)
    depool: str | None = None  # its depool service, when not at its host + actions.depool.port

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = _check_url(value, ("http", "https"))
        if urlsplit(value).path not in ("", "/") or urlsplit(value).query:
            raise ValueError("give the cache's address only (scheme://host:port), without a path")
        return value

    @field_validator("depool")
    @classmethod
    def _depool(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = _check_url(value, ("http", "https")).rstrip("/")
        if urlsplit(value).query:
            raise ValueError("give the depool service's address (scheme://host:port), without a query")
        return value


def _default_audit_path() -> str:
    state = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return str(Path(state) / "opsconsole" / "audit.jsonl")


class AuditConfig(Section):
    path: str = Field(default_factory=_default_audit_path, min_length=1)  # append-only JSONL, created 0600


def _parse_udp_address(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be HOST:PORT")
    host, sep, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]:5071
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        raise ValueError("must be HOST:PORT (a port between 1 and 65535)")
    return value


class SalConfig(Section):
    """The Server Admin Log relay: one `!log [user@host] ...` line per action, over UDP."""

    udp: Annotated[str, PlainValidator(_parse_udp_address)]


class GelfConfig(Section):
    """A Graylog GELF HTTP input (e.g. https://graylog161:12201/gelf): one JSON message per action."""

    url: str
    verify: Verify = True
    timeout: float = Field(default=5.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"))


HostGlob = Annotated[str, _pattern(r"[A-Za-z0-9_.*?\[\]-]+", "a glob over short host names, e.g. 'mw*'")]


class SshExecutorConfig(Section):
    """Commands over SSH (asyncssh). Host keys are always checked against `known_hosts`: an unknown
    or changed key refuses the step. No key file = the user's ssh-agent."""

    user: str = Field(default="opsconsole", min_length=1)
    port: int = Field(default=22, gt=0, lt=65536)
    key: str | None = None  # a private key file (chmod 600); absent: the agent (SSH_AUTH_SOCK)
    known_hosts: str = "~/.ssh/known_hosts"
    target: HostTemplate = Field(default="{fqdn}", min_length=1)  # the address connected to
    connect_timeout: float = Field(default=10.0, gt=0, le=300)


class SaltExecutorConfig(Section):
    """Commands through the Salt API (rest_cherrypy): login once, reuse the token, renew it when expired."""

    url: str
    username: str = Field(min_length=1)
    password: SecretValue
    eauth: str = Field(default="pam", min_length=1)
    verify: Verify = True
    timeout: float = Field(default=30.0, gt=0, le=3600)  # a minion silent for this long "did not return"
    target: HostTemplate = Field(default="{fqdn}", min_length=1)  # the minion id of a host

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"))


class SaltCallConfig(Section):
    """A Salt function to call instead of `cmd.run` of the command line, e.g. service.restart php8.4-fpm."""

    function: Annotated[str, _pattern(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", "MODULE.FUNCTION, e.g. service.restart")]
    args: list[str] = Field(default_factory=list)


class HealthCheckConfig(Section):
    """Is the service healthy again after a restart: an HTTP GET (status == expect) or a command (exit 0).
    Placeholders {host} {fqdn} {node} {vmid}. Tried `attempts` times, `interval` seconds apart."""

    http: HostTemplate | None = None
    host_header: str | None = None  # e.g. health.wikitide.net
    expect: int = Field(default=200, ge=100, le=599)
    command: str | None = None  # run through the executor; must itself be allow-listed by being here
    attempts: int = Field(default=5, ge=1, le=100)
    interval: float = Field(default=2.0, ge=0, le=300)
    timeout: float = Field(default=5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one(self) -> HealthCheckConfig:
        if (self.http is None) == (self.command is None):
            raise ValueError("give exactly one of http: and command:")
        return self


class ServiceActionConfig(Section):
    """One allow-listed service: the only commands the console will run for it, and on which hosts."""

    hosts: HostGlob  # the hosts it may run on
    restart: str = Field(min_length=1)  # the command line, run as is (no operator input is ever spliced in)
    salt: SaltCallConfig | None = None  # with the salt executor: this function instead of cmd.run `restart`
    depool: bool = False  # depool the host from every cache before, repool after
    check: HealthCheckConfig | None = None
    timeout: float = Field(default=120.0, gt=0, le=3600)


class DepoolConfig(Section):
    """How an app server is taken out of the caches: the farm's depool service on each cache host
    (`POST /backend/<host>/<sick|healthy|auto>` with an X-TOTP header), or varnishadm backend.set_health."""

    method: str = Field(default="service", pattern="^(service|varnishadm)$")
    port: int = Field(default=5001, gt=0, lt=65536)  # the depool service's port on each cache (actions.caches)
    scheme: str = Field(default="http", pattern="^(http|https)$")
    verify: Verify = True
    totp_secret: SecretValue | None = None  # base32, RFC 6238 (30 s, 6 digits, SHA-1)
    varnishadm: list[str] = Field(default_factory=lambda: ["sudo", "varnishadm"])  # run on each cache via the executor
    timeout: float = Field(default=10.0, gt=0, le=300)
    # seconds between two reads of every cache's backend list (the `backends` source: depooled hosts
    # in the panes); 0 = never in the background. The `service` method only (varnishadm needs a write session)
    list_interval: float = Field(default=30.0, ge=0, le=3600)


class RollingConfig(Section):
    """Defaults of a rolling restart (each can be changed on the action screen)."""

    batch: int = Field(default=1, ge=1, le=100)
    failure_budget: int = Field(default=1, ge=0, le=100)  # failed hosts allowed before the run stops
    downtime: float = Field(default=900.0, ge=0, le=86400)  # seconds of Icinga downtime per host; 0 = none
    settle: float = Field(default=5.0, ge=0, le=600)  # seconds to wait after repool before the next batch


class LocksConfig(Section):
    """Per-target locks shared by every operator: a directory on the bastion, or Redis (several bastions)."""

    dir: str = Field(default_factory=lambda: os.environ.get("OPSCONSOLE_LOCK_DIR") or "/run/lock/opsconsole", min_length=1)
    redis: str | None = None  # redis://HOST:PORT/DB; when set, locks live there instead
    redis_password: SecretValue | None = None
    ttl: float = Field(default=3600.0, gt=0, le=86400)  # a Redis lock expires after this long unless renewed


class ProxmoxActionsConfig(Section):
    """Guest power actions: the proxmox source to act through, with a token that may (VM.PowerMgmt)."""

    source: SourceName | None = None  # default: the first proxmox source
    token_id: TokenId | None = None  # default: the source's own token
    token_secret: SecretValue | None = None
    task_timeout: float = Field(default=300.0, gt=0, le=3600)


class PuppetActionsConfig(Section):
    """The Puppet agent commands, run through the executor. {reason} is passed as one quoted argument."""

    run: str = "sudo puppet agent -tv"
    disable: str = "sudo puppet agent --disable {reason}"
    enable: str = "sudo puppet agent --enable"
    timeout: float = Field(default=900.0, gt=0, le=7200)


class ActionsConfig(Section):
    """The safe actions: only what is configured here can run (purge/ban need caches; Icinga
    actions need an icinga source). Unknown keys are errors."""

    caches: list[CacheConfig] = Field(default_factory=list)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    sal: SalConfig | None = None
    gelf: GelfConfig | None = None
    icinga: SourceName | None = None  # the icinga source to act through; default: the first one
    timeout: float = Field(default=10.0, gt=0, le=300)  # seconds one Icinga action request may take
    executor: str | None = Field(default=None, pattern="^(ssh|salt)$")  # who runs commands; none = no command actions
    ssh: SshExecutorConfig = Field(default_factory=SshExecutorConfig)
    salt: SaltExecutorConfig | None = None
    services: dict[str, ServiceActionConfig] = Field(default_factory=dict)  # the allow-list of commands
    depool: DepoolConfig = Field(default_factory=DepoolConfig)
    rolling: RollingConfig = Field(default_factory=RollingConfig)
    locks: LocksConfig = Field(default_factory=LocksConfig)
    proxmox: ProxmoxActionsConfig = Field(default_factory=ProxmoxActionsConfig)
    puppet: PuppetActionsConfig = Field(default_factory=PuppetActionsConfig)


# Keys the console keeps for itself (panes, refresh, help, quit, the table's moves) and the safe
# actions' keys: a rebinding may not take them.
RESERVED_KEYS = frozenset(
    {"1", "2", "3", "4", "tab", "shift+tab", "enter", "escape", "r", "q", "?", "question_mark", "j", "k", "g", "G",
     "up", "down", "left", "right", "pageup", "pagedown", "a", "P", "A", "D", "W", "t", "h", "L", "i"}
)  # fmt: skip
KEY_NAME = re.compile(r"^(?:(?:shift|alt|meta)\+)?(?:[!-~]|[a-z][a-z0-9_]+|f\d{1,2})$")


class KeysConfig(Section):
    """The triage keys (k9s's grammar by default). One key each, distinct; never ctrl+ (nothing on
    ctrl+letter but Textual's own), never a key the console keeps."""

    filter: str = "/"
    jump: str = ":"
    sort: str = "S"
    mark: str = "space"
    pause: str = "p"

    @field_validator("*")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY_NAME.match(value):
            raise ValueError(f"{value!r} is not a key name (e.g. '/', 'S', 'space', 'f5', 'alt+f')")
        if value in RESERVED_KEYS:
            raise ValueError(f"{value!r} is already taken by the console")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> KeysConfig:
        seen: dict[str, str] = {}
        for name, key in self.model_dump().items():
            if key in seen:
                raise ValueError(f"{name} and {seen[key]} are both on {key!r}")
            seen[key] = name
        return self


class UiConfig(Section):
    theme: str = DEFAULT_THEME  # themes/*.yaml (dark, light, high-contrast, colorblind), ~/.config/opsconsole/themes/*.yaml or Textual's
    keys: KeysConfig = Field(default_factory=KeysConfig)


def _default_incident_path() -> str:
    state = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return str(Path(state) / "opsconsole" / "incident.json")


class IncidentConfig(Section):
    """Incident mode (`i`, :timeline, `opsconsole incident export`) and the leftovers board (:leftovers)."""

    state: str = Field(default_factory=_default_incident_path, min_length=1)  # the open incident, JSON
    audit: list[str] = Field(default_factory=list)  # other operators' audit files to read actions from (shared)
    puppet_disabled_hours: float = Field(default=4.0, gt=0, le=24 * 366)  # leftovers: agent disabled this long
    lock_minutes: float = Field(default=30.0, gt=0, le=24 * 60 * 366)  # leftovers: lock held this long
    downtime_soon_minutes: float = Field(default=30.0, gt=0, le=24 * 60)  # leftovers: downtime ending this soon


class AppConfig(Section):
    farm: FarmConfig
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    services: list[ServiceConfig] = Field(default_factory=list)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    links: LinksConfig = Field(default_factory=LinksConfig)
    ssh: SshConfig = Field(default_factory=SshConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    incident: IncidentConfig = Field(default_factory=IncidentConfig)


# --- loading -----------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str]) -> AppConfig:
    """Read, parse and validate one config file; raise ConfigError listing every problem."""
    return validate_document(read_document(path))


def parse_config(text: str, label: str = "<config>") -> AppConfig:
    return validate_document(parse_document(text, label))


def validate_document(document: ConfigDocument) -> AppConfig:
    """The validated config of a parsed file; raise ConfigError listing every problem."""
    root, label = document.root, document.label
    try:
        config = AppConfig.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(_issues_from(exc, root, label)) from None
    duplicates = _duplicate_source_names(config, root, label) + _action_issues(config, root, label)
    if duplicates:
        raise ConfigError(duplicates)
    return config


def _action_issues(config: AppConfig, root: yaml.Node, label: str) -> list[ConfigIssue]:
    """Cache names are unique; `actions.icinga` names a configured icinga source."""
    issues = []
    seen: set[str] = set()
    loc: Loc
    for index, cache in enumerate(config.actions.caches):
        if cache.name in seen:
            loc = ("actions", "caches", index, "name")
            issues.append(ConfigIssue(label, line_of(root, loc), dotted(loc), f"duplicate cache name {cache.name!r}"))
        seen.add(cache.name)
    wanted = config.actions.icinga
    if wanted is not None and wanted not in {item.name for item in config.sources.icinga}:
        loc = ("actions", "icinga")
        known = ", ".join(item.name for item in config.sources.icinga) or "none is configured"
        issues.append(ConfigIssue(label, line_of(root, loc), dotted(loc), f"no icinga source named {wanted!r} ({known})"))
    if config.actions.executor == "salt" and config.actions.salt is None:
        loc = ("actions", "executor")
        issues.append(ConfigIssue(label, line_of(root, loc), dotted(loc), "executor 'salt' needs an actions.salt section"))
    for name in config.actions.services:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name):
            loc = ("actions", "services", name)
            issues.append(ConfigIssue(label, line_of(root, loc), dotted(loc),
                                      "a service name must be lowercase letters, digits, '-', '_' or '.'"))
    wanted_pve = config.actions.proxmox.source
    if wanted_pve is not None and wanted_pve not in {item.name for item in config.sources.proxmox}:
        loc = ("actions", "proxmox", "source")
        issues.append(ConfigIssue(label, line_of(root, loc), dotted(loc), f"no proxmox source named {wanted_pve!r}"))
    return issues


def _issues_from(exc: ValidationError, root: yaml.Node, label: str) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = _without_probe_kind(tuple(err["loc"]))
        if err["type"] in ("union_tag_not_found", "union_tag_invalid"):  # a probe's `kind`
            loc, err = (*loc, "kind"), {**err, "msg": f"must be one of {', '.join(PROBE_KINDS)}"}
        if err["type"] == "union_tag_not_found":
            message = "required key is missing"
        elif err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        else:
            message = err["msg"].removeprefix("Value error, ")
        issues.append(ConfigIssue(label, line_of(root, loc), dotted(loc), message))
    return sorted(issues, key=lambda i: i.line)


def _without_probe_kind(loc: Loc) -> Loc:
    """pydantic puts a discriminated union's tag in the path (probes[0].http.url); the file has no such key."""
    return tuple(part for i, part in enumerate(loc)
                 if not (part in PROBE_KINDS and i >= 2 and isinstance(loc[i - 1], int) and loc[i - 2] == "probes"))


def _duplicate_source_names(config: AppConfig, root: yaml.Node, label: str) -> list[ConfigIssue]:
    """Source names are unique across kinds; the later one in the file is the error."""
    located = []
    for kind in SourcesConfig.model_fields:
        for index, item in enumerate(getattr(config.sources, kind)):
            loc = ("sources", kind, index, "name")
            located.append((line_of(root, loc), loc, item.name))
    seen: dict[str, str] = {}
    issues = []
    for line, loc, name in sorted(located, key=lambda entry: entry[0]):
        if name in seen:
            message = f"duplicate source name {name!r} (also used in {seen[name]})"
            issues.append(ConfigIssue(label, line, dotted(loc), message))
        else:
            seen[name] = dotted(loc[:-1])
    return issues


def secret_values(config: AppConfig) -> list[str]:
    """Every resolved secret value in the config (for tests that grep outputs for leaks)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Secret):
            found.append(value.reveal())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(config)
    return found


def is_production(config: AppConfig) -> bool:
    return is_production_environment(config.farm.environment)


__all__ = [
    "KeysConfig",
    "ActionsConfig",
    "AppConfig",
    "CacheConfig",
    "CommitsConfig",
    "ConfigError",
    "ConfigIssue",
    "GraylogConfig",
    "IcingaConfig",
    "ProxmoxConfig",
    "PuppetDBConfig",
    "Secret",
    "ServiceConfig",
    "SshConfig",
    "ConfigDocument",
    "find_config_path",
    "load_config",
    "parse_config",
    "parse_document",
    "read_document",
    "validate_document",
]
