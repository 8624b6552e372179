"""`opsconsole check-config` on many broken configs, as an operator runs it: exit 2, the first line of
stderr exactly `FILE:LINE: key.path: message`, never a traceback, never a secret.

The subprocesses all start at once (a module fixture) so the ~30 interpreter start-ups overlap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "icinga-pass-do-not-print-123"
MINIMAL_ICINGA = """\
farm:
  name: wikitide
sources:
  icinga:
    - name: icinga
      url: https://mon181.fsslc.wtnet:5665
      username: opsconsole
      password: {env: TEST_ICINGA_PASSWORD}
"""
ACTIONS = MINIMAL_ICINGA + """\
actions:
  caches:
    - {name: cp161, url: "http://10.0.16.161:81"}
"""
PROXMOX = "farm: {name: x}\nsources:\n  proxmox:\n    - name: pve\n      url: URL\n      token_id: TOKEN\n      token_secret: {env: TEST_ICINGA_PASSWORD}\n"
PROBES = "farm: {name: x}\nservices:\n  - name: mediawiki\n    hosts: 'mw*'\n    probes:\n"
PUPPETDB = "farm: {name: x}\nsources:\n  puppetdb:\n    - name: p\n      url: https://puppet181:8081\n"


def cases(d: Path) -> list[tuple[str, str | None, str]]:
    """(id, config text or None for no file, the first line of stderr after `FILE:`)."""
    loose, cert, key = d / "loose.secret", d / "c.crt", d / "c.key"
    return [
        ("yaml-syntax", "farm:\n  name: [wikitide\n", "3: (yaml): YAML syntax error: expected ',' or ']', but got '<stream end>'"),
        ("unknown-top-level-key", "farm:\n  name: x\nsourcse: {}\n", "3: sourcse: unknown key"),
        ("unknown-source-key", MINIMAL_ICINGA + "      intervall: 10\n", "9: sources.icinga[0].intervall: unknown key"),
        ("wrong-type", MINIMAL_ICINGA + "      timeout: soon\n",
         "9: sources.icinga[0].timeout: Input should be a valid number, unable to parse string as a number"),
        ("negative-interval", MINIMAL_ICINGA + "      interval: -5\n", "9: sources.icinga[0].interval: Input should be greater than 0"),
        ("timeout-too-long", MINIMAL_ICINGA + "      timeout: 301\n",
         "9: sources.icinga[0].timeout: Input should be less than or equal to 300"),
        ("missing-required-key", "farm:\n  environment: production\n", "1: farm.name: required key is missing"),
        ("missing-env-secret", MINIMAL_ICINGA.replace("TEST_ICINGA_PASSWORD", "TEST_UNSET_PASSWORD"),
         "8: sources.icinga[0].password: environment variable TEST_UNSET_PASSWORD is not set"),
        ("secret-file-readable-by-others", MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", f"{{file: {loose}}}"),
         f"8: sources.icinga[0].password: secret file {loose} is readable by group or others (mode 0644); chmod 600 it"),
        ("missing-secret-file", MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", f"{{file: {d}/nope}}"),
         f"8: sources.icinga[0].password: secret file {d}/nope cannot be read: No such file or directory"),
        ("inline-secret", MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", SECRET),
         "8: sources.icinga[0].password: a secret must be {env: NAME} or {file: PATH}, never written inline"),
        ("bad-url-scheme", MINIMAL_ICINGA.replace("https://mon181.fsslc.wtnet:5665", "ftp://mon181"),
         "6: sources.icinga[0].url: must be a URL starting with https:// or http://"),
        ("url-with-credentials", MINIMAL_ICINGA.replace("https://mon181", f"https://root:{SECRET}@mon181"),
         "6: sources.icinga[0].url: URL must not carry credentials; use the source's secret keys"),
        ("proxmox-over-http", PROXMOX.replace("URL", "http://cloud15:8006").replace("TOKEN", "root@pam!oc"),
         "5: sources.proxmox[0].url: must be a URL starting with https://"),
        ("proxmox-bad-token-id", PROXMOX.replace("URL", "https://cloud15:8006").replace("TOKEN", "root"),
         "6: sources.proxmox[0].token_id: must be USER@REALM!TOKENID"),
        ("duplicate-source-name", MINIMAL_ICINGA + "  puppetdb:\n    - name: icinga\n      url: https://puppet181:8081\n",
         "10: sources.puppetdb[0].name: duplicate source name 'icinga' (also used in sources.icinga[0])"),
        ("duplicate-yaml-key", "farm:\n  name: x\n  name: y\n", "3: farm.name: duplicate key"),
        ("commits-two-origins", "farm: {name: x}\nsources:\n  commits:\n    - name: c\n      github: a/b\n      git: /tmp\n",
         "4: sources.commits[0]: give exactly one of github: OWNER/REPO or git: PATH"),
        ("puppetdb-client-key-readable", PUPPETDB + f"      client_cert: {cert}\n      client_key: {key}\n",
         f"7: sources.puppetdb[0].client_key: {key} is readable by group or others; chmod 600 it"),
        ("puppetdb-cert-without-key", PUPPETDB + f"      client_cert: {cert}\n",
         "4: sources.puppetdb[0]: give both client_cert and client_key, or neither"),
        ("missing-ca-bundle", MINIMAL_ICINGA + f"      verify: {d}/ca.pem\n",
         f"9: sources.icinga[0].verify: CA bundle {d}/ca.pem does not exist"),
        ("service-wrong-types", "farm: {name: x}\nservices:\n  - name: php-fpm\n    hosts: 3\n    checks: PHP-FPM\n",
         "4: services[0].hosts: Input should be a valid string"),
        ("empty-file", "", "1: (file): the file is empty"),
        ("top-level-not-a-mapping", "- farm\n", "1: (file): the top level must be a mapping"),
        ("unreadable-file", None, "0: (file): cannot read: No such file or directory"),
        ("actions-unknown-key", ACTIONS + "  purge_all: true\n", "12: actions.purge_all: unknown key"),
        ("actions-cache-url-with-path", ACTIONS + "    - {name: cp171, url: 'http://10.0.17.171:81/wiki'}\n",
         "12: actions.caches[1].url: give the cache's address only (scheme://host:port), without a path"),
        ("actions-sal-not-host-port", ACTIONS + "  sal: {udp: bots171}\n",
         "12: actions.sal.udp: must be HOST:PORT (a port between 1 and 65535)"),
        ("actions-gelf-udp-url", ACTIONS + "  gelf: {url: 'udp://graylog:12201'}\n",
         "12: actions.gelf.url: must be a URL starting with https:// or http://"),
        ("actions-duplicate-cache", ACTIONS + "    - {name: cp161, url: 'http://10.0.16.162:81'}\n",
         "12: actions.caches[1].name: duplicate cache name 'cp161'"),
        ("actions-unknown-icinga-source", ACTIONS + "  icinga: mon181\n",
         "12: actions.icinga: no icinga source named 'mon181' (icinga)"),
        ("probe-without-kind", PROBES + "      - {url: 'http://mw151/w/api.php'}\n",
         "6: services[0].probes[0].kind: required key is missing"),
        ("probe-unknown-kind", PROBES + "      - kind: smtp\n        host: mx1\n",
         "6: services[0].probes[0].kind: must be one of http, tcp, redis, memcached, dns"),
        ("probe-http-bad-expect", PROBES + "      - kind: http\n        url: http://mw151/\n        expect: [200, 999]\n",
         "8: services[0].probes[0].expect: must be an HTTP status (100-599) or a list of them"),
        ("probe-tcp-port-missing", PROBES + "      - kind: tcp\n        host: db151\n",
         "6: services[0].probes[0].port: required key is missing"),
        ("probe-redis-inline-password", PROBES + "      - kind: redis\n        host: rdb191\n        password: hunter2\n",
         "8: services[0].probes[0].password: a secret must be {env: NAME} or {file: PATH}, never written inline"),
        ("probe-dns-unknown-key", PROBES + "      - {kind: dns, server: dns171, zone: wikitide.net, qtype: A}\n",
         "6: services[0].probes[0].qtype: unknown key"),
    ]  # fmt: skip


IDS = [case[0] for case in cases(Path("/x"))]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str, subprocess.CompletedProcess]]:
    d = tmp_path_factory.mktemp("broken")
    (d / "loose.secret").write_text(SECRET)
    (d / "loose.secret").chmod(0o644)
    (d / "c.crt").write_text("c")
    (d / "c.key").write_text("k")
    (d / "c.key").chmod(0o640)
    env = {**os.environ, "TEST_ICINGA_PASSWORD": SECRET}
    env.pop("TEST_UNSET_PASSWORD", None)
    started: dict[str, tuple[Path, str, subprocess.Popen]] = {}
    for name, text, first_line in cases(d):
        path = d / f"{name}.yaml"
        if text is not None:
            path.write_text(text)
        command = [sys.executable, "-m", "console", "check-config", str(path)]
        started[name] = (path, first_line, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))  # fmt: skip
    done = {}
    for name, (path, first_line, process) in started.items():
        stdout, stderr = process.communicate(timeout=60)
        done[name] = (path, first_line, subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return done


def test_at_least_twenty_distinct_broken_configs():
    assert len(IDS) == len(set(IDS)) >= 20
    assert len({line for _, _, line in cases(Path("/x"))}) == len(IDS)  # every message differs


@pytest.mark.parametrize("name", IDS)
def test_check_config_names_file_line_key_and_exits_2(runs, name):
    path, first_line, done = runs[name]
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.splitlines()[0] == f"{path}:{first_line}"
    assert "Traceback" not in done.stderr + done.stdout
    assert SECRET not in done.stderr + done.stdout
    assert all(line.startswith(f"{path}:") for line in done.stderr.splitlines())
