"""Video segments (Sultani et al.'s 32 per video), MIL ranking on segment features of the
future-frame-prediction error, and ``deepad bench --suite ped2``'s job handling; synthetic
clips only (the Ped2 runs are the benchmark's)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner
from video_clips import ANOMALY, N_FRAMES, square_video

from deepad import FuturePrediction, MILRanking, VideoDetector
from deepad.bench import video_suite
from deepad.cli import app
from deepad.data.video import segment_bounds, segment_features, segment_scores_to_frames


def test_segment_bounds_cover_the_video_in_near_equal_parts():
    bounds = segment_bounds(181, 32)
    assert len(bounds) == 32 and bounds[0][0] == 0 and bounds[-1][1] == 181
    assert all(a[1] == b[0] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    assert {b - a for a, b in bounds} == {5, 6}
    assert segment_bounds(5, 32) == [(i, i + 1) for i in range(5)]  # one frame each
    with pytest.raises(ValueError, match="positive"):
        segment_bounds(0, 32)
    frames = segment_scores_to_frames(np.arange(32.0), 181)
    assert frames.shape == (181,) and frames[0] == 0 and frames[-1] == 31
    with pytest.raises(ValueError, match="segment scores"):
        segment_scores_to_frames(np.arange(6.0), 5)


def test_segment_features_localise_a_planted_error():
    rng = np.random.default_rng(0)
    maps = rng.uniform(0.0, 0.01, (64, 12, 18))
    maps[20:30, 0:2, 0:2] = 1.0  # a strong error in the top-left cell, frames 20..29
    feats = segment_features(maps, n_segments=8, grid=(6, 9))
    assert feats.shape == (8, 6 * 9 + 2) and feats.dtype == np.float32
    top_left = feats[:, 0]
    assert set(np.argsort(top_left)[-2:]) == {2, 3}  # segments [16, 24) and [24, 32)
    assert np.allclose(feats[[0, 5, 7], 1], feats[0, 1], atol=1.0)  # other cells unchanged
    with pytest.raises(ValueError, match="does not fit"):
        segment_features(maps, grid=(20, 9))
    with pytest.raises(ValueError, match="expected"):
        segment_features(maps[0])


def test_mil_ranking_on_prediction_error_segments_ranks_the_planted_object_first(one_thread):
    """The Ped2 job mil_ffp in small: a frame predictor trained on normal videos gives
    segment features; the MIL head learns from video labels which ones are anomalous."""
    normal = [square_video(seed) for seed in range(4)]
    ffp = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=4, batch_size=16, lr=3e-3,
                                         random_state=0), clip_length=4).fit(normal[:3])
    positives = [square_video(12, extra=(10, 18)), square_video(13, extra=(30, 38))]
    feats = [video_suite.mil_features(ffp.anomaly_map(v)) for v in normal + positives]
    assert feats[0].shape == (32, 2 * (6 * 9 + 2))
    X = np.concatenate(feats)
    y = np.repeat([0, 0, 0, 0, 1, 1], 32)
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
    head = MILRanking(bag_size=32, hidden_dims=(64, 16), dropout=0.6, epochs=20, n_batches=10,
                      batch_size=4, random_state=0).fit((X - mean) / std, y)
    test = square_video(11, extra=ANOMALY)
    truth = np.zeros(N_FRAMES, int)
    truth[ANOMALY[0]:ANOMALY[1]] = 1
    seg = head.decision_function((video_suite.mil_features(ffp.anomaly_map(test)) - mean) / std)
    scores = segment_scores_to_frames(seg, N_FRAMES)
    assert truth[int(np.argmax(scores))] == 1
    assert roc_auc_score(truth, scores) >= 0.9


def test_bench_suite_ped2_lists_its_jobs_and_refuses_unknown_ones(tmp_path):
    (tmp_path / "ffp.json").write_text("{}")
    result = CliRunner().invoke(app, ["bench", "--suite", "ped2", "--db", str(tmp_path),
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(video_suite.DEFAULT_JOBS)
    assert lines[0].startswith("stored") and "ffp:" in lines[0]
    assert all(line.startswith("run") for line in lines[1:])
    result = CliRunner().invoke(app, ["bench", "--suite", "ped2", "--db", str(tmp_path),
                                      "--detectors", "FuturePrediction"])
    assert result.exit_code != 0
    assert "jobs: ffp" in result.output
    with pytest.raises(ValueError, match="unknown Ped2 job"):
        video_suite.run_suite(tmp_path, only=["nope"])
    result = CliRunner().invoke(app, ["bench", "--suite", "ped2", "--db", str(tmp_path),
                                      "--seeds", "1", "--dry-run"])
    assert result.exit_code != 0
    assert "not seeds" in result.output


def test_ped2_suite_is_a_registered_protocol_that_runs_its_own_jobs(tmp_path):
    from deepad.bench import make_config, make_plan
    from deepad.bench.protocols import PROTOCOLS, own_protocol, protocol_for

    video = PROTOCOLS["video"]
    assert own_protocol("ped2") is video and video.runs_own_jobs
    assert own_protocol("quick") is None and own_protocol(None) is None
    config = make_config({"suite": "ped2", "detectors": "ffp"})
    assert protocol_for(config) is video
    with pytest.raises(ValueError, match="runs its own jobs"):
        make_plan(config)
    lines = []
    video.run_own({"suite": "ped2", "detectors": "ffp,convae", "db": str(tmp_path)},
                  dry_run=True, echo=lines.append)
    assert [line.split()[:2] for line in lines] == [["run", "ffp:"], ["run", "convae:"]]
    with pytest.raises(TypeError, match="generic bench runner"):
        PROTOCOLS["adbench"].run_own({}, dry_run=True)


def test_conv_autoencoder_with_hasan_layers_ranks_an_extra_object_first(tmp_path):
    import deepad
    from deepad import AutoEncoder
    from deepad.nets.video import HasanDecoder, HasanEncoder

    torch.manual_seed(0)
    for height, width in ((120, 180), (48, 72), (12, 16)):  # any size; the stride loses pixels
        encoder = HasanEncoder(10, 1, height, width, (16, 8), 4)
        clips = torch.rand(2, 10, 1, height, width)
        code = encoder(clips)
        assert code.shape == (2, encoder.out_dim)
        assert HasanDecoder(4, 10, 1, height, width, (16, 8))(code).shape == clips.shape
    rng = np.random.default_rng(0)

    def video(extra: bool) -> np.ndarray:
        frames = rng.normal(0.1, 0.02, (40, 32, 32)).astype(np.float32)
        for t in range(40):
            x = t % 24
            frames[t, 10:14, x:x + 4] = 0.9
            if extra and 20 <= t < 28:
                frames[t, 24:28, 4 + t - 20:8 + t - 20] = 0.9
        return np.clip(frames, 0, 1)

    det = VideoDetector(AutoEncoder(hidden_dims=(16, 8, 4), backbone="hasan", dropout=0.0,
                                    epochs=5, random_state=0), clip_length=4)
    test = video(extra=True)
    scores = det.fit([video(False) for _ in range(3)]).decision_function(test)
    truth = np.zeros(40, int)
    truth[20:28] = 1
    assert truth[int(np.argmax(scores))] == 1
    assert roc_auc_score(truth, scores) >= 0.9
    loaded = deepad.load(det.save(tmp_path / "hasan"))
    np.testing.assert_array_equal(loaded.decision_function(test), scores)


def test_encoder_features_give_every_frame_the_pooled_deepest_map():
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 255, (40, 12, 18), dtype=np.uint8) for _ in range(2)]
    ffp = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=1, random_state=0),
                        clip_length=5).fit(videos)
    enc = video_suite.encoder_features(ffp, videos[0])
    assert enc.shape == (40, 16) and np.isfinite(enc).all()
    np.testing.assert_array_equal(enc[:4], np.repeat(enc[4:5], 4, axis=0))  # not predicted
    assert (enc[:, 8:] >= enc[:, :8] - 1e-9).all()  # max over space >= mean over space
    feats = video_suite.mil_features(ffp.anomaly_map(videos[0]), enc)
    assert feats.shape == (video_suite.N_SEGMENTS, 2 * (56 + 16))
