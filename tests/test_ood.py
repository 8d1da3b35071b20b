"""related.ood (issue 24): MSP, ODIN, Energy, Mahalanobis, DeepKNN beyond the conformance suite.

Scores against hand computations on a given classifier, out-of-distribution inputs ranked
above in-distribution ones, one classifier shared by several detectors, and the errors for a
classifier or labels that do not fit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_planted_images, planted_classes
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from torch import nn

from deepad.data.synthetic import make_planted_rows
from deepad.detectors.related.classifier import CLASSIFIER_TEST_PARAMS
from deepad.detectors.related.ood import MSP, ODIN, DeepKNN, Energy, Mahalanobis

OOD_DETECTORS = [MSP, ODIN, Energy, Mahalanobis, DeepKNN]


def triangle(n, seed):
    """Three Gaussian classes (σ 1) at distance 4 from the origin, 2-D; y the class."""
    rng = np.random.default_rng(seed)
    angles = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    centres = 4 * np.c_[np.cos(angles), np.sin(angles)]
    c = np.arange(n) % 3
    return (centres[c] + rng.normal(size=(n, 2))).astype(np.float32), c


@pytest.fixture(scope="module")
def between():
    """Training classes (triangle), and test points: 100 of the classes (y = 0) and 100 near
    the origin, between them (y = 1, out of distribution, where the classifier is unsure)."""
    X, c = triangle(300, 0)
    inside = triangle(100, 1)[0]
    outside = np.random.default_rng(2).normal(0, 0.5, (100, 2)).astype(np.float32)
    return X, c, np.r_[inside, outside], np.r_[np.zeros(100, int), np.ones(100, int)]


@pytest.fixture(scope="module")
def images():
    """In-distribution "Γ" images with k-means classes (training); test images: other "Γ"s
    (y = 0) and the planted "+" shapes (y = 1, out of distribution)."""
    X, y = make_planted_images(n_normal=300, n_anomalies=15, random_state=0)
    X = X[y == 0]
    X_test, y_test = make_planted_images(n_normal=100, n_anomalies=40, random_state=1)
    return X, planted_classes(X), X_test, y_test


@pytest.fixture(scope="module")
def image_classifier(images):
    X, c, _, _ = images
    return MSP(**CLASSIFIER_TEST_PARAMS, random_state=0).fit(X, c).classifier_


@pytest.fixture(scope="module")
def rows():
    X, y = make_planted_rows(500, 40, n_features=8, random_state=0)
    X = X.astype(np.float32)
    normal = np.flatnonzero(y == 0)
    train, test = normal[:400], np.r_[normal[400:], np.flatnonzero(y == 1)]
    return X[train], planted_classes(X[train]), X[test], y[test]


@pytest.fixture(scope="module")
def module_net():
    """A user's classifier: 4 features → 16 ReLU units → 3 logits (random weights)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


def module_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, np.arange(n) % 3


@pytest.mark.parametrize("cls", OOD_DETECTORS, ids=lambda c: c.name)
def test_points_between_the_classes_rank_high(cls, between):
    X, c, X_test, y_test = between
    params = {"n_neighbors": 10} if cls is DeepKNN else {}
    detector = cls(**CLASSIFIER_TEST_PARAMS, **params, random_state=0).fit(X, c)
    assert roc_auc_score(y_test, detector.decision_function(X_test)) >= 0.9


@pytest.mark.parametrize("cls", [Mahalanobis, DeepKNN], ids=lambda c: c.name)
def test_out_of_distribution_images_rank_high(cls, images, image_classifier):
    X, c, X_test, y_test = images
    params = {"n_neighbors": 10} if cls is DeepKNN else {}
    detector = cls(classifier=image_classifier, **params).fit(X, c)
    assert roc_auc_score(y_test, detector.decision_function(X_test)) >= 0.9


@pytest.mark.parametrize("cls", [Mahalanobis, DeepKNN], ids=lambda c: c.name)
def test_feature_scores_find_rows_off_the_classes(cls, rows):
    X, c, X_test, y_test = rows
    params = {"n_neighbors": 10} if cls is DeepKNN else {}
    detector = cls(**CLASSIFIER_TEST_PARAMS, **params, random_state=0).fit(X, c)
    assert roc_auc_score(y_test, detector.decision_function(X_test)) >= 0.9


def test_logit_scores_by_hand(module_net):
    X, c = module_data()
    with torch.no_grad():
        logits = module_net(torch.from_numpy(X)).double()
    msp = MSP(classifier=module_net).fit(X, c)
    np.testing.assert_allclose(msp.decision_function(X),
                               -torch.softmax(logits, 1).amax(1).numpy(), rtol=1e-6)
    energy = Energy(classifier=module_net, temperature=2.0).fit(X, c)
    np.testing.assert_allclose(energy.decision_function(X),
                               -2.0 * torch.logsumexp(logits / 2.0, 1).numpy(), rtol=1e-5)
    odin = ODIN(classifier=module_net, temperature=10.0, epsilon=0.0).fit(X, c)
    np.testing.assert_allclose(odin.decision_function(X),
                               -torch.softmax(logits / 10.0, 1).amax(1).numpy(), rtol=1e-5)
    assert msp.classifier_ is module_net and not module_net.training


def test_odin_perturbation_raises_confidence(module_net):
    X, c = module_data()
    plain = ODIN(classifier=module_net, epsilon=0.0).fit(X, c).decision_function(X)
    moved = ODIN(classifier=module_net, epsilon=0.01).fit(X, c).decision_function(X)
    assert (moved <= plain + 1e-12).mean() >= 0.95  # lower OOD score = more confident


def test_mahalanobis_by_hand(module_net):
    X, c = module_data()
    detector = Mahalanobis(classifier=module_net, epsilon=0.0).fit(X, c)
    with torch.no_grad():
        f = module_net[1](module_net[0](torch.from_numpy(X))).double().numpy()
    means = np.stack([f[c == k].mean(0) for k in range(3)])
    centred = f - means[c]
    precision = np.linalg.pinv(centred.T @ centred / len(f), hermitian=True)
    d = np.stack([np.einsum("nd,de,ne->n", f - m, precision, f - m) for m in means], 1)
    np.testing.assert_allclose(detector.decision_function(X), d.min(1), rtol=1e-3, atol=1e-3)


def test_mahalanobis_preprocessing_moves_towards_the_class(module_net):
    X, c = module_data()
    plain = Mahalanobis(classifier=module_net, epsilon=0.0).fit(X, c).decision_function(X)
    moved = Mahalanobis(classifier=module_net, epsilon=0.01).fit(X, c).decision_function(X)
    assert (moved <= plain + 1e-9).mean() >= 0.95


def test_deep_knn_by_hand(module_net):
    X, c = module_data()
    detector = DeepKNN(classifier=module_net, n_neighbors=5).fit(X, c)
    X_new = module_data(20, seed=1)[0]

    def normalised(A):
        with torch.no_grad():
            f = module_net[1](module_net[0](torch.from_numpy(A))).double().numpy()
        return f / np.linalg.norm(f, axis=1, keepdims=True)

    distances, _ = NearestNeighbors(n_neighbors=5).fit(normalised(X)).kneighbors(normalised(X_new))
    np.testing.assert_allclose(detector.decision_function(X_new), distances[:, -1], atol=1e-4)


def test_shared_classifier_and_layer_ensemble(images, image_classifier):
    X, c, X_test, y_test = images
    names = [n for n, m in image_classifier.named_modules() if isinstance(m, nn.Conv2d)]
    detector = Mahalanobis(classifier=image_classifier, layers=(*names, "act")).fit(X, c)
    scores = detector.decision_function(X_test)
    assert np.isfinite(scores).all() and roc_auc_score(y_test, scores) >= 0.9
    # the same classifier serves another detector: identical logits, no retraining
    energy = Energy(classifier=image_classifier).fit(X, c)
    assert energy.classifier_ is detector.classifier_ is image_classifier


def test_user_classifier_cannot_be_saved(module_net, tmp_path):
    X, c = module_data()
    detector = Energy(classifier=module_net).fit(X, c)
    with pytest.raises(NotImplementedError, match="classifier given as an object"):
        detector.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_errors(module_net):
    X, c = module_data()
    with pytest.raises(ValueError, match="the classifier has 3 outputs"):
        MSP(classifier=module_net).fit(X, c + 1)
    with pytest.raises(ValueError, match="no module named 'fc'"):
        Mahalanobis(classifier=module_net, feature_layer="fc").fit(X, c)
    with pytest.raises(ValueError, match=r"logits of shape \(n, n_classes\)"):
        MSP(classifier=nn.Sequential(nn.Linear(4, 1), nn.Flatten(0))).fit(X, c)
    with pytest.raises(ValueError, match="n_neighbors=100 exceeds the 60 training samples"):
        DeepKNN(classifier=module_net, n_neighbors=100).fit(X, c)
    with pytest.raises(TypeError, match="class labels must be integers"):
        MSP(classifier=module_net).fit(X, c.astype(str))
    with pytest.raises(ValueError, match="'classifier' parameter"):
        MSP(classifier="resnet").fit(X, c)


def test_batch_norm_classifier_saves_and_ranks(images, tmp_path):
    """``batch_norm=True``: deepad's CNN normalises each convolution (every classifier
    detector takes the option, KDBU's dropout network too); the scores use the running
    statistics (eval mode), so a saved and loaded detector scores identically and one image
    scores the same alone as in a batch."""
    from deepad import load
    from deepad.detectors.related.adversarial import KDBU

    X, c, X_test, y_test = images
    detector = Mahalanobis(**CLASSIFIER_TEST_PARAMS, batch_norm=True, random_state=0).fit(X, c)
    norms = [m for m in detector.classifier_.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == len(CLASSIFIER_TEST_PARAMS["hidden_dims"])
    assert all(m.num_batches_tracked > 0 for m in norms)
    scores = detector.decision_function(X_test)
    assert roc_auc_score(y_test, scores) >= 0.9
    np.testing.assert_allclose(detector.decision_function(X_test[:1]), scores[:1], rtol=1e-5)
    detector.save(tmp_path / "m")
    np.testing.assert_array_equal(load(tmp_path / "m").decision_function(X_test), scores)
    kdbu = KDBU(hidden_dims=(4,), feature_dim=8, epochs=1, n_passes=2, batch_norm=True,
                random_state=0).fit(X, c)
    assert any(isinstance(m, nn.BatchNorm2d) for m in kdbu.classifier_.modules())
    plain = MSP(hidden_dims=(4,), feature_dim=8, epochs=1).fit(X, c)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.classifier_.modules())
