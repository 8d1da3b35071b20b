"""Fake detectors for the benchmark runner's tests, used as ``python:bench_fakes:Name``.

Each follows the scikit-learn style contract the runner expects (``fit(X, y=None)``,
``decision_function(X)``, higher = more anomalous) and misbehaves in one precise way. They use
numpy only, so a job costs milliseconds and the tests measure the runner, not training.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np


class MeanDistance:
    """Deterministic: the score is the squared distance to the training mean (``power``
    changes the exponent, so two parameter sets give two different jobs)."""

    def __init__(self, power: float = 2.0) -> None:
        self.power = power

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> MeanDistance:
        self.mean_ = np.asarray(X).mean(axis=0)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return (np.abs(np.asarray(X) - self.mean_) ** self.power).sum(axis=1)


class Raises(MeanDistance):
    """``fit`` raises ``RuntimeError("boom")``."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Raises:
        raise RuntimeError("boom")


class NaNScores(MeanDistance):
    """Returns NaN for every other test row."""

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        scores = super().decision_function(X)
        scores[::2] = np.nan
        return scores


class Sleeps(MeanDistance):
    """Sleeps ``seconds`` in ``fit`` (a slow or hung detector)."""

    def __init__(self, seconds: float = 0.2, power: float = 2.0) -> None:
        super().__init__(power)
        self.seconds = seconds

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Sleeps:
        time.sleep(self.seconds)
        return super().fit(X, y)


class Crashes(MeanDistance):
    """Kills its own process in ``fit``: ``how="exit"`` (``os._exit(3)``) or ``"segfault"``
    (``SIGSEGV``, what a crashing C extension does)."""

    def __init__(self, how: str = "exit") -> None:
        super().__init__()
        self.how = how

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Crashes:
        if self.how == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
            time.sleep(5)
        os._exit(3)


class Segfaults(Crashes):
    """``Crashes`` with ``how="segfault"`` by default (a second spec for the same crash)."""

    def __init__(self, how: str = "segfault") -> None:
        super().__init__(how)


class Hog(MeanDistance):
    """Touches ``megabytes`` of memory in ``fit`` and holds it for ``seconds``."""

    def __init__(self, megabytes: int = 600, seconds: float = 3.0) -> None:
        super().__init__()
        self.megabytes = megabytes
        self.seconds = seconds

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Hog:
        block = np.ones(self.megabytes * 1024 * 1024 // 8)
        time.sleep(self.seconds)
        del block
        return super().fit(X, y)


class LabelledMean:
    """Weakly supervised only: the score is the closeness to the labelled anomalies' mean;
    ``fit`` fails without labels, so the runner must skip it in the unsupervised setting."""

    supervision = ("weakly-supervised",)

    def fit(self, X: np.ndarray, y: np.ndarray) -> LabelledMean:
        y = np.asarray(y)
        if y.sum() < 1:
            raise ValueError("no labelled anomaly")
        self.anomaly_mean_ = np.asarray(X)[y == 1].mean(axis=0)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return -((np.asarray(X) - self.anomaly_mean_) ** 2).sum(axis=1)
