"""ADBench's robustness settings: noise added to a dataset to see how detectors degrade.

Han et al., "ADBench", NeurIPS 2022, section 4.4, as in ``DataGenerator`` of the authors'
release: duplicated anomalies (added to train and test separately), irrelevant features
(uniform noise columns, added before the split), annotation errors (label flips, train
only), and anomaly contamination of the unlabelled training data. Each function takes the
``RandomState`` of the split so a seed fixes everything; :func:`deepad.data.adbench.adbench_split`
applies them after its own draws, so the defaults stay draw-for-draw equal to ADBench.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["add_irrelevant_features", "duplicate_anomalies", "flip_labels",
           "keep_unlabelled_anomalies"]


def add_irrelevant_features(X: np.ndarray, ratio: float,
                            rng: np.random.RandomState) -> np.ndarray:
    """Append uniform-noise columns so they make up ``ratio`` of the features, then shuffle
    the column order.

    ADBench: ``int(ratio / (1 - ratio) · d)`` new columns, each uniform on the range of a
    randomly chosen original column.
    """
    if not 0.0 <= ratio < 1.0:
        msg = f"irrelevant feature ratio must be in [0, 1), got {ratio}."
        raise ValueError(msg)
    n_noise = int(ratio / (1.0 - ratio) * X.shape[1])
    if n_noise == 0:
        return X
    source = rng.choice(X.shape[1], n_noise)
    low, high = X.min(axis=0)[source], X.max(axis=0)[source]
    noise = rng.uniform(low, high, size=(len(X), n_noise))
    X = np.concatenate([X, noise], axis=1)
    return X[:, rng.permutation(X.shape[1])]


def duplicate_anomalies(X: np.ndarray, y: np.ndarray, times: float,
                        rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """Replace the anomalies by ``int(times · n_anomalies)`` draws with replacement from
    them, shuffled in among the normal rows (ADBench's duplicated anomalies; ``times`` ≤ 1
    leaves the data unchanged)."""
    if times <= 1:
        return X, y
    normal, anomalies = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    if len(anomalies) == 0:
        return X, y
    drawn = rng.choice(anomalies, int(len(anomalies) * times))
    order = np.concatenate([normal, drawn])
    rng.shuffle(order)
    return X[order], y[order]


def flip_labels(y: np.ndarray, normal_ratio: float, anomaly_ratio: float,
                rng: np.random.RandomState) -> np.ndarray:
    """Annotation errors: ``ceil(normal_ratio · n_normal)`` normal labels become 1 and
    ``ceil(anomaly_ratio · n_anomalies)`` anomaly labels become 0 (a copy is returned)."""
    for name, ratio in (("normal_ratio", normal_ratio), ("anomaly_ratio", anomaly_ratio)):
        if not 0.0 <= ratio <= 1.0:
            msg = f"{name} must be in [0, 1], got {ratio}."
            raise ValueError(msg)
    normal, anomalies = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    to_anomaly = rng.choice(normal, math.ceil(normal_ratio * len(normal)), replace=False)
    to_normal = rng.choice(anomalies, math.ceil(anomaly_ratio * len(anomalies)), replace=False)
    noisy = y.copy()
    noisy[to_anomaly], noisy[to_normal] = 1, 0
    return noisy


def keep_unlabelled_anomalies(y: np.ndarray, y_semi: np.ndarray, fraction: float,
                              rng: np.random.RandomState) -> np.ndarray:
    """Indices of training rows to keep when only ``fraction`` of the *unlabelled*
    anomalies stay in the training data (0 = clean normal training data, 1 = unchanged).

    The labelled anomalies (``y_semi == 1``) are always kept.
    """
    if not 0.0 <= fraction <= 1.0:
        msg = f"train_contamination must be in [0, 1], got {fraction}."
        raise ValueError(msg)
    hidden = np.flatnonzero((y == 1) & (y_semi == 0))
    dropped = rng.choice(hidden, len(hidden) - int(round(fraction * len(hidden))),
                         replace=False)
    return np.setdiff1d(np.arange(len(y)), dropped)
