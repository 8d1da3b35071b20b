"""``deepad score``: a saved model applied to CSV / Parquet / npz, streaming, with row ids;
``--dask local`` against in-process scoring, and a killed run resumed."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import deepad
from deepad import AutoEncoder, TableDetector
from deepad.cli import app
from deepad.cli.score import part_path, score_dask
from deepad.data import ParquetSource

runner = CliRunner()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(4000, 5)) * [1, 2, 3, 4, 5]).astype(np.float32)
    X[::500] += 30.0  # planted anomalies, one per 500 rows
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame.insert(0, "order_id", np.arange(len(X)) * 7 + 3)
    data = folder / "data"
    data.mkdir()
    for i in range(4):
        frame.iloc[i * 1000:(i + 1) * 1000].to_parquet(data / f"part-{i}.parquet", index=False)
    model = TableDetector(AutoEncoder(hidden_dims=(16, 4), epochs=10, random_state=0),
                          drop=["order_id"])
    model.fit(ParquetSource(data)).save(folder / "model")
    expected = deepad.load(folder / "model").decision_function(frame)
    return folder, frame, expected


def test_score_parquet_csv_and_npz_carry_the_row_ids(fitted):
    folder, frame, expected = fitted
    frame.to_csv(folder / "data.csv", index=False)
    np.savez(folder / "data.npz", X=frame[list("abcde")].to_numpy())
    for data, ids in [(folder / "data", "order_id"), (folder / "data.csv", "order_id"),
                      (folder / "data.npz", None)]:
        out = folder / f"scores-{data.name}.parquet"
        args = ["score", str(folder / "model"), str(data), "--out", str(out),
                "--batch-rows", "700", "-q"] + (["--id-column", ids] if ids else [])
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "4,000 rows scored" in result.output
        scores = pd.read_parquet(out)
        assert list(scores.columns) == [ids or "row", "score", "label"]
        id_values = frame["order_id"].to_numpy() if ids else np.arange(4000)
        np.testing.assert_array_equal(scores[ids or "row"], id_values)
        # other batch sizes, other float32 matrix-product blockings: equal to ~1e-6 relative
        np.testing.assert_allclose(scores["score"], expected, rtol=1e-5, atol=1e-9)
        top = scores[ids or "row"][scores["score"].rank(ascending=False) <= 8]
        assert set(top) == set(id_values[::500])


def test_score_explain_names_the_features_of_the_flagged_rows(fitted, tmp_path):
    folder, frame, _ = fitted
    planted = frame.iloc[:1000].copy()
    planted.loc[planted.index[:5], "d"] = 60.0  # one feature far off, on 5 rows
    planted.to_csv(tmp_path / "planted.csv", index=False)
    out = tmp_path / "explained.parquet"
    result = runner.invoke(app, ["score", str(folder / "model"), str(tmp_path / "planted.csv"),
                                 "--out", str(out), "--id-column", "order_id", "--explain",
                                 "2", "-q"])
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    flagged = scores["label"] == 1
    assert (scores["explanation"][flagged] != "").all()
    assert (scores["explanation"][~flagged] == "").all()
    for text in scores["explanation"][:5]:
        assert text.startswith("d (") and "higher than normal" in text
        assert text.count(";") == 1  # two features


def test_score_reports_bad_input_cleanly(fitted):
    folder, _, _ = fitted
    result = runner.invoke(app, ["score", str(folder / "model"), str(folder / "data"),
                                 "--out", str(folder / "x.parquet"), "--id-column", "nope"])
    assert result.exit_code == 2 and "--id-column 'nope' is not a column" in result.output
    result = runner.invoke(app, ["score", str(folder / "model"), str(folder / "nothing.csv")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_dask_local_scores_equal_in_process_and_a_killed_run_resumes(fitted):
    distributed = pytest.importorskip("distributed")
    folder, frame, expected = fitted
    in_process = folder / "in-process.parquet"
    result = runner.invoke(app, ["score", str(folder / "model"), str(folder / "data"),
                                 "--out", str(in_process), "--id-column", "order_id", "-q"])
    assert result.exit_code == 0, result.output
    expected = pd.read_parquet(in_process)["score"].to_numpy()
    out = folder / "dask-out"
    parts = score_dask(folder / "model", folder / "data", out, address="local", workers=2,
                       id_column="order_id", progress=False)
    _check_first_run(parts, out, frame, expected)
    # a killed run: two partitions written, two not; the rerun (on a cluster given by its
    # address) scores only the missing two
    kept = {n: part_path(out, n).stat().st_mtime_ns for n in (0, 2)}
    part_path(out, 1).unlink()
    part_path(out, 3).unlink()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = runner.invoke(app, ["score", str(folder / "model"), str(folder / "data"),
                                     "--out", str(out), "--id-column", "order_id",
                                     "--dask", cluster.scheduler_address, "-q"])
    assert result.exit_code == 0, result.output
    assert "(2 scored now, 2 already written)" in result.output
    assert {n: part_path(out, n).stat().st_mtime_ns for n in (0, 2)} == kept
    resumed = pd.read_parquet(out).sort_values("order_id")
    np.testing.assert_array_equal(resumed["score"], expected)


def _check_first_run(parts, out, frame, expected):
    assert list(parts["partition"]) == [0, 1, 2, 3] and parts["scored"].all()
    assert parts["pid"].nunique() <= 2 and os.getpid() not in set(parts["pid"])
    scores = pd.read_parquet(out).sort_values("order_id")
    np.testing.assert_array_equal(scores["order_id"], frame["order_id"])
    np.testing.assert_array_equal(scores["score"], expected)  # identical, not just close
