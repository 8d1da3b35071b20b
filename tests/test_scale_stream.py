"""Streaming sources: the scan pass, the shuffle buffer, fitting detectors on Parquet and on
batch supplies, and the detectors that refuse streams."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

import deepad
from deepad import DAGMM, REPEN, AutoEncoder, DeepFeatureDetector, DeepSVDD, TableDetector
from deepad.data import BatchSource, ParquetSource, scan
from deepad.data.streaming import shuffle_batches

FAST = {"hidden_dims": (16, 4), "epochs": 10, "batch_size": 64, "random_state": 0}


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 6)) * [0.5, 0.75, 1, 1.25, 1.5, 2] + 1).astype(np.float32)
    X[:15] += 6.0  # planted anomalies
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(6)])
    frame.insert(0, "id", np.arange(len(X)) + 100)
    frame["kind"] = "a"
    return frame


@pytest.fixture(scope="module")
def parquet_dir(table, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rows")
    for i in range(3):  # 3 files of 4 row groups
        table.iloc[i * 1000:(i + 1) * 1000].to_parquet(folder / f"part-{i}.parquet",
                                                        row_group_size=250, index=False)
    return folder


def features(frame: pd.DataFrame) -> np.ndarray:
    return frame[[f"c{j}" for j in range(6)]].to_numpy()


def test_scan_computes_the_statistics_and_a_uniform_sample_in_one_pass(table, parquet_dir):
    source = ParquetSource(parquet_dir, exclude=["id", "kind"])
    stats = scan(source, reservoir=500, seed=1)
    X = features(table).astype(np.float64)
    assert stats.n_rows == 3000 and stats.n_features == 6
    np.testing.assert_allclose(stats.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.var, X.var(axis=0), rtol=1e-9)
    np.testing.assert_array_equal(stats.min, X.min(axis=0))
    np.testing.assert_array_equal(stats.max, X.max(axis=0))
    # the sample: 500 distinct rows of the data, from every part of the stream
    rows = {tuple(r) for r in X.astype(np.float32)}
    assert len(stats.sample) == 500 and all(tuple(r) in rows for r in stats.sample)
    positions = np.searchsorted(np.sort(X[:, 0].astype(np.float32)),
                                np.sort(stats.sample[:, 0]))
    assert len(np.unique(stats.sample, axis=0)) == 500 and positions.max() > 2500


def test_shuffle_buffer_yields_every_row_once_in_a_new_order():
    chunks = [np.arange(i * 100, (i + 1) * 100, dtype=np.float32)[:, None] for i in range(10)]
    batches = list(shuffle_batches(iter(chunks), 32, buffer_rows=128,
                                   rng=np.random.default_rng(0)))
    rows = np.concatenate(batches)[:, 0]
    np.testing.assert_array_equal(np.sort(rows), np.arange(1000))
    assert all(len(b) == 32 for b in batches[:-1]) and len(batches[-1]) == 1000 % 32
    assert not np.array_equal(rows, np.arange(1000))
    # the first batch mixes rows of the first two chunks: the buffer holds 128 rows
    assert batches[0].max() < 128 and batches[0].min() < 100 <= batches[0].max()


def test_parquet_source_reads_columns_and_shuffles_and_shards_row_groups(parquet_dir):
    source = ParquetSource(parquet_dir, columns=["c2", "c0"])
    assert source.columns == ["c2", "c0"] and source.count_rows() == 3000
    stored = [c[0, 1] for c in source.chunks()]
    epoch = [c[0, 1] for c in source.chunks(seed=3)]
    assert len(stored) == 12 and sorted(epoch) == sorted(stored) and epoch != stored
    ranks = [[c[0, 1] for c in source.chunks(seed=3, rank=r, world=2)] for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(stored) and len(ranks[0]) == 6
    with pytest.raises(TypeError, match=r"numeric.*kind"):
        ParquetSource(parquet_dir)
    with pytest.raises(ValueError, match="no column"):
        ParquetSource(parquet_dir, columns=["nope"])


def test_autoencoder_fits_a_parquet_dataset_and_ranks_the_planted_rows_first(
        table, parquet_dir, tmp_path):
    source = ParquetSource(parquet_dir, exclude=["id", "kind"], reservoir=1000)
    det = AutoEncoder(**FAST).fit(source)
    assert det.n_rows_seen_ == 3000 and len(det.decision_scores_) == 1000
    assert list(det.feature_names_in_) == [f"c{j}" for j in range(6)]
    frame = table[[f"c{j}" for j in range(6)]]
    scores = det.decision_function(frame)
    assert set(np.argsort(-scores)[:15]) == set(range(15))
    # the threshold is the contamination quantile of the sample's scores
    assert 0.05 < (scores > det.threshold_).mean() < 0.2
    # same seed, same stream: the same model; saved and loaded: the same scores
    again = AutoEncoder(**FAST).fit(source).decision_function(frame)
    np.testing.assert_array_equal(scores, again)
    det.save(tmp_path / "m")
    np.testing.assert_array_equal(deepad.load(tmp_path / "m").decision_function(frame), scores)


def test_table_detector_fits_its_scaling_in_one_streaming_pass(table, parquet_dir):
    streamed = TableDetector(AutoEncoder(**FAST), drop=["id"]).fit(
        ParquetSource(parquet_dir, exclude=["kind"]))
    in_memory = TableDetector(AutoEncoder(**FAST), drop=["id"]).fit(table.drop(columns="kind"))
    np.testing.assert_allclose(streamed.preprocessor_.multiply_,
                               in_memory.preprocessor_.multiply_, rtol=1e-12)
    np.testing.assert_allclose(streamed.preprocessor_.add_, in_memory.preprocessor_.add_,
                               rtol=1e-12)
    scores = streamed.decision_function(table.drop(columns="kind"))
    assert set(np.argsort(-scores)[:15]) == set(range(15))
    standard = TableDetector(AutoEncoder(**FAST), scale="standard", drop=["id"]).fit(
        ParquetSource(parquet_dir, exclude=["kind"]))
    X = features(table).astype(np.float64)
    np.testing.assert_allclose(standard.preprocessor_.multiply_, 1 / X.std(axis=0), rtol=1e-9)


def test_batch_sources_and_one_shot_iterators(table):
    X = features(table).astype(np.float32)
    parts = [X[i:i + 500] for i in range(0, 3000, 500)]
    det = DeepSVDD(**FAST).fit(BatchSource(lambda: iter(parts)))  # centre from the sample
    assert set(np.argsort(-det.decision_function(X))[:15]) == set(range(15))
    assert not hasattr(det, "feature_names_in_") and not hasattr(det, "_fit_X")
    with pytest.raises(TypeError, match="one-shot iterator"):
        AutoEncoder(**FAST).fit(iter(parts))
    with pytest.raises(TypeError, match="one-shot iterator"):
        AutoEncoder(**FAST).fit(p for p in parts)
    with pytest.raises(ValueError, match=r"unit 1 holds 18 NaN / infinite"):
        AutoEncoder(**FAST).fit(BatchSource([X[:10], np.full((3, 6), np.nan)]))
    with pytest.raises(ValueError, match="first batch had 6"):
        AutoEncoder(**FAST).fit(BatchSource([X[:10], X[:10, :4]]))


@pytest.mark.parametrize(("detector", "reason"), [
    (DAGMM(), "mixture parameters"), (REPEN(), "triplet sampler"),
    (DeepFeatureDetector(), "kNN / LOF scoring"),
])
def test_methods_that_need_the_whole_training_set_refuse_a_stream(table, detector, reason):
    with pytest.raises(TypeError, match=f"cannot fit a streaming source: .*{reason}"):
        detector.fit(BatchSource([features(table)]))


def test_streaming_fit_refuses_labels_and_a_validation_split(table):
    source = BatchSource([features(table)])
    with pytest.raises(ValueError, match="unsupervised; got y"):
        AutoEncoder(**FAST).fit(source, np.zeros(3000))
    with pytest.raises(ValueError, match="validation_size=0.2"):
        AutoEncoder(**FAST, validation_size=0.2).fit(source)


def test_memory_is_bounded_by_the_buffer_not_the_stream():
    rows, width, n_batches = 2000, 8, 200  # 12.8 MB of float32 in all

    def batches():
        rng = np.random.default_rng(0)
        for _ in range(n_batches):
            yield rng.normal(size=(rows, width)).astype(np.float32)

    source = BatchSource(batches, buffer_rows=8192, reservoir=2000)
    det = AutoEncoder(hidden_dims=(8, 2), epochs=1, batch_size=2048, random_state=0)
    tracemalloc.start()
    det.fit(source)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert det.n_rows_seen_ == rows * n_batches
    # the buffer (8192 rows), the batches cut from it, one supplied batch and the reservoir:
    # well under a fifth of the 12.8 MB stream (numpy allocations are traced)
    assert peak < 2.5e6, peak
