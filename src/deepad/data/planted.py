"""Rows with anomalies planted in known features: ground truth for explanations.

:func:`make_planted_feature_anomalies` takes normal rows of a real table and perturbs ``k``
features of some of them, returning which features were perturbed, so that an explanation
method can be scored by how many of its top-``k`` features are the perturbed ones
(precision@k). Three kinds of perturbation:

- ``"shift"``: the value is moved out of the feature's range, ``max_j + magnitude·σ_j`` or
  ``min_j − magnitude·σ_j`` (side drawn at random; ``σ_j`` the feature's standard deviation
  over the rows): the case per-feature z-scores are made for;
- ``"dependency"``: the value is replaced by the value of the same feature in another row
  (a dependency break: the marginal distribution is unchanged, only the relation to the
  other features is broken). The donor row is drawn from the quarter of the rows whose value
  of the feature is farthest from the row's own (the top quarter when the row's value is at
  or below the median, else the bottom quarter), so the value changes noticeably while
  staying inside the normal range;
- ``"scale"``: the deviation from the median is scaled, ``med_j + magnitude · sign ·
  max(|x_j − med_j|, σ_j)`` (a floor of one standard deviation, so a value at the median
  does not stay there).

numpy only (``deepad.data`` never imports torch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

PLANTED_KINDS = ("shift", "dependency", "scale")
"""The kinds of :func:`make_planted_feature_anomalies`."""

__all__ = ["PLANTED_KINDS", "make_planted_feature_anomalies"]


def make_planted_feature_anomalies(
    X: Any, k: int, kind: str = "shift", seed: int = 0, n_anomalies: int | float = 0.1,
    magnitude: float = 3.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plant anomalies in ``k`` known features of some rows of ``X`` (normal rows).

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Normal rows of a real dataset (numeric, finite).
    k : int
        Features perturbed per anomalous row (1 ≤ k ≤ the number of non-constant features).
    kind : {"shift", "dependency", "scale"}, default "shift"
        The perturbation (see the module docstring).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: which rows, which features, which donors.
    n_anomalies : int or float, default 0.1
        Rows to perturb: a count, or a fraction of the rows (at least one row).
    magnitude : float, default 3.0
        Standard deviations beyond the range (``"shift"``) or scale factor (``"scale"``).

    Returns
    -------
    rows : ndarray of float64, shape (n_rows, n_features)
        A copy of ``X`` with the chosen rows perturbed.
    labels : ndarray of int64, shape (n_rows,)
        1 for a perturbed row, 0 otherwise.
    mask : ndarray of bool, shape (n_rows, n_features)
        True where a value was perturbed (``k`` per perturbed row, none elsewhere).

    Raises
    ------
    ValueError
        ``X`` is not a finite 2-D numeric array of at least 4 rows, ``kind`` is unknown,
        ``k`` is out of range or ``n_anomalies`` asks for no row or more rows than exist.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 6))
    >>> rows, labels, mask = make_planted_feature_anomalies(X, k=2, kind="shift", seed=0)
    >>> normal = labels == 0
    >>> int(labels.sum()), int(mask.sum(axis=1).max()), bool((rows[normal] == X[normal]).all())
    (20, 2, True)
    """
    X = np.array(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 4:
        msg = f"X must be a 2-D array of at least 4 rows; got shape {X.shape}."
        raise ValueError(msg)
    if not np.isfinite(X).all():
        msg = "X holds NaN or infinite values; planting needs finite rows."
        raise ValueError(msg)
    if kind not in PLANTED_KINDS:
        msg = f"kind must be one of {PLANTED_KINDS}; got {kind!r}."
        raise ValueError(msg)
    std = X.std(axis=0)
    candidates = np.flatnonzero(X.max(axis=0) > X.min(axis=0))  # not constant (std can be
    # a rounding error above 0 for a constant column)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= len(candidates):
        msg = (f"k must be an integer from 1 to {len(candidates)} (the non-constant features of "
               f"X); got {k!r}.")
        raise ValueError(msg)
    n = len(X)
    count = int(round(n_anomalies * n)) if isinstance(n_anomalies, float) else int(n_anomalies)
    count = max(count, 1) if isinstance(n_anomalies, float) else count
    if not 1 <= count <= n:
        msg = f"n_anomalies must give 1 to {n} rows; got {n_anomalies!r}."
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    rows = X.copy()
    labels = np.zeros(n, dtype=np.int64)
    mask = np.zeros(X.shape, dtype=bool)
    chosen = np.sort(rng.choice(n, size=count, replace=False))
    low, high, median = X.min(axis=0), X.max(axis=0), np.median(X, axis=0)
    order = np.argsort(X, axis=0, kind="stable")  # per feature, rows by value
    quarter = max(1, n // 4)
    for i in chosen:
        features = rng.choice(candidates, size=k, replace=False)
        for j in features:
            value = X[i, j]
            if kind == "shift":
                up = rng.random() < 0.5
                rows[i, j] = high[j] + magnitude * std[j] if up else low[j] - magnitude * std[j]
            elif kind == "dependency":
                pool = order[-quarter:, j] if value <= median[j] else order[:quarter, j]
                pool = pool[X[pool, j] != value]
                if len(pool) == 0:  # every other row holds the same value: take any other
                    pool = np.flatnonzero(X[:, j] != value)
                rows[i, j] = X[rng.choice(pool), j]
            else:
                deviation = value - median[j]
                sign = 1.0 if deviation > 0 else -1.0 if deviation < 0 else rng.choice((-1, 1))
                rows[i, j] = median[j] + magnitude * sign * max(abs(deviation), std[j])
        mask[i, features] = True
        labels[i] = 1
    return rows, labels, mask
