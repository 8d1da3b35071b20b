"""Categorical rows with planted rare combinations, built from a real numeric dataset.

APE (Chen et al., IJCAI 2016) scores an event by how plausible its *combination* of
categorical values is. To measure that on real data without a labelled categorical set, the
numeric normal rows of a dataset are quantile-binned into categories and the anomalies are
new combinations of common values: each planted row takes every column's value from a
different held-out row, and is kept only when no training row holds that exact combination.
Every value of an anomaly is frequent; only the combination is new.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_rare_combinations"]

N_BINS = 5
N_COLUMNS = 8
N_TEST_NORMAL = 500


def make_rare_combinations(X: np.ndarray, n_train: int, n_anomalies: int,
                           seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binned rows of ``X`` (normal rows only) and planted rare combinations.

    Recipe: the 8 features of ``X`` with the most distinct values are cut into 5 quantile
    bins of the training rows (bin codes 0-4); rows are shuffled, the first ``n_train`` train
    and the next 500 are the normal test rows; the anomalies are rows whose columns are
    drawn from independent permutations of the test rows' columns, kept when their
    combination is absent from the training rows, up to ``n_anomalies``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        Normal rows of a numeric dataset, at least 8 features and ``n_train + 500`` rows.
    n_train : int
        Training rows.
    n_anomalies : int
        Planted anomalies wanted (fewer when there are not enough unseen combinations).
    seed : int
        Seed of the shuffles.

    Returns
    -------
    train : ndarray of shape (n_train, 8), int64 bin codes
    test : ndarray of shape (500 + n_planted, 8)
    y : ndarray of shape (500 + n_planted,), 1.0 for the planted rows
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < N_COLUMNS or len(X) < n_train + N_TEST_NORMAL:
        msg = (f"make_rare_combinations needs a 2-D array with at least {N_COLUMNS} features "
               f"and n_train + {N_TEST_NORMAL} = {n_train + N_TEST_NORMAL} rows; got shape "
               f"{X.shape}.")
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    distinct = [-len(np.unique(X[:, j])) for j in range(X.shape[1])]
    varied = np.argsort(distinct, kind="stable")[:N_COLUMNS]
    X = X[rng.permutation(len(X))[:n_train + N_TEST_NORMAL]][:, varied]
    quantiles = np.linspace(0, 1, N_BINS + 1)[1:-1]
    edges = [np.unique(np.quantile(X[:n_train, j], quantiles)) for j in range(N_COLUMNS)]
    codes = np.column_stack([np.searchsorted(e, X[:, j], side="right")
                             for j, e in enumerate(edges)])
    train, test = codes[:n_train], codes[n_train:]
    seen = {tuple(row) for row in train}
    shuffled = np.column_stack([rng.permutation(test[:, j]) for j in range(N_COLUMNS)])
    planted = np.array([row for row in shuffled if tuple(row) not in seen])[:n_anomalies]
    planted = planted.reshape(-1, N_COLUMNS)
    y = np.r_[np.zeros(len(test)), np.ones(len(planted))]
    return train, np.vstack([test, planted]), y
