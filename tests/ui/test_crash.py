"""A crash ends the console with exit 1, one line naming a crash log, and no traceback on the terminal:
the log (0600, under $XDG_STATE_HOME/opsconsole/) holds the traceback without local variables and
without any configured secret, even one the exception's own message carried."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path

from tests.harness.pty_run import run_on_a_pty

SECRET = "s3cr3t-icinga-password-4711"

# The console as `opsconsole --config PATH` runs it, with one of its methods made to fail once the
# config (and its secret) is loaded: the exception's message carries the secret, as a careless one might.
CRASHING = textwrap.dedent("""
    import sys
    from console.ui.app import OpsConsoleApp
    from console.cli.main import entry

    def start_polling(self):
        raise RuntimeError("lost the thread while talking to icinga with password " + self.secrets()[0])

    OpsConsoleApp.start_polling = start_polling
    sys.argv = ["opsconsole", "--config", sys.argv[1]]
    entry()
""")


def config(tmp_path: Path) -> Path:
    secret = tmp_path / "icinga.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    path = tmp_path / "farm.yaml"
    path.write_text(textwrap.dedent(f"""
        farm: {{name: wikitide, environment: test}}
        sources:
          icinga: [{{name: icinga, url: "https://127.0.0.1:9", username: opsconsole, password: {{file: {secret}}}, verify: true}}]
    """))
    return path


def test_a_crash_exits_1_with_one_line_and_a_scrubbed_crash_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    code, output = run_on_a_pty([sys.executable, "-c", CRASHING, str(config(tmp_path))], env={"XDG_STATE_HOME": str(state)})
    assert code == 1, output[-3000:]
    assert "Traceback" not in output and SECRET not in output
    assert "opsconsole: crashed (RuntimeError: lost the thread while talking to icinga with password [secret]);" in output
    [log] = (state / "opsconsole").glob("crash-*.log")
    assert str(log) in output.replace("\r\n", "")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "start_polling" in text
    assert SECRET not in text and "[secret]" in text
    assert "locals" not in text.lower() and "self = " not in text  # frames and lines, never their variables
