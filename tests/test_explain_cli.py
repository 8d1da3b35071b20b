"""``deepad run --explain`` and ``deepad explain MODEL DATA``: lines, PNGs, CSV, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("captum")

from deepad.cli import app  # noqa: E402

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """200 normal rows (b follows a) and 4 anomalies with c far above its range."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=204)
    frame = pd.DataFrame({"a": a, "b": 2 * a + 0.1 * rng.normal(size=204),
                          "c": rng.normal(size=204), "d": rng.normal(size=204)})
    frame.loc[200:, "c"] = 9.0
    frame["label"] = (frame.index >= 200).astype(int)
    path = tmp_path_factory.mktemp("explain") / "rows.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run_output(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    result = invoke("run", "-d", "AutoEncoder",
                    table, "-l", "label", "--param", "epochs=30", "--top", "3",
                    "--explain", "--explain-out", folder / "why", "--output", "none",
                    "--plot", "none", "--save-model", folder / "model")
    return result, folder


def test_run_explain_prints_lines_and_writes_pngs_and_csv(run_output):
    result, folder = run_output
    assert result.exit_code == 0, result.output
    assert "explanations (exact:" in result.output
    # the top anomaly is one of the planted rows, explained by c above its normal range
    first = result.output[result.output.index("#1 row"):].splitlines()
    assert first[0].split()[2].rstrip(",") in {"200", "201", "202", "203"}
    assert first[1].strip().startswith("c = 9, normal range [") and "higher than normal" in \
        first[1]
    pngs = sorted((folder / "why").glob("rank*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size > 10_000 for p in pngs)
    csv = pd.read_csv(folder / "why" / "attributions.csv")
    assert list(csv.columns[:3]) == ["rank", "row", "score"]
    assert {"attribution:a", "attribution:c"} <= set(csv.columns)
    assert (csv[[f"attribution:{c}" for c in "abcd"]].to_numpy().argmax(axis=1) == 2).all()


def test_explain_a_saved_model_on_raw_rows(run_output, table, tmp_path):
    _, folder = run_output
    result = invoke("explain", folder / "model", table, "--top", "2", "--out", tmp_path / "x",
                    "--features", "3")
    assert result.exit_code == 0, result.output
    assert "not features of the model, ignored: ['label']" in result.output
    assert "c = 9, normal range [" in result.output
    assert len(list((tmp_path / "x").glob("rank*.png"))) == 2
    assert len(pd.read_csv(tmp_path / "x" / "attributions.csv")) == 2


def test_explain_errors(run_output, table, tmp_path):
    _, folder = run_output
    missing = invoke("explain", tmp_path / "nothing", table)
    assert missing.exit_code != 0 and "no such folder" in missing.output
    bad = invoke("explain", folder / "model", table, "--method", "lime", "--out", tmp_path)
    assert bad.exit_code != 0 and "method must be 'auto' or one of" in bad.output
    window = invoke("run", table, "--window", "16", "--explain")
    assert window.exit_code != 0 and "deepad explain DIR DATA" in window.output


def test_explain_a_saved_series_model_and_an_image_detector(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(500)
    frame = pd.DataFrame({"temp": np.sin(t / 6), "flow": np.cos(t / 4)})
    frame.loc[400:402, "flow"] += 5.0
    frame.to_csv(tmp_path / "series.csv", index=False)
    saved = invoke("run", tmp_path / "series.csv", "--window", "16", "--train-stride", "4",
                   "--param", "epochs=2", "--scale", "none", "--top", "0", "--output", "none",
                   "--plot", "none", "--save-model", tmp_path / "series-model")
    assert saved.exit_code == 0, saved.output
    result = invoke("explain", tmp_path / "series-model", tmp_path / "series.csv", "--top", "1",
                    "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert "flow: values" in result.output and "timestamps" in result.output
    assert len(list((tmp_path / "s").glob("rank01-t*.png"))) == 1
    csv = pd.read_csv(tmp_path / "s" / "attributions.csv")
    assert {"timestamp", "step", "channel", "attribution"} <= set(csv.columns)

    from deepad import AutoEncoder

    images = (0.2 * rng.random((60, 1, 8, 8))).astype(np.float32)
    images[0, 0, 2:4, 2:4] = 1.0
    AutoEncoder(epochs=1, random_state=0).fit(images[1:]).save(tmp_path / "image-model")
    np.save(tmp_path / "images.npy", images)
    result = invoke("explain", tmp_path / "image-model", tmp_path / "images.npy", "--top", "1",
                    "--out", tmp_path / "i")
    assert result.exit_code == 0, result.output
    assert "#1 sample 0" in result.output and "strongest pixel at row" in result.output
    assert (tmp_path / "i" / "rank01-sample0.png").stat().st_size > 5_000
