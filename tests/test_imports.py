"""Import hygiene: light imports stay light, lazy names resolve, the registry is complete,
and the core has no import circles. Checks of ``sys.modules`` run in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import deepad
import deepad.detectors

SRC = Path(deepad.__file__).resolve().parent


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("modules", ["deepad.metrics, deepad.data", "deepad",
                                     "deepad.data.synthetic, deepad.data.windows"])
def test_light_imports_do_not_load_torch(modules):
    out = run_python(f"import {modules}, sys; print(sorted(m for m in sys.modules "
                     "if m.split('.')[0] == 'torch' or m.startswith('deepad.detectors')))")
    assert out.strip() == "[]"


def test_lazy_names_resolve_and_are_listed():
    out = run_python(
        "import sys, json, deepad\n"
        "listed = 'DeepSVDD' in dir(deepad) and 'load' in dir(deepad)\n"
        "before = 'torch' in sys.modules\n"
        "from deepad import DeepSVDD, SeriesDetector, load\n"
        "print(json.dumps([listed, before, DeepSVDD.__module__, SeriesDetector.__name__,\n"
        "                  load.__module__, len(deepad.list_detectors())]))")
    listed, before, module, series, load_module, n = json.loads(out)
    assert listed and not before
    assert module == "deepad.detectors.measure_normality.one_class"
    assert series == "SeriesDetector" and load_module == "deepad.core.persistence"
    assert n == len(deepad.detectors.__all__)


def test_all_names_every_builtin_detector_and_each_resolves():
    assert set(deepad.detectors.__all__) <= set(deepad.__all__)
    assert set(deepad.__all__) <= set(dir(deepad))
    for name in deepad.__all__:
        assert getattr(deepad, name) is not None
    assert deepad.DeepSVDD is deepad.get_detector("DeepSVDD")
    with pytest.raises(AttributeError, match="no attribute 'DeepSVD'"):
        deepad.DeepSVD  # noqa: B018


def test_subpackages_resolve_as_attributes_after_import_deepad():
    out = run_python("import deepad, sys; light = 'torch' not in sys.modules; "
                     "print(light, deepad.metrics.__name__, deepad.core.BaseDetector.__name__)")
    assert out.split() == ["True", "deepad.metrics", "BaseDetector"]


@pytest.mark.parametrize("entry", ["deepad.core.registry", "deepad.core"])
def test_registry_is_complete_on_first_query(entry):
    # a fresh process that never imports deepad.detectors itself
    out = run_python(f"import {entry} as r; from deepad.core.registry import list_detectors, "
                     "get_detector; print(len(list_detectors()), get_detector('devnet').name)")
    assert out.split() == [str(len(deepad.detectors.__all__)), "DevNet"]


def test_cli_lists_every_detector_in_a_fresh_process():
    done = subprocess.run([sys.executable, "-m", "deepad", "list", "--json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    names = {row["name"] for row in json.loads(done.stdout)}
    assert names == {deepad.get_detector(n).name for n in deepad.detectors.__all__}


def module_imports(package: str) -> dict[str, set[str]]:
    """``{module: modules of the same package it imports}``, read from the source (every
    import statement counts, also those under ``if TYPE_CHECKING`` or inside functions)."""
    folder = SRC / package.split(".", 1)[1].replace(".", "/")
    names = {f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name in names:
        tree = ast.parse((folder / f"{name.rsplit('.', 1)[1]}.py").read_text())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in names and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_core_has_no_import_circles():
    graph = module_imports("deepad.core")
    assert "deepad.core.trainer" in graph["deepad.core.deep"]  # the graph is really read
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph))}"
