"""Synthetic data with planted anomalies, for tests, examples and sanity checks.

Two generators, numpy only, deterministic per ``random_state`` (one
:func:`numpy.random.default_rng` stream per call):

- :func:`make_planted_rows`: tabular rows. Normal rows come from a few tight Gaussian
  clusters inside the unit cube; anomalies are either scattered uniformly over the cube away
  from the clusters or gathered in one small cluster of their own (ADBench's "global" and
  "clustered" anomalies, Han et al., NeurIPS 2022, Sec. 3.2).
- :func:`make_planted_windows`: sequence windows. Normal windows are noisy sinusoids with a
  random phase; each anomalous window carries one local anomaly (a spike, a level shift or a
  change of frequency) over part of the window.

Both return ``(X, y)`` with ``y = 1`` for the planted anomalies and ``0`` for normal
samples, shuffled together. The values live in the range a user would feed a detector after
scaling (``[0, 1]`` for rows, as after ``MinMaxScaler``; about ``[-1.5, 1.5]`` for windows),
so the data is meaningful for every method, including Deep SVDD, whose bias-free networks
degenerate on data centred at the origin.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_planted_rows", "make_planted_windows"]

ROW_CLUSTERS = 3
ROW_CLUSTER_STD = 0.05
ROW_CENTER_RANGE = (0.25, 0.75)
# scattered anomalies and the anomaly cluster's centre lie farther from every normal centre
# than this many times 0.05 * sqrt(d), the typical distance of a normal row to its centre
ROW_ANOMALY_MARGIN = 4.0

WINDOW_AMPLITUDE = 1.0
WINDOW_NOISE = 0.05
WINDOW_CYCLES = 2.0  # periods of the normal sinusoid in one window
ANOMALY_KINDS = ("spike", "level_shift", "frequency")


def _check_counts(n_normal: int, n_anomalies: int, **positive: int) -> None:
    if int(n_normal) < 1 or int(n_anomalies) < 0:
        msg = (f"n_normal must be >= 1 and n_anomalies >= 0; got n_normal={n_normal}, "
               f"n_anomalies={n_anomalies}.")
        raise ValueError(msg)
    for name, value in positive.items():
        if int(value) < 1:
            msg = f"{name} must be a positive int; got {value!r}."
            raise ValueError(msg)


def _shuffle(rng: np.random.Generator, X: np.ndarray,
             y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(X))
    return np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order])


def _far_from(rng: np.random.Generator, centers: np.ndarray, n: int,
              min_distance: float) -> np.ndarray:
    """``n`` points uniform on the unit cube, each at least ``min_distance`` from every centre."""
    d = centers.shape[1]
    points = np.empty((0, d))
    while len(points) < n:
        draw = rng.uniform(0.0, 1.0, size=(max(2 * n, 16), d))
        distance = np.linalg.norm(draw[:, None, :] - centers[None, :, :], axis=2).min(axis=1)
        points = np.vstack([points, draw[distance >= min_distance]])
    return points[:n]


def make_planted_rows(n_normal: int = 500, n_anomalies: int = 25, n_features: int = 8,
                      random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tabular rows in ``[0, 1]^d``: Gaussian clusters of normal rows, planted anomalies off them.

    Recipe:

    1. Three cluster centres drawn uniformly from ``[0.25, 0.75]^d``.
    2. ``n_normal`` normal rows: a centre chosen uniformly at random plus isotropic Gaussian
       noise of standard deviation 0.05 per feature, clipped to ``[0, 1]``.
    3. ``n_anomalies`` anomalies, two kinds (ADBench's "global" and "clustered" anomalies):

       - half of them (rounded up) *scattered*: uniform on ``[0, 1]^d``, redrawn while closer
         than ``4 · 0.05 · sqrt(d)`` (Euclidean) to any normal centre;
       - the rest in one *anomaly cluster*: Gaussian noise of standard deviation 0.05 around
         a centre drawn like a scattered anomaly, clipped to ``[0, 1]`` (a recurring pattern,
         which a few labelled examples can teach a weakly supervised detector).

       Normal rows lie about ``0.05 · sqrt(d)`` from their centre, so every planted anomaly
       is clearly off the normal manifold. The corner ``(1, ..., 1)`` is at least
       ``0.25 · sqrt(d)`` from every centre, so the accepted region is never empty.
    4. Rows and labels shuffled together.

    Parameters
    ----------
    n_normal, n_anomalies : int
        Numbers of normal and anomalous rows.
    n_features : int
        Number of features ``d``.
    random_state : int or None
        Seed of the local ``numpy.random.default_rng``; the same seed gives the same data.

    Returns
    -------
    X : ndarray of shape (n_normal + n_anomalies, n_features), float64
    y : ndarray of shape (n_normal + n_anomalies,), int64
        1 for the planted anomalies, 0 for normal rows.

    Examples
    --------
    >>> X, y = make_planted_rows(100, 5, n_features=3)
    >>> X.shape, int(y.sum()), bool(X.min() >= 0 and X.max() <= 1)
    ((105, 3), 5, True)
    """
    _check_counts(n_normal, n_anomalies, n_features=n_features)
    rng = np.random.default_rng(random_state)
    centers = rng.uniform(*ROW_CENTER_RANGE, size=(ROW_CLUSTERS, n_features))
    member = rng.integers(ROW_CLUSTERS, size=n_normal)
    normal = centers[member] + rng.normal(0.0, ROW_CLUSTER_STD, size=(n_normal, n_features))
    normal = np.clip(normal, 0.0, 1.0)

    spread = ROW_CLUSTER_STD * np.sqrt(n_features)  # typical distance of a row to its centre
    min_distance = ROW_ANOMALY_MARGIN * spread
    n_global = n_anomalies - n_anomalies // 2
    scattered = _far_from(rng, centers, n_global, min_distance)
    # one anomaly cluster (a recurring fault or fraud pattern), as tight as a normal cluster,
    # around a centre as far from the normal centres as the scattered anomalies
    anomaly_center = _far_from(rng, centers, 1, min_distance)
    clustered = anomaly_center + rng.normal(0.0, ROW_CLUSTER_STD,
                                            size=(n_anomalies - n_global, n_features))
    anomalies = np.clip(np.vstack([scattered, clustered]), 0.0, 1.0)

    X = np.vstack([normal, anomalies]).astype(np.float64)
    y = np.r_[np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    return _shuffle(rng, X, y)


def _sinusoids(rng: np.random.Generator, n: int, window: int,
               n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sinusoids of shape (n, window, n_features) and their phases (n, 1, n_features)."""
    t = np.arange(window) / window
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1, n_features))
    clean = WINDOW_AMPLITUDE * np.sin(2.0 * np.pi * WINDOW_CYCLES * t[None, :, None] + phase)
    return clean + rng.normal(0.0, WINDOW_NOISE, size=(n, window, n_features)), phase


def make_planted_windows(n_normal: int = 400, n_anomalies: int = 20, window: int = 32,
                         n_features: int = 2,
                         random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sequence windows ``(n, window, n_features)``: noisy sinusoids, some with a local anomaly.

    Recipe:

    1. Every window: per feature, ``sin(2π · 2 · t / window + φ)`` (two periods per window)
       with a phase ``φ`` uniform in ``[0, 2π)``, plus Gaussian noise of standard deviation
       0.05.
    2. Each of the ``n_anomalies`` anomalous windows gets one anomaly, its kind cycling
       through, over a segment starting at a random step and covering a quarter to a half of
       the window, on every feature:

       - ``"spike"``: three steps in the segment jump to ±1.5 (away from the current value);
       - ``"level_shift"``: the segment is shifted by ±0.9 and clipped to ``[-1.5, 1.5]``;
       - ``"frequency"``: the segment oscillates four times as fast (same amplitude and
         noise).
    3. Windows and labels shuffled together.

    Values stay within ``[-1.5, 1.5]``.

    Parameters
    ----------
    n_normal, n_anomalies : int
        Numbers of normal and anomalous windows.
    window : int
        Time steps per window (at least 8).
    n_features : int
        Channels per time step.
    random_state : int or None
        Seed of the local ``numpy.random.default_rng``; the same seed gives the same data.

    Returns
    -------
    X : ndarray of shape (n_normal + n_anomalies, window, n_features), float64
    y : ndarray of shape (n_normal + n_anomalies,), int64
        1 for the windows with a planted anomaly, 0 for normal windows.

    Examples
    --------
    >>> X, y = make_planted_windows(50, 6, window=16, n_features=1)
    >>> X.shape, int(y.sum()), bool(np.abs(X).max() <= 1.5)
    ((56, 16, 1), 6, True)
    """
    _check_counts(n_normal, n_anomalies, n_features=n_features, window=window)
    if window < 8:
        msg = f"window must be at least 8 steps to hold a local anomaly; got {window}."
        raise ValueError(msg)
    rng = np.random.default_rng(random_state)
    n = n_normal + n_anomalies
    X, phase = _sinusoids(rng, n, window, n_features)
    t = np.arange(window) / window
    for k, i in enumerate(range(n_normal, n)):
        kind = ANOMALY_KINDS[k % len(ANOMALY_KINDS)]
        length = int(rng.integers(window // 4, window // 2 + 1))
        start = int(rng.integers(0, window - length + 1))
        seg = slice(start, start + length)
        if kind == "spike":
            steps = start + rng.choice(length, size=min(3, length), replace=False)
            sign = np.where(X[i, steps, :] > 0, -1.0, 1.0)
            X[i, steps, :] = 1.5 * sign
        elif kind == "level_shift":
            shift = 0.9 * rng.choice([-1.0, 1.0])
            X[i, seg, :] = X[i, seg, :] + shift
        else:
            fast = np.sin(2.0 * np.pi * 4.0 * WINDOW_CYCLES * t[seg, None] + phase[i])
            noise = rng.normal(0.0, WINDOW_NOISE, size=(length, n_features))
            X[i, seg, :] = WINDOW_AMPLITUDE * fast + noise
    X = np.clip(X, -1.5, 1.5)
    y = np.r_[np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    return _shuffle(rng, X.astype(np.float64), y)


def make_planted_series(n_timestamps: int = 4000, n_features: int = 2, n_anomalies: int = 6,
                        period: int = 50, train_fraction: float = 0.3,
                        random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """One multivariate series ``(n_timestamps, n_features)`` with anomalous segments and a
    label per timestamp, for tests of series detectors and series metrics.

    Recipe: per channel ``sin(2π t / period + φ)`` (phase uniform), Gaussian noise of
    standard deviation 0.05. ``n_anomalies`` segments of ``period / 2`` to ``period`` steps,
    placed without overlap after the first ``train_fraction`` of the series (which stays
    normal, so it can serve as training data), their kind cycling through ``"spike"`` (three
    consecutive steps at ±1.5, only those labelled), ``"level_shift"`` (±0.9) and
    ``"frequency"`` (four times as fast).
    Values stay within ``[-1.5, 1.5]``.

    Returns
    -------
    series : ndarray (n_timestamps, n_features), float64
    y : ndarray (n_timestamps,), int64, 1 inside the planted segments
    train_end : int
        Timestamps before it hold no anomaly.

    Examples
    --------
    >>> series, y, train_end = make_planted_series(2000, 1, 4)
    >>> series.shape, int(y[:train_end].sum()), bool(y.sum() > 0)
    ((2000, 1), 0, True)
    """
    _check_counts(n_timestamps, n_anomalies, n_features=n_features, period=period)
    train_end = int(train_fraction * n_timestamps)
    slots = (n_timestamps - train_end) // (2 * period)
    if period < 8 or n_anomalies > slots:
        msg = (f"{n_anomalies} anomalies of up to {period} steps (period at least 8) do not "
               f"fit after the training part: room for {slots}.")
        raise ValueError(msg)
    rng = np.random.default_rng(random_state)
    t = np.arange(n_timestamps)[:, None]
    phase = rng.uniform(0.0, 2.0 * np.pi, size=(1, n_features))
    series = np.sin(2.0 * np.pi * t / period + phase)
    series = series + rng.normal(0.0, WINDOW_NOISE, size=series.shape)
    y = np.zeros(n_timestamps, dtype=np.int64)
    chosen = np.sort(rng.choice(slots, n_anomalies, replace=False))
    for k, slot in enumerate(chosen):
        length = int(rng.integers(period // 2, period + 1))
        start = train_end + 2 * period * int(slot) + int(rng.integers(0, period))
        seg = slice(start, start + length)
        kind = ANOMALY_KINDS[k % len(ANOMALY_KINDS)]
        if kind == "spike":
            seg = slice(start, start + 3)  # only the spiking steps are anomalous
            series[seg] = 1.5 * np.where(series[seg] > 0, -1.0, 1.0)
        elif kind == "level_shift":
            series[seg] += 0.9 * rng.choice([-1.0, 1.0])
        else:
            series[seg] = (np.sin(2.0 * np.pi * 4.0 * t[seg] / period + phase)
                           + rng.normal(0.0, WINDOW_NOISE, size=(length, n_features)))
        y[seg] = 1
    return np.clip(series, -1.5, 1.5), y, train_end
