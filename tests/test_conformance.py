"""The detector contract, checked for every registered detector on every modality it supports.

Tests taking ``case`` run once per (detector, modality) pair and those taking
``detector_cls`` once per detector class (see ``conftest.py``); a new detector joins them by
being registered. Fitted models come from the session cache (``fitted_case``) and are never
modified here: tests that change a model clone it first. The second fit with the same seed
(``refit``) is also made once per case and read by the checks that need it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from conftest import SUPPORTED_MODALITIES, is_deterministic, seeded_params
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

import deepad
from deepad.data.synthetic import make_planted_rows, make_planted_windows

# Chance level is 0.5; with 25 planted anomalies among 525 rows (20 among 420 windows) the
# AUC of random scores has a standard deviation of about 0.06, so 0.75 is four of them above
# chance: constant, random or inverted scores fail, a detector that learned anything passes.
MIN_PLANTED_AUC = 0.75

# Known failures of the planted ranking, run and reported (XFAIL / XPASS), never skipped: ALAD
# and GANomaly on windows rank them by chance at their test_params (docs/results/gan_windows.md,
# `python benchmarks/gan_windows.py`; docs/decisions.md, issue 16: GAN window ranking).
# tests/test_gans.py checks GANomaly on seeds 0-2 at a longer CI budget; ALAD is an open defect.
RANKING_KNOWN_TO_FAIL = {("ALAD", "sequence"), ("GANomaly", "sequence")}
# The OOD scores read from a classifier's logits (MSP, ODIN, energy) rank samples far from every
# class as confident, the known weakness of ReLU classifiers (Hein, Andriushchenko & Bitterwolf,
# CVPR 2019); here the planted anomalies are even trained on, under the label of their nearest
# cluster. tests/test_ood.py checks these scores on out-of-distribution images they do detect.
RANKING_KNOWN_TO_FAIL |= {(name, modality) for name in ("MSP", "ODIN", "Energy")
                          for modality in ("tabular", "image")}


# ---------------------------------------------------------------------------- helpers
def data_of(case, planted):
    return planted[case.modality]


def other_modality_data(case):
    """Valid data of another modality, same number of features as the case's data (images:
    rows as wide as an image has pixels)."""
    if case.modality == "image":
        return make_planted_rows(30, 2, n_features=16 * 16, random_state=1)[0]
    if case.modality in ("tabular", "categorical"):
        return make_planted_windows(30, 2, window=16, n_features=8, random_state=1)[0]
    return make_planted_rows(30, 2, n_features=2, random_state=1)[0]


def n_features_of(case, X):
    """Features of a sample: the last axis of arrays, the channels of images; event sessions
    have one key per event."""
    if case.modality == "image":
        return X.shape[1]
    return 1 if case.modality == "event" else X.shape[-1]


def wider(X):
    """``X`` with one extra feature (the last axis)."""
    return np.concatenate([X, X[..., :1]], axis=-1)


# ---------------------------------------------------------------------------- fit / params
def test_fitted_attributes(fitted_case, case, planted):
    X, _ = data_of(case, planted)
    n = len(X)
    scores = fitted_case.decision_scores_
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64 and scores.shape == (n,)
    assert np.isfinite(scores).all()
    assert isinstance(fitted_case.threshold_, float) and np.isfinite(fitted_case.threshold_)
    assert fitted_case.labels_.shape == (n,)
    assert set(np.unique(fitted_case.labels_)) <= {0, 1}
    np.testing.assert_array_equal(fitted_case.labels_,
                                  (scores > fitted_case.threshold_).astype(np.int64))
    # the threshold marks about `contamination` of the training data as anomalous (None: the
    # method's own decision rule sets it, e.g. DeepLog's top-g)
    if fitted_case.contamination is not None:
        assert abs(fitted_case.labels_.mean() - fitted_case.contamination) <= 0.01
    assert fitted_case.n_features_in_ == n_features_of(case, X)


@dataclass
class Refit:
    """A second fit of a case's detector with the session fit's seed, and what it left."""

    detector: Any
    returned: Any
    params_before: dict
    params_after: dict
    rng_before: dict
    rng_after: dict


_REFITS: dict[tuple[type, str], Refit] = {}


@pytest.fixture
def refit(case, planted, fit_labels) -> Refit:
    """The case's detector fitted again with ``random_state=0`` (the seed of ``fitted_case``),
    once per case: read by the return-value, hyperparameter, RNG and same-seed checks below,
    which need the same fit (one fit per case, not two). ``hidden_dims`` is given as a list,
    which ``fit`` must keep as that very list."""
    key = (case.cls, case.modality)
    if key not in _REFITS:
        X, _ = data_of(case, planted)
        params = seeded_params(case.cls, 0, case.modality)
        if "hidden_dims" in params:
            params["hidden_dims"] = list(params["hidden_dims"])  # must stay this very list
        detector = case.cls(**params)
        before, states = detector.get_params(), _global_rng_states()
        returned = detector.fit(X, fit_labels(case.cls, case.modality))
        _REFITS[key] = Refit(detector, returned, before, detector.get_params(), states,
                             _global_rng_states())
    return _REFITS[key]


def test_fit_returns_self_and_keeps_hyperparameters(refit):
    assert refit.returned is refit.detector
    after, before = refit.params_after, refit.params_before
    assert after == before
    assert all(after[k] is before[k] for k in before)


def test_clone_and_params_round_trip(fitted_case):
    params = fitted_case.get_params()
    copy = clone(fitted_case)
    assert type(copy) is type(fitted_case)
    assert copy.get_params() == params
    assert not hasattr(copy, "decision_scores_") and not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.decision_function(np.zeros((2, fitted_case.n_features_in_)))

    other = type(fitted_case)()
    assert other.set_params(**params) is other
    assert other.get_params() == params


# ---------------------------------------------------------------------------- outputs
def test_decision_function_output(fitted_case, case, planted):
    X, _ = data_of(case, planted)
    scores = fitted_case.decision_function(X[:37])
    assert isinstance(scores, np.ndarray)
    assert scores.dtype == np.float64 and scores.shape == (37,)
    assert np.isfinite(scores).all()
    # the training scores are the scores of the training data
    np.testing.assert_allclose(fitted_case.decision_function(X), fitted_case.decision_scores_,
                               rtol=1e-6, atol=1e-9)


def test_predict_is_thresholded_scores(fitted_case, case, planted):
    X, _ = data_of(case, planted)
    labels = fitted_case.predict(X)
    assert labels.dtype == np.int64 and labels.shape == (len(X),)
    assert set(np.unique(labels)) <= {0, 1}
    np.testing.assert_array_equal(labels, fitted_case.labels_)


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba(fitted_case, case, planted, method):
    X, _ = data_of(case, planted)
    proba = fitted_case.predict_proba(X, method=method)
    assert proba.shape == (len(X), 2) and proba.dtype == np.float64
    assert ((proba >= 0.0) & (proba <= 1.0)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # P(anomaly) never decreases with the score
    order = np.argsort(fitted_case.decision_function(X), kind="stable")
    assert (np.diff(proba[order, 1]) >= 0).all()


def test_predict_proba_unknown_method(fitted_case, case, planted):
    X, _ = data_of(case, planted)
    with pytest.raises(ValueError, match="method must be one of"):
        fitted_case.predict_proba(X[:3], method="softmax")


def test_score_samples_has_sklearn_sign(fitted_case, case, planted):
    X, _ = data_of(case, planted)
    np.testing.assert_array_equal(fitted_case.score_samples(X[:20]),
                                  -fitted_case.decision_function(X[:20]))


FAR_OUT_OF_RANGE = 1e20  # finite in float32, far beyond the [0, 1]-ish training data


def _far_out_of_range_call(call, X):
    """``call(X)`` → ``(output, clipped)``; ``(None, False)`` when it raised the NaN-score
    ValueError. Any other exception, or another warning about infinities, fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = call(X)
        except ValueError as error:
            assert "NaN scores" in str(error) and "far outside the training range" in str(error)
            return None, False
    clipped = [w for w in caught if issubclass(w.category, RuntimeWarning)
               and "infinite scores" in str(w.message)]
    return out, bool(clipped)


def test_far_out_of_range_input_gives_finite_scores_or_a_clear_error(fitted_case, case,
                                                                       planted):
    """Finite input far outside the training range (X * 1e20): scores stay finite (infinite
    ones clipped with a RuntimeWarning) or a ValueError says the scores are NaN; never an
    infinite or NaN output, never a raw FloatingPointError / RuntimeError."""
    if case.modality in ("categorical", "event"):
        pytest.skip("categories and event keys have no numeric range to leave")
    X, _ = data_of(case, planted)
    far = X[:20] * FAR_OUT_OF_RANGE
    scores, clipped = _far_out_of_range_call(fitted_case.decision_function, far)
    if scores is None:  # NaN scores: every derived output raises the same error
        for call in (fitted_case.predict, fitted_case.predict_proba, fitted_case.score_samples):
            with pytest.raises(ValueError, match="NaN scores"):
                call(far)
        return
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    largest = np.finfo(np.float64).max
    assert clipped == bool((np.abs(scores) == largest).any())
    labels, _ = _far_out_of_range_call(fitted_case.predict, far)
    np.testing.assert_array_equal(labels, (scores > fitted_case.threshold_).astype(np.int64))
    for method in ("linear", "unify"):
        proba, _ = _far_out_of_range_call(
            lambda Z, m=method: fitted_case.predict_proba(Z, method=m), far)
        assert np.isfinite(proba).all() and ((proba >= 0.0) & (proba <= 1.0)).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    normality, _ = _far_out_of_range_call(fitted_case.score_samples, far)
    np.testing.assert_array_equal(normality, -scores)


# ---------------------------------------------------------------------------- errors
def test_not_fitted(case, planted, tmp_path):
    X, _ = data_of(case, planted)
    detector = case.cls(**case.cls.test_params)
    for call in (detector.decision_function, detector.predict, detector.predict_proba):
        with pytest.raises(NotFittedError):
            call(X[:3])
    with pytest.raises(NotFittedError):
        detector.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_wrong_feature_count(fitted_case, case, planted):
    if case.modality == "event":
        pytest.skip("event sessions have one key per event: no feature count to get wrong")
    X, _ = data_of(case, planted)
    if case.modality == "image":
        channels, height, width = X.shape[1:]
        with pytest.raises(ValueError, match=f"fitted on images of {channels} channel"):
            fitted_case.decision_function(np.concatenate([X[:5], X[:5, :1]], axis=1))
        with pytest.raises(ValueError, match=f"fitted on images of {height} x {width} pixels"):
            fitted_case.predict(wider(X[:5]))
        with pytest.raises(ValueError, match=f"fitted on images of {height} x {width} pixels"):
            fitted_case.decision_function(X[:5, :, :-1])
        return
    with pytest.raises(ValueError, match=f"fitted with {X.shape[-1]} features"):
        fitted_case.decision_function(wider(X[:5]))
    with pytest.raises(ValueError, match=f"fitted with {X.shape[-1]} features"):
        fitted_case.predict(X[:5, ..., :-1])


def test_other_modality_is_refused(fitted_case, case):
    with pytest.raises(ValueError, match=f"fitted on {case.modality} data"):
        fitted_case.decision_function(other_modality_data(case))


def test_images_need_the_image_modality(fitted_case, case, planted):
    if "image" in case.cls.modalities:
        pytest.skip("the detector takes images")
    images = planted["image"][0][:4]
    with pytest.raises(ValueError, match=r"4 dimension\(s\).*detectors of the image modality"):
        fitted_case.decision_function(images)


# ---------------------------------------------------------------------------- randomness
def test_same_seed_same_scores_and_rng_untouched(case, fitted_case, refit, planted):
    X, _ = data_of(case, planted)
    _assert_same_rng_states(refit.rng_after, refit.rng_before)
    again = refit.detector
    assert np.array_equal(again.decision_scores_, fitted_case.decision_scores_)
    assert np.array_equal(again.decision_function(X[:50]), fitted_case.decision_function(X[:50]))


def test_other_seed_other_scores(case, fitted_case, fit_detector):
    if is_deterministic(case.cls):
        pytest.skip(f"{case.cls.name} has no random_state: nothing in it is random")
    other = fit_detector(case.cls, case.modality, random_state=1)
    assert not np.array_equal(other.decision_scores_, fitted_case.decision_scores_)


def test_unseeded_fit_leaves_global_rng_alone(case, fit_detector):
    torch.manual_seed(1234)
    np.random.seed(1234)
    states = _global_rng_states()
    fit_detector(case.cls, case.modality,
                 **({} if is_deterministic(case.cls) else {"random_state": None}))
    _assert_same_rng_states(_global_rng_states(), states)


def _global_rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _assert_same_rng_states(after: dict, before: dict) -> None:
    assert torch.equal(after["torch"], before["torch"]), "torch's global RNG was advanced"
    a, b = after["numpy"], before["numpy"]
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:]), \
        "numpy's global RNG was advanced"
    if "cuda" in before:
        assert all(torch.equal(x, y) for x, y in zip(after["cuda"], before["cuda"], strict=True)), \
            "the CUDA RNG was advanced"


# ---------------------------------------------------------------------------- persistence
def test_save_load_round_trip(fitted_case, case, planted, tmp_path):
    X, _ = data_of(case, planted)
    path = fitted_case.save(tmp_path / "model")
    # onto the device it was fitted on: bit-identical scores (CPU and GPU arithmetic differ in
    # the last bits, so a model fitted on a GPU and loaded on the CPU is only close)
    loaded = deepad.load(path, device=getattr(fitted_case, "device_", None))
    assert type(loaded) is type(fitted_case)
    assert loaded.get_params() == fitted_case.get_params()
    expected = fitted_case.decision_function(X)  # scored once (AnoGAN scores by a search)
    assert np.array_equal(loaded.decision_function(X), expected)
    assert np.array_equal(loaded.decision_scores_, fitted_case.decision_scores_)
    assert loaded.threshold_ == fitted_case.threshold_
    assert np.array_equal(loaded.predict(X), fitted_case.predict(X))
    np.testing.assert_allclose(deepad.load(path).decision_function(X), expected,
                               rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------- planted anomalies
def test_planted_anomalies_rank_high(fitted_case, case, planted, record_property, request):
    if (case.cls.name, case.modality) in RANKING_KNOWN_TO_FAIL:
        request.applymarker(pytest.mark.xfail(
            reason="known to rank planted anomalies low: see RANKING_KNOWN_TO_FAIL",
            strict=False))
    _, y = data_of(case, planted)
    auc = roc_auc_score(y, fitted_case.decision_scores_)
    record_property("planted_auc", round(float(auc), 4))
    assert auc >= MIN_PLANTED_AUC, f"{case.id}: planted-anomaly AUC {auc:.3f}"


# ---------------------------------------------------------------------------- supervision
def test_supervision(case, fitted_case, planted, fit_labels):
    X, y = data_of(case, planted)
    if case.cls.supervision == ("class-labels",):
        # integer class labels of the in-distribution data, at least two classes
        detector = case.cls(**seeded_params(case.cls, 0, case.modality))
        with pytest.raises(ValueError, match="integer class labels"):
            detector.fit(X)
        with pytest.raises(ValueError, match="at least two classes"):
            detector.fit(X, np.zeros(len(X), dtype=int))
        with pytest.raises(TypeError, match="class labels must be integers"):
            detector.fit(X, fit_labels(case.cls, case.modality) + 0.5)
        with pytest.raises(ValueError, match="labels but X has"):
            detector.fit(X, fit_labels(case.cls, case.modality)[:-1])
        return
    if case.cls.supervision == ("unsupervised",):
        # y is accepted (pipelines pass it) and ignored: same seed, same scores
        with_y = case.cls(**seeded_params(case.cls, 0, case.modality)).fit(X, y)
        assert np.array_equal(with_y.decision_scores_, fitted_case.decision_scores_)
    elif "unsupervised" in case.cls.supervision:
        # both settings: no labelled anomaly is the unsupervised fit; bad labels are refused
        unlabelled = case.cls(**case.cls.test_params, random_state=0).fit(
            X, np.zeros(len(X), dtype=int))
        assert np.array_equal(unlabelled.decision_scores_, fitted_case.decision_scores_)
        with pytest.raises(ValueError):
            case.cls(**case.cls.test_params, random_state=0).fit(X, np.full(len(X), 2))
    else:
        detector = case.cls(**case.cls.test_params, random_state=0)
        with pytest.raises(ValueError, match="weakly supervised"):
            detector.fit(X)
        with pytest.raises(ValueError, match="at least one labelled anomaly"):
            detector.fit(X, np.zeros(len(X), dtype=int))


DEGENERATE_LABELS = ("all_anomalies", "one_unlabelled", "one_anomaly", "fewer_rows_than_batch")
WEAK_CASES = [(deepad.get_detector(info["name"]), modality)
              for info in deepad.list_detectors(supervision="weakly-supervised")
              for modality in info["modalities"] if modality in SUPPORTED_MODALITIES]
# (graphs and video have their own conformance files: tests/test_graph_conformance.py,
# tests/test_video.py)


def degenerate_fit_data(cls, X, y, kind):
    """``(X, y)`` for one kind of degenerate weak supervision on the planted data."""
    n = len(y)
    if kind == "all_anomalies":
        return X, np.ones(n, dtype=np.int64)
    if kind == "one_unlabelled":
        labels = np.ones(n, dtype=np.int64)
        labels[0] = 0
        return X, labels
    if kind == "one_anomaly":
        labels = np.zeros(n, dtype=np.int64)
        labels[np.flatnonzero(y == 1)[0]] = 1
        return X, labels
    # fewer rows than one batch: two labelled anomalies among a handful of unlabelled rows
    batch_size = cls(**cls.test_params).get_params().get("batch_size")
    if batch_size is None:  # no mini-batches of its own (DeepXGBOD): a handful of rows
        batch_size = 13
    n_rows = max(cls.min_samples, min(batch_size - 1, 12))
    if n_rows >= batch_size:
        pytest.skip(f"batch_size={batch_size} leaves no room below min_samples")
    rows = np.r_[np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 0)[:n_rows - 2]]
    return X[rows], y[rows]


@pytest.mark.parametrize("kind", DEGENERATE_LABELS)
@pytest.mark.parametrize(("cls", "modality"), WEAK_CASES,
                         ids=[f"{cls.name}-{modality}" for cls, modality in WEAK_CASES])
def test_degenerate_weak_labels(cls, modality, planted, kind):
    """Every weakly supervised detector, given degenerate labels, either fits and gives finite
    scores or raises a ValueError saying what the labels lack; never a raw torch error."""
    X, y = planted[modality]
    X_fit, y_fit = degenerate_fit_data(cls, X, y, kind)
    detector = cls(**cls.test_params, random_state=0)
    if kind == "all_anomalies":
        # nothing unlabelled, nothing to learn normality from: refused by the base class
        with pytest.raises(ValueError, match=r"all \d+ samples as anomalies.*needs unlabelled"):
            detector.fit(X_fit, y_fit)
        return
    try:
        detector.fit(X_fit, y_fit)
    except ValueError as error:
        # allowed only where the method itself needs more unlabelled rows than one
        assert kind == "one_unlabelled", f"{cls.name}-{modality} refused {kind}: {error}"
        assert re.search(r"needs .*unlabelled rows", str(error)), str(error)
        return
    scores = detector.decision_function(X_fit)
    assert scores.shape == (len(X_fit),) and np.isfinite(scores).all()
    assert np.isfinite(detector.decision_scores_).all() and np.isfinite(detector.threshold_)


# ---------------------------------------------------------------------------- hyperparameters
# invalid values of the hyperparameters deep detectors share (checked where a class has them)
INVALID_VALUES = {
    "contamination": [0.9, 0.0, -0.1, "auto"],
    "epochs": [0, -1, 2.5, "10"],
    "batch_size": [0, 16.0],
    "lr": [0.0, -1e-3],
    "weight_decay": [-1e-4],
    "backbone": ["resnet"],
    "hidden_dims": [(), (0,), (8, -1), 16, (8.5,)],
    "validation_size": [0.6, -0.1],
    "patience": [0, 1.5],
    "grad_clip": [0.0, -1.0],
    "device": ["quantum"],
    "random_state": [-1, 1.5, "seed"],
    "verbose": ["loud"],
}
# generic candidates tried on every declared parameter; those its constraints reject must
# be rejected by fit
CANDIDATES = [-1, 0, 0.5, 1.5, 10**9, "not-an-option", (), None, True]


def test_every_hyperparameter_is_declared(detector_cls):
    params = set(detector_cls().get_params())
    declared = set(detector_cls._parameter_constraints)
    assert params == declared, (f"undeclared: {sorted(params - declared)}, "
                                f"not parameters: {sorted(declared - params)}")


def test_invalid_hyperparameters_raise_at_fit(detector_cls, planted):
    # labels for every class: unsupervised ones ignore them, weakly supervised ones need them
    modality = next((m for m in ("tabular", "sequence", "image")
                     if m in detector_cls.modalities), "sequence")
    X, y = planted[modality]
    names = detector_cls().get_params()
    checked = 0
    for name, values in INVALID_VALUES.items():
        if name not in names:
            continue
        for value in values:
            detector = detector_cls(**{**detector_cls.test_params, name: value})
            expected = f"'{name}' parameter .* Got {re.escape(repr(value))} instead"
            with pytest.raises(ValueError, match=expected):
                detector.fit(X, y)
            checked += 1
    for name, constraints in detector_cls._parameter_constraints.items():
        for value in CANDIDATES:
            if any(c.is_satisfied_by(value) for c in constraints):
                continue
            detector = detector_cls(**{**detector_cls.test_params, name: value})
            with pytest.raises(ValueError, match=f"'{name}' parameter"):
                detector.fit(X, y)
            checked += 1
    assert checked >= len(names)


def test_init_stores_arguments_as_given(detector_cls):
    names = detector_cls().get_params()
    sentinels = {name: object() for name in names}
    detector = detector_cls(**sentinels)  # never validates, so never raises
    params = detector.get_params()
    assert set(params) == set(sentinels)
    assert all(params[name] is sentinels[name] for name in names)

    invalid = {name: values[0] for name, values in INVALID_VALUES.items() if name in names}
    invalid_params = detector_cls(**invalid).get_params()
    assert all(invalid_params[name] is value for name, value in invalid.items())


def test_test_params_are_parameters(detector_cls):
    assert detector_cls.test_params, f"{detector_cls.name} declares no test_params"
    assert set(detector_cls.test_params) <= set(detector_cls().get_params())
