"""The graph peers page compares like with like: each PyGOD detector against deepad's best
unsupervised detector on the jobs that PyGOD detector finished, and the paired differences."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("scipy")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "graph_peers.py"


@pytest.fixture(scope="module")
def page():
    spec = importlib.util.spec_from_file_location("graph_peers_page", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame(rows):
    return pd.DataFrame([{"detector": d, "dataset": g, "seed": s, "auc_roc": a,
                          "setting": "graph", "status": st} for d, g, s, a, st in rows])


def test_like_with_like_uses_only_the_jobs_the_peer_finished(page):
    # CONAD is weak on reddit and strong on books; pygod:DOMINANT finished on books only.
    # Over all graphs CONAD (0.60) is below the peer's books mean (0.70); on the peer's own
    # job it is above (0.80): the verdict must come from the same job.
    frame = _frame([("CONAD", "books", 0, 0.80, "ok"), ("CONAD", "reddit", 0, 0.40, "ok"),
                    ("pygod:DOMINANT", "books", 0, 0.70, "ok"),
                    ("pygod:DOMINANT", "reddit", 0, None, "timeout"),
                    ("pygod:OCGNN", "books", 0, 0.85, "ok"),
                    ("pygod:OCGNN", "reddit", 0, 0.30, "ok")])
    lines = page.like_with_like(frame, "CONAD", 0.60, ["pygod:DOMINANT", "pygod:OCGNN"])
    rows = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| pygod")}
    assert rows["pygod:DOMINANT"] == "| pygod:DOMINANT | 1 (1) | 0.700 | 0.800 | yes |"
    # over both graphs: CONAD 0.600 against 0.575
    assert rows["pygod:OCGNN"] == "| pygod:OCGNN | 2 (2) | 0.575 | 0.600 | yes |"
    assert any("above every PyGOD detector on that detector's own jobs: yes (2 of 2; 0 of 2"
               in line for line in lines)


def test_like_with_like_says_no_when_a_peer_is_above(page):
    frame = _frame([("CONAD", "books", 0, 0.50, "ok"), ("pygod:CONAD", "books", 0, 0.51, "ok")])
    lines = page.like_with_like(frame, "CONAD", 0.50, ["pygod:CONAD"])
    assert "| pygod:CONAD | 1 (1) | 0.510 | 0.500 | no |" in lines
    assert any(": no (0 of 1;" in line for line in lines)


def test_paired_differences_counts_ties_and_tests_the_rest(page):
    rows = []
    for seed in range(6):
        rows += [("AnomalyDAE", "books", seed, 0.5 + 0.01 * seed, "ok"),
                 ("pygod:AnomalyDAE", "books", seed, 0.5 + 0.01 * seed - 0.02, "ok"),
                 ("AnomalyDAE", "disney", seed, 0.6, "ok"),
                 ("pygod:AnomalyDAE", "disney", seed, 0.6, "ok")]
    lines = page.paired_differences(_frame(rows))
    (row,) = [line for line in lines if line.startswith("| AnomalyDAE")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "12"  # paired jobs
    assert cells[2] == "+0.0100"  # six at +0.02, six at 0
    assert cells[3] == "books +0.020, disney +0.000"
    assert cells[4] == "6 of 12"
    assert float(cells[5]) < 0.05  # six equal positive differences: p = 2 / 2**6
