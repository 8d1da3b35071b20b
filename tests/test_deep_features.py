"""DeepFeatureDetector: deep features + a shallow detector. The shallow scorers against
scikit-learn and by hand, each shallow detector on planted anomalies and through save / load,
encoders given by name, unfitted or fitted, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

import deepad
from deepad.core.shallow import IForestScorer, KNNScorer, OCSVMScorer, average_path_length
from deepad.detectors import AutoEncoder, DeepFeatureDetector, DeepSVDD, DevNet
from deepad.detectors.feature_extraction.deep_features import NAMED_ENCODER_PARAMS

MIN_AUC = 0.9
ENCODER = {"hidden_dims": (32, 8), "epochs": 20}


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    return rng.normal(size=(600, 5)), rng.normal(size=(200, 5)) * 1.5


# ---------------------------------------------------------------------------- shallow scorers
def test_iforest_scorer_equals_scikit_learn(embeddings):
    Z, Q = embeddings
    scorer = IForestScorer(random_state=3)
    scorer.fit(Z)
    expected = -IsolationForest(random_state=3).fit(Z).score_samples(Q)
    np.testing.assert_allclose(scorer.score(Q), expected, rtol=1e-12)


def test_ocsvm_scorer_equals_scikit_learn(embeddings):
    Z, Q = embeddings
    scorer = OCSVMScorer()
    scorer.fit(Z)
    assert scorer.gamma == pytest.approx(1.0 / (Z.shape[1] * Z.var()))  # gamma="scale"
    svm = OneClassSVM(gamma="scale").fit(Z)
    np.testing.assert_allclose(scorer.score(Q), -svm.decision_function(Q), atol=1e-9)


def test_knn_scores_by_hand():
    Z = np.array([[0.0], [1.0], [3.0], [7.0]])
    largest, mean = KNNScorer(2, "largest"), KNNScorer(2, "mean")
    largest.fit(Z)
    mean.fit(Z)
    # the query 2.0: neighbours 1.0 and 3.0 (both at 1); 6.0: 7.0 (1) and 3.0 (3)
    np.testing.assert_allclose(largest.score(np.array([[2.0], [6.0]])), [1.0, 3.0])
    np.testing.assert_allclose(mean.score(np.array([[2.0], [6.0]])), [1.0, 2.0])


def test_average_path_length():
    expected = [0.0, 0.0, 1.0, 2 * (np.log(2) + np.euler_gamma) - 4 / 3]
    np.testing.assert_allclose(average_path_length(np.array([0, 1, 2, 3])), expected)


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def fitted_encoder(planted_rows):
    return AutoEncoder(**ENCODER, random_state=0).fit(planted_rows[0])


SHALLOW = [("iforest", {}), ("ocsvm", {}), ("lof", {}), ("knn", {}),
           ("knn", {"knn_method": "mean", "n_neighbors": 10})]


@pytest.mark.parametrize(("detector", "params"), SHALLOW,
                         ids=["iforest", "ocsvm", "lof", "knn", "knn-mean"])
def test_each_shallow_detector(planted_rows, fitted_encoder, detector, params, tmp_path):
    X, y = planted_rows
    det = DeepFeatureDetector(encoder="AutoEncoder", detector=detector, epochs=20,
                              random_state=0, **params).fit(X)
    assert det.embedding_dim_ == 64  # the AutoEncoder's default bottleneck
    assert roc_auc_score(y, det.decision_scores_) >= MIN_AUC
    loaded = deepad.load(det.save(tmp_path / detector))
    assert np.array_equal(loaded.decision_function(X), det.decision_function(X))
    assert loaded.get_params() == det.get_params()
    assert type(loaded.scorer_) is type(det.scorer_)


def test_lof_scores_are_scikit_learns_on_the_embeddings(planted_rows, fitted_encoder):
    X, _ = planted_rows
    det = DeepFeatureDetector(fitted_encoder, detector="lof", n_neighbors=15).fit(X)
    Z = det._embed(X.astype(np.float32))
    lof = LocalOutlierFactor(n_neighbors=15, novelty=True).fit(Z)
    np.testing.assert_allclose(det.decision_function(X[:50]), -lof.score_samples(Z[:50]))


def test_fitted_encoder_is_used_as_is(planted_rows, fitted_encoder):
    X, y = planted_rows
    weights = {k: v.clone() for k, v in fitted_encoder.model_.state_dict().items()}
    det = DeepFeatureDetector(fitted_encoder, detector="iforest", random_state=0).fit(X)
    assert det.encoder_ is fitted_encoder
    assert all(torch.equal(weights[k], v) for k, v in fitted_encoder.model_.state_dict().items())
    with torch.no_grad():
        code = fitted_encoder.model_.encoder(torch.from_numpy(X[:5].astype(np.float32)))
    np.testing.assert_allclose(det._embed(X[:5].astype(np.float32)), code.double().numpy())
    assert det.embedding_dim_ == 8
    assert roc_auc_score(y, det.decision_scores_) >= MIN_AUC


def test_unfitted_encoder_is_cloned_and_seeded(planted_rows):
    X, _ = planted_rows
    encoder = DeepSVDD(epochs=3)
    det = DeepFeatureDetector(encoder, random_state=0).fit(X)
    assert not hasattr(encoder, "model_")  # the given instance stays unfitted
    assert det.encoder_ is not encoder and det.encoder_.random_state == det.seed_
    again = DeepFeatureDetector(DeepSVDD(epochs=3), random_state=0).fit(X)
    assert np.array_equal(again.decision_scores_, det.decision_scores_)


def test_windows(planted_windows, tmp_path):
    X, y = planted_windows
    det = DeepFeatureDetector(encoder="DeepSVDD", detector="knn", epochs=10,
                              random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= MIN_AUC
    loaded = deepad.load(det.save(tmp_path / "windows"))
    assert np.array_equal(loaded.decision_function(X), det.decision_function(X))


def test_passthrough_is_the_shallow_detector_on_the_input(planted_rows):
    X, _ = planted_rows
    det = DeepFeatureDetector("passthrough", detector="iforest", random_state=5).fit(X)
    assert det.encoder_ is None and det.embedding_dim_ == X.shape[1]
    expected = -IsolationForest(random_state=det.seed_).fit(X).score_samples(X)
    np.testing.assert_allclose(det.decision_scores_, expected, rtol=1e-12)


# ---------------------------------------------------------------------------- custom estimators
class _HigherIsAnomalous:
    """A PyOD-style detector: decision_scores_ after fit, higher = more anomalous."""

    def fit(self, Z):
        self.center_ = Z.mean(axis=0)
        self.decision_scores_ = self.decision_function(Z)
        return self

    def decision_function(self, Z):
        return np.linalg.norm(Z - self.center_, axis=1)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self


def test_custom_estimators_and_their_sign(planted_rows, fitted_encoder, tmp_path):
    X, y = planted_rows
    sklearn_style = DeepFeatureDetector(fitted_encoder,
                                        detector=IsolationForest(random_state=0)).fit(X)
    Z = sklearn_style._embed(X.astype(np.float32))
    expected = -IsolationForest(random_state=0).fit(Z).score_samples(Z)
    np.testing.assert_allclose(sklearn_style.decision_scores_, expected)
    pyod_style = DeepFeatureDetector(fitted_encoder, detector=_HigherIsAnomalous()).fit(X)
    np.testing.assert_allclose(pyod_style.decision_scores_,
                               np.linalg.norm(Z - Z.mean(axis=0), axis=1))
    # distance to the mean of three clusters: not a strong detector, but not inverted
    assert roc_auc_score(y, pyod_style.decision_scores_) >= 0.75
    with pytest.raises(NotImplementedError, match="encoder and detector given as an object"):
        pyod_style.save(tmp_path / "custom")
    assert not (tmp_path / "custom").exists()


# ---------------------------------------------------------------------------- errors
def test_errors(planted_rows, fitted_encoder):
    X, y = planted_rows
    devnet = DevNet(epochs=1, n_batches=1, random_state=0).fit(X, (y == 1).astype(int))
    with pytest.raises(TypeError, match="DevNet's network has no encoder"):
        DeepFeatureDetector(devnet).fit(X)
    with pytest.raises(TypeError, match="GOAD's model_.encoder does not take the samples"):
        DeepFeatureDetector("GOAD", epochs=1).fit(X)
    with pytest.raises(ValueError, match="epochs=3 applies to an encoder built by name"):
        DeepFeatureDetector(AutoEncoder(), epochs=3).fit(X)
    with pytest.raises(ValueError, match="has 7 features, but the detector was fitted with 8"):
        DeepFeatureDetector(fitted_encoder).fit(X[:, :7])
    with pytest.raises(ValueError, match="n_neighbors=600 needs more than 600 training rows"):
        DeepFeatureDetector("passthrough", n_neighbors=600).fit(X)
    with pytest.raises(ValueError, match="'encoder' parameter"):
        DeepFeatureDetector("DevNetwork").fit(X)
    with pytest.raises(ValueError, match="'detector' parameter"):
        DeepFeatureDetector(detector="svm").fit(X)


def test_clone_keeps_encoder_params(fitted_encoder):
    det = DeepFeatureDetector(fitted_encoder, detector="lof")
    copy = clone(det)
    assert copy.encoder is not fitted_encoder and not hasattr(copy.encoder, "model_")
    assert copy.encoder.get_params() == fitted_encoder.get_params()


def test_named_autoencoder_gets_the_feature_settings(planted_rows):
    X = planted_rows[0][:80]
    det = DeepFeatureDetector(epochs=2, random_state=0).fit(X)
    params = det.encoder_.get_params()
    assert params["weight_decay"] == NAMED_ENCODER_PARAMS["AutoEncoder"]["weight_decay"]
    assert params["weight_decay"] != AutoEncoder().get_params()["weight_decay"]
    assert params["epochs"] == 2  # an explicit epochs still wins
