"""Fake image detectors for the one-class image benchmark's tests, used as
``python:bench_image_fakes:Name``.

numpy only: a job costs milliseconds, so the tests measure the protocol and the runner.
"""

from __future__ import annotations

import numpy as np


class ImageMean:
    """Declares the image modality; refuses anything but uint8 images of shape
    (n, 1, H, W) (what the protocol must give it) and scores the squared distance to the mean
    training image."""

    modalities = ("image",)

    def __init__(self, power: float = 2.0) -> None:
        self.power = power

    @staticmethod
    def _check(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.dtype != np.uint8 or X.ndim != 4 or X.shape[1] != 1:
            msg = f"expected uint8 images (n, 1, H, W); got {X.dtype} {X.shape}"
            raise ValueError(msg)
        return X.astype(np.float64)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> ImageMean:
        self.mean_ = self._check(X).mean(axis=0)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        diff = np.abs(self._check(X) - self.mean_) ** self.power
        return diff.reshape(len(diff), -1).sum(axis=1)
