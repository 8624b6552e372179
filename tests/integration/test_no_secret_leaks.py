"""No secret ever leaves the console: the simulated farm's real secrets (read from its secret files)
are grepped for in everything the console writes — `status` (JSON and table), config error messages,
the audit file, SAL datagrams and GELF bodies of a purge and an ack run through the CLI with --write
--yes, the CLI's --json and --dry-run output, and the TUI's screens. Plus a static check that TLS
verification is switched off in exactly one, documented place."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from console.sim.icinga_api import USERNAME as ICINGA_USER

pytestmark = pytest.mark.sim

REPO = Path(__file__).resolve().parents[2]
MAIN_PAGE = "https://meta.miraheze.org/wiki/Main_Page"


def farm_secrets(farm) -> list[str]:
    """Every secret of the farm, as written in its files and as it travels (Basic credentials)."""
    raw = {api: farm.secret_path(api).read_text().strip() for api in ("proxmox", "icinga", "graylog", "github")}
    assert all(len(value) >= 20 for value in raw.values())
    basic = [
        base64.b64encode(f"{ICINGA_USER}:{raw['icinga']}".encode()).decode(),
        base64.b64encode(f"{raw['graylog']}:token".encode()).decode(),
    ]
    return [*raw.values(), *basic]


def assert_no_secret(text: str, secrets: list[str], what: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret leaked into {what}"


class Sinks:
    """A UDP socket for the SAL relay and a loopback HTTP server for GELF, both recording what came."""

    def __init__(self) -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.gelf: list[bytes] = []
        self.gelf_headers: list[str] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                sink.gelf.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                sink.gelf_headers.append(str(self.headers))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def sal_address(self) -> str:
        return "127.0.0.1:%d" % self.udp.getsockname()[1]

    @property
    def gelf_url(self) -> str:
        return "http://127.0.0.1:%d/gelf" % self.http.server_address[1]

    def datagrams(self) -> list[bytes]:
        found = []
        while True:
            try:
                found.append(self.udp.recv(65536))
            except (TimeoutError, socket.timeout):
                return found

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.udp.close()


@pytest.fixture
def leak_farm(sim_farm_factory, tmp_path):
    """(farm, config path with SAL and GELF pointed at our sinks, the sinks, the secrets)."""
    farm = sim_farm_factory(scenario="php-fpm-down")
    sinks = Sinks()
    document = yaml.safe_load(farm.config_yaml())
    document["actions"]["sal"] = {"udp": sinks.sal_address}
    document["actions"]["gelf"] = {"url": sinks.gelf_url, "timeout": 2}
    path = tmp_path / "farm.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    yield farm, path, sinks, farm_secrets(farm)
    sinks.close()
    farm.stop()


def cli(path: Path, *args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), "SUDO_USER": "alice"}
    return subprocess.run([sys.executable, "-m", "console", "--config", str(path), *args],
                          capture_output=True, text=True, timeout=60, env=env)  # fmt: skip


def test_status_and_actions_output_audit_sal_and_gelf_carry_no_secret(leak_farm, tmp_path):
    farm, path, sinks, secrets = leak_farm
    home = tmp_path / "home"
    outputs: dict[str, str] = {}

    farm.set_fault("icinga", "unauthorized")  # an error message too: the 401 path must not echo the password
    for name, args in {"status --json": ("status", "--json"), "status": ("status",)}.items():
        done = cli(path, *args, home=home)
        assert done.returncode == 1, done.stderr
        outputs[name] = done.stdout + done.stderr
    farm.set_fault("icinga", None)
    assert "authentication failed (HTTP 401)" in outputs["status --json"]

    purge = ("purge", MAIN_PAGE, "--reason", "vandalism cleanup", "--task", "T12345")
    ack = ("ack", "mw152!PHP-FPM", "--reason", "OOM, looking", "--sticky")
    runs = {
        "purge --dry-run": (*purge, "--dry-run"),
        "purge --dry-run --json": (*purge, "--dry-run", "--json"),
        "ack --dry-run --json": (*ack, "--dry-run", "--json"),
        "purge --write --yes": (*purge, "--write", "--yes"),
        "ack --write --yes --json": (*ack, "--write", "--yes", "--json"),
    }
    for name, args in runs.items():
        done = cli(path, *args, home=home)
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        outputs[name] = done.stdout + done.stderr
    assert "PURGE http://127.0.0.1:" in outputs["purge --dry-run"]
    json.loads(_first_json(outputs["ack --write --yes --json"]))

    audit = (farm.state_dir / "audit.jsonl").read_text()
    datagrams = sinks.datagrams()
    assert any(b"purged https://meta.miraheze.org/wiki/Main_Page" in d for d in datagrams), datagrams
    assert any(b"mw152" in d for d in datagrams), datagrams
    assert len(sinks.gelf) >= 2 and all(json.loads(body) for body in sinks.gelf)
    assert len(audit.splitlines()) >= 4

    everything = {
        **outputs,
        "audit file": audit,
        "SAL datagrams": b"\n".join(datagrams).decode("utf-8", "replace"),
        "GELF bodies": b"\n".join(sinks.gelf).decode("utf-8", "replace"),
        "GELF headers": "\n".join(sinks.gelf_headers),
    }
    for what, text in everything.items():
        assert_no_secret(text, secrets, what)
        assert "Traceback" not in text, what


def _first_json(text: str) -> str:
    """The JSON document at the start of a CLI's output."""
    return text[: json.JSONDecoder().raw_decode(text)[1]]


def test_config_errors_next_to_real_secrets_do_not_echo_them(leak_farm, tmp_path):
    farm, path, _, secrets = leak_farm
    text = path.read_text()
    icinga_secret = farm.secret_path("icinga").read_text().strip()
    # the real secret written inline, a URL carrying it, and a secret file others could read
    loose = tmp_path / "loose.secret"
    loose.write_text(farm.secret_path("graylog").read_text())
    loose.chmod(0o644)
    document = yaml.safe_load(text)
    document["sources"]["icinga"][0]["password"] = icinga_secret
    document["sources"]["puppetdb"][0]["url"] = document["sources"]["puppetdb"][0]["url"].replace(
        "https://", f"https://u:{secrets[0]}@")
    document["sources"]["graylog"][0]["token"] = {"file": str(loose)}
    document["sources"]["proxmox"][0]["timeout"] = "soon"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document, sort_keys=False))
    for args in (("check-config", str(broken)), ("--config", str(broken), "status", "--json")):
        done = subprocess.run([sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) >= 4 and all(re.match(rf"{re.escape(str(broken))}:\d+: ", line) for line in lines), lines
        assert "Traceback" not in done.stderr
        assert_no_secret(done.stdout + done.stderr, secrets, f"config errors of {args[0]}")


async def test_tui_screens_carry_no_secret(leak_farm):
    from console.core.config import load_config
    from console.ui.app import OpsConsoleApp

    farm, path, _, secrets = leak_farm
    farm.set_fault("graylog", "unauthorized")  # a failing source's message on screen, too
    app = OpsConsoleApp(load_config(path), identity="ops@bast161")
    screens: list[str] = []
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(200):
            if all(state.last is not None for state in app.store.states()):
                break
            await pilot.pause(0.05)
        assert all(state.last is not None for state in app.store.states())
        await pilot.pause(0.2)
        screens.append(app.export_screenshot())
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        screens.append(app.export_screenshot())
        await pilot.press("escape", "1", "enter")  # a host's detail
        await pilot.pause(1.0)
        screens.append(app.export_screenshot())
        await pilot.press("q")
    assert "graylog" in screens[0]
    for index, screen in enumerate(screens):
        assert_no_secret(screen, secrets, f"TUI screen {index}")


# --- static: TLS verification is never switched off by accident -----------------------------------

ALLOWED = {
    # ssl_verify(): the operator's explicit, documented `verify: false` (README, config.example.yaml)
    ("console/sources/httpclient.py", "context.check_hostname = False"),
    ("console/sources/httpclient.py", "context.verify_mode = ssl.CERT_NONE"),
}
FORBIDDEN = [
    re.compile(r"known_hosts\s*=\s*None"),
    re.compile(r"verify\s*=\s*False"),
    re.compile(r"verify_ssl\s*=\s*False"),
    re.compile(r"_create_unverified_context"),
    re.compile(r"CERT_NONE"),
    re.compile(r"check_hostname\s*=\s*False"),
]


def test_tls_verification_is_off_in_exactly_one_documented_place():
    hits = set()
    for file in sorted((REPO / "console").rglob("*.py")):
        for line in file.read_text().splitlines():
            if any(pattern.search(line) for pattern in FORBIDDEN) and not line.strip().startswith("#"):
                hits.add((file.relative_to(REPO).as_posix(), line.strip()))
    assert hits == ALLOWED
    source = (REPO / "console/sources/httpclient.py").read_text()
    block = source[source.index("def ssl_verify"): source.index("def transport_timeout")]
    assert "if verify is False:" in block  # reached only when the config says `verify: false`
