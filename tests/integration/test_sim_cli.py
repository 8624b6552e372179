"""`opsconsole sim > farm.yaml` as the README shows it: a config on stdout, curl examples on stderr,
a farm that proxmoxer can list with that config, and that refuses a wrong token."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from urllib.parse import urlsplit

import proxmoxer
import pytest
import yaml

from console.core.config import load_config

pytestmark = pytest.mark.sim


@pytest.fixture
def running_sim(tmp_path):
    config_path = tmp_path / "farm.yaml"
    state = tmp_path / "state"
    with config_path.open("w") as out, (tmp_path / "stderr").open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "sim", "--scenario", "db-disk-full", "--state-dir", str(state)],
            stdout=out, stderr=err,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while "serving until interrupted" not in (tmp_path / "stderr").read_text():
        assert process.poll() is None, (tmp_path / "stderr").read_text()
        assert time.monotonic() < deadline, "the sim did not start within 30 s"
        time.sleep(0.1)
    yield config_path, state, (tmp_path / "stderr").read_text()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_sim_prints_a_config_that_checks_ok(running_sim):
    config_path, state, stderr = running_sim
    text = config_path.read_text()
    assert yaml.safe_load(text)["farm"]["name"] == "wikitide"
    checked = subprocess.run(
        [sys.executable, "-m", "console", "check-config", str(config_path)], capture_output=True, text=True
    )
    assert (checked.returncode, checked.stdout.strip()) == (0, "ok"), checked.stderr
    for secret in state.glob("*.secret"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text().strip() not in text + stderr
    assert stderr.count("curl ") >= 5


def test_proxmoxer_lists_the_farm_and_a_wrong_token_gets_401(running_sim):
    config_path, _, _ = running_sim
    pve = load_config(config_path).sources.proxmox[0]
    url = urlsplit(pve.url)
    user, token_name = pve.token_id.split("!")

    def api(secret: str) -> proxmoxer.ProxmoxAPI:
        return proxmoxer.ProxmoxAPI(
            url.hostname, port=url.port, user=user, token_name=token_name, token_value=secret,
            verify_ssl=pve.verify, service="PVE", timeout=5,
        )  # fmt: skip

    resources = api(pve.token_secret.reveal()).cluster.resources.get()
    names = {item.get("name") for item in resources if item["type"] == "qemu"}
    assert {"mw151", "db171", "cp161"} <= names
    with pytest.raises(proxmoxer.core.ResourceException) as caught:
        api("not-the-secret").cluster.resources.get()
    assert caught.value.status_code == 401
