"""Hasan et al.'s Conv-AE on mean-subtracted frames actually trains (the L2 penalty that held
it at the zero output, and the warning that says so), and two video left-overs: the
regularity score exported from ``deepad.data`` and FuturePrediction models saved before
``unet_layout`` existed. Synthetic clips only."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from video_clips import N_FRAMES, assert_ranks_planted_first

import deepad
import deepad.data
from deepad import AutoEncoder, VideoDetector
from deepad.bench import video_suite
from deepad.detectors import FuturePrediction


def conv_ae(weight_decay: float | None = None) -> VideoDetector:
    extra = {} if weight_decay is None else {"weight_decay": weight_decay}
    return VideoDetector(AutoEncoder(hidden_dims=(16, 8, 4), backbone="hasan", dropout=0.0,
                                     epochs=10, batch_size=16, random_state=0, **extra),
                         clip_length=4, anchor="frame", normalize="mean_frame",
                         frame_skips=(1, 2, 3))


def zero_output_loss(det: VideoDetector, videos: list[np.ndarray]) -> float:
    """The loss of a network that outputs zeros on mean-subtracted frames (frame-weighted)."""
    frames = np.concatenate(videos)[:, None] - det.mean_frame_
    return float(np.mean(frames.astype(np.float64) ** 2))


def test_default_weight_decay_holds_the_conv_ae_at_the_zero_output_and_warns(videos,
                                                                            one_thread):
    det = conv_ae()  # AutoEncoder's default L2 penalty, as the untrained Ped2 job had
    with pytest.warns(UserWarning, match="did not learn to reconstruct"):
        det.fit(videos["train"])
    zero = zero_output_loss(det, videos["train"])
    assert det.detector_.history_[-1]["loss"] > 0.95 * zero


def test_without_weight_decay_the_conv_ae_trains_and_ranks_the_extra_object_first(
        videos, one_thread):
    det = conv_ae(weight_decay=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "did not learn" warning
        det.fit(videos["train"])
    zero = zero_output_loss(det, videos["train"])
    assert det.detector_.history_[-1]["loss"] < 0.75 * zero
    scores = det.decision_function(videos["extra"])
    assert scores.shape == (N_FRAMES,)
    assert_ranks_planted_first(scores, videos["truth"])


def test_no_warning_without_mean_frame_normalisation(videos, one_thread):
    det = VideoDetector(AutoEncoder(hidden_dims=(16, 8, 4), backbone="hasan", dropout=0.0,
                                    epochs=1, random_state=0), clip_length=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        det.fit(videos["train"])


def test_sixth_round_job_is_convae_paper_without_weight_decay():
    name, params, options, protocol = video_suite.JOBS["convae_paper_fix"]
    old = video_suite.JOBS["convae_paper"]
    assert name == "AutoEncoder" and protocol == old[3] == "heldout"
    assert params == {**old[1], "weight_decay": 0.0}
    assert options == old[2]
    assert "convae_paper_fix" in video_suite.ORDER
    assert "convae_paper_fix" in video_suite.REPORT_ROWS
    assert "convae_paper_fix" in video_suite.TITLES


def test_mil_job_with_the_releases_l2_normalised_segment_features():
    name, params, options, protocol = video_suite.JOBS["mil_ffp_rel_l2"]
    assert (name, params, options, protocol) == video_suite.JOBS["mil_ffp_rel"]
    assert video_suite.MIL_FEATURE_NET["mil_ffp_rel_l2"] == "ffp_rel"
    assert video_suite.MIL_FEATURE_SCALING == {"mil_ffp_rel_l2": "l2"}
    for table in (video_suite.ORDER, video_suite.REPORT_ROWS, video_suite.TITLES):
        assert "mil_ffp_rel_l2" in table
    rows = video_suite.l2_rows(np.array([[3.0, -4.0], [0.0, 0.0], [-2.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, -0.8], [0.0, 0.0], [-1.0, 0.0]])


def test_irregularity_per_video_is_exported_with_the_other_video_helpers():
    assert "irregularity_per_video" in deepad.data.__all__
    out = deepad.data.irregularity_per_video(np.array([1.0, 3.0]), np.array([0, 0]))
    np.testing.assert_allclose(out, [0.0, 2 / 3])


def test_future_prediction_saved_before_unet_layout_loads_as_batch_norm(tmp_path,
                                                                        one_thread):
    rng = np.random.default_rng(0)
    clips = rng.random((24, 3, 1, 16, 16)).astype(np.float32)
    det = FuturePrediction(hidden_dims=(4, 8), epochs=1, batch_size=8, random_state=0,
                           unet_layout="batch_norm").fit(clips)
    path = det.save(tmp_path / "old")
    config_file = path / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["unet_layout"]  # a file written before the parameter existed
    config_file.write_text(json.dumps(config))
    loaded = deepad.load(path)
    assert loaded.unet_layout == "batch_norm"
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.model_.modules())
    np.testing.assert_array_equal(loaded.decision_function(clips), det.decision_function(clips))
    # a current file keeps what it names
    assert deepad.load(FuturePrediction(hidden_dims=(4, 8), epochs=1, batch_size=8,
                                        random_state=0).fit(clips).save(tmp_path / "new")
                       ).unet_layout == "release"
