"""``.ci/run`` is the README's test command after a clean install: lint, then the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command_lint_included():
    readme, ci = ROOT / "README.md", ROOT / ".ci" / "run"
    if not (readme.exists() and ci.exists()):
        pytest.skip("not run from a checkout (no README.md or .ci/run)")
    lines = readme.read_text(encoding="utf-8").splitlines()
    after = lines[next(i for i, line in enumerate(lines) if line.startswith("# 2. the tests")):]
    command = next(line for line in after if line.startswith("python3 -m venv"))
    assert "ruff check src tests benchmarks && python -m pytest -q" in command
    script = ci.read_text(encoding="utf-8").splitlines()
    assert command in script, f".ci/run does not run the README's test command {command!r}"
    assert script.index(command) > script.index("rm -rf .venv")  # from scratch
