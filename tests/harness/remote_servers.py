"""Real servers for the command executors: OpenSSH's sshd and Salt (master + minion mw151 + salt-api).

Both run a harmless fixture script as the "restart" command: it prints to stdout and stderr, leaves
a mark in a file, sleeps when asked (the timeout test) and exits with the status it is given.
Salt runs from its own virtualenv `.venv-salt` (scripts/test creates it), never the project's.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.realservers import ServerFailed, _stop_group, http, require_free, wait_until

SSHD_PORT = 2222
SALT_PUBLISH_PORT = 14505
SALT_RET_PORT = 14506
SALT_API_PORT = 18000
SALT_VENV = Path(__file__).resolve().parents[2] / ".venv-salt"
SALT_MINION = "mw151"
SALT_SILENT_MINION = "mw159"  # an accepted key whose minion never runs

RESTART_FIXTURE = """#!/bin/sh
# opsconsole test fixture: pretends to restart a service. Usage: restart-fixture NAME [STATUS] [SLEEP]
name=${1:-service}; status=${2:-0}; pause=${3:-0}
echo "restarting $name"
echo "$name restarted by $(id -un) with status $status" >> "$(dirname "$0")/marks.log"
echo "warning: $name is only a test fixture" >&2
if [ "$pause" != 0 ]; then sleep "$pause"; fi
if [ "$status" != 0 ]; then echo "failed to restart $name (status $status)" >&2; fi
echo "done"
exit "$status"
"""


def write_restart_fixture(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "restart-fixture"
    script.write_text(RESTART_FIXTURE)
    script.chmod(0o755)
    return script


@dataclass
class Sshd:
    """sshd on 127.0.0.1:SSHD_PORT with its own host key; root logs in with `client_key`.
    `known_hosts` lists the real host key; `other_host_key` is a second key (for the changed-key test)."""

    base: Path
    port: int = SSHD_PORT
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return self.base / "sshd"

    @property
    def client_key(self) -> Path:
        return self.root / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def fixture(self) -> Path:
        return self.root / "fixture" / "restart-fixture"

    @property
    def marks(self) -> Path:
        return self.fixture.parent / "marks.log"

    def host_key_line(self, key_file: str = "hostkey_ed25519.pub") -> str:
        """A known_hosts line for this server and the given public key."""
        kind, blob = (self.root / key_file).read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def start(self) -> None:
        require_free(self.port, "sshd")
        binary = shutil.which("sshd") or "/usr/sbin/sshd"
        if not Path(binary).exists() or shutil.which("ssh-keygen") is None:
            raise ServerFailed("sshd is not installed (scripts/test installs openssh-server)")
        root = self.root
        root.mkdir(parents=True)
        for name, comment in (("hostkey_ed25519", "host"), ("other_hostkey_ed25519", "other"), ("client_key", "opsconsole-test")):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(root / name)],
                           check=True, capture_output=True)
        shutil.copy(root / "client_key.pub", root / "authorized_keys")
        (root / "authorized_keys").chmod(0o600)
        self.known_hosts.write_text(self.host_key_line())
        write_restart_fixture(self.fixture.parent)
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root}/hostkey_ed25519\nPidFile {root}/sshd.pid\n"
            f"AuthorizedKeysFile {root}/authorized_keys\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        self.log = root / "sshd.log"
        self.process = subprocess.Popen([binary, "-D", "-e", "-f", str(root / "sshd_config")],
                                        stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 20) -> None:
        import socket

        def ready() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                return sock.recv(64).startswith(b"SSH-")

        wait_until(ready, timeout, "sshd", self.log, self.process)

    def stop(self) -> None:
        _stop_group(self.process)


@dataclass
class Salt:
    """salt-master, salt-minion `mw151` and salt-api (rest_cherrypy, plain HTTP) on non-default ports.
    eauth `sharedsecret` (user `saltapi`, `password`); a second accepted key, mw159, never runs."""

    base: Path
    api_port: int = SALT_API_PORT
    username: str = "saltapi"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    @property
    def root(self) -> Path:
        return self.base / "salt"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def fixture(self) -> Path:
        return self.root / "fixture" / "restart-fixture"

    @property
    def marks(self) -> Path:
        return self.fixture.parent / "marks.log"

    def start(self) -> None:
        for port, what in ((SALT_PUBLISH_PORT, "salt-master publish"), (SALT_RET_PORT, "salt-master ret"),
                           (self.api_port, "salt-api")):
            require_free(port, what)
        if not (SALT_VENV / "bin" / "salt-master").exists():
            raise ServerFailed(f"Salt is not installed in {SALT_VENV} (scripts/test creates it: salt + cherrypy)")
        root = self.root
        etc = root / "etc"
        etc.mkdir(parents=True)
        write_restart_fixture(self.fixture.parent)
        # Salt puts root_dir in front of every path it is given, so the paths below are written relative to it
        accepted = root / "root" / "pki" / "master" / "minions"
        accepted.mkdir(parents=True)
        keys = root / "silent-minion-keys"
        subprocess.run([str(SALT_VENV / "bin" / "salt-key"), "-c", str(etc), f"--gen-keys={SALT_SILENT_MINION}",
                        f"--gen-keys-dir={keys}"], check=True, capture_output=True)
        shutil.copy(keys / f"{SALT_SILENT_MINION}.pub", accepted / SALT_SILENT_MINION)
        common = f"root_dir: {root}/root\nuser: root\n"
        (etc / "master").write_text(
            common + f"interface: 127.0.0.1\npublish_port: {SALT_PUBLISH_PORT}\nret_port: {SALT_RET_PORT}\n"
            "pki_dir: /pki/master\nlog_file: /master.log\napi_logfile: /api.log\n"
            "auto_accept: True\nworker_threads: 2\ngather_job_timeout: 3\n"
            f"external_auth:\n  sharedsecret:\n    {self.username}: ['.*', '@runner', '@jobs']\n"
            f"sharedsecret: {self.password}\n"
            "netapi_enable_clients: [local, local_async, runner]\n"
            f"rest_cherrypy:\n  host: 127.0.0.1\n  port: {self.api_port}\n  disable_ssl: True\n"
        )
        (etc / "minion").write_text(
            common + f"master: 127.0.0.1\nmaster_port: {SALT_RET_PORT}\npublish_port: {SALT_PUBLISH_PORT}\n"
            f"id: {SALT_MINION}\npki_dir: /pki/minion\nlog_file: /minion.log\nacceptance_wait_time: 1\n"
        )
        for daemon in ("master", "minion", "api"):
            log = (root / f"{daemon}.out").open("wb")
            self.processes[daemon] = subprocess.Popen(
                [str(SALT_VENV / "bin" / f"salt-{daemon}"), "-c", str(etc), "-l", "warning"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def ping(self) -> bool:
        status, body = http("POST", f"{self.url}/run", [{
            "client": "local", "tgt": SALT_MINION, "fun": "test.ping", "timeout": 3,
            "username": self.username, "password": self.password, "eauth": "sharedsecret"}], timeout=15)
        return status == 200 and isinstance(body, dict) and body.get("return", [{}])[0].get(SALT_MINION) is True

    def wait_ready(self, timeout: float = 180) -> None:
        for daemon, process in self.processes.items():
            if process.poll() is not None:
                raise ServerFailed(f"salt-{daemon} exited with status {process.returncode}")
        wait_until(self.ping, timeout, "Salt (salt-api answering, minion mw151 returning)",
                   self.root / "root" / "master.log", self.processes["api"])

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            _stop_group(process, timeout=30)
