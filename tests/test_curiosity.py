"""What is specific to RND (random network distillation): the observation normalisation, the
fixed target, the score as the prediction error, planted anomalies on rows / windows / images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepad.detectors import RND
from deepad.detectors.related.curiosity import ObservationNormalizer, distillation_error


def test_normalizer_whitens_each_dimension_and_clips():
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal([3.0, -2.0, 0.0], [2.0, 0.5, 1.0], size=(1000, 3)))
    X = X.float()
    X[:, 2] = 7.0  # constant on the training data
    norm = ObservationNormalizer((3,), clip=5.0)
    norm.fit(X)
    np.testing.assert_allclose(norm.mean.numpy(), X.double().mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(norm.std[:2].numpy(), X[:, :2].double().std(0, unbiased=False)
                               .numpy(), rtol=1e-4)
    z = norm(X)
    np.testing.assert_allclose(z[:, :2].mean(0).numpy(), 0.0, atol=1e-4)
    np.testing.assert_allclose(z[:, :2].std(0, unbiased=False).numpy(), 1.0, atol=0.01)
    assert float(z.abs().max()) <= 5.0
    # a value off a training-constant dimension reaches the clip
    probe = torch.tensor([[3.0, -2.0, 7.5], [100.0, -2.0, 7.0]])
    np.testing.assert_allclose(norm(probe)[:, 2].numpy(), [5.0, 0.0], atol=1e-6)
    assert float(norm(probe)[1, 0]) == 5.0


def test_score_is_the_distillation_error_and_target_is_fixed(planted):
    X, _ = planted["tabular"]
    det = RND(**RND.test_params, random_state=0)
    det.fit(X)
    model = det.model_
    x = torch.from_numpy(X[:7].astype(np.float32))
    with torch.no_grad():
        z = ((x - model.normalizer.mean) / model.normalizer.std).clamp(-5, 5)
        expected = (model.predictor(z) - model.target(z)).pow(2).mean(dim=1)
    np.testing.assert_allclose(det.decision_function(X[:7]), expected.numpy(), rtol=1e-5)
    assert distillation_error(torch.ones(2, 4), torch.zeros(2, 4)).tolist() == [1.0, 1.0]
    # the target is the same random network before and after training: refit with one epoch
    once = RND(**{**RND.test_params, "epochs": 1}, random_state=0).fit(X)
    for a, b in zip(once.model_.target.parameters(), model.target.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert not any(p.requires_grad for p in model.target.parameters())


@pytest.mark.parametrize("modality", ["tabular", "sequence", "image"])
def test_rnd_ranks_planted_anomalies(planted, modality):
    X, y = planted[modality]
    params = {**RND.test_params, **RND.modality_test_params.get(modality, {})}
    det = RND(**params, random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= (0.8 if modality == "sequence" else 0.9)


def test_rnd_default_parameters_rank_planted_rows(planted):
    X, y = planted["tabular"]
    det = RND(epochs=10, random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= 0.95


def test_unnormalised_input_changes_the_scores(planted):
    X, _ = planted["tabular"]
    a = RND(**RND.test_params, random_state=0).fit(X).decision_scores_
    b = RND(**RND.test_params, normalize=False, random_state=0).fit(X).decision_scores_
    assert not np.allclose(a, b)


def test_save_load_same_scores(planted, tmp_path):
    X, _ = planted["image"]
    det = RND(**RND.test_params, random_state=0).fit(X)
    det.save(tmp_path / "rnd")
    import deepad

    again = deepad.load(tmp_path / "rnd")
    np.testing.assert_array_equal(again.decision_function(X[:20]), det.decision_function(X[:20]))


@pytest.mark.parametrize(("params", "match"), [
    ({"obs_clip": 0.0}, "obs_clip"), ({"predictor_layers": -1}, "predictor_layers"),
    ({"normalize": "yes"}, "normalize"), ({"n_batches": 0}, "n_batches")])
def test_bad_hyperparameters_raise(planted, params, match):
    X, _ = planted["tabular"]
    with pytest.raises(ValueError, match=match):
        RND(**params).fit(X)
