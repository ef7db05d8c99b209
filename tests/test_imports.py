"""No module of the integration or the tools imports itself in a circle, not even from inside
a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "custom_components.microhome": ROOT / "custom_components" / "microhome",
    "microhome_tools": ROOT / "tools" / "microhome_tools",
}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for package, folder in PACKAGES.items():
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            targets: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom):
                    base = package if node.level else (node.module or "")
                    if node.level and node.module:
                        base = f"{package}.{node.module}"
                    if node.level and not node.module:
                        targets.update(f"{package}.{alias.name}" for alias in node.names)
                    else:
                        targets.add(base)
                elif isinstance(node, ast.Import):
                    targets.update(alias.name for alias in node.names)
            graph[name] = {t for t in targets if t in _modules() and t != name}
    return graph


def _modules() -> set[str]:
    found = set()
    for package, folder in PACKAGES.items():
        for path in folder.glob("*.py"):
            found.add(package if path.stem == "__init__" else f"{package}.{path.stem}")
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            # A package's __init__ is imported with each of its modules; not a cycle by itself.
            if node.startswith(target + ".") and target in PACKAGES:
                continue
            if (found := visit(target, [*path, node])) is not None:
                return found
        done.add(node)
        return None

    for node in sorted(graph):
        if (found := visit(node, [])) is not None:
            return found
    return None


def test_no_import_cycles() -> None:
    assert _cycle(_graph()) is None


def test_the_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
