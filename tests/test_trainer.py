"""The one training loop: early stopping, validation loss, sampling; and scikit-learn interop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from deepad import AutoEncoder, DeepSVDD, DevNet
from deepad.core.trainer import Trainer

MANY_EPOCHS = 300

@pytest.fixture(scope="module")
def rows(planted_rows) -> np.ndarray:
    return planted_rows[0]


def svdd(**params) -> DeepSVDD:
    return DeepSVDD(**{**DeepSVDD.test_params, "random_state": 0, **params})


# ---------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize(("validation_size", "patience"), [(0.2, 1), (0.2, 3), (0.0, 2)])
def test_early_stopping_restores_the_best_weights(rows, validation_size, patience):
    params = {"validation_size": validation_size}
    detector = svdd(epochs=MANY_EPOCHS, patience=patience, **params).fit(rows)
    monitored = [r["val_loss" if validation_size else "loss"] for r in detector.history_]
    n_epochs = len(detector.history_)
    best_epoch = int(np.argmin(monitored)) + 1
    # stopped early, exactly `patience` epochs after the last improvement
    assert n_epochs < MANY_EPOCHS
    assert n_epochs - best_epoch == patience
    # the weights are those after the best epoch (a run stopped there by `epochs` draws the
    # same random numbers up to that point), not those after the last one
    at_best = svdd(epochs=best_epoch, **params).fit(rows)
    at_last = svdd(epochs=n_epochs, **params).fit(rows)
    scores = detector.decision_function(rows)
    assert np.array_equal(scores, at_best.decision_function(rows))
    assert not np.array_equal(scores, at_last.decision_function(rows))


def test_without_patience_every_epoch_runs(rows):
    detector = svdd(epochs=12, validation_size=0.2, patience=None).fit(rows)
    assert [r["epoch"] for r in detector.history_] == list(range(1, 13))


# ---------------------------------------------------------------------------- history
def test_validation_size_adds_val_loss(rows):
    with_val = svdd(epochs=4, validation_size=0.2).fit(rows)
    assert len(with_val.history_) == 4
    for record in with_val.history_:
        assert set(record) == {"epoch", "loss", "val_loss"}
        assert np.isfinite(record["val_loss"]) and record["val_loss"] >= 0.0
    # the held-out rows are not trained on: a different model than without validation
    without = svdd(epochs=4).fit(rows)
    assert all(set(r) == {"epoch", "loss"} for r in without.history_)
    assert not np.array_equal(with_val.decision_scores_, without.decision_scores_)


def test_validation_size_needs_two_training_rows(rows):
    with pytest.raises(ValueError, match=r"validation_size=0.4 leaves 1 training row\(s\) of 2"):
        svdd(validation_size=0.4).fit(rows[:2])


def test_divergence_is_reported(rows):
    with pytest.raises(FloatingPointError, match="training diverged at epoch 1.*lower lr"):
        svdd(lr=1e20).fit(rows)


# ---------------------------------------------------------------------------- sampling
def trainer(**options) -> Trainer:
    return Trainer(**{"epochs": 1, "batch_size": 8,
                      "generator": torch.Generator().manual_seed(0), **options})


def weak_y(n: int, anomalies: list[int]) -> torch.Tensor:
    y = torch.zeros(n, dtype=torch.int64)
    y[anomalies] = 1
    return y


@pytest.mark.parametrize("batch_size", [8, 7])
def test_balanced_batches_are_half_labelled_anomalies(batch_size):
    y = weak_y(100, [3, 50, 97])
    train_idx = torch.arange(100)[torch.arange(100) % 10 != 1]  # rows 1, 11, ... held out
    batches = list(trainer(sampling="balanced", batch_size=batch_size, steps_per_epoch=60)
                   ._batches(train_idx, y))
    assert len(batches) == 60
    half = batch_size // 2
    drawn_unlabelled = set()
    drawn_anomalies = set()
    for batch in batches:
        assert len(batch) == batch_size
        assert y[batch[:half]].tolist() == [1] * half
        assert y[batch[half:]].tolist() == [0] * (batch_size - half)
        assert set(batch.tolist()) <= set(train_idx.tolist())
        drawn_anomalies |= set(batch[:half].tolist())
        drawn_unlabelled |= set(batch[half:].tolist())
    assert drawn_anomalies == {3, 50, 97}  # every labelled anomaly is used
    assert len(drawn_unlabelled) > 50  # unlabelled rows are sampled widely, with replacement


def test_balanced_batches_are_reproducible():
    y = weak_y(40, [0, 1])
    first = list(trainer(sampling="balanced", steps_per_epoch=5)._batches(torch.arange(40), y))
    again = list(trainer(sampling="balanced", steps_per_epoch=5)._batches(torch.arange(40), y))
    other = list(trainer(sampling="balanced", steps_per_epoch=5,
                         generator=torch.Generator().manual_seed(1))._batches(torch.arange(40), y))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_balanced_split_keeps_labelled_anomalies_for_training():
    y = weak_y(50, [5, 6, 7, 30])
    train_idx, val_idx = trainer(sampling="balanced", validation_size=0.2)._split(50, y)
    assert len(val_idx) == 10
    assert y[val_idx].sum() == 0
    assert {5, 6, 7, 30} <= set(train_idx.tolist())
    assert sorted(train_idx.tolist() + val_idx.tolist()) == list(range(50))


def test_balanced_sampling_needs_labelled_anomalies():
    X = torch.zeros(10, 3)
    with pytest.raises(ValueError, match="needs labelled anomalies"):
        trainer(sampling="balanced").fit(object(), X, None)
    with pytest.raises(ValueError, match="needs labelled anomalies"):
        trainer(sampling="balanced").fit(object(), X, torch.zeros(10, dtype=torch.int64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("validation_size", [0.0, 0.2])
def test_balanced_sampling_on_cuda(planted_rows, validation_size):
    X, y = planted_rows
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:5]] = 1
    detector = DevNet(**DevNet.test_params, validation_size=validation_size, device="cuda",
                      random_state=0).fit(X, labels)
    assert detector.device_.type == "cuda"
    assert np.isfinite(detector.decision_scores_).all()


def test_shuffled_batches_cover_each_row_once():
    train_idx = torch.arange(100, 200)
    batches = list(trainer(batch_size=32)._batches(train_idx, None))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    drawn = torch.cat(batches).tolist()
    assert sorted(drawn) == list(range(100, 200))
    assert drawn != list(range(100, 200))  # shuffled


def test_lone_trailing_row_is_skipped():
    # batch normalisation cannot train on a batch of one row
    batches = list(trainer(batch_size=32)._batches(torch.arange(65), None))
    assert [len(b) for b in batches] == [32, 32]


# ---------------------------------------------------------------------------- scikit-learn
def test_pipeline_with_scaler(rows):
    raw = rows * 250.0 - 40.0  # features on an arbitrary scale
    pipe = Pipeline([("scale", MinMaxScaler()), ("det", svdd())])
    assert pipe.fit(raw) is pipe
    scores = pipe.decision_function(raw)
    labels = pipe.predict(raw)
    assert scores.shape == (len(raw),) and labels.shape == (len(raw),)
    assert set(np.unique(labels)) == {0, 1}
    # the same as scaling by hand: the pipeline is only plumbing
    direct = svdd().fit(MinMaxScaler().fit_transform(raw))
    assert np.array_equal(scores, direct.decision_function(MinMaxScaler().fit(raw).transform(raw)))
    np.testing.assert_array_equal(labels, direct.labels_)


def test_pipeline_passes_y_to_an_unsupervised_detector(planted_rows):
    X, y = planted_rows
    pipe = Pipeline([("scale", MinMaxScaler()), ("det", AutoEncoder(**AutoEncoder.test_params,
                                                                      random_state=0))])
    assert pipe.fit(X, y).predict(X).shape == (len(X),)


def test_clone_of_a_fitted_detector_and_pipeline(rows):
    detector = svdd().fit(rows)
    copy = clone(detector)
    assert copy.get_params() == detector.get_params()
    assert not hasattr(copy, "model_") and not hasattr(copy, "history_")
    # the clone trains to the same model: nothing was learned into the hyperparameters
    assert np.array_equal(copy.fit(rows).decision_scores_, detector.decision_scores_)

    pipe = Pipeline([("scale", MinMaxScaler()), ("det", svdd())]).fit(rows)
    pipe_copy = clone(pipe)
    assert pipe_copy.get_params()["det__epochs"] == DeepSVDD.test_params["epochs"]
    assert not hasattr(pipe_copy.named_steps["det"], "decision_scores_")
