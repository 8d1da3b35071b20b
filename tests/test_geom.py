"""GEOM (Golan & El-Yaniv 2018): its transformations, its Dirichlet fit, its two scores, on
small planted images (``conftest.make_planted_images``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad import GEOM
from deepad.detectors.generic_normality.geom import (
    TRANSFORMATION_SETS,
    apply_transformations,
    dirichlet_normality,
    fit_dirichlet,
    geom_loss,
    inverse_digamma,
    simple_normality,
    transformation_parameters,
    transformation_sources,
)

MIN_AUC = 0.9


def literal_transform(x: np.ndarray, flip: int, tx: int, ty: int, k: int) -> np.ndarray:
    """The release's ``AffineTransformation`` written plainly: fliplr, then a translation with
    reflected borders (numpy's "symmetric" padding = scipy's "reflect"), then rot90."""
    side = x.shape[0]
    if flip:
        x = np.fliplr(x)
    padded = np.pad(x, side, mode="symmetric")
    x = padded[side + tx:2 * side + tx, side + ty:2 * side + ty]
    return np.rot90(x, k)


@pytest.fixture(scope="module")
def geom(fitted) -> GEOM:
    """The session's GEOM fitted on the planted images (4 rotations, tiny CNN)."""
    return fitted(GEOM, "image")


# ---------------------------------------------------------------------------- transformations
def test_transformations_are_the_releases_in_its_order():
    image = np.random.default_rng(0).normal(size=(12, 12))
    parameters = transformation_parameters("all", 3)
    assert len(parameters) == 72
    assert tuple(parameters[0]) == (0, 0, 0, 0) and tuple(parameters[-1]) == (1, 3, 3, 3)
    views = apply_transformations(torch.from_numpy(image)[None, None],
                                  torch.from_numpy(transformation_sources(parameters, 12)))
    assert views.shape == (1, 72, 1, 12, 12)
    for t, (flip, tx, ty, k) in enumerate(parameters):
        np.testing.assert_array_equal(views[0, t, 0].numpy(),
                                      literal_transform(image, flip, tx, ty, k))


@pytest.mark.parametrize("kind", list(TRANSFORMATION_SETS))
def test_transformation_sets_are_distinct_permutations(kind):
    sources = transformation_sources(transformation_parameters(kind, 2), 8)
    assert len(sources) == TRANSFORMATION_SETS[kind]
    assert len({tuple(row) for row in sources}) == len(sources)
    np.testing.assert_array_equal(sources[0], np.arange(64))  # T_0 is the identity
    # rotations and flips move pixels without loss; only translations repeat border pixels
    if kind != "all":
        assert all(sorted(row) == list(range(64)) for row in sources)


# ---------------------------------------------------------------------------- Dirichlet
def test_dirichlet_fit_recovers_known_parameters():
    alphas = torch.tensor([[2.0, 5.0, 1.5, 0.7], [0.3, 0.5, 3.0, 12.0]], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    gammas = torch._standard_gamma(alphas.expand(20000, -1, -1).contiguous(),
                                   generator=generator)
    samples = gammas / gammas.sum(-1, keepdim=True)
    fitted = fit_dirichlet(samples.log())
    assert fitted.shape == (2, 4) and fitted.dtype == torch.float64
    torch.testing.assert_close(fitted, alphas, rtol=0.05, atol=0.0)


def test_inverse_digamma_inverts_digamma():
    x = torch.tensor([1e-3, 0.05, 0.5, 1.0, 3.0, 40.0, 1e4], dtype=torch.float64)
    torch.testing.assert_close(inverse_digamma(torch.digamma(x)), x, rtol=1e-8, atol=0.0)


def test_dirichlet_score_is_the_log_density_up_to_a_constant():
    generator = torch.Generator().manual_seed(0)
    alphas = torch.rand(3, 3, generator=generator, dtype=torch.float64) * 4 + 0.2
    log_p = torch.log_softmax(torch.randn(5, 3, 3, generator=generator, dtype=torch.float64), -1)
    density = torch.distributions.Dirichlet(alphas).log_prob(log_p.exp()).mean(dim=1)
    normality = dirichlet_normality(log_p, alphas)
    torch.testing.assert_close(normality - normality[0], density - density[0])


def test_loss_and_simple_score_on_a_hand_checkable_case():
    uniform = torch.full((2, 4, 4), -np.log(4.0))
    torch.testing.assert_close(geom_loss(uniform), torch.full((2,), np.log(4.0)))
    certain = torch.log_softmax(torch.eye(4).expand(2, 4, 4) * 50.0, dim=-1)
    assert geom_loss(certain).max() < 1e-6
    expected = torch.full((2,), -4 * np.log(4.0))
    torch.testing.assert_close(simple_normality(uniform).float(), expected)


# ---------------------------------------------------------------------------- planted images
def test_planted_images_both_scores(geom, planted_images, tmp_path):
    X, y = planted_images
    assert roc_auc_score(y, geom.decision_scores_) >= MIN_AUC
    assert geom.n_transformations_ == 4 and geom.shift_ == 0
    alphas = geom.model_.alphas
    assert alphas.shape == (4, 4) and torch.isfinite(alphas).all() and (alphas > 0).all()
    # the Dirichlet of transformation t puts its mass on class t
    assert (alphas.argmax(dim=1) == torch.arange(4)).all()

    loaded = deepad.load(geom.save(tmp_path / "geom"))
    assert np.array_equal(loaded.decision_function(X), geom.decision_function(X))
    torch.testing.assert_close(loaded.model_.alphas, alphas, rtol=0, atol=0)
    simple = loaded.set_params(score_type="simple").decision_function(X)
    assert np.isfinite(simple).all() and roc_auc_score(y, simple) >= MIN_AUC
    assert not np.allclose(simple, geom.decision_scores_)


def test_all_72_transformations_learn(planted_images):
    X, y = planted_images
    keep = np.r_[np.flatnonzero(y == 0)[:120], np.flatnonzero(y == 1)]
    det = GEOM(hidden_dims=(8, 16), epochs=2, batch_size=8, random_state=0).fit(X[keep])
    assert det.n_transformations_ == 72 and det.shift_ == 4  # round(16 / 4)
    assert det.history_[-1]["loss"] < det.history_[0]["loss"] < np.log(72)
    assert roc_auc_score(y[keep], det.decision_scores_) >= MIN_AUC
    simple = det.set_params(score_type="simple").decision_function(X[keep])
    assert roc_auc_score(y[keep], simple) >= MIN_AUC


# ---------------------------------------------------------------------------- errors
def test_non_square_images_are_refused(planted_images):
    X = planted_images[0][:20, :, :, :12]
    with pytest.raises(ValueError, match="square images .* 16 x 12 pixels"):
        GEOM(**GEOM.test_params, random_state=0).fit(X)


def test_rows_are_refused(planted_rows):
    with pytest.raises(ValueError, match=r"GEOM supports \['image'\] input; got tabular data"):
        GEOM(**GEOM.test_params, random_state=0).fit(planted_rows[0])


def test_shift_must_stay_inside_the_image(planted_images):
    X = planted_images[0][:20]
    with pytest.raises(ValueError, match="translation of 16 pixels, not less than the image side"):
        GEOM(**{**GEOM.test_params, "transformations": "all"}, shift=16, random_state=0).fit(X)


# ---------------------------------------------------------------------------- backbones
@pytest.mark.parametrize("backbone", ["dcgan", "wrn"])
def test_other_classifiers_learn_the_rotations(planted_images, backbone):
    X, y = planted_images
    det = GEOM(transformations="rotations", backbone=backbone, hidden_dims=(8, 16), epochs=3,
               batch_size=16, random_state=0).fit(X)
    assert roc_auc_score(y, det.decision_scores_) >= MIN_AUC
    assert det.history_[-1]["loss"] < det.history_[0]["loss"]


def test_auto_classifier_is_the_chosen_image_backbone(geom):
    from deepad.detectors.generic_normality.geom import IMAGE_BACKBONE
    from deepad.nets import ConvEncoder
    from deepad.nets.dcgan import DCGANEncoder
    from deepad.nets.wrn import WideResNet
    expected = {"conv": ConvEncoder, "dcgan": DCGANEncoder, "wrn": WideResNet}[IMAGE_BACKBONE]
    assert isinstance(geom.model_.classifier, expected)
