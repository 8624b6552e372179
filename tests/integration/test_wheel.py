"""The wheel installs what it ships: built from this checkout, installed (without the checkout on the
path) into a fresh virtualenv, it runs `opsconsole --version` and `check-config` on the example config,
and every subpackage imports with its data files (the status schema, the stylesheet, the themes)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import console

ROOT = Path(__file__).resolve().parents[2]
IMPORT_ALL = """
import importlib, pkgutil, console
from importlib import resources
names = [m.name for m in pkgutil.walk_packages(console.__path__, "console.") if m.ispkg]
for name in names:
    importlib.import_module(name)
assert console.__file__.startswith({site!r}), console.__file__
assert resources.files("console.cli").joinpath("status.schema.json").is_file()
assert resources.files("console.ui").joinpath("console.tcss").is_file()
assert sorted(p.name for p in resources.files("console.themes").iterdir() if p.name.endswith(".yaml"))
assert resources.files("console.sim").joinpath("data").is_dir()
print(" ".join(sorted(names)))
"""


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_wheel_installs_into_a_fresh_virtualenv_and_runs(tmp_path: Path) -> None:
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", ROOT,
                cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("opsconsole-*.whl")
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path).returncode == 0
    python = venv / "bin" / "python"
    installed = run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel,
                    cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).stdout.strip())
    # the dependencies come from the test environment; its own `console` (an editable install) is not on
    # this path: an editable finder is a .pth file, and a directory named in a .pth file has its own skipped
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    version = run(venv / "bin" / "opsconsole", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"opsconsole, version {console.__version__}", version

    checked = run(venv / "bin" / "opsconsole", "check-config", ROOT / "config.example.yaml", cwd=tmp_path)
    complaints = [line for line in checked.stderr.splitlines() if ": " in line]
    assert checked.returncode == 2 and complaints, checked  # the example names secrets and files of a real farm
    missing = ("not set", "does not exist", "No such file or directory")  # an env var, a file of that farm
    assert [c for c in complaints if not any(word in c for word in missing)] == []

    imported = run(python, "-c", IMPORT_ALL.format(site=str(site)), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert {"console.cli", "console.core", "console.derive", "console.ui.widgets", "console.themes"} <= set(imported.stdout.split())
