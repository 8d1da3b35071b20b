"""Fake time-series detectors for ``tests/test_bench_series.py``, used as
``python:bench_series_fakes:Name``.

Each takes a whole series (``fit(series (T, C))``, ``decision_function(series)`` → one score
per timestamp, higher = more anomalous), like DeepOD's time-series detectors, and uses numpy
only, so a job costs milliseconds.
"""

from __future__ import annotations

import time

import numpy as np


class SeriesMean:
    """Score = distance of each timestamp to the training mean, averaged over the ``window``
    timestamps ending there (so ``window`` changes the scores)."""

    def __init__(self, window: int = 64, power: float = 2.0) -> None:
        self.window = window
        self.power = power

    def fit(self, series: np.ndarray, y: np.ndarray | None = None) -> SeriesMean:
        self.mean_ = np.asarray(series).mean(axis=0)
        return self

    def decision_function(self, series: np.ndarray) -> np.ndarray:
        point = (np.abs(np.asarray(series) - self.mean_) ** self.power).sum(axis=1)
        kernel = np.ones(min(self.window, len(point))) / min(self.window, len(point))
        return np.convolve(point, kernel, mode="full")[:len(point)]


class SeriesRaises(SeriesMean):
    """``fit`` raises ``RuntimeError("boom")``."""

    def fit(self, series: np.ndarray, y: np.ndarray | None = None) -> SeriesRaises:
        raise RuntimeError("boom")


class SeriesShort(SeriesMean):
    """Drops the last timestamp's score (a wrong output length)."""

    def decision_function(self, series: np.ndarray) -> np.ndarray:
        return super().decision_function(series)[:-1]


class SeriesSleeps(SeriesMean):
    """Sleeps ``seconds`` in ``fit`` (a detector past the time limit)."""

    def __init__(self, seconds: float = 30.0) -> None:
        super().__init__()
        self.seconds = seconds

    def fit(self, series: np.ndarray, y: np.ndarray | None = None) -> SeriesSleeps:
        time.sleep(self.seconds)
        return super().fit(series, y)
