"""No import cycle in console/ but the few docs/ARCHITECTURE.md lists with their reasons. Every import
counts, the ones inside functions too (a lazy import still ties two modules together); only those
under `if TYPE_CHECKING:` do not (they are never executed)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    # command_executor picks SSH or Salt by the config and imports both lazily; they subclass CommandExecutor
    frozenset({"console.actions.remote", "console.actions.salt", "console.actions.ssh"}),
    # the backends source reads the caches' lists through the depool client; depool reads Icinga's checks by it
    frozenset({"console.actions.depool", "console.sources.backends"}),
    # the simulated Icinga's API and its event stream (lazy imports inside functions)
    frozenset({"console.sim.icinga_api", "console.sim.icinga_events"}),
}


def modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "console").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in known else node.module)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

    Visitor().visit(ast.parse(path.read_text()))
    return {module for module in found if module in known and module != name}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_only_import_cycles_are_the_listed_ones() -> None:
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    found = set(cycles(graph))
    assert found - ALLOWED == set(), sorted(sorted(cycle) for cycle in found - ALLOWED)
    assert not any(module.startswith("console.ui") for cycle in found for module in cycle)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]
