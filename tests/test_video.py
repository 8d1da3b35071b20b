"""Video: clips, the clip → frame mapping, VideoDetector, and the video detectors ranking a
planted anomaly of small synthetic videos (a square bouncing left and right) first."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import N_FRAMES, assert_ranks_planted_first, square_video

import deepad
from deepad import SDOR, AutoEncoder, DeepSVDD, MILRanking, VideoDetector
from deepad.data.video import (
    clip_labels,
    clip_scores_to_frames,
    frame_clips,
    minmax_per_video,
    video_bounds,
)
from deepad.detectors import FuturePrediction


# ---------------------------------------------------------------------------- clips
def test_frame_clips_never_cross_a_video_boundary():
    frames = np.arange(14)[:, None, None] * np.ones((1, 2, 2))
    ids = np.array([1] * 5 + [2] * 2 + [3] * 7)  # video 2 is shorter than a clip
    clips = frame_clips(frames, ids, length=3, stride=2)
    firsts = clips[:, :, 0, 0, 0]
    np.testing.assert_array_equal(firsts, [[0, 1, 2], [2, 3, 4], [7, 8, 9], [9, 10, 11],
                                           [11, 12, 13]])
    for clip in firsts:  # consecutive frames of one video
        assert len({int(ids[int(f)]) for f in clip}) == 1
        np.testing.assert_array_equal(np.diff(clip), 1)
    assert clips.shape == (5, 3, 1, 2, 2)
    np.testing.assert_array_equal(clip_labels(np.eye(14)[4], ids, 3, 2), [0, 1, 0, 0, 0])


def test_clip_scores_to_frames_anchors_and_fills_unscorable_frames():
    ids = np.array([0] * 6 + [1] * 5)
    clips = frame_clips(np.zeros((11, 2, 2)), ids, length=4)
    assert len(clips) == 3 + 2
    scores = np.array([1.0, 2.0, 3.0, 10.0, 20.0])
    last, scored = clip_scores_to_frames(scores, ids, 4, anchor="last")
    np.testing.assert_array_equal(last, [1, 1, 1, 1, 2, 3, 10, 10, 10, 10, 20])
    np.testing.assert_array_equal(scored, [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1])
    mean, scored = clip_scores_to_frames(scores, ids, 4, anchor="all")
    assert scored.all()
    np.testing.assert_allclose(mean[:6], [1, 1.5, 2, 2, 2.5, 3])
    np.testing.assert_allclose(clip_scores_to_frames(scores, ids, 4, anchor="all",
                                                     reduce="max")[0][:6], [1, 2, 3, 3, 3, 3])
    with pytest.raises(ValueError, match="5 clips"):
        clip_scores_to_frames(scores[:4], ids, 4)


def test_minmax_per_video_and_bounds():
    ids = np.array([7, 7, 7, 2, 2])
    assert video_bounds(ids) == [(0, 3), (3, 5)]
    np.testing.assert_allclose(minmax_per_video(np.array([1.0, 3.0, 2.0, 5.0, 5.0]), ids),
                               [0, 1, 0.5, 0, 0])


def test_clips_are_refused_by_detectors_without_the_video_modality():
    clips = np.zeros((4, 3, 1, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"5 dimension\(s\)"):
        deepad.DevNet().fit(clips, np.array([0, 0, 0, 1]))
    with pytest.raises(ValueError, match="video clips"):
        VideoDetector(deepad.DevNet()).fit([np.zeros((10, 8, 8))], [0])


# ---------------------------------------------------------------------------- detectors
def test_future_prediction_ranks_a_change_of_speed_first(videos, one_thread, tmp_path):
    det = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=4, batch_size=16, lr=1e-2,
                                         random_state=0), clip_length=4)
    det.fit(videos["train"])
    scores, scored = det.frame_scores(videos["fast"])
    assert_ranks_planted_first(scores, videos["truth"])
    np.testing.assert_array_equal(scored, np.arange(N_FRAMES) >= 3)  # 3 past frames
    np.testing.assert_array_equal(scores[:3], scores[3])  # the first predicted frame's score
    maps = det.anomaly_map(videos["fast"])
    assert maps.shape == (N_FRAMES, 16, 16) and (maps >= 0).all()
    loaded = deepad.load(det.save(tmp_path / "ffp"))
    assert isinstance(loaded, VideoDetector)
    np.testing.assert_array_equal(loaded.decision_function(videos["fast"]), scores)


def test_conv_autoencoder_ranks_an_extra_object_first(videos, one_thread):
    det = VideoDetector(AutoEncoder(hidden_dims=(8, 8, 4), dropout=0.0, epochs=5,
                                    random_state=0), clip_length=4)
    scores = det.fit(videos["train"]).decision_function(videos["extra"])
    assert_ranks_planted_first(scores, videos["truth"])
    assert det.anomaly_map(videos["extra"]).shape == (N_FRAMES, 16, 16)
    assert det.decision_scores_.shape == (3 * N_FRAMES,)


def test_mil_ranking_learns_from_video_labels_only(videos, one_thread):
    positives = [square_video(12, extra=(10, 18)), square_video(13, extra=(30, 38))]
    det = VideoDetector(MILRanking(hidden_dims=(8, 16), epochs=20, n_batches=10, bag_size=8,
                                   batch_size=4, random_state=0), clip_length=4)
    det.fit(videos["train"] + positives, [0, 0, 0, 1, 1])  # one label per video
    assert det.n_train_clips_ == 5 * 8  # each video is one bag of bag_size clips
    assert_ranks_planted_first(det.decision_function(videos["extra"]), videos["truth"])
    with pytest.raises(ValueError, match="weakly supervised"):
        VideoDetector(MILRanking()).fit(videos["train"])


def test_sdor_self_trains_on_the_unlabelled_videos_it_scores(videos, one_thread):
    det = VideoDetector(SDOR(hidden_dims=(8, 16), epochs=6, n_iterations=2, batch_size=32,
                             n_batches=10, random_state=0), clip_length=4)
    det.fit([videos["extra"], *videos["train"]])
    assert_ranks_planted_first(det.decision_function(videos["extra"]), videos["truth"])


def test_deep_svdd_takes_clips(videos, one_thread):
    det = VideoDetector(DeepSVDD(hidden_dims=(8,), rep_dim=4, epochs=1, random_state=0),
                        clip_length=4, stride=2).fit(videos["train"][0])
    scores = det.decision_function(videos["extra"])
    assert scores.shape == (N_FRAMES,) and np.isfinite(scores).all()


# ---------------------------------------------------------------------------- VideoDetector
def test_video_detector_input_errors(videos, one_thread):
    fitted = VideoDetector(AutoEncoder(hidden_dims=(4, 2), epochs=1, random_state=0),
                           clip_length=4, stride=4).fit(videos["train"][0])
    with pytest.raises(ValueError, match="fewer than clip_length"):
        fitted.decision_function(videos["fast"][:3])
    with pytest.raises(ValueError, match="frames of shape"):
        fitted.decision_function(np.zeros((10, 12, 12), np.float32))
    with pytest.raises(ValueError, match="one video at a time"):
        fitted.decision_function(videos["train"])
    with pytest.raises(ValueError, match="channels-last"):
        fitted.decision_function(np.zeros((10, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        fitted.decision_function(np.full((10, 16, 16), np.nan))
    with pytest.raises(TypeError, match="instance"):
        VideoDetector(AutoEncoder).fit(videos["train"])
    with pytest.raises(ValueError, match="different frame shapes"):
        VideoDetector(AutoEncoder()).fit([np.zeros((8, 16, 16)), np.zeros((8, 12, 12))])


def test_frame_size_resizes_and_uint8_frames_are_read_as_pixels(videos, one_thread):
    uint8 = [(v * 255).astype(np.uint8) for v in videos["train"][:1]]
    det = VideoDetector(AutoEncoder(hidden_dims=(4, 2), epochs=1, random_state=0),
                        clip_length=4, stride=4, frame_size=(8, 8)).fit(uint8)
    assert det.detector_.spec_.height == 8 and det.frame_shape_ == (1, 8, 8)
    a = det.decision_function(uint8[0])
    b = det.decision_function(uint8[0].astype(np.float32) / 255)
    np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.slow
def test_load_ucsd_ped2(shared_datasets):
    from deepad.data import load_ucsd_ped2

    root = shared_datasets / "video" / "ucsd_ped2"
    if not root.is_dir():
        pytest.skip(f"UCSD Ped2 not found at {root}")
    test = load_ucsd_ped2("test", root=root, masks=True)
    assert test.frames.shape == (2010, 120, 180) and test.frames.dtype == np.uint8
    assert int(test.labels.sum()) == 1648 and len(test.videos()) == 12
    assert test.masks.shape == (2010, 240, 360)
    np.testing.assert_array_equal(test.masks.any(axis=(1, 2)), test.labels == 1)
    train = load_ucsd_ped2("train", root=root)
    assert train.labels is None and len(train.videos()) == 16 and len(train.frames) == 2550


# ---------------------------------------------------------------------------- command line
def test_cli_run_video_writes_scores_plot_and_overlay(videos, one_thread, tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from deepad.cli import app

    frames = np.concatenate([videos["train"][0], videos["fast"]])
    label = np.concatenate([np.zeros(N_FRAMES, int), videos["truth"]])
    data = tmp_path / "frames.npz"
    np.savez(data, frames=(frames * 255).astype(np.uint8), label=label,
             clip=np.repeat([1, 2], N_FRAMES))
    csv, png = tmp_path / "scores.csv", tmp_path / "scores.png"
    result = CliRunner().invoke(app, ["run", str(data), "--video", "-d", "FuturePrediction",
                                      "-p", "epochs=1", "-p", "hidden_dims=(4,8)",
                                      "--clip-length", "4", "--output", str(csv),
                                      "--plot", str(png)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(csv)
    assert len(table) == 2 * N_FRAMES and set(table["video"]) == {1, 2}
    assert (~table["scored"]).sum() == 2 * 3  # the first 3 frames of each video
    assert png.stat().st_size > 0 and (tmp_path / "scores-overlay.png").stat().st_size > 0
    assert "AUC-ROC" in result.output


def test_video_file_is_read_through_imageio(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    pytest.importorskip("av")
    from deepad.cli.video_run import read_video_input

    frames = (square_video(3) * 255).astype(np.uint8)
    path = tmp_path / "clip.mp4"
    iio.imwrite(path, np.repeat(frames[..., None], 3, axis=-1), fps=10, plugin="pyav",
                codec="libx264")
    video = read_video_input(path)["score"][0]
    assert video.shape == (N_FRAMES, 3, 16, 16)  # channels first
    assert np.abs(video[:, 0].astype(int) - frames).mean() < 10  # lossy codec
