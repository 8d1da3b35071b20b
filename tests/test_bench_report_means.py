"""Mean rows over every dataset, failures counted, beside the complete-case mean (issue 16,
defect 6), in the tabular and the time-series report; stale cells marked."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from deepad.bench.report import write_report

AUC = {"d1": {"A": 0.9, "B": 0.6, "C": None}, "d2": {"A": 0.7, "B": 0.8, "C": 0.75},
       "d3": {"A": 0.6, "B": 0.9, "C": 0.8}}


def rows(setting: str = "unsupervised", names: dict[str, str] | None = None,
         always_failing: bool = False) -> pd.DataFrame:
    names = names or {}
    out = []
    for dataset, scores in AUC.items():
        for detector, auc in {**scores, **({"D": None} if always_failing else {})}.items():
            ok = auc is not None
            out.append({"detector": detector, "params": json.dumps({}),
                        "dataset": names.get(dataset, dataset), "seed": 0,
                        "setting": setting, "labeled_ratio": math.nan,
                        "auc_roc": auc if ok else math.nan,
                        "auc_pr": auc / 2 if ok else math.nan,
                        "precision_at_n": 0.5 if ok else math.nan, "fit_seconds": 1.0,
                        "score_seconds": 0.1, "peak_memory_mb": 10.0,
                        "status": "ok" if ok else "timeout",
                        "error": None if ok else "no result within 900 s",
                        "stale": detector == "B"})
    return pd.DataFrame(out)


def row(markdown: str, first: str, after: str) -> list[str]:
    for line in markdown[markdown.index(after):].splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first:
            return cells[1:]
    raise AssertionError(f"no row {first!r}")


@pytest.fixture
def tabular(tmp_path) -> str:
    return write_report(rows(), tmp_path)["report.md"].read_text(encoding="utf-8")


def test_tabular_mean_over_all_datasets_counts_failures(tabular):
    after = "AUC-ROC: mean"
    # complete cases: d2, d3 only (C failed on d1)
    assert row(tabular, "mean", after)[:3] == ["0.650", "0.850", "0.775"]
    # all 3 datasets: C's failure on d1 scores the lowest AUC there (0.6) and ranks last
    assert row(tabular, "mean, all 3", after)[:3] == ["0.733", "0.767", "0.717"]
    # d1 ranks A 1, B 2, C 3; d2 B 1, C 2, A 3; d3 B 1, C 2, A 3
    assert row(tabular, "average rank, all 3", after)[:3] == ["2.33", "1.33", "2.33"]
    assert row(tabular, "fails (of 3)", after)[:3] == ["0", "0", "1"]
    assert "failed, timed out, not run) gets the worst rank" in tabular


def test_a_detector_that_always_failed_ranks_last_everywhere(tmp_path):
    text = write_report(rows(always_failing=True), tmp_path)["report.md"].read_text(
        encoding="utf-8")
    after = "AUC-ROC: mean"
    assert row(text, "mean", after) == ["0.650", "0.850", "0.775", "—"]  # complete cases
    # D takes the lowest AUC of each dataset (0.6, 0.7, 0.6) and ties C for last on d1
    assert row(text, "mean, all 3", after) == ["0.733", "0.767", "0.717", "0.633"]
    assert row(text, "average rank, all 3", after) == ["2.33", "1.33", "2.50", "3.83"]
    assert row(text, "fails (of 3)", after) == ["0", "0", "1", "3"]


def test_stale_cells_and_counts_are_marked(tabular):
    assert "3 of 9 rows are stale" in tabular
    assert row(tabular, "d1", "AUC-ROC: mean")[1].endswith("†")
    assert not row(tabular, "d1", "AUC-ROC: mean")[0].endswith("†")
    header_line = next(line for line in tabular.splitlines()
                       if line.startswith("| detector |") and "stale" in line)
    assert header_line.strip().endswith("| stale |")


def test_without_a_stale_column_nothing_is_marked(tmp_path):
    text = write_report(rows().drop(columns="stale"), tmp_path)["report.md"].read_text(
        encoding="utf-8")
    assert "†" not in text and "stale" not in text


def test_series_report_has_the_same_rows(tmp_path):
    names = {"d1": "ucr/1_a", "d2": "ucr/2_b", "d3": "ucr/3_c"}
    text = write_report(rows("series", names), tmp_path)["report.md"].read_text(
        encoding="utf-8")
    after = "UCR: AUC-ROC, mean"
    assert row(text, "mean (2 series with every result)", after)[:3] == [
        "0.650", "0.850", "0.775"]
    assert row(text, "mean, all 3", after)[:3] == ["0.733", "0.767", "0.717"]
    assert row(text, "average rank, all 3", after)[:3] == ["2.33", "1.33", "2.33"]
    overview = "AUC-ROC by group"
    assert row(text, "mean, all 3", overview)[:3] == ["0.733", "0.767", "0.717"]


def test_a_table_mixing_protocols_is_refused(tmp_path):
    mixed = pd.concat([rows(), rows("series", {"d1": "ucr/1_a", "d2": "ucr/2_b",
                                               "d3": "ucr/3_c"})])
    with pytest.raises(ValueError, match="mix the jobs of several protocols"):
        write_report(mixed, tmp_path)
