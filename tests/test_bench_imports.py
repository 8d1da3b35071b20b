"""No import circles in ``deepad.bench`` or ``deepad.core`` (issue 16).

The graph is read from the source with :mod:`ast`: every ``import`` / ``from ... import`` of a
module of the same package, at module level or inside a function (a late import hides a
circle, it does not remove it), except those under ``if TYPE_CHECKING:`` (never executed).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGES = ("deepad.bench", "deepad.core")


def _modules(package: str) -> dict[str, Path]:
    folder = SRC.joinpath(*package.split("."))
    found = {}
    for path in sorted(folder.glob("*.py")):
        name = package if path.stem == "__init__" else f"{package}.{path.stem}"
        found[name] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports}``; the package's ``__init__`` is
    left out as a target (importing ``package.x`` runs it, but it only re-exports)."""
    modules = _modules(package)
    names = set(modules) - {package}
    return {name: _imports(name, path, names) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as a list of modules (first = last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_circle_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_late_imports_count_and_type_checking_imports_do_not(tmp_path):
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p import b\n"
              "def f():\n    from p import c\n")
    path = tmp_path / "a.py"
    path.write_text(source, encoding="utf-8")
    assert _imports("p.a", path, {"p.b", "p.c"}) == {"p.c"}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package):
    graph = import_graph(package)
    assert len(graph) > 3
    cycle = find_cycle(graph)
    assert cycle is None, f"import circle in {package}: {' -> '.join(cycle)}"


def test_every_bench_module_imports():
    for name in _modules("deepad.bench"):
        if name.endswith("dask_backend"):
            continue  # needs the optional distributed package
        importlib.import_module(name)
