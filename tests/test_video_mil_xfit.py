"""Cross-fitted MIL features (the Ped2 job ``mil_xfit``): no feature predictor gives the
features of a video it was trained on; synthetic clips only (the Ped2 run is the
benchmark's)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from video_clips import N_FRAMES, square_video

from deepad import FuturePrediction, VideoDetector
from deepad.bench import video_suite
from deepad.data.video import segment_scores_to_frames

EXTRAS = {1: (8, 16), 2: (20, 28), 3: (30, 38), 4: (12, 20)}  # planted object per test video


def test_training_halves_split_by_video_number():
    a, b = video_suite.training_halves(16)
    assert a == [1, 3, 5, 7, 9, 11, 13, 15] and b == [2, 4, 6, 8, 10, 12, 14, 16]
    a, b = video_suite.training_halves(5)
    assert sorted(a + b) == [1, 2, 3, 4, 5] and not set(a) & set(b)
    with pytest.raises(ValueError, match="at least 2"):
        video_suite.training_halves(1)


class _Spy:
    """A VideoDetector that records which videos it was fitted on and which it mapped."""

    def __init__(self, log: list[dict]) -> None:
        self.inner = VideoDetector(FuturePrediction(hidden_dims=(4, 8), epochs=4, batch_size=16,
                                                    lr=3e-3, random_state=0), clip_length=4)
        self.record = {"fit": set(), "mapped": set()}
        log.append(self.record)

    def fit(self, videos):
        self.record["fit"] |= {id(v) for v in videos}
        self.inner.fit(videos)
        return self

    def anomaly_map(self, video):
        self.record["mapped"].add(id(video))
        return self.inner.anomaly_map(video)


@pytest.fixture(scope="module")
def crossfit(one_thread):
    train = [square_video(seed) for seed in range(4)]
    test = [square_video(10 + v, extra=EXTRAS[v]) for v in (1, 2, 3, 4)]
    log: list[dict] = []
    head = {"bag_size": 32, "hidden_dims": (64, 16), "dropout": 0.6, "epochs": 20,
            "n_batches": 10, "batch_size": 4}
    done = video_suite.mil_crossfit(train, test, lambda: _Spy(log),
                                    [([1, 2], [3, 4]), ([3, 4], [1, 2])], head=head)
    return train, test, log, done


def test_no_predictor_maps_a_video_it_was_trained_on(crossfit):
    train, test, log, done = crossfit
    name = {id(v): f"train{i}" for i, v in enumerate(train, 1)}
    name.update({id(v): f"test{i}" for i, v in enumerate(test, 1)})
    assert len(log) == 2
    fitted = [{name[i] for i in r["fit"]} for r in log]
    mapped = [{name[i] for i in r["mapped"]} for r in log]
    assert fitted == [{"train1", "train3"}, {"train2", "train4"}]
    for k in range(2):
        assert not fitted[k] & mapped[k]
        assert mapped[k] == fitted[1 - k] | {f"test{i}" for i in range(1, 5)}
    assert done["fit_videos"] == [[1, 3], [2, 4]]
    assert done["feature_videos"] == [[2, 4], [1, 3]]


def test_crossfit_scores_every_test_video_and_ranks_the_planted_objects(crossfit):
    _, test, _, done = crossfit
    seg = done["segment_scores"]
    assert sorted(seg) == [1, 2, 3, 4]
    assert all(s.shape == (video_suite.N_SEGMENTS,) and np.isfinite(s).all()
               for s in seg.values())
    assert len(done["mil_fit_cpu_s_per_head"]) == 4  # two heads per fold
    scores = np.concatenate([segment_scores_to_frames(seg[v], N_FRAMES) for v in (1, 2, 3, 4)])
    truth = np.concatenate([np.isin(np.arange(N_FRAMES), np.arange(*EXTRAS[v]))
                            for v in (1, 2, 3, 4)]).astype(int)
    assert roc_auc_score(truth, scores) >= 0.8
    for v in (1, 2, 3, 4):  # each video's top-scored frame shows its planted object
        top = int(np.argmax(segment_scores_to_frames(seg[v], N_FRAMES)))
        assert EXTRAS[v][0] <= top < EXTRAS[v][1]
