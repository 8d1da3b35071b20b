"""OutlierEnsemble on images: members given as (name, params) pairs, each at its image
settings under those parameters, the image default members, and the errors for members that
do not take images."""

from __future__ import annotations

import numpy as np
import pytest

import deepad
from deepad.detectors import DeepSVDD, OutlierEnsemble
from deepad.detectors.ensembles.outlier_ensemble import DEFAULT_MEMBERS
from deepad.metrics import auc_roc

SMALL = (("AutoEncoder", {"backbone": "mlp", "epochs": 8, "hidden_dims": (32, 8)}),
         ("DeepSVDD", {"epochs": 4}))


@pytest.fixture(scope="module")
def fitted(planted_images):
    X, _ = planted_images
    return OutlierEnsemble(members=SMALL, random_state=0).fit(X)


def test_planted_images_are_ranked_first(fitted, planted_images):
    X, y = planted_images
    scores = fitted.decision_function(X)
    assert auc_roc(y, scores) > 0.95
    # combining helps here: above the average of its members' rankings
    members = [auc_roc(y, m.decision_function(X)) for m in fitted.members_]
    assert auc_roc(y, scores) >= np.mean(members)
    assert fitted.member_entries_ == SMALL


def test_members_get_their_image_settings_under_the_given_parameters(fitted):
    autoencoder, svdd = fitted.members_
    assert autoencoder.backbone == "mlp" and autoencoder.epochs == 8
    # DeepSVDD's image settings (a smaller lr) stay where the pair does not override them
    assert svdd.epochs == 4
    assert svdd.lr == DeepSVDD.modality_defaults["image"]["lr"] != DeepSVDD().lr
    assert {m.random_state for m in fitted.members_} == {fitted.seed_}


def test_save_load_gives_identical_scores(fitted, planted_images, tmp_path):
    X, _ = planted_images
    fitted.save(tmp_path / "model")
    loaded = deepad.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.decision_function(X), fitted.decision_function(X))
    assert loaded.member_entries_ == SMALL  # tuples come back as tuples
    assert loaded.get_params()["members"] == fitted.get_params()["members"]


def test_uint8_images_score_as_their_float_pixels(fitted, planted_images):
    X, _ = planted_images
    pixels = np.round(X * 255).astype(np.uint8)
    np.testing.assert_allclose(fitted.decision_function(pixels),
                               fitted.decision_function(pixels.astype(np.float32) / 255),
                               rtol=1e-6)


def test_auto_members_depend_on_the_input(planted_images):
    X, _ = planted_images
    det = OutlierEnsemble(random_state=0)
    det.spec_ = deepad.data.spec.InputSpec.of(
        deepad.core.validation.check_input(X, OutlierEnsemble.modalities))
    assert det._entries() == DEFAULT_MEMBERS["image"]
    for entry in DEFAULT_MEMBERS["image"]:  # every default image member takes images
        name = entry if isinstance(entry, str) else entry[0]
        assert "image" in deepad.get_detector(name).modalities


def test_a_member_without_images_is_refused_at_fit(planted_images):
    X, _ = planted_images
    with pytest.raises(ValueError, match="SDOR does not take image input"):
        OutlierEnsemble(members=("SDOR", "AutoEncoder"), random_state=0).fit(X)


@pytest.mark.parametrize("members", [
    (("AutoEncoder", {"no_such_parameter": 1}), "DeepSVDD"),  # not a constructor parameter
    (("AutoEncoder", {"random_state": 3}), "DeepSVDD"),  # the ensemble seeds its members
    (("AutoEncoder", {}), "AutoEncoder"),  # the same member twice
    (("AutoEncoder", "mlp"), "DeepSVDD"),  # params not a dict
    (("AutoEncoder", {"epochs": 2}, "extra"), "DeepSVDD"),  # not a pair
])
def test_bad_member_pairs_are_refused(planted_images, members):
    X, _ = planted_images
    with pytest.raises(ValueError, match="'members' parameter of OutlierEnsemble"):
        OutlierEnsemble(members=members).fit(X)
