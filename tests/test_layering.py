"""The layers import only downwards (docs: DESIGN.md, "Layers"; issue 16).

Read from the source with :mod:`ast`: every ``import`` / ``from ... import`` statement counts,
at module level, inside a function or under ``if TYPE_CHECKING:`` (a late import hides a
dependency, it does not remove it); relative imports are resolved. Names in docstrings
(``>>> from deepad.detectors import ...``) are not imports.

- A branch package of ``deepad.detectors`` (``generic_normality``, ``measure_normality``, ...)
  never imports another branch, nor ``deepad.detectors`` itself (whose ``__init__`` imports
  every branch): a building block two methods share lives in ``deepad.nets`` or
  ``deepad.core``.
- Detectors never import ``deepad.bench``, ``deepad.cli`` or ``deepad.explain``.
- ``deepad.nets`` imports only ``deepad.nets`` and ``deepad.data`` (so never
  ``deepad.detectors`` nor ``deepad.core.deep``).
- ``deepad.core`` never imports ``deepad.detectors`` (detectors register themselves).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
DETECTORS = "deepad.detectors"


def module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, src: Path) -> set[str]:
    """Every module ``path`` imports, absolute: ``import a.b`` → ``a.b``, ``from a import b``
    → ``a``, ``from . import b`` → the package's ``b``."""
    name = module_name(path, src)
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            if node.module is None:  # from . import a: the modules a
                found.update(f"{base}.{alias.name}" for alias in node.names)
            else:
                found.add(base)
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def layering_violations(src: Path) -> list[str]:
    """``"module imports target (rule)"`` for every import that breaks a rule above."""
    problems = []
    for path in sorted((src / "deepad").rglob("*.py")):
        name = module_name(path, src)
        imports = {m for m in imported_modules(path, src) if within(m, "deepad")}
        if within(name, DETECTORS) and name != DETECTORS:
            branch = ".".join(name.split(".")[:3])
            for target in sorted(imports):
                if target == DETECTORS or (within(target, DETECTORS)
                                           and not within(target, branch)):
                    problems.append(f"{name} imports {target} (sibling detector branch)")
                elif any(within(target, f"deepad.{up}") for up in ("bench", "cli", "explain")):
                    problems.append(f"{name} imports {target} (detectors never import it)")
        if within(name, "deepad.nets"):
            problems += [f"{name} imports {target} (nets imports only nets and data)"
                         for target in sorted(imports) if target != "deepad"
                         and not within(target, "deepad.nets")
                         and not within(target, "deepad.data")]
        if within(name, "deepad.core"):
            problems += [f"{name} imports {target} (core never imports detectors)"
                         for target in sorted(imports) if within(target, DETECTORS)]
    return problems


def test_the_layers_import_only_downwards():
    problems = layering_violations(SRC)
    assert not problems, "\n".join(problems)


def test_the_check_reads_real_imports():
    one_class = SRC / "deepad/detectors/measure_normality/one_class.py"
    imports = imported_modules(one_class, SRC)
    assert {"deepad.core.pretrain", "deepad.nets", "torch"} <= imports


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("relative", "source", "rule"), [
    ("deepad/detectors/b/m.py", "from deepad.detectors.a.m import X\n", "sibling"),
    ("deepad/detectors/b/m.py", "def f():\n    import deepad.detectors.a.m\n", "sibling"),
    ("deepad/detectors/b/m.py", "from ..a import m\n", "sibling"),
    ("deepad/detectors/b/m.py", "from deepad.detectors import X\n", "sibling"),
    ("deepad/detectors/b/m.py", "from deepad.bench import run\n", "never import"),
    ("deepad/nets/n.py", "from deepad.core.deep import DeepDetector\n", "nets imports only"),
    ("deepad/nets/n.py", "from deepad.detectors.a.m import X\n", "nets imports only"),
    ("deepad/core/c.py", "from deepad.detectors.a import m\n", "core never"),
])
def test_the_check_catches_each_kind_of_violation(tmp_path, relative, source, rule):
    write(tmp_path, "deepad/detectors/a/m.py", "X = 1\n")
    write(tmp_path, "deepad/detectors/b/ok.py",
          "from deepad.detectors.b.other import Y\nfrom . import other\n"
          "from deepad.core.chunks import in_chunks\nfrom deepad.nets import MLP\n")
    write(tmp_path, "deepad/nets/ok.py", "from deepad.data.spec import InputSpec\n")
    assert layering_violations(tmp_path) == []
    write(tmp_path, relative, source)
    problems = layering_violations(tmp_path)
    assert len(problems) == 1 and rule in problems[0], problems
