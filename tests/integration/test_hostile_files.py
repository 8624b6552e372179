"""Hostile files as an operator meets them, through the `opsconsole` command: a FIFO, a /dev/zero
symlink, a directory, a 3 GB sparse file, an alias bomb, a `!!python` tag, a 200,000-entry list as the
config, a secret, a CA bundle or a lock. Each is one line naming the file and why (exit 2 for the
config, `unreadable` in `opsconsole locks`, a refused purge) — never a hang, never a traceback.

Every process runs with a deadline and a 1 GiB address-space limit, so the code before this change
(which waited on the FIFO, read /dev/zero and the 3 GB file whole, expanded the bomb) fails these
tests quickly instead of hanging the suite or the machine. The processes start at once (a module
fixture) so their interpreter start-ups overlap."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from console.actions.locks import FileLocks

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 25  # seconds; the slowest case (a pipe nobody writes to) takes 5
MEMORY = 1 << 30
URL = "https://meta.miraheze.org/wiki/Main_Page"
ZERO_URL = "https://meta.miraheze.org/wiki/Zero"
ICINGA = """\
farm:
  name: wikitide
sources:
  icinga:
    - name: icinga
      url: https://mon181.fsslc.wtnet:5665
      username: opsconsole
      password: SECRET
"""
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
NODES = "(yaml): more than 100,000 YAML nodes (aliases counted expanded); refusing to read it"


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def start(*args: str, env: dict[str, str] | None = None, shell: str | None = None) -> subprocess.Popen:
    command = ["bash", "-c", shell] if shell else [sys.executable, "-m", "console", *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, preexec_fn=limited)


def finish(process: subprocess.Popen, until: float | None = None) -> subprocess.CompletedProcess:
    """The process's outcome; killed at `until` (time.monotonic(), shared by processes started together)."""
    until = time.monotonic() + DEADLINE if until is None else until
    try:
        stdout, stderr = process.communicate(timeout=max(0.1, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        return subprocess.CompletedProcess(process.args, -9, stdout, stderr + f"\n[hung: killed after {DEADLINE} s]")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def fifo(path: Path, mode: int = 0o600) -> Path:
    os.mkfifo(path, mode)
    return path


def sparse(path: Path, size: int = 3 * 1024**3, mode: int = 0o600) -> Path:
    with open(path, "wb") as handle:
        handle.truncate(size)
    path.chmod(mode)
    return path


def link(path: Path, target: str | Path) -> Path:
    path.symlink_to(target)
    return path


def config_cases(d: Path) -> list[tuple[str, dict[str, str], list[str], str]]:
    """(id, environment, arguments, the whole of stderr)."""
    home = d / "home"
    (home / ".config/opsconsole").mkdir(parents=True)
    searched = fifo(home / ".config/opsconsole/config.yaml")
    from_env = fifo(d / "env.yaml")
    waiting = fifo(d / "waiting.yaml")
    files = {
        "dev-zero": link(d / "zero.yaml", "/dev/zero"),
        "directory": link(d / "dir.yaml", d),
        "huge": sparse(d / "huge.yaml"),
    }
    texts = {
        "alias-bomb": BOMB,
        "python-tag": "farm:\n  name: !!python/object/apply:os.system [echo pwned]\n",
        "200k-list": "farm: {name: x}\nservices:\n" + "".join(f"  - mw{i}\n" for i in range(200_000)),
        "secret-fifo": ICINGA.replace("SECRET", f"{{file: {fifo(d / 'fifo.secret')}}}"),
        "secret-dev-zero": ICINGA.replace("SECRET", f"{{file: {link(d / 'zero.secret', '/dev/zero')}}}"),
        "secret-huge": ICINGA.replace("SECRET", f"{{file: {sparse(d / 'huge.secret')}}}"),
        "secret-proc": ICINGA.replace("SECRET", "{file: /proc/self/environ}"),
        "ca-bundle-fifo": ICINGA.replace("SECRET", "{env: HOME}") + f"      verify: {fifo(d / 'ca.pem')}\n",
    }
    for name, text in texts.items():
        files[name] = d / f"{name}.yaml"
        files[name].write_text(text)
    secret = "8: sources.icinga[0].password: secret file"
    expected = {
        "dev-zero": f"{files['dev-zero']}:0: (file): not a regular file (a character device)",
        "directory": f"{files['directory']}:0: (file): not a regular file (a directory)",
        "huge": f"{files['huge']}:0: (file): larger than 4 MiB",
        "alias-bomb": f"{files['alias-bomb']}:6: {NODES}",
        "python-tag": f"{files['python-tag']}:2: farm.name: unsupported YAML tag !!python/object/apply:os.system",
        "200k-list": f"{files['200k-list']}:99996: {NODES}",
        "secret-fifo": f"{files['secret-fifo']}:{secret} {d}/fifo.secret: not a regular file (a FIFO)",
        "secret-dev-zero": f"{files['secret-dev-zero']}:{secret} {d}/zero.secret: not a regular file (a character device)",
        "secret-huge": f"{files['secret-huge']}:{secret} {d}/huge.secret: larger than 64 KiB",
        "secret-proc": f"{files['secret-proc']}:{secret} /proc/self/environ: a file under /proc or /dev, "
                       "which the console does not read",
        "ca-bundle-fifo": f"{files['ca-bundle-fifo']}:9: sources.icinga[0].verify: CA bundle {d}/ca.pem: "
                          "not a regular file (a FIFO)",
    }
    cases = [(name, {}, ["--config", str(files[name]), "check-config"], line) for name, line in expected.items()]
    return cases + [
        ("fifo-from-environment", {"OPSCONSOLE_CONFIG": str(from_env)}, ["check-config"],
         f"{from_env}:0: (file): not a regular file (a FIFO); a pipe is read only when named with --config"),
        ("fifo-in-the-search-path", {"HOME": str(home)}, ["check-config"],
         f"{searched}:0: (file): not a regular file (a FIFO); a pipe is read only when named with --config"),
        ("named-pipe-that-never-ends", {}, ["--config", str(waiting), "check-config"],
         f"{waiting}:0: (file): a pipe that did not end within 5 s"),
    ]


IDS = [
    "dev-zero", "directory", "huge", "alias-bomb", "python-tag", "200k-list", "secret-fifo", "secret-dev-zero",
    "secret-huge", "secret-proc", "ca-bundle-fifo", "fifo-from-environment", "fifo-in-the-search-path",
    "named-pipe-that-never-ends",
]


def lock_config(d: Path) -> Path:
    path = d / "farm.yaml"
    path.write_text(f"farm: {{name: wikitide, environment: demo}}\nactions:\n"
                    f"  caches:\n    - {{name: cp161, url: 'http://127.0.0.1:9'}}\n"
                    f"  locks: {{dir: {d / 'locks'}}}\n  audit: {{path: {d / 'audit.jsonl'}}}\n")
    locks = d / "locks"
    locks.mkdir()
    fifo(locks / FileLocks.file_name(f"url:{URL}"), 0o644)
    link(locks / FileLocks.file_name(f"url:{ZERO_URL}"), "/dev/zero")
    link(locks / "host:mw152.lock", d)
    sparse(locks / "host:mw153.lock", mode=0o644)
    (locks / "host:mw154.lock").write_text("not json\n")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[str, subprocess.CompletedProcess]]:
    d = tmp_path_factory.mktemp("hostile")
    started: dict[str, tuple[str, subprocess.Popen]] = {}
    for name, extra, args, line in config_cases(d):
        started[name] = (line, start(*args, env=extra))
    config = lock_config(d)
    started["locks"] = ("", start("--config", str(config), "locks"))
    started["locks-json"] = ("", start("--config", str(config), "locks", "--json"))
    for name, url in (("purge-fifo-lock", URL), ("purge-dev-zero-lock", ZERO_URL)):
        started[name] = ("", start("--config", str(config), "--write", "purge", url, "--reason", "cleanup", "--yes",
                                   env={"SUDO_USER": "alice"}))
    good = d / "good.yaml"
    good.write_text("farm: {name: wikitide}\n")
    started["process-substitution"] = ("", start(shell=f"exec {sys.executable} -m console --config <(cat {good}) check-config"))
    themes = d / "themes"
    themes.mkdir()
    link(themes / "zero.yaml", "/dev/zero")
    sparse(themes / "huge.yaml", mode=0o644)
    (themes / "bomb.yaml").write_text(BOMB)
    (themes / "mine.yaml").write_text("name: mine\nprimary: '#ff8800'\n")
    script = ("import sys; from pathlib import Path; from console.ui.themes import load_themes; "
              "themes, problems = load_themes(Path(sys.argv[1])); print(sorted(t.name for t in themes)); "
              "print(*(f'{Path(p.file).name}: {p.message}' for p in problems), sep='\\n')")
    started["themes"] = ("", subprocess.Popen([sys.executable, "-c", script, str(themes)], cwd=ROOT, text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limited))
    until = time.monotonic() + DEADLINE
    done = {name: (line, finish(process, until)) for name, (line, process) in started.items()}
    done["dir"] = (str(d), subprocess.CompletedProcess([], 0))
    return done


@pytest.mark.parametrize("name", IDS)
def test_check_config_names_the_file_and_why_and_exits_2(runs, name):
    line, done = runs[name]
    assert (done.returncode, done.stderr.strip()) == (2, line), done.stdout
    assert "Traceback" not in done.stderr + done.stdout


def test_every_config_case_is_checked(tmp_path):
    assert [case[0] for case in config_cases(tmp_path)] == IDS


def test_process_substitution_is_a_config(runs):
    _, done = runs["process-substitution"]
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "ok", "")


def test_a_named_pipe_with_a_writer_is_a_config(tmp_path):
    pipe = fifo(tmp_path / "sops.fifo")

    def writer() -> None:
        with open(pipe, "w") as handle:
            handle.write("farm: {name: wikitide}\n")

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    done = finish(start("--config", str(pipe), "check-config"))
    thread.join(5)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "ok", "")


def test_locks_lists_every_unreadable_lock_with_its_file(runs):
    d = Path(runs["dir"][0]) / "locks"
    _, done = runs["locks"]
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    states = {line.split()[0]: line[line.index("unreadable: "):] for line in done.stdout.splitlines()[2:]}
    fifo_file, zero_file = FileLocks.file_name(f"url:{URL}"), FileLocks.file_name(f"url:{ZERO_URL}")
    assert states == {
        fifo_file.removesuffix(".lock"): f"unreadable: {d}/{fifo_file}: not a regular file (a FIFO)",
        zero_file.removesuffix(".lock"): f"unreadable: {d}/{zero_file}: not a regular file "
                                         "(a symbolic link to a character device)",
        "host:mw152": f"unreadable: {d}/host:mw152.lock: not a regular file (a symbolic link to a directory)",
        "host:mw153": f"unreadable: {d}/host:mw153.lock: larger than 64 KiB",
        "host:mw154": f"unreadable: {d}/host:mw154.lock: not the JSON the console writes",
    }
    listed = json.loads(runs["locks-json"][1].stdout)["locks"]
    assert sorted(lock["problem"] for lock in listed) == sorted(states.values())


@pytest.mark.parametrize("name,url,why", [("purge-fifo-lock", URL, "not a regular file (a FIFO)"),
                                          ("purge-dev-zero-lock", ZERO_URL,
                                           "not a regular file (a symbolic link to a character device)")])
def test_a_purge_on_a_target_with_an_unreadable_lock_is_refused_naming_the_file(runs, name, url, why):
    lock = Path(runs["dir"][0]) / "locks" / FileLocks.file_name(f"url:{url}")
    _, done = runs[name]
    assert (done.returncode, done.stderr.strip()) == (2, (
        f"opsconsole: refused: {url} is locked (url:{url}: unreadable: {lock}: {why}); look at that file, then "
        f"`opsconsole --write locks break url:{url} --reason ...`; nothing was sent")), done.stdout


def test_theme_files_that_are_devices_or_huge_are_problems_and_the_rest_load(runs):
    _, done = runs["themes"]
    assert done.returncode == 0, done.stderr
    names, *problems = done.stdout.splitlines()
    assert "'mine'" in names and "'dark'" in names
    assert sorted(problems) == [
        "bomb.yaml: not a theme's YAML: more than 100,000 YAML nodes (aliases counted expanded); refusing to read it (line 6)",
        "huge.yaml: larger than 1 MiB",
        "zero.yaml: not a regular file (a character device)",
    ]
