"""What is specific to the adversarial-example detectors (LID, KDBU, MahalanobisAdversarial):
the LID estimate, the kernel density against scikit-learn, Ma et al.'s protocol, detection of
FGSM inputs after fit_detector, persistence of the fitted regression, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity
from torch import nn

import deepad
from deepad.detectors import KDBU, LID, MahalanobisAdversarial
from deepad.detectors.related.adversarial import adversarial_protocol, lid_mle

PARAMS = {"hidden_dims": (32,), "feature_dim": 16, "epochs": 40, "batch_size": 64,
          "random_state": 0}


@pytest.fixture(scope="module")
def blobs():
    """Three classes of points in [0, 1]^20 (600 to train, 300 to attack)."""
    gen = np.random.default_rng(0)
    means = gen.random((3, 20)) * 0.3 + 0.35
    y = np.arange(900) % 3
    X = np.clip(means[y] + 0.08 * gen.normal(size=(900, 20)), 0, 1).astype(np.float32)
    return X[:600], y[:600], X[600:], y[600:]


@pytest.fixture(scope="module")
def fitted(blobs):
    X, y, X_test, y_test = blobs
    kdbu = KDBU(**PARAMS, dropout=0.2, n_passes=20, bandwidth=1.0).fit(X, y)
    lid = LID(**PARAMS).fit(X, y)
    maha = MahalanobisAdversarial(**PARAMS).fit(X, y)
    # ε = 0.2: on these isotropic blobs (no low-dimensional manifold) the noisy counterparts
    # of ε = 0.1 are nearly as far off the data as the attack (AUROC 0.6-0.7 measured)
    split = adversarial_protocol(lid.classifier_, X_test, y_test, "fgsm", eps=0.2, seed=0)
    for det in (kdbu, lid, maha):
        det.fit_detector(split.X_fit, split.y_fit)
    return {"KDBU": kdbu, "LID": lid, "MahalanobisAdversarial": maha}, split


def test_lid_mle_hand_case_and_uniform_cube():
    # distances 1 and 2, k = 2: -1 / mean(log(1/2), log(2/2)) = 2 / log 2
    np.testing.assert_allclose(lid_mle(torch.tensor([[1.0, 2.0, 5.0]]), 2).numpy(),
                               [2 / np.log(2)], rtol=1e-6)
    # the sample itself (distance 0) is skipped
    np.testing.assert_allclose(lid_mle(torch.tensor([[0.0, 1.0, 2.0]]), 2).numpy(),
                               [2 / np.log(2)], rtol=1e-6)
    gen = torch.Generator().manual_seed(0)
    for dim in (2, 5):
        points = torch.rand(20000, dim, generator=gen, dtype=torch.float64)
        centre = torch.full((1, dim), 0.5, dtype=torch.float64)
        estimate = float(lid_mle(torch.cdist(centre, points), 200)[0])
        assert abs(estimate - dim) < 0.2 * dim


def test_kernel_density_matches_scikit_learn(fitted, blobs):
    det = fitted[0]["KDBU"]
    X_test = torch.from_numpy(blobs[2][:10])
    with torch.no_grad():
        logits, (features,) = det.features(X_test)
    predicted = logits.argmax(dim=1)
    ours = det.kernel_density(features, predicted).numpy()
    bank = det.statistics_["kde_features"].numpy()
    labels = det.statistics_["kde_labels"].numpy()
    for i in range(10):
        kde = KernelDensity(bandwidth=1.0).fit(bank[labels == int(predicted[i])])
        np.testing.assert_allclose(ours[i], kde.score_samples(features[i:i + 1].double()
                                                              .numpy())[0], rtol=1e-6)


def test_protocol_follows_ma_et_al(blobs, fitted):
    _, split = fitted
    n_fit = len(split.y_fit) // 3
    assert split.y_fit.sum() == n_fit and len(split.y_fit) == 3 * n_fit
    assert abs(len(split.y_fit) - len(split.y_eval)) <= 3
    assert (len(split.y_fit) + len(split.y_eval)) // 3 == split.n_correct
    assert split.X_fit.min() >= 0 and split.X_fit.max() <= 1
    clean, noisy, adv = np.split(split.X_fit, 3)
    assert np.abs(adv - clean).max() <= 0.2 + 1e-6
    # the noise has the adversarial perturbation's L2 norm (less where clipping bites)
    l2_adv = np.linalg.norm(adv - clean, axis=1)
    l2_noise = np.linalg.norm(noisy - clean, axis=1)
    assert np.all(l2_noise <= l2_adv + 1e-4) and np.median(l2_noise / l2_adv) > 0.8
    assert 0.5 < split.success_rate <= 1.0
    # the success flag is per source image, the same on its three rows
    flags = np.split(split.succeeded_fit, 3)
    assert np.array_equal(flags[0], flags[1]) and np.array_equal(flags[0], flags[2])


@pytest.mark.parametrize("name", ["LID", "KDBU", "MahalanobisAdversarial"])
def test_detectors_find_fgsm_inputs(fitted, name):
    dets, split = fitted
    det = dets[name]
    scores = det.decision_function(split.X_eval)
    assert roc_auc_score(split.y_eval, scores) >= 0.8
    assert det.detector_fitted_
    # the threshold flags about `contamination` of the normal samples it was fitted on
    normal = det.decision_scores_[split.y_fit == 0]
    assert abs((normal > det.threshold_).mean() - det.contamination) <= 0.02


@pytest.mark.parametrize("name", ["LID", "KDBU", "MahalanobisAdversarial"])
def test_save_load_keeps_the_fitted_regression(fitted, name, tmp_path):
    det = fitted[0][name]
    X = fitted[1].X_eval
    loaded = deepad.load(det.save(tmp_path / name))
    assert loaded.detector_fitted_
    np.testing.assert_array_equal(loaded.decision_function(X), det.decision_function(X))
    assert loaded.threshold_ == det.threshold_


@pytest.mark.parametrize(("labels", "match"), [
    (lambda n: np.full(n, 2), "0 \\(normal"), (lambda n: np.zeros(n, int), "at least 2"),
    (lambda n: np.zeros(n - 1, int), "one 0/1 label")])
def test_fit_detector_rejects_bad_labels(fitted, labels, match):
    det = fitted[0]["LID"]
    X = fitted[1].X_eval[:30]
    with pytest.raises(ValueError, match=match):
        det.fit_detector(X, labels(len(X)))


def test_fit_detector_needs_a_fitted_detector(blobs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LID().fit_detector(blobs[0][:10], np.r_[np.zeros(5), np.ones(5)])


def test_kdbu_needs_dropout_and_lid_needs_k_below_reference(blobs):
    X, y = blobs[0], blobs[1]
    plain = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match="dropout"):
        KDBU(classifier=plain).fit(X, y)
    with pytest.raises(ValueError, match="k < n_reference"):
        LID(classifier=plain, k=20, n_reference=20).fit(X, y)


@pytest.mark.parametrize(("name", "param", "grid"), [
    ("LID", "k", (10, 20, 30, 40, 50, 60, 70, 80, 90)),
    ("MahalanobisAdversarial", "epsilon", None)])
def test_auto_chooses_on_a_held_out_half_of_the_detector_data(blobs, fitted, name, param,
                                                               grid, tmp_path):
    """Lee et al.'s ADV_Regression rule: each value's regression fitted on one half (split by
    source image) and scored on the other; the best value is kept and saved."""
    from deepad.detectors.related.ood import EPSILONS

    dets, split = fitted
    cls = type(dets[name])
    det = cls(**{**PARAMS, param: "auto"}).fit(blobs[0], blobs[1])
    det.fit_detector(split.X_fit, split.y_fit, groups=split.groups_fit)
    expected = grid if grid is not None else EPSILONS
    assert tuple(det.choice_auroc_) == expected
    chosen = det.k_ if param == "k" else det.epsilon_
    assert det.choice_auroc_[chosen] == max(det.choice_auroc_.values())
    # the values really differ in what they measure (the choice is not a no-op)
    assert len(set(np.round(list(det.choice_auroc_.values()), 6))) > 1
    assert roc_auc_score(split.y_eval, det.decision_function(split.X_eval)) >= 0.8
    loaded = deepad.load(det.save(tmp_path / name))
    assert (loaded.k_ if param == "k" else loaded.epsilon_) == chosen
    np.testing.assert_array_equal(loaded.decision_function(split.X_eval[:50]),
                                  det.decision_function(split.X_eval[:50]))


def test_lid_chooses_the_reference_size_with_k_and_keeps_it(blobs, fitted, tmp_path):
    """n_reference="auto": (size, k) pairs of LID_N_REFERENCES x LID_KS with k below the size,
    chosen on the detector data; the chosen size's characteristics are those of a fixed LID of
    that size (the smaller batches are the first rows of the largest); saved and loaded."""
    from deepad.detectors.related.adversarial import LID_KS, LID_N_REFERENCES

    dets, split = fitted
    X, y = blobs[0], blobs[1]
    classifier = dets["LID"].classifier_
    det = LID(classifier=classifier, k="auto", n_reference="auto", random_state=0).fit(X, y)
    # the paper's batch and k until fit_detector chooses; the buffer holds the largest batch
    assert (det.n_reference_, det.k_) == (100, 20)
    # the buffer holds the largest batch, capped at the 600 training samples there are
    sizes = sorted({min(n, len(X)) for n in LID_N_REFERENCES})
    assert len(det.statistics_["reference"]) == min(max(LID_N_REFERENCES), len(X)) == 600
    det.fit_detector(split.X_fit, split.y_fit, groups=split.groups_fit)
    grid = tuple((n, k) for n in sizes for k in LID_KS if k < n)
    assert tuple(det.choice_auroc_) == grid
    chosen = (det.n_reference_, det.k_)
    assert det.choice_auroc_[chosen] == max(det.choice_auroc_.values())
    # the reference size changes what is measured
    by_size = {n: max(a for (m, _), a in det.choice_auroc_.items() if m == n) for n in sizes}
    assert len(set(np.round(list(by_size.values()), 6))) > 1
    fixed = LID(classifier=classifier, k=det.k_, n_reference=det.n_reference_,
                random_state=0).fit(X, y)
    x = torch.from_numpy(split.X_eval[:40])
    torch.testing.assert_close(det.characteristics(x), fixed.characteristics(x))
    assert roc_auc_score(split.y_eval, det.decision_function(split.X_eval)) >= 0.8
    # persistence needs deepad's own classifier: the same choice on a detector that trains it
    own = LID(**PARAMS, k="auto", n_reference="auto").fit(X, y)
    own.fit_detector(split.X_fit, split.y_fit, groups=split.groups_fit)
    loaded = deepad.load(own.save(tmp_path / "lid"))
    assert (loaded.n_reference_, loaded.k_) == (own.n_reference_, own.k_)
    np.testing.assert_array_equal(loaded.decision_function(split.X_eval[:50]),
                                  own.decision_function(split.X_eval[:50]))


def test_lid_grid_and_cached_reference_match_the_plain_estimate(blobs, fitted):
    """The shortcuts (the reference's layer outputs computed once per call, one sort per
    reference size for every k) give the characteristics of the plain per-chunk estimate:
    the reference concatenated with each chunk, lid_mle per k."""
    from deepad.detectors.related.adversarial import lid_mle

    dets, split = fitted
    det = LID(classifier=dets["LID"].classifier_, k="auto", n_reference="auto",
              random_state=0).fit(blobs[0], blobs[1])
    x = torch.from_numpy(split.X_eval[:60])
    grid = det.grid_characteristics(x)
    for size, k in ((100, 10), (300, 90), (600, 50)):
        plain = torch.stack([lid_mle(d, k) for d in det._distances(x, size)], dim=1)
        torch.testing.assert_close(grid[(size, k)], plain)
    det.apply_choice((300, 40))
    plain = det._linear(det.characteristics(x).double()).numpy()  # no cache: per chunk
    np.testing.assert_allclose(det.decision_function(split.X_eval[:60]), plain, rtol=1e-9)


def test_lid_reference_grid_with_a_fixed_k_and_few_training_samples(blobs, fitted):
    dets, split = fitted
    X, y = blobs[0], blobs[1]
    classifier = dets["LID"].classifier_
    # a fixed k: only the sizes above it, the smallest of them until the choice
    det = LID(classifier=classifier, k=150, n_reference="auto", random_state=0).fit(X, y)
    # (1000 capped at the 600 training samples)
    assert det.choice_grid() == ((200, 150), (300, 150), (500, 150), (600, 150))
    assert (det.n_reference_, det.k_) == (200, 150)
    det.fit_detector(split.X_fit, split.y_fit, groups=split.groups_fit)
    assert det.k_ == 150 and det.n_reference_ in (200, 300, 500, 600)
    # 150 training samples: the sizes are capped at what there is
    small = LID(classifier=classifier, k="auto", n_reference="auto", random_state=0).fit(
        X[:150], y[:150])
    assert {n for n, _ in small.choice_grid()} == {100, 150}
    assert len(small.statistics_["reference"]) == 150
    with pytest.raises(ValueError, match="k < n_reference"):
        LID(classifier=classifier, k=1000, n_reference="auto").fit(X, y)


def test_auto_keeps_an_images_versions_in_one_half_and_rejects_bad_groups(fitted, blobs):
    dets, split = fitted
    det = LID(**{**PARAMS, "k": "auto", "classifier": dets["LID"].classifier_}).fit(
        blobs[0], blobs[1])
    with pytest.raises(ValueError, match="groups must hold one label"):
        det.fit_detector(split.X_fit, split.y_fit, groups=split.groups_fit[:-1])
    # one group holding every row leaves the second half empty
    with pytest.raises(ValueError, match="each half needs"):
        det.fit_detector(split.X_fit, split.y_fit, groups=np.zeros(len(split.y_fit), int))
    # the groups tie each clean, noisy and adversarial triple to its source image
    thirds = np.split(split.groups_fit, 3)
    assert np.array_equal(thirds[0], thirds[1]) and np.array_equal(thirds[0], thirds[2])
    assert not set(split.groups_fit) & set(split.groups_eval)
