"""Config loading: the example loads, and each broken file gets its exact FILE:LINE: key.path: message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.core.config import ConfigError, Secret, find_config_path, load_config, parse_config, secret_values

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.yaml"

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


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch):
    monkeypatch.setenv("TEST_ICINGA_PASSWORD", "icinga-pass-123")


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    prefix = f"{path}:"
    lines = str(caught.value).splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


def test_example_config_loads(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".config/opsconsole").mkdir(parents=True)
    secret = home / ".config/opsconsole/icinga.secret"
    secret.write_text("from-a-file\n")
    secret.chmod(0o600)
    (home / ".config/opsconsole/puppetdb.crt").write_text("certificate")
    (home / ".config/opsconsole/puppetdb.key").write_text("key")
    (home / ".config/opsconsole/puppetdb.key").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPSCONSOLE_PVE_TOKEN", "pve-secret")
    monkeypatch.setenv("OPSCONSOLE_GRAYLOG_TOKEN", "graylog-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "gh-secret")
    repo = tmp_path / "puppet"
    repo.mkdir()
    text = EXAMPLE.read_text().replace("/srv/git/puppet", str(repo))
    config = parse_config(text, "example.yaml")
    assert config.farm.name == "wikitide"
    assert [s.name for _, s in config.sources.all()] == ["pve", "puppetdb", "icinga", "graylog", "mw-config", "puppet-local"]
    assert config.sources.icinga[0].password.reveal() == "from-a-file"
    assert config.sources.commits[1].repo_label == "puppet"
    assert sorted(secret_values(config)) == ["from-a-file", "gh-secret", "graylog-secret", "pve-secret"]
    assert {s.name for s in config.services} >= {"php-fpm", "mediawiki", "varnish", "mariadb"}
    assert [c.name for c in config.actions.caches] == ["cp161", "cp171", "cp191", "cp201"]
    assert config.actions.caches[0].url == "http://10.0.16.161:81"
    assert (config.actions.icinga, config.actions.sal.udp) == ("icinga", "bots171.fsslc.wtnet:5071")
    assert config.actions.gelf.url == "https://graylog161.fsslc.wtnet:12201/gelf"
    assert config.actions.audit.path == "~/.local/state/opsconsole/audit.jsonl"


def test_secret_never_prints_its_value():
    config = parse_config(MINIMAL_ICINGA)
    password = config.sources.icinga[0].password
    assert isinstance(password, Secret)
    assert "icinga-pass-123" not in repr(config)
    assert "icinga-pass-123" not in str(password)
    assert password.reveal() == "icinga-pass-123"


def test_secret_from_file_with_owner_only_mode(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("s3cr3t\n")
    secret.chmod(0o600)
    config = parse_config(MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", f"{{file: {secret}}}"))
    assert config.sources.icinga[0].password.reveal() == "s3cr3t"


def test_yaml_syntax_error(tmp_path):
    assert errors_of(tmp_path, "farm:\n  name: [wikitide\n") == [
        "3: (yaml): YAML syntax error: expected ',' or ']', but got '<stream end>'"
    ]


def test_unknown_top_level_key(tmp_path):
    assert errors_of(tmp_path, "farm:\n  name: x\nsourcse: {}\n") == ["3: sourcse: unknown key"]


def test_unknown_key_inside_a_source(tmp_path):
    text = MINIMAL_ICINGA + "      intervall: 10\n"
    assert errors_of(tmp_path, text) == ["9: sources.icinga[0].intervall: unknown key"]


def test_wrong_type(tmp_path):
    text = MINIMAL_ICINGA + "      timeout: soon\n"
    assert errors_of(tmp_path, text) == [
        "9: sources.icinga[0].timeout: Input should be a valid number, unable to parse string as a number"
    ]


def test_negative_interval(tmp_path):
    text = MINIMAL_ICINGA + "      interval: -5\n"
    assert errors_of(tmp_path, text) == ["9: sources.icinga[0].interval: Input should be greater than 0"]


def test_missing_required_key(tmp_path):
    assert errors_of(tmp_path, "farm:\n  environment: production\n") == ["1: farm.name: required key is missing"]


def test_missing_env_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_ICINGA_PASSWORD")
    assert errors_of(tmp_path, MINIMAL_ICINGA) == [
        "8: sources.icinga[0].password: environment variable TEST_ICINGA_PASSWORD is not set"
    ]


def test_secret_file_readable_by_others_is_refused(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("do-not-print-me")
    secret.chmod(0o644)
    text = MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", f"{{file: {secret}}}")
    errors = errors_of(tmp_path, text)
    assert errors == [
        f"8: sources.icinga[0].password: secret file {secret} is readable by group or others (mode 0644); chmod 600 it"
    ]
    assert "do-not-print-me" not in "".join(errors)


def test_missing_secret_file(tmp_path):
    text = MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", f"{{file: {tmp_path}/nope}}")
    assert errors_of(tmp_path, text) == [
        f"8: sources.icinga[0].password: secret file {tmp_path}/nope cannot be read: No such file or directory"
    ]


def test_inline_secret_is_refused_and_not_echoed(tmp_path):
    text = MINIMAL_ICINGA.replace("{env: TEST_ICINGA_PASSWORD}", "hunter2-inline")
    errors = errors_of(tmp_path, text)
    assert errors == [
        "8: sources.icinga[0].password: a secret must be {env: NAME} or {file: PATH}, never written inline"
    ]
    assert "hunter2" not in "".join(errors)


def test_bad_url(tmp_path):
    text = MINIMAL_ICINGA.replace("https://mon181.fsslc.wtnet:5665", "ftp://mon181")
    assert errors_of(tmp_path, text) == ["6: sources.icinga[0].url: must be a URL starting with https:// or http://"]


def test_url_with_credentials_is_refused(tmp_path):
    text = MINIMAL_ICINGA.replace("https://mon181", "https://root:pw@mon181")
    assert errors_of(tmp_path, text) == [
        "6: sources.icinga[0].url: URL must not carry credentials; use the source's secret keys"
    ]


def test_proxmox_needs_https_and_a_token_id(tmp_path):
    text = (
        "farm: {name: x}\nsources:\n  proxmox:\n    - name: pve\n      url: http://cloud15:8006\n"
        "      token_id: root\n      token_secret: {env: TEST_ICINGA_PASSWORD}\n"
    )
    assert errors_of(tmp_path, text) == [
        "5: sources.proxmox[0].url: must be a URL starting with https://",
        "6: sources.proxmox[0].token_id: must be USER@REALM!TOKENID",
    ]


def test_duplicate_source_name(tmp_path):
    text = MINIMAL_ICINGA + (
        "  puppetdb:\n    - name: icinga\n      url: https://puppet181:8081\n"
    )
    assert errors_of(tmp_path, text) == [
        "10: sources.puppetdb[0].name: duplicate source name 'icinga' (also used in sources.icinga[0])"
    ]


def test_duplicate_yaml_key(tmp_path):
    assert errors_of(tmp_path, "farm:\n  name: x\n  name: y\n") == ["3: farm.name: duplicate key"]


def test_commits_source_needs_exactly_one_origin(tmp_path):
    text = "farm: {name: x}\nsources:\n  commits:\n    - name: c\n      github: a/b\n      git: /tmp\n"
    assert errors_of(tmp_path, text) == ["4: sources.commits[0]: give exactly one of github: OWNER/REPO or git: PATH"]


def test_puppetdb_client_key_must_be_private_and_paired(tmp_path):
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    cert.write_text("c")
    key.write_text("k")
    key.chmod(0o640)
    base = "farm: {name: x}\nsources:\n  puppetdb:\n    - name: p\n      url: https://puppet181:8081\n"
    assert errors_of(tmp_path, base + f"      client_cert: {cert}\n      client_key: {key}\n") == [
        f"7: sources.puppetdb[0].client_key: {key} is readable by group or others; chmod 600 it"
    ]
    assert errors_of(tmp_path, base + f"      client_cert: {cert}\n") == [
        "4: sources.puppetdb[0]: give both client_cert and client_key, or neither"
    ]


def test_missing_ca_bundle(tmp_path):
    text = MINIMAL_ICINGA + f"      verify: {tmp_path}/ca.pem\n"
    assert errors_of(tmp_path, text) == [f"9: sources.icinga[0].verify: CA bundle {tmp_path}/ca.pem does not exist"]


def test_service_with_wrong_types(tmp_path):
    text = "farm: {name: x}\nservices:\n  - name: php-fpm\n    hosts: 3\n    checks: PHP-FPM\n"
    assert errors_of(tmp_path, text) == [
        "4: services[0].hosts: Input should be a valid string",
        "5: services[0].checks: Input should be a valid list",
    ]


def test_empty_file(tmp_path):
    assert errors_of(tmp_path, "") == ["1: (file): the file is empty"]


def test_top_level_not_a_mapping(tmp_path):
    assert errors_of(tmp_path, "- farm\n") == ["1: (file): the top level must be a mapping"]


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert str(caught.value) == f"{tmp_path}/absent.yaml:0: (file): cannot read: No such file or directory"


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSCONSOLE_CONFIG", str(tmp_path / "env.yaml"))
    assert find_config_path("given.yaml") == Path("given.yaml")
    assert find_config_path(None) == tmp_path / "env.yaml"
    monkeypatch.delenv("OPSCONSOLE_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    user = tmp_path / ".config/opsconsole/config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("farm: {name: x}\n")
    assert find_config_path(None) == user


def test_check_config_command(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(MINIMAL_ICINGA)
    env = {**os.environ, "TEST_ICINGA_PASSWORD": "pw"}
    ok = subprocess.run([sys.executable, "-m", "console", "check-config", str(good)], capture_output=True, text=True, env=env)
    assert (ok.returncode, ok.stdout.strip()) == (0, "ok")
    bad = tmp_path / "bad.yaml"
    bad.write_text("farm:\n  name: x\nsourcse: {}\n")
    broken = subprocess.run([sys.executable, "-m", "console", "--config", str(bad), "check-config"], capture_output=True, text=True, env=env)
    assert broken.returncode == 2
    assert broken.stderr.strip() == f"{bad}:3: sourcse: unknown key"
    assert "Traceback" not in broken.stderr


# --- actions --------------------------------------------------------------------------------------

ACTIONS = MINIMAL_ICINGA + """\
actions:
  caches:
    - {name: cp161, url: "http://10.0.16.161:81"}
    - {name: cp171, url: "http://10.0.17.171:81"}
"""


def test_actions_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    config = parse_config(ACTIONS)
    assert [c.name for c in config.actions.caches] == ["cp161", "cp171"]
    assert (config.actions.icinga, config.actions.sal, config.actions.gelf) == (None, None, None)
    assert config.actions.audit.path == "~/.local/state/opsconsole/audit.jsonl"
    assert parse_config("farm: {name: x}\n").actions.caches == []
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert parse_config(ACTIONS).actions.audit.path == f"{tmp_path}/opsconsole/audit.jsonl"


def test_actions_unknown_keys_are_errors(tmp_path):
    assert errors_of(tmp_path, ACTIONS + "    - {name: cp191, adress: http://x}\n") == [
        "13: actions.caches[2].url: required key is missing",
        "13: actions.caches[2].adress: unknown key",
    ]
    assert errors_of(tmp_path, ACTIONS + "  purge_all: true\n") == ["13: actions.purge_all: unknown key"]


def test_actions_broken_values(tmp_path):
    text = ACTIONS + (
        "    - {name: cp171, url: 'http://10.0.17.171:81/wiki'}\n"
        "  icinga: mon181\n"
        "  sal: {udp: bots171}\n"
        "  gelf: {url: 'udp://graylog:12201'}\n"
        "  audit: {path: ''}\n"
    )
    assert errors_of(tmp_path, text) == [
        "13: actions.caches[2].url: give the cache's address only (scheme://host:port), without a path",
        "15: actions.sal.udp: must be HOST:PORT (a port between 1 and 65535)",
        "16: actions.gelf.url: must be a URL starting with https:// or http://",
        "17: actions.audit.path: String should have at least 1 character",
    ]


def test_actions_cross_checks(tmp_path):
    text = ACTIONS + "    - {name: cp161, url: 'http://10.0.16.162:81'}\n  icinga: mon181\n"
    assert errors_of(tmp_path, text) == [
        "13: actions.caches[2].name: duplicate cache name 'cp161'",
        "14: actions.icinga: no icinga source named 'mon181' (icinga)",
    ]


def test_actions_sal_accepts_ipv6():
    config = parse_config(ACTIONS + "  sal: {udp: '[::1]:5071'}\n")
    assert config.actions.sal.udp == "[::1]:5071"
