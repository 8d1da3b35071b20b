"""``deepad run SERIES.csv --window W``: a time series from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deepad.cli import app
from deepad.cli.series_run import anomalous_stretches

runner = CliRunner()
FAST = ["-d", "DeepSVDD", "-p", "epochs=2", "-p", "hidden_dims=(8,)", "-p", "rep_dim=4"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory) -> Path:
    """300 timestamps of two noisy sines, a burst at rows 200-205 labelled 1, dated rows."""
    rng = np.random.default_rng(0)
    t = np.arange(300)
    frame = pd.DataFrame({
        "timestamp": pd.date_range("2024-01-01", periods=300, freq="min"),
        "temperature": np.sin(t / 5.0) + 0.05 * rng.normal(size=300),
        "pressure": 10 * np.cos(t / 7.0) + 0.5 * rng.normal(size=300),
        "is_anomaly": 0,
    })
    frame.loc[200:205, ["temperature", "is_anomaly"]] = [3.0, 1]
    path = tmp_path_factory.mktemp("series") / "series.csv"
    frame.to_csv(path, index=False)
    return path


def test_series_run_writes_per_timestamp_scores_and_a_plot(series_csv, tmp_path):
    scores_csv, png = tmp_path / "scores.csv", tmp_path / "scores.png"
    result = invoke("run", series_csv, "--window", 16, "--train-stride", 4, "-l", "is_anomaly",
                    *FAST, "--output", scores_csv, "--plot", png)
    assert result.exit_code == 0, result.output
    assert "300 timestamps x 2 channel(s), time column 'timestamp'" in result.output
    assert "train stride 4, score stride 1" in result.output
    assert "AUC-ROC" in result.output
    table = pd.read_csv(scores_csv)
    assert list(table.columns) == ["timestamp", "score", "is_anomaly", "label"]
    assert len(table) == 300 and np.isfinite(table["score"]).all()
    assert table["timestamp"].iloc[0] == "2024-01-01 00:00:00"
    assert table["label"].sum() == 6
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_series_run_without_time_column_uses_row_order(series_csv, tmp_path):
    frame = pd.read_csv(series_csv).drop(columns=["timestamp", "is_anomaly"])
    path = tmp_path / "plain.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "plain_scores.csv"
    result = invoke("run", path, "--window", 16, "--train-stride", 8, *FAST,
                    "--output", out, "--plot", "none")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["row", "score", "is_anomaly"]
    assert table["row"].tolist() == list(range(300))


@pytest.mark.parametrize(("extra", "message"), [
    (["--window", 400], "fewer than --window 400"),
    (["--window", 16, "-d", "APE"], "not windows of a series"),
    (["--window", 16, "--timestamp-column", "when"], "'when' is not a column"),
    (["--window", 16, "--score-stride", 17], "score_stride=17 is larger than window=16"),
    (["--train-stride", 4], "add --window W"),
])
def test_series_run_errors_are_one_line(series_csv, extra, message):
    result = invoke("run", series_csv, "-l", "is_anomaly", *extra, "--output", "none",
                    "--plot", "none")
    assert result.exit_code == 2
    assert message in result.output


def test_series_rows_out_of_time_order_are_refused(series_csv, tmp_path):
    frame = pd.read_csv(series_csv).iloc[::-1]
    path = tmp_path / "reversed.csv"
    frame.to_csv(path, index=False)
    result = invoke("run", path, "--window", 16, "--output", "none", "--plot", "none")
    assert result.exit_code == 2 and "not in increasing order" in result.output


def test_anomalous_stretches():
    assert anomalous_stretches(np.array([1, 1, 0, 0, 1, 0, 1])) == [(0, 1), (4, 4), (6, 6)]
    assert anomalous_stretches(np.zeros(4, dtype=int)) == []


def test_series_label_like_column_without_label_option_is_warned(series_csv, tmp_path):
    result = invoke("run", series_csv, "--window", 16, "--train-stride", 8, *FAST,
                    "--output", "none", "--plot", "none")
    assert result.exit_code == 0, result.output
    assert "column 'is_anomaly' is named like a label and is used as a channel" in result.output
    assert "3 channel(s)" in result.output
