"""Detector docstrings carry no benchmark measurements, which go stale (issue 16): no AUC
values, no timings, no "x times faster". They say what was chosen and why, and point to the
record (``docs/decisions.md``) and the generated results pages (``docs/results/``). Paper
defaults, equation numbers and hyperparameter values are not measurements and stay."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DETECTORS = Path(__file__).resolve().parent.parent / "src" / "deepad" / "detectors"

MEASUREMENTS = {
    "an AUC value": re.compile(r"\bAUC(?:-ROC|-PR)?\s*(?:(?:of|is|was|=|:)\s*)?\d+\.\d"
                               r"|\d\.\d+\s+AUC"),
    "a speed-up": re.compile(r"\d(?:\.\d+)?\s*(?:times|×|x)\s+(?:faster|slower|longer)"),
    "a timing": re.compile(r"\b\d+(?:\.\d+)?\s*(?:ms|s|seconds?|minutes?)\b(?!\s*[-=(])"),
    "a compared score": re.compile(r"\b0\.\d+\s*(?:vs\.?|against|→)\s*0\.\d+"),
}


def docstrings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every docstring of ``path``: the module's, its classes', its
    functions' and those of module-level constants (a string right after an assignment)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            for i, stmt in enumerate(body):
                is_string = (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                             and isinstance(stmt.value.value, str))
                if is_string and (i == 0 or isinstance(body[i - 1], ast.Assign | ast.AnnAssign)):
                    found.append((stmt.lineno, stmt.value.value))
    return found


def measurements(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [f"{kind}: ...{flat[max(0, m.start() - 40):m.end() + 10]}..."
            for kind, pattern in MEASUREMENTS.items() for m in pattern.finditer(flat)]


@pytest.mark.parametrize("text", [
    "mean AUC-ROC 0.803 against 0.777", "0.88 → 0.97 AUC-ROC", "1.8-2.5 times faster",
    "about 1-2 ms of Python", "took 3 times longer", "(0.80 vs 0.84, benchmarks)",
    "0.861 AUC-ROC from one start", "the AUC is 0.998 after 1-2 epochs",
])
def test_the_patterns_catch_measurements(text):
    assert measurements(text)


@pytest.mark.parametrize("text", [
    "lr 1e-3, weight decay 0.02, ν = 0.5, Eq. 3-5", "AUC-ROC (measured: docs/results/quick.md)",
    "72 / 128 · 8 ≈ 4.5 times fewer, larger steps", "2 x 64 LSTM, 10 epochs of batches of 256",
    "a few seconds", "5 % pseudo-anomalies", "σ = 0.155 (the release's) or 0.3",
    "the mean AUC-ROC of 6_cardio and 38_thyroid",
])
def test_the_patterns_leave_hyperparameters_alone(text):
    assert measurements(text) == []


def test_detector_docstrings_hold_no_benchmark_measurements():
    problems = [f"{path.relative_to(DETECTORS)}:{line}: {found}"
                for path in sorted(DETECTORS.rglob("*.py"))
                for line, text in docstrings(path) for found in measurements(text)]
    assert not problems, "\n".join(problems)
