"""Faithfulness details of the video methods: Liu et al.'s released U-Net and gradient loss,
Hasan et al.'s input normalisation (mean frame), temporal augmentation (frame skips) and
regularity score; synthetic clips only (the Ped2 runs are the benchmark's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from video_clips import N_FRAMES, assert_ranks_planted_first

import deepad
from deepad import AutoEncoder, MILRanking, VideoDetector
from deepad.bench import video_suite
from deepad.data.video import irregularity_per_video, minmax_per_video
from deepad.detectors import FuturePrediction
from deepad.detectors.generic_normality.frame_prediction import FramePredictor, gradient_loss


# ---------------------------------------------------------------------------- Liu et al.
def test_gradient_loss_is_the_releases_with_zero_padding_after_the_last_row_and_column():
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 5.0]]]])
    target = torch.zeros_like(pred)
    # |Δx| of pred with a zero column on the right: [[1, 2], [2, 5]]; |Δy| with a zero row
    # below: [[2, 3], [3, 5]]; target's are all 0: mean over the 4 positions of the sums
    expected = ((1 + 2 + 2 + 5) + (2 + 3 + 3 + 5)) / 4
    assert gradient_loss(pred, target).item() == pytest.approx(expected)
    # a constant offset changes no interior difference, only the border terms
    offset = gradient_loss(target + 1.0, target)
    assert offset.item() == pytest.approx((2 + 2) / 4)
    assert gradient_loss(pred, pred).item() == 0.0
    assert gradient_loss(torch.rand(3, 1, 5, 6), torch.rand(3, 1, 5, 6)).shape == (3,)


def test_unet_layouts_release_and_batch_norm():
    release = FramePredictor(5, 1, (4, 8), adversarial=False, unet_layout="release")
    batch_norm = FramePredictor(5, 1, (4, 8), adversarial=False, unet_layout="batch_norm")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in release.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in batch_norm.modules())
    assert release.generator.up_activation and not batch_norm.generator.up_activation
    convs = [m for m in release.generator.down.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None for c in convs)  # the release's convolutions keep a bias
    pred, target = release(torch.rand(2, 5, 1, 12, 18))
    assert pred.shape == target.shape == (2, 1, 12, 18)
    assert pred.abs().max() <= 1.0  # tanh output, frames in [-1, 1]
    with pytest.raises(ValueError, match="unet_layout"):
        FuturePrediction(unet_layout="plain", epochs=1).fit(np.zeros((4, 3, 1, 8, 8), "f4"))


def test_release_unet_is_the_default_and_ranks_a_change_of_speed_first(videos, one_thread):
    assert FuturePrediction().unet_layout == "release"
    # without batch normalisation the tiny U-Net needs a larger step than 3e-3 in 4 epochs
    det = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=4, batch_size=16, lr=1e-2,
                                         unet_layout="batch_norm", random_state=0),
                        clip_length=4)
    bn_scores = det.fit(videos["train"]).decision_function(videos["fast"])
    det.set_params(detector=FuturePrediction(hidden_dims=(4, 8), epochs=4, batch_size=16,
                                             lr=1e-2, random_state=0))
    scores, scored = det.fit(videos["train"]).frame_scores(videos["fast"])
    assert_ranks_planted_first(scores[scored], videos["truth"][scored])
    assert not np.allclose(scores, bn_scores)  # the layout changes the model


# ---------------------------------------------------------------------------- Hasan et al.
class _Recorder:
    """A stand-in detector (what VideoDetector clones) that records the clips it sees."""

    modalities = ("video",)
    supervision = ("unsupervised",)
    clip_anchor = "all"

    def __init__(self, bag_size=None):
        self.bag_size = bag_size
        self.fitted: list[np.ndarray] = []
        self.scored: list[np.ndarray] = []

    def get_params(self, deep=False):
        return {"bag_size": self.bag_size} if self.bag_size else {}

    def fit(self, X, y=None):
        self.fitted.append(X.copy())
        return self

    def decision_function(self, X):
        self.scored.append(X.copy())
        return np.zeros(len(X))


@pytest.fixture()
def recorder(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr("deepad.video.clone", lambda detector: rec)
    return rec


def test_frame_skips_add_clips_of_every_kth_frame(recorder):
    video = np.arange(20, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    det = VideoDetector(recorder, clip_length=4, stride=2, frame_skips=(1, 2, 3)).fit([video])
    (X,) = recorder.fitted
    first = X[:, :, 0, 0, 0]
    steps = np.diff(first, axis=1)
    assert (steps == steps[:, :1]).all()  # each clip: one skip throughout
    counts = {k: int((steps[:, 0] == k).sum()) for k in (1, 2, 3)}
    # spans 4, 7, 10 frames, starts every 2 frames plus one ending at frame 19
    assert counts == {1: 9, 2: 8, 3: 6}
    assert first.max() == 19 and det.n_train_clips_ == 23
    assert first[steps[:, 0] == 3].tolist()[-1] == [10, 13, 16, 19]
    # scoring uses consecutive frames only
    assert all((np.diff(c[:, :, 0, 0, 0], axis=1) == 1).all() for c in recorder.scored)
    with pytest.raises(ValueError, match="frame_skips"):
        VideoDetector(recorder, frame_skips=(1, 1)).fit([video])


def test_frame_skips_refused_with_one_bag_per_video():
    videos = [np.zeros((30, 8, 8), np.float32), np.zeros((30, 8, 8), np.float32)]
    with pytest.raises(ValueError, match="bag_size"):
        VideoDetector(MILRanking(bag_size=4), clip_length=3, frame_skips=(1, 2)).fit(
            videos, [0, 1])


def test_mean_frame_is_subtracted_for_fitting_and_scoring(recorder):
    rng = np.random.default_rng(0)
    train = [rng.integers(0, 256, (12, 6, 8), dtype=np.uint8) for _ in range(2)]
    det = VideoDetector(recorder, clip_length=3, normalize="mean_frame").fit(train)
    pixels = np.concatenate(train).astype(np.float64) / 255
    np.testing.assert_allclose(det.mean_frame_[0], pixels.mean(axis=0), atol=1e-6)
    (X,) = recorder.fitted
    np.testing.assert_allclose(X[0, :, 0], pixels[:3] - pixels.mean(axis=0), atol=1e-6)
    recorder.scored.clear()
    test = rng.integers(0, 256, (5, 6, 8), dtype=np.uint8)
    det.decision_function(test)
    expected = test.astype(np.float64) / 255 - pixels.mean(axis=0)
    np.testing.assert_allclose(recorder.scored[0][0, :, 0], expected[:3], atol=1e-6)
    floats = test.astype(np.float32) / 255  # the caller's float frames are left as they were
    before = floats.copy()
    det.decision_function(floats)
    np.testing.assert_array_equal(floats, before)
    np.testing.assert_allclose(recorder.scored[-1][0, :, 0], expected[:3], atol=1e-6)
    assert not hasattr(VideoDetector(recorder, clip_length=3).fit(train), "mean_frame_")


def test_conv_ae_with_the_papers_recipe_ranks_an_extra_object_first(videos, one_thread,
                                                                     tmp_path):
    # weight_decay=0: with AutoEncoder's default decay the network stays at the zero output
    # on mean-subtracted frames (tests/test_video_convae_training.py)
    det = VideoDetector(AutoEncoder(hidden_dims=(16, 8, 4), backbone="hasan", dropout=0.0,
                                    epochs=10, batch_size=16, weight_decay=0.0,
                                    random_state=0),
                        clip_length=4, anchor="frame", normalize="mean_frame",
                        frame_skips=(1, 2, 3))
    scores = det.fit(videos["train"]).decision_function(videos["extra"])
    assert scores.shape == (N_FRAMES,)
    assert_ranks_planted_first(scores, videos["truth"])
    loaded = deepad.load(det.save(tmp_path / "convae"))
    assert loaded.frame_skips == (1, 2, 3) and loaded.normalize == "mean_frame"
    np.testing.assert_array_equal(loaded.mean_frame_, det.mean_frame_)
    np.testing.assert_array_equal(loaded.decision_function(videos["extra"]), scores)


def test_irregularity_per_video_is_one_minus_hasans_regularity_score():
    e = np.array([2.0, 4.0, 3.0, 10.0, 11.0, 12.0])
    ids = np.array([0, 0, 0, 1, 1, 1])
    out = irregularity_per_video(e, ids)
    regularity = 1 - (e[:3] - 2.0) / 4.0  # s(t) = 1 - (e - min e) / max e
    np.testing.assert_allclose(1 - out[:3], regularity)
    np.testing.assert_allclose(out[3:], [0, 1 / 12, 2 / 12])
    # min-max would give both videos the full [0, 1]; s(t) keeps video 1's small contrast
    assert minmax_per_video(e, ids)[5] == 1.0 and out[5] < 0.2
    with pytest.raises(ValueError, match=">= 0"):
        irregularity_per_video(np.array([-1.0, 1.0]), np.array([0, 0]))


def test_fifth_round_jobs_are_defined_with_their_settings():
    jobs = video_suite.JOBS
    assert jobs["ffp_rel"][1]["unet_layout"] == "release"
    assert jobs["ffp"][1]["unet_layout"] == "batch_norm"  # what the earlier rows ran
    assert {k: v for k, v in jobs["ffp_rel"][1].items() if k != "unet_layout"} == {
        k: v for k, v in jobs["ffp"][1].items() if k != "unet_layout"}
    assert video_suite.seed_of("ffp_rel_s2") == 2
    options = jobs["convae_paper"][2]
    assert options["normalize"] == "mean_frame" and tuple(options["frame_skips"]) == (1, 2, 3)
    assert jobs["convae_paper"][1] == jobs["convae_frame"][1]
    for name in ("ffp_rel", "ffp_rel_s1", "ffp_rel_s2", "convae_paper"):
        assert name in video_suite.ORDER and name in video_suite.TITLES
    labels = {1: np.array([0, 0, 1, 1])}
    result = {"scores": [1.0, 2.0, 3.0, 4.0], "scored": [1, 1, 1, 1], "video": [1] * 4,
              "detector": "AutoEncoder"}
    assert video_suite._aucs(result, labels)["hasan_dropped"] == 1.0
    assert "hasan_dropped" not in video_suite._aucs({**result, "detector": "FuturePrediction"},
                                                    labels)
