"""Small synthetic videos for the video tests: a square bouncing left and right, with a planted
change of speed or a planted extra object, and the check that a detector ranks it first."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

N_FRAMES = 48
ANOMALY = (24, 32)  # frames [24, 32) of the test videos are anomalous


def square_video(seed: int, fast: tuple[int, int] | None = None,
                 extra: tuple[int, int] | None = None, size: int = 16) -> np.ndarray:
    """Grey frames ``(48, 16, 16)`` in [0, 1]: a bright 4 x 4 square bouncing left and right
    at 1 pixel per frame on faint noise. Frames in ``fast`` move at 3 pixels per frame (a
    change of speed); frames in ``extra`` show a second, smaller object sliding along the
    bottom (a change of appearance)."""
    rng = np.random.default_rng(seed)
    video = rng.normal(0.1, 0.02, (N_FRAMES, size, size)).astype(np.float32)
    x, direction, side = float(rng.integers(0, size - 4)), 1, 4
    for t in range(N_FRAMES):
        x += direction * (3 if fast and fast[0] <= t < fast[1] else 1)
        if x > size - side:
            x, direction = 2 * (size - side) - x, -1
        if x < 0:
            x, direction = -x, 1
        xi = int(round(x))
        video[t, 6:6 + side, xi:xi + side] = 0.9
        if extra and extra[0] <= t < extra[1]:
            video[t, 12:15, 2 + t - extra[0]:5 + t - extra[0]] = 0.9
    return np.clip(video, 0.0, 1.0)


def assert_ranks_planted_first(scores: np.ndarray, truth: np.ndarray) -> None:
    assert scores.shape == truth.shape and np.isfinite(scores).all()
    top = int(np.argmax(scores))
    assert truth[top] == 1, f"the top-scored frame {top} is not in the planted anomaly"
    assert roc_auc_score(truth, scores) >= 0.9
