"""No module of console/ imports another module's private name (`from console.x import _y`): what a
module shares is public, so a reader can tell its API from its insides."""

from __future__ import annotations

import ast
from pathlib import Path

import console

ROOT = Path(console.__file__).parent


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("console"):
            found += [f"{path.relative_to(root)}:{node.lineno} {node.module}.{alias.name}"
                      for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def test_no_private_name_is_imported_from_another_module() -> None:
    assert [hit for path in sorted(ROOT.rglob("*.py")) for hit in private_imports(path)] == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("from console.core.state import (\n    Store,\n    _hidden,\n)\n")
    assert private_imports(tmp_path / "x.py", tmp_path) == ["x.py:1 console.core.state._hidden"]
