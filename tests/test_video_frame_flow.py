"""Video, the per-frame pieces: the Lucas-Kanade optical-flow constraint of future frame
prediction, the Conv-AE's per-frame reconstruction error (``anchor="frame"``), and the Ped2
suite's seeds and derived rows. Small synthetic clips (the square of ``test_video``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from video_clips import assert_ranks_planted_first  # noqa: E402

import deepad
from deepad import AutoEncoder, VideoDetector
from deepad.bench import video_suite
from deepad.detectors import FuturePrediction
from deepad.detectors.generic_normality.frame_prediction import flow_loss, lucas_kanade_flow


def blob(cx: float, cy: float, size: int = 32) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(),
                          indexing="ij")
    return torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 20.0)[None, None]


def test_lucas_kanade_flow_recovers_a_small_shift():
    flow = lucas_kanade_flow(blob(16, 16), blob(16.5, 15.7))
    u, v = flow[0, :, 13:20, 13:20].mean(dim=(1, 2)).tolist()
    assert u == pytest.approx(0.5, abs=0.1) and v == pytest.approx(-0.3, abs=0.1)
    still = lucas_kanade_flow(blob(16, 16), blob(16, 16))
    assert float(still.abs().max()) < 1e-6


def test_flow_loss_is_zero_for_a_perfect_prediction_and_trains_the_generator():
    previous, target = blob(16, 16), blob(17, 16)
    assert float(flow_loss(target, target, previous)[0]) == pytest.approx(0.0, abs=1e-7)
    pred = blob(16, 16).requires_grad_(True)  # predicts no motion: the flows differ
    loss = flow_loss(pred, target, previous)
    assert loss.shape == (1,) and float(loss.detach()[0]) > 0.01
    loss.sum().backward()
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0


def test_future_prediction_with_the_flow_constraint_ranks_a_change_of_speed_first(
        videos, one_thread, tmp_path):
    # the U-Net the flow rows of the Ped2 page used (batch normalisation); the test is about
    # the flow term
    det = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=6, batch_size=16, lr=3e-3,
                                         lambda_op=2.0, unet_layout="batch_norm",
                                         random_state=0), clip_length=4)
    scores = det.fit(videos["train"]).decision_function(videos["fast"])
    assert_ranks_planted_first(scores, videos["truth"])
    plain = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=6, batch_size=16,
                                           lr=3e-3, unet_layout="batch_norm", random_state=0),
                          clip_length=4)
    assert not np.allclose(plain.fit(videos["train"]).decision_function(videos["fast"]),
                           scores)  # the term changes the training
    loaded = deepad.load(det.save(tmp_path / "ffp_flow"))
    np.testing.assert_array_equal(loaded.decision_function(videos["fast"]), scores)
    with pytest.raises(ValueError, match="lambda_op"):
        FuturePrediction(lambda_op=-1.0).fit(np.zeros((4, 3, 1, 8, 8), np.float32))


def test_conv_autoencoder_scores_each_frame_by_its_own_error(videos, one_thread, tmp_path):
    det = VideoDetector(AutoEncoder(hidden_dims=(8, 8, 4), dropout=0.0, epochs=10,
                                    random_state=0), clip_length=4, anchor="frame")
    det.fit(videos["train"])
    scores, scored = det.frame_scores(videos["extra"])
    assert scored.all()
    assert_ranks_planted_first(scores, videos["truth"])
    # the per-frame errors of a clip average to the clip's score
    clips = np.stack([videos["extra"][i:i + 4] for i in range(10)])[:, :, None]
    per_frame = det.detector_.clip_frame_scores(clips)
    assert per_frame.shape == (10, 4)
    np.testing.assert_allclose(per_frame.mean(axis=1), det.detector_.decision_function(clips),
                               rtol=1e-5)
    # frame t's score is the mean of its own error over the clips covering it
    frames = videos["extra"][:, None]
    every = det.detector_.clip_frame_scores(np.stack([frames[i:i + 4] for i in range(45)]))
    t = 20
    own = [every[i, t - i] for i in range(t - 3, t + 1)]
    assert scores[t] == pytest.approx(np.mean(own), rel=1e-6)
    # a one-frame flash: only the frame itself stands out, not its neighbours
    flash = videos["train"][0].copy()
    flash[30, 2:10, 2:10] = 1.0
    sharp = det.decision_function(flash)
    assert int(np.argmax(sharp)) == 30
    spread = VideoDetector(det.detector, clip_length=4).fit(videos["train"])
    smooth = spread.decision_function(flash)
    assert sharp[30] / np.median(sharp) > smooth[30] / np.median(smooth)
    loaded = deepad.load(det.save(tmp_path / "convae_frame"))
    np.testing.assert_array_equal(loaded.decision_function(videos["extra"]), scores)


def test_anchor_frame_needs_per_frame_scores():
    det = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=1), anchor="frame")
    with pytest.raises(ValueError, match="clip_frame_scores"):
        det.fit([np.zeros((8, 8, 8), np.float32)])


def test_ped2_suite_seeds_titles_and_derived_rows():
    assert video_suite.seed_of("ffp") == 0
    assert video_suite.seed_of("ffp_s1") == 1 and video_suite.seed_of("ffp_s2") == 2
    assert video_suite.JOBS["ffp_s1"][1] == video_suite.JOBS["ffp"][1]
    for key in video_suite.REPORT_ROWS:
        assert key in video_suite.TITLES
    for name in video_suite.ORDER:
        assert name in video_suite.JOBS
    # a derived row reads the other scores of its job's file
    labels = {1: np.array([0, 0, 1, 1]), 2: np.array([0, 1, 1, 0])}
    result = {"scores": [0, 0, 1, 1, 0, 1, 1, 0], "scores_anchor_all": [1, 1, 0, 0, 1, 0, 0, 1],
              "scored": [1] * 8, "video": [1] * 4 + [2] * 4}
    assert video_suite._aucs(result, labels)["raw_all"] == 1.0
    derived = {**result, "scores": result["scores_anchor_all"]}
    assert video_suite._aucs(derived, labels)["raw_all"] == 0.0
    assert video_suite.DERIVED["convae_frame_all"] == ("convae_frame", "scores_anchor_all")
